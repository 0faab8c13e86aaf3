/* A drill's result as a ledger record of its own (drill.h, "the result as
 * a ledger entry of its own"): built from a run, read from POST /drills's
 * JSON, packed as a chaos entry's payload and decoded from one. The JSON
 * readers and the msgpack decoder check the same rules, so that what the
 * API accepted is what every node decodes, and a hand-made entry that
 * breaks them is refused field by field. */
#include "chaos/drill.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "chaos/chaos_err.h"
#include "pipeline/core/manifest_int.h"
#include "wire/map.h"
#include "wire/prescan.h"

typedef struct manifest_error merr;
#define PATH_CAP MANIFEST_PATH_CAP

/* ---- the rules, shared by both readers ---- */

static int verdict_parse(const char *s, enum drill_verdict *v)
{
    for (int k = DRILL_HELD; k <= DRILL_COULD_NOT_RUN; k++)
        if (strcmp(s, drill_verdict_name((enum drill_verdict)k)) == 0) {
            *v = (enum drill_verdict)k;
            return 0;
        }
    return -1;
}

static bool is_digest(const char *s)
{
    return strlen(s) == 2 * DRILL_DIGEST_BYTES &&
           strspn(s, "0123456789abcdef") == 2 * DRILL_DIGEST_BYTES;
}

static bool is_kind(const char *s)
{
    size_t n = strlen(s);
    return n > 0 && n < DRILL_RECORD_KIND_MAX &&
           strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_") == n;
}

/* Text a person reads back: no control characters. */

#define VERDICTS "\"held\", \"deviated\" or \"could_not_run\""

/* ---- from a run ---- */

/* A drill file's text may hold what a record refuses (a tab in a title):
 * control characters become '?', so that the node takes the record. */
static void copy_text(char *out, size_t cap, const char *s)
{
    snprintf(out, cap, "%s", s ? s : "");
    for (char *p = out; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
}

void drill_record_from_run(const struct drill *d, const struct drill_run *r,
                           const uint8_t digest[DRILL_DIGEST_BYTES], const char *by,
                           struct drill_record *out)
{
    memset(out, 0, sizeof *out);
    copy_text(out->title, sizeof out->title, d->title);
    out->verdict = drill_verdict(d, r, NULL, 0);
    for (size_t i = 0; i < DRILL_DIGEST_BYTES; i++)
        snprintf(out->digest + 2 * i, 3, "%02x", digest[i]);
    out->started_ms = r->started_ms > 0 ? (uint64_t)r->started_ms : 0;
    out->ended_ms = r->ended_ms > r->started_ms ? (uint64_t)r->ended_ms : out->started_ms;
    copy_text(out->by, sizeof out->by, by);
    for (size_t i = 0; i < d->nmethod; i++) {
        const struct drill_action *a = &d->method[i];
        const struct drill_step_result *s = &r->method[i];
        if (!a->slo.set || s->status != DRILL_STEP_DONE)
            continue;
        struct drill_fault_result *f = &out->faults[out->nfaults++];
        copy_text(f->name, sizeof f->name, a->name);
        snprintf(f->kind, sizeof f->kind, "%s",
                 a->kind == DRILL_ACTION_FAULT ? drill_fault_name(a->fault)
                                               : drill_action_name(a->kind));
        copy_text(f->target, sizeof f->target, a->target);
        f->detected = s->detected;
        f->detect_ms = s->detect_ms;
        f->recovered = s->recovered;
        f->recover_ms = s->recover_ms;
        f->slo_ms = a->slo.recover_within_ms;
        f->met = s->recovered && s->recover_ms <= a->slo.recover_within_ms;
    }
}

/* ---- JSON ---- */

static json_t *ms_or_null(bool known, uint32_t ms)
{
    return known ? json_integer(ms) : json_null();
}

json_t *drill_record_json(const struct drill_record *rec)
{
    json_t *faults = json_array();
    for (size_t i = 0; faults && i < rec->nfaults; i++) {
        const struct drill_fault_result *f = &rec->faults[i];
        json_array_append_new(faults,
                              json_pack("{s:s,s:s,s:s,s:o,s:o,s:I,s:b}", "name", f->name, "kind",
                                        f->kind, "target", f->target, "time_to_detect_ms",
                                        ms_or_null(f->detected, f->detect_ms), "time_to_recover_ms",
                                        ms_or_null(f->recovered, f->recover_ms), "slo_ms",
                                        (json_int_t)f->slo_ms, "met", f->met));
    }
    return json_pack("{s:s,s:s,s:s,s:I,s:I,s:o,s:o}", "title", rec->title, "verdict",
                     drill_verdict_name(rec->verdict), "digest", rec->digest, "started_ms",
                     (json_int_t)rec->started_ms, "ended_ms", (json_int_t)rec->ended_ms, "by",
                     rec->by[0] ? json_string(rec->by) : json_null(), "faults", faults);
}

/* A string of at most cap - 1 bytes without control characters; "" when
 * absent and optional. */
static int json_text(const json_t *obj, const char *base, const char *key, size_t cap,
                     bool required, const char *what, char *out, merr *err)
{
    const char *s = NULL;
    char p[PATH_CAP];
    manifest_key_path(p, base, key);
    int r = manifest_get_str(obj, base, key, cap - 1, "a string", &s, err);
    if (r < 0)
        return -1;
    if (r == 0 || (required && !*s))
        return required ? manifest_fail(err, p, "missing: %s", what) : 0;
    if (!chaos_is_text(s, strlen(s)))
        return manifest_fail(err, p, "must hold no control characters");
    snprintf(out, cap, "%s", s);
    return 0;
}

/* A whole number of ms: given false when absent or null (if nullable). */
static int json_ms(const json_t *obj, const char *base, const char *key, uint64_t max,
                   bool nullable, uint64_t *out, bool *given, merr *err)
{
    char p[PATH_CAP];
    manifest_key_path(p, base, key);
    json_t *v = json_object_get(obj, key);
    *out = 0;
    if (given)
        *given = false;
    if (!v || (nullable && json_is_null(v))) {
        if (given)
            return 0;
        return manifest_fail(err, p, "missing: a whole number of milliseconds");
    }
    if (!json_is_integer(v) || json_integer_value(v) < 0 || (uint64_t)json_integer_value(v) > max)
        return manifest_fail(
            err, p, "must be a whole number of milliseconds from 0 to %" PRIu64 "%s, not %s", max,
            nullable ? " or null" : "", manifest_type_name(v));
    *out = (uint64_t)json_integer_value(v);
    if (given)
        *given = true;
    return 0;
}

static int json_fault(const json_t *jf, const char *base, struct drill_fault_result *f, merr *err)
{
    static const char *const keys[] = {
        "name", "kind", "target", "time_to_detect_ms", "time_to_recover_ms", "slo_ms", "met", NULL};
    char p[PATH_CAP];
    uint64_t v;
    if (!json_is_object(jf))
        return manifest_fail(err, base, "must be an object {\"kind\", \"target\", ...}, not %s",
                             manifest_type_name(jf));
    if (manifest_check_keys((json_t *)jf, base, keys, err) ||
        json_text(jf, base, "name", sizeof f->name, false, "", f->name, err) ||
        json_text(jf, base, "kind", sizeof f->kind, true, "the fault's kind, e.g. \"kill_node\"",
                  f->kind, err))
        return -1;
    if (!is_kind(f->kind)) {
        manifest_key_path(p, base, "kind");
        return manifest_fail(err, p, "must be 1-31 of [a-z0-9_], e.g. \"kill_node\"");
    }
    if (json_text(jf, base, "target", sizeof f->target, false, "", f->target, err) ||
        json_ms(jf, base, "time_to_detect_ms", UINT32_MAX, true, &v, &f->detected, err))
        return -1;
    f->detect_ms = (uint32_t)v;
    if (json_ms(jf, base, "time_to_recover_ms", UINT32_MAX, true, &v, &f->recovered, err))
        return -1;
    f->recover_ms = (uint32_t)v;
    if (json_ms(jf, base, "slo_ms", UINT32_MAX, false, &v, NULL, err))
        return -1;
    f->slo_ms = (uint32_t)v;
    json_t *met = json_object_get(jf, "met");
    manifest_key_path(p, base, "met");
    if (!json_is_boolean(met))
        return manifest_fail(err, p, "must be true or false, not %s",
                             met ? manifest_type_name(met) : "missing");
    f->met = json_is_true(met);
    return 0;
}

static int json_record(const json_t *body, struct drill_record *out, merr *err)
{
    static const char *const keys[] = {"title",    "verdict", "digest", "started_ms",
                                       "ended_ms", "by",      "faults", NULL};
    char verdict[16] = "";
    if (!json_is_object(body))
        return manifest_fail(err, "",
                             "a drill's record must be a JSON object with \"title\", \"verdict\", "
                             "\"digest\", \"started_ms\", \"ended_ms\" and \"faults\"");
    if (manifest_check_keys((json_t *)body, "", keys, err) ||
        json_text(body, "", "title", sizeof out->title, true, "the drill's title", out->title,
                  err) ||
        json_text(body, "", "verdict", sizeof verdict, true, VERDICTS, verdict, err))
        return -1;
    if (verdict_parse(verdict, &out->verdict) != 0)
        return manifest_fail(err, "verdict", "\"%s\" is not a verdict; expected " VERDICTS,
                             verdict);
    if (json_text(body, "", "digest", sizeof out->digest, true, "the journal's BLAKE2b-256 in hex",
                  out->digest, err))
        return -1;
    if (!is_digest(out->digest))
        return manifest_fail(err, "digest", "must be 64 lowercase hex digits (BLAKE2b-256)");
    if (json_ms(body, "", "started_ms", INT64_MAX, false, &out->started_ms, NULL, err) ||
        json_ms(body, "", "ended_ms", INT64_MAX, false, &out->ended_ms, NULL, err))
        return -1;
    if (out->ended_ms < out->started_ms)
        return manifest_fail(err, "ended_ms", "must not be before started_ms");
    if (json_text(body, "", "by", sizeof out->by, false, "", out->by, err))
        return -1;
    json_t *faults = manifest_field(body, "faults");
    if (!faults)
        return manifest_fail(err, "faults",
                             "missing: an array of the faults' results ([] for none)");
    if (!json_is_array(faults) || json_array_size(faults) > DRILL_MAX_ACTIONS)
        return manifest_fail(err, "faults", "must be an array of at most %d objects, not %s",
                             DRILL_MAX_ACTIONS,
                             json_is_array(faults) ? "a longer one" : manifest_type_name(faults));
    for (size_t i = 0; i < json_array_size(faults); i++) {
        char ip[PATH_CAP];
        manifest_index_path(ip, "faults", i);
        if (json_fault(json_array_get(faults, i), ip, &out->faults[i], err))
            return -1;
        out->nfaults++;
    }
    return 0;
}

int drill_record_from_json(const json_t *body, struct drill_record *out, struct drill_error *err)
{
    merr me;
    memset(out, 0, sizeof *out);
    memset(err, 0, sizeof *err);
    memset(&me, 0, sizeof me);
    int rc = json_record(body, out, &me);
    if (rc) {
        memset(out, 0, sizeof *out);
        snprintf(err->path, sizeof err->path, "%s", me.path);
        snprintf(err->message, sizeof err->message, "%s", me.message);
    }
    return rc;
}

/* ---- msgpack ---- */

/* A whole number, or nil when it is not known. */
static void kv_u64(msgpack_packer *pk, const char *k, bool known, uint64_t v)
{
    if (known)
        chaos_mp_kv_u64(pk, k, v);
    else {
        chaos_mp_key(pk, k);
        msgpack_pack_nil(pk);
    }
}

void drill_record_pack(const struct drill_record *rec, msgpack_packer *pk)
{
    msgpack_pack_map(pk, 7 + !!rec->by[0]);
    chaos_mp_kv_str(pk, "record", "drill");
    chaos_mp_kv_str(pk, "title", rec->title);
    chaos_mp_kv_str(pk, "verdict", drill_verdict_name(rec->verdict));
    chaos_mp_kv_str(pk, "digest", rec->digest);
    kv_u64(pk, "started_ms", true, rec->started_ms);
    kv_u64(pk, "ended_ms", true, rec->ended_ms);
    if (rec->by[0])
        chaos_mp_kv_str(pk, "by", rec->by);
    chaos_mp_key(pk, "faults");
    msgpack_pack_array(pk, (uint32_t)rec->nfaults);
    for (size_t i = 0; i < rec->nfaults; i++) {
        const struct drill_fault_result *f = &rec->faults[i];
        msgpack_pack_map(pk, 7);
        chaos_mp_kv_str(pk, "name", f->name);
        chaos_mp_kv_str(pk, "kind", f->kind);
        chaos_mp_kv_str(pk, "target", f->target);
        kv_u64(pk, "time_to_detect_ms", f->detected, f->detect_ms);
        kv_u64(pk, "time_to_recover_ms", f->recovered, f->recover_ms);
        kv_u64(pk, "slo_ms", true, f->slo_ms);
        chaos_mp_key(pk, "met");
        if (f->met)
            msgpack_pack_true(pk);
        else
            msgpack_pack_false(pk);
    }
}

/* A string field into out (cap bytes with the NUL): no NUL nor control
 * character inside. */
static int mp_str(const msgpack_object *map, const char *at, const char *key, bool optional,
                  char *out, size_t cap, char *err, size_t errlen)
{
    return chaos_mp_get_str(map, at, key, optional, true, out, cap, err, errlen);
}

/* A whole number at most max; nil (when nullable) leaves *known false. */
static int mp_u64(const msgpack_object *map, const char *at, const char *key, uint64_t max,
                  bool nullable, uint64_t *out, bool *known, char *err, size_t errlen)
{
    return chaos_mp_get_u64(map, at, key, false, max, out, nullable ? known : NULL, err, errlen);
}

static int mp_fault(const msgpack_object *o, size_t i, struct drill_fault_result *f, char *err,
                    size_t errlen)
{
    char at[32];
    uint64_t v;
    snprintf(at, sizeof at, "faults[%zu].", i);
    if (o->type != MSGPACK_OBJECT_MAP)
        return chaos_put(err, errlen, "faults[%zu]: must be a map", i);
    if (mp_str(o, at, "name", true, f->name, sizeof f->name, err, errlen) ||
        mp_str(o, at, "kind", false, f->kind, sizeof f->kind, err, errlen) ||
        mp_str(o, at, "target", true, f->target, sizeof f->target, err, errlen))
        return -1;
    if (!is_kind(f->kind))
        return chaos_put(err, errlen, "%skind: must be 1-31 of [a-z0-9_]", at);
    if (mp_u64(o, at, "time_to_detect_ms", UINT32_MAX, true, &v, &f->detected, err, errlen))
        return -1;
    f->detect_ms = (uint32_t)v;
    if (mp_u64(o, at, "time_to_recover_ms", UINT32_MAX, true, &v, &f->recovered, err, errlen))
        return -1;
    f->recover_ms = (uint32_t)v;
    if (mp_u64(o, at, "slo_ms", UINT32_MAX, false, &v, NULL, err, errlen))
        return -1;
    f->slo_ms = (uint32_t)v;
    const msgpack_object *met = wire_map_get(o, "met");
    if (!met || met->type != MSGPACK_OBJECT_BOOLEAN)
        return chaos_put(err, errlen, "%smet: must be true or false", at);
    f->met = met->via.boolean;
    return 0;
}

static int mp_record(const msgpack_object *o, struct drill_record *out, char *err, size_t errlen)
{
    char verdict[16];
    if (o->type != MSGPACK_OBJECT_MAP)
        return chaos_put(err, errlen, "payload: must be a map");
    const msgpack_object *rk = wire_map_get(o, "record");
    if (!rk || rk->type != MSGPACK_OBJECT_STR || rk->via.str.size != 5 ||
        memcmp(rk->via.str.ptr, "drill", 5) != 0)
        return 1; /* another chaos record: chaos_record_decode's */
    if (mp_str(o, "", "title", false, out->title, sizeof out->title, err, errlen) ||
        mp_str(o, "", "verdict", false, verdict, sizeof verdict, err, errlen) ||
        mp_str(o, "", "digest", false, out->digest, sizeof out->digest, err, errlen) ||
        mp_str(o, "", "by", true, out->by, sizeof out->by, err, errlen) ||
        mp_u64(o, "", "started_ms", INT64_MAX, false, &out->started_ms, NULL, err, errlen) ||
        mp_u64(o, "", "ended_ms", INT64_MAX, false, &out->ended_ms, NULL, err, errlen))
        return -1;
    if (!out->title[0])
        return chaos_put(err, errlen, "title: empty");
    if (verdict_parse(verdict, &out->verdict) != 0)
        return chaos_put(err, errlen, "verdict: \"%s\" is not a verdict", verdict);
    if (!is_digest(out->digest))
        return chaos_put(err, errlen, "digest: not 64 lowercase hex digits");
    if (out->ended_ms < out->started_ms)
        return chaos_put(err, errlen, "ended_ms: before started_ms");
    const msgpack_object *fs = wire_map_get(o, "faults");
    if (!fs || fs->type != MSGPACK_OBJECT_ARRAY || fs->via.array.size > DRILL_MAX_ACTIONS)
        return chaos_put(err, errlen, "faults: must be an array of at most %d maps",
                         DRILL_MAX_ACTIONS);
    for (uint32_t i = 0; i < fs->via.array.size; i++) {
        if (mp_fault(&fs->via.array.ptr[i], i, &out->faults[i], err, errlen))
            return -1;
        out->nfaults++;
    }
    return 0;
}

int drill_record_decode(const uint8_t *payload, size_t len, struct drill_record *out, char *err,
                        size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (err && errlen)
        err[0] = '\0';
    /* msgpack-c has no limits of its own: judge the lengths before it allocates. */
    if (!payload || wire_prescan(payload, len, DRILL_RECORD_MAX_DEPTH) != 0)
        return chaos_put(err, errlen,
                         "drill record: not one well-formed msgpack object of depth at most %d",
                         DRILL_RECORD_MAX_DEPTH);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    int rv = -1;
    char why[256] = "";
    if (msgpack_unpack_next(&u, (const char *)payload, len, &off) != MSGPACK_UNPACK_SUCCESS ||
        off != len)
        chaos_put(why, sizeof why, "does not unpack");
    else
        rv = mp_record(&u.data, out, why, sizeof why);
    msgpack_unpacked_destroy(&u);
    if (rv != 0)
        memset(out, 0, sizeof *out);
    if (rv < 0)
        chaos_put(err, errlen, "drill record: %s", why);
    return rv;
}
