/* Chaos drills: the drill file model (parse and validate), and the pure
 * pieces of a run: the verdict from what the runner measured, the journal
 * as JSON, its BLAKE2b digest and the report an operator reads. No I/O, no
 * clock: the runner (chimeractl drill run) measures and passes times in.
 *
 * A drill file is JSON shaped like a Chaos Toolkit experiment: "title",
 * "description", "steady-state-hypothesis" {"title", "probes": [...]},
 * "method": [...] and "rollbacks": [...]. Every probe and action is
 * {"type": "probe"|"action", "name", "provider": {"type": ...}, ...}. The
 * schema is in the README ("Drills").
 *
 * Validation is strict, as for release manifests: unknown keys, wrong
 * types and out-of-range values are errors, and the first problem is
 * reported with its JSON path ("method[1].provider.kind",
 * "steady-state-hypothesis.probes[0].tolerance", "" for the document) and
 * one line saying what is expected. A null value reads as an absent key.
 *
 * Durations are strings with a unit ("500ms", "10s", "1m30s"); a bare
 * number is refused, because Chaos Toolkit reads one as seconds and a
 * Chimera manifest as milliseconds. */
#ifndef CHIMERA_CHAOS_DRILL_H
#define CHIMERA_CHAOS_DRILL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <msgpack.h>

#define DRILL_MAX_BYTES (256u * 1024u) /* a drill file; checked before parsing */
#define DRILL_NAME_MAX 129             /* a probe's or action's name: 1-128 bytes (+NUL) */
#define DRILL_TITLE_MAX 257            /* 1-256 bytes (+NUL) */
#define DRILL_DESCRIPTION_MAX 2049     /* 0-2048 bytes (+NUL) */
#define DRILL_ID_MAX 64                /* a node or service id, or a selector (+NUL) */
#define DRILL_URL_MAX 1025             /* an HTTP probe's URL (+NUL) */
#define DRILL_MAX_PROBES 16
#define DRILL_MAX_ACTIONS 32
#define DRILL_MAX_ROLLBACKS 8
#define DRILL_MAX_STATUSES 8                  /* an HTTP probe's accepted statuses */
#define DRILL_MAX_DURATION_MS (3600u * 1000u) /* a fault, a pause, an SLO: at most 1h */

#define DRILL_DEFAULT_COMMIT_WITHIN_MS 1000u /* note_commits without a tolerance */
#define DRILL_DEFAULT_HTTP_TIMEOUT_MS 3000u

/* The journal's digest: BLAKE2b-256 over this tag, then the journal's
 * compact JSON with sorted keys. */
#define DRILL_DIGEST_TAG "chimera/drill-journal/v1"
#define DRILL_DIGEST_BYTES 32

/* Probes of the steady-state hypothesis ("provider": {"type": ...}). */
enum drill_probe_kind {
    DRILL_PROBE_LEADER = 1,      /* "leader_exists": a quorum-backed leader is known */
    DRILL_PROBE_ALL_ALIVE,       /* "all_alive": every member is alive */
    DRILL_PROBE_NONE_READ_ONLY,  /* "none_read_only": no member is read-only */
    DRILL_PROBE_RELEASE_HEALTHY, /* "release_healthy": the release runs healthy everywhere */
    DRILL_PROBE_NOTE_COMMITS,    /* "note_commits": a ledger note commits within a time */
    DRILL_PROBE_HTTP,            /* "http": a URL answers an accepted status */
};

struct drill_probe {
    char name[DRILL_NAME_MAX];
    enum drill_probe_kind kind;
    /* leader_exists, all_alive, none_read_only, release_healthy: the value
     * the probe must return ("tolerance": true, the default). */
    bool expect;
    uint32_t within_ms;               /* note_commits: its tolerance */
    char url[DRILL_URL_MAX];          /* http */
    uint32_t timeout_ms;              /* http: "provider.timeout" */
    int statuses[DRILL_MAX_STATUSES]; /* http: the tolerance (default 200) */
    size_t nstatuses;
};

enum drill_action_kind {
    DRILL_ACTION_FAULT = 1,     /* "fault": inject a fault (POST /chaos/inject) */
    DRILL_ACTION_DEPLOY,        /* "deploy": submit a release manifest */
    DRILL_ACTION_PAUSE,         /* "pause": wait */
    DRILL_ACTION_HEAL,          /* "heal": heal every fault (rollbacks) */
    DRILL_ACTION_RESTART_NODES, /* "restart_nodes": restart killed nodes (rollbacks) */
};

enum drill_fault_kind {
    DRILL_FAULT_KILL_SERVICE = 1, /* SIGKILL a service's process group */
    DRILL_FAULT_PAUSE_SERVICE,    /* SIGSTOP it for the duration */
    DRILL_FAULT_ISOLATE_NODE,     /* drop a node's messages to and from peers */
    DRILL_FAULT_DELAY_MESSAGES,   /* delay a node's outgoing messages */
    DRILL_FAULT_KILL_NODE,        /* the node process exits */
};

/* When an SLO's clock starts: at the injection (the default), or when the
 * fault ends (heals at expiry), for faults the federation is expected to
 * ride out only once they are over (a read-only minority). */
enum drill_slo_from { DRILL_SLO_FROM_INJECT = 0, DRILL_SLO_FROM_HEAL };

struct drill_slo {
    bool set;
    uint32_t recover_within_ms;
    enum drill_slo_from from;
    /* Bit i: probe i of the hypothesis decides recovery; every probe when
     * "probes" is not given. */
    uint32_t probes;
};

struct drill_action {
    char name[DRILL_NAME_MAX];
    enum drill_action_kind kind;
    /* fault */
    enum drill_fault_kind fault;
    /* Service faults: the service's name. Node faults: the node's id or a
     * selector the runner resolves ("leader", "follower", "any"). */
    char target[DRILL_ID_MAX];
    char node[DRILL_ID_MAX]; /* service faults: the node (id or selector; "any") */
    uint32_t duration_ms;    /* fault, pause */
    uint32_t delay_ms;       /* delay_messages */
    char peer[DRILL_ID_MAX]; /* isolate_node: from this peer only; "": from every peer */
    /* deploy: a path (relative to the drill file's folder) or the manifest
     * itself as compact JSON (manifest_inline); expect_reverted: the
     * release must fail and be reverted automatically. */
    char *manifest;
    bool manifest_inline;
    bool expect_reverted;
    /* "pauses": {"before", "after"} of any action, as in Chaos Toolkit. */
    uint32_t pause_before_ms, pause_after_ms;
    struct drill_slo slo; /* required for a fault; optional for a deploy */
};

struct drill {
    char title[DRILL_TITLE_MAX];
    char description[DRILL_DESCRIPTION_MAX];
    char hypothesis_title[DRILL_TITLE_MAX]; /* "" when absent */
    struct drill_probe probes[DRILL_MAX_PROBES];
    size_t nprobes; /* 1..DRILL_MAX_PROBES, names unique */
    struct drill_action method[DRILL_MAX_ACTIONS];
    size_t nmethod; /* 1..DRILL_MAX_ACTIONS */
    struct drill_action rollbacks[DRILL_MAX_ROLLBACKS];
    size_t nrollbacks; /* no "rollbacks": heal, then restart_nodes */
};

struct drill_error {
    char path[160];    /* JSON path of the first problem; "" for the document */
    char message[320]; /* one line: what is wrong and what is expected */
};

/* Parses and validates len bytes of JSON into *d. Returns 0, or -1 with
 * *err set and *d freed and zeroed. */
int drill_parse(const char *json, size_t len, struct drill *d, struct drill_error *err);
/* Frees what drill_parse allocated and zeroes *d. NULL is accepted. */
void drill_free(struct drill *d);

/* Whether the method injects faults (the runner needs the chaos endpoints). */
bool drill_has_faults(const struct drill *d);

/* Names, for messages and the journal: "kill_service", "note_commits", ... */
const char *drill_fault_name(enum drill_fault_kind k);
const char *drill_probe_name(enum drill_probe_kind k);
const char *drill_action_name(enum drill_action_kind k);

/* The drill with every default filled in (durations as strings such as
 * "5s"), itself a valid drill file. A new reference, NULL when out of
 * memory. */
json_t *drill_to_json(const struct drill *d);

/* ---- a run ------------------------------------------------------------ */

struct drill_probe_result {
    bool held;
    char detail[160]; /* what was seen: "no leader", "503", "committed in 12 ms" */
};

enum drill_step_status {
    DRILL_STEP_SKIPPED = 0, /* not reached */
    DRILL_STEP_DONE,
    DRILL_STEP_FAILED, /* the runner could not carry it out (refused, unreachable) */
};

/* A time to detect and to recover, as one source saw them. */
struct drill_times {
    bool detected;
    uint32_t detect_ms;
    bool recovered;
    uint32_t recover_ms;
};

/* What a node itself recorded of a fault (its events, its deployments):
 * exact to its clock's ms, where the runner's probes only see what a sweep
 * happens to catch. */
struct drill_node_times {
    bool seen; /* the node recorded the failure (a restart, an election, a revert) */
    struct drill_times t;
    char what[160]; /* "web on n2 healthy again 212 ms after the kill (recovery.restarted)" */
};

struct drill_step_result {
    enum drill_step_status status;
    int64_t started_ms, ended_ms; /* Unix ms, the runner's clock */
    char detail[256];
    /* Actions with an SLO: the figures drill_step_settle chose (the
     * node's where it records the moment, else the probes'), measured
     * from the SLO's start (the injection, or the fault's end; a deploy
     * expected to be reverted: detected from its start, recovered from its
     * failure to the revert's end). Not detected: neither the probes nor
     * the node saw a failure (masked). Not recovered: the probes did not
     * hold again before the runner gave up. */
    bool detected;
    uint32_t detect_ms;
    bool recovered;
    uint32_t recover_ms;
    struct drill_times probes; /* as the runner's sweeps saw them */
    uint32_t resolution_ms;    /* the sweeps' interval: the probes' figures are late by up to it */
    struct drill_node_times node; /* seen false: the node recorded nothing for it */
};

struct drill_run {
    int64_t started_ms, ended_ms;
    bool before_checked, after_checked;
    struct drill_probe_result before[DRILL_MAX_PROBES];
    struct drill_probe_result after[DRILL_MAX_PROBES];
    struct drill_step_result method[DRILL_MAX_ACTIONS];
    struct drill_step_result rollbacks[DRILL_MAX_ROLLBACKS];
    char stopped[256]; /* why the runner stopped early ("" when it did not) */
};

/* ---- measuring (the runner's sweeps) ---------------------------------- */

/* The SLO's probes are swept every DRILL_SWEEP_MS, so a figure is late by
 * at most that plus a sweep's own time. A note_commits probe commits a
 * ledger note each time it runs, which stays in the ledger for good: it
 * runs at most every DRILL_NOTE_SWEEP_MS (its last result stands in
 * between), a few notes a second while a fault lasts. */
#define DRILL_SWEEP_MS 100u
#define DRILL_NOTE_SWEEP_MS 250u

/* Whether probe p is due at now_ms when it last ran at last_ms (0: never). */
bool drill_probe_due(const struct drill_probe *p, int64_t last_ms, int64_t now_ms);
/* How late the probes in mask may see a change: the slowest one's interval. */
uint32_t drill_sweep_resolution(const struct drill *d, uint32_t mask);
/* Whether the node's own record is the figure for action a: a killed
 * service (its watchtower's restart) and a release expected to be
 * reverted (its deployments' times) are over between two sweeps or long
 * before the probes notice; a killed node's election is only a part of
 * recovering (writable again is the probes'). */
bool drill_node_decides(const struct drill_action *a);
/* Step s's figures as the report gives them, without the SLO, for the
 * runner's progress: "detected in 1ms, recovered in 221ms; by the node: WHAT;
 * the probes (every 100ms) saw: detected in 101ms, recovered in 306ms", or
 * "...; by the probes (every 250ms); the node saw: WHAT". */
void drill_step_figures(const struct drill_action *a, const struct drill_step_result *s, char *out,
                        size_t cap);
/* Sets s's figures from s->probes and s->node: the node's when it decides
 * (drill_node_decides) or when the probes saw nothing that the node did
 * (not masked, then); the probes' otherwise. */
void drill_step_settle(const struct drill_action *a, struct drill_step_result *s);
/* When action a's SLO clock starts, in ms after the action began: 0, or
 * the fault's duration with "from": "heal". */
uint32_t drill_slo_start_ms(const struct drill_action *a);
/* One sweep of action a's SLO probes, since_ms after the action began
 * (the injection, the submission), held: whether every one held; ended: the
 * deployment waited for has ended as expected. Records in s->probes the
 * first failure (detect_ms, from the action's start) and the recovery: the
 * first sweep of the last run of sweeps that held after a failure
 * (recover_ms, from the SLO's start; a failure after a recovery starts it
 * over). Returns whether the runner may stop measuring: the probes hold,
 * the SLO's clock has started, a lasting fault (pause, isolate, delay) has
 * ended, and either a failure was seen and is over (by the probes, or by
 * the node where it decides), or the deployment it waited for has ended,
 * or the SLO has passed without a failure (masked: recovered in 0).
 *
 * What an SLO measures, by kind: for a lasting fault, the time from the
 * SLO's start (the injection, or the fault's end with "from": "heal") until
 * the SLO's probes hold again and keep holding to the fault's end; a
 * failure first seen after a shorter SLO ran out is a miss. For a kill,
 * the time from the kill until they hold again (a killed service: until
 * its node restarted it). For a deploy, from its submission. */
bool drill_measure_sweep(const struct drill_action *a, struct drill_step_result *s, bool held,
                         uint32_t since_ms, bool ended);
/* When (since the action began; begun_ms: when measuring began, later than
 * the start for a rollout) the runner stops sweeping probes that fail: twice
 * the SLO and 5 s past its start, so that a miss is measured too. Probes
 * that hold are swept until drill_measure_sweep says done. */
uint32_t drill_measure_give_up_ms(const struct drill_action *a, uint32_t begun_ms);

enum drill_verdict {
    DRILL_HELD = 0,     /* every SLO met, the steady state held before and after */
    DRILL_DEVIATED,     /* a fault's recovery missed its SLO, or the steady state was lost */
    DRILL_COULD_NOT_RUN /* the steady state did not hold at the start, or a step failed */
};

/* The verdict of run r of d, with one line saying why in why (may be NULL).
 * A measured deviation outweighs a later failure to carry on: what was
 * learnt is kept. */
enum drill_verdict drill_verdict(const struct drill *d, const struct drill_run *r, char *why,
                                 size_t whylen);
/* "held", "deviated", "could_not_run". */
const char *drill_verdict_name(enum drill_verdict v);

/* The journal of run r: the drill, the hypothesis before and after, each
 * step with its times, the verdict and its reason. A new reference, NULL
 * when out of memory. */
json_t *drill_journal(const struct drill *d, const struct drill_run *r);
/* BLAKE2b-256 of DRILL_DIGEST_TAG and the journal's canonical form
 * (compact, keys sorted). Returns 0, or -1 when out of memory. */
int drill_journal_digest(const json_t *journal, uint8_t out[DRILL_DIGEST_BYTES]);
/* The report an operator reads: a malloc'd string, NULL when out of memory.
 * Durations are written as the drill file writes them ("101ms", "2s685ms"). */
char *drill_report(const struct drill *d, const struct drill_run *r);

/* ---- the result in the ledger ----------------------------------------- */

/* A run's result as one ledger note, what a quorum of witnesses then
 * notarizes: `drill "TITLE": VERDICT; journal blake2b HEX` followed by
 * `; NAME: recovered in 1s830ms (SLO 5s)` (or `not recovered`) for each
 * action with an SLO that ran, cut to fit cap (at most the node's 4096
 * bytes for a note). Returns the length written. */
#define DRILL_NOTE_MAX 4096
size_t drill_note(const struct drill *d, const struct drill_run *r,
                  const uint8_t digest[DRILL_DIGEST_BYTES], char *out, size_t cap);

/* What drill_note wrote, read back from a note's text. */
struct drill_note {
    char title[DRILL_TITLE_MAX];
    char verdict[16];                        /* "held", "deviated", "could_not_run" */
    char digest[2 * DRILL_DIGEST_BYTES + 1]; /* hex */
    const char *results; /* the per-action part in the text given ("" when none) */
};
/* True when text is a drill's result note (a probe's note is not). */
bool drill_note_parse(const char *text, struct drill_note *out);

/* ---- the result as a ledger entry of its own -------------------------- */

/* A run's result as a LEDGER_ENTRY_CHAOS record of kind "drill": what
 * POST /drills commits and GET /drills and `chimeractl drill history`
 * list, each with the checkpoint whose witness quorum notarizes it.
 *
 * JSON (POST /drills's body and GET /drills's fields; keys are only ever
 * added):
 *   {"title": 1..256 bytes, "verdict": "held" | "deviated" | "could_not_run",
 *    "digest": the journal's BLAKE2b-256 as 64 lowercase hex digits,
 *    "started_ms", "ended_ms": Unix ms (ended >= started),
 *    "by": who ran it (0..63 bytes; optional, null: unknown),
 *    "faults": [{"name": the action's (optional), "kind": "kill_node",
 *                "deploy", ... ([a-z0-9_], 1..31 bytes), "target": 0..63
 *                bytes, "time_to_detect_ms", "time_to_recover_ms": whole
 *                ms or null (not detected, not recovered), "slo_ms",
 *                "met": bool}] (0..DRILL_MAX_ACTIONS)}
 * Ledger payload: a msgpack map {"record": "drill", the same keys, "by"
 * only when known, a time not measured as nil}; depth 3 (map, faults,
 * fault). */
#define DRILL_RECORD_KIND_MAX 32 /* a fault's kind (+NUL) */
#define DRILL_RECORD_MAX_DEPTH 3

struct drill_fault_result {
    char name[DRILL_NAME_MAX];
    char kind[DRILL_RECORD_KIND_MAX];
    char target[DRILL_ID_MAX];
    bool detected, recovered;
    uint32_t detect_ms, recover_ms, slo_ms;
    bool met;
};

struct drill_record {
    char title[DRILL_TITLE_MAX];
    enum drill_verdict verdict;
    char digest[2 * DRILL_DIGEST_BYTES + 1]; /* hex */
    uint64_t started_ms, ended_ms;
    char by[DRILL_ID_MAX]; /* "": unknown */
    struct drill_fault_result faults[DRILL_MAX_ACTIONS];
    size_t nfaults;
};

/* The record of run r of d: every action with an SLO that ran (a fault,
 * a deploy), as drill_note lists them; by may be NULL. */
void drill_record_from_run(const struct drill *d, const struct drill_run *r,
                           const uint8_t digest[DRILL_DIGEST_BYTES], const char *by,
                           struct drill_record *out);
/* The record as JSON (the shape above). A new reference, NULL when out of
 * memory. */
json_t *drill_record_json(const struct drill_record *rec);
/* POST /drills's body: validated strictly (unknown keys, types, ranges);
 * 0, or -1 with the JSON path of the first problem in *err. */
int drill_record_from_json(const json_t *body, struct drill_record *out, struct drill_error *err);
/* The ledger payload. */
void drill_record_pack(const struct drill_record *rec, msgpack_packer *pk);
/* Decodes a chaos entry's payload, hostile or not (pre-scanned before
 * msgpack-c sees it, every field checked as drill_record_from_json does):
 * 0 a drill's record, 1 another chaos record (not a drill's), -1 a
 * malformed one with one line in err naming the field. */
int drill_record_decode(const uint8_t *payload, size_t len, struct drill_record *out, char *err,
                        size_t errlen);

#endif
