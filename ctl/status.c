/* chimeractl status and version.
 *
 * status asks the node behind --addr for GET /federation/state, then every
 * member's own HTTP address for the same, all at once with a short timeout
 * (curl multi): each node knows its own services and their ports; the
 * leader knows every member's release and health. A member that does not
 * answer is shown "unreachable". The fields that carry release health
 * (release.health, release.services, peers[].release) may be absent on an
 * older node: every one is optional here. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "ctl/ctl.h"
#include "ctl/deploy_int.h"

#define FANOUT_MAX_MS 1000L /* a member that takes longer is "unreachable" */
#define FANOUT_MAX_BODY (4u * 1024u * 1024u)

static const char *str_or(const json_t *v, const char *dflt)
{
    const char *s = json_string_value(v);
    return s && *s ? s : dflt;
}

/* ---- the fan-out ------------------------------------------------------ */

struct member {
    const json_t *peer; /* borrowed from the state asked */
    json_t *state;      /* its own /federation/state, NULL if none */
    char error[256];    /* why not */
    struct ctl_body body;
    CURL *easy;
};

/* Asks every member but the one asked (self) for its state, concurrently. */
static void fan_out(struct member *ms, size_t n, long timeout_ms)
{
    CURLM *multi = curl_multi_init();
    if (!multi) {
        for (size_t i = 0; i < n; i++)
            snprintf(ms[i].error, sizeof ms[i].error, "cannot initialise the HTTP client");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        struct member *m = &ms[i];
        const char *http = str_or(json_object_get(m->peer, "http"), NULL);
        if (m->state || m->error[0])
            continue;
        if (!http) {
            snprintf(m->error, sizeof m->error, "no HTTP address");
            continue;
        }
        char url[600];
        char base[512];
        snprintf(url, sizeof url, "%s/federation/state", ctl_base_url(http, base, sizeof base));
        m->easy = curl_easy_init();
        if (!m->easy) {
            snprintf(m->error, sizeof m->error, "out of memory");
            continue;
        }
        curl_easy_setopt(m->easy, CURLOPT_URL, url);
        curl_easy_setopt(m->easy, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(m->easy, CURLOPT_TIMEOUT_MS, timeout_ms);
        curl_easy_setopt(m->easy, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
        m->body.max = FANOUT_MAX_BODY;
        curl_easy_setopt(m->easy, CURLOPT_WRITEFUNCTION, ctl_body_write);
        curl_easy_setopt(m->easy, CURLOPT_WRITEDATA, &m->body);
        curl_easy_setopt(m->easy, CURLOPT_PRIVATE, m);
        curl_easy_setopt(m->easy, CURLOPT_USERAGENT, "chimeractl/" CHIMERA_VERSION);
        curl_multi_add_handle(multi, m->easy);
    }
    int running = 1;
    while (running) {
        if (curl_multi_perform(multi, &running) != CURLM_OK)
            break;
        if (running)
            curl_multi_poll(multi, NULL, 0, 100, NULL);
    }
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(multi, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        struct member *m = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&m);
        long status = 0;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &status);
        if (msg->data.result != CURLE_OK)
            snprintf(m->error, sizeof m->error, "%s", curl_easy_strerror(msg->data.result));
        else if (status != 200)
            snprintf(m->error, sizeof m->error, "HTTP %ld", status);
        else if (!m->body.buf || !(m->state = json_loads(m->body.buf, 0, NULL)) ||
                 !json_is_object(m->state)) {
            json_decref(m->state);
            m->state = NULL;
            snprintf(m->error, sizeof m->error, "an answer that is not a JSON object");
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (ms[i].easy) {
            if (!ms[i].state && !ms[i].error[0])
                snprintf(ms[i].error, sizeof ms[i].error, "no answer");
            curl_multi_remove_handle(multi, ms[i].easy);
            curl_easy_cleanup(ms[i].easy);
            ms[i].easy = NULL;
        }
        free(ms[i].body.buf);
        ms[i].body = (struct ctl_body){0};
    }
    curl_multi_cleanup(multi);
}

/* ---- what to show ----------------------------------------------------- */

/* The peers[] element for id in a state document, or NULL. */
static const json_t *peer_in(const json_t *state, const char *id)
{
    const json_t *peers = json_object_get(state, "peers"), *p;
    size_t i;
    json_array_foreach(peers, i, p)
    {
        if (strcmp(str_or(json_object_get(p, "node"), ""), id) == 0)
            return p;
    }
    return NULL;
}

/* The API reports roles for this node only; the leader's id tells us one
 * more, and an alive member of a federation with a leader follows it. */
static const char *peer_role(const json_t *state, const json_t *peer, const json_t *own)
{
    const char *role = json_string_value(json_object_get(peer, "role"));
    if (role)
        return role;
    if (own && json_string_value(json_object_get(own, "role")))
        return json_string_value(json_object_get(own, "role"));
    const char *id = str_or(json_object_get(peer, "node"), "?");
    const char *leader = json_string_value(json_object_get(state, "leader"));
    if (leader && strcmp(leader, id) == 0)
        return "leader";
    if (leader && strcmp(str_or(json_object_get(peer, "status"), ""), "alive") == 0)
        return "follower";
    return "-";
}

/* "demo 1.0.0" for deployment id, named from the current or stable one of
 * a release summary; the id itself when neither is it. */
static void deployment_text(const json_t *rel, const char *id, char *out, size_t len)
{
    if (!id) {
        snprintf(out, len, "-");
        return;
    }
    const char *keys[] = {"stable", "current"};
    for (size_t k = 0; k < 2; k++) {
        const json_t *d = json_object_get(rel, keys[k]);
        if (json_is_object(d) && strcmp(str_or(json_object_get(d, "id"), ""), id) == 0) {
            snprintf(out, len, "%s %s", str_or(json_object_get(d, "name"), "?"),
                     str_or(json_object_get(d, "version"), "?"));
            return;
        }
    }
    snprintf(out, len, "%s", id);
}

/* "demo 1.0.0" for a node's own release object: name and version when it
 * gives them, else the deployment it runs, named from its current/stable. */
static void release_text(const json_t *rel, char *out, size_t len)
{
    const char *name = str_or(json_object_get(rel, "name"), NULL);
    const char *version = str_or(json_object_get(rel, "version"), NULL);
    if (version) {
        snprintf(out, len, "%s%s%s", name ? name : "", name ? " " : "", version);
        return;
    }
    deployment_text(rel, str_or(json_object_get(rel, "running"), NULL), out, len);
}

/* "web=40123,db=5432" from a node's own release.services. */
static void ports_text(const json_t *rel, char *out, size_t len)
{
    const json_t *svcs = json_object_get(rel, "services"), *s;
    size_t i, used = 0;
    out[0] = '\0';
    json_array_foreach(svcs, i, s)
    {
        const json_t *port = json_object_get(s, "port");
        char p[32];
        if (json_is_integer(port))
            snprintf(p, sizeof p, "%" JSON_INTEGER_FORMAT, json_integer_value(port));
        else
            snprintf(p, sizeof p, "%s", str_or(port, "-"));
        int w = snprintf(out + used, len - used, "%s%s=%s", used ? "," : "",
                         str_or(json_object_get(s, "name"), "?"), p);
        if (w < 0 || (size_t)w >= len - used)
            break;
        used += (size_t)w;
    }
    if (!used)
        snprintf(out, len, "-");
}

enum {
    COL_NODE,
    COL_ROLE,
    COL_STATUS,
    COL_CONTACT,
    COL_HTTP,
    COL_RELEASE,
    COL_HEALTH,
    COL_PORTS,
    NCOLS
};

static void summary_line(const char *label, const json_t *d, bool with_stage)
{
    if (!json_is_object(d))
        return;
    printf(" %s=%s %s", label, str_or(json_object_get(d, "version"), "?"),
           str_or(json_object_get(d, "id"), ""));
    if (with_stage)
        printf(" (%s)", str_or(json_object_get(d, "stage"), "?"));
    if (json_is_true(json_object_get(d, "degraded"))) {
        printf(" DEGRADED");
        const json_t *bad = json_object_get(d, "unhealthy_nodes"), *b;
        size_t i;
        json_array_foreach(bad, i, b) printf("%s%s", i ? "," : " (unhealthy: ", str_or(b, "?"));
        if (json_array_size(bad))
            printf(")");
    }
}

/* The leader's view of every member: what the leader's state says of each
 * peer, else (a node without peers[].release) the nodes of the deployment
 * it names, from GET /deployments/ID. */
struct lead_view {
    const json_t *state; /* the leader's /federation/state, or NULL */
    json_t *nodes;       /* GET /deployments/ID's "nodes", or NULL */
};

static bool peers_carry_release(const json_t *state)
{
    const json_t *p;
    size_t i;
    json_array_foreach(json_object_get(state, "peers"), i, p)
    {
        if (json_object_get(p, "release"))
            return true;
    }
    return false;
}

static void lead_view_fill(const struct ctl_opts *o, struct lead_view *lv, const struct member *ms,
                           size_t n, const char *leader)
{
    for (size_t i = 0; leader && i < n; i++)
        if (strcmp(str_or(json_object_get(ms[i].peer, "node"), ""), leader) == 0) {
            lv->state = ms[i].state;
            const char *http = str_or(json_object_get(ms[i].peer, "http"), NULL);
            const json_t *rel = json_object_get(lv->state, "release");
            const json_t *dep = json_object_get(rel, "current");
            if (!json_is_object(dep))
                dep = json_object_get(rel, "stable");
            const char *id = str_or(json_object_get(dep, "id"), NULL);
            if (!lv->state || peers_carry_release(lv->state) || !http || !id)
                return;
            char addr[600], path[256];
            ctl_base_url(http, addr, sizeof addr);
            snprintf(path, sizeof path, "/deployments/%s", id);
            struct ctl_opts lo = *o;
            lo.addr = addr;
            lo.timeout_ms = o->timeout_ms < FANOUT_MAX_MS ? o->timeout_ms : FANOUT_MAX_MS;
            struct ctl_client *cl = ctl_client_new(&lo);
            struct ctl_reply r = {0};
            if (cl && ctl_get(cl, path, &r) == 0 && r.status == 200 &&
                json_is_array(json_object_get(r.json, "nodes")))
                lv->nodes = json_incref(json_object_get(r.json, "nodes"));
            ctl_reply_free(&r);
            ctl_client_free(cl);
            return;
        }
}

static const json_t *lead_view_node(const struct lead_view *lv, const char *id)
{
    const json_t *seen = json_object_get(peer_in(lv->state, id), "release");
    if (json_is_object(seen))
        return seen;
    const json_t *d;
    size_t i;
    json_array_foreach(lv->nodes, i, d)
    {
        if (strcmp(str_or(json_object_get(d, "node"), ""), id) == 0)
            return d;
    }
    return NULL;
}

/* What the leader says a member runs: "demo 1.0.0" when its deployment is
 * the current or stable one, else the version it names, else the id. */
static void seen_release_text(const struct lead_view *lv, const json_t *seen, char *out, size_t len)
{
    const char *running = str_or(json_object_get(seen, "running"), NULL);
    const char *version = str_or(json_object_get(seen, "version"), NULL);
    deployment_text(json_object_get(lv->state, "release"), running, out, len);
    if (version && (!running || strcmp(out, running) == 0))
        snprintf(out, len, "%s", version);
}

static void print_status(const struct ctl_opts *o, const json_t *st, const struct member *ms,
                         size_t n, const struct lead_view *lv)
{
    const char *leader = json_string_value(json_object_get(st, "leader"));
    json_int_t term = json_integer_value(json_object_get(st, "term"));
    json_int_t quorum = json_integer_value(json_object_get(st, "quorum"));
    printf("federation: leader=%s term=%" JSON_INTEGER_FORMAT " quorum=%" JSON_INTEGER_FORMAT
           " read_only=%s (as seen by %s)\n",
           leader ? leader : "none", term, quorum,
           json_is_true(json_object_get(st, "read_only")) ? "true" : "false",
           str_or(json_object_get(st, "node"), "?"));
    const json_t *ledger = json_object_get(st, "ledger");
    if (json_is_object(ledger))
        printf("ledger: index=%" JSON_INTEGER_FORMAT " committed=%" JSON_INTEGER_FORMAT
               " head=%.16s\n",
               json_integer_value(json_object_get(ledger, "index")),
               json_integer_value(json_object_get(ledger, "committed")),
               str_or(json_object_get(ledger, "head"), "-"));
    /* The leader's summary: only it knows which members are unhealthy. */
    const json_t *rel = json_object_get(lv->state ? lv->state : st, "release");
    if (json_is_object(rel)) {
        const json_t *stable = json_object_get(rel, "stable");
        printf("release:");
        if (!json_is_object(stable))
            printf(" stable=none");
        summary_line("stable", stable, false);
        summary_line("in progress", json_object_get(rel, "current"), true);
        printf("\n");
    }

    static const char *const heads[NCOLS] = {"NODE", "ROLE",    "STATUS", "LAST-CONTACT",
                                             "HTTP", "RELEASE", "HEALTH", "PORTS"};
    char(*rows)[NCOLS][256] = calloc(n + 1, sizeof *rows);
    if (!rows)
        return;
    size_t width[NCOLS] = {0};
    for (int c = 0; c < NCOLS; c++)
        snprintf(rows[0][c], sizeof rows[0][c], "%s", heads[c]);
    for (size_t i = 0; i < n; i++) {
        const json_t *p = ms[i].peer;
        const char *id = str_or(json_object_get(p, "node"), "?");
        const json_t *own = ms[i].state ? json_object_get(ms[i].state, "release") : NULL;
        const json_t *seen = lead_view_node(lv, id);
        char(*r)[256] = rows[i + 1];
        snprintf(r[COL_NODE], 256, "%s%s", id, json_is_true(json_object_get(p, "self")) ? "*" : "");
        snprintf(r[COL_ROLE], 256, "%s", peer_role(st, p, ms[i].state));
        snprintf(r[COL_STATUS], 256, "%s", str_or(json_object_get(p, "status"), "-"));
        ctl_human_ms(json_object_get(p, "last_contact_ms"), r[COL_CONTACT], 256);
        snprintf(r[COL_HTTP], 256, "%s", str_or(json_object_get(p, "http"), "-"));
        if (own)
            release_text(own, r[COL_RELEASE], 256);
        else if (seen)
            seen_release_text(lv, seen, r[COL_RELEASE], 256);
        else
            snprintf(r[COL_RELEASE], 256, "-");
        const char *health = str_or(json_object_get(own, "health"), NULL);
        /* The leader's view of a member it no longer hears is its last
         * report: stale, so not shown as the member's health. */
        const char *liveness = str_or(json_object_get(p, "status"), "");
        if (!health && strcmp(liveness, "dead") != 0)
            health = str_or(json_object_get(seen, "health"), NULL);
        snprintf(r[COL_HEALTH], 256, "%s",
                 health                          ? health
                 : ms[i].state                   ? "-"
                 : strcmp(liveness, "dead") == 0 ? "unknown"
                                                 : "unreachable");
        if (ms[i].state)
            ports_text(own, r[COL_PORTS], 256);
        else
            snprintf(r[COL_PORTS], 256, "unreachable");
    }
    for (size_t i = 0; i <= n; i++)
        for (int c = 0; c < NCOLS; c++) {
            size_t w = strlen(rows[i][c]);
            if (w > width[c])
                width[c] = w;
        }
    for (size_t i = 0; i <= n; i++)
        for (int c = 0; c < NCOLS; c++)
            if (c == NCOLS - 1)
                printf("%s\n", rows[i][c]);
            else
                printf("%-*s  ", (int)width[c], rows[i][c]);
    char at[512];
    for (size_t i = 0; i < n; i++)
        if (!ms[i].state)
            printf(
                "%s: unreachable at %s: %s\n", str_or(json_object_get(ms[i].peer, "node"), "?"),
                ctl_addr_text(o, str_or(json_object_get(ms[i].peer, "http"), "-"), at, sizeof at),
                ms[i].error);
    free(rows);
}

/* "members": what each member answered, for --json. */
static json_t *members_json(const struct member *ms, size_t n)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < n; i++) {
        const json_t *rel = ms[i].state ? json_object_get(ms[i].state, "release") : NULL;
        json_t *m = json_pack(
            "{s:O?, s:O?, s:b, s:O?}", "node", json_object_get(ms[i].peer, "node"), "http",
            json_object_get(ms[i].peer, "http"), "reachable", ms[i].state != NULL, "release", rel);
        if (m && !ms[i].state)
            json_object_set_new(m, "error", json_string(ms[i].error));
        json_array_append_new(arr, m);
    }
    return arr;
}

int ctl_cmd_status(const struct ctl_opts *o, int argc, char **argv)
{
    if (argc > 1)
        return ctl_bad_argument("status", argv[1]);
    struct ctl_client *cl = ctl_client_new(o);
    if (!cl) {
        fprintf(stderr, "chimeractl: cannot initialise the HTTP client\n");
        return CTL_FAILED;
    }
    struct ctl_reply r;
    int rc = ctl_check_reply(ctl_get(cl, "/federation/state", &r), &r);
    if (rc == CTL_OK && !json_is_object(r.json)) {
        fprintf(stderr, "chimeractl: node at %s sent a state that is not an object\n",
                ctl_client_addr(cl));
        rc = CTL_FAILED;
    }
    if (rc != CTL_OK) {
        ctl_reply_free(&r);
        ctl_client_free(cl);
        return rc;
    }
    const json_t *peers = json_object_get(r.json, "peers");
    size_t n = json_array_size(peers);
    struct member *ms = calloc(n ? n : 1, sizeof *ms);
    if (!ms) {
        fprintf(stderr, "chimeractl: out of memory\n");
        ctl_reply_free(&r);
        ctl_client_free(cl);
        return CTL_FAILED;
    }
    for (size_t i = 0; i < n; i++) {
        ms[i].peer = json_array_get(peers, i);
        if (json_is_true(json_object_get(ms[i].peer, "self")))
            ms[i].state = json_incref(r.json);
    }
    fan_out(ms, n, o->timeout_ms < FANOUT_MAX_MS ? o->timeout_ms : FANOUT_MAX_MS);
    /* A member its own address does not reach (a container's) may be one
     * of the --addr endpoints. */
    for (size_t i = 0; i < n; i++) {
        const char *id = str_or(json_object_get(ms[i].peer, "node"), NULL);
        if (!ms[i].state && id && (ms[i].state = ctl_addr_state_of(o, id, NULL, 0)))
            ms[i].error[0] = '\0';
    }
    if (o->json) {
        json_object_set_new(r.json, "members", members_json(ms, n));
        json_dumpf(r.json, stdout, JSON_INDENT(2) | CTL_JSON_REAL);
        putchar('\n');
    } else {
        struct lead_view lv = {0};
        lead_view_fill(o, &lv, ms, n, json_string_value(json_object_get(r.json, "leader")));
        print_status(o, r.json, ms, n, &lv);
        json_decref(lv.nodes);
    }
    /* A health check: the node asked must be able to take mutations. */
    bool read_only = json_is_true(json_object_get(r.json, "read_only"));
    bool leader = json_is_string(json_object_get(r.json, "leader"));
    if (read_only || !leader) {
        fprintf(stderr, "chimeractl: status: %s %s\n", str_or(json_object_get(r.json, "node"), "?"),
                read_only ? "is read-only: it knows no quorum-backed leader"
                          : "knows no leader (an election may be under way)");
        rc = ctl_exit_code(CTL_FAM_COMMON, CTL_O_UNAVAILABLE);
    }
    fflush(stdout);
    for (size_t i = 0; i < n; i++)
        json_decref(ms[i].state);
    free(ms);
    ctl_reply_free(&r);
    ctl_client_free(cl);
    return rc;
}

/* ---- version ---------------------------------------------------------- */

int ctl_cmd_version(const struct ctl_opts *o, int argc, char **argv)
{
    bool client_only = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--client") == 0)
            client_only = true;
        else
            return ctl_bad_argument("version", argv[i]);
    }
    json_t *out = json_pack("{s:{s:s}}", "client", "version", CHIMERA_VERSION);
    if (!o->json)
        printf("Client Version: %s\n", CHIMERA_VERSION);
    int rc = CTL_OK;
    if (!client_only) {
        struct ctl_client *cl = ctl_client_new(o);
        struct ctl_reply r = {0};
        int got = cl ? ctl_get(cl, "/federation/state", &r) : -1;
        rc = cl ? ctl_check_reply(got, &r) : CTL_FAILED;
        const char *version = str_or(json_object_get(r.json, "version"), NULL);
        if (rc == CTL_OK && !version) {
            fprintf(stderr, "chimeractl: version: node at %s does not report a version\n",
                    ctl_client_addr(cl));
            rc = CTL_FAILED;
        }
        if (rc == CTL_OK) {
            const char *node = str_or(json_object_get(r.json, "node"), "?");
            if (o->json)
                json_object_set_new(out, "server",
                                    json_pack("{s:s, s:s, s:s}", "version", version, "node", node,
                                              "addr", ctl_client_addr(cl)));
            else
                printf("Server Version: %s (node %s at %s)\n", version, node, ctl_client_addr(cl));
        } else if (o->json) {
            json_object_set_new(out, "server", json_null());
        }
        ctl_reply_free(&r);
        ctl_client_free(cl);
    }
    if (o->json) {
        json_dumpf(out, stdout, JSON_INDENT(2) | CTL_JSON_REAL);
        putchar('\n');
    }
    json_decref(out);
    return rc;
}
