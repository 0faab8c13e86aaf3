#include "mon.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

bool mon_prometheus_required(void)
{
    const char *s = getenv("CHIMERA_REQUIRE_PROMETHEUS");
    return s && strcmp(s, "1") == 0;
}

bool mon_find_program(const char *name, char *out, size_t len)
{
    const char *path = getenv("PATH");
    if (!path || !*path)
        path = "/usr/local/bin:/usr/bin:/bin";
    while (*path) {
        size_t dlen = strcspn(path, ":");
        /* An empty entry is the current directory, which a test never means. */
        if (dlen > 0 && (size_t)snprintf(out, len, "%.*s/%s", (int)dlen, path, name) < len &&
            access(out, X_OK) == 0)
            return true;
        path += dlen + (path[dlen] == ':');
    }
    return false;
}

char *mon_source_file(const char *rel)
{
    char path[H_PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", CHIMERA_SOURCE_DIR, rel);
    char *text = h_read_file(path);
    if (!text)
        fprintf(stderr, "mon: cannot read %s\n", path);
    return text;
}

char *mon_http_get(int port, const char *path, int timeout_ms, long *status)
{
    /* The harness's HTTP client, with the server as a node of a cluster of
     * one: no second client to keep. */
    static struct h_cluster server = {.n = 1};
    snprintf(server.nodes[0].http_host, sizeof server.nodes[0].http_host, "127.0.0.1");
    server.nodes[0].http_port = port;
    return h_http_request(&server, 0, "GET", path, NULL, NULL, timeout_ms, status);
}

void mon_names_free(struct mon_names *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    *s = (struct mon_names){0};
}

bool mon_names_has(const struct mon_names *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i], name) == 0)
            return true;
    return false;
}

/* Adds the first len bytes of name unless the set has them already. */
static void names_add(struct mon_names *s, const char *name, size_t len)
{
    char *copy = strndup(name, len);
    if (!copy || mon_names_has(s, copy)) {
        free(copy);
        return;
    }
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 32;
        char **v = realloc(s->v, cap * sizeof *v);
        if (!v) {
            free(copy);
            return;
        }
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = copy;
}

/* A character of a metric name past its first. */
static bool name_char(char ch)
{
    return isalnum((unsigned char)ch) || ch == '_' || ch == ':';
}

void mon_names_referenced(const char *text, struct mon_names *refs)
{
    static const char prefix[] = "chimera_";
    for (const char *p = text; (p = strstr(p, prefix)) != NULL;) {
        /* Part of a longer word (say, a label value x_chimera_y): not a name. */
        bool inside = p > text && name_char(p[-1]);
        size_t len = 0;
        while (name_char(p[len]))
            len++;
        if (!inside)
            names_add(refs, p, len);
        p += len;
    }
}

void mon_names_exposed(const char *exposition, struct mon_names *names, struct mon_names *hist)
{
    for (const char *line = exposition; *line;) {
        size_t llen = strcspn(line, "\n");
        char type[16] = "";
        int name_at = 0, name_end = 0;
        if (sscanf(line, "# TYPE %n%*s%n %15s", &name_at, &name_end, type) == 1) {
            names_add(names, line + name_at, (size_t)(name_end - name_at));
            if (strcmp(type, "histogram") == 0 || strcmp(type, "summary") == 0)
                names_add(hist, line + name_at, (size_t)(name_end - name_at));
        } else if (llen > 0 && line[0] != '#') {
            size_t len = 0;
            while (len < llen && name_char(line[len]))
                len++;
            names_add(names, line, len);
        }
        line += llen + (line[llen] == '\n');
    }
}

/* name without a _bucket, _sum or _count suffix is a histogram's or a
 * summary's family. */
static bool histogram_part(const char *name, const struct mon_names *hist)
{
    static const char *const suffixes[] = {"_bucket", "_sum", "_count"};
    size_t len = strlen(name);
    for (size_t k = 0; k < sizeof suffixes / sizeof *suffixes; k++) {
        size_t slen = strlen(suffixes[k]);
        if (len > slen && strcmp(name + len - slen, suffixes[k]) == 0) {
            char *family = strndup(name, len - slen);
            bool found = family && mon_names_has(hist, family);
            free(family);
            if (found)
                return true;
        }
    }
    return false;
}

char *mon_names_missing(const struct mon_names *refs, const struct mon_names *names,
                        const struct mon_names *hist)
{
    char *list = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&list, &len);
    if (!f)
        return strdup("(out of memory)");
    bool any = false;
    for (size_t i = 0; i < refs->n; i++) {
        const char *r = refs->v[i];
        if (mon_names_has(names, r) || histogram_part(r, hist))
            continue;
        fprintf(f, "%s%s", any ? ", " : "", r);
        any = true;
    }
    fclose(f);
    if (!any) {
        free(list);
        return NULL;
    }
    return list;
}
