/* chimeractl deploy | deployments | deployment | rollback: releases through
 * the leader's pipeline (POST /deployments, GET /deployments[/ID], POST
 * /rollback). Printing is deploy_view.c's.
 *
 * Mutations carry the admin token. A follower answers them with 307 and the
 * leader's address; curl would not re-send the Authorization header to
 * another host or port, so the redirect is followed here, with the token and
 * the exact same body, at most MAX_REDIRECTS times (deploy_conn.c). After a redirect the
 * leader is polled; the node behind --addr is the fallback when the leader
 * stops answering (a leader change during a rollout).
 *
 * deploy's exit codes (enum ctl_deploy_exit): 0 stable (or submitted when
 * not waiting), 1 error, 2 rejected before deploying, 3 failed and
 * reverted.
 *
 * The commands are here; the connection (and the redirect) is
 * deploy_conn.c's, the waiting deploy_watch.c's. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/deploy_int.h"
#include "pipeline/core/manifest.h"

#define DEFAULT_WAIT_MS (10u * 60u * 1000u)

static int usage(const char *cmd, const char *what, const char *arg)
{
    fprintf(stderr, "chimeractl: %s: %s%s%s%s (see chimeractl %s --help)\n", cmd, what,
            arg ? " '" : "", arg ? arg : "", arg ? "'" : "", cmd);
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

/* ---- deploy ----------------------------------------------------------- */

/* The answer to POST /deployments: its exit code, after printing. */
static int deploy_answer(const struct ctl_conn *c, const char *file, bool dry_run, bool wait,
                         const struct ctl_reply *r)
{
    const struct ctl_opts *o = c->o;
    const char *err = ctl_json_str(r->json, "error", NULL);
    bool certified =
        json_is_true(json_object_get(json_object_get(r->json, "certification"), "certified"));
    switch (r->status) {
    case 200:
    case 202:
        if (!json_is_object(r->json))
            break;
        if (o->json) {
            /* With --wait, the first line of a stream of JSON lines. */
            json_dumpf(r->json, stdout,
                       (wait && !dry_run ? JSON_COMPACT : JSON_INDENT(2)) | CTL_JSON_REAL);
            putchar('\n');
        } else {
            ctl_print_plan(r->json);
        }
        if (dry_run || json_is_true(json_object_get(r->json, "dry_run"))) {
            /* The node's dry run stops before healing (it changes nothing):
             * its verdict is on the release as the nodes are now. The real
             * deploy heals first, so that is the prediction. */
            bool healed = ctl_plan_certified_after_healing(r->json);
            if (!o->json)
                printf("dry run: %s; nothing deployed\n",
                       certified ? "the release would be certified"
                       : healed  ? "the release would be certified once the healing listed has "
                                   "run (if it works)"
                                 : "the release would be REJECTED");
            return certified || healed ? CTL_DEPLOY_STABLE : CTL_DEPLOY_REJECTED;
        }
        if (!ctl_json_str(r->json, "id", NULL) && !json_is_integer(json_object_get(r->json, "id")))
            break;
        return CTL_OK;
    case 400:
        fprintf(stderr, "chimeractl: deploy: %s: manifest refused by the node at %s: %s: %s\n",
                file, ctl_conn_addr(c), ctl_json_str(r->json, "path", "(document)"),
                err ? err : "invalid");
        if (o->json && r->json)
            json_dumpf(r->json, stdout, JSON_INDENT(2) | CTL_JSON_REAL), putchar('\n');
        return CTL_DEPLOY_REJECTED;
    case 422:
        if (o->json && r->json) {
            json_dumpf(r->json, stdout, JSON_INDENT(2) | CTL_JSON_REAL);
            putchar('\n');
        } else if (r->json) {
            ctl_print_plan(r->json);
        }
        /* The node's error says it already ("the release is not
         * certified; nothing was deployed"). */
        fprintf(stderr, "chimeractl: deploy: %s\n",
                err ? err : "release not certified: certification failed");
        return CTL_DEPLOY_REJECTED;
    case 409:
        /* A dry run's 409 carries the plan: show it, then the refusal the
         * real deploy would meet. */
        if (json_is_true(json_object_get(r->json, "dry_run"))) {
            if (o->json) {
                json_dumpf(r->json, stdout, JSON_INDENT(2) | CTL_JSON_REAL);
                putchar('\n');
            } else {
                ctl_print_plan(r->json);
                printf("dry run: the release would be REFUSED: %s; nothing deployed\n",
                       err ? err : "conflict (HTTP 409)");
            }
            return CTL_DEPLOY_REJECTED;
        }
        fprintf(stderr, "chimeractl: deploy: refused: %s\n", err ? err : "conflict (HTTP 409)");
        return CTL_DEPLOY_REJECTED;
    default:
        break;
    }
    if (err)
        fprintf(stderr, "chimeractl: deploy: %s (HTTP %ld from %s)\n", err, r->status,
                ctl_conn_addr(c));
    else
        fprintf(stderr, "chimeractl: deploy: unexpected answer from the node at %s (HTTP %ld)\n",
                ctl_conn_addr(c), r->status);
    enum ctl_outcome oc = ctl_outcome_of_status(r->status);
    return ctl_exit_code(CTL_FAM_DEPLOY, oc == CTL_O_OK ? CTL_O_FAILED : oc);
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
            return ctl_bad_argument("deploy", a);
    }
    if (!file)
        return usage("deploy", "needs a manifest FILE (or - for stdin)", NULL);

    size_t len, size;
    char why[1024];
    char *doc = ctl_file_read(file, MANIFEST_MAX_BYTES, &len, &size, why, sizeof why);
    /* Messages name where the manifest came from; "-: invalid manifest"
     * reads like a typo. */
    const char *from = strcmp(file, "-") == 0 ? "(stdin)" : file;
    if (!doc) {
        fprintf(stderr, "chimeractl: deploy: %s\n", why);
        return CTL_DEPLOY_ERROR;
    }
    if (size > MANIFEST_MAX_BYTES) {
        fprintf(stderr,
                "chimeractl: deploy: %s: invalid manifest: it is %zu bytes; a node takes at most "
                "%u (256 KiB)\n",
                from, size, MANIFEST_MAX_BYTES);
        free(doc);
        return CTL_DEPLOY_REJECTED;
    }
    /* The node checks it too; checking here fails fast, with the path. */
    struct manifest *m = calloc(1, sizeof *m);
    struct manifest_error merr;
    if (!m || manifest_parse(doc, len, m, &merr) != 0 || strlen(doc) != len) {
        if (!m)
            fprintf(stderr, "chimeractl: deploy: out of memory\n");
        else if (strlen(doc) != len)
            fprintf(stderr, "chimeractl: deploy: %s: invalid manifest: a NUL byte in the JSON\n",
                    from);
        else
            fprintf(stderr, "chimeractl: deploy: %s: invalid manifest at %s: %s\n", from,
                    merr.path[0] ? merr.path : "(document)", merr.message);
        free(m);
        free(doc);
        return m ? CTL_DEPLOY_REJECTED : CTL_DEPLOY_ERROR;
    }
    bool auto_revert = m->rollout.auto_revert;
    manifest_free(m);
    free(m);

    const char *token = ctl_token_for(o, "deploy");
    struct ctl_conn c;
    if (!token || ctl_conn_open(&c, o) != 0) {
        free(doc);
        return token ? CTL_DEPLOY_ERROR : CTL_DEPLOY_REJECTED;
    }
    ctl_catch_signals();
    int64_t deadline = ctl_mono_ms() + timeout_ms;
    struct ctl_reply r;
    int rc = ctl_conn_post(&c, dry_run ? "/deployments?dry_run=1" : "/deployments", doc, token, &r);
    free(doc);
    if (rc != 0) {
        ctl_say_failure("deploy", rc, &r);
        rc = ctl_exit_code(CTL_FAM_DEPLOY, ctl_outcome_of_reply(rc, &r));
    } else {
        rc = deploy_answer(&c, from, dry_run, wait, &r);
    }
    char id[128] = "";
    if (rc == CTL_OK && !dry_run) {
        ctl_deploy_id(r.json, id, sizeof id);
        if (!o->json)
            printf("deployment %s submitted: %s %s\n", id,
                   ctl_json_str(json_object_get(r.json, "release"), "name", "-"),
                   ctl_json_str(json_object_get(r.json, "release"), "version", "-"));
    }
    ctl_reply_free(&r);
    fflush(stdout);
    if (rc == CTL_OK && !dry_run && wait)
        rc = ctl_wait_deploy(&c, id, deadline, auto_revert);
    else if (rc == CTL_OK && !dry_run && !o->json)
        printf("follow it with: chimeractl deployment %s --watch\n", id);
    ctl_conn_close(&c);
    return rc;
}

/* ---- deployments, deployment ------------------------------------------ */

int ctl_cmd_deployments(const struct ctl_opts *o, int argc, char **argv)
{
    if (argc > 1)
        return ctl_bad_argument("deployments", argv[1]);
    struct ctl_conn c;
    if (ctl_conn_open(&c, o) != 0)
        return CTL_FAILED;
    ctl_conn_prefer_leader(&c);
    struct ctl_reply r;
    int rc = ctl_conn_get(&c, "/deployments", &r);
    rc = ctl_check_reply(rc, &r);
    if (rc == CTL_OK && !json_is_array(json_object_get(r.json, "deployments"))) {
        fprintf(stderr, "chimeractl: node at %s sent an answer without \"deployments\"\n",
                ctl_conn_addr(&c));
        rc = CTL_FAILED;
    }
    if (rc == CTL_OK && o->json)
        json_dumpf(r.json, stdout, JSON_INDENT(2) | CTL_JSON_REAL), putchar('\n');
    else if (rc == CTL_OK)
        ctl_print_deployments(r.json);
    ctl_reply_free(&r);
    ctl_conn_close(&c);
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
            return ctl_bad_argument("deployment", argv[i]);
    }
    if (!id)
        return usage("deployment", "needs a deployment ID; chimeractl deployments lists them",
                     NULL);
    if (!valid_id(id))
        return usage("deployment", "not a deployment id", id);
    struct ctl_conn c;
    if (ctl_conn_open(&c, o) != 0)
        return CTL_FAILED;
    ctl_conn_prefer_leader(&c);
    char path[256];
    snprintf(path, sizeof path, "/deployments/%s", id);
    struct ctl_reply r;
    int rc = ctl_conn_get(&c, path, &r);
    if (rc == 0 && r.status == 404) {
        fprintf(stderr, "chimeractl: deployment: no deployment %s on the node at %s\n", id,
                ctl_conn_addr(&c));
        rc = ctl_exit_code(CTL_FAM_COMMON, CTL_O_NOT_FOUND);
    } else {
        rc = ctl_check_reply(rc, &r);
    }
    if (rc == CTL_OK && !json_is_object(r.json)) {
        fprintf(stderr, "chimeractl: node at %s sent a deployment that is not an object\n",
                ctl_conn_addr(&c));
        rc = CTL_FAILED;
    }
    if (rc == CTL_OK)
        ctl_conn_mark_members(&c, r.json);
    if (rc == CTL_OK && !watching) {
        if (o->json)
            json_dumpf(r.json, stdout, JSON_INDENT(2) | CTL_JSON_REAL), putchar('\n');
        else
            ctl_print_deployment(r.json);
    } else if (rc == CTL_OK) {
        if (!o->json) {
            ctl_print_deployment(r.json);
            printf("\nwatching until it ends (Ctrl-C stops watching, not the deployment):\n");
        }
        fflush(stdout);
        ctl_catch_signals();
        rc = ctl_watch_until_end(&c, id, timeout_ms ? ctl_mono_ms() + timeout_ms : 0, false);
    }
    ctl_reply_free(&r);
    ctl_conn_close(&c);
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
            return ctl_bad_argument("rollback", argv[i]);
    }
    json_t *body = to ? json_pack("{s:s}", "to", to) : json_object();
    char *payload = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    const char *token = payload ? ctl_token_for(o, "rollback") : NULL;
    struct ctl_conn c;
    if (!token || ctl_conn_open(&c, o) != 0) {
        if (!payload)
            fprintf(stderr, "chimeractl: rollback: out of memory\n");
        free(payload);
        return payload && !token ? CTL_USAGE : CTL_FAILED;
    }
    ctl_catch_signals();
    int64_t deadline = ctl_mono_ms() + timeout_ms;
    struct ctl_reply r;
    int rc = ctl_conn_post(&c, "/rollback", payload, token, &r);
    free(payload);
    const char *err = ctl_json_str(r.json, "error", NULL);
    char id[128] = "";
    ctl_deploy_id(r.json, id, sizeof id);
    if (rc != 0) {
        ctl_say_failure("rollback", rc, &r);
        rc = ctl_exit_code(CTL_FAM_ROLLBACK, ctl_outcome_of_reply(rc, &r));
    } else if (r.status == 409 || r.status == 404) {
        fprintf(stderr, "chimeractl: rollback: refused: %s\n",
                err               ? err
                : r.status == 404 ? "no such stable release"
                                  : "conflict");
        rc = ctl_exit_code(CTL_FAM_ROLLBACK, ctl_outcome_of_status(r.status));
    } else if (r.status != 202 || !*id) {
        if (err)
            fprintf(stderr, "chimeractl: rollback: %s (HTTP %ld from %s)\n", err, r.status,
                    ctl_conn_addr(&c));
        else
            fprintf(stderr,
                    "chimeractl: rollback: unexpected answer from the node at %s (HTTP %ld)\n",
                    ctl_conn_addr(&c), r.status);
        enum ctl_outcome oc = ctl_outcome_of_status(r.status);
        rc = ctl_exit_code(CTL_FAM_ROLLBACK, oc == CTL_O_OK ? CTL_O_FAILED : oc);
    } else {
        const json_t *rel = json_object_get(r.json, "release");
        if (o->json) {
            json_dumpf(r.json, stdout, (wait ? JSON_COMPACT : JSON_INDENT(2)) | CTL_JSON_REAL);
            putchar('\n');
        } else {
            char target[128] = "";
            const json_t *t = json_object_get(r.json, "target");
            if (json_is_string(t))
                snprintf(target, sizeof target, " (deployment %s)", json_string_value(t));
            else if (json_is_integer(t))
                snprintf(target, sizeof target, " (deployment %" JSON_INTEGER_FORMAT ")",
                         json_integer_value(t));
            printf("rollback %s started: back to %s %s%s\n", id, ctl_json_str(rel, "name", "-"),
                   ctl_json_str(rel, "version", "-"), target);
            if (ctl_json_str(r.json, "reason", NULL))
                printf("reason: %s\n", ctl_json_str(r.json, "reason", ""));
        }
        rc = CTL_OK;
    }
    ctl_reply_free(&r);
    fflush(stdout);
    if (rc == CTL_OK && wait)
        rc = ctl_watch_until_end(&c, id, deadline, true);
    ctl_conn_close(&c);
    return rc;
}
