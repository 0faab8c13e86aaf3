/* libFuzzer harness for the release decoders that take bytes from outside:
 * the manifest parser (POST /deployments bodies) and the probe facts
 * decoder (PLAN_FACTS messages from other members). It checks:
 *  - manifest_parse never crashes, and fails with a one-line message;
 *  - what it accepts normalises (manifest_to_json) to a document that
 *    parses again (the normal form is itself a valid manifest);
 *  - probe_facts_from_json never crashes on any JSON the input holds;
 *  - envfile_parse (env files on the nodes) never crashes, every entry it
 *    accepts is NAME=value with a valid name, and its errors are one line.
 * Build and run like fuzz_envelope (README.md), with --target
 * fuzz_manifest; seed the corpus with the files in deploy/examples. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/core/env_file.h"
#include "pipeline/core/manifest.h"
#include "pipeline/exec/probe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct manifest m;
    struct manifest_error err;
    if (manifest_parse((const char *)data, size, &m, &err) == 0) {
        json_t *norm = manifest_to_json(&m);
        char *text = norm ? json_dumps(norm, JSON_COMPACT) : NULL;
        static struct manifest again;
        if (text && manifest_parse(text, strlen(text), &again, &err) != 0)
            abort(); /* the normal form must parse */
        if (text)
            manifest_free(&again);
        free(text);
        json_decref(norm);
        manifest_free(&m);
    } else if (strchr(err.message, '\n')) {
        abort(); /* messages are one line */
    }
    json_error_t jerr;
    json_t *j = json_loadb((const char *)data, size, 0, &jerr);
    if (j) {
        static struct probe_facts f;
        char why[256];
        probe_facts_from_json(j, &f, why, sizeof(why));
        json_decref(j);
    }
    struct envfile ef;
    struct envfile_error eerr;
    if (envfile_parse((const char *)data, size, &ef, &eerr) == 0) {
        for (size_t i = 0; i < ef.n; i++)
            if (ef.e[i].name_len == 0 || ef.e[i].kv[ef.e[i].name_len] != '=' ||
                strspn(ef.e[i].kv,
                       "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") !=
                    ef.e[i].name_len)
                abort();
        envfile_free(&ef);
    } else if (strchr(eerr.message, '\n')) {
        abort();
    }
    return 0;
}
