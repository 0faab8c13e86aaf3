/* How chimeractl prints deployments for people: the plan a POST
 * /deployments answers (simulation, healing, certification), the list of
 * deployments, one deployment in detail, and the progress lines of a
 * deployment being watched. Only what the node sent is printed; a missing
 * field shows as "-". ASCII only, so that the output survives any terminal
 * and log collector. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl/ctl.h"

#define CELL 1024 /* holds a node's health detail whole (PL_DETAIL_MAX) */
#define MAX_COLS 8

static const char *str_or(const json_t *v, const char *dflt)
{
    const char *s = json_string_value(v);
    return s && *s ? s : dflt;
}

static const char *get_str(const json_t *obj, const char *key, const char *dflt)
{
    return str_or(json_object_get(obj, key), dflt);
}

void ctl_clock(char *buf, size_t len)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (!gmtime_r(&ts.tv_sec, &tm) || strftime(buf, len, "%H:%M:%S", &tm) == 0)
        snprintf(buf, len, "-");
}

void ctl_iso_ms(const json_t *ms, bool millis, char *buf, size_t len)
{
    json_int_t v = json_integer_value(ms);
    time_t secs = (time_t)(v / 1000);
    struct tm tm;
    size_t k;
    if (!json_is_integer(ms) || v <= 0 || !gmtime_r(&secs, &tm) ||
        (k = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm)) == 0) {
        snprintf(buf, len, "-");
        return;
    }
    if (millis)
        snprintf(buf + k, len - k, ".%03dZ", (int)(v % 1000));
    else
        snprintf(buf + k, len - k, "Z");
}

/* ---- tables ----------------------------------------------------------- */

/* Rows of cells, printed with every column as wide as its widest cell; the
 * last column is not padded. */
struct table {
    int ncols;
    size_t nrows, cap;
    char (*rows)[MAX_COLS][CELL];
};

static char (*table_row(struct table *t))[CELL]
{
    if (t->nrows == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 16;
        void *p = realloc(t->rows, cap * sizeof *t->rows);
        if (!p)
            return NULL;
        t->rows = p;
        t->cap = cap;
    }
    memset(t->rows[t->nrows], 0, sizeof t->rows[0]);
    return t->rows[t->nrows++];
}

static void table_print(struct table *t, const char *indent)
{
    size_t width[MAX_COLS] = {0};
    for (size_t r = 0; r < t->nrows; r++)
        for (int c = 0; c < t->ncols; c++)
            if (strlen(t->rows[r][c]) > width[c])
                width[c] = strlen(t->rows[r][c]);
    char line[MAX_COLS * (CELL + 2) + 64];
    for (size_t r = 0; r < t->nrows; r++) {
        size_t len = (size_t)snprintf(line, sizeof line, "%s", indent);
        for (int c = 0; c < t->ncols && len < sizeof line; c++)
            len += (size_t)snprintf(line + len, sizeof line - len, "%-*s  ",
                                    c == t->ncols - 1 ? 0 : (int)width[c], t->rows[r][c]);
        len = len < sizeof line ? len : sizeof line - 1;
        while (len > 0 && line[len - 1] == ' ')
            line[--len] = '\0'; /* no trailing blanks when the last cells are empty */
        printf("%s\n", line);
    }
    free(t->rows);
    memset(t, 0, sizeof *t);
}

/* ---- the plan --------------------------------------------------------- */

static void print_release(const json_t *rel)
{
    printf("release:        %s %s\n", get_str(rel, "name", "-"), get_str(rel, "version", "-"));
    const char *digest = get_str(rel, "digest", NULL);
    if (digest)
        printf("digest:         %s\n", digest);
}

static void print_simulation(const json_t *sim)
{
    const json_t *issues = json_object_get(sim, "issues"), *is;
    size_t n = json_array_size(issues), i;
    if (n == 0) {
        printf("simulation:     no issues\n");
        return;
    }
    printf("simulation:     %zu issue%s\n", n, n == 1 ? "" : "s");
    struct table t = {.ncols = 6};
    char(*row)[CELL] = table_row(&t);
    if (!row)
        return;
    static const char *const heads[] = {"SEVERITY", "NODE",     "SERVICE",
                                        "CODE",     "HEALABLE", "MESSAGE"};
    for (int c = 0; c < 6; c++)
        snprintf(row[c], CELL, "%s", heads[c]);
    json_array_foreach(issues, i, is)
    {
        if (!(row = table_row(&t)))
            break;
        snprintf(row[0], CELL, "%s", get_str(is, "severity", "-"));
        snprintf(row[1], CELL, "%s", get_str(is, "node", "-"));
        snprintf(row[2], CELL, "%s", get_str(is, "service", "-"));
        snprintf(row[3], CELL, "%s", get_str(is, "code", "-"));
        snprintf(row[4], CELL, "%s", json_is_true(json_object_get(is, "healable")) ? "yes" : "no");
        snprintf(row[5], CELL, "%s", get_str(is, "message", ""));
    }
    table_print(&t, "  ");
}

static void print_healing(const json_t *heal)
{
    const json_t *changes = json_object_get(heal, "changes"), *ch;
    json_int_t attempts = json_integer_value(json_object_get(heal, "attempts"));
    size_t n = json_array_size(changes), i;
    /* A dry run changes nothing: it lists what the real deploy would heal,
     * and its count of attempts is of healing that never ran. */
    const json_t *would = json_object_get(heal, "would_run"), *w;
    size_t nwould = json_array_size(would);
    if (nwould)
        printf("healing:        would run %zu action%s (a dry run heals nothing)\n", nwould,
               nwould == 1 ? "" : "s");
    else
        printf("healing:        %" JSON_INTEGER_FORMAT " attempt%s, %zu change%s\n", attempts,
               attempts == 1 ? "" : "s", n, n == 1 ? "" : "s");
    json_array_foreach(would, i, w)
    {
        printf("  would run:    %s on %s (service %s)\n", get_str(w, "action", "-"),
               get_str(w, "node", "-"), get_str(w, "service", "-"));
    }
    if (n == 0)
        return;
    struct table t = {.ncols = 4};
    char(*row)[CELL];
    json_array_foreach(changes, i, ch)
    {
        if (!(row = table_row(&t)))
            break;
        snprintf(row[0], CELL, "%s", json_is_true(json_object_get(ch, "ok")) ? "ok" : "FAILED");
        snprintf(row[1], CELL, "%s", get_str(ch, "node", "-"));
        snprintf(row[2], CELL, "%s", get_str(ch, "action", "-"));
        snprintf(row[3], CELL, "%s", get_str(ch, "detail", ""));
    }
    table_print(&t, "  ");
}

static void print_certification(const json_t *cert)
{
    if (!json_is_object(cert)) {
        printf("certification:  -\n");
        return;
    }
    bool ok = json_is_true(json_object_get(cert, "certified"));
    const json_t *links = json_object_get(cert, "links"), *l;
    size_t i, failed = 0;
    json_array_foreach(links, i, l)
    {
        failed += !json_is_true(json_object_get(l, "ok"));
    }
    if (ok)
        printf("certification:  certified, signed by %s\n", get_str(cert, "signer", "-"));
    else
        printf("certification:  NOT CERTIFIED (%zu failed link%s)\n", failed,
               failed == 1 ? "" : "s");
    struct table t = {.ncols = 3};
    char(*row)[CELL];
    json_array_foreach(links, i, l)
    {
        if (!(row = table_row(&t)))
            break;
        snprintf(row[0], CELL, "%s", json_is_true(json_object_get(l, "ok")) ? "ok" : "FAILED");
        snprintf(row[1], CELL, "%s", get_str(l, "name", "-"));
        snprintf(row[2], CELL, "%s", get_str(l, "detail", ""));
    }
    table_print(&t, "  ");
    if (ok && get_str(cert, "signature", NULL))
        printf("  signature:    %s\n", get_str(cert, "signature", "-"));
}

bool ctl_plan_certified_after_healing(const json_t *a)
{
    const json_t *cert = json_object_get(a, "certification"), *x;
    size_t i;
    if (json_is_true(json_object_get(cert, "certified")) ||
        json_array_size(json_object_get(json_object_get(a, "healing"), "would_run")) == 0)
        return false;
    json_array_foreach(json_object_get(cert, "links"), i, x)
    {
        const char *name = get_str(x, "name", "");
        if (!json_is_true(json_object_get(x, "ok")) && strcmp(name, "no_critical_issue") != 0 &&
            strcmp(name, "healing_ok") != 0)
            return false;
    }
    json_array_foreach(json_object_get(json_object_get(a, "simulation"), "issues"), i, x)
    {
        if (strcmp(get_str(x, "severity", ""), "critical") == 0 &&
            !json_is_true(json_object_get(x, "healable")))
            return false;
    }
    return true;
}

void ctl_print_plan(const json_t *a)
{
    if (json_object_get(a, "release"))
        print_release(json_object_get(a, "release"));
    print_simulation(json_object_get(a, "simulation"));
    print_healing(json_object_get(a, "healing"));
    print_certification(json_object_get(a, "certification"));
}

/* ---- the list --------------------------------------------------------- */

static bool same_id(const json_t *a, const json_t *b)
{
    const char *x = json_string_value(a), *y = json_string_value(b);
    if (x && y)
        return strcmp(x, y) == 0;
    return json_is_integer(a) && json_is_integer(b) &&
           json_integer_value(a) == json_integer_value(b);
}

/* An id as text: the API's ids are strings; an integer is accepted too. */
static void id_text(const json_t *id, char *buf, size_t len)
{
    if (json_is_integer(id))
        snprintf(buf, len, "%" JSON_INTEGER_FORMAT, json_integer_value(id));
    else
        snprintf(buf, len, "%s", str_or(id, "-"));
}

void ctl_print_deployments(const json_t *list)
{
    const json_t *cur = json_object_get(list, "current"), *stable = json_object_get(list, "stable");
    const json_t *deps = json_object_get(list, "deployments"), *d;
    size_t i;
    if (json_array_size(deps) == 0) {
        printf("no deployments yet\n");
        return;
    }
    struct table t = {.ncols = 6};
    char(*row)[CELL] = table_row(&t);
    if (!row)
        return;
    static const char *const heads[] = {"ID",    "RELEASE", "VERSION",
                                        "STAGE", "STARTED", "FINISHED / REASON"};
    for (int c = 0; c < 6; c++)
        snprintf(row[c], CELL, "%s", heads[c]);
    json_array_foreach(deps, i, d)
    {
        if (!(row = table_row(&t)))
            break;
        const json_t *id = json_object_get(d, "id"), *rel = json_object_get(d, "release");
        bool is_cur = same_id(id, cur), is_stable = same_id(id, stable);
        char ids[128], fin[64];
        id_text(id, ids, sizeof ids);
        snprintf(row[0], CELL, "%s%s", ids,
                 is_cur && is_stable ? " (current, stable)"
                 : is_cur            ? " (current)"
                 : is_stable         ? " (stable)"
                                     : "");
        snprintf(row[1], CELL, "%s", get_str(rel, "name", "-"));
        snprintf(row[2], CELL, "%s%s", get_str(rel, "version", "-"),
                 json_is_true(json_object_get(d, "rollback")) ? " (rollback)" : "");
        snprintf(row[3], CELL, "%s", get_str(d, "stage", "-"));
        ctl_iso_ms(json_object_get(d, "started_ms"), false, row[4], CELL);
        ctl_iso_ms(json_object_get(d, "finished_ms"), false, fin, sizeof fin);
        const char *reason = get_str(d, "reason", NULL);
        snprintf(row[5], CELL, "%s%s%s", fin, reason ? "  " : "", reason ? reason : "");
    }
    table_print(&t, "");
}

/* ---- one deployment --------------------------------------------------- */

/* The health shown for node n. A member the deployment passed over as down
 * shows "skipped (down)" while it is down, not its health: the leader holds
 * the last report it sent before it went down. Back ("member": "alive",
 * ctl_mark_members), it shows its health now and the skip as the past step
 * it was: "healthy (passed over while down)". True when the rest of n's
 * report (since when healthy, the detail) is that stale one. */
static bool health_text(const json_t *n, char *out, size_t len)
{
    const char *skipped = get_str(n, "skipped", NULL), *health = get_str(n, "health", "-");
    /* Down now, not passed over (yet): what the leader holds is the report
     * it sent before it went down. */
    bool down = strcmp(get_str(n, "member", ""), "dead") == 0;
    if (!skipped && down && strcmp(health, "unknown") != 0) {
        snprintf(out, len, "down (its last report: %s)", health);
        return true;
    }
    if (!skipped)
        snprintf(out, len, "%s", health);
    else if (strcmp(get_str(n, "member", ""), "alive") == 0)
        snprintf(out, len, "%s (passed over while %s)", health, skipped);
    else
        snprintf(out, len, "skipped (%s)", skipped);
    return skipped && strcmp(get_str(n, "member", ""), "alive") != 0;
}

bool ctl_deployment_skipped_some(const json_t *d)
{
    return json_array_size(json_object_get(d, "skipped")) > 0;
}

void ctl_mark_members(json_t *d, const json_t *state)
{
    const json_t *peers = json_object_get(state, "peers"), *p;
    json_t *n;
    size_t i, k;
    json_array_foreach(json_object_get(d, "nodes"), i, n)
    {
        if (!get_str(n, "skipped", NULL))
            continue;
        json_array_foreach(peers, k, p)
        {
            if (strcmp(get_str(p, "node", ""), get_str(n, "node", "-")) == 0 &&
                get_str(p, "status", NULL))
                json_object_set_new(n, "member", json_string(get_str(p, "status", NULL)));
        }
    }
}

static void print_nodes(const json_t *nodes)
{
    size_t i;
    const json_t *n;
    struct table t = {.ncols = 6};
    char(*row)[CELL] = table_row(&t);
    if (!row)
        return;
    static const char *const heads[] = {"NODE",   "DESIRED",       "RUNNING",
                                        "HEALTH", "HEALTHY-SINCE", "DETAIL"};
    for (int c = 0; c < 6; c++)
        snprintf(row[c], CELL, "%s", heads[c]);
    json_array_foreach(nodes, i, n)
    {
        if (!(row = table_row(&t)))
            break;
        snprintf(row[0], CELL, "%s", get_str(n, "node", "-"));
        snprintf(row[1], CELL, "%s", get_str(n, "desired", "-"));
        snprintf(row[2], CELL, "%s", get_str(n, "running", "-"));
        bool stale = health_text(n, row[3], CELL);
        ctl_iso_ms(stale ? NULL : json_object_get(n, "healthy_since_ms"), false, row[4], CELL);
        snprintf(row[5], CELL, "%s", stale ? "" : get_str(n, "detail", ""));
    }
    table_print(&t, "  ");
}

static void print_events(const json_t *events)
{
    size_t i;
    const json_t *e;
    struct table t = {.ncols = 3};
    char(*row)[CELL];
    json_array_foreach(events, i, e)
    {
        if (!(row = table_row(&t)))
            break;
        ctl_iso_ms(json_object_get(e, "time_ms"), false, row[0], CELL);
        snprintf(row[1], CELL, "%s", get_str(e, "kind", "-"));
        snprintf(row[2], CELL, "%s", get_str(e, "message", ""));
    }
    table_print(&t, "  ");
}

void ctl_print_deployment(const json_t *d)
{
    char buf[128];
    const json_t *rel = json_object_get(d, "release");
    id_text(json_object_get(d, "id"), buf, sizeof buf);
    printf("deployment:     %s%s\n", buf,
           json_is_true(json_object_get(d, "rollback")) ? " (rollback)" : "");
    print_release(rel);
    printf("stage:          %s\n", get_str(d, "stage", "-"));
    const json_t *target = json_object_get(d, "target");
    if (json_is_string(target) || json_is_integer(target)) {
        id_text(target, buf, sizeof buf);
        printf("target:         %s\n", buf);
    }
    ctl_iso_ms(json_object_get(d, "started_ms"), false, buf, sizeof buf);
    printf("started:        %s\n", buf);
    ctl_iso_ms(json_object_get(d, "finished_ms"), false, buf, sizeof buf);
    printf("finished:       %s\n", buf);
    printf("reason:         %s\n", get_str(d, "reason", "-"));
    if (json_is_integer(json_object_get(d, "waves")))
        printf("waves:          %" JSON_INTEGER_FORMAT "\n",
               json_integer_value(json_object_get(d, "waves")));
    const json_t *nodes = json_object_get(d, "nodes");
    printf("nodes:          %zu\n", json_array_size(nodes));
    if (json_array_size(nodes) > 0)
        print_nodes(nodes);
    const json_t *events = json_object_get(d, "events");
    printf("events:         %zu\n", json_array_size(events));
    if (json_array_size(events) > 0)
        print_events(events);
}

/* ---- progress --------------------------------------------------------- */

static const json_t *find_node(const json_t *d, const char *name)
{
    const json_t *nodes = json_object_get(d, "nodes"), *n;
    size_t i;
    json_array_foreach(nodes, i, n)
    {
        if (strcmp(get_str(n, "node", ""), name) == 0)
            return n;
    }
    return NULL;
}

static bool differs(const json_t *a, const json_t *b, const char *key)
{
    return !json_equal(json_object_get(a, key), json_object_get(b, key)) &&
           (json_object_get(a, key) || json_object_get(b, key));
}

static void emit_json(json_t *line, const json_t *d)
{
    if (!line)
        return;
    json_t *now = json_integer((json_int_t)time(NULL) * 1000);
    json_object_set_new(line, "time_ms", now);
    json_object_set(line, "id", json_object_get(d, "id"));
    json_dumpf(line, stdout, JSON_COMPACT | CTL_JSON_REAL);
    putchar('\n');
    json_decref(line);
}

/* The version of deployment `id`: d's own, or one in list; NULL if unknown. */
static const char *version_of(const char *id, const json_t *d, const json_t *list)
{
    if (strcmp(id, get_str(d, "id", "")) == 0 ||
        (json_is_true(json_object_get(d, "rollback")) && strcmp(id, get_str(d, "target", "")) == 0))
        return get_str(json_object_get(d, "release"), "version", NULL);
    const json_t *deps = json_object_get(list, "deployments"), *e;
    size_t i;
    json_array_foreach(deps, i, e)
    {
        if (strcmp(id, get_str(e, "id", "")) == 0)
            return get_str(json_object_get(e, "release"), "version", NULL);
    }
    return NULL;
}

/* A node's progress line as printed, after the time and the id. */
static void node_line(const json_t *n, const json_t *d, const json_t *list, char *out, size_t len)
{
    const char *detail = get_str(n, "detail", NULL);
    const char *running = get_str(n, "running", "-");
    const char *version = version_of(running, d, list);
    char health[96];
    if (health_text(n, health, sizeof health))
        detail = NULL;
    snprintf(out, len, "%-8s running %-12s health %s%s%s", get_str(n, "node", "-"),
             version ? version : running, health, detail ? "  " : "", detail ? detail : "");
}

bool ctl_progress_names_known(const json_t *d, const json_t *list)
{
    const json_t *nodes = json_object_get(d, "nodes"), *n;
    size_t i;
    json_array_foreach(nodes, i, n)
    {
        const char *running = get_str(n, "running", NULL);
        if (running && !version_of(running, d, list))
            return false;
    }
    return true;
}

void ctl_print_progress(json_t **last, const json_t *d, const json_t *list, bool as_json)
{
    char when[32], idbuf[128];
    ctl_clock(when, sizeof when);
    id_text(json_object_get(d, "id"), idbuf, sizeof idbuf);
    const json_t *prev = *last;
    if (!prev || differs(prev, d, "stage")) {
        const char *reason = get_str(d, "reason", NULL);
        if (as_json) {
            json_t *line =
                json_pack("{s:s, s:s}", "change", "stage", "stage", get_str(d, "stage", "-"));
            if (line && reason)
                json_object_set_new(line, "reason", json_string(reason));
            emit_json(line, d);
        } else {
            printf("%s  %s  stage %s%s%s\n", when, idbuf, get_str(d, "stage", "-"),
                   reason ? ": " : "", reason ? reason : "");
        }
    }
    const json_t *nodes = json_object_get(d, "nodes"), *n;
    size_t i;
    json_array_foreach(nodes, i, n)
    {
        const char *name = get_str(n, "node", "-");
        const json_t *was = prev ? find_node(prev, name) : NULL;
        if (was && !differs(was, n, "desired") && !differs(was, n, "running") &&
            !differs(was, n, "health") && !differs(was, n, "skipped") && !differs(was, n, "member"))
            continue;
        if (as_json) {
            json_t *line = json_deep_copy(n);
            if (line)
                json_object_set_new(line, "change", json_string("node"));
            emit_json(line, d);
            continue;
        }
        /* A change people cannot see (the desired deployment, whether the
         * member is known alive) would print the line before it again. */
        char line[4096], before[4096];
        node_line(n, d, list, line, sizeof line);
        if (was) {
            node_line(was, prev, list, before, sizeof before);
            if (strcmp(line, before) == 0)
                continue;
        }
        printf("%s  %s  %s\n", when, idbuf, line);
    }
    fflush(stdout);
    json_decref(*last);
    *last = json_deep_copy(d);
}
