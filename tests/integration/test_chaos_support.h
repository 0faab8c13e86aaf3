/* What the chaos integration tests (test_chaos*.c) share: POSTs with the
 * admin token, and the conditions they wait on (a chaos record in a node's
 * GET /chaos, a node's read-only mode). Include after cmocka.h and
 * harness.h. */
#ifndef CHIMERA_TEST_CHAOS_SUPPORT_H
#define CHIMERA_TEST_CHAOS_SUPPORT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* POST body to path on node i with the admin token: the answer's JSON
 * (NULL: none) and its status in *st. */
static inline json_t *chaos_post(struct h_cluster *c, int i, const char *path, const char *body,
                                 long *st)
{
    char *text = h_http_request(c, i, "POST", path, body, c->token, 0, st);
    json_t *j = text ? json_loads(text, 0, NULL) : NULL;
    free(text);
    return j;
}

/* For h_wait_until: node i's GET /chaos history holds a record of this
 * kind ("fault", "healed", ...) for fault id. */
struct chaos_seen {
    struct h_cluster *c;
    int i;
    const char *record;
    const char *id;
};

static inline bool chaos_has_record(void *arg)
{
    struct chaos_seen *s = arg;
    long st;
    json_t *j = h_http_get_json(s->c, s->i, "/chaos", &st);
    bool found = false;
    size_t k;
    json_t *r;
    json_array_foreach(json_object_get(j, "history"), k, r)
    {
        const char *rec = json_string_value(json_object_get(r, "record"));
        const char *id = json_string_value(json_object_get(r, "id"));
        found |= rec && id && strcmp(rec, s->record) == 0 && strcmp(id, s->id) == 0;
    }
    json_decref(j);
    return found;
}

/* For h_wait_until: node i says it is read-only (want) or not. */
struct chaos_ro {
    struct h_cluster *c;
    int i;
    bool want;
};

static inline bool chaos_read_only_is(void *arg)
{
    struct chaos_ro *r = arg;
    struct h_view v;
    return h_view(r->c, r->i, 0, &v) && v.read_only == r->want;
}

#endif
