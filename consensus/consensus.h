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
 * maps ids to numbers.
 *
 * Log replication (§3.5): the log is the ledger. The core knows entries
 * only by their metadata (index, term, hash); the bytes stay in the shell,
 * which fills APPEND messages from its log and verifies what it receives
 * before handing the metadata in. The core reads older metadata through a
 * small read-only view (struct cons_log), and every change to the log is an
 * action in struct cons_out that the shell performs durably (fsynced)
 * BEFORE it sends the messages of the same cons_out: persist before
 * acknowledge. Consistency is checked on (prev index, prev hash): the hash
 * covers the whole chain, so a match proves the whole prefix matches. */
#ifndef CHIMERA_CONSENSUS_H
#define CHIMERA_CONSENSUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONS_MAX_MEMBERS 16
#define CONS_NONE (-1)
/* Enough for one broadcast plus replies. */
#define CONS_MAX_OUT (2 * CONS_MAX_MEMBERS)
#define CONS_HASH_BYTES 32
#define CONS_SIG_BYTES 64
/* Most entries one APPEND carries, and most APPENDs in flight to one
 * follower (pipelining): throughput is not one round trip per entry. */
#define CONS_MAX_BATCH 256
#define CONS_MAX_INFLIGHT 4

enum cons_role { CONS_FOLLOWER = 0, CONS_PRECANDIDATE, CONS_CANDIDATE, CONS_LEADER };

enum cons_msg_type {
    CONS_MSG_PREVOTE = 1, /* "would you vote for me in term+1?" (§9.6) */
    CONS_MSG_PREVOTE_RESP,
    CONS_MSG_VOTE, /* RequestVote */
    CONS_MSG_VOTE_RESP,
    CONS_MSG_HEARTBEAT, /* AppendEntries with no entries */
    CONS_MSG_HEARTBEAT_RESP,
    CONS_MSG_APPEND, /* AppendEntries carrying entries prev_index+1 .. prev_index+n_entries */
    CONS_MSG_APPEND_RESP,
    /* The leader hands over (§3.10): the receiver, whose log the leader
     * knows to be as long as its own, stands for election at once. */
    CONS_MSG_TIMEOUT_NOW,
    CONS_MSG_TYPE_END
};

/* An entry as the core knows it. */
struct cons_entry {
    uint64_t index, term;
    uint8_t hash[CONS_HASH_BYTES];
};

/* Read-only view of this node's log, for entries older than the last one
 * (the core keeps the last entry's metadata itself). meta returns 0 and
 * fills term and hash for 1 <= index <= last index, or -1. Index 0 is the
 * empty prefix: term 0, all-zero hash (answered by the core, not asked). */
struct cons_log {
    void *ctx;
    int (*meta)(void *ctx, uint64_t index, uint64_t *term, uint8_t hash[CONS_HASH_BYTES]);
};

struct cons_msg {
    enum cons_msg_type type;
    int32_t from, to;        /* member numbers */
    uint64_t term;           /* PREVOTE: the term the sender would stand in */
    uint64_t last_log_index; /* PREVOTE, VOTE */
    uint64_t last_log_term;  /* PREVOTE, VOTE */
    bool granted;            /* PREVOTE_RESP, VOTE_RESP; APPEND_RESP: success */
    /* VOTE: the candidate stands because its leader sent it TIMEOUT_NOW
     * (§3.10), so voters disregard their leader lease (§4.2.3). On the wire
     * it travels in granted's place, which a VOTE does not use. */
    bool transfer;
    /* HEARTBEAT: a commit push (cons_flush), sent between the interval's
     * heartbeats: the follower applies the commit and does not answer. Its
     * answers to the interval's heartbeats and to APPENDs keep the
     * leader's acks (check-quorum, §6.2) as fresh as before; an answer
     * here only doubled the messages of every commit. On the wire in
     * granted's place, which a HEARTBEAT does not use, so a follower of an
     * earlier version answers it as it answers any heartbeat. */
    bool quiet;
    /* HEARTBEAT, APPEND: the leader's commit index (a HEARTBEAT carries at
     * most what the follower is known to match, so it never commits an
     * unverified entry). */
    uint64_t commit;
    /* APPEND: the entry before the carried ones. APPEND_RESP: the
     * prev_index of the APPEND it answers (echoed, so that the leader can
     * tell an answer to its current pipeline from a late one). */
    uint64_t prev_index;
    uint8_t prev_hash[CONS_HASH_BYTES];
    /* APPEND: how many entries; in a message the core emits, the shell reads
     * entries prev_index+1 .. prev_index+n_entries from its log and sends
     * their bytes. In a message handed to cons_recv, entries points to their
     * metadata (the shell computed the hashes from the bytes it verified). */
    uint32_t n_entries;
    const struct cons_entry *entries;
    /* APPEND_RESP: on success the last index now known to match the leader;
     * on failure a hint, the follower's last index (when it is behind) or an
     * index before the conflict (see follow.c), so the leader can back
     * off in one step instead of one entry per round trip. */
    uint64_t match_index;
    /* APPEND: the leader's Ed25519 signature over the statement of the last
     * carried entry (ledger/sign.h), which through the hash chain covers
     * every carried entry. The core never reads or writes it: the shell
     * signs what it sends and verifies what it receives before the core
     * sees it (a witness acknowledges nothing it has not verified). */
    bool has_sig;
    uint8_t sig[CONS_SIG_BYTES];
};

struct cons_config {
    int32_t self;                 /* this node's member number */
    int32_t n;                    /* number of voting members, 1..CONS_MAX_MEMBERS */
    uint32_t heartbeat_ms;        /* leader heartbeat interval */
    uint32_t election_timeout_ms; /* T: timeouts are drawn from [T, 2T) */
    /* An APPEND sent to a follower while another to it is unanswered
     * carries at least this many entries (replicate.c: has_work); 0, or
     * anything above CONS_MAX_BATCH, means CONS_MAX_BATCH; 1 pipelines
     * whatever there is. */
    uint32_t batch_min;
};

/* What must survive a restart: written and fsynced before any message that
 * depends on it is sent (§3.8). */
struct cons_persist {
    uint64_t term;
    int32_t voted_for; /* CONS_NONE or a member number */
};

enum cons_transfer_end { CONS_TRANSFER_NONE = 0, CONS_TRANSFER_DONE, CONS_TRANSFER_FAILED };

struct cons_out {
    bool persist; /* term or vote changed: persist before sending */
    struct cons_persist state;
    /* Follower log changes, to make durable before sending msgs, in this
     * order: if truncate, drop every entry after truncate_after (never a
     * committed one); then append append_count entries of the APPEND being
     * handled, starting at its entries[append_from]. */
    bool truncate;
    uint64_t truncate_after;
    uint32_t append_from, append_count;
    /* The commit index, when it advanced in this call (else 0): entries up
     * to it are committed and may be acknowledged to clients. */
    uint64_t commit;
    /* The disk refused a write earlier (cons_storage_failed): test whether
     * it takes one again (a small write and sync) and, if it does, say so
     * with cons_storage_ok. A failed probe needs no call. */
    bool probe_storage;
    /* A leadership transfer (cons_transfer) ended in this call: done (its
     * target leads in a newer term) or failed (why says how; a leader that
     * is still one takes proposals again). NONE otherwise. */
    enum cons_transfer_end transfer_end;
    int32_t transfer_target;
    const char *transfer_why;
    /* A pre-vote started in this call ahead of the election timeout because
     * the connection to lost_leader, this node's leader, dropped
     * (cons_peer_lost). */
    bool lost_prevote;
    int32_t lost_leader;
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
    /* A planned hand-over (§3.10) runs: not read-only before this time,
     * though no leader is known (cons_read_only, cons_handing_over). */
    uint64_t handover_until;
    uint64_t quorum_check_due;           /* leader: next check-quorum */
    uint64_t last_ack[CONS_MAX_MEMBERS]; /* leader: last response from each member */
    bool acked[CONS_MAX_MEMBERS];
    bool votes[CONS_MAX_MEMBERS]; /* (pre)candidate: who granted */
    uint64_t last_log_index, last_log_term;
    uint8_t last_log_hash[CONS_HASH_BYTES];
    uint64_t commit; /* highest index known committed */
    /* The commit index before the call that emitted log changes (a
     * follower's truncate or append), valid until the next call: if the disk
     * refuses those changes, the commit index goes back to it. */
    uint64_t commit_undo;
    bool commit_undo_set;
    struct cons_log log;
    uint64_t next_index[CONS_MAX_MEMBERS];  /* leader: next entry to send each member */
    uint64_t match_index[CONS_MAX_MEMBERS]; /* leader: highest entry known to match */
    uint32_t inflight[CONS_MAX_MEMBERS];    /* leader: APPENDs awaiting an answer */
    /* leader: prev_index of the first APPEND (the head) of the current
     * pipeline to each member, i.e. where next_index was last set back to
     * (minus one); see replicate.c for which refusals move it. */
    uint64_t pipe_base[CONS_MAX_MEMBERS];
    /* leader: since the last heartbeat, an APPEND_RESP came from the member
     * or entries were sent to it (its pipeline is not stuck). */
    bool rep_live[CONS_MAX_MEMBERS];
    bool probing[CONS_MAX_MEMBERS]; /* leader: paused until the probe is answered */
    /* leader: the lowest prev_index of a refused APPEND after the head of
     * the current pipeline (UINT64_MAX: none). */
    uint64_t refused_lo[CONS_MAX_MEMBERS];
    /* leader: match_index when a drained pipeline was last restarted in
     * this heartbeat interval (UINT64_MAX: none); see replicate.c. */
    uint64_t drain_match[CONS_MAX_MEMBERS];
    uint64_t rng; /* seeded by the shell; splitmix64 state */
    /* The disk refused a write (cons_storage_failed) and none has succeeded
     * since: the node stands for no election. */
    bool storage_failed;
    uint64_t storage_probe_at;   /* when cons_tick next asks for a probe */
    uint64_t storage_backoff_ms; /* the wait after that probe */
    /* leader: the commit index each follower was last sent, as far as it
     * can apply it (capped by what it is known to match); cons_flush pushes
     * a newer one. */
    uint64_t commit_told[CONS_MAX_MEMBERS];
    /* leader: the commit index last sent to each follower in a commit
     * notice (replicate.c, send_commit_notice). */
    uint64_t commit_noticed[CONS_MAX_MEMBERS];
    bool commit_push; /* leader: the commit index advanced since cons_flush */
    /* Leadership transfer (§3.10), from cons_transfer until it ends (done or
     * failed, reported in a cons_out): the target, the term it started in
     * and when it gives up (one election timeout later). */
    int32_t transfer_to; /* CONS_NONE: no transfer running */
    uint64_t transfer_term;
    uint64_t transfer_deadline;
    /* Connection loss (cons_peer_lost): the connection to each member is
     * down as the shell last said, and since when. early_for: the leader
     * whose lost connection brought election_deadline forward (CONS_NONE:
     * none), early_saved the deadline it replaced; early pre-votes are
     * spaced by early_gap_ms (doubling while the term stays early_term). */
    bool link_down[CONS_MAX_MEMBERS];
    uint64_t link_lost_at[CONS_MAX_MEMBERS];
    int32_t early_for;
    uint64_t early_saved, early_not_before, early_gap_ms, early_term;
    bool early_running; /* this node's pre-vote round is an early one */
    /* Durability apart from the log's end (§10.2.1; cons_set_async_sync):
     * the log is durable up to synced; a follower's APPEND_RESP that
     * acknowledges beyond it waits in held (oldest first) until
     * cons_synced covers it. */
    bool async_sync;
    uint64_t synced;
    struct cons_msg held[CONS_MAX_INFLIGHT + 4]; /* a pipeline's answers, a probe's */
    uint32_t nheld;
};

/* ---- writing apart from syncing (§10.2.1) -------------------------------
 * By default a log change counts as durable once the shell performed the
 * cons_out that asked for it (it writes and syncs before sending). With
 * async sync on, the shell may send before its sync returns:
 *   - a leader tells the core what it wrote (cons_written): the core sends
 *     it to followers at once, but counts its own match only up to what
 *     cons_synced said is durable, so a commit still needs a majority of
 *     durable copies;
 *   - a follower writes an APPEND's entries without waiting for the disk;
 *     its APPEND_RESP, when it acknowledges entries beyond what is durable,
 *     is held by the core and emitted by the cons_synced that covers it
 *     (dropped if the term changed or the entries were cut meanwhile).
 * Term and vote, and truncation, stay durable before anything is sent. */
void cons_set_async_sync(struct cons *c, bool on);

/* Leader only: entries of the current term up to *last are written (not
 * yet durable). The core replicates them; it counts them as its own match
 * only at cons_synced. Ignored unless leader, last->term == term and
 * last->index is beyond the log's end. Clears and fills *out. */
void cons_written(struct cons *c, uint64_t now_ms, const struct cons_entry *last,
                  struct cons_out *out);

/* The log is durable up to index (the shell's sync returned; never beyond
 * what was written before that sync began, and never beyond a truncation
 * made since). A leader counts it as its own match and may commit; a
 * follower emits the held answers it covers. Clears and fills *out. */
void cons_synced(struct cons *c, uint64_t now_ms, uint64_t index, struct cons_out *out);

/* Starts as a follower in the persisted term with a randomized election
 * deadline and an empty log. seed feeds the election-timeout randomization. */
void cons_init(struct cons *c, const struct cons_config *cfg, const struct cons_persist *p,
               uint64_t now_ms, uint64_t seed);

/* Tells the core about the log it starts with (after cons_init, before any
 * event): the last entry and the commit index known durable (0 if unknown;
 * Raft does not persist it, §3.8, but a notarized checkpoint proves it). */
void cons_set_log(struct cons *c, const struct cons_log *log, const struct cons_entry *last,
                  uint64_t commit);

/* Leader only: the shell has durably appended entries of the current term
 * (clients' entries; the entry recording its election, which is also the
 * no-op of §8) up to *last. The core counts them as its own match, sends
 * APPENDs to followers with room in their pipelines, and may advance the
 * commit index (a single-node federation commits at once). Clears and
 * fills *out. Ignored (out empty) unless leader, last->term == term and
 * last->index is beyond the last entry it was told of. */
void cons_appended(struct cons *c, uint64_t now_ms, const struct cons_entry *last,
                   struct cons_out *out);

/* The shell saw member restart (its boot epoch changed). Raft assumes a
 * log survives restarts (§3.8); a node whose data was wiped, or restored
 * from an older backup, breaks that, and a leader that kept its old match
 * index for it would resend from there forever. So a leader starts over
 * with that member as with a new follower (§3.5) and the next probe finds
 * where its log really ends. Never uncommits anything: commit only grows. */
void cons_peer_restarted(struct cons *c, int32_t member);

/* The shell could not make durable what it was asked to: the term and
 * vote or a log change of a cons_out (it then sent none of that out's
 * messages), or a leader's own append (it told the core nothing). The write
 * failed and was undone (the disk is full, say): the files still hold p and
 * a log ending at last. The core returns to exactly that state, as after a
 * crash and restart (what is on disk is all a node may rely on, §3.8),
 * except that a follower whose term did not change keeps its leader, and:
 *   - a leader or candidate steps down, as for check-quorum (§6.2): a
 *     leader that cannot append can commit nothing, and its heartbeats
 *     would keep a working majority from electing one that can;
 *   - until cons_storage_ok, the node stands for no election (no pre-vote
 *     of its own); it still answers pre-votes and votes, since granting a
 *     vote takes a write that must succeed first;
 *   - cons_tick asks the shell to probe the disk (out->probe_storage) after
 *     T, then 2T, then every 4T, so a node that nobody writes to notices
 *     that space came back.
 * A failure that leaves the disk in an unknown state (a failed fsync of
 * data that may have reached it) is not this: the shell ends the process. */
void cons_storage_failed(struct cons *c, uint64_t now_ms, const struct cons_persist *p,
                         const struct cons_entry *last);

/* A log write succeeded (an append, or the shell's probe): the node may
 * stand for election again. */
void cons_storage_ok(struct cons *c);

/* Once per wake-up of the shell's loop, after every event of that wake-up
 * was handed in: followers that can apply more than the commit index they
 * were last sent hear the new one now (a HEARTBEAT carrying it), not at
 * the next heartbeat; once the whole log is committed, a follower that was
 * sent the last entry and has not answered for it yet gets a commit notice
 * (an APPEND without entries at that entry: it commits on receipt if it
 * holds the entry, before its own sync). Coalesced: one message per
 * follower however many answers advanced the commit index in the wake-up.
 * Clears and fills *out. */
void cons_flush(struct cons *c, uint64_t now_ms, struct cons_out *out);

/* Leadership transfer (§3.10). */
enum cons_transfer_rc {
    CONS_TRANSFER_OK = 0,
    CONS_TRANSFER_NOT_LEADER,
    CONS_TRANSFER_RUNNING,    /* one is already running */
    CONS_TRANSFER_BAD_TARGET, /* not a member */
    CONS_TRANSFER_SILENT,     /* the target has not answered within an election timeout */
    CONS_TRANSFER_NO_TARGET,  /* no follower has answered within an election timeout */
    CONS_TRANSFER_SELF,       /* the target is this node, the leader already */
};
/* Leader only: hands leadership to member `to`, or (CONS_NONE) to the
 * follower with the longest log among those heard within an election
 * timeout. The leader takes no proposals while it runs (cons_transferring:
 * the shell refuses them; it writes what it took before and tells the core
 * first), brings the target's log up to its own and commits it, then sends
 * it TIMEOUT_NOW; the target stands for election at once, skipping pre-vote,
 * and its voters disregard their leases. A transfer that has not ended
 * within an election timeout fails, and a leader that still leads resumes.
 * The end is reported in a later cons_out (transfer_end). Clears and fills
 * *out; returns CONS_TRANSFER_OK with the chosen target in *target. */
enum cons_transfer_rc cons_transfer(struct cons *c, uint64_t now_ms, int32_t to, int32_t *target,
                                    struct cons_out *out);

/* Leader with a transfer running: proposals are refused. */
bool cons_transferring(const struct cons *c);
/* The member this node handed leadership to, once it stands in the next
 * term with this node's vote and before anyone is known to lead: where
 * writes go now (CONS_NONE otherwise). */
int32_t cons_transfer_successor(const struct cons *c);

const char *cons_transfer_strerror(enum cons_transfer_rc rc);

/* Connection loss. A process killed outright closes its TCP connections at
 * once, so its peers see the connection drop long before an election
 * timeout. The shell reports that (cons_peer_lost) and the connection open
 * again (cons_peer_back); the notices may be late, repeated or wrong (a
 * flapping link, a reset while the peer lives on): they never touch safety,
 * which rests on terms and votes alone, only when an election starts.
 *   - A follower whose connection to its leader drops starts a pre-vote
 *     (§9.6) after a short delay instead of waiting out the election
 *     timeout: 1 ms plus CONS_LOST_STEP_MS for every other follower
 *     numbered below it, plus a random [0, CONS_LOST_JITTER_MS) ms. All the
 *     followers of a killed leader see its connections drop at once; asked
 *     in that order, the first one's VOTE usually reaches the others before
 *     their turn, so the vote does not split (which would cost an election
 *     timeout, §3.4); a follower below that is itself gone only costs a
 *     step. A follower that grants the pre-vote of one numbered below it
 *     calls its own early pre-vote off (or gives up the one it runs), so a
 *     slow round is not raced. At most one such
 *     early pre-vote per election timeout, the gap doubling (up to 8 T)
 *     while they leave the term unchanged. The event is reported in the
 *     cons_out of the cons_tick that starts it (lost_prevote). The leader
 *     stays known through such a round (a drop is a suspicion, not a
 *     timeout), so the follower is not read-only while a live leader's
 *     next heartbeat is on its way; a round that succeeds forgets it.
 *   - A voter that has lost its own connection to its leader, and heard
 *     nothing from it since, no longer counts the leader's lease (§4.2.3):
 *     it grants the pre-vote and the vote. One that still hears its leader
 *     refuses, so a flapping link between one follower and a leader that a
 *     majority hears costs a refused pre-vote, never a term.
 *   - A leader silently gone (paused, cut off without a reset) is found by
 *     the election timeout as before; a leader's own lost connections change
 *     nothing (check-quorum, §6.2, covers them), nor do notices about a
 *     member that is not this node's leader. */
#define CONS_LOST_STEP_MS 10u
#define CONS_LOST_JITTER_MS 2u
void cons_peer_lost(struct cons *c, uint64_t now_ms, int32_t member);
void cons_peer_back(struct cons *c, uint64_t now_ms, int32_t member);

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
 * has been silent for an election timeout, except while a leadership
 * transfer's election runs (cons_handing_over). A leader is read-only as
 * soon as it has not heard from a majority (itself included) within the
 * last election timeout, and check-quorum then makes it step down. */
bool cons_read_only(const struct cons *c, uint64_t now_ms);

/* True while the election of a leadership transfer (§3.10) runs on this
 * non-leader: the leader that asked for it still had its quorum, so the
 * members it backed are not on a minority side. Each stays out of read-only
 * mode for as long as it would have without the election: an election
 * timeout after it last heard its leader, or, for the leader that handed
 * over, until its check-quorum would have failed. A planned hand-over thus
 * records no read-only episode. */
bool cons_handing_over(const struct cons *c, uint64_t now_ms);

/* The majority: n / 2 + 1. */
int32_t cons_quorum(const struct cons *c);

const char *cons_role_name(enum cons_role r);

/* Wire form of a message, as the body of an envelope: a msgpack array
 * [type, term, last_log_index, last_log_term, granted, commit, prev_index,
 *  prev_hash (bin 32), match_index, entries (array of bin), sig (bin 0|64)];
 * decode also accepts the 10 fields before sig (no signature); from and to
 * come from the envelope. The core knows entries only by metadata, so the
 * shell passes an APPEND's entry bytes (the exact stored bytes of entries
 * prev_index+1 ..) alongside, and gets them back from decode to verify and
 * hash before it hands the metadata to cons_recv. */
struct cons_wire_entry {
    const uint8_t *bytes;
    size_t len;
};

/* entries: m->n_entries byte strings (may be NULL when there are none).
 * The body is returned in a malloc'ed buffer. Returns 0 or -1. */
int cons_msg_encode(const struct cons_msg *m, const struct cons_wire_entry *entries, uint8_t **out,
                    size_t *len);

/* Checks every field's type and range (at most CONS_MAX_BATCH entries) and
 * returns 0, or -1 for a malformed body. m->entries is left NULL and
 * m->n_entries is the count; entries[] (room for CONS_MAX_BATCH) points into
 * body, valid while body is. */
struct msgpack_object;
int cons_msg_decode(const struct msgpack_object *body, struct cons_msg *m,
                    struct cons_wire_entry entries[CONS_MAX_BATCH]);

#endif
