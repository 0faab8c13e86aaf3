/* chimeractl drill run: the result in the ledger (drill_run_int.h): a
 * drill record (POST /drills), or a note for a node without it, and the
 * wait for a checkpoint's witness quorum to notarize it. */
#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl/deploy_int.h"
#include "ctl/drill_run_int.h"

/* Who ran the drill, for the record: user@host, cut to an id's length.
 * USER is often unset (cron, systemd services, docker exec): then the
 * user database names the user, rather than the record naming a host. */
static void runner_name(char *out, size_t cap)
{
    const char *user = getenv("USER");
    if (!user || !*user) {
        const struct passwd *pw = getpwuid(geteuid());
        user = pw ? pw->pw_name : NULL;
    }
    char host[256] = "";
    if (gethostname(host, sizeof host - 1) != 0)
        host[0] = '\0';
    snprintf(out, cap, "%s%s%s", user ? user : "", user && *host ? "@" : "", host);
    for (char *p = out; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
}

/* The result as an operator note (drill_note), for a node without POST
 * /drills. */
static bool record_note(struct drun *x, const uint8_t digest[DRILL_DIGEST_BYTES], json_int_t *index)
{
    char text[DRILL_NOTE_MAX];
    drill_note(&x->f.d, &x->r, digest, text, sizeof text);
    json_t *body = json_pack("{s:[s]}", "notes", text);
    char *payload = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!payload)
        return false;
    struct ctl_reply r;
    int rc = drun_post_once(x, "/ledger/notes", payload, &r);
    free(payload);
    bool ok = rc == 0 && r.status >= 200 && r.status < 300 &&
              json_is_integer(json_object_get(r.json, "first_index"));
    if (ok)
        *index = json_integer_value(json_object_get(r.json, "first_index"));
    ctl_reply_free(&r);
    return ok;
}

/* The result as a drill record (POST /drills), or a note when the node
 * answers 404 (an older node). */
void drun_record(struct drun *x, const uint8_t digest[DRILL_DIGEST_BYTES], struct recorded *out)
{
    struct drill_record rec;
    char by[DRILL_ID_MAX];
    runner_name(by, sizeof by);
    drill_record_from_run(&x->f.d, &x->r, digest, by, &rec);
    json_t *body = drill_record_json(&rec);
    char *payload = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!payload)
        return;
    struct ctl_reply r;
    int rc = drun_post_once(x, "/drills", payload, &r);
    free(payload);
    out->as_note = rc == 0 && r.status == 404;
    out->ok = rc == 0 && r.status == 201 && json_is_integer(json_object_get(r.json, "index"));
    if (out->ok)
        out->index = json_integer_value(json_object_get(r.json, "index"));
    else if (!out->as_note)
        fprintf(stderr, "chimeractl: drill run: the result was not recorded: %s\n",
                rc != 0 ? r.error : ctl_json_str(r.json, "error", "error status"));
    ctl_reply_free(&r);
    if (out->as_note)
        out->ok = record_note(x, digest, &out->index);
}

/* Waits (at most NOTARY_WAIT_MS) for a checkpoint at or after the record
 * to be notarized: the leader checkpoints at most once per heartbeat (50
 * ms by default) while commits go on and asks again for missing
 * cosignatures every four, so a few heartbeats are enough. */
#define NOTARY_WAIT_MS 5000
void drun_await_notarization(struct drun *x, struct recorded *rec)
{
    char path[96];
    snprintf(path, sizeof path, "/drills?from=%" JSON_INTEGER_FORMAT "&limit=1", rec->index);
    int64_t until = ctl_mono_ms() + NOTARY_WAIT_MS;
    drun_progress(x,
                  "recorded in the ledger at index %" JSON_INTEGER_FORMAT
                  "; waiting for a checkpoint's witness quorum to notarize it",
                  rec->index);
    while (!ctl_interrupted) {
        struct ctl_reply r;
        if (ctl_conn_get(&x->conn, path, &r) == 0 && r.status == 200) {
            json_t *d = json_array_get(json_object_get(r.json, "drills"), 0);
            json_t *n = json_object_get(d, "notarization");
            if (json_integer_value(json_object_get(d, "index")) == rec->index && json_is_object(n))
                rec->notarization = json_incref(n);
        }
        ctl_reply_free(&r);
        if (rec->notarization || ctl_mono_ms() >= until)
            return;
        ctl_sleep_ms(200);
    }
}

void drun_print_recorded(const struct recorded *rec)
{
    if (!rec->ok) {
        printf("Not recorded in the ledger (the node refused it)\n");
        return;
    }
    if (rec->as_note) {
        printf("Recorded in the ledger at index %" JSON_INTEGER_FORMAT
               " as a note (this node has no POST /drills); the first checkpoint at or after it "
               "notarizes it (chimeractl ledger show %" JSON_INTEGER_FORMAT ")\n",
               rec->index, rec->index);
        return;
    }
    printf("Recorded in the ledger at index %" JSON_INTEGER_FORMAT "\n", rec->index);
    if (!rec->notarization) {
        printf("Not notarized yet: no checkpoint covering index %" JSON_INTEGER_FORMAT
               " has a quorum of witness signatures so far; check later with chimeractl drill "
               "history\n",
               rec->index);
        return;
    }
    char signers[512] = "";
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(rec->notarization, "signers"), i, s)
    {
        size_t n = strlen(signers);
        snprintf(signers + n, sizeof signers - n, "%s%s", i ? ", " : "", json_string_value(s));
    }
    printf("Notarized by checkpoint %" JSON_INTEGER_FORMAT " (signed by %s)\n",
           json_integer_value(json_object_get(rec->notarization, "checkpoint")), signers);
}
