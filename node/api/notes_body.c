/* POST /ledger/notes bodies in JSON and msgpack (notes_body.h). */
#include "node/api/notes_body.h"

#include <inttypes.h>
#include <msgpack.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "wire/prescan.h"

#define EXPECT "{\"note\": \"text\"} or {\"notes\": [\"text\", ...]}"
/* The map, then the array of notes in it. */
#define MSGPACK_DEPTH 2
/* The most objects a body holds: the map, the key "notes", the array and
 * its notes. */
#define MSGPACK_MOST_OBJECTS (NOTES_BODY_MAX + 3)

bool notes_body_is_msgpack(const char *content_type)
{
    static const char *const names[] = {"application/msgpack", "application/x-msgpack",
                                        "application/vnd.msgpack"};
    const char *p = content_type ? content_type : "";
    while (*p == ' ' || *p == '\t')
        p++;
    size_t len = strcspn(p, "; \t");
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (len == strlen(names[i]) && strncasecmp(p, names[i], len) == 0)
            return true;
    return false;
}

/* One note's bytes (NULL: not a string); where names it in the message
 * ("note", "notes[3]"). A msgpack str may hold any bytes (text: check
 * them): what a JSON string cannot (invalid UTF-8, a NUL) is refused there
 * too, so that a note reads back the same whichever way it came. jansson's
 * json_stringn is the UTF-8 check (it refuses invalid sequences). */
static bool note_ok(const char *s, size_t len, bool text, const char *where, char *err,
                    size_t errlen)
{
    if (!s || len == 0 || len > NOTES_BODY_NOTE_MAX) {
        snprintf(err, errlen, "%s: must be a string of 1..%d bytes", where, NOTES_BODY_NOTE_MAX);
        return false;
    }
    if (!text)
        return true;
    if (memchr(s, '\0', len)) {
        snprintf(err, errlen, "%s: holds a NUL byte", where);
        return false;
    }
    json_t *utf8 = json_stringn(s, len);
    if (!utf8) {
        snprintf(err, errlen, "%s: not valid UTF-8", where);
        return false;
    }
    json_decref(utf8);
    return true;
}

/* How an encoding gives its values: a value's bytes if it is a string
 * (else NULL), and an array's i-th value. */
struct notes_reader {
    const char *(*str)(const void *value, size_t *len);
    const void *(*item)(const void *array, size_t i);
};

/* The one rule of both encodings: exactly one of "note" (one) and "notes"
 * (many, count values), every note valid. */
static size_t take_notes(const void *one, const void *many, size_t count,
                         const struct notes_reader *r, bool text, struct notes_body *out, char *err,
                         size_t errlen)
{
    out->count = 0;
    out->path[0] = '\0';
    if ((one != NULL) == (many != NULL)) {
        snprintf(err, errlen,
                 "body: give exactly one of \"note\" (a string) or \"notes\" (an array)");
        return 0;
    }
    if (many && (count == 0 || count > NOTES_BODY_MAX)) {
        snprintf(out->path, sizeof(out->path), "notes");
        snprintf(err, errlen, "notes: must be an array of 1..%d strings", NOTES_BODY_MAX);
        return 0;
    }
    if (one)
        count = 1;
    for (size_t i = 0; i < count; i++) {
        char where[32] = "note";
        if (many)
            snprintf(where, sizeof(where), "notes[%zu]", i);
        size_t len = 0;
        const char *s = r->str(one ? one : r->item(many, i), &len);
        if (!note_ok(s, len, text, where, err, errlen)) {
            snprintf(out->path, sizeof(out->path), "%s", where);
            return 0;
        }
        out->notes[i] = s;
        out->lens[i] = len;
    }
    return out->count = count;
}

static const char *json_str(const void *value, size_t *len)
{
    if (!json_is_string((const json_t *)value))
        return NULL;
    *len = json_string_length(value);
    return json_string_value(value);
}

static const void *json_item(const void *array, size_t i)
{
    return json_array_get(array, i);
}

size_t notes_body_from_json(json_t *body, struct notes_body *out, char *err, size_t errlen)
{
    json_t *one = json_object_get(body, "note"), *many = json_object_get(body, "notes");
    /* jansson already refused what is not UTF-8 text */
    static const struct notes_reader json = {json_str, json_item};
    return take_notes(one, many, json_is_array(many) ? json_array_size(many) : 0, &json, false, out,
                      err, errlen);
}

static size_t refuse(struct http_body_error *e, const char *path, const char *msg)
{
    snprintf(e->msg, sizeof(e->msg), "%s; expected %s in msgpack", msg, EXPECT);
    snprintf(e->path, sizeof(e->path), "%s", path);
    return 0;
}

/* A msgpack str's bytes, or NULL for any other type. */
static const char *str_of(const void *value, size_t *len)
{
    const msgpack_object *o = value;
    if (o->type != MSGPACK_OBJECT_STR)
        return NULL;
    *len = o->via.str.size;
    return o->via.str.ptr ? o->via.str.ptr : "";
}

static const void *msgpack_item(const void *array, size_t i)
{
    return &((const msgpack_object *)array)->via.array.ptr[i];
}

static const struct notes_reader msgpack_reader = {str_of, msgpack_item};

enum key { KEY_NOTE, KEY_NOTES, KEY_UNKNOWN };

/* Which known key k is; an unknown one is refused naming it. */
static enum key known_key(const msgpack_object *key, struct http_body_error *e)
{
    size_t klen = 0;
    const char *k = str_of(key, &klen);
    if (k && klen == 4 && memcmp(k, "note", 4) == 0)
        return KEY_NOTE;
    if (k && klen == 5 && memcmp(k, "notes", 5) == 0)
        return KEY_NOTES;
    char shown[68];
    http_show_key(k ? k : "", k ? klen : 0, shown, sizeof(shown));
    char msg[256];
    snprintf(msg, sizeof(msg),
             k ? "unknown key \"%s\"; known keys here are \"note\", \"notes\""
               : "a key that is not a string%s; known keys here are \"note\", \"notes\"",
             shown);
    refuse(e, shown, msg);
    return KEY_UNKNOWN;
}

/* A container of more than NOTES_BODY_MAX items, found by the pre-scan:
 * refused as the unpacked body would be, without msgpack-c allocating for
 * its items. As the map's value it is refused by its key (unpacked alone:
 * it ends where the container starts); elsewhere the body is. */
static size_t refuse_wide(const void *buf, const struct wire_counts *n, struct notes_body *out,
                          struct http_body_error *e, char *err, size_t errlen)
{
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = n->wide_key_at, count = 0;
    if (off == WIRE_NO_KEY ||
        msgpack_unpack_next(&u, buf, n->wide_at, &off) != MSGPACK_UNPACK_SUCCESS) {
        char msg[160];
        snprintf(msg, sizeof(msg),
                 "body: a msgpack container of %" PRIu64 " items at byte %zu, more than %d",
                 n->wide_items, n->wide_at, NOTES_BODY_MAX);
        refuse(e, "", msg);
    } else {
        enum key k = known_key(&u.data, e);
        /* the container's items are not read: any type but str says "not
         * a note", and the count says "too many notes" */
        const msgpack_object wide = {.type = MSGPACK_OBJECT_ARRAY};
        if (k != KEY_UNKNOWN)
            count = take_notes(k == KEY_NOTE ? &wide : NULL, k == KEY_NOTES ? &wide : NULL,
                               n->wide_items, &msgpack_reader, true, out, err, errlen);
    }
    msgpack_unpacked_destroy(&u);
    return count;
}

size_t notes_body_from_msgpack(const void *buf, size_t len, struct notes_body *out,
                               struct http_body_error *e, char *err, size_t errlen)
{
    out->count = 0;
    out->path[0] = '\0';
    err[0] = '\0';
    e->msg[0] = e->path[0] = '\0';
    if (len == 0)
        return refuse(e, "", "empty body");
    /* Before msgpack-c sees it: counts that the bytes cannot hold would
     * have it allocate for them (wire/prescan.h). */
    struct wire_counts n;
    if (wire_prescan_counted(buf, len, MSGPACK_DEPTH, NOTES_BODY_MAX, &n) != 0) {
        char msg[256];
        snprintf(msg, sizeof(msg),
                 "body: not one well-formed msgpack object of at most %d levels (%zu bytes: "
                 "truncated, trailing bytes, a bad format byte or a length past the end)",
                 MSGPACK_DEPTH, len);
        return refuse(e, "", msg);
    }
    if (n.wide_items > 0)
        return refuse_wide(buf, &n, out, e, err, errlen);
    if (n.objects > MSGPACK_MOST_OBJECTS) {
        char msg[160];
        snprintf(msg, sizeof(msg),
                 "body: %" PRIu64 " msgpack objects, more than a body of %d notes holds (%d)",
                 n.objects, NOTES_BODY_MAX, MSGPACK_MOST_OBJECTS);
        return refuse(e, "", msg);
    }
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    size_t count = 0;
    /* Strings point into buf (msgpack-c copies no str), so the notes stay
     * valid after u is gone. */
    if (msgpack_unpack_next(&u, buf, len, &off) != MSGPACK_UNPACK_SUCCESS) {
        refuse(e, "", "body: not msgpack");
        goto done;
    }
    const msgpack_object *root = &u.data;
    if (root->type != MSGPACK_OBJECT_MAP) {
        refuse(e, "", "body: not a msgpack map");
        goto done;
    }
    const msgpack_object *one = NULL, *many = NULL;
    for (uint32_t i = 0; i < root->via.map.size; i++) {
        const msgpack_object_kv *kv = &root->via.map.ptr[i];
        enum key k = known_key(&kv->key, e);
        if (k == KEY_UNKNOWN)
            goto done;
        const msgpack_object **slot = k == KEY_NOTE ? &one : &many;
        if (*slot) {
            char msg[80];
            snprintf(msg, sizeof(msg), "duplicate key \"%s\"", slot == &one ? "note" : "notes");
            refuse(e, slot == &one ? "note" : "notes", msg);
            goto done;
        }
        *slot = &kv->val;
    }
    size_t many_count = many && many->type == MSGPACK_OBJECT_ARRAY ? many->via.array.size : 0;
    count = take_notes(one, many, many_count, &msgpack_reader, true, out, err, errlen);
done:
    msgpack_unpacked_destroy(&u);
    return count;
}
