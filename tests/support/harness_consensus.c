/* Test harness: consensus as the nodes report it (role, term, leader,
 * read-only mode), the waits built on it, and the mutation gate. See
 * harness.h. */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool h_view(const struct h_cluster *c, int i, int timeout_ms, struct h_view *v)
{
    long st;
    char *text = h_http_request(c, i, "GET", "/federation/state", NULL, NULL, timeout_ms, &st);
    json_t *s = text ? json_loads(text, 0, NULL) : NULL;
    free(text);
    const char *role = json_string_value(json_object_get(s, "role"));
    const json_t *term = json_object_get(s, "term");
    const json_t *leader = json_object_get(s, "leader");
    const json_t *ro = json_object_get(s, "read_only");
    const json_t *quorum = json_object_get(s, "quorum");
    bool ok = st == 200 && role && json_is_integer(term) && json_integer_value(term) >= 0 &&
              (json_is_string(leader) || json_is_null(leader)) && json_is_boolean(ro) &&
              json_is_integer(quorum);
    if (ok) {
        memset(v, 0, sizeof *v);
        snprintf(v->role, sizeof v->role, "%s", role);
        v->term = (unsigned long long)json_integer_value(term);
        if (json_is_string(leader))
            snprintf(v->leader, sizeof v->leader, "%s", json_string_value(leader));
        v->read_only = json_is_true(ro);
        v->quorum = (int)json_integer_value(quorum);
    }
    json_decref(s);
    return ok;
}

int h_node_index(const struct h_cluster *c, const char *id)
{
    for (int i = 0; i < c->n; i++)
        if (strcmp(c->nodes[i].id, id) == 0)
            return i;
    return -1;
}

bool h_agreed_among(struct h_cluster *c, const int *idx, int k, unsigned long long after_term,
                    int *leader, unsigned long long *term)
{
    struct h_view v[H_MAX_NODES];
    int lead = -1;
    if (k <= 0 || k > H_MAX_NODES)
        return false;
    for (int j = 0; j < k; j++) {
        if (!h_view(c, idx[j], 0, &v[j]) || v[j].read_only)
            return false;
        if (strcmp(v[j].role, "leader") == 0) {
            if (lead >= 0)
                return false; /* two leaders (in different terms): not settled */
            lead = j;
        }
    }
    if (lead < 0 || v[lead].term <= after_term)
        return false;
    const char *id = c->nodes[idx[lead]].id;
    for (int j = 0; j < k; j++) {
        if (v[j].term != v[lead].term || strcmp(v[j].leader, id) != 0)
            return false;
        if (j != lead && strcmp(v[j].role, "follower") != 0)
            return false;
    }
    if (leader)
        *leader = idx[lead];
    if (term)
        *term = v[lead].term;
    return true;
}

bool h_agreed(struct h_cluster *c, unsigned long long after_term, int *leader,
              unsigned long long *term)
{
    int up[H_MAX_NODES], k = 0;
    for (int i = 0; i < c->n; i++)
        if (h_node_up(c, i))
            up[k++] = i;
    return h_agreed_among(c, up, k, after_term, leader, term);
}

struct agreed_arg {
    struct h_cluster *c;
    const int *idx; /* NULL: the nodes that are up */
    int k;
    unsigned long long after;
    int leader;
    unsigned long long term;
};

static bool agreed_pred(void *arg)
{
    struct agreed_arg *a = arg;
    return a->idx ? h_agreed_among(a->c, a->idx, a->k, a->after, &a->leader, &a->term)
                  : h_agreed(a->c, a->after, &a->leader, &a->term);
}

static bool wait_agreed(struct agreed_arg *a, int timeout_ms, int *leader, unsigned long long *term)
{
    if (!h_wait_until(agreed_pred, a, timeout_ms))
        return false;
    if (leader)
        *leader = a->leader;
    if (term)
        *term = a->term;
    return true;
}

bool h_wait_agreed(struct h_cluster *c, unsigned long long after_term, int timeout_ms, int *leader,
                   unsigned long long *term)
{
    struct agreed_arg a = {c, NULL, 0, after_term, -1, 0};
    return wait_agreed(&a, timeout_ms, leader, term);
}

bool h_wait_agreed_among(struct h_cluster *c, const int *idx, int k, unsigned long long after_term,
                         int timeout_ms, int *leader, unsigned long long *term)
{
    struct agreed_arg a = {c, idx, k, after_term, -1, 0};
    return wait_agreed(&a, timeout_ms, leader, term);
}

int h_start_agreed(struct h_cluster *c, const char *who, unsigned long long *term)
{
    return h_start_agreed_within(c, who, h_timeout_ms(), term);
}

int h_start_agreed_within(struct h_cluster *c, const char *who, int agree_ms,
                          unsigned long long *term)
{
    if (h_cluster_start_all(c, h_timeout_ms(), who) != 0)
        return -1; /* h_cluster_start_all said why */
    int leader;
    if (!h_wait_agreed(c, 0, agree_ms, &leader, term)) {
        fprintf(stderr, "%s: no leader agreed: %s (logs in %s)\n", who, h_views_line(c), c->dir);
        return -1;
    }
    return leader;
}

const char *h_views_line(struct h_cluster *c)
{
    static char buf[H_MAX_NODES * 64];
    size_t off = 0;
    buf[0] = '\0';
    for (int i = 0; i < c->n && off < sizeof buf; i++) {
        struct h_view v;
        const char *sep = i ? " | " : "";
        if (!h_node_running(c, i))
            off += (size_t)snprintf(buf + off, sizeof buf - off, "%s%s down", sep, c->nodes[i].id);
        else if (c->nodes[i].paused)
            off +=
                (size_t)snprintf(buf + off, sizeof buf - off, "%s%s paused", sep, c->nodes[i].id);
        else if (!h_view(c, i, 0, &v))
            off += (size_t)snprintf(buf + off, sizeof buf - off, "%s%s no answer", sep,
                                    c->nodes[i].id);
        else
            off += (size_t)snprintf(buf + off, sizeof buf - off, "%s%s %s t%llu leader=%s ro=%d",
                                    sep, c->nodes[i].id, v.role, v.term,
                                    v.leader[0] ? v.leader : "-", v.read_only);
    }
    return buf;
}

struct ro_arg {
    struct h_cluster *c;
    const int *idx;
    int k;
    bool want;
};

static bool ro_pred(void *arg)
{
    struct ro_arg *a = arg;
    for (int j = 0; j < a->k; j++) {
        struct h_view v;
        if (!h_view(a->c, a->idx[j], 0, &v) || v.read_only != a->want)
            return false;
    }
    return true;
}

bool h_wait_read_only(struct h_cluster *c, const int *idx, int k, bool want, int timeout_ms)
{
    struct ro_arg a = {c, idx, k, want};
    return h_wait_until(ro_pred, &a, timeout_ms);
}

long h_mutation(const struct h_cluster *c, int i, const char *bearer, int timeout_ms, char **body)
{
    long st;
    char *text = h_http_request(c, i, "POST", "/ledger/notes", "{\"note\":\"harness probe\"}",
                                bearer, timeout_ms, &st);
    if (body)
        *body = text;
    else
        free(text);
    return st;
}

bool h_mutation_accepted(long status)
{
    return status > 0 && status != 401 && status != 403 && status < 500;
}
