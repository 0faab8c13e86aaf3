#include "lib/net.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void net_heal_links(struct net *net)
{
    for (int a = 0; a < net->n; a++)
        for (int b = 0; b < net->n; b++)
            net->link[a][b] = true;
}

void net_init(struct net *net, int n)
{
    memset(net, 0, sizeof *net);
    net->n = n;
    net_heal_links(net);
    for (int a = 0; a < NET_MAX_NODES; a++)
        for (int b = 0; b < NET_MAX_NODES; b++)
            net->down_since[a][b] = NET_NEVER;
    net->lat_min = 1;
    net->lat_max = 20;
}

void net_msg_free(struct net_msg *nm)
{
    free(nm->ents);
    free(nm->payloads);
    nm->ents = NULL;
    nm->payloads = NULL;
}

void net_free(struct net *net)
{
    for (size_t i = 0; i < net->len; i++)
        net_msg_free(&net->q[i]);
    free(net->q);
    net->q = NULL;
    net->len = net->cap = 0;
}

static bool before(const struct net_msg *a, const struct net_msg *b)
{
    return a->at < b->at || (a->at == b->at && a->seq < b->seq);
}

static void swap(struct net_msg *a, struct net_msg *b)
{
    struct net_msg t = *a;
    *a = *b;
    *b = t;
}

static void sift_down(struct net_msg *q, size_t len, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < len && before(&q[l], &q[m]))
            m = l;
        if (r < len && before(&q[r], &q[m]))
            m = r;
        if (m == i)
            return;
        swap(&q[i], &q[m]);
        i = m;
    }
}

static void *dup_or_die(const void *p, size_t len)
{
    void *q = malloc(len ? len : 1);
    if (!q) {
        fprintf(stderr, "sim: out of memory\n");
        abort();
    }
    memcpy(q, p, len);
    return q;
}

void net_push(struct net *net, uint64_t at, uint32_t inc, const struct cons_msg *m,
              const struct cons_entry *ents, const uint64_t *payloads)
{
    if (net->len == net->cap) {
        size_t cap = net->cap ? 2 * net->cap : 256;
        struct net_msg *q = realloc(net->q, cap * sizeof *q);
        if (!q) {
            fprintf(stderr, "sim: out of memory\n");
            abort();
        }
        net->q = q;
        net->cap = cap;
    }
    size_t i = net->len++;
    net->q[i] = (struct net_msg){.at = at, .seq = net->seq++, .inc = inc, .m = *m};
    net->q[i].m.entries = NULL;
    if (ents) {
        net->q[i].ents = dup_or_die(ents, m->n_entries * sizeof *ents);
        net->q[i].payloads = dup_or_die(payloads, m->n_entries * sizeof *payloads);
    }
    while (i > 0 && before(&net->q[i], &net->q[(i - 1) / 2])) {
        swap(&net->q[i], &net->q[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
}

uint64_t net_next(const struct net *net)
{
    return net->len ? net->q[0].at : NET_NEVER;
}

void net_pop(struct net *net, struct net_msg *out)
{
    *out = net->q[0];
    net->q[0] = net->q[--net->len];
    sift_down(net->q, net->len, 0);
}

size_t net_purge_to(struct net *net, int node)
{
    size_t kept = 0, lost;
    for (size_t i = 0; i < net->len; i++)
        if (net->q[i].m.to != node)
            net->q[kept++] = net->q[i];
        else
            net_msg_free(&net->q[i]);
    lost = net->len - kept;
    net->len = kept;
    for (size_t i = kept / 2; i-- > 0;)
        sift_down(net->q, net->len, i);
    return lost;
}

void net_refresh(struct net *net, const bool *up, uint64_t now)
{
    for (int a = 0; a < net->n; a++)
        for (int b = 0; b < net->n; b++) {
            if (a == b)
                continue;
            if (net->link[a][b] && up[b])
                net->down_since[a][b] = NET_NEVER;
            else if (net->down_since[a][b] == NET_NEVER)
                net->down_since[a][b] = now;
        }
}

bool net_fresh(const struct net *net, int a, int b, uint64_t window, uint64_t now)
{
    uint64_t d = net->down_since[a][b];
    return d == NET_NEVER || d + window > now;
}

uint32_t net_latency(const struct net *net, struct rng *r)
{
    if (rng_chance(r, net->spike_ppm))
        return (uint32_t)rng_range(r, net->lat_max, NET_D_MAX);
    return (uint32_t)rng_range(r, net->lat_min, net->lat_max);
}

void net_notice(struct net *net, const struct net_notice *nt)
{
    if (net->nnotes == NET_MAX_NOTICES)
        return;
    net->notes[net->nnotes] = *nt;
    net->notes[net->nnotes++].seq = net->seq++;
}

static size_t earliest_notice(const struct net *net)
{
    size_t best = 0;
    for (size_t i = 1; i < net->nnotes; i++)
        if (net->notes[i].at < net->notes[best].at ||
            (net->notes[i].at == net->notes[best].at && net->notes[i].seq < net->notes[best].seq))
            best = i;
    return best;
}

uint64_t net_notice_next(const struct net *net)
{
    return net->nnotes ? net->notes[earliest_notice(net)].at : NET_NEVER;
}

void net_notice_pop(struct net *net, struct net_notice *out)
{
    size_t i = earliest_notice(net);
    *out = net->notes[i];
    net->notes[i] = net->notes[--net->nnotes];
}
