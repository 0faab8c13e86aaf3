/* Start-up helpers that fail the cmocka test (harness_fixture.h). A file of
 * its own: programs without cmocka (the benchmarks) link the harness too. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness_fixture.h"

int h_start_leader(struct h_cluster *c, const char *who, int agree_ms, unsigned long long *term)
{
    int leader = h_start_agreed_within(c, who, agree_ms > 0 ? agree_ms : h_timeout_ms(), term);
    if (leader < 0)
        fail_msg("the federation did not come up with a leader (the line above says why)");
    return leader;
}

json_int_t h_ledger_head_index(struct h_cluster *c, int i)
{
    long st = 0;
    json_t *h = h_http_get_json(c, i, "/ledger/head", &st);
    bool ok = st == 200 && json_is_integer(json_object_get(h, "index"));
    json_int_t index = json_integer_value(json_object_get(h, "index"));
    json_decref(h);
    if (!ok)
        fail_msg("%s: GET /ledger/head answered %ld", c->nodes[i].id, st);
    return index;
}

json_t *h_ledger_verify(struct h_cluster *c, int i)
{
    int code = -1;
    char *out = NULL, *err = NULL;
    bool finished = h_ctl(c, -1, &code, &out, &err, "ledger", "verify", "--data", c->nodes[i].data,
                          "--json", NULL);
    json_t *r = finished && out ? json_loads(out, 0, NULL) : NULL;
    bool ok = finished && code == 0 && json_is_object(r);
    if (!finished)
        print_error("ERROR: %s: chimeractl ledger verify did not finish\n", c->nodes[i].id);
    else if (!ok)
        print_error("ERROR: %s: chimeractl ledger verify --data %s exited %d: %s %s\n",
                    c->nodes[i].id, c->nodes[i].data, code, out ? out : "", err ? err : "");
    free(out);
    free(err);
    if (!ok) {
        json_decref(r);
        fail(); /* said above, with what it printed, which is freed now */
    }
    return r;
}

static bool netns_ok;
static char netns_why[256];

int h_netns_check(const char *who, const char *skipped)
{
    netns_ok = h_netns_available(netns_why, sizeof netns_why);
    if (!netns_ok)
        fprintf(stderr,
                "\n*** %s: SKIPPING %s: %s.\n"
                "*** Real network partitions need root and iproute2 (`ip netns`); CI runs as "
                "root, where these tests must run.\n\n",
                who, skipped, netns_why);
    return 0;
}

int h_netns_cluster_setup(void **state, int n, const char *who)
{
    struct h_cluster *c = h_cluster_create(n);
    *state = c;
    if (!c)
        return -1;
    if (netns_ok && h_netns_setup(c) != 0) {
        fprintf(stderr, "%s: cannot set up the namespaces (the lines above say why)\n", who);
        h_cluster_pass(c); /* no node ran: nothing to keep */
        h_cluster_destroy(c);
        *state = NULL;
        return -1;
    }
    return 0;
}

void h_require_netns(struct h_cluster *c, const char *who)
{
    if (netns_ok)
        return;
    const char *req = getenv("CHIMERA_REQUIRE_NETNS");
    if (req && strcmp(req, "1") == 0)
        fail_msg("CHIMERA_REQUIRE_NETNS=1 but network namespaces are unavailable: %s", netns_why);
    fprintf(stderr, "*** %s: SKIPPED (%s)\n", who, netns_why);
    h_cluster_pass(c); /* nothing ran: no logs worth keeping */
    skip();
}

json_int_t h_note_committed(struct h_cluster *c, int i, const char *text)
{
    json_t *req = json_pack("{s:s}", "note", text);
    char *body = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    long st = 0;
    char *out = h_http_request(c, i, "POST", "/ledger/notes", body, c->token, 0, &st);
    free(body);
    json_t *j = out ? json_loads(out, 0, NULL) : NULL;
    free(out);
    json_int_t last = json_integer_value(json_object_get(j, "last_index"));
    json_decref(j);
    if (st != 201)
        fail_msg("%s answered %ld to a note", c->nodes[i].id, st);
    return last;
}

void h_expect_ready(struct h_cluster *c, int i, long want)
{
    long st = 0;
    char *body = h_http_get_text(c, i, "/health/ready", &st);
    if (st != want)
        print_error("ERROR: %s: GET /health/ready answered %ld, not %ld: %s; now: %s\n",
                    c->nodes[i].id, st, want, body ? body : "(no body)", h_views_line(c));
    free(body);
    if (st != want)
        fail(); /* said above, with the answer, which is freed now */
}
