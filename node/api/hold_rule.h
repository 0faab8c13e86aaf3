/* Writes that arrive while this leader hands leadership over (§3.10): the
 * pure rule of api_hold.c. A write refused with a 503 during a transfer
 * sends a client into a back-off of its own choosing, for a hand-over
 * that takes milliseconds; a write held until the transfer ends can be
 * answered with a 307 to the new leader, which the client follows at once.
 * No loop, no sockets: unit-tested in tests/unit/test_hold_rule.c. */
#ifndef CHIMERA_NODE_API_HOLD_RULE_H
#define CHIMERA_NODE_API_HOLD_RULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* At most this many writes wait at once; past it, the old answer (503). */
#define API_HOLD_MAX 256

/* A mutation that passed the gate (token, read-only): what to do with it. */
enum api_hold_admit {
    API_HOLD_PASS, /* no transfer runs here: to its endpoint */
    API_HOLD_WAIT, /* held until the transfer ends */
    API_HOLD_FULL, /* a transfer runs, and API_HOLD_MAX wait already: 503 */
};
/* leader, transferring: this node's role and whether it hands over now;
 * held: how many wait. */
enum api_hold_admit api_hold_admit(bool leader, bool transferring, size_t held);

/* What becomes of a held write, asked after every turn of the loop. */
enum api_hold_fate {
    API_HOLD_KEEP,     /* the transfer runs (or no leader is known yet): wait on */
    API_HOLD_RETRY,    /* this node leads again (the transfer failed): to its endpoint */
    API_HOLD_REDIRECT, /* another member leads: 307 to it */
    API_HOLD_GIVE_UP,  /* limit_ms passed with no leader to send it to: 503 */
};
/* leader, transferring: as above; leader_known: another member is known to
 * lead (with its HTTP address); now_ms - since_ms: how long it waited;
 * limit_ms: at most that (an election timeout: a transfer ends by then). */
enum api_hold_fate api_hold_fate(bool leader, bool transferring, bool leader_known, uint64_t now_ms,
                                 uint64_t since_ms, uint64_t limit_ms);

#endif
