/* chimeractl ledger show | tail | head: the ledger as a running node serves
 * it (GET /ledger?from=&limit=, GET /ledger/head), and the dispatch of every
 * `ledger` subcommand (verify, which reads the files offline, is ledger.c).
 *
 * Payloads come as the hex of their exact msgpack bytes; ledger_payload.c
 * decodes them for display as JSON: a note is a string, an election a map. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ledger/ledger.h"
#include "pipeline/core/text.h"
#include "ctl/ctl.h"

#define PAGE_MAX 1000ULL /* the server's limit per GET /ledger */
#define TAIL_DEFAULT 10ULL
#define TAIL_MAX 1000000ULL
#define FOLLOW_INTERVAL_MS 300
#define SUMMARY_MAX 60 /* bytes of payload on a tail line */
#define SHORT_HASH 12  /* hex digits of the hash on a tail line */
#define RING 256       /* printed hashes kept to spot a replaced suffix */

static int usage(const char *cmd, const char *what, const char *arg)
{
    fprintf(stderr, "chimeractl: ledger %s: %s%s%s%s (see chimeractl ledger %s --help)\n", cmd,
            what, arg ? " '" : "", arg ? arg : "", arg ? "'" : "", cmd);
    return CTL_USAGE;
}

/* The entry as the server gave it, plus "payload_decoded" (null when there
 * is nothing to decode) and, when decoding failed, "payload_error". */
static void print_entry_json(json_t *e, size_t flags)
{
    const char *why;
    json_t *d = ctl_decode_payload(e, &why);
    json_object_set_new(e, "payload_decoded", d ? d : json_null());
    if (why && strcmp(why, "empty") != 0)
        json_object_set_new(e, "payload_error", json_string(why));
    json_dumpf(e, stdout, flags | CTL_JSON_REAL);
    putchar('\n');
}

/* ---- formatting ------------------------------------------------------- */

static const char *str_or(const json_t *v, const char *dflt)
{
    const char *s = json_string_value(v);
    return s && *s ? s : dflt;
}

/* "label value": a member of obj, integer or string, as the node gave it. */
static void field(const char *label, const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    if (json_is_integer(v))
        printf("%-12s%" JSON_INTEGER_FORMAT "\n", label, json_integer_value(v));
    else
        printf("%-12s%s\n", label, str_or(v, "-"));
}

/* The payload as people read it: a membership change by the names the
 * node gives its fields in "data" ({"op","node","pubkey"}: in the payload
 * they are positions in an array), any other as decoded. --json keeps
 * payload_decoded as decoded, as scripts have read it. */
static json_t *shown_payload(const json_t *e, const char **why)
{
    const json_t *data = json_object_get(e, "data");
    const char *type = json_string_value(json_object_get(e, "type"));
    if (type && strcmp(type, "membership") == 0 && json_is_object(data)) {
        *why = NULL;
        return json_deep_copy(data);
    }
    return ctl_decode_payload(e, why);
}

/* The payload on one line: SUMMARY_MAX bytes and "...", cut as the node
 * cuts its texts (whole UTF-8 characters). */
static void payload_summary(const json_t *e, char *out, size_t len)
{
    const char *why;
    json_t *d = shown_payload(e, &why);
    char *s = d ? json_dumps(d, JSON_ENCODE_ANY | CTL_JSON_REAL) : NULL;
    size_t room = SUMMARY_MAX + sizeof("...");
    if (!s)
        snprintf(out, len, "%s", why && strcmp(why, "empty") == 0 ? "-" : "(undecodable)");
    else
        pl_cut_text(out, len < room ? len : room, s);
    free(s);
    json_decref(d);
}

static void print_tail_line(json_t *e, bool as_json)
{
    if (as_json) {
        print_entry_json(e, JSON_COMPACT);
        return;
    }
    char when[64], summary[SUMMARY_MAX + 16];
    ctl_iso_ms(json_object_get(e, "timestamp_ms"), true, when, sizeof when);
    payload_summary(e, summary, sizeof summary);
    printf("%-7" JSON_INTEGER_FORMAT "  %-5" JSON_INTEGER_FORMAT
           "  %-24s  %-15s  %-8s  %-*.*s  %s\n",
           json_integer_value(json_object_get(e, "index")),
           json_integer_value(json_object_get(e, "term")), when,
           str_or(json_object_get(e, "type"), "-"), str_or(json_object_get(e, "author"), "-"),
           SHORT_HASH, SHORT_HASH, str_or(json_object_get(e, "hash"), "-"), summary);
}

static void print_show(const json_t *e)
{
    char when[64];
    ctl_iso_ms(json_object_get(e, "timestamp_ms"), true, when, sizeof when);
    field("index:", e, "index");
    field("term:", e, "term");
    printf("type:       %s (%" JSON_INTEGER_FORMAT ")\n", str_or(json_object_get(e, "type"), "-"),
           json_integer_value(json_object_get(e, "type_code")));
    printf("time:       %s\n", when);
    field("author:", e, "author");
    field("hash:", e, "hash");
    field("prev_hash:", e, "prev_hash");
    const json_t *cp = json_object_get(e, "checkpoint");
    if (json_is_integer(cp))
        printf("checkpoint: covered by the checkpoint at index %" JSON_INTEGER_FORMAT "\n",
               json_integer_value(cp));
    else
        printf("checkpoint: not covered by a checkpoint yet\n");
    const char *why;
    json_t *d = shown_payload(e, &why);
    char *s = d ? json_dumps(d, JSON_ENCODE_ANY | JSON_INDENT(2) | CTL_JSON_REAL) : NULL;
    if (s) {
        /* A map or array spans lines: indent them under the first. */
        fputs("payload:    ", stdout);
        for (const char *c = s; *c; c++) {
            if (*c == '\n')
                fputs("\n            ", stdout);
            else
                putchar(*c);
        }
        putchar('\n');
    } else if (why && strcmp(why, "empty") == 0)
        printf("payload:    (empty)\n");
    else
        printf("payload:    (cannot decode: %s) %s\n", why ? why : "out of memory",
               str_or(json_object_get(e, "payload"), ""));
    free(s);
    json_decref(d);
}

/* ---- requests --------------------------------------------------------- */

/* GET path, expecting a JSON object with the member `need`. With report,
 * failures are explained on stderr. Returns an exit code; r is filled
 * either way (free it). */
static int get_object(struct ctl_client *cl, const char *path, const char *need, bool report,
                      struct ctl_reply *r)
{
    int rc = ctl_get(cl, path, r);
    int code = report                                ? ctl_check_reply(rc, r)
               : rc != 0 || !r->json                 ? CTL_FAILED
               : r->status < 200 || r->status >= 300 ? CTL_SERVER
                                                     : CTL_OK;
    if (code == CTL_OK && !json_object_get(r->json, need)) {
        if (report)
            fprintf(stderr, "chimeractl: node at %s sent an answer without \"%s\"\n",
                    ctl_client_addr(cl), need);
        code = CTL_FAILED;
    }
    return code;
}

/* GET /ledger?from=&limit=; *entries borrows from r. */
static int get_page(struct ctl_client *cl, uint64_t from, uint64_t limit, bool report,
                    struct ctl_reply *r, json_t **entries)
{
    char path[96];
    snprintf(path, sizeof path, "/ledger?from=%" PRIu64 "&limit=%" PRIu64, from,
             limit < PAGE_MAX ? limit : (uint64_t)PAGE_MAX);
    int code = get_object(cl, path, "entries", report, r);
    *entries = json_object_get(r->json, "entries");
    return code;
}

/* GET /ledger/head: its index, and its hash ("" for an empty ledger). */
static int get_head(struct ctl_client *cl, bool report, uint64_t *index,
                    char hash[2 * LEDGER_HASH_BYTES + 1])
{
    struct ctl_reply r;
    int code = get_object(cl, "/ledger/head", "index", report, &r);
    json_int_t ix = json_integer_value(json_object_get(r.json, "index"));
    *index = ix > 0 ? (uint64_t)ix : 0;
    snprintf(hash, 2 * LEDGER_HASH_BYTES + 1, "%s", str_or(json_object_get(r.json, "hash"), ""));
    ctl_reply_free(&r);
    return code;
}

static struct ctl_client *new_client(const struct ctl_opts *o)
{
    struct ctl_client *cl = ctl_client_new(o);
    if (!cl)
        fprintf(stderr, "chimeractl: cannot initialise the HTTP client\n");
    return cl;
}

/* ---- show ------------------------------------------------------------- */

static int show(const struct ctl_opts *o, int argc, char **argv)
{
    const char *arg = NULL;
    for (int i = 2; i < argc; i++) {
        if (argv[i][0] == '-' || arg)
            return ctl_bad_argument("ledger show", argv[i]);
        arg = argv[i];
    }
    unsigned long long index;
    if (!arg)
        return usage("show", "needs an entry INDEX", NULL);
    if (ctl_parse_ulong(arg, 1, UINT64_MAX, &index) != 0)
        return usage("show", "INDEX must be an entry index, 1 or more, got", arg);
    struct ctl_client *cl = new_client(o);
    if (!cl)
        return CTL_FAILED;
    struct ctl_reply r;
    json_t *entries;
    int rc = get_page(cl, index, 1, true, &r, &entries);
    json_t *e = json_array_get(entries, 0);
    if (rc == CTL_OK && !e) {
        fprintf(stderr,
                "chimeractl: ledger show: no entry at index %llu: the ledger of the node at %s "
                "ends at index %" JSON_INTEGER_FORMAT "\n",
                index, ctl_client_addr(cl),
                json_integer_value(json_object_get(r.json, "last_index")));
        rc = CTL_LEDGER_NO_ENTRY;
    } else if (rc == CTL_OK &&
               json_integer_value(json_object_get(e, "index")) != (json_int_t)index) {
        fprintf(stderr, "chimeractl: node at %s sent the wrong entry for index %llu\n",
                ctl_client_addr(cl), index);
        rc = CTL_FAILED;
    } else if (rc == CTL_OK && o->json) {
        print_entry_json(e, JSON_INDENT(2));
    } else if (rc == CTL_OK) {
        print_show(e);
    }
    ctl_reply_free(&r);
    ctl_client_free(cl);
    return rc;
}

/* ---- tail ------------------------------------------------------------- */

/* What tail has printed: the last index and, for the last RING indices,
 * their hashes (slot index % RING), to notice when the node replaced
 * entries already printed (an uncommitted suffix, dropped after a leader
 * change). hash "" means not known. */
struct printed {
    uint64_t last;
    struct {
        uint64_t index;
        char hash[2 * LEDGER_HASH_BYTES + 1];
    } ring[RING];
};

static const char *printed_hash(const struct printed *p, uint64_t index)
{
    if (index == 0 || p->ring[index % RING].index != index)
        return "";
    return p->ring[index % RING].hash;
}

/* Prints the entries after p->last up to `to` (UINT64_MAX: the node's last).
 * When p->last's hash is known the page starts there to check the link;
 * *diverged is set (and nothing printed) when it does not match. */
static int print_range(const struct ctl_opts *o, struct ctl_client *cl, struct printed *p,
                       uint64_t to, bool report, bool *diverged)
{
    *diverged = false;
    for (;;) {
        const char *link = printed_hash(p, p->last);
        uint64_t from = *link ? p->last : p->last + 1;
        if (from > to)
            return CTL_OK;
        struct ctl_reply r;
        json_t *entries, *e;
        int rc = get_page(cl, from, to - from + 1, report, &r, &entries);
        size_t i, got = 0;
        json_array_foreach(entries, i, e)
        {
            json_int_t ix = json_integer_value(json_object_get(e, "index"));
            const char *hash = str_or(json_object_get(e, "hash"), "");
            if (*link && i == 0) {
                if (ix != (json_int_t)p->last || strcmp(hash, link) != 0) {
                    *diverged = true;
                    break;
                }
                continue;
            }
            if (ix != (json_int_t)(p->last + 1)) {
                if (report)
                    fprintf(stderr,
                            "chimeractl: node at %s sent entry %" JSON_INTEGER_FORMAT
                            " where %" PRIu64 " was expected\n",
                            ctl_client_addr(cl), ix, p->last + 1);
                rc = CTL_FAILED;
                break;
            }
            print_tail_line(e, o->json);
            p->last = (uint64_t)ix;
            p->ring[ix % RING].index = (uint64_t)ix;
            snprintf(p->ring[ix % RING].hash, sizeof p->ring[0].hash, "%s", hash);
            got++;
        }
        if (*link && rc == CTL_OK && json_array_size(entries) == 0)
            *diverged = true; /* the node no longer holds what was printed last */
        ctl_reply_free(&r);
        fflush(stdout);
        if (rc != CTL_OK || *diverged || got == 0 || p->last >= to)
            return rc;
    }
}

/* The node's ledger no longer matches what was printed: finds the last
 * printed index it still holds (among the remembered ones), says so, and
 * makes printing resume after it. */
static int rewind_to_fork(struct ctl_client *cl, struct printed *p)
{
    uint64_t start = p->last > RING ? p->last - RING + 1 : 1;
    struct ctl_reply r;
    json_t *entries, *e;
    int rc = get_page(cl, start, p->last - start + 1, false, &r, &entries);
    if (rc != CTL_OK) {
        ctl_reply_free(&r);
        return rc;
    }
    uint64_t fork = start - 1;
    size_t i;
    json_array_foreach(entries, i, e)
    {
        json_int_t ix = json_integer_value(json_object_get(e, "index"));
        const char *mine = ix > 0 ? printed_hash(p, (uint64_t)ix) : "";
        if (ix != (json_int_t)(fork + 1) || !*mine ||
            strcmp(mine, str_or(json_object_get(e, "hash"), "")) != 0)
            break;
        fork = (uint64_t)ix;
    }
    ctl_reply_free(&r);
    fprintf(stderr,
            "chimeractl: the node at %s no longer holds entries %" PRIu64 "..%" PRIu64
            " as printed (an uncommitted suffix was replaced); printing its entries after %" PRIu64
            "\n",
            ctl_client_addr(cl), fork + 1, p->last, fork);
    for (uint64_t ix = fork + 1; ix <= p->last; ix++)
        p->ring[ix % RING].index = 0;
    p->last = fork;
    return CTL_OK;
}

static int follow_loop(const struct ctl_opts *o, struct ctl_client *cl, struct printed *p)
{
    bool down = false;
    while (!ctl_interrupted) {
        ctl_sleep_ms(FOLLOW_INTERVAL_MS);
        if (ctl_interrupted)
            break;
        uint64_t head;
        char hash[2 * LEDGER_HASH_BYTES + 1];
        bool diverged = false;
        int rc = get_head(cl, false, &head, hash);
        if (rc == CTL_OK && (head != p->last || strcmp(hash, printed_hash(p, head)) != 0))
            rc = print_range(o, cl, p, UINT64_MAX, false, &diverged);
        if (rc == CTL_OK && diverged)
            rc = rewind_to_fork(cl, p);
        if (ctl_interrupted)
            break;
        if (rc != CTL_OK && !down)
            fprintf(stderr, "chimeractl: lost contact with node at %s; retrying\n",
                    ctl_client_addr(cl));
        else if (rc == CTL_OK && down)
            fprintf(stderr, "chimeractl: reconnected to node at %s\n", ctl_client_addr(cl));
        down = rc != CTL_OK;
    }
    return CTL_OK;
}

static int tail(const struct ctl_opts *o, int argc, char **argv)
{
    unsigned long long n = TAIL_DEFAULT;
    bool follow = false;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *val = NULL;
        if (strcmp(a, "--follow") == 0 || strcmp(a, "-f") == 0) {
            follow = true;
            continue;
        }
        if (strncmp(a, "-n", 2) != 0)
            return ctl_bad_argument("ledger tail", a);
        val = a[2] ? a + 2 : i + 1 < argc ? argv[++i] : NULL; /* -n N or -nN */
        if (ctl_parse_ulong(val, 1, TAIL_MAX, &n) != 0)
            return usage("tail", "-n needs a number of entries from 1 to 1000000, got",
                         val ? val : "");
    }
    struct ctl_client *cl = new_client(o);
    if (!cl)
        return CTL_FAILED;
    if (follow) {
        /* Before the first request, so that Ctrl-C always ends cleanly. */
        ctl_catch_signals();
        ctl_client_set_cancel(cl, &ctl_interrupted);
    }
    static struct printed printed;
    struct printed *p = &printed;
    uint64_t head = 0;
    char hash[2 * LEDGER_HASH_BYTES + 1];
    int rc = get_head(cl, true, &head, hash);
    bool diverged;
    if (rc == CTL_OK) {
        if (!o->json)
            printf("%-7s  %-5s  %-24s  %-15s  %-8s  %-*s  %s\n", "INDEX", "TERM", "TIME", "TYPE",
                   "AUTHOR", SHORT_HASH, "HASH", "PAYLOAD");
        p->last = head > n ? head - n : 0;
        rc = print_range(o, cl, p, head, true, &diverged);
    }
    if (rc == CTL_OK && follow)
        rc = follow_loop(o, cl, p);
    if (rc != CTL_OK && follow && ctl_interrupted)
        rc = CTL_OK; /* Ctrl-C during the first requests */
    ctl_client_free(cl);
    return rc;
}

/* ---- head ------------------------------------------------------------- */

static void print_head(struct ctl_client *cl, const json_t *h)
{
    field("node:", h, "node");
    field("node key:", h, "node_pubkey");
    field("index:", h, "index");
    field("term:", h, "term");
    field("hash:", h, "hash");
    const json_t *cp = json_object_get(h, "checkpoint"), *s;
    const json_t *committed = json_object_get(h, "committed");
    const json_t *quorum = json_object_get(cp, "quorum");
    /* A node whose head lacks them reports them in its state. */
    struct ctl_reply r = {0};
    if ((!committed || (json_is_object(cp) && !quorum)) &&
        get_object(cl, "/federation/state", "ledger", false, &r) == CTL_OK) {
        committed =
            committed ? committed : json_object_get(json_object_get(r.json, "ledger"), "committed");
        quorum = quorum ? quorum : json_object_get(r.json, "quorum");
    }
    if (json_is_integer(committed))
        printf("committed:  %" JSON_INTEGER_FORMAT "\n", json_integer_value(committed));
    if (!json_is_object(cp)) {
        printf("checkpoint: none yet\n");
    } else {
        printf("checkpoint: index %" JSON_INTEGER_FORMAT ", term %" JSON_INTEGER_FORMAT
               ", origin %s\n",
               json_integer_value(json_object_get(cp, "index")),
               json_integer_value(json_object_get(cp, "term")),
               str_or(json_object_get(cp, "origin"), "-"));
        printf("  hash:      %s\n", str_or(json_object_get(cp, "head_hash"), "-"));
        const json_t *notarized = json_object_get(cp, "notarized");
        if (json_is_boolean(notarized))
            printf("  notarized: %s\n", json_is_true(notarized) ? "yes" : "no");
        /* The leader's signature first, then the witnesses' cosignatures. */
        const json_t *sigs = json_object_get(cp, "signatures");
        printf("  signed by: %zu", json_array_size(sigs));
        if (json_is_integer(quorum))
            printf(" (quorum %" JSON_INTEGER_FORMAT ")", json_integer_value(quorum));
        for (size_t i = 0; (s = json_array_get(sigs, i)) != NULL; i++)
            printf("%s%s%s", i ? ", " : ": ", str_or(json_object_get(s, "signer"), "?"),
                   i ? "" : " (leader)");
        putchar('\n');
    }
    ctl_reply_free(&r);
}

static int head(const struct ctl_opts *o, int argc, char **argv)
{
    if (argc > 2)
        return ctl_bad_argument("ledger head", argv[2]);
    struct ctl_client *cl = new_client(o);
    if (!cl)
        return CTL_FAILED;
    struct ctl_reply r;
    int rc = get_object(cl, "/ledger/head", "index", true, &r);
    if (rc == CTL_OK && o->json)
        json_dumpf(r.json, stdout, JSON_INDENT(2) | CTL_JSON_REAL), putchar('\n');
    else if (rc == CTL_OK)
        print_head(cl, r.json);
    ctl_reply_free(&r);
    ctl_client_free(cl);
    return rc;
}

/* ---- dispatch --------------------------------------------------------- */

int ctl_cmd_ledger_any(const struct ctl_opts *o, int argc, char **argv)
{
    static const char known[] = "known: show, tail, head, note, verify";
    if (argc < 2) {
        fprintf(stderr,
                "chimeractl: ledger: which ledger command? (%s; see chimeractl ledger --help)\n",
                known);
        return CTL_USAGE;
    }
    if (strcmp(argv[1], "show") == 0)
        return show(o, argc, argv);
    if (strcmp(argv[1], "tail") == 0)
        return tail(o, argc, argv);
    if (strcmp(argv[1], "head") == 0)
        return head(o, argc, argv);
    if (strcmp(argv[1], "note") == 0)
        return ctl_cmd_ledger_note(o, argc, argv);
    if (strcmp(argv[1], "verify") == 0)
        return ctl_cmd_ledger(o, argc, argv);
    return ctl_unknown_ledger_command(argv[1]);
}
