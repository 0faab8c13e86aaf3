#include "node/base/peers.h"

#include <stdio.h>
#include <string.h>

void peers_init(struct peers *p, const struct config *c, uint64_t now_ms)
{
    memset(p, 0, sizeof(*p));
    p->suspect_after_ms = c->suspect_after_ms;
    p->dead_after_ms = c->dead_after_ms;
    for (size_t i = 0; i < c->nmembers && i < CONFIG_MAX_MEMBERS; i++) {
        struct peer *m = &p->m[p->n++];
        snprintf(m->id, sizeof(m->id), "%s", c->members[i].id);
        snprintf(m->address, sizeof(m->address), "%s", c->members[i].url);
        if (strcmp(m->id, c->id) == 0) {
            m->self = true;
            m->heard = true;
            m->status = PEER_ALIVE;
            m->last_contact = now_ms;
            /* A configuration built by hand (tests) may leave it empty. */
            snprintf(m->http, sizeof(m->http), "%s",
                     c->advertise_http[0] ? c->advertise_http : c->http);
            p->self = i;
        }
    }
}

int peers_find(const struct peers *p, const char *id)
{
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->m[i].id, id) == 0)
            return (int)i;
    return -1;
}

static enum peer_status status_at(const struct peers *p, const struct peer *m, uint64_t now_ms)
{
    if (m->self)
        return PEER_ALIVE;
    if (!m->heard)
        return PEER_DEAD;
    uint64_t age = now_ms >= m->last_contact ? now_ms - m->last_contact : 0;
    if (age <= p->suspect_after_ms)
        return PEER_ALIVE;
    if (age <= p->dead_after_ms)
        return PEER_SUSPECT;
    return PEER_DEAD;
}

static bool update(struct peers *p, size_t idx, uint64_t now_ms, struct peer_change *chg)
{
    struct peer *m = &p->m[idx];
    enum peer_status next = status_at(p, m, now_ms);
    if (next == m->status)
        return false;
    chg->idx = idx;
    chg->from = m->status;
    chg->to = next;
    m->status = next;
    return true;
}

bool peers_heard(struct peers *p, size_t idx, uint64_t now_ms, struct peer_change *chg)
{
    struct peer *m = &p->m[idx];
    m->heard = true;
    if (now_ms > m->last_contact)
        m->last_contact = now_ms;
    return update(p, idx, now_ms, chg);
}

size_t peers_tick(struct peers *p, uint64_t now_ms, struct peer_change *out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < p->n && n < max; i++)
        if (update(p, i, now_ms, &out[n]))
            n++;
    return n;
}

int64_t peers_age_ms(const struct peers *p, size_t idx, uint64_t now_ms)
{
    const struct peer *m = &p->m[idx];
    if (m->self)
        return 0;
    if (!m->heard)
        return -1;
    return now_ms >= m->last_contact ? (int64_t)(now_ms - m->last_contact) : 0;
}

void peers_sent(struct peers *p, size_t idx, bool hello, uint64_t now_ms)
{
    struct peer *m = &p->m[idx];
    if (hello)
        m->wants_answer = false;
    else if (now_ms > m->sent_ms)
        m->sent_ms = now_ms;
}

void peers_hello_heard(struct peers *p, size_t idx, const struct peer_hello *h, uint64_t own_boot)
{
    struct peer *m = &p->m[idx];
    m->legacy = !h->has_handshake;
    m->knows_us = h->has_handshake && h->knows == own_boot;
    m->wants_answer = h->has_handshake && h->wants_answer;
}

bool peers_hello_wants_answer(const struct peers *p, size_t idx)
{
    return !p->m[idx].knows_us;
}

bool peers_hello_due(const struct peers *p, size_t idx, uint64_t now_ms, uint32_t heartbeat_ms)
{
    const struct peer *m = &p->m[idx];
    if (m->self)
        return false;
    if (m->legacy || !m->knows_us || m->wants_answer || m->sent_ms == 0)
        return true;
    uint64_t quiet = (uint64_t)heartbeat_ms + heartbeat_ms / 2;
    return now_ms >= m->sent_ms + quiet;
}

const char *peer_status_name(enum peer_status s)
{
    switch (s) {
    case PEER_ALIVE:
        return "alive";
    case PEER_SUSPECT:
        return "suspect";
    case PEER_DEAD:
        return "dead";
    }
    return "dead";
}
