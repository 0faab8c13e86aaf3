/* chimeractl's deployment commands: watching a deployment until it ends,
 * printing each change, and deploy --wait, which follows a failed
 * deployment to the rollback that reverts it. */
#include <stdio.h>
#include <string.h>

#include "ctl/deploy_int.h"

#define POLL_MS 250
#define NAMES_EVERY 8  /* polls at least between fetches of the list naming versions */
#define LEADER_EVERY 8 /* polls between asks of who leads now */
/* A failed deployment with auto_revert: how long to wait for the leader to
 * start the rollback before concluding there is none. */
#define ROLLBACK_APPEAR_MS 10000

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
    return strcmp(ctl_json_str(d, "stage", ""), stage) == 0;
}

/* A node that `last` saw reported and `d` calls "unknown": what a node that
 * does not lead answers about the others (only the leader hears their
 * reports), so leadership has likely moved. */
static bool lost_sight(const json_t *last, const json_t *d)
{
    const json_t *now = json_object_get(d, "nodes"), *was = json_object_get(last, "nodes"), *n, *m;
    size_t i, j;
    json_array_foreach(now, i, n)
    {
        if (strcmp(ctl_json_str(n, "health", ""), "unknown") != 0)
            continue;
        json_array_foreach(was, j, m)
        {
            if (strcmp(ctl_json_str(m, "node", ""), ctl_json_str(n, "node", "?")) == 0 &&
                strcmp(ctl_json_str(m, "health", "unknown"), "unknown") != 0)
                return true;
        }
    }
    return false;
}

/* Polls GET /deployments/ID every POLL_MS, printing each change, until a
 * terminal stage; "rolling_back" is one when rolling_back_ends. deadline is
 * monotonic ms (0: none). *final is the last object seen (the caller frees
 * it; NULL if none). */
static enum watch_end watch(struct ctl_conn *c, const char *id, int64_t deadline,
                            bool rolling_back_ends, json_t **final)
{
    char path[256];
    snprintf(path, sizeof path, "/deployments/%s", id);
    json_t *last = NULL, *names = NULL;
    unsigned since_names = NAMES_EVERY - 1; /* the first poll asks */
    unsigned since_leader = 0;
    enum watch_end end = W_TIMEOUT;
    for (;;) {
        long status;
        bool was_down = c->down;
        json_t *d = ctl_conn_poll(c, path, &status);
        if (ctl_interrupted) {
            json_decref(d);
            end = W_INTERRUPTED;
            break;
        }
        /* Only the leader hears every node's reports, and the leader may
         * have changed since the last look (asked after a lost contact, a
         * node lost sight of, and every LEADER_EVERY polls): what another
         * node answered is dropped, and the leader is asked at the next
         * poll. */
        if (d && (was_down || ++since_leader >= LEADER_EVERY || lost_sight(last, d))) {
            since_leader = 0;
            if (ctl_conn_follow_leader(c)) {
                json_decref(d);
                d = NULL;
            }
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
            ctl_conn_mark_members(c, d);
            ctl_print_progress(&last, d, names, c->o->json);
            json_decref(d);
            const char *s = ctl_json_str(last, "stage", "");
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
        if (deadline && ctl_mono_ms() >= deadline)
            break;
        ctl_sleep_ms(deadline && deadline - ctl_mono_ms() < POLL_MS
                         ? (long)(deadline - ctl_mono_ms())
                         : POLL_MS);
        if (ctl_interrupted) {
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
static json_t *find_rollback(struct ctl_conn *c, const json_t *ours, bool *no_stable)
{
    long status;
    json_t *list = ctl_conn_poll(c, "/deployments", &status);
    *no_stable = false;
    if (!list)
        return NULL;
    char mine[128], other[128];
    ctl_deploy_id(ours, mine, sizeof mine);
    json_int_t started = json_integer_value(json_object_get(ours, "started_ms"));
    const json_t *deps = json_object_get(list, "deployments"), *d;
    json_t *found = NULL;
    size_t i;
    json_array_foreach(deps, i, d)
    {
        ctl_deploy_id(d, other, sizeof other);
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
        json_dumpf(d, stdout, JSON_COMPACT | CTL_JSON_REAL);
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
 * the deadline (9), or anything else (1). */
int ctl_wait_deploy(struct ctl_conn *c, const char *id, int64_t deadline, bool auto_revert)
{
    json_t *ours = NULL, *rb = NULL, *rb_final = NULL;
    int rc = CTL_DEPLOY_ERROR;
    enum watch_end end = watch(c, id, deadline, true, &ours);
    if (end == W_STABLE || end == W_SUPERSEDED) {
        /* Superseded: it was stable, and a later release replaced it. */
        if (!c->o->json)
            printf("deployment %s is stable%s: %s %s\n", id,
                   end == W_SUPERSEDED ? " (and already superseded by a later one)" : "",
                   ctl_json_str(json_object_get(ours, "release"), "name", "-"),
                   ctl_json_str(json_object_get(ours, "release"), "version", "-"));
        rc = CTL_DEPLOY_STABLE;
        goto out;
    }
    if (end == W_TIMEOUT || end == W_INTERRUPTED) {
        if (end == W_TIMEOUT) {
            fprintf(stderr, "chimeractl: deploy: timed out waiting for deployment %s (stage %s)\n",
                    id, ctl_json_str(ours, "stage", "unknown"));
            rc = ctl_exit_code(CTL_FAM_DEPLOY, CTL_O_TIMEOUT);
        } else {
            say_interrupted(id);
        }
        goto out;
    }
    /* Failed (or already rolling back): find the rollback the leader
     * started. A failed deployment without auto_revert, or with no stable
     * release to go back to, has none. */
    fprintf(stderr, "chimeractl: deploy: deployment %s failed: %s\n", id,
            ctl_json_str(ours, "reason", "no reason given"));
    bool certain = !stage_is(ours, "failed"); /* rolling_back, reverted */
    int64_t appear_by = ctl_mono_ms() + ROLLBACK_APPEAR_MS;
    for (;;) {
        bool no_stable;
        rb = find_rollback(c, ours, &no_stable);
        if (rb || ctl_interrupted)
            break;
        if (!certain && (!auto_revert || no_stable || ctl_mono_ms() >= appear_by)) {
            fprintf(stderr, "chimeractl: deploy: no rollback: %s\n",
                    !auto_revert ? "the release has auto_revert off"
                    : no_stable  ? "there is no stable release to go back to"
                                 : "the leader started none");
            goto out;
        }
        if (deadline && ctl_mono_ms() >= deadline) {
            fprintf(stderr, "chimeractl: deploy: timed out waiting for the rollback of %s\n", id);
            rc = ctl_exit_code(CTL_FAM_DEPLOY, CTL_O_TIMEOUT);
            goto out;
        }
        ctl_sleep_ms(POLL_MS);
    }
    if (!rb) {
        say_interrupted(id);
        goto out;
    }
    char rbid[128];
    ctl_deploy_id(rb, rbid, sizeof rbid);
    const json_t *to = json_object_get(rb, "release");
    fprintf(stderr, "chimeractl: deploy: rolling back to %s %s (deployment %s)\n",
            ctl_json_str(to, "name", "-"), ctl_json_str(to, "version", "-"), rbid);
    end = watch(c, rbid, deadline, false, &rb_final);
    if (end == W_REVERTED || end == W_STABLE || end == W_SUPERSEDED) {
        if (!c->o->json)
            printf("deployment %s failed and was reverted to %s %s by deployment %s\n", id,
                   ctl_json_str(to, "name", "-"), ctl_json_str(to, "version", "-"), rbid);
        rc = ctl_exit_code(CTL_FAM_DEPLOY, CTL_O_REVERTED);
    } else if (end == W_TIMEOUT) {
        fprintf(stderr, "chimeractl: deploy: timed out waiting for rollback %s (stage %s)\n", rbid,
                ctl_json_str(rb_final, "stage", "unknown"));
        rc = ctl_exit_code(CTL_FAM_DEPLOY, CTL_O_TIMEOUT);
    } else if (end == W_INTERRUPTED) {
        say_interrupted(rbid);
    } else {
        fprintf(stderr, "chimeractl: deploy: rollback %s %s: %s\n", rbid,
                ctl_json_str(rb_final, "stage", "failed"),
                ctl_json_str(rb_final, "reason", "no reason given"));
    }
    if (end != W_INTERRUPTED) {
        /* Ours, as it ends up. */
        long status;
        char path[256];
        snprintf(path, sizeof path, "/deployments/%s", id);
        json_t *now = ctl_conn_poll(c, path, &status);
        if (now) {
            json_decref(ours);
            ours = now;
        }
    }
out:
    if (!ctl_interrupted)
        print_final(c->o, ours);
    json_decref(ours);
    json_decref(rb);
    json_decref(rb_final);
    return rc;
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
        return ctl_exit_code(CTL_FAM_COMMON, CTL_O_FAILED);
    case W_TIMEOUT:
        fprintf(stderr, "chimeractl: timed out waiting for deployment %s (stage %s)\n", id,
                ctl_json_str(d, "stage", "unknown"));
        return ctl_exit_code(CTL_FAM_COMMON, CTL_O_TIMEOUT);
    case W_FAILED:
        break;
    }
    fprintf(stderr, "chimeractl: deployment %s %s: %s\n", id, ctl_json_str(d, "stage", "failed"),
            ctl_json_str(d, "reason", "no reason given"));
    return ctl_exit_code(CTL_FAM_COMMON, CTL_O_FAILED);
}

int ctl_watch_until_end(struct ctl_conn *c, const char *id, int64_t deadline, bool rollback)
{
    json_t *final = NULL;
    enum watch_end end = watch(c, id, deadline, false, &final);
    if (end != W_INTERRUPTED)
        print_final(c->o, final);
    if (rollback && (end == W_REVERTED || end == W_STABLE || end == W_SUPERSEDED) && !c->o->json) {
        const json_t *skipped = json_object_get(final, "skipped"), *s;
        size_t i;
        if (json_array_size(skipped) == 0) {
            printf("rollback %s done: every node runs the release it went back to\n", id);
        } else {
            printf("rollback %s done: every member that is up runs the release it went back to "
                   "(passed over as down:",
                   id);
            json_array_foreach(skipped, i, s) printf(" %s", json_string_value(s));
            printf("; they apply it when they come back)\n");
        }
    }
    int rc = exit_of_watch(end, id, final);
    json_decref(final);
    return rc;
}
