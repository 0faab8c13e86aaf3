/* chimeractl deploy | deployments | deployment | rollback: releases through
 * the leader's pipeline (POST /deployments, GET /deployments[/ID], POST
 * /rollback). Printing is deploy_view.c's.
 *
 * Mutations carry the admin token. A follower answers them with 307 and the
 * leader's address; curl would not re-send the Authorization header to
 * another host or port, so the redirect is followed here, with the token and
 * the exact same body, at most MAX_REDIRECTS times. After a redirect the
 * leader is polled; the node behind --addr is the fallback when the leader
 * stops answering (a leader change during a rollout).
 *
 * deploy's exit codes (enum ctl_deploy_exit): 0 stable (or submitted when
 * not waiting), 1 error, 2 rejected before deploying, 3 failed and
 * reverted. */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "node/ctl/ctl.h"
#include "pipeline/manifest.h"

#define POLL_MS 250
#define NAMES_EVERY 8 /* polls at least between fetches of the list naming versions */
#define MAX_REDIRECTS 3
#define DEFAULT_WAIT_MS (10u * 60u * 1000u)
/* A failed deployment with auto_revert: how long to wait for the leader to
 * start the rollback before concluding there is none. */
#define ROLLBACK_APPEAR_MS 10000

static volatile int interrupted;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
    while (ms > 0 && !interrupted) {
        long slice = ms < 50 ? ms : 50;
        nanosleep(&(struct timespec){0, slice * 1000000L}, NULL);
        ms -= slice;
    }
}

static const char *get_str(const json_t *obj, const char *key, const char *dflt)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s && *s ? s : dflt;
}

static int usage(const char *cmd, const char *what, const char *arg)
{
    fprintf(stderr, "chimeractl: %s: %s%s%s%s (see chimeractl --help)\n", cmd, what,
            arg ? " '" : "", arg ? arg : "", arg ? "'" : "");
    return CTL_USAGE;
}

/* "--name value" or "--name=value". 1 matched (*val NULL when missing). */
static int option_value(int argc, char **argv, int *i, const char *name, const char **val)
{
    size_t n = strlen(name);
    const char *a = argv[*i];
    if (strncmp(a, name, n) != 0 || (a[n] != '\0' && a[n] != '='))
        return 0;
    *val = a[n] == '=' ? a + n + 1 : *i + 1 < argc ? argv[++*i] : NULL;
    return 1;
}

/* ---- the node, and the leader it points to ---------------------------- */

struct conn {
    const struct ctl_opts *o;  /* the user's options (--addr) */
    struct ctl_client *first;  /* the node behind --addr */
    struct ctl_opts lead_opts; /* the leader, after a redirect */
    char lead_addr[512];
    struct ctl_client *lead;  /* NULL until redirected */
    struct ctl_client *using; /* the one polled: lead, or first */
    bool down;                /* contact lost, said so */
};

static int conn_open(struct conn *c, const struct ctl_opts *o)
{
    memset(c, 0, sizeof *c);
    c->o = o;
    c->first = c->using = ctl_client_new(o);
    if (!c->first) {
        fprintf(stderr, "chimeractl: cannot initialise the HTTP client\n");
        return -1;
    }
    ctl_client_set_cancel(c->first, &interrupted);
    return 0;
}

static void conn_close(struct conn *c)
{
    ctl_client_free(c->lead);
    ctl_client_free(c->first);
}

static const char *conn_addr(const struct conn *c)
{
    return c->using == c->lead ? c->lead_addr : c->o->addr;
}

/* Points c->lead at base (scheme://host:port). */
static int conn_redirect(struct conn *c, const char *base)
{
    ctl_client_free(c->lead);
    c->using = c->first;
    snprintf(c->lead_addr, sizeof c->lead_addr, "%s", base);
    c->lead_opts = *c->o;
    c->lead_opts.addr = c->lead_addr;
    c->lead = ctl_client_new(&c->lead_opts);
    if (!c->lead)
        return -1;
    ctl_client_set_cancel(c->lead, &interrupted);
    c->using = c->lead;
    return 0;
}

/* Reads go to the leader when the node behind --addr names one: only the
 * leader hears every node's reports (another node knows its own). Keeps
 * the node behind --addr when anything is amiss. */
static void conn_prefer_leader(struct conn *c)
{
    struct ctl_reply r;
    if (ctl_get(c->first, "/federation/state", &r) == 0 && r.status == 200) {
        const char *leader = get_str(r.json, "leader", NULL);
        const json_t *peers = json_object_get(r.json, "peers"), *p;
        size_t i;
        json_array_foreach(peers, i, p)
        {
            const char *http = get_str(p, "http", NULL);
            if (leader && http && strcmp(get_str(p, "node", ""), leader) == 0 &&
                !json_is_true(json_object_get(p, "self"))) {
                char base[512];
                snprintf(base, sizeof base, "%s%s", strstr(http, "://") ? "" : "http://", http);
                if (conn_redirect(c, base) != 0)
                    c->using = c->first;
                break;
            }
        }
    }
    ctl_reply_free(&r);
}

/* From a 307: the leader's base URL (scheme://host:port) into base, from
 * Location or else "leader_http". The request goes to the same path and
 * query as the first one: the leader serves the same API, and a Location
 * that dropped "?dry_run=1" must never turn a dry run into a deployment. */
static int redirect_target(const struct ctl_reply *r, char *base, size_t blen)
{
    const char *loc = r->location;
    const char *lh = get_str(r->json, "leader_http", NULL);
    const char *scheme = strstr(loc, "://");
    if (scheme && scheme > loc) {
        const char *slash = strchr(scheme + 3, '/');
        size_t n = slash ? (size_t)(slash - loc) : strlen(loc);
        snprintf(base, blen, "%.*s", (int)n, loc);
        return 0;
    }
    if (lh) {
        snprintf(base, blen, "%s%s", strstr(lh, "://") ? "" : "http://", lh);
        return 0;
    }
    return -1;
}

/* POSTs payload with the token, following a follower's 307 to the leader.
 * Returns ctl_post_raw's result; r holds the final answer. */
static int conn_post(struct conn *c, const char *path, const char *payload, const char *token,
                     struct ctl_reply *r)
{
    int rc = ctl_post_raw(c->using, path, payload, token, r);
    for (int hop = 0; rc == 0 && (r->status == 307 || r->status == 308); hop++) {
        char base[512];
        if (hop == MAX_REDIRECTS || redirect_target(r, base, sizeof base) != 0)
            return rc; /* reported by the caller as an unexpected answer */
        if (!c->o->json)
            fprintf(stderr, "chimeractl: %s is not the leader; sending to the leader at %s\n",
                    conn_addr(c), base);
        if (conn_redirect(c, base) != 0) {
            ctl_reply_free(r);
            snprintf(r->error, sizeof r->error, "out of memory");
            return -1;
        }
        ctl_reply_free(r);
        rc = ctl_post_raw(c->using, path, payload, token, r);
    }
    return rc;
}

/* GET path as a JSON object, for polling: failures are tolerated (said once
 * on stderr, then the other node is tried next time). Returns the object (a
 * new reference) or NULL. *status is the HTTP status (0: no answer). */
static json_t *conn_poll(struct conn *c, const char *path, long *status)
{
    struct ctl_reply r;
    int rc = ctl_get(c->using, path, &r);
    json_t *j = NULL;
    *status = rc == 0 ? r.status : 0;
    if (rc == 0 && r.status == 200 && json_is_object(r.json)) {
        j = json_incref(r.json);
        if (c->down)
            fprintf(stderr, "chimeractl: in contact with the node at %s again\n", conn_addr(c));
        c->down = false;
    } else if (!interrupted) {
        if (!c->down)
            fprintf(stderr, "chimeractl: no answer for %s from the node at %s (%s); retrying\n",
                    path, conn_addr(c),
                    rc != 0           ? r.error
                    : r.status == 200 ? "not a JSON object"
                    : r.status == 404 ? "not found"
                    : r.status == 503 ? "read-only"
                                      : "error status");
        c->down = true;
        if (c->lead) /* the leader may have changed: ask the other node */
            c->using = c->using == c->lead ? c->first : c->lead;
    }
    ctl_reply_free(&r);
    return j;
}

static char *read_token(const struct ctl_opts *o, const char *cmd)
{
    if (!o->token_file || !*o->token_file) {
        fprintf(stderr,
                "chimeractl: %s needs the admin token: --token-file FILE or "
                "CHIMERA_ADMIN_TOKEN_FILE\n",
                cmd);
        return NULL;
    }
    char err[512];
    char *tok = ctl_read_token(o->token_file, err, sizeof err);
    if (!tok)
        fprintf(stderr, "chimeractl: %s: %s\n", cmd, err);
    return tok;
}

static void free_token(char *tok)
{
    if (tok) {
        explicit_bzero(tok, strlen(tok));
        free(tok);
    }
}

static void catch_signals(void)
{
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

/* The id of a deployment object as text (ids are strings; integers too). */
static void id_of(const json_t *d, char *buf, size_t len)
{
    const json_t *id = json_object_get(d, "id");
    if (json_is_integer(id))
        snprintf(buf, len, "%" JSON_INTEGER_FORMAT, json_integer_value(id));
    else
        snprintf(buf, len, "%s", json_string_value(id) ? json_string_value(id) : "");
}

/* ---- watching a deployment -------------------------------------------- */

enum watch_end {
    W_STABLE,     /* stable */
    W_REVERTED,   /* reverted (a rollback's success) */
    W_FAILED,     /* failed, or rolling back when that ends the watch */
    W_SUPERSEDED, /* it was stable, then a later release replaced it */
    W_TIMEOUT,
    W_INTERRUPTED,
};

static bool stage_is(const json_t *d, const char *stage)
{
    return strcmp(get_str(d, "stage", ""), stage) == 0;
}

/* Polls GET /deployments/ID every POLL_MS, printing each change, until a
 * terminal stage; "rolling_back" is one when rolling_back_ends. deadline is
 * monotonic ms (0: none). *final is the last object seen (the caller frees
 * it; NULL if none). */
static enum watch_end watch(struct conn *c, const char *id, int64_t deadline,
                            bool rolling_back_ends, json_t **final)
{
    char path[256];
    snprintf(path, sizeof path, "/deployments/%s", id);
    json_t *last = NULL, *names = NULL;
    unsigned since_names = NAMES_EVERY - 1; /* the first poll asks */
    enum watch_end end = W_TIMEOUT;
    for (;;) {
        long status;
        json_t *d = conn_poll(c, path, &status);
        if (interrupted) {
            json_decref(d);
            end = W_INTERRUPTED;
            break;
        }
        if (d) {
            /* Nodes name the deployment they run: the list gives its
             * version. Asked for again only when a node names one it
             * lacks. */
            if (!c->o->json && ++since_names >= NAMES_EVERY &&
                (!names || !ctl_progress_names_known(d, names))) {
                since_names = 0;
                struct ctl_reply r;
                if (ctl_get(c->using, "/deployments", &r) == 0 && r.status == 200 &&
                    json_is_object(r.json)) {
                    json_decref(names);
                    names = json_incref(r.json);
                }
                ctl_reply_free(&r);
            }
            ctl_print_progress(&last, d, names, c->o->json);
            json_decref(d);
            const char *s = get_str(last, "stage", "");
            if (strcmp(s, "stable") == 0)
                end = W_STABLE;
            else if (strcmp(s, "reverted") == 0)
                end = W_REVERTED;
            else if (strcmp(s, "failed") == 0 ||
                     (rolling_back_ends && strcmp(s, "rolling_back") == 0))
                end = W_FAILED;
            else if (strcmp(s, "superseded") == 0)
                end = W_SUPERSEDED;
            if (end != W_TIMEOUT)
                break;
        }
        if (deadline && mono_ms() >= deadline)
            break;
        sleep_ms(deadline && deadline - mono_ms() < POLL_MS ? (long)(deadline - mono_ms())
                                                            : POLL_MS);
        if (interrupted) {
            end = W_INTERRUPTED;
            break;
        }
    }
    json_decref(names);
    *final = last;
    return end;
}

/* The rollback that reverts `ours`: the newest deployment with rollback
 * true, another id, started no earlier than ours. Returns a new reference
 * or NULL; *no_stable is set when the node names no stable release (so no
 * rollback can come). */
static json_t *find_rollback(struct conn *c, const json_t *ours, bool *no_stable)
{
    long status;
    json_t *list = conn_poll(c, "/deployments", &status);
    *no_stable = false;
    if (!list)
        return NULL;
    char mine[128], other[128];
    id_of(ours, mine, sizeof mine);
    json_int_t started = json_integer_value(json_object_get(ours, "started_ms"));
    const json_t *deps = json_object_get(list, "deployments"), *d;
    json_t *found = NULL;
    size_t i;
    json_array_foreach(deps, i, d)
    {
        id_of(d, other, sizeof other);
        if (json_is_true(json_object_get(d, "rollback")) && strcmp(other, mine) != 0 &&
            json_integer_value(json_object_get(d, "started_ms")) >= started) {
            found = json_incref((json_t *)d);
            break;
        }
    }
    *no_stable = json_is_null(json_object_get(list, "stable"));
    json_decref(list);
    return found;
}

/* Prints the final deployment object (--json), the last line of the JSON
 * stream. */
static void print_final(const struct ctl_opts *o, const json_t *d)
{
    if (o->json && d) {
        json_dumpf(d, stdout, JSON_COMPACT);
        putchar('\n');
        fflush(stdout);
    }
}

static void say_interrupted(const char *id)
{
    fprintf(stderr,
            "chimeractl: stopped waiting; deployment %s goes on (chimeractl deployment %s "
            "--watch)\n",
            id, id);
}

/* deploy --wait after the 202: until stable (0), failed and reverted (3),
 * or anything else (1). */
static int wait_deploy(struct conn *c, const char *id, int64_t deadline, bool auto_revert)
{
    json_t *ours = NULL, *rb = NULL, *rb_final = NULL;
    int rc = CTL_DEPLOY_ERROR;
    enum watch_end end = watch(c, id, deadline, true, &ours);
    if (end == W_STABLE || end == W_SUPERSEDED) {
        /* Superseded: it was stable, and a later release replaced it. */
        if (!c->o->json)
            printf("deployment %s is stable%s: %s %s\n", id,
                   end == W_SUPERSEDED ? " (and already superseded by a later one)" : "",
                   get_str(json_object_get(ours, "release"), "name", "-"),
                   get_str(json_object_get(ours, "release"), "version", "-"));
        rc = CTL_DEPLOY_STABLE;
        goto out;
    }
    if (end == W_TIMEOUT || end == W_INTERRUPTED) {
        if (end == W_TIMEOUT)
            fprintf(stderr, "chimeractl: deploy: timed out waiting for deployment %s (stage %s)\n",
                    id, get_str(ours, "stage", "unknown"));
        else
            say_interrupted(id);
        goto out;
    }
    /* Failed (or already rolling back): find the rollback the leader
     * started. A failed deployment without auto_revert, or with no stable
     * release to go back to, has none. */
    fprintf(stderr, "chimeractl: deploy: deployment %s failed: %s\n", id,
            get_str(ours, "reason", "no reason given"));
    bool certain = !stage_is(ours, "failed"); /* rolling_back, reverted */
    int64_t appear_by = mono_ms() + ROLLBACK_APPEAR_MS;
    for (;;) {
        bool no_stable;
        rb = find_rollback(c, ours, &no_stable);
        if (rb || interrupted)
            break;
        if (!certain && (!auto_revert || no_stable || mono_ms() >= appear_by)) {
            fprintf(stderr, "chimeractl: deploy: no rollback: %s\n",
                    !auto_revert ? "the release has auto_revert off"
                    : no_stable  ? "there is no stable release to go back to"
                                 : "the leader started none");
            goto out;
        }
        if (deadline && mono_ms() >= deadline) {
            fprintf(stderr, "chimeractl: deploy: timed out waiting for the rollback of %s\n", id);
            goto out;
        }
        sleep_ms(POLL_MS);
    }
    if (!rb) {
        say_interrupted(id);
        goto out;
    }
    char rbid[128];
    id_of(rb, rbid, sizeof rbid);
    const json_t *to = json_object_get(rb, "release");
    fprintf(stderr, "chimeractl: deploy: rolling back to %s %s (deployment %s)\n",
            get_str(to, "name", "-"), get_str(to, "version", "-"), rbid);
    end = watch(c, rbid, deadline, false, &rb_final);
    if (end == W_REVERTED || end == W_STABLE || end == W_SUPERSEDED) {
        if (!c->o->json)
            printf("deployment %s failed and was reverted to %s %s by deployment %s\n", id,
                   get_str(to, "name", "-"), get_str(to, "version", "-"), rbid);
        rc = CTL_DEPLOY_REVERTED;
    } else if (end == W_TIMEOUT) {
        fprintf(stderr, "chimeractl: deploy: timed out waiting for rollback %s (stage %s)\n", rbid,
                get_str(rb_final, "stage", "unknown"));
    } else if (end == W_INTERRUPTED) {
        say_interrupted(rbid);
    } else {
        fprintf(stderr, "chimeractl: deploy: rollback %s %s: %s\n", rbid,
                get_str(rb_final, "stage", "failed"),
                get_str(rb_final, "reason", "no reason given"));
    }
    if (end != W_INTERRUPTED) {
        /* Ours, as it ends up. */
        long status;
        char path[256];
        snprintf(path, sizeof path, "/deployments/%s", id);
        json_t *now = conn_poll(c, path, &status);
        if (now) {
            json_decref(ours);
            ours = now;
        }
    }
out:
    if (!interrupted)
        print_final(c->o, ours);
    json_decref(ours);
    json_decref(rb);
    json_decref(rb_final);
    return rc;
}

/* ---- deploy ----------------------------------------------------------- */

static char *read_all(const char *file, size_t *len)
{
    FILE *f = strcmp(file, "-") == 0 ? stdin : fopen(file, "re");
    if (!f) {
        fprintf(stderr, "chimeractl: deploy: cannot read %s: %m\n", file);
        return NULL;
    }
    size_t cap = MANIFEST_MAX_BYTES + 2, n = 0;
    char *buf = malloc(cap);
    while (buf && n < cap - 1) {
        size_t got = fread(buf + n, 1, cap - 1 - n, f);
        if (got == 0)
            break;
        n += got;
    }
    bool bad = buf && ferror(f);
    if (f != stdin)
        fclose(f);
    if (!buf || bad) {
        fprintf(stderr, "chimeractl: deploy: cannot read %s%s\n", file,
                buf ? "" : ": out of memory");
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* The answer to POST /deployments: its exit code, after printing. */
static int deploy_answer(const struct conn *c, const char *file, bool dry_run, bool wait,
                         const struct ctl_reply *r)
{
    const struct ctl_opts *o = c->o;
    const char *err = get_str(r->json, "error", NULL);
    bool certified =
        json_is_true(json_object_get(json_object_get(r->json, "certification"), "certified"));
    switch (r->status) {
    case 200:
    case 202:
        if (!json_is_object(r->json))
            break;
        if (o->json) {
            /* With --wait, the first line of a stream of JSON lines. */
            json_dumpf(r->json, stdout, wait && !dry_run ? JSON_COMPACT : JSON_INDENT(2));
            putchar('\n');
        } else {
            ctl_print_plan(r->json);
        }
        if (dry_run || json_is_true(json_object_get(r->json, "dry_run"))) {
            if (!o->json)
                printf("dry run: %s; nothing deployed\n", certified
                                                              ? "the release would be certified"
                                                              : "the release would be REJECTED");
            return certified ? CTL_DEPLOY_STABLE : CTL_DEPLOY_REJECTED;
        }
        if (!get_str(r->json, "id", NULL) && !json_is_integer(json_object_get(r->json, "id")))
            break;
        return CTL_OK;
    case 400:
        fprintf(stderr, "chimeractl: deploy: %s: manifest refused by the node at %s: %s: %s\n",
                file, conn_addr(c), get_str(r->json, "path", "(document)"), err ? err : "invalid");
        if (o->json && r->json)
            json_dumpf(r->json, stdout, JSON_INDENT(2)), putchar('\n');
        return CTL_DEPLOY_REJECTED;
    case 422:
        if (o->json && r->json) {
            json_dumpf(r->json, stdout, JSON_INDENT(2));
            putchar('\n');
        } else if (r->json) {
            ctl_print_plan(r->json);
        }
        fprintf(stderr, "chimeractl: deploy: release not certified: %s\n",
                err ? err : "certification failed");
        return CTL_DEPLOY_REJECTED;
    case 409:
        fprintf(stderr, "chimeractl: deploy: refused: %s\n", err ? err : "conflict (HTTP 409)");
        return CTL_DEPLOY_REJECTED;
    default:
        break;
    }
    if (err)
        fprintf(stderr, "chimeractl: deploy: %s (HTTP %ld)\n", err, r->status);
    else
        fprintf(stderr, "chimeractl: deploy: unexpected answer from the node at %s (HTTP %ld)\n",
                conn_addr(c), r->status);
    return CTL_DEPLOY_ERROR;
}

static int parse_timeout(const char *cmd, const char *val, uint32_t *ms)
{
    char why[128] = "";
    uint32_t v = 0;
    if (!val || manifest_parse_duration(val, &v, why, sizeof why) != 0 || v == 0) {
        fprintf(stderr,
                "chimeractl: %s: --timeout needs a duration such as 90s or 10m (at most 24h), "
                "got '%s'%s%s\n",
                cmd, val ? val : "", why[0] ? ": " : "", why);
        return -1;
    }
    *ms = v;
    return 0;
}

int ctl_cmd_deploy(const struct ctl_opts *o, int argc, char **argv)
{
    const char *file = NULL, *val;
    bool dry_run = false, wait = false;
    uint32_t timeout_ms = DEFAULT_WAIT_MS;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--dry-run") == 0)
            dry_run = true;
        else if (strcmp(a, "--wait") == 0)
            wait = true;
        else if (option_value(argc, argv, &i, "--timeout", &val)) {
            if (parse_timeout("deploy", val, &timeout_ms) != 0)
                return CTL_DEPLOY_REJECTED;
        } else if ((a[0] != '-' || strcmp(a, "-") == 0) && !file)
            file = a;
        else
            return usage("deploy", a[0] == '-' ? "unknown option" : "unexpected argument", a);
    }
    if (!file)
        return usage("deploy", "needs a manifest FILE (or - for stdin)", NULL);

    size_t len;
    char *doc = read_all(file, &len);
    if (!doc)
        return CTL_DEPLOY_ERROR;
    /* The node checks it too; checking here fails fast, with the path. */
    struct manifest *m = calloc(1, sizeof *m);
    struct manifest_error merr;
    if (!m || manifest_parse(doc, len, m, &merr) != 0 || strlen(doc) != len) {
        if (!m)
            fprintf(stderr, "chimeractl: deploy: out of memory\n");
        else if (strlen(doc) != len)
            fprintf(stderr, "chimeractl: deploy: %s: invalid manifest: a NUL byte in the JSON\n",
                    file);
        else
            fprintf(stderr, "chimeractl: deploy: %s: invalid manifest at %s: %s\n", file,
                    merr.path[0] ? merr.path : "(document)", merr.message);
        free(m);
        free(doc);
        return m ? CTL_DEPLOY_REJECTED : CTL_DEPLOY_ERROR;
    }
    bool auto_revert = m->rollout.auto_revert;
    manifest_free(m);
    free(m);

    char *token = read_token(o, "deploy");
    struct conn c;
    if (!token || conn_open(&c, o) != 0) {
        free_token(token);
        free(doc);
        return token ? CTL_DEPLOY_ERROR : CTL_DEPLOY_REJECTED;
    }
    catch_signals();
    int64_t deadline = mono_ms() + timeout_ms;
    struct ctl_reply r;
    int rc = conn_post(&c, dry_run ? "/deployments?dry_run=1" : "/deployments", doc, token, &r);
    free_token(token);
    free(doc);
    if (rc != 0) {
        fprintf(stderr, "chimeractl: deploy: cannot reach node at %s: %s\n", conn_addr(&c),
                r.error);
        rc = CTL_DEPLOY_ERROR;
    } else {
        rc = deploy_answer(&c, file, dry_run, wait, &r);
    }
    char id[128] = "";
    if (rc == CTL_OK && !dry_run) {
        id_of(r.json, id, sizeof id);
        if (!o->json)
            printf("deployment %s submitted: %s %s\n", id,
                   get_str(json_object_get(r.json, "release"), "name", "-"),
                   get_str(json_object_get(r.json, "release"), "version", "-"));
    }
    ctl_reply_free(&r);
    fflush(stdout);
    if (rc == CTL_OK && !dry_run && wait)
        rc = wait_deploy(&c, id, deadline, auto_revert);
    else if (rc == CTL_OK && !dry_run && !o->json)
        printf("follow it with: chimeractl deployment %s --watch\n", id);
    conn_close(&c);
    return rc;
}

/* ---- deployments, deployment ------------------------------------------ */

int ctl_cmd_deployments(const struct ctl_opts *o, int argc, char **argv)
{
    if (argc > 1)
        return usage("deployments", "unexpected argument", argv[1]);
    struct conn c;
    if (conn_open(&c, o) != 0)
        return CTL_UNREACHABLE;
    conn_prefer_leader(&c);
    struct ctl_reply r;
    int rc = ctl_get(c.using, "/deployments", &r);
    if (rc != 0 && c.using != c.first) { /* the leader went away: ask --addr */
        ctl_reply_free(&r);
        c.using = c.first;
        rc = ctl_get(c.using, "/deployments", &r);
    }
    rc = ctl_check_reply(o, rc, &r);
    if (rc == CTL_OK && !json_is_array(json_object_get(r.json, "deployments"))) {
        fprintf(stderr, "chimeractl: node at %s sent an answer without \"deployments\"\n",
                conn_addr(&c));
        rc = CTL_UNREACHABLE;
    }
    if (rc == CTL_OK && o->json)
        json_dumpf(r.json, stdout, JSON_INDENT(2)), putchar('\n');
    else if (rc == CTL_OK)
        ctl_print_deployments(r.json);
    ctl_reply_free(&r);
    conn_close(&c);
    return rc;
}

/* An id goes into a URL path: letters, digits and "._-" only. */
static bool valid_id(const char *id)
{
    if (!*id || strlen(id) > 100)
        return false;
    for (const char *p = id; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '.' || *p == '_' || *p == '-'))
            return false;
    return true;
}

static int exit_of_watch(enum watch_end end, const char *id, const json_t *d)
{
    switch (end) {
    case W_STABLE:
    case W_REVERTED:
    case W_SUPERSEDED: /* it was stable until a later release replaced it */
        return CTL_OK;
    case W_INTERRUPTED:
        say_interrupted(id);
        return CTL_UNREACHABLE;
    case W_TIMEOUT:
        fprintf(stderr, "chimeractl: timed out waiting for deployment %s (stage %s)\n", id,
                get_str(d, "stage", "unknown"));
        return CTL_UNREACHABLE;
    case W_FAILED:
        break;
    }
    fprintf(stderr, "chimeractl: deployment %s %s: %s\n", id, get_str(d, "stage", "failed"),
            get_str(d, "reason", "no reason given"));
    return CTL_UNREACHABLE;
}

int ctl_cmd_deployment(const struct ctl_opts *o, int argc, char **argv)
{
    const char *id = NULL, *val;
    bool watching = false;
    uint32_t timeout_ms = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--watch") == 0 || strcmp(argv[i], "-w") == 0)
            watching = true;
        else if (option_value(argc, argv, &i, "--timeout", &val)) {
            if (parse_timeout("deployment", val, &timeout_ms) != 0)
                return CTL_USAGE;
        } else if (argv[i][0] != '-' && !id)
            id = argv[i];
        else
            return usage("deployment", argv[i][0] == '-' ? "unknown option" : "unexpected argument",
                         argv[i]);
    }
    if (!id)
        return usage("deployment", "needs a deployment ID (see chimeractl deployments)", NULL);
    if (!valid_id(id))
        return usage("deployment", "not a deployment id", id);
    struct conn c;
    if (conn_open(&c, o) != 0)
        return CTL_UNREACHABLE;
    conn_prefer_leader(&c);
    char path[256];
    snprintf(path, sizeof path, "/deployments/%s", id);
    struct ctl_reply r;
    int rc = ctl_get(c.using, path, &r);
    if (rc != 0 && c.using != c.first) { /* the leader went away: ask --addr */
        ctl_reply_free(&r);
        c.using = c.first;
        rc = ctl_get(c.using, path, &r);
    }
    if (rc == 0 && r.status == 404) {
        fprintf(stderr, "chimeractl: deployment: no deployment %s on the node at %s\n", id,
                conn_addr(&c));
        rc = CTL_SERVER;
    } else {
        rc = ctl_check_reply(o, rc, &r);
    }
    if (rc == CTL_OK && !json_is_object(r.json)) {
        fprintf(stderr, "chimeractl: node at %s sent a deployment that is not an object\n",
                o->addr);
        rc = CTL_UNREACHABLE;
    }
    if (rc == CTL_OK && !watching) {
        if (o->json)
            json_dumpf(r.json, stdout, JSON_INDENT(2)), putchar('\n');
        else
            ctl_print_deployment(r.json);
    } else if (rc == CTL_OK) {
        if (!o->json) {
            ctl_print_deployment(r.json);
            printf("\nwatching until it ends (Ctrl-C stops watching, not the deployment):\n");
        }
        fflush(stdout);
        catch_signals();
        json_t *final = NULL;
        enum watch_end end = watch(&c, id, timeout_ms ? mono_ms() + timeout_ms : 0, false, &final);
        if (end != W_INTERRUPTED)
            print_final(o, final);
        rc = exit_of_watch(end, id, final);
        json_decref(final);
    }
    ctl_reply_free(&r);
    conn_close(&c);
    return rc;
}

/* ---- rollback --------------------------------------------------------- */

int ctl_cmd_rollback(const struct ctl_opts *o, int argc, char **argv)
{
    const char *to = NULL, *val;
    bool wait = false;
    uint32_t timeout_ms = DEFAULT_WAIT_MS;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--wait") == 0)
            wait = true;
        else if (option_value(argc, argv, &i, "--to", &val)) {
            if (!val || !*val)
                return usage("rollback", "--to needs a VERSION", NULL);
            to = val;
        } else if (option_value(argc, argv, &i, "--timeout", &val)) {
            if (parse_timeout("rollback", val, &timeout_ms) != 0)
                return CTL_USAGE;
        } else
            return usage("rollback", "unexpected argument", argv[i]);
    }
    json_t *body = to ? json_pack("{s:s}", "to", to) : json_object();
    char *payload = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    char *token = payload ? read_token(o, "rollback") : NULL;
    struct conn c;
    if (!token || conn_open(&c, o) != 0) {
        if (!payload)
            fprintf(stderr, "chimeractl: rollback: out of memory\n");
        free(payload);
        free_token(token);
        return payload && !token ? CTL_USAGE : CTL_UNREACHABLE;
    }
    catch_signals();
    int64_t deadline = mono_ms() + timeout_ms;
    struct ctl_reply r;
    int rc = conn_post(&c, "/rollback", payload, token, &r);
    free(payload);
    free_token(token);
    const char *err = get_str(r.json, "error", NULL);
    char id[128] = "";
    id_of(r.json, id, sizeof id);
    if (rc != 0) {
        fprintf(stderr, "chimeractl: rollback: cannot reach node at %s: %s\n", conn_addr(&c),
                r.error);
        rc = CTL_UNREACHABLE;
    } else if (r.status == 409 || r.status == 404) {
        fprintf(stderr, "chimeractl: rollback: refused: %s\n",
                err               ? err
                : r.status == 404 ? "no such stable release"
                                  : "conflict");
        rc = CTL_USAGE;
    } else if (r.status != 202 || !*id) {
        if (err)
            fprintf(stderr, "chimeractl: rollback: %s (HTTP %ld)\n", err, r.status);
        else
            fprintf(stderr,
                    "chimeractl: rollback: unexpected answer from the node at %s (HTTP %ld)\n",
                    conn_addr(&c), r.status);
        rc = CTL_UNREACHABLE;
    } else {
        const json_t *rel = json_object_get(r.json, "release");
        if (o->json) {
            json_dumpf(r.json, stdout, wait ? JSON_COMPACT : JSON_INDENT(2));
            putchar('\n');
        } else {
            char target[128] = "";
            const json_t *t = json_object_get(r.json, "target");
            if (json_is_string(t))
                snprintf(target, sizeof target, " (deployment %s)", json_string_value(t));
            else if (json_is_integer(t))
                snprintf(target, sizeof target, " (deployment %" JSON_INTEGER_FORMAT ")",
                         json_integer_value(t));
            printf("rollback %s started: back to %s %s%s\n", id, get_str(rel, "name", "-"),
                   get_str(rel, "version", "-"), target);
            if (get_str(r.json, "reason", NULL))
                printf("reason: %s\n", get_str(r.json, "reason", ""));
        }
        rc = CTL_OK;
    }
    ctl_reply_free(&r);
    fflush(stdout);
    if (rc == CTL_OK && wait) {
        json_t *final = NULL;
        enum watch_end end = watch(&c, id, deadline, false, &final);
        if (end != W_INTERRUPTED)
            print_final(o, final);
        if ((end == W_REVERTED || end == W_STABLE || end == W_SUPERSEDED) && !o->json)
            printf("rollback %s done: every node runs the release it went back to\n", id);
        rc = exit_of_watch(end, id, final);
        json_decref(final);
    }
    conn_close(&c);
    return rc;
}
