/* chimeractl recovery: the recovery watchtower of every member as an
 * operator reads it (README "Recovery watchtower"). GET /federation/state
 * of the node behind --addr names the members and their HTTP addresses;
 * each member is asked for its own GET /recovery (a node knows only its own
 * services), one after the other with --timeout-ms each. A member that
 * does not answer is shown "unreachable", as status does; the exit code is
 * that of the node behind --addr. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/ctl.h"
#include "ctl/deploy_int.h"

/* One member's GET /recovery: the answer, or why not. The node asked
 * (self) has answered already: its answer is used, not asked again. */
static json_t *ask_member(const struct ctl_opts *o, const json_t *peer, json_t *own)
{
    const char *http = ctl_json_str(peer, "http", NULL);
    json_t *m = json_pack("{s:O?, s:O?}", "node", json_object_get(peer, "node"), "http",
                          json_object_get(peer, "http"));
    if (!m)
        return NULL;
    struct ctl_client *cl = NULL;
    struct ctl_opts mo = *o;
    char err[1100] = "";
    if (json_is_true(json_object_get(peer, "self"))) {
        if (json_is_object(own))
            json_object_set(m, "recovery", own);
        else
            snprintf(err, sizeof err, "an answer that is not a JSON object");
    } else {
        mo.addr = http;
        if (!http)
            snprintf(err, sizeof err, "no HTTP address");
        else if (ctl_parse_endpoints(http, NULL, 1, err, sizeof err) >= 0 &&
                 !(cl = ctl_client_new(&mo)))
            snprintf(err, sizeof err, "cannot initialise the HTTP client");
    }
    if (cl) {
        struct ctl_reply r;
        int got = ctl_get(cl, "/recovery", &r);
        if (ctl_outcome_of_reply(got, &r) == CTL_O_OK && json_is_object(r.json))
            json_object_set(m, "recovery", r.json);
        else if (got != 0)
            snprintf(err, sizeof err, "%s", r.error[0] ? r.error : "no answer");
        else if (r.status == 404)
            snprintf(err, sizeof err, "no recovery watchtower (an older chimerad)");
        else
            snprintf(err, sizeof err, "HTTP %ld", r.status);
        ctl_reply_free(&r);
        ctl_client_free(cl);
    }
    json_object_set_new(m, "reachable", json_boolean(json_object_get(m, "recovery") != NULL));
    if (err[0])
        json_object_set_new(m, "error", json_string(err));
    return m;
}

static void human_ms_of(const json_t *mttr, const char *key, char *out, size_t len)
{
    if (json_integer_value(json_object_get(mttr, "count")) == 0)
        snprintf(out, len, "-");
    else
        ctl_human_ms(json_object_get(mttr, key), out, len);
}

enum { C_NODE, C_SERVICE, C_STATE, C_RESTARTS, C_CAUSE, C_P50, C_MAX, NCOLS };
#define CELL 128

/* One service's row of the table, cell by cell. */
static void row_cells(const json_t *m, const json_t *s, char cell[NCOLS][CELL])
{
    const char *state = ctl_json_str(s, "state", "?");
    const json_t *mttr = json_object_get(s, "mttr");
    snprintf(cell[C_NODE], CELL, "%s", ctl_json_str(m, "node", "?"));
    snprintf(cell[C_SERVICE], CELL, "%s", ctl_json_str(s, "name", "?"));
    snprintf(cell[C_STATE], CELL, "%s", strcmp(state, "failed") == 0 ? "FAILED" : state);
    snprintf(cell[C_RESTARTS], CELL, "%" JSON_INTEGER_FORMAT,
             json_integer_value(json_object_get(s, "restarts")));
    snprintf(cell[C_CAUSE], CELL, "%s", ctl_json_str(s, "last_cause", "-"));
    human_ms_of(mttr, "p50_ms", cell[C_P50], CELL);
    human_ms_of(mttr, "max_ms", cell[C_MAX], CELL);
}

static int widest(int w, const char *s)
{
    size_t n = strlen(s);
    return n > (size_t)w ? (int)n : w;
}

static void print_row(const int w[NCOLS], char cell[NCOLS][CELL])
{
    printf("%-*s %-*s %-*s %*s  %-*s %*s %*s\n", w[C_NODE], cell[C_NODE], w[C_SERVICE],
           cell[C_SERVICE], w[C_STATE], cell[C_STATE], w[C_RESTARTS], cell[C_RESTARTS], w[C_CAUSE],
           cell[C_CAUSE], w[C_P50], cell[C_P50], w[C_MAX], cell[C_MAX]);
}

/* The table, each column as wide as it always was or as its widest value
 * (an MTTR of "1m23s456ms", a long cause), so that it stays aligned;
 * returns how many services are failed. */
static int print_table(const json_t *members)
{
    static const char *const heads[NCOLS] = {"NODE",       "SERVICE",  "STATE",   "RESTARTS",
                                             "LAST CAUSE", "MTTR P50", "MTTR MAX"};
    int w[NCOLS] = {10, 16, 10, 8, 26, 9, 9};
    char cell[NCOLS][CELL];
    int failed = 0;
    size_t i, k;
    const json_t *m, *s;
    json_array_foreach(members, i, m)
    {
        w[C_NODE] = widest(w[C_NODE], ctl_json_str(m, "node", "?"));
        json_array_foreach(json_object_get(json_object_get(m, "recovery"), "services"), k, s)
        {
            row_cells(m, s, cell);
            for (int c = 0; c < NCOLS; c++)
                w[c] = widest(w[c], cell[c]);
        }
    }
    for (int c = 0; c < NCOLS; c++)
        snprintf(cell[c], CELL, "%s", heads[c]);
    print_row(w, cell);
    json_array_foreach(members, i, m)
    {
        const char *node = ctl_json_str(m, "node", "?");
        const json_t *rec = json_object_get(m, "recovery");
        if (!rec) {
            printf("%-*s unreachable: %s\n", w[C_NODE], node,
                   ctl_json_str(m, "error", "no answer"));
            continue;
        }
        if (!json_is_true(json_object_get(rec, "enabled"))) {
            printf("%-*s watchtower off (--recovery-enabled=false)\n", w[C_NODE], node);
            continue;
        }
        const json_t *svcs = json_object_get(rec, "services");
        if (json_array_size(svcs) == 0)
            printf("%-*s no services (no release runs here)\n", w[C_NODE], node);
        json_array_foreach(svcs, k, s)
        {
            failed += strcmp(ctl_json_str(s, "state", ""), "failed") == 0;
            row_cells(m, s, cell);
            print_row(w, cell);
        }
    }
    return failed;
}

static void print_failed(const struct ctl_opts *o, const json_t *members, int failed)
{
    printf("\n%d service(s) FAILED after a crash loop (restart mode delay: still restarted at "
           "the longest backoff; mode fail: down until the release changes):\n",
           failed);
    size_t i, k;
    const json_t *m, *s;
    json_array_foreach(members, i, m)
    {
        json_array_foreach(json_object_get(json_object_get(m, "recovery"), "services"), k, s)
        {
            char at[512];
            if (strcmp(ctl_json_str(s, "state", ""), "failed") == 0)
                printf("  %s on %s (last %s): chimeractl --addr %s events\n",
                       ctl_json_str(s, "name", "?"), ctl_json_str(m, "node", "?"),
                       ctl_json_str(s, "last_cause", "?"),
                       ctl_addr_text(o, ctl_json_str(m, "http", "?"), at, sizeof at));
        }
    }
}

int ctl_cmd_recovery(const struct ctl_opts *o, int argc, char **argv)
{
    if (argc > 1)
        return ctl_bad_argument("recovery", argv[1]);
    struct ctl_client *cl = ctl_client_new(o);
    if (!cl) {
        fprintf(stderr, "chimeractl: cannot initialise the HTTP client\n");
        return CTL_FAILED;
    }
    /* The node asked must answer; without a state it is asked alone. */
    struct ctl_reply st, own = {0};
    int got = ctl_get(cl, "/federation/state", &st);
    int rc = ctl_check_reply(got, &st);
    if (rc == CTL_OK) {
        got = ctl_get(cl, "/recovery", &own);
        rc = ctl_check_reply(got, &own);
    }
    if (rc != CTL_OK) {
        ctl_reply_free(&own);
        ctl_reply_free(&st);
        ctl_client_free(cl);
        return rc;
    }
    json_t *members = json_array();
    size_t i;
    const json_t *p;
    json_array_foreach(json_object_get(st.json, "peers"), i, p)
        json_array_append_new(members, ask_member(o, p, own.json));
    if (o->json) {
        json_t *out = json_pack("{s:O}", "members", members);
        json_dumpf(out, stdout, JSON_INDENT(2) | CTL_JSON_REAL);
        putchar('\n');
        json_decref(out);
    } else {
        int failed = print_table(members);
        if (failed)
            print_failed(o, members, failed);
    }
    fflush(stdout);
    json_decref(members);
    ctl_reply_free(&own);
    ctl_reply_free(&st);
    ctl_client_free(cl);
    return CTL_OK;
}
