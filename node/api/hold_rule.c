/* The rule of held writes (hold_rule.h). */
#include "node/api/hold_rule.h"

enum api_hold_admit api_hold_admit(bool leader, bool transferring, size_t held)
{
    if (!leader || !transferring)
        return API_HOLD_PASS;
    return held < API_HOLD_MAX ? API_HOLD_WAIT : API_HOLD_FULL;
}

enum api_hold_fate api_hold_fate(bool leader, bool transferring, bool leader_known, uint64_t now_ms,
                                 uint64_t since_ms, uint64_t limit_ms)
{
    bool late = now_ms >= since_ms && now_ms - since_ms >= limit_ms;
    if (leader && !transferring)
        return API_HOLD_RETRY;
    /* The target leads as soon as this node hears it (the transfer's end):
     * its address is the answer, whatever the limit says. */
    if (!leader && leader_known)
        return API_HOLD_REDIRECT;
    return late ? API_HOLD_GIVE_UP : API_HOLD_KEEP;
}
