#include "lib/map.h"

#include <stdio.h>
#include <stdlib.h>

static size_t slot_of(uint64_t term, int32_t key, size_t cap)
{
    uint64_t x = term * 0x9e3779b97f4a7c15ULL ^ (uint64_t)(uint32_t)key * 0xc2b2ae3d27d4eb4fULL;
    x ^= x >> 31;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 29;
    return (size_t)(x & (cap - 1));
}

static void alloc_slots(struct tmap *m, size_t cap)
{
    m->e = malloc(cap * sizeof *m->e);
    if (!m->e) {
        fprintf(stderr, "sim: out of memory\n");
        abort();
    }
    for (size_t i = 0; i < cap; i++)
        m->e[i].key = INT32_MIN;
    m->cap = cap;
    m->len = 0;
}

void tmap_init(struct tmap *m)
{
    alloc_slots(m, 64);
}

void tmap_free(struct tmap *m)
{
    free(m->e);
    m->e = NULL;
    m->cap = m->len = 0;
}

int32_t *tmap_get(struct tmap *m, uint64_t term, int32_t key)
{
    for (size_t i = slot_of(term, key, m->cap);; i = (i + 1) & (m->cap - 1)) {
        struct tmap_ent *e = &m->e[i];
        if (e->key == INT32_MIN)
            return NULL;
        if (e->key == key && e->term == term)
            return &e->val;
    }
}

int32_t *tmap_put(struct tmap *m, uint64_t term, int32_t key, int32_t init, bool *added)
{
    int32_t *v = tmap_get(m, term, key);
    *added = v == NULL;
    if (v)
        return v;
    if (2 * (m->len + 1) > m->cap) {
        struct tmap old = *m;
        alloc_slots(m, old.cap * 2);
        for (size_t i = 0; i < old.cap; i++)
            if (old.e[i].key != INT32_MIN) {
                bool unused;
                *tmap_put(m, old.e[i].term, old.e[i].key, 0, &unused) = old.e[i].val;
            }
        free(old.e);
    }
    size_t i = slot_of(term, key, m->cap);
    while (m->e[i].key != INT32_MIN)
        i = (i + 1) & (m->cap - 1);
    m->e[i] = (struct tmap_ent){.term = term, .key = key, .val = init};
    m->len++;
    return &m->e[i].val;
}
