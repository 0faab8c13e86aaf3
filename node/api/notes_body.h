/* What a POST /ledger/notes body holds, read from JSON or from msgpack.
 * Pure (jansson and msgpack-c only, no node state): it runs on libuv's
 * thread pool for large bodies, and unit tests call it directly.
 *
 * Both encodings say the same thing: {"note": "text"} or
 * {"notes": ["text", ...]}, 1..NOTES_BODY_MAX notes of
 * 1..NOTES_BODY_NOTE_MAX bytes of UTF-8 each, no NUL. JSON is the API's
 * language; msgpack (Content-Type application/msgpack) is for clients that
 * post large batches: jansson reads about 50 MB/s here, so a batch of a
 * hundred 100-byte notes took ~200 us of the leader's loop to parse, a
 * fifth of its whole commit round, where msgpack-c takes ~2 us. */
#ifndef CHIMERA_NODE_API_NOTES_BODY_H
#define CHIMERA_NODE_API_NOTES_BODY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "consensus/consensus.h"
#include "node/net/http.h"

#define NOTES_BODY_MAX CONS_MAX_BATCH
#define NOTES_BODY_NOTE_MAX 4096

/* The notes of one body, pointing into what was parsed (the json_t, or
 * the msgpack bytes themselves): valid while that lives. */
struct notes_body {
    size_t count;
    const char *notes[NOTES_BODY_MAX];
    size_t lens[NOTES_BODY_MAX];
    /* When a note is not valid: its JSON path ("note", "notes[3]"; "notes"
     * for the array, "" for the body), for the 400's "path" as every
     * endpoint gives it. */
    char path[32];
};

/* Whether a Content-Type header names msgpack (application/msgpack, or its
 * older names application/x-msgpack and application/vnd.msgpack), with or
 * without parameters, in any case. */
bool notes_body_is_msgpack(const char *content_type);

/* The notes of a JSON body already parsed (http_body_parse, known keys
 * "note" and "notes"); 0 with the problem in err (one line, naming where). */
size_t notes_body_from_json(json_t *body, struct notes_body *out, char *err, size_t errlen);

/* The notes of a msgpack body: 0 with the problem in *e when the body is
 * not one msgpack map of known keys (answered like a JSON body that does
 * not parse, http_body_refuse), or with the problem in err when a note is
 * not valid (answered like the JSON one). Counts over what a body of notes
 * holds are refused before msgpack-c allocates for them. */
size_t notes_body_from_msgpack(const void *buf, size_t len, struct notes_body *out,
                               struct http_body_error *e, char *err, size_t errlen);

#endif
