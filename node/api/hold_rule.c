/* The rule of held writes (hold_rule.h). */
#include "node/api/hold_rule.h"

enum api_hold_admit api_hold_admit(const struct api_hold_view *v, size_t held)
{
    bool hand_over = v->leader ? v->transferring : v->standing || v->successor_known;
    if (!hand_over)
        return API_HOLD_PASS;
    return held < API_HOLD_MAX ? API_HOLD_WAIT : API_HOLD_FULL;
}

enum api_hold_fate api_hold_fate(const struct api_hold_view *v, uint64_t now_ms, uint64_t since_ms,
                                 uint64_t limit_ms)
{
    bool late = now_ms >= since_ms && now_ms - since_ms >= limit_ms;
    if (v->leader && !v->transferring)
        return API_HOLD_RETRY;
    /* The member that leads, or is about to, is the answer, whatever the
     * limit says. */
    if (!v->leader && (v->leader_known || v->successor_known))
        return API_HOLD_REDIRECT;
    return late ? API_HOLD_GIVE_UP : API_HOLD_KEEP;
}
