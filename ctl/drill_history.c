/* chimeractl drill history: past drills from the ledger. A run records its
 * result as a drill record of its own (POST /drills); GET /drills lists
 * them, each with the checkpoint whose quorum of witness signatures
 * notarizes it. Results recorded before that endpoint existed are notes
 * (chaos/drill's drill_note): every note of the node's ledger is read too
 * (GET /ledger, page by page), those drill_note_parse recognises kept with
 * the checkpoint that covers each. A node without GET /drills (404) gets
 * the notes alone. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/deploy_int.h"
#include "ctl/drill_int.h"
#include "pipeline/core/manifest.h"

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
        out = json_pack("{s:O,s:O,s:s,s:s,s:s,s:s,s:O,s:s}", "index", json_object_get(e, "index"),
                        "time_ms", json_object_get(e, "timestamp_ms"), "title", nt.title, "verdict",
                        nt.verdict, "digest", nt.digest, "results", nt.results, "checkpoint",
                        json_is_integer(cp) ? cp : json_null(), "recorded_as", "note");
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
    if (res && *res)
        printf("         %s\n", res);
    const json_t *signers = json_object_get(json_object_get(d, "notarization"), "signers"), *s;
    size_t i;
    json_array_foreach(signers, i, s)
        printf("%s%s%s", i ? ", " : "         signed by ", json_string_value(s),
               i + 1 == json_array_size(signers) ? "\n" : "");
}

/* A drill record of GET /drills with the fields of the notes' rows:
 * "results" as the note writes them, "checkpoint" the notarizing one. */
static json_t *drill_row(const json_t *d)
{
    json_t *row = json_deep_copy(d), *f;
    const json_t *n = json_object_get(d, "notarization");
    char results[DRILL_NOTE_MAX] = "";
    size_t i;
    json_array_foreach(json_object_get(d, "faults"), i, f)
    {
        const char *name = ctl_json_str(f, "name", ""), *kind = ctl_json_str(f, "kind", "?");
        const json_t *ttr = json_object_get(f, "time_to_recover_ms");
        char one[DRILL_NAME_MAX + 96], got[48], took[32], slo[32];
        /* As drill_note writes them: the record's fields are uint32 ms. */
        manifest_format_duration((uint32_t)json_integer_value(ttr), took, sizeof took);
        manifest_format_duration((uint32_t)json_integer_value(json_object_get(f, "slo_ms")), slo,
                                 sizeof slo);
        snprintf(got, sizeof got, "%s%s", json_is_integer(ttr) ? "recovered in " : "not recovered",
                 json_is_integer(ttr) ? took : "");
        snprintf(one, sizeof one, "%s%s: %s (SLO %s)", i ? "; " : "", *name ? name : kind, got,
                 slo);
        size_t len = strlen(results);
        snprintf(results + len, sizeof results - len, "%s", one);
    }
    json_object_set_new(row, "results", json_string(results));
    json_object_set(row, "checkpoint",
                    json_is_object(n) ? json_object_get(n, "checkpoint") : json_null());
    json_object_set_new(row, "recorded_as", json_string("drill"));
    return row;
}

/* The drill records of GET /drills into found. CTL_OK, with *missing when
 * the node answers 404 (it has no such endpoint). */
static int read_drills(struct ctl_client *cl, json_t *found, bool *missing)
{
    uint64_t from = 1;
    *missing = false;
    /* A long ledger is searched a slice per request ("complete": false). */
    for (int asks = 0; asks < 10000; asks++) {
        char path[96];
        struct ctl_reply r;
        snprintf(path, sizeof path, "/drills?from=%" PRIu64 "&limit=%d", from, PAGE);
        int got = ctl_get(cl, path, &r);
        if (got == 0 && r.status == 404) {
            *missing = true;
            ctl_reply_free(&r);
            return CTL_OK;
        }
        int rc = ctl_check_reply(got, &r);
        if (rc != CTL_OK) {
            ctl_reply_free(&r);
            return rc;
        }
        json_t *d;
        size_t i;
        json_array_foreach(json_object_get(r.json, "drills"), i, d)
        {
            json_array_append_new(found, drill_row(d));
            from = (uint64_t)json_integer_value(json_object_get(d, "index")) + 1;
        }
        json_t *next = json_object_get(r.json, "next_from");
        bool complete = json_is_true(json_object_get(r.json, "complete"));
        if (json_is_integer(next))
            from = (uint64_t)json_integer_value(next);
        ctl_reply_free(&r);
        if (!json_is_integer(next) && complete)
            return CTL_OK;
    }
    return CTL_OK;
}

/* The drill results recorded as notes into found. */
static int read_notes(struct ctl_client *cl, json_t *found)
{
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
    return rc;
}

static int by_index(const void *a, const void *b)
{
    json_int_t x = json_integer_value(json_object_get(*(json_t *const *)a, "index"));
    json_int_t y = json_integer_value(json_object_get(*(json_t *const *)b, "index"));
    return (x > y) - (x < y);
}

/* found, oldest first. A new reference. */
static json_t *sorted(json_t *found)
{
    size_t n = json_array_size(found);
    json_t **v = calloc(n ? n : 1, sizeof *v), *out = json_array();
    for (size_t i = 0; v && i < n; i++)
        v[i] = json_array_get(found, i);
    if (v)
        qsort(v, n, sizeof *v, by_index);
    for (size_t i = 0; v && i < n; i++)
        json_array_append(out, v[i]);
    free(v);
    return out;
}

int ctl_cmd_drill_history(const struct ctl_opts *o, int argc, char **argv)
{
    if (argc > 2)
        return ctl_bad_argument("drill history", argv[2]);
    struct ctl_client *cl = ctl_client_new(o);
    if (!cl)
        return CTL_FAILED;
    json_t *found = json_array();
    bool missing;
    int rc = read_drills(cl, found, &missing);
    if (rc == CTL_OK)
        rc = read_notes(cl, found);
    json_t *list = sorted(found);
    json_decref(found);
    if (rc == CTL_OK && o->json) {
        json_dumpf(list, stdout, JSON_INDENT(2) | CTL_JSON_REAL);
        putchar('\n');
    } else if (rc == CTL_OK) {
        size_t i;
        json_t *d;
        if (json_array_size(list) == 0)
            printf("no drill has been recorded in this ledger\n");
        else
            printf("%-7s  %-20s  %-13s  %-16s  %-16s  %s\n", "INDEX", "TIME", "VERDICT",
                   "NOTARIZED BY", "DIGEST", "TITLE");
        json_array_foreach(list, i, d) print_row(d);
    }
    json_decref(list);
    ctl_client_free(cl);
    return rc;
}
