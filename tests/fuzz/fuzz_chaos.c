/* libFuzzer harness for the chaos decoders that take bytes from outside:
 * chaos ledger records (LEDGER_ENTRY_CHAOS payloads from other members'
 * entries) and the operator's POST /chaos/inject body, and the window text
 * of the settings. It checks:
 *  - chaos_record_decode never crashes, and fails with a one-line message;
 *  - a record it accepts packs again to bytes that decode to the same record;
 *  - chaos_request_from_json and chaos_window_parse never crash and their
 *    errors are one line.
 * Build and run like fuzz_envelope (README.md), with --target fuzz_chaos. */
#include <msgpack.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chaos/fault.h"
#include "chaos/window.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void one_line(const char *err)
{
    if (strchr(err, '\n'))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct chaos_record r, again;
    char err[256];
    if (chaos_record_decode(data, size, &r, err, sizeof err) == 0) {
        if (r.kind != CHAOS_REC_OTHER) {
            msgpack_sbuffer sb;
            msgpack_packer pk;
            msgpack_sbuffer_init(&sb);
            msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
            chaos_record_pack(&r, &pk);
            if (chaos_record_decode((const uint8_t *)sb.data, sb.size, &again, NULL, 0) != 0 ||
                memcmp(&r, &again, sizeof r) != 0)
                abort(); /* what is accepted round-trips */
            msgpack_sbuffer_destroy(&sb);
        }
    } else {
        one_line(err);
    }
    json_error_t je;
    json_t *body = json_loadb((const char *)data, size, 0, &je);
    if (body) {
        struct chaos_fault f;
        if (chaos_request_from_json(body, &f, err, sizeof err) != 0)
            one_line(err);
        json_decref(body);
    }
    char text[CHAOS_WINDOW_TEXT_MAX + 8];
    size_t n = size < sizeof text - 1 ? size : sizeof text - 1;
    memcpy(text, data, n);
    text[n] = '\0';
    struct chaos_window w;
    if (chaos_window_parse(text, &w, err, sizeof err) != 0)
        one_line(err);
    return 0;
}
