#include "node/net/transport_live.h"

static bool settled(const struct transport_live *l, uint64_t now, uint64_t stale_ms)
{
    return l->up && now - l->up_since >= stale_ms;
}

void transport_live_up(struct transport_live *l, uint64_t now)
{
    l->up = true;
    l->up_since = now;
    l->peer_redialed = false; /* ours is new too: the peer's redial is answered */
}

void transport_live_down(struct transport_live *l)
{
    l->up = false;
    l->peer_redialed = false;
}

bool transport_live_redial_on_heard(struct transport_live *l, uint64_t now, uint64_t min_ms)
{
    if (l->up || now < l->redial_at)
        return false;
    l->redial_at = now + min_ms;
    return true;
}

void transport_live_sent(struct transport_live *l, uint64_t now)
{
    l->sent = now;
}

void transport_live_heard(struct transport_live *l, uint32_t conn, uint64_t now, uint64_t stale_ms)
{
    /* A move while ours is young answers our own redial: not a sign. */
    if (l->heard_on != 0 && conn != l->heard_on && settled(l, now, stale_ms))
        l->peer_redialed = true;
    l->heard_on = conn;
    l->heard = now;
}

uint64_t transport_live_silent_ms(const struct transport_live *l, uint64_t now)
{
    uint64_t since = l->heard > l->up_since ? l->heard : l->up_since;
    return now > since ? now - since : 0;
}

enum transport_live_verdict transport_live_check(const struct transport_live *l, uint64_t now,
                                                 uint64_t stale_ms)
{
    if (!settled(l, now, stale_ms))
        return TRANSPORT_LIVE_KEEP;
    if (l->peer_redialed)
        return TRANSPORT_LIVE_PEER_REDIALED;
    /* Silent the whole window and still sending at its end: without
     * sending there is no conversation to judge (a fault dropping our
     * messages, an idle transport). */
    if (transport_live_silent_ms(l, now) >= stale_ms && l->sent != 0 && now - l->sent < stale_ms &&
        l->sent > l->heard)
        return TRANSPORT_LIVE_SILENT;
    return TRANSPORT_LIVE_KEEP;
}
