/* Simulate -> heal -> certify: the pure core. It judges the facts the nodes
 * gathered (pipeline/exec/probe.h), plans what can be healed, counts heal
 * attempts, and certifies (signs) a release whose verification chain holds.
 * No I/O, no clock: the shell probes, heals and re-probes on the nodes and
 * feeds the facts back.
 *
 * The caller's loop:
 *     cert_session_init(&s);
 *     for (;;) {
 *         facts = probe every node (a node that does not answer: answered = false);
 *         switch (cert_session_next(&s, m, facts, n, actions, max, &nact)) {
 *         case CERT_NEXT_HEAL:    run probe_heal on each node for its actions;
 *                                 cert_session_record(&s, actions, results, nact);
 *                                 continue;       (re-probe, re-judge)
 *         case CERT_NEXT_CERTIFY: break out;
 *         case CERT_NEXT_GIVE_UP: break out;      (the heal limit was reached)
 *         }
 *     }
 *     cert_certify(&s, m, true, digest, key, signer, &cert);
 * At most CERT_MAX_HEAL_ATTEMPTS heal rounds happen; a healable issue still
 * there after the last is GIVE_UP, and certification then fails on
 * "healing_ok".
 *
 * Judge rules (code: severity, healable):
 *   per answered node and service
 *     command_not_found         critical   the command is not on the node
 *     command_not_executable    critical   a file, but not an executable regular file
 *     working_dir_missing       critical * it can be created (mkdir -p)
 *     working_dir_uncreatable   critical   missing, and its nearest ancestor is not writable
 *     working_dir_not_directory critical   something else is at that path
 *     port_in_use               critical   a fixed port something else holds
 *     port_held_by_release      info       a fixed port the running release holds
 *     auto_port_unavailable     critical * no port could be assigned (re-probe)
 *     health_url_invalid        critical   does not expand or is not http(s)://host[:port]/..
 *     env_invalid, args_invalid critical   a value does not expand
 *     env_file_invalid          critical   the env_file is missing, unreadable or malformed
 *                                          on the node (the message names file and line)
 *     user_not_root             critical   "user" is set but chimerad does not run as root
 *                                          there (or the node did not check it)
 *     user_unknown              critical   "user" does not exist on the node
 *     service_not_probed        critical   the node's facts lack a service of the manifest
 *   per node
 *     node_unreachable          warning when a quorum (more than half) of the nodes
 *                               answered: the node applies the release when it
 *                               returns, through the ledger; critical otherwise
 *   per release (node "")
 *     port_collision            critical   two services use one fixed port
 *     no_health_check           info       healthy once it has run min_healthy_time
 *   (* healable)
 *
 * Certification: the chain of links, in this order:
 *   config_valid       the manifest parsed and validated
 *   simulation_passed  a quorum of the nodes answered the simulation
 *   no_critical_issue  the last judgement has no critical issue
 *   healing_ok         no healable issue is left and the heal limit was not exceeded
 * When every link holds: an Ed25519 signature by the leader's node key over
 *   "chimera/release-cert/v1" || the manifest digest (manifest_digest).
 * Otherwise the certificate says certified = false, keeps the failed links,
 * and has no signature. */
#ifndef CHIMERA_PIPELINE_CERTIFY_H
#define CHIMERA_PIPELINE_CERTIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "ledger/sign.h"
#include "pipeline/core/manifest.h"
#include "pipeline/core/probe_facts.h"

#define CERT_MAX_HEAL_ATTEMPTS 3
#define CERT_SIG_TAG "chimera/release-cert/v1"
#define CERT_MAX_NODES 16
#define CERT_MAX_ISSUES 256  /* kept by a session; cert_judge reports how many it found */
#define CERT_MAX_ACTIONS 256 /* at most one per node and service */
#define CERT_MAX_CHANGES 128 /* heal history kept by a session; later ones are counted */
#define CERT_CODE_MAX 32
#define CERT_MESSAGE_MAX 256
#define CERT_NLINKS 4

enum cert_severity {
    CERT_INFO = 1,
    CERT_WARNING,
    CERT_CRITICAL,
};

struct cert_issue {
    char node[MANIFEST_ID_MAX];    /* "" for the release as a whole */
    char service[MANIFEST_ID_MAX]; /* "" for the node as a whole */
    char code[CERT_CODE_MAX];      /* "command_not_found", ... (see above) */
    enum cert_severity severity;
    char message[CERT_MESSAGE_MAX]; /* one line */
    bool healable;
};

/* Judges the facts of nnodes nodes against m. Writes at most max issues
 * (nodes in the given order, then services in the manifest's order) and
 * returns how many there are, which may be more than max. */
size_t cert_judge(const struct manifest *m, const struct probe_facts *per_node, size_t nnodes,
                  struct cert_issue *issues, size_t max);

enum cert_heal_kind {
    CERT_HEAL_CREATE_DIR = 1, /* mkdir -p the service's working_dir, 0755 */
    CERT_HEAL_REPROBE,        /* nothing to change: probe again for another auto port */
};

struct cert_heal_action {
    char node[MANIFEST_ID_MAX];
    char service[MANIFEST_ID_MAX];
    enum cert_heal_kind kind;
};

struct cert_heal_result {
    bool ok;
    char detail[PROBE_DETAIL_MAX]; /* "created /srv/x", "mkdir /srv: permission denied" */
};

/* One action per healable issue (issues with the same node, service and
 * action count once), in the issues' order. Returns how many there are
 * (may exceed max; at most max are written). */
size_t cert_heal_plan(const struct cert_issue *issues, size_t n, struct cert_heal_action *actions,
                      size_t max);

/* What healing changed, for the report. */
struct cert_change {
    uint32_t attempt; /* 1.. */
    char node[MANIFEST_ID_MAX];
    char service[MANIFEST_ID_MAX];
    char action[CERT_CODE_MAX]; /* "create_working_dir", "reprobe_port" */
    char detail[PROBE_DETAIL_MAX];
    bool ok;
};

enum cert_next {
    CERT_NEXT_HEAL = 1, /* run the actions, record the results, re-probe, call again */
    CERT_NEXT_CERTIFY,  /* nothing (more) to heal: certify */
    CERT_NEXT_GIVE_UP,  /* healable issues remain after CERT_MAX_HEAL_ATTEMPTS attempts */
};

struct cert_session {
    uint32_t attempts;                         /* heal rounds handed out */
    bool limit_reached;                        /* GIVE_UP was returned */
    bool judged;                               /* at least one judgement */
    size_t nnodes;                             /* of the last judgement */
    size_t nanswered;                          /* nodes that answered it */
    struct cert_issue issues[CERT_MAX_ISSUES]; /* the last judgement */
    size_t nissues;                            /* kept in issues */
    size_t issues_total;                       /* found (more than nissues when it overflowed) */
    struct cert_change changes[CERT_MAX_CHANGES];
    size_t nchanges;
    size_t changes_dropped; /* changes beyond CERT_MAX_CHANGES, counted only */
};

void cert_session_init(struct cert_session *s);

/* Judges the facts, keeps the issues, and says what to do next. With
 * CERT_NEXT_HEAL, *nactions actions (at most max) are in actions and the
 * attempt is counted. */
enum cert_next cert_session_next(struct cert_session *s, const struct manifest *m,
                                 const struct probe_facts *per_node, size_t nnodes,
                                 struct cert_heal_action *actions, size_t max, size_t *nactions);

/* Records what the actions of the current attempt did (results[i] for
 * actions[i]). */
void cert_session_record(struct cert_session *s, const struct cert_heal_action *actions,
                         const struct cert_heal_result *results, size_t n);

struct cert_link {
    const char *name; /* "config_valid", "simulation_passed", "no_critical_issue", "healing_ok" */
    bool ok;
    char detail[CERT_MESSAGE_MAX];
};

struct cert_certificate {
    bool certified;
    struct cert_link links[CERT_NLINKS]; /* every link, in the chain's order */
    char signer[LEDGER_ID_MAX];          /* "" when not certified */
    uint8_t pubkey[LEDGER_PUBKEY_BYTES]; /* zero when not certified */
    uint8_t digest[MANIFEST_DIGEST_BYTES];
    uint8_t signature[LEDGER_SIG_BYTES]; /* zero when not certified */
};

/* Builds the chain and, when it holds, signs. s NULL (no simulation) fails
 * simulation_passed and healing_ok; m NULL or manifest_valid false fails
 * config_valid. key NULL builds the chain without signing (a dry run):
 * certified stays false even when every link holds.
 * Returns 0 certified, -1 not (out says why: the failed links). */
int cert_certify(const struct cert_session *s, const struct manifest *m, bool manifest_valid,
                 const uint8_t digest[MANIFEST_DIGEST_BYTES], const struct ledger_key *key,
                 const char *signer, struct cert_certificate *out);

/* The failed links' names, comma-separated ("no_critical_issue,healing_ok"),
 * into out; "" when certified. For the rejection message. */
void cert_failed_links(const struct cert_certificate *c, char *out, size_t cap);

/* True when c is certified for exactly this digest and its signature
 * verifies under pubkey (the certifying node's pinned key). */
bool cert_verify(const struct cert_certificate *c, const uint8_t digest[MANIFEST_DIGEST_BYTES],
                 const uint8_t pubkey[LEDGER_PUBKEY_BYTES]);

/* For the HTTP API and chimeractl:
 * {"issues": [{"node","service","code","severity","message","healable"}],
 *  "issues_total": N,
 *  "healing": {"attempts": N, "limit": 3, "limit_reached": bool,
 *              "changes": [{"attempt","node","service","action","detail","ok"}]},
 *  "certification": {"certified", "links": [{"name","ok","detail"}],
 *                    "signer", "pubkey", "signature", "digest"} (hex; "" when not
 *                    certified, except digest) or null when c is NULL}.
 * s may be NULL (empty issues and healing). Returns a new reference or NULL
 * on allocation failure. */
json_t *cert_to_json(const struct cert_session *s, const struct cert_certificate *c);

const char *cert_severity_name(enum cert_severity sev);
const char *cert_heal_kind_name(enum cert_heal_kind k);

#endif
