/* libFuzzer harness for POST /ledger/notes bodies (node/api/notes_body.c),
 * the one decoder of a write path's payload that takes bytes straight from
 * a client, in both its encodings. It checks:
 *  - notes_body_from_msgpack never crashes; a body it refuses says why in
 *    one line, as a malformed body (e) or a bad note (err), never both nor
 *    neither;
 *  - what it accepts is what the README promises: 1..NOTES_BODY_MAX notes
 *    of 1..NOTES_BODY_NOTE_MAX bytes, no NUL, valid UTF-8 (jansson takes
 *    each as a JSON string), each inside the input;
 *  - the same input as JSON (http_body_parse, then notes_body_from_json)
 *    never crashes, refuses in one line, and accepts only such notes.
 * Build and run like fuzz_envelope (README.md), with --target
 * fuzz_notes_body. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "node/api/notes_body.h"
#include "node/net/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void one_line(const char *err)
{
    if (err[0] == '\0' || strchr(err, '\n'))
        abort();
}

static void check_accepted(const struct notes_body *nb, size_t count, const uint8_t *in,
                           size_t size)
{
    if (count == 0 || count > NOTES_BODY_MAX || nb->count != count)
        abort();
    for (size_t i = 0; i < count; i++) {
        const char *s = nb->notes[i];
        size_t len = nb->lens[i];
        if (len == 0 || len > NOTES_BODY_NOTE_MAX || memchr(s, '\0', len))
            abort();
        json_t *utf8 = json_stringn(s, len);
        if (!utf8)
            abort();
        json_decref(utf8);
        if (in && ((const uint8_t *)s < in || (const uint8_t *)s + len > in + size))
            abort(); /* a msgpack note points into the body */
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct notes_body nb;
    struct http_body_error e;
    char err[256];
    memset(&e, 0, sizeof e);
    err[0] = '\0';
    size_t count = notes_body_from_msgpack(data, size, &nb, &e, err, sizeof err);
    if (count > 0) {
        check_accepted(&nb, count, data, size);
    } else if ((e.msg[0] != '\0') == (err[0] != '\0')) {
        abort(); /* exactly one kind of refusal */
    } else {
        one_line(e.msg[0] ? e.msg : err);
    }

    static const char *const known[] = {"note", "notes", NULL};
    memset(&e, 0, sizeof e);
    json_t *body = http_body_parse(data, size, known, "{\"notes\": [...]}", &e);
    if (!body) {
        one_line(e.msg);
        return 0;
    }
    err[0] = '\0';
    count = notes_body_from_json(body, &nb, err, sizeof err);
    if (count > 0)
        check_accepted(&nb, count, NULL, 0);
    else
        one_line(err);
    json_decref(body);
    return 0;
}
