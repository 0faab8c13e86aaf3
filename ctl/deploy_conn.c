/* chimeractl's deployment commands: the node behind --addr and the leader it
 * points to. Mutations are POSTed with the token, following a follower's 307
 * to the leader (at most MAX_REDIRECTS times); reads poll whichever node
 * answers. Also the shared bits of deploy.c and deploy_watch.c: JSON field
 * helpers. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl/deploy_int.h"

#define MAX_REDIRECTS 3

const char *ctl_json_str(const json_t *obj, const char *key, const char *dflt)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s && *s ? s : dflt;
}

int ctl_conn_open(struct ctl_conn *c, const struct ctl_opts *o)
{
    memset(c, 0, sizeof *c);
    c->o = o;
    c->first = c->using = ctl_client_new(o);
    if (!c->first) {
        fprintf(stderr, "chimeractl: cannot initialise the HTTP client\n");
        return -1;
    }
    ctl_client_set_cancel(c->first, &ctl_interrupted);
    return 0;
}

void ctl_conn_close(struct ctl_conn *c)
{
    ctl_client_free(c->lead);
    ctl_client_free(c->first);
}

const char *ctl_conn_addr(const struct ctl_conn *c)
{
    return c->using == c->lead ? c->lead_shown : ctl_client_addr(c->first);
}

/* Points c->lead at base (scheme://host:port). */
static int conn_redirect(struct ctl_conn *c, const char *base)
{
    ctl_client_free(c->lead);
    c->using = c->first;
    snprintf(c->lead_addr, sizeof c->lead_addr, "%s", base);
    ctl_addr_text(c->o, base, c->lead_shown, sizeof c->lead_shown);
    c->lead_opts = *c->o;
    /* The form messages write, so that the node's errors name it so too;
     * the same endpoint. */
    char err[256];
    bool plain = ctl_parse_endpoints(c->lead_shown, NULL, 1, err, sizeof err) == 1;
    c->lead_opts.addr = plain ? c->lead_shown : c->lead_addr;
    c->lead = ctl_client_new(&c->lead_opts);
    if (!c->lead)
        return -1;
    ctl_client_set_cancel(c->lead, &ctl_interrupted);
    c->using = c->lead;
    return 0;
}

/* GET path from the node polled; when that is the leader and it does not
 * answer, from the node behind --addr. Returns ctl_get's result. */
int ctl_conn_get(struct ctl_conn *c, const char *path, struct ctl_reply *r)
{
    int rc = ctl_get(c->using, path, r);
    if (rc != 0 && c->using != c->first) { /* the leader went away: ask --addr */
        ctl_reply_free(r);
        c->using = c->first;
        rc = ctl_get(c->using, path, r);
    }
    return rc;
}

/* From a 307: the leader's base URL (scheme://host:port) into base, from
 * Location or else "leader_http". The request goes to the same path and
 * query as the first one: the leader serves the same API, and a Location
 * that dropped "?dry_run=1" must never turn a dry run into a deployment. */
static int redirect_target(const struct ctl_reply *r, char *base, size_t blen)
{
    const char *loc = r->location;
    const char *lh = ctl_json_str(r->json, "leader_http", NULL);
    const char *scheme = strstr(loc, "://");
    if (scheme && scheme > loc) {
        const char *slash = strchr(scheme + 3, '/');
        size_t n = slash ? (size_t)(slash - loc) : strlen(loc);
        snprintf(base, blen, "%.*s", (int)n, loc);
        return 0;
    }
    if (lh) {
        ctl_base_url(lh, base, blen);
        return 0;
    }
    return -1;
}

/* The user's options for a look at addr (NULL: --addr's) for a node:
 * those of a request, but an address that drops connections unanswered
 * costs a short connect timeout, not the request's, before the next one
 * is tried. */
static struct ctl_opts lookup_opts(const struct ctl_conn *c, const char *addr)
{
    struct ctl_opts o = *c->o;
    o.addr = addr ? addr : o.addr;
    o.connect_timeout_ms = CTL_LOOKUP_CONNECT_MS;
    return o;
}

/* The base URL of the --addr endpoint that is node `leader` (see
 * ctl_addr_state_of); -1 when none of them is it. */
static int leader_in_addr(const struct ctl_conn *c, const char *leader, char *base, size_t blen)
{
    struct ctl_opts o = lookup_opts(c, NULL);
    json_t *st = ctl_addr_state_of(&o, leader, base, blen);
    json_decref(st);
    return st ? 0 : -1;
}

/* Whether the node at base answers as `node`. */
static bool node_at(const struct ctl_conn *c, const char *base, const char *node)
{
    struct ctl_opts one = lookup_opts(c, base);
    struct ctl_client *cl = ctl_client_new(&one);
    struct ctl_reply r;
    bool is = cl && ctl_get(cl, "/federation/state", &r) == 0 && r.status == 200 &&
              strcmp(ctl_json_str(r.json, "node", ""), node) == 0;
    if (cl)
        ctl_reply_free(&r);
    ctl_client_free(cl);
    return is;
}

/* A watch that outlives its leader (a transfer, an election after a crash)
 * would go on polling a follower, which knows only its own node's release:
 * every other node would read "running -, health unknown" until the end.
 * Asks the node behind --addr who leads now and polls that one, at the
 * address it advertises, else at the --addr endpoint that is it (one that
 * cannot be reached from here must not take the polls from a node that
 * answers); true when that is another node than the one polled. Keeps the
 * node polled when the answer names no leader, or none of its addresses
 * answers. */
bool ctl_conn_follow_leader(struct ctl_conn *c)
{
    struct ctl_reply r;
    bool moved = false;
    if (ctl_get(c->first, "/federation/state", &r) != 0 || r.status != 200) {
        ctl_reply_free(&r);
        return false;
    }
    const char *leader = ctl_json_str(r.json, "leader", NULL);
    const json_t *peers = json_object_get(r.json, "peers"), *p;
    size_t i;
    json_array_foreach(peers, i, p)
    {
        const char *http = ctl_json_str(p, "http", NULL);
        if (!leader || strcmp(ctl_json_str(p, "node", ""), leader) != 0)
            continue;
        if (json_is_true(json_object_get(p, "self"))) {
            moved = c->using != c->first;
            c->using = c->first;
            break;
        }
        char base[512];
        ctl_base_url(http ? http : "", base, sizeof base);
        if (!http || (c->using == c->lead && strcmp(base, c->lead_addr) == 0))
            break; /* nowhere to go, or polled already */
        /* Polled already at the --addr endpoint that is it, its own address
         * out of reach here: no move, and that address, which may take a
         * connect timeout to fail, is not tried at every look. */
        if (c->using == c->lead && node_at(c, c->lead_addr, leader))
            break;
        if (!node_at(c, base, leader) && leader_in_addr(c, leader, base, sizeof base) != 0)
            break;
        if (c->lead && strcmp(base, c->lead_addr) == 0) {
            moved = c->using != c->lead;
            c->using = c->lead;
        } else {
            moved = conn_redirect(c, base) == 0; /* else back to --addr's node */
        }
        break;
    }
    ctl_reply_free(&r);
    return moved;
}

/* Reads go to the leader when the node behind --addr names one: only the
 * leader hears every node's reports (another node knows its own). Keeps
 * the node behind --addr when anything is amiss. */
void ctl_conn_prefer_leader(struct ctl_conn *c)
{
    (void)ctl_conn_follow_leader(c);
}

/* POSTs payload with the token, following a follower's 307 to the leader
 * (at the address the follower gives, else at the --addr endpoint that is
 * the leader). Returns ctl_post_raw's result; r holds the final answer. */
int ctl_conn_post(struct ctl_conn *c, const char *path, const char *payload, const char *token,
                  struct ctl_reply *r)
{
    int rc = ctl_post_raw(c->using, path, payload, token, r);
    for (int hop = 0; rc == 0 && (r->status == 307 || r->status == 308); hop++) {
        char base[512], leader[128];
        if (hop == MAX_REDIRECTS || redirect_target(r, base, sizeof base) != 0)
            return rc; /* reported by the caller as an unexpected answer */
        snprintf(leader, sizeof leader, "%s", ctl_json_str(r->json, "leader", ""));
        for (int tries = 0; tries < 2; tries++) {
            char to[512];
            ctl_addr_text(c->o, base, to, sizeof to);
            if (!c->o->json && tries == 0)
                fprintf(stderr, "chimeractl: %s is not the leader; sending to the leader at %s\n",
                        ctl_conn_addr(c), to);
            else if (!c->o->json)
                fprintf(stderr,
                        "chimeractl: %s does not answer; sending to %s, the leader %s in --addr\n",
                        ctl_conn_addr(c), to, leader);
            if (conn_redirect(c, base) != 0) {
                ctl_reply_free(r);
                snprintf(r->error, sizeof r->error, "out of memory");
                return -1;
            }
            ctl_reply_free(r);
            rc = ctl_post_raw(c->using, path, payload, token, r);
            /* Not reached (refused, no such host): nothing was sent there. */
            if (!(rc != 0 && r->no_answer && leader[0] &&
                  leader_in_addr(c, leader, base, sizeof base) == 0))
                break;
        }
    }
    return rc;
}

/* A fresh client over every --addr endpoint in place of c->first, which
 * is pinned to one that no longer answers; kept when none can be made. */
static void reopen_first(struct ctl_conn *c)
{
    struct ctl_client *fresh = ctl_client_new(c->o);
    if (!fresh)
        return;
    ctl_client_set_cancel(fresh, &ctl_interrupted);
    bool polled = c->using == c->first;
    ctl_client_free(c->first);
    c->first = fresh;
    if (polled)
        c->using = fresh;
}

/* GET path as a JSON object, for polling: failures are tolerated (said once
 * on stderr, then the other node is tried next time). Returns the object (a
 * new reference) or NULL. *status is the HTTP status (0: no answer). */
json_t *ctl_conn_poll(struct ctl_conn *c, const char *path, long *status)
{
    struct ctl_reply r;
    int rc = ctl_get(c->using, path, &r);
    json_t *j = NULL;
    *status = rc == 0 ? r.status : 0;
    if (rc == 0 && r.status == 200 && json_is_object(r.json)) {
        j = json_incref(r.json);
        if (c->down)
            fprintf(stderr, "chimeractl: in contact with the node at %s again\n", ctl_conn_addr(c));
        c->down = false;
    } else if (!ctl_interrupted) {
        if (!c->down)
            fprintf(stderr, "chimeractl: no answer for %s from the node at %s (%s); retrying\n",
                    path, ctl_conn_addr(c),
                    rc != 0           ? r.error
                    : r.status == 200 ? "not a JSON object"
                    : r.status == 404 ? "not found"
                    : r.status == 503 ? "read-only"
                                      : "error status");
        c->down = true;
        /* The --addr client stays with the first endpoint that answered
         * (ctl/client.c); gone, it would hold the watch there to the end
         * while the others answer: every endpoint again, in order. */
        if (rc != 0 && c->using == c->first)
            reopen_first(c);
        else if (c->lead) /* the leader may have changed: ask the other node */
            c->using = c->using == c->lead ? c->first : c->lead;
    }
    ctl_reply_free(&r);
    return j;
}

int ctl_exchange(const struct ctl_opts *o, const char *cmd, const char *path, const char *payload,
                 const char *missing, json_t **out)
{
    return ctl_exchange_or(o, cmd, path, payload, missing, out, NULL, NULL);
}

int ctl_exchange_or(const struct ctl_opts *o, const char *cmd, const char *path,
                    const char *payload, const char *missing, json_t **out, ctl_take_fn take,
                    void *arg)
{
    const char *token = NULL;
    *out = NULL;
    if (payload && !(token = ctl_token_for(o, cmd)))
        return CTL_USAGE;
    struct ctl_conn c;
    if (ctl_conn_open(&c, o) != 0)
        return CTL_FAILED;
    struct ctl_reply r;
    int got = payload ? ctl_conn_post(&c, path, payload, token, &r) : ctl_conn_get(&c, path, &r);
    enum ctl_outcome oc = ctl_outcome_of_reply(got, &r);
    int rc = oc == CTL_O_OK || !take ? -1 : take(&c, got, &r, arg);
    if (rc < 0) {
        if (oc == CTL_O_OK)
            *out = json_incref(r.json);
        else if (got == 0 && r.status == 404)
            fprintf(stderr, "chimeractl: %s: this node has no %s\n", cmd, missing);
        else
            ctl_say_failure(cmd, got, &r);
        rc = ctl_exit_code(CTL_FAM_COMMON, oc);
    }
    ctl_reply_free(&r);
    ctl_conn_close(&c);
    return rc;
}

/* The id of a deployment object as text (ids are strings; integers too). */
void ctl_deploy_id(const json_t *d, char *buf, size_t len)
{
    const json_t *id = json_object_get(d, "id");
    if (json_is_integer(id))
        snprintf(buf, len, "%" JSON_INTEGER_FORMAT, json_integer_value(id));
    else
        snprintf(buf, len, "%s", json_string_value(id) ? json_string_value(id) : "");
}

void ctl_conn_mark_members(struct ctl_conn *c, json_t *d)
{
    /* A node names each member's liveness itself ("member"); only one from
     * before that needs asking, at every poll. */
    const json_t *first = json_array_get(json_object_get(d, "nodes"), 0);
    if (c->o->json || !ctl_deployment_skipped_some(d) || json_object_get(first, "member"))
        return;
    struct ctl_reply r;
    if (ctl_get(c->using, "/federation/state", &r) == 0 && r.status == 200)
        ctl_mark_members(d, r.json);
    ctl_reply_free(&r);
}
