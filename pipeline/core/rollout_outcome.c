/* See rollout_outcome.h. */
#include "pipeline/core/rollout_outcome.h"

#include <string.h>

enum pl_outcome pl_record_outcome(const struct pl_state *s, const struct pl_record *r)
{
    const struct pl_deployment *a = s->active >= 0 ? &s->deps[s->active] : NULL;
    bool release = a && !a->rollback;
    bool this_one = release && strcmp(a->id, r->deployment) == 0;
    switch (r->kind) {
    case PL_REC_STABLE:
        return this_one ? PL_OUTCOME_STABLE : PL_OUTCOME_NONE;
    case PL_REC_FAILED:
        if (!this_one)
            return PL_OUTCOME_NONE;
        return a->release.policy.auto_revert && s->stable >= 0 ? PL_OUTCOME_ROLLED_BACK
                                                               : PL_OUTCOME_FAILED;
    case PL_REC_ROLLBACK:
        return release ? PL_OUTCOME_ABORTED : PL_OUTCOME_NONE;
    default:
        return PL_OUTCOME_NONE;
    }
}

enum pl_cause pl_rollback_cause(const struct pl_record *r)
{
    if (!r->automatic)
        return PL_CAUSE_MANUAL;
    if (strncmp(r->reason, "crash loop:", 11) == 0)
        return PL_CAUSE_CRASH_LOOP;
    /* The reason is the failure's own words, perhaps followed by a node's
     * detail: the pattern found first is the failure's. */
    static const struct {
        const char *text;
        enum pl_cause cause;
    } words[] = {
        {": a service crashed", PL_CAUSE_CRASHED},
        {": a service could not start", PL_CAUSE_START_FAILED},
        {"within the healthy deadline", PL_CAUSE_VERIFY_FAILED},
        {"the progress deadline", PL_CAUSE_PROGRESS_DEADLINE},
    };
    const char *first = NULL;
    enum pl_cause cause = PL_CAUSE_OTHER;
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        const char *at = strstr(r->reason, words[i].text);
        if (at && (!first || at < first)) {
            first = at;
            cause = words[i].cause;
        }
    }
    return cause;
}

const char *pl_outcome_name(enum pl_outcome o)
{
    static const char *const names[PL_OUTCOME_COUNT] = {"stable", "rolled_back", "failed",
                                                        "aborted"};
    return o >= 0 && o < PL_OUTCOME_COUNT ? names[o] : "none";
}

const char *pl_cause_name(enum pl_cause c)
{
    static const char *const names[PL_CAUSE_COUNT] = {
        "manual",        "crash_loop",        "crashed", "start_failed",
        "verify_failed", "progress_deadline", "other"};
    return c >= 0 && c < PL_CAUSE_COUNT ? names[c] : "other";
}
