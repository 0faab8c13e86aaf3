/* Consensus: Raft leader election (Ongaro's dissertation, ch. 3 and 9) with
 * pre-vote (§9.6), check-quorum (§6.2) and leader stickiness (§4.2.3).
 *
 * The core is pure: it never reads a clock, draws randomness from the
 * platform, or does I/O. The shell feeds it events (time passed, a message
 * arrived) with the current time, and performs what it returns in
 * struct cons_out: persist the term and vote FIRST (written and fsynced),
 * then send the messages. The same code runs in chimerad and in the
 * deterministic whole-cluster simulation (tests/sim).
 *
 * Members are numbered 0..n-1 (the order of the configuration); the shell
 * maps ids to numbers. The log is not replicated yet: the core is told the
 * last log index and term so the vote restriction (§3.6.1) is already in
 * place for when the ledger arrives. */
#ifndef CHIMERA_CONSENSUS_H
#define CHIMERA_CONSENSUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONS_MAX_MEMBERS 16
#define CONS_NONE (-1)
/* Enough for one broadcast plus replies. */
#define CONS_MAX_OUT (2 * CONS_MAX_MEMBERS)

enum cons_role { CONS_FOLLOWER = 0, CONS_PRECANDIDATE, CONS_CANDIDATE, CONS_LEADER };

enum cons_msg_type {
    CONS_MSG_PREVOTE = 1, /* "would you vote for me in term+1?" (§9.6) */
    CONS_MSG_PREVOTE_RESP,
    CONS_MSG_VOTE, /* RequestVote */
    CONS_MSG_VOTE_RESP,
    CONS_MSG_HEARTBEAT, /* AppendEntries with no entries */
    CONS_MSG_HEARTBEAT_RESP,
    CONS_MSG_TYPE_END
};

struct cons_msg {
    enum cons_msg_type type;
    int32_t from, to;        /* member numbers */
    uint64_t term;           /* PREVOTE: the term the sender would stand in */
    uint64_t last_log_index; /* PREVOTE, VOTE */
    uint64_t last_log_term;  /* PREVOTE, VOTE */
    bool granted;            /* PREVOTE_RESP, VOTE_RESP */
};

struct cons_config {
    int32_t self;                 /* this node's member number */
    int32_t n;                    /* number of voting members, 1..CONS_MAX_MEMBERS */
    uint32_t heartbeat_ms;        /* leader heartbeat interval */
    uint32_t election_timeout_ms; /* T: timeouts are drawn from [T, 2T) */
};

/* What must survive a restart: written and fsynced before any message that
 * depends on it is sent (§3.8). */
struct cons_persist {
    uint64_t term;
    int32_t voted_for; /* CONS_NONE or a member number */
};

struct cons_out {
    bool persist; /* term or vote changed: persist before sending */
    struct cons_persist state;
    struct cons_msg msgs[CONS_MAX_OUT];
    size_t nmsgs;
};

struct cons {
    struct cons_config cfg;
    enum cons_role role;
    uint64_t term;
    int32_t voted_for;
    int32_t leader;               /* CONS_NONE when unknown */
    uint64_t election_deadline;   /* follower/candidate: start an election at this time */
    uint64_t heartbeat_due;       /* leader: next heartbeat broadcast */
    uint64_t last_leader_contact; /* follower: last time the leader was heard */
    bool heard_leader;
    uint64_t quorum_check_due;           /* leader: next check-quorum */
    uint64_t last_ack[CONS_MAX_MEMBERS]; /* leader: last response from each member */
    bool acked[CONS_MAX_MEMBERS];
    bool votes[CONS_MAX_MEMBERS]; /* (pre)candidate: who granted */
    uint64_t last_log_index, last_log_term;
    uint64_t rng; /* seeded by the shell; splitmix64 state */
};

/* Starts as a follower in the persisted term with a randomized election
 * deadline. seed feeds the election-timeout randomization. */
void cons_init(struct cons *c, const struct cons_config *cfg, const struct cons_persist *p,
               uint64_t now_ms, uint64_t seed);

/* Time has reached now_ms: fire whatever is due (election, heartbeat,
 * check-quorum). Clears and fills *out. */
void cons_tick(struct cons *c, uint64_t now_ms, struct cons_out *out);

/* A message arrived at now_ms. Messages with bad fields (from out of range,
 * to != self, unknown type) are ignored. Clears and fills *out. */
void cons_recv(struct cons *c, uint64_t now_ms, const struct cons_msg *m, struct cons_out *out);

/* The earliest time cons_tick has something to do. */
uint64_t cons_next_deadline(const struct cons *c);

/* Read-only mode: true when this node knows no quorum-backed leader. A
 * follower (or candidate) is read-only when no leader is known or its leader
 * has been silent for an election timeout. A leader is read-only as soon as
 * it has not heard from a majority (itself included) within the last
 * election timeout, and check-quorum then makes it step down. */
bool cons_read_only(const struct cons *c, uint64_t now_ms);

/* The majority: n / 2 + 1. */
int32_t cons_quorum(const struct cons *c);

const char *cons_role_name(enum cons_role r);

/* Wire form of a message, as the body of an envelope: a msgpack array
 * [type, term, last_log_index, last_log_term, granted]. from and to come from
 * the envelope. encode returns the bytes in a malloc'ed buffer. decode checks
 * every type and returns 0, or -1 for a malformed body. */
int cons_msg_encode(const struct cons_msg *m, uint8_t **out, size_t *len);
struct msgpack_object;
int cons_msg_decode(const struct msgpack_object *body, struct cons_msg *m);

#endif
