/* The chaos fault model: what a fault is, its ledger record (the payload
 * of a LEDGER_ENTRY_CHAOS entry), its JSON for the API, and healing at
 * expiry. Pure: times are wall-clock milliseconds given by the caller.
 *
 * A fault is decided by the leader's injector (chaos/injector.h) or asked
 * for by an operator (POST /chaos/inject) and committed as a FAULT record;
 * its target node applies it when it sees it committed and heals it at its
 * expiry on its own, even when the leader is gone (struct chaos_local). A
 * kill (kill_service, kill_node) has nothing to heal: the watchtower or the
 * supervisor restarts what was killed; its duration is the time the
 * federation is given to recover, during which it still counts as the
 * active fault, a kill_service only until the ledger records its service's
 * restart on its node (chaos_state_restarted), a kill_node only until its
 * node is back as a member (chaos_state_members).
 *
 * Ledger payload: a msgpack map (keys are only ever added)
 *   "record"  str: fault | healed | refused | stop | enable
 *   fault:    "id" str, "kind" str, "node" str, "service" str (service kinds),
 *             "peer" str (isolate_node from one peer; absent: from all),
 *             "delay_ms" uint (delay_messages), "start_ms", "duration_ms",
 *             "expires_ms" uint, "origin" str (injector | operator),
 *             "forced" bool (absent: false),
             "boot" uint (kill_node: its node's boot epoch when the leader
             committed it; absent: unknown)
 *   healed:   "id" str, "reason" str (expired | stopped | ...)
 *   refused:  "reason" str, "origin" str; "kind", "node", "service",
 *             "peer" when a fault had been chosen
 *   stop:     "reason" str (who stopped it, e.g. "POST /chaos/stop on n2")
 *   enable:   nothing more
 * A drill's result is a LEDGER_ENTRY_CHAOS entry too, with "record": "drill"
 * (chaos/drill.h); chaos_record_decode reports it as CHAOS_REC_OTHER. */
#ifndef CHIMERA_CHAOS_FAULT_H
#define CHIMERA_CHAOS_FAULT_H

#include <jansson.h>
#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CHAOS_NAME_MAX 64    /* node, service, peer and fault ids, with the NUL */
#define CHAOS_REASON_MAX 256 /* with the NUL */
#define CHAOS_LOCAL_MAX 8    /* faults one node holds applied at once */
/* 3: a drill's record (chaos/drill.h) holds a map in an array in its map. */
#define CHAOS_PAYLOAD_MAX_DEPTH 3

enum chaos_kind {
    CHAOS_KILL_SERVICE,   /* SIGKILL a managed service's process group */
    CHAOS_PAUSE_SERVICE,  /* SIGSTOP it until expiry, then SIGCONT */
    CHAOS_ISOLATE_NODE,   /* drop its traffic with one peer or all, both directions */
    CHAOS_DELAY_MESSAGES, /* delay its outgoing messages by delay_ms */
    CHAOS_KILL_NODE,      /* the node process exits with CHAOS_KILL_NODE_STATUS */
    CHAOS_KIND_COUNT
};
#define CHAOS_KIND_BIT(k) (1u << (k))
#define CHAOS_KINDS_ALL ((1u << CHAOS_KIND_COUNT) - 1)
/* kill_node runs only when listed explicitly. */
#define CHAOS_KINDS_DEFAULT (CHAOS_KINDS_ALL & ~CHAOS_KIND_BIT(CHAOS_KILL_NODE))
/* The exit status of a node killed by a kill_node fault (distinct from 1
 * and from configuration's 2), so that a supervisor restarts it. */
#define CHAOS_KILL_NODE_STATUS 75

enum chaos_origin { CHAOS_ORIGIN_INJECTOR, CHAOS_ORIGIN_OPERATOR };

struct chaos_fault {
    char id[CHAOS_NAME_MAX]; /* unique in the ledger; the shell names it */
    enum chaos_kind kind;
    char node[CHAOS_NAME_MAX];                  /* the target node: applies and heals it */
    char service[CHAOS_NAME_MAX];               /* kill_service, pause_service */
    char peer[CHAOS_NAME_MAX];                  /* isolate_node: "" means from all peers */
    uint64_t delay_ms;                          /* delay_messages */
    uint64_t start_ms, duration_ms, expires_ms; /* expires = start + duration */
    enum chaos_origin origin;
    bool forced; /* an operator's, past the safety rules */
    /* kill_node: the boot epoch of the process it kills, as the leader
     * heard it (node/msg.c's hellos); 0: unknown. A member heard with
     * another epoch since is a new process: the node is back. */
    uint64_t boot;
};

const char *chaos_kind_name(enum chaos_kind k);
/* -1 when name is no kind. */
int chaos_kind_parse(const char *name, size_t n);
const char *chaos_origin_name(enum chaos_origin o);
/* Whether the kind acts on a service (needs fault.service) rather than on the node. */
bool chaos_kind_on_service(enum chaos_kind k);
/* Whether the kind is a kill (nothing to heal; applied once). */
bool chaos_kind_is_kill(enum chaos_kind k);

/* The comma lists of the settings (kinds, names, peers): the next item
 * after *p, with white space trimmed, in *item and *n; empty items ("a,,b",
 * a trailing ',') are skipped. False at the end of the list. */
bool chaos_list_next(const char **p, const char **item, size_t *n);

/* Parses a comma list of kinds ("kill_service, pause_service") into a
 * CHAOS_KIND_BIT mask. Returns 0, or -1 with one line in err. */
int chaos_kinds_parse(const char *list, uint32_t *mask, char *err, size_t errlen);
/* Writes the mask as a comma list into out (e.g. for GET /chaos). */
void chaos_kinds_format(uint32_t mask, char *out, size_t cap);

/* What the fault does, for events and reports: "kill service web on n3",
 * "pause service web on n3 for 1m", "isolate n2 from all peers for 1m",
 * "isolate n2 from n1 for 1m30s", "delay n2's messages by 200ms for 1m",
 * "kill node n2". The shell's events are "chaos.injected: " + this,
 * "chaos.healed: " + this, "chaos.refused: " + the decision's reason. */
void chaos_fault_describe(const struct chaos_fault *f, char *out, size_t cap);

/* Checks that the fault is whole: a kind, names that are ids, a service for
 * the service kinds, a delay for delay_messages, a duration, and expires_ms
 * = start_ms + duration_ms. Returns 0, or -1 with one line in err. */
int chaos_fault_check(const struct chaos_fault *f, char *err, size_t errlen);

/* A committed record of the chaos ledger. */
enum chaos_record_kind {
    CHAOS_REC_FAULT,
    CHAOS_REC_HEALED,
    CHAOS_REC_REFUSED,
    CHAOS_REC_STOP,
    CHAOS_REC_ENABLE,
    CHAOS_REC_OTHER, /* another record kind of a chaos entry (a drill's result) */
};

struct chaos_record {
    enum chaos_record_kind kind;
    /* FAULT: all of it. HEALED: id. REFUSED: kind, node, service, peer and
     * origin when has_fault (else origin only). */
    struct chaos_fault fault;
    bool has_fault;
    char reason[CHAOS_REASON_MAX]; /* HEALED, REFUSED, STOP */
};

const char *chaos_record_name(enum chaos_record_kind k);

/* Packs the record as a LEDGER_ENTRY_CHAOS payload. */
void chaos_record_pack(const struct chaos_record *r, msgpack_packer *pk);

/* Decodes a payload, hostile or not: pre-scanned (wire/) before msgpack-c
 * sees it, every field's type and size checked, a FAULT checked whole
 * (chaos_fault_check). Returns 0, or -1 with one line in err naming the
 * field. */
int chaos_record_decode(const uint8_t *payload, size_t len, struct chaos_record *r, char *err,
                        size_t errlen);

/* What the chaos state needs of a watchtower's recovery (the payload of a
 * LEDGER_ENTRY_RECOVERY entry, node/chaos/watch_lead.c): which service on
 * which node failed when (its wall-clock failed_at_ms) and runs again. */
struct chaos_restart {
    char node[CHAOS_NAME_MAX];
    char service[CHAOS_NAME_MAX];
    uint64_t failed_at_ms;
};
/* Decodes those fields of a recovery payload, hostile or not (pre-scanned;
 * its other keys are the watchtower's). 0, or -1 when one is missing or
 * malformed. */
int chaos_restart_decode(const uint8_t *payload, size_t len, struct chaos_restart *out);

/* The fault as the API shows it: {"id","kind","node","service","peer",
 * "delay_ms","start_ms","duration_ms","expires_ms","origin","forced"}
 * (service, peer and delay_ms only where the kind has them). New reference. */
json_t *chaos_fault_json(const struct chaos_fault *f);
/* The record as the API shows it in the history: {"record", ...the fault's
 * fields or "id", "reason"}. New reference. */
json_t *chaos_record_json(const struct chaos_record *r);

/* An operator's POST /chaos/inject body: {"kind": K, "target": NODE,
 * "service": S, "peer": P, "duration_ms": N | "duration": "30s",
 * "delay_ms": N, "force": bool}. Fills kind, node, service, peer, delay_ms,
 * duration_ms and forced (origin operator); the caller adds id and times.
 * Returns 0, or -1 with one line naming the field. */
int chaos_request_from_json(const json_t *body, struct chaos_fault *f, char *err, size_t errlen);

/* Parses a duration: a whole number of seconds, a number with one unit
 * (ms, s, m, h): "90", "90s", "1500ms", "10m", "48h"; or one as drill files
 * and chimeractl write it ("1m30s", "2s685ms", "1.5s": manifest_parse_
 * duration, at most 24h). Returns 0 with *ms, or -1. */
int chaos_duration_parse(const char *s, uint64_t *ms);

/* ---- healing at expiry, on the target node alone --------------------------
 * The target keeps what it applied; it needs nothing from the leader to heal. */
struct chaos_applied {
    struct chaos_fault fault;
    uint64_t heal_at_ms; /* min(expires_ms, applied at + duration_ms) */
};

struct chaos_local {
    char self[CHAOS_NAME_MAX];
    uint64_t boot_ms; /* when this node process started */
    struct chaos_applied a[CHAOS_LOCAL_MAX];
    size_t n;
};

void chaos_local_init(struct chaos_local *l, const char *self, uint64_t boot_ms);

enum chaos_apply {
    CHAOS_APPLY,       /* apply it now (the shell does the kind's action) */
    CHAOS_NOT_MINE,    /* another node's fault */
    CHAOS_EXPIRED,     /* committed, but over already (e.g. seen on replay) */
    CHAOS_ALREADY,     /* applied already (the same id) */
    CHAOS_KILLED_ONCE, /* a kill committed before this process started: done */
    CHAOS_FULL,        /* CHAOS_LOCAL_MAX faults applied here already */
};

/* A committed FAULT record seen at now. A kill is applied at most once:
 * never by a process that started after the fault (the node it killed,
 * restarted, replaying the ledger). A kill is not kept (nothing to heal). */
enum chaos_apply chaos_local_apply(struct chaos_local *l, const struct chaos_fault *f,
                                   uint64_t now_ms);

/* Removes and copies into out (up to max) every applied fault whose heal
 * time has come at now; returns how many. The shell undoes each. */
size_t chaos_local_due(struct chaos_local *l, uint64_t now_ms, struct chaos_fault *out, size_t max);

/* Removes and copies into out every applied fault (the kill switch, or a
 * committed STOP); returns how many. */
size_t chaos_local_heal_all(struct chaos_local *l, struct chaos_fault *out, size_t max);

/* Removes the fault with this id (a committed HEALED record): 1 and *out
 * when it was applied here, else 0. */
size_t chaos_local_heal_id(struct chaos_local *l, const char *id, struct chaos_fault *out);

/* The next heal time (for the shell's timer), or UINT64_MAX when none. */
uint64_t chaos_local_next_heal(const struct chaos_local *l);

/* Whether a fault is still in force at t. */
bool chaos_fault_active_at(const struct chaos_fault *f, uint64_t t_ms);

#endif
