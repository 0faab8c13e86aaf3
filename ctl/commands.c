/* chimeractl commands: events, keygen (status is status.c's). Each parses its own options
 * (the global ones were already taken out by main.c) and returns an exit
 * code from enum ctl_exit. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "ctl/ctl.h"

#define FOLLOW_INTERVAL_MS 500
/* The node comments on an idle stream every 5 s: three missed is a dead
 * connection. */
#define STREAM_IDLE_MS 15000
#define EVENTS_MAX_LIMIT 1000ULL

static const char *str_or(const json_t *v, const char *dflt)
{
    const char *s = json_string_value(v);
    return s && *s ? s : dflt;
}

/* ---- events ---------------------------------------------------------- */

static void print_event(const json_t *e, bool as_json)
{
    if (as_json) {
        json_dumpf(e, stdout, JSON_COMPACT | CTL_JSON_REAL);
        putchar('\n');
        return;
    }
    printf("%-16" JSON_INTEGER_FORMAT "  %-24s  %-8s  %-26s  %s\n",
           json_integer_value(json_object_get(e, "seq")), str_or(json_object_get(e, "time"), "-"),
           str_or(json_object_get(e, "node"), "-"), str_or(json_object_get(e, "kind"), "-"),
           str_or(json_object_get(e, "message"), ""));
}

/* When the node behind --addr restarted, its sequence numbers start again at
 * 1; its boot instant (now minus uptime) tells us. Returns the estimate in
 * monotonic ms, or INT64_MIN when unknown. */
static int64_t node_boot(struct ctl_client *cl)
{
    struct ctl_reply r;
    int64_t boot = INT64_MIN;
    if (ctl_get(cl, "/federation/state", &r) == 0 && r.status == 200) {
        json_t *up = json_object_get(r.json, "uptime_ms");
        if (json_is_integer(up))
            boot = ctl_mono_ms() - (int64_t)json_integer_value(up);
    }
    ctl_reply_free(&r);
    return boot;
}

struct follow {
    bool has_since;
    unsigned long long since;
    unsigned long long limit;
    bool follow;
    bool header_done;
    json_int_t boot; /* the node's boot epoch its events name (0: none yet) */
};

/* One event: moves the cursor past it, says when it comes from a new run
 * of the node, and prints it (unless the cursor is already past it). */
static void take_event(const struct ctl_opts *o, struct follow *f, const json_t *e)
{
    json_t *seq = json_object_get(e, "seq");
    if (json_is_integer(seq) && json_integer_value(seq) > 0) {
        unsigned long long s = (unsigned long long)json_integer_value(seq);
        if (f->has_since && s <= f->since)
            return; /* the server already filters; this guards a restart race */
        f->since = s;
        f->has_since = true;
    }
    /* Events name the run of the node that raised them; numbers
     * continue across runs, so the cursor stays valid. */
    json_t *b = json_object_get(e, "boot");
    if (f->follow && json_is_integer(b)) {
        if (f->boot && json_integer_value(b) != f->boot)
            fprintf(stderr, "chimeractl: node restarted; following its new events\n");
        f->boot = json_integer_value(b);
    }
    print_event(e, o->json);
}

/* Fetches and prints one batch. Returns CTL_OK, or the failure's exit code
 * (already reported when report is set). *got is the batch size. */
static int fetch_batch(const struct ctl_opts *o, struct ctl_client *cl, struct follow *f,
                       bool report, size_t *got)
{
    char path[128];
    if (f->has_since)
        snprintf(path, sizeof path, "/events?limit=%llu&since=%llu", f->limit, f->since);
    else
        snprintf(path, sizeof path, "/events?limit=%llu", f->limit);
    struct ctl_reply r;
    int rc = ctl_get(cl, path, &r);
    int code;
    if (report) {
        code = ctl_check_reply(rc, &r);
    } else {
        code = rc != 0                             ? CTL_UNREACHABLE
               : r.status < 200 || r.status >= 300 ? CTL_SERVER
               : !r.json                           ? CTL_UNREACHABLE
                                                   : CTL_OK;
    }
    if (code == CTL_OK && !json_is_array(r.json)) {
        if (report)
            fprintf(stderr, "chimeractl: node at %s sent events that are not an array\n",
                    ctl_client_addr(cl));
        code = CTL_UNREACHABLE;
    }
    *got = 0;
    if (code == CTL_OK) {
        if (!o->json && !f->header_done) {
            /* A number is the boot epoch times 2^20 plus a count: 16 digits. */
            printf("%-16s  %-24s  %-8s  %-26s  %s\n", "SEQ", "TIME", "NODE", "KIND", "MESSAGE");
            f->header_done = true;
        }
        size_t i;
        json_t *e;
        json_array_foreach(r.json, i, e) take_event(o, f, e);
        *got = json_array_size(r.json);
        fflush(stdout);
    }
    if (rc != 0 && ctl_interrupted)
        code = CTL_OK;
    ctl_reply_free(&r);
    return code;
}

static int follow_loop(const struct ctl_opts *o, struct ctl_client *cl, struct follow *f)
{
    ctl_catch_signals();
    ctl_client_set_cancel(cl, &ctl_interrupted);

    int64_t boot = node_boot(cl);
    bool down = false;
    while (!ctl_interrupted) {
        size_t got;
        int rc = fetch_batch(o, cl, f, false, &got);
        if (ctl_interrupted)
            break;
        if (rc != CTL_OK) {
            if (!down) {
                fprintf(stderr, "chimeractl: lost contact with node at %s; retrying\n",
                        ctl_client_addr(cl));
                down = true;
            }
            ctl_sleep_ms(FOLLOW_INTERVAL_MS);
            continue;
        }
        if (down) {
            down = false;
            fprintf(stderr, "chimeractl: reconnected to node at %s\n", ctl_client_addr(cl));
            int64_t now_boot = node_boot(cl);
            /* More than a second apart cannot be measurement noise. */
            if (now_boot != INT64_MIN && boot != INT64_MIN && llabs(now_boot - boot) > 1000) {
                fprintf(stderr, "chimeractl: node restarted; following its new events\n");
                f->since = 0; /* a node whose numbers restarted at 1 */
                f->boot = 0;  /* said once */
            }
            boot = now_boot;
        }
        /* A full batch means more are waiting: fetch them now. */
        if (got < f->limit)
            ctl_sleep_ms(FOLLOW_INTERVAL_MS);
    }
    return CTL_OK;
}

/* ---- --follow over GET /events/stream (Server-Sent Events) ---- */

struct stream_follow {
    const struct ctl_opts *o;
    struct ctl_client *cl;
    struct follow *f;
    struct ctl_sse sse;
    bool opened; /* the node sent something */
    bool *down;  /* contact was lost: say so when it is back */
};

static void on_stream_event(void *arg, const char *id, const char *data)
{
    (void)id; /* the same as the data's seq, which take_event follows */
    struct stream_follow *sf = arg;
    json_t *e = json_loads(data, 0, NULL);
    if (json_is_object(e))
        take_event(sf->o, sf->f, e);
    json_decref(e);
}

static bool on_stream_data(void *arg, const char *p, size_t n)
{
    struct stream_follow *sf = arg;
    if (!sf->opened) {
        sf->opened = true;
        if (*sf->down)
            fprintf(stderr, "chimeractl: reconnected to node at %s\n", ctl_client_addr(sf->cl));
        *sf->down = false;
    }
    int rc = ctl_sse_feed(&sf->sse, p, n, on_stream_event, sf);
    fflush(stdout);
    return rc == 0 && !ctl_interrupted;
}

/* Follows the node's stream from f->since, reconnecting (from the last
 * event printed: Last-Event-ID) until Ctrl-C. A node without the stream
 * (404: an older version) is polled instead. */
static int follow_stream(const struct ctl_opts *o, struct ctl_client *cl, struct follow *f)
{
    ctl_catch_signals();
    ctl_client_set_cancel(cl, &ctl_interrupted);
    bool down = false;
    while (!ctl_interrupted) {
        char last[64];
        snprintf(last, sizeof last, "Last-Event-ID: %llu", f->since);
        const char *const headers[] = {last, NULL};
        struct stream_follow sf = {.o = o, .cl = cl, .f = f, .down = &down};
        struct ctl_reply r;
        int rc = ctl_stream(cl, "/events/stream", headers, STREAM_IDLE_MS, on_stream_data, &sf, &r);
        ctl_sse_free(&sf.sse);
        bool refused = rc == 0 && (r.status < 200 || r.status >= 300);
        if (ctl_interrupted || (refused && r.status == 404)) {
            ctl_reply_free(&r);
            return ctl_interrupted ? CTL_OK : follow_loop(o, cl, f);
        }
        if (!down && refused)
            fprintf(stderr, "chimeractl: node at %s answered %ld: %s; retrying\n",
                    ctl_client_addr(cl), r.status,
                    r.json ? str_or(json_object_get(r.json, "error"), "") : "");
        else if (!down)
            fprintf(stderr, "chimeractl: lost contact with node at %s; retrying\n",
                    ctl_client_addr(cl));
        down = true;
        ctl_reply_free(&r);
        ctl_sleep_ms(FOLLOW_INTERVAL_MS);
    }
    return CTL_OK;
}

int ctl_cmd_events(const struct ctl_opts *o, int argc, char **argv)
{
    struct follow f = {.limit = 50};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = NULL;
        /* -n N or -nN, as ledger tail's */
        bool is_n = a[0] == '-' && a[1] == 'n' && (a[2] == '\0' || (a[2] >= '0' && a[2] <= '9'));
        bool is_limit = is_n || (strncmp(a, "--limit", 7) == 0 && (a[7] == '\0' || a[7] == '='));
        bool is_since = strncmp(a, "--since", 7) == 0 && (a[7] == '\0' || a[7] == '=');
        if (is_limit || is_since) {
            if (is_n && a[2])
                val = a + 2;
            else if (!is_n && a[7] == '=')
                val = a + 8;
            else if (i + 1 < argc)
                val = argv[++i];
            else {
                fprintf(stderr, "chimeractl: events: %s needs a value\n", a);
                return CTL_USAGE;
            }
            unsigned long long v;
            if (is_limit && ctl_parse_ulong(val, 1, EVENTS_MAX_LIMIT, &v) != 0) {
                fprintf(stderr, "chimeractl: events: %s must be a number from 1 to %llu\n",
                        is_n ? "-n" : "--limit", EVENTS_MAX_LIMIT);
                return CTL_USAGE;
            }
            if (is_since && ctl_parse_ulong(val, 0, UINT64_MAX, &v) != 0) {
                fprintf(stderr, "chimeractl: events: --since must be an event sequence number\n");
                return CTL_USAGE;
            }
            if (is_limit)
                f.limit = v;
            else
                f.since = v, f.has_since = true;
        } else if (strcmp(a, "--follow") == 0 || strcmp(a, "-f") == 0) {
            f.follow = true;
        } else {
            return ctl_bad_argument("events", a);
        }
    }
    struct ctl_client *cl = ctl_client_new(o);
    if (!cl) {
        fprintf(stderr, "chimeractl: cannot initialise the HTTP client\n");
        return CTL_UNREACHABLE;
    }
    size_t got;
    int rc = fetch_batch(o, cl, &f, true, &got);
    if (rc == CTL_OK && f.follow) {
        /* With no events yet, "everything after 0" is exactly what follows. */
        f.has_since = true;
        rc = follow_stream(o, cl, &f);
    }
    ctl_client_free(cl);
    return rc;
}

/* ---- keygen ---------------------------------------------------------- */

static int write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, buf, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        buf += w;
        len -= (size_t)w;
    }
    return 0;
}

int ctl_cmd_keygen(const struct ctl_opts *o, int argc, char **argv)
{
    (void)o;
    const char *out = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--out") == 0 && i + 1 < argc)
            out = argv[++i];
        else if (strncmp(argv[i], "--out=", 6) == 0 && argv[i][6])
            out = argv[i] + 6;
        else if (strcmp(argv[i], "--out") == 0) {
            fprintf(stderr, "chimeractl: keygen: missing file after '--out' (see chimeractl "
                            "keygen --help)\n");
            return CTL_USAGE;
        } else
            return ctl_bad_argument("keygen", argv[i]);
    }
    if (sodium_init() < 0) {
        fprintf(stderr, "chimeractl: keygen: libsodium failed to initialise\n");
        return CTL_UNREACHABLE;
    }
    unsigned char key[32];
    char hex[2 * sizeof key + 2];
    randombytes_buf(key, sizeof key);
    sodium_bin2hex(hex, sizeof hex - 1, key, sizeof key);
    strcat(hex, "\n");
    sodium_memzero(key, sizeof key);

    int rc = CTL_OK;
    if (!out) {
        fputs(hex, stdout);
        if (fflush(stdout) != 0) {
            fprintf(stderr, "chimeractl: keygen: cannot write the key: %s\n", strerror(errno));
            rc = CTL_UNREACHABLE;
        }
    } else {
        /* O_EXCL: a cluster key is never overwritten by accident, and the
         * file never exists with looser permissions, even briefly. */
        int fd = open(out, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0) {
            if (errno == EEXIST)
                fprintf(stderr, "chimeractl: keygen: %s already exists; refusing to overwrite it\n",
                        out);
            else
                fprintf(stderr, "chimeractl: keygen: cannot create %s: %s\n", out, strerror(errno));
            rc = CTL_UNREACHABLE;
        } else {
            int bad = write_all(fd, hex, strlen(hex)) != 0 || fsync(fd) != 0;
            int saved = errno;
            if (close(fd) != 0 && !bad)
                bad = 1, saved = errno;
            if (bad) {
                fprintf(stderr, "chimeractl: keygen: cannot write %s: %s\n", out, strerror(saved));
                unlink(out); /* a half-written key must not be mistaken for one */
                rc = CTL_UNREACHABLE;
            }
        }
    }
    sodium_memzero(hex, sizeof hex);
    return rc;
}
