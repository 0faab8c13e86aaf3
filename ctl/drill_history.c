/* chimeractl drill history: past drills from the ledger. A run records its
 * result as a note (chaos/drill's drill_note); this reads every note of
 * the node's ledger (GET /ledger, page by page), keeps those drill_note_parse
 * recognises, and names the checkpoint that covers each: the one a quorum
 * of witnesses cosigned, which notarizes the result. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/deploy_int.h"
#include "ctl/drill_int.h"

#define PAGE 1000 /* the node's limit per GET /ledger */

/* The drill of one entry, as JSON for --json; NULL when it is none. */
static json_t *drill_of(const json_t *e)
{
    const char *why, *type = json_string_value(json_object_get(e, "type"));
    if (!type || strcmp(type, "note") != 0)
        return NULL;
    json_t *payload = ctl_decode_payload(e, &why);
    struct drill_note nt;
    json_t *out = NULL;
    if (json_is_string(payload) && drill_note_parse(json_string_value(payload), &nt)) {
        const json_t *cp = json_object_get(e, "checkpoint");
        out = json_pack("{s:O,s:O,s:s,s:s,s:s,s:s,s:O}", "index", json_object_get(e, "index"),
                        "time_ms", json_object_get(e, "timestamp_ms"), "title", nt.title, "verdict",
                        nt.verdict, "digest", nt.digest, "results", nt.results, "checkpoint",
                        json_is_integer(cp) ? cp : json_null());
    }
    json_decref(payload);
    return out;
}

static void print_row(const json_t *d)
{
    char when[64], cp[48];
    const json_t *c = json_object_get(d, "checkpoint");
    ctl_iso_ms(json_object_get(d, "time_ms"), false, when, sizeof when);
    if (json_is_integer(c))
        snprintf(cp, sizeof cp, "checkpoint %" JSON_INTEGER_FORMAT, json_integer_value(c));
    else
        snprintf(cp, sizeof cp, "not yet");
    printf("%-7" JSON_INTEGER_FORMAT "  %-20s  %-13s  %-16s  %.16s  %s\n",
           json_integer_value(json_object_get(d, "index")), when, ctl_json_str(d, "verdict", "-"),
           cp, ctl_json_str(d, "digest", "-"), ctl_json_str(d, "title", "-"));
    const char *res = ctl_json_str(d, "results", NULL);
    if (res)
        printf("         %s\n", res);
}

int ctl_cmd_drill_history(const struct ctl_opts *o, int argc, char **argv)
{
    if (argc > 2) {
        fprintf(stderr,
                "chimeractl: drill history: %s '%s' (see chimeractl drill history --help)\n",
                argv[2][0] == '-' ? "unknown option" : "unexpected argument", argv[2]);
        return CTL_USAGE;
    }
    struct ctl_client *cl = ctl_client_new(o);
    if (!cl)
        return CTL_FAILED;
    json_t *found = json_array();
    uint64_t from = 1;
    int rc = CTL_OK;
    while (rc == CTL_OK && from) {
        char path[96];
        struct ctl_reply r;
        snprintf(path, sizeof path, "/ledger?from=%" PRIu64 "&limit=%d", from, PAGE);
        int got = ctl_get(cl, path, &r);
        rc = ctl_check_reply(got, &r);
        json_t *entries = json_object_get(r.json, "entries"), *e;
        size_t i;
        json_array_foreach(entries, i, e)
        {
            json_t *d = drill_of(e);
            if (d)
                json_array_append_new(found, d);
        }
        json_t *next = json_object_get(r.json, "next_from");
        from = json_is_integer(next) && json_integer_value(next) > (json_int_t)from
                   ? (uint64_t)json_integer_value(next)
                   : 0;
        ctl_reply_free(&r);
    }
    if (rc == CTL_OK && o->json) {
        json_dumpf(found, stdout, JSON_INDENT(2));
        putchar('\n');
    } else if (rc == CTL_OK) {
        size_t i;
        json_t *d;
        if (json_array_size(found) == 0)
            printf("no drill has been recorded in this ledger\n");
        else
            printf("%-7s  %-20s  %-13s  %-16s  %-16s  %s\n", "INDEX", "TIME", "VERDICT",
                   "NOTARIZED BY", "DIGEST", "TITLE");
        json_array_foreach(found, i, d) print_row(d);
    }
    json_decref(found);
    ctl_client_free(cl);
    return rc;
}
