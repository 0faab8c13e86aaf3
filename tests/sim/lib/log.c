/* The simulated shell's log: entries chained by a dependency-free 256-bit
 * hash, the read-only view the core reads older metadata through, and the
 * workload (leaders append client entries and their election no-op). */
#include "lib/sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* hash = H(prev_hash, term, payload): every output word depends on every
 * input word, so equal hashes imply equal prefixes (up to 64-bit
 * collisions, far beyond what a schedule creates). Not cryptographic, and it
 * does not need to be: nothing in the simulation forges. */
void log_hash(const uint8_t prev[CONS_HASH_BYTES], uint64_t term, uint64_t payload,
              uint8_t out[CONS_HASH_BYTES])
{
    uint64_t p[4], o[4];
    memcpy(p, prev, sizeof p);
    uint64_t acc = mix64(term * 0x9E3779B97F4A7C15ULL ^ mix64(payload + 0xD1B54A32D192ED03ULL));
    for (int j = 0; j < 4; j++)
        acc = mix64(acc ^ (p[j] + 0x8CB92BA72F3D8DD7ULL * (uint64_t)(j + 1)));
    for (int j = 0; j < 4; j++)
        o[j] = mix64(acc + 0xA0761D6478BD642FULL * (uint64_t)(j + 1));
    memcpy(out, o, sizeof o);
}

static const uint8_t zero_hash[CONS_HASH_BYTES];

const uint8_t *log_hash_at(const struct sim_log *l, uint64_t index)
{
    return index == 0 ? zero_hash : l->v[index - 1].e.hash;
}

static void reserve(struct sim_log *l, uint64_t len)
{
    if (len <= l->cap)
        return;
    uint64_t cap = l->cap ? l->cap : 64;
    while (cap < len)
        cap *= 2;
    struct sim_ent *v = realloc(l->v, cap * sizeof *v);
    if (!v) {
        fprintf(stderr, "sim: out of memory\n");
        abort();
    }
    l->v = v;
    l->cap = cap;
}

void log_push(struct sim_log *l, const struct sim_ent *e)
{
    reserve(l, l->len + 1);
    l->v[l->len++] = *e;
}

void log_cut(struct sim_log *l, uint64_t after)
{
    if (after < l->len)
        l->len = after;
}

/* dst takes src's entries from index from on (dst keeps those before). */
void log_copy(struct sim_log *dst, const struct sim_log *src, uint64_t from)
{
    if (from < 1)
        from = 1;
    reserve(dst, src->len);
    if (src->len >= from)
        memcpy(dst->v + (from - 1), src->v + (from - 1), (src->len - from + 1) * sizeof *dst->v);
    dst->len = src->len;
}

void log_free(struct sim_log *l)
{
    free(l->v);
    memset(l, 0, sizeof *l);
}

static int meta(void *ctx, uint64_t index, uint64_t *term, uint8_t hash[CONS_HASH_BYTES])
{
    const struct sim_log *l = &((const struct sim_node *)ctx)->mem;
    if (index < 1 || index > l->len)
        return -1;
    *term = l->v[index - 1].e.term;
    memcpy(hash, l->v[index - 1].e.hash, CONS_HASH_BYTES);
    return 0;
}

void log_attach(struct sim *s, int i)
{
    struct sim_node *nd = &s->nodes[i];
    nd->view = (struct cons_log){.ctx = nd, .meta = meta};
    struct cons_entry last = {0};
    if (nd->mem.len)
        last = nd->mem.v[nd->mem.len - 1].e;
    /* Raft does not persist the commit index (§3.8) and the simulation
     * models no checkpoints: every incarnation starts at 0. */
    cons_set_log(&nd->c, &nd->view, &last, 0);
    nd->commit = 0;
    nd->noop_term = 0;
}

static uint64_t new_payload(struct sim *s, bool noop)
{
    if (s->npayload == s->cappayload) {
        s->cappayload = s->cappayload ? 2 * s->cappayload : 1024;
        s->propose_at = realloc(s->propose_at, s->cappayload * sizeof *s->propose_at);
        if (!s->propose_at) {
            fprintf(stderr, "sim: out of memory\n");
            abort();
        }
    }
    s->propose_at[s->npayload] = noop ? NET_NEVER : s->now;
    return s->npayload++;
}

void log_leader_append(struct sim *s, int i, uint64_t count, bool noop, struct cons_entry *last)
{
    struct sim_node *nd = &s->nodes[i];
    uint64_t from = nd->mem.len + 1;
    log_leader_write(s, i, count, noop, last);
    /* Durable before the core hears of it (cons_appended's contract). */
    log_copy(&nd->disk, &nd->mem, from);
}

/* Slow syncs: written to mem only; the disk gets them when a sync returns
 * (cluster.c, sync_done). */
void log_leader_write(struct sim *s, int i, uint64_t count, bool noop, struct cons_entry *last)
{
    struct sim_node *nd = &s->nodes[i];
    uint64_t from = nd->mem.len + 1;
    for (uint64_t k = 0; k < count; k++) {
        struct sim_ent e = {.e = {.index = nd->mem.len + 1, .term = nd->c.term},
                            .payload = new_payload(s, noop)};
        log_hash(log_hash_at(&nd->mem, nd->mem.len), e.e.term, e.payload, e.e.hash);
        log_push(&nd->mem, &e);
    }
    *last = nd->mem.v[nd->mem.len - 1].e;
    if (noop)
        s->st.noops += count;
    else
        s->st.proposed += count;
    if (nd->mem.len > s->st.max_log)
        s->st.max_log = nd->mem.len;
    check_log_changed(s, i, from);
}

uint64_t log_next_batch(struct sim *s)
{
    const uint64_t pipeline = (uint64_t)CONS_MAX_BATCH * CONS_MAX_INFLIGHT;
    if (!s->burst_done && s->budget > pipeline + 100 && rng_chance(&s->rng, 50000)) {
        /* More than a follower's whole pipeline: exercises the window. */
        s->burst_done = true;
        s->st.bursts++;
        uint64_t n = rng_range(&s->rng, pipeline + 1, pipeline + 100);
        s->budget -= n;
        return n;
    }
    uint64_t n = rng_range(&s->rng, 1, 50);
    if (n > s->budget)
        n = s->budget;
    s->budget -= n;
    return n;
}

void log_free_all(struct sim *s)
{
    for (int i = 0; i < SIM_MAX_NODES; i++) {
        log_free(&s->nodes[i].mem);
        log_free(&s->nodes[i].disk);
    }
    log_free(&s->committed);
    free(s->propose_at);
    s->propose_at = NULL;
    s->npayload = s->cappayload = 0;
}
