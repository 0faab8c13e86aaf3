/* The chaos fault model (see fault.h). */
#include "chaos/fault.h"
#include "pipeline/core/manifest.h"
#include "wire/map.h"
#include "chaos/chaos_err.h"
#include "wire/prescan.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const kind_names[CHAOS_KIND_COUNT] = {
    [CHAOS_KILL_SERVICE] = "kill_service", [CHAOS_PAUSE_SERVICE] = "pause_service",
    [CHAOS_ISOLATE_NODE] = "isolate_node", [CHAOS_DELAY_MESSAGES] = "delay_messages",
    [CHAOS_KILL_NODE] = "kill_node",
};

static const char *const record_names[] = {
    [CHAOS_REC_FAULT] = "fault", [CHAOS_REC_HEALED] = "healed", [CHAOS_REC_REFUSED] = "refused",
    [CHAOS_REC_STOP] = "stop",   [CHAOS_REC_ENABLE] = "enable", [CHAOS_REC_OTHER] = "other",
};

int chaos_put(char *err, size_t len, const char *fmt, ...)
{
    if (err && len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, len, fmt, ap);
        va_end(ap);
        for (char *p = err; *p; p++)
            if ((unsigned char)*p < 0x20 || *p == 0x7f)
                *p = '?';
    }
    return -1;
}

const char *chaos_kind_name(enum chaos_kind k)
{
    return (unsigned)k < CHAOS_KIND_COUNT ? kind_names[k] : "?";
}

int chaos_kind_parse(const char *name, size_t n)
{
    for (int k = 0; k < CHAOS_KIND_COUNT; k++)
        if (strlen(kind_names[k]) == n && strncmp(kind_names[k], name, n) == 0)
            return k;
    return -1;
}

const char *chaos_origin_name(enum chaos_origin o)
{
    return o == CHAOS_ORIGIN_OPERATOR ? "operator" : "injector";
}

const char *chaos_record_name(enum chaos_record_kind k)
{
    return (unsigned)k <= CHAOS_REC_OTHER ? record_names[k] : "?";
}

bool chaos_kind_on_service(enum chaos_kind k)
{
    return k == CHAOS_KILL_SERVICE || k == CHAOS_PAUSE_SERVICE;
}

bool chaos_kind_is_kill(enum chaos_kind k)
{
    return k == CHAOS_KILL_SERVICE || k == CHAOS_KILL_NODE;
}

bool chaos_list_next(const char **p, const char **item, size_t *n)
{
    while (**p) {
        const char *s = *p, *e = s + strcspn(s, ",");
        *p = *e ? e + 1 : e;
        while (s < e && isspace((unsigned char)*s))
            s++;
        while (e > s && isspace((unsigned char)e[-1]))
            e--;
        if (s < e) {
            *item = s;
            *n = (size_t)(e - s);
            return true;
        }
    }
    return false;
}

int chaos_kinds_parse(const char *list, uint32_t *mask, char *err, size_t errlen)
{
    const char *p = list ? list : "", *s;
    size_t n;
    *mask = 0;
    while (chaos_list_next(&p, &s, &n)) {
        int k = chaos_kind_parse(s, n);
        if (k < 0)
            return chaos_put(err, errlen,
                             "\"%.*s\" is not a fault kind; use kill_service, pause_service, "
                             "isolate_node, delay_messages or kill_node",
                             (int)(n < 64 ? n : 64), s);
        *mask |= CHAOS_KIND_BIT(k);
    }
    if (!*mask)
        return chaos_put(err, errlen,
                         "names no fault kind; list at least one, e.g. kill_service,pause_service");
    return 0;
}

void chaos_kinds_format(uint32_t mask, char *out, size_t cap)
{
    size_t len = 0;
    if (cap)
        out[0] = '\0';
    for (int k = 0; k < CHAOS_KIND_COUNT; k++) {
        if (!(mask & CHAOS_KIND_BIT(k)))
            continue;
        int w = snprintf(out + len, cap - len, "%s%s", len ? "," : "", kind_names[k]);
        if (w < 0 || (size_t)w >= cap - len)
            return;
        len += (size_t)w;
    }
}

void chaos_fault_describe(const struct chaos_fault *f, char *out, size_t cap)
{
    char dur[48] = "", d[32];
    if (!chaos_kind_is_kill(f->kind))
        snprintf(dur, sizeof dur, " for %s", manifest_duration_text(f->duration_ms, d, sizeof d));
    switch (f->kind) {
    case CHAOS_KILL_SERVICE:
    case CHAOS_PAUSE_SERVICE:
        snprintf(out, cap, "%s service %s on %s%s",
                 f->kind == CHAOS_KILL_SERVICE ? "kill" : "pause", f->service, f->node, dur);
        break;
    case CHAOS_ISOLATE_NODE:
        snprintf(out, cap, "isolate %s from %s%s", f->node, f->peer[0] ? f->peer : "all peers",
                 dur);
        break;
    case CHAOS_DELAY_MESSAGES:
        snprintf(out, cap, "delay %s's messages by %s%s", f->node,
                 manifest_duration_text(f->delay_ms, d, sizeof d), dur);
        break;
    default:
        snprintf(out, cap, "kill node %s", f->node);
        break;
    }
}

bool chaos_valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= CHAOS_NAME_MAX || !isalnum((unsigned char)s[0]))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && !strchr("._-", s[i]))
            return false;
    return true;
}

int chaos_fault_check(const struct chaos_fault *f, char *err, size_t errlen)
{
    if ((unsigned)f->kind >= CHAOS_KIND_COUNT)
        return chaos_put(err, errlen, "kind: unknown fault kind");
    if (!chaos_valid_name(f->id))
        return chaos_put(err, errlen, "id: \"%.64s\" is not an id", f->id);
    if (!chaos_valid_name(f->node))
        return chaos_put(err, errlen, "node: \"%.64s\" is not a node id", f->node);
    if (chaos_kind_on_service(f->kind) != (f->service[0] != '\0'))
        return chaos_put(err, errlen, "service: %s for %s",
                         f->service[0] ? "not wanted" : "missing", kind_names[f->kind]);
    if (f->service[0] && !chaos_valid_name(f->service))
        return chaos_put(err, errlen, "service: \"%.64s\" is not a service name", f->service);
    if (f->peer[0] && (f->kind != CHAOS_ISOLATE_NODE || !chaos_valid_name(f->peer)))
        return chaos_put(err, errlen, "peer: \"%.64s\" %s", f->peer,
                         f->kind != CHAOS_ISOLATE_NODE ? "only for isolate_node"
                                                       : "is not a node id");
    if (f->peer[0] && strcmp(f->peer, f->node) == 0)
        return chaos_put(err, errlen, "peer: a node is not isolated from itself");
    if ((f->kind == CHAOS_DELAY_MESSAGES) != (f->delay_ms > 0))
        return chaos_put(err, errlen, "delay_ms: %s for %s", f->delay_ms ? "not wanted" : "missing",
                         kind_names[f->kind]);
    if (f->duration_ms == 0)
        return chaos_put(err, errlen, "duration_ms: must be more than 0");
    if (f->start_ms > UINT64_MAX - f->duration_ms || f->expires_ms != f->start_ms + f->duration_ms)
        return chaos_put(err, errlen, "expires_ms: must be start_ms + duration_ms");
    return 0;
}

/* ---- msgpack -------------------------------------------------------------- */

void chaos_record_pack(const struct chaos_record *r, msgpack_packer *pk)
{
    const struct chaos_fault *f = &r->fault;
    bool target = r->kind == CHAOS_REC_FAULT || (r->kind == CHAOS_REC_REFUSED && r->has_fault);
    uint32_t n = 1;
    if (target)
        n += 2 + !!f->service[0] + !!f->peer[0];
    switch (r->kind) {
    case CHAOS_REC_FAULT:
        n += 5 + !!f->delay_ms + f->forced + !!f->boot; /* id, start, duration, expires, origin */
        break;
    case CHAOS_REC_HEALED:
        n += 2;
        break;
    case CHAOS_REC_REFUSED:
        n += 2;
        break;
    case CHAOS_REC_STOP:
        n += 1;
        break;
    default:
        break;
    }
    msgpack_pack_map(pk, n);
    chaos_mp_kv_str(pk, "record", chaos_record_name(r->kind));
    if (r->kind == CHAOS_REC_FAULT || r->kind == CHAOS_REC_HEALED)
        chaos_mp_kv_str(pk, "id", f->id);
    if (target) {
        chaos_mp_kv_str(pk, "kind", chaos_kind_name(f->kind));
        chaos_mp_kv_str(pk, "node", f->node);
        if (f->service[0])
            chaos_mp_kv_str(pk, "service", f->service);
        if (f->peer[0])
            chaos_mp_kv_str(pk, "peer", f->peer);
    }
    if (r->kind == CHAOS_REC_FAULT) {
        if (f->delay_ms)
            chaos_mp_kv_u64(pk, "delay_ms", f->delay_ms);
        chaos_mp_kv_u64(pk, "start_ms", f->start_ms);
        chaos_mp_kv_u64(pk, "duration_ms", f->duration_ms);
        chaos_mp_kv_u64(pk, "expires_ms", f->expires_ms);
        chaos_mp_kv_str(pk, "origin", chaos_origin_name(f->origin));
        if (f->forced) {
            chaos_mp_key(pk, "forced");
            msgpack_pack_true(pk);
        }
        if (f->boot)
            chaos_mp_kv_u64(pk, "boot", f->boot);
    }
    if (r->kind == CHAOS_REC_REFUSED)
        chaos_mp_kv_str(pk, "origin", chaos_origin_name(f->origin));
    if (r->kind == CHAOS_REC_HEALED || r->kind == CHAOS_REC_REFUSED || r->kind == CHAOS_REC_STOP)
        chaos_mp_kv_str(pk, "reason", r->reason);
}

/* A string field into out (cap bytes with the NUL), no NUL inside. */
static int get_str(const msgpack_object *map, const char *key, bool optional, char *out, size_t cap,
                   char *err, size_t errlen)
{
    return chaos_mp_get_str(map, "", key, optional, false, out, cap, err, errlen);
}

static int get_u64(const msgpack_object *map, const char *key, bool optional, uint64_t *out,
                   char *err, size_t errlen)
{
    return chaos_mp_get_u64(map, "", key, optional, UINT64_MAX, out, NULL, err, errlen);
}

static int get_target(const msgpack_object *o, struct chaos_fault *f, char *err, size_t errlen)
{
    char kind[32], origin[16];
    if (get_str(o, "kind", false, kind, sizeof kind, err, errlen) ||
        get_str(o, "node", false, f->node, sizeof f->node, err, errlen) ||
        get_str(o, "service", true, f->service, sizeof f->service, err, errlen) ||
        get_str(o, "peer", true, f->peer, sizeof f->peer, err, errlen) ||
        get_str(o, "origin", false, origin, sizeof origin, err, errlen))
        return -1;
    int k = chaos_kind_parse(kind, strlen(kind));
    if (k < 0)
        return chaos_put(err, errlen, "kind: \"%s\" is not a fault kind", kind);
    f->kind = (enum chaos_kind)k;
    if (strcmp(origin, "injector") && strcmp(origin, "operator"))
        return chaos_put(err, errlen, "origin: \"%s\" is neither injector nor operator", origin);
    f->origin = strcmp(origin, "operator") == 0 ? CHAOS_ORIGIN_OPERATOR : CHAOS_ORIGIN_INJECTOR;
    return 0;
}

static int decode_map(const msgpack_object *o, struct chaos_record *r, char *err, size_t errlen)
{
    struct chaos_fault *f = &r->fault;
    char kind[16];
    if (o->type != MSGPACK_OBJECT_MAP)
        return chaos_put(err, errlen, "payload: must be a map");
    if (get_str(o, "record", false, kind, sizeof kind, err, errlen))
        return -1;
    r->kind = CHAOS_REC_OTHER;
    for (int k = CHAOS_REC_FAULT; k < CHAOS_REC_OTHER; k++)
        if (strcmp(kind, record_names[k]) == 0)
            r->kind = (enum chaos_record_kind)k;
    switch (r->kind) {
    case CHAOS_REC_FAULT: {
        const msgpack_object *forced = wire_map_get(o, "forced");
        if (get_str(o, "id", false, f->id, sizeof f->id, err, errlen) ||
            get_target(o, f, err, errlen) ||
            get_u64(o, "delay_ms", true, &f->delay_ms, err, errlen) ||
            get_u64(o, "start_ms", false, &f->start_ms, err, errlen) ||
            get_u64(o, "duration_ms", false, &f->duration_ms, err, errlen) ||
            get_u64(o, "expires_ms", false, &f->expires_ms, err, errlen) ||
            get_u64(o, "boot", true, &f->boot, err, errlen))
            return -1;
        if (forced && forced->type != MSGPACK_OBJECT_BOOLEAN)
            return chaos_put(err, errlen, "forced: must be true or false");
        f->forced = forced && forced->via.boolean;
        r->has_fault = true;
        return chaos_fault_check(f, err, errlen);
    }
    case CHAOS_REC_HEALED:
        if (get_str(o, "id", false, f->id, sizeof f->id, err, errlen) ||
            get_str(o, "reason", false, r->reason, sizeof r->reason, err, errlen))
            return -1;
        return chaos_valid_name(f->id) ? 0 : chaos_put(err, errlen, "id: not an id");
    case CHAOS_REC_REFUSED:
        if (get_str(o, "reason", false, r->reason, sizeof r->reason, err, errlen))
            return -1;
        r->has_fault = wire_map_get(o, "kind") != NULL;
        if (r->has_fault)
            return get_target(o, f, err, errlen);
        {
            char origin[16];
            if (get_str(o, "origin", false, origin, sizeof origin, err, errlen))
                return -1;
            f->origin =
                strcmp(origin, "operator") == 0 ? CHAOS_ORIGIN_OPERATOR : CHAOS_ORIGIN_INJECTOR;
        }
        return 0;
    case CHAOS_REC_STOP:
        return get_str(o, "reason", false, r->reason, sizeof r->reason, err, errlen);
    default:
        return 0;
    }
}

int chaos_record_decode(const uint8_t *payload, size_t len, struct chaos_record *r, char *err,
                        size_t errlen)
{
    memset(r, 0, sizeof *r);
    if (err && errlen)
        err[0] = '\0';
    /* msgpack-c has no limits of its own: judge the lengths before it allocates. */
    if (!payload || wire_prescan(payload, len, CHAOS_PAYLOAD_MAX_DEPTH) != 0)
        return chaos_put(err, errlen,
                         "payload: not one well-formed msgpack object of depth at most %d",
                         CHAOS_PAYLOAD_MAX_DEPTH);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    int rv = -1;
    if (msgpack_unpack_next(&u, (const char *)payload, len, &off) != MSGPACK_UNPACK_SUCCESS ||
        off != len)
        chaos_put(err, errlen, "payload: does not unpack");
    else
        rv = decode_map(&u.data, r, err, errlen);
    msgpack_unpacked_destroy(&u);
    if (rv != 0) {
        char why[CHAOS_REASON_MAX];
        snprintf(why, sizeof why, "%s", err && errlen ? err : "");
        memset(r, 0, sizeof *r);
        if (err && errlen)
            chaos_put(err, errlen, "chaos record: %s", why);
    }
    return rv;
}

int chaos_restart_decode(const uint8_t *payload, size_t len, struct chaos_restart *out)
{
    memset(out, 0, sizeof *out);
    if (!payload || wire_prescan(payload, len, CHAOS_PAYLOAD_MAX_DEPTH) != 0)
        return -1;
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    int rv = -1;
    if (msgpack_unpack_next(&u, (const char *)payload, len, &off) == MSGPACK_UNPACK_SUCCESS &&
        off == len && u.data.type == MSGPACK_OBJECT_MAP &&
        chaos_mp_get_str(&u.data, "", "node", false, false, out->node, sizeof out->node, NULL, 0) ==
            0 &&
        chaos_mp_get_str(&u.data, "", "service", false, false, out->service, sizeof out->service,
                         NULL, 0) == 0 &&
        chaos_mp_get_u64(&u.data, "", "failed_at_ms", false, UINT64_MAX, &out->failed_at_ms, NULL,
                         NULL, 0) == 0)
        rv = 0;
    msgpack_unpacked_destroy(&u);
    if (rv != 0)
        memset(out, 0, sizeof *out);
    return rv;
}

/* ---- JSON ----------------------------------------------------------------- */

static void set_target(json_t *o, const struct chaos_fault *f)
{
    json_object_set_new(o, "kind", json_string(chaos_kind_name(f->kind)));
    json_object_set_new(o, "node", json_string(f->node));
    if (chaos_kind_on_service(f->kind))
        json_object_set_new(o, "service", json_string(f->service));
    if (f->kind == CHAOS_ISOLATE_NODE)
        json_object_set_new(o, "peer", f->peer[0] ? json_string(f->peer) : json_null());
    json_object_set_new(o, "origin", json_string(chaos_origin_name(f->origin)));
}

json_t *chaos_fault_json(const struct chaos_fault *f)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(f->id));
    set_target(o, f);
    if (f->kind == CHAOS_DELAY_MESSAGES)
        json_object_set_new(o, "delay_ms", json_integer((json_int_t)f->delay_ms));
    json_object_set_new(o, "start_ms", json_integer((json_int_t)f->start_ms));
    json_object_set_new(o, "duration_ms", json_integer((json_int_t)f->duration_ms));
    json_object_set_new(o, "expires_ms", json_integer((json_int_t)f->expires_ms));
    json_object_set_new(o, "forced", json_boolean(f->forced));
    return o;
}

json_t *chaos_record_json(const struct chaos_record *r)
{
    json_t *o = r->kind == CHAOS_REC_FAULT ? chaos_fault_json(&r->fault) : json_object();
    json_object_set_new(o, "record", json_string(chaos_record_name(r->kind)));
    if (r->kind == CHAOS_REC_HEALED)
        json_object_set_new(o, "id", json_string(r->fault.id));
    if (r->kind == CHAOS_REC_REFUSED && r->has_fault)
        set_target(o, &r->fault);
    else if (r->kind == CHAOS_REC_REFUSED)
        json_object_set_new(o, "origin", json_string(chaos_origin_name(r->fault.origin)));
    if (r->kind == CHAOS_REC_HEALED || r->kind == CHAOS_REC_REFUSED || r->kind == CHAOS_REC_STOP)
        json_object_set_new(o, "reason", json_string(r->reason));
    return o;
}

int chaos_duration_parse(const char *s, uint64_t *ms)
{
    static const struct {
        const char *unit;
        uint64_t ms;
    } units[] = {{"", 1000}, {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}};
    uint64_t v = 0;
    const char *p = s;
    if (!s || !isdigit((unsigned char)*p))
        return -1;
    for (; isdigit((unsigned char)*p); p++)
        if ((v = v * 10 + (uint64_t)(*p - '0')) > UINT32_MAX)
            return -1; /* far beyond any sane duration; keeps the product in range */
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (strcmp(p, units[i].unit) == 0)
            return *ms = v * units[i].ms, 0;
    /* As drill files and every duration chimeractl prints ("1m30s",
     * "1.5s"): what they write reads back here too. */
    uint32_t parsed;
    char why[64];
    if (manifest_parse_duration(s, &parsed, why, sizeof why) != 0)
        return -1;
    return *ms = parsed, 0;
}

static int req_str(const json_t *body, const char *key, bool required, char *out, size_t cap,
                   char *err, size_t errlen)
{
    const json_t *v = json_object_get(body, key);
    out[0] = '\0';
    if (!v || json_is_null(v))
        return required ? chaos_put(err, errlen, "%s: missing", key) : 0;
    if (!json_is_string(v) || !chaos_valid_name(json_string_value(v)))
        return chaos_put(err, errlen, "%s: must be a name of 1-63 of [A-Za-z0-9._-]", key);
    snprintf(out, cap, "%s", json_string_value(v));
    return 0;
}

static int req_ms(const json_t *body, const char *key, const char *text_key, uint64_t *out,
                  char *err, size_t errlen)
{
    const json_t *v = json_object_get(body, key),
                 *t = text_key ? json_object_get(body, text_key) : NULL;
    *out = 0;
    if (v && !json_is_null(v)) {
        if (!json_is_integer(v) || json_integer_value(v) <= 0)
            return chaos_put(err, errlen, "%s: must be a whole number of milliseconds above 0",
                             key);
        *out = (uint64_t)json_integer_value(v);
    } else if (t && !json_is_null(t)) {
        if (!json_is_string(t) || chaos_duration_parse(json_string_value(t), out) || !*out)
            return chaos_put(err, errlen,
                             "%s: must be a duration like \"30s\", \"1500ms\" or \"2m\"", text_key);
    }
    return 0;
}

int chaos_request_from_json(const json_t *body, struct chaos_fault *f, char *err, size_t errlen)
{
    char kind[32];
    memset(f, 0, sizeof *f);
    f->origin = CHAOS_ORIGIN_OPERATOR;
    if (!json_is_object(body))
        return chaos_put(err, errlen, "body: must be a JSON object");
    const json_t *k = json_object_get(body, "kind"), *force = json_object_get(body, "force");
    if (!json_is_string(k))
        return chaos_put(err, errlen,
                         "kind: missing; one of kill_service, pause_service, isolate_node, "
                         "delay_messages, kill_node");
    snprintf(kind, sizeof kind, "%s", json_string_value(k));
    int kk = chaos_kind_parse(json_string_value(k), strlen(json_string_value(k)));
    if (kk < 0)
        return chaos_put(err, errlen,
                         "kind: \"%.32s\" is not a fault kind; use kill_service, pause_service, "
                         "isolate_node, delay_messages or kill_node",
                         kind);
    f->kind = (enum chaos_kind)kk;
    if (req_str(body, "target", true, f->node, sizeof f->node, err, errlen) ||
        req_str(body, "service", chaos_kind_on_service(f->kind), f->service, sizeof f->service, err,
                errlen) ||
        req_str(body, "peer", false, f->peer, sizeof f->peer, err, errlen) ||
        req_ms(body, "duration_ms", "duration", &f->duration_ms, err, errlen) ||
        req_ms(body, "delay_ms", NULL, &f->delay_ms, err, errlen))
        return -1;
    if (force && !json_is_null(force) && !json_is_boolean(force))
        return chaos_put(err, errlen, "force: must be true or false");
    f->forced = json_is_true(force);
    if (!chaos_kind_on_service(f->kind) && f->service[0])
        return chaos_put(err, errlen, "service: only for kill_service and pause_service");
    if (f->peer[0] && f->kind != CHAOS_ISOLATE_NODE)
        return chaos_put(err, errlen, "peer: only for isolate_node");
    if (f->peer[0] && strcmp(f->peer, f->node) == 0)
        return chaos_put(err, errlen, "peer: a node is not isolated from itself");
    if (f->kind == CHAOS_DELAY_MESSAGES && !f->delay_ms)
        return chaos_put(err, errlen, "delay_ms: missing; how long to delay each message");
    if (f->kind != CHAOS_DELAY_MESSAGES && f->delay_ms)
        return chaos_put(err, errlen, "delay_ms: only for delay_messages");
    return 0;
}

/* ---- healing at expiry ----------------------------------------------------- */

bool chaos_fault_active_at(const struct chaos_fault *f, uint64_t t_ms)
{
    return t_ms >= f->start_ms && t_ms < f->expires_ms;
}

void chaos_local_init(struct chaos_local *l, const char *self, uint64_t boot_ms)
{
    memset(l, 0, sizeof *l);
    snprintf(l->self, sizeof l->self, "%s", self);
    l->boot_ms = boot_ms;
}

enum chaos_apply chaos_local_apply(struct chaos_local *l, const struct chaos_fault *f,
                                   uint64_t now_ms)
{
    if (strcmp(f->node, l->self) != 0)
        return CHAOS_NOT_MINE;
    /* now may be before start_ms when clocks disagree: the fault is still to be applied. */
    if (now_ms >= f->expires_ms)
        return CHAOS_EXPIRED;
    if (chaos_kind_is_kill(f->kind))
        return l->boot_ms > f->start_ms ? CHAOS_KILLED_ONCE : CHAOS_APPLY;
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->a[i].fault.id, f->id) == 0)
            return CHAOS_ALREADY;
    if (l->n == CHAOS_LOCAL_MAX)
        return CHAOS_FULL;
    struct chaos_applied *a = &l->a[l->n++];
    a->fault = *f;
    /* The local clock's own measure of the duration caps it, so a leader's
     * clock running ahead of this node's never stretches a fault here. */
    a->heal_at_ms =
        now_ms + f->duration_ms < f->expires_ms ? now_ms + f->duration_ms : f->expires_ms;
    return CHAOS_APPLY;
}

/* Moves the i-th applied fault out (order is kept: earliest applied first). */
static void take(struct chaos_local *l, size_t i, struct chaos_fault *out)
{
    if (out)
        *out = l->a[i].fault;
    memmove(&l->a[i], &l->a[i + 1], (l->n - i - 1) * sizeof l->a[0]);
    l->n--;
}

size_t chaos_local_due(struct chaos_local *l, uint64_t now_ms, struct chaos_fault *out, size_t max)
{
    size_t k = 0;
    for (size_t i = 0; i < l->n && k < max;) {
        if (l->a[i].heal_at_ms <= now_ms)
            take(l, i, &out[k++]);
        else
            i++;
    }
    return k;
}

size_t chaos_local_heal_all(struct chaos_local *l, struct chaos_fault *out, size_t max)
{
    size_t k = 0;
    while (l->n > 0 && k < max)
        take(l, 0, &out[k++]);
    return k;
}

size_t chaos_local_heal_id(struct chaos_local *l, const char *id, struct chaos_fault *out)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->a[i].fault.id, id) == 0)
            return take(l, i, out), 1;
    return 0;
}

uint64_t chaos_local_next_heal(const struct chaos_local *l)
{
    uint64_t t = UINT64_MAX;
    for (size_t i = 0; i < l->n; i++)
        if (l->a[i].heal_at_ms < t)
            t = l->a[i].heal_at_ms;
    return t;
}
