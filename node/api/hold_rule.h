/* Writes that arrive while leadership is handed over (§3.10): the pure rule
 * of api_hold.c. A write refused with a 503 during a transfer sends a
 * client into a back-off of its own choosing, for a hand-over that takes
 * milliseconds; a held write is answered with a 307 to the next leader,
 * which the client follows at once. The 307 leaves as soon as the target
 * stands for election with this node's vote, not once it leads: the
 * client's round trip then overlaps the election, and the target holds the
 * write until it wins and takes it with its first entry (one commit for
 * both). No loop, no sockets: unit-tested in tests/unit/test_hold_rule.c. */
#ifndef CHIMERA_NODE_API_HOLD_RULE_H
#define CHIMERA_NODE_API_HOLD_RULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* At most this many writes wait at once; past it, the old answer (503). */
#define API_HOLD_MAX 256

/* What this node knows of a hand-over, when a write arrives or waits. */
struct api_hold_view {
    bool leader;       /* this node leads */
    bool transferring; /* ... and hands leadership over: its log stays put */
    /* This node stands for election because its leader handed over to it
     * (TIMEOUT_NOW): it leads within a vote's round trip, most likely. */
    bool standing;
    bool leader_known; /* another member leads, at a known HTTP address */
    /* This node handed over, and its target stands in the next term with
     * this node's vote (at a known HTTP address): where writes go now. */
    bool successor_known;
};

/* A mutation that passed the gate (token, read-only): what to do with it. */
enum api_hold_admit {
    API_HOLD_PASS, /* no hand-over concerns this node: to its endpoint */
    API_HOLD_WAIT, /* held until the hand-over decides its fate */
    API_HOLD_FULL, /* API_HOLD_MAX wait already: 503 */
};
/* held: how many wait. */
enum api_hold_admit api_hold_admit(const struct api_hold_view *v, size_t held);

/* What becomes of a held write, asked after every output of the Raft layer
 * and every turn of the loop. */
enum api_hold_fate {
    API_HOLD_KEEP,     /* the hand-over runs (or no leader is known yet): wait on */
    API_HOLD_RETRY,    /* this node leads (the transfer failed, or it won): to its endpoint */
    API_HOLD_REDIRECT, /* another member leads or stands as the successor: 307 to it */
    API_HOLD_GIVE_UP,  /* limit_ms passed with no leader to send it to: 503 */
};
/* now_ms - since_ms: how long it waited; limit_ms: at most that (an
 * election timeout: a transfer ends by then). */
enum api_hold_fate api_hold_fate(const struct api_hold_view *v, uint64_t now_ms, uint64_t since_ms,
                                 uint64_t limit_ms);

#endif
