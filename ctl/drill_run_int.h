/* chimeractl drill run, shared by its files: drill_run.c (the command,
 * the flow and the runner's helpers), drill_probes.c (probes, sweeps and
 * measuring an SLO), drill_watch.c (what the nodes recorded),
 * drill_fault.c, drill_deploy.c and drill_rollbacks.c (the actions) and
 * drill_ledger.c (the result in the ledger). */
#ifndef CHIMERA_CTL_DRILL_RUN_INT_H
#define CHIMERA_CTL_DRILL_RUN_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "ctl/deploy_int.h"
#include "ctl/drill_int.h"

#define NO_CHAOS "chaos injection is not available on this federation yet (POST /chaos/inject)"

struct drun {
    const struct ctl_opts *o;
    const char *token;
    struct ctl_conn conn; /* mutations: follows a follower's 307 to the leader */
    struct ctl_drill_file f;
    struct drill_run r;
    char killed[DRILL_MAX_ACTIONS][DRILL_ID_MAX]; /* nodes a kill_node took down */
    size_t nkilled;
    /* Nodes a lasting fault (pause, isolate, delay) was applied on. */
    char faulted[DRILL_MAX_ACTIONS][DRILL_ID_MAX];
    size_t nfaulted;
    bool injected;
    bool token_refused; /* a mutation was answered 401 or 403 */
    const char *restart_cmd;
    int64_t mono0, wall0; /* the run's clocks: Unix ms = wall0 + (mono - mono0) */
    /* Each probe's last result and when it ran (monotonic ms; 0: not
     * since the last fresh start), for the probes that do not run every
     * sweep (drill_probe_due). */
    struct drill_probe_result last[DRILL_MAX_PROBES];
    int64_t last_ms[DRILL_MAX_PROBES];
    /* Mutations with a follower's 307 followed quietly: "is not the leader"
     * lines amid the progress are noise (--verbose keeps them). */
    struct ctl_opts conn_opts;
};

/* ---- drill_run.c: the runner's helpers ---- */

/* Unix ms on the run's clock. */
int64_t drun_now_ms(const struct drun *x);
/* A progress line, "[HH:MM:SS] ..." (nothing with --json). */
void drun_progress(const struct drun *x, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Appends s to the comma list in out. */
void drun_append(char *out, size_t cap, const char *s);
/* POSTs with the admin token through the runner's connection, noting a
 * refusal of the token (exit 6). */
int drun_post_once(struct drun *x, const char *path, const char *payload, struct ctl_reply *r);
/* The same, starting the connection over from --addr after no answer
 * (sent again at once when twice). */
int drun_post(struct drun *x, const char *path, const char *payload, bool twice,
              struct ctl_reply *r);
/* Marks step s failed, saying why in its detail. */
void drun_fail_step(struct drill_step_result *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The error of a refused mutation, for a step's detail. */
void drun_refusal(const struct ctl_reply *r, int rc, char *out, size_t cap);

/* ---- drill_probes.c ---- */

/* One sweep of the probes in mask; res gets each one's result. True when
 * every one held. */
bool drun_sweep(struct drun *x, uint32_t mask, struct drill_probe_result *res);
/* The next sweep runs fresh: every probe is due. */
void drun_sweep_fresh(struct drun *x);
/* The mask of every probe of d. */
uint32_t drun_all_probes(const struct drill *d);
/* The progress line of the probes' first failure of action a. */
void drun_say_detected(const struct drun *x, const struct drill_action *a,
                       const struct drill_step_result *s);

struct node_watch;
/* Sweeps the SLO's probes of action a, started at t_start (monotonic
 * ms), until drill_measure_sweep says it is done or probes that fail are
 * given up on; ended: a deployment that has ended as expected; w (may be
 * NULL) looks for the node's own record meanwhile. */
void drun_measure(struct drun *x, const struct drill_action *a, struct drill_step_result *s,
                  int64_t t_start, bool ended, struct node_watch *w);

/* ---- drill_watch.c: what the nodes recorded ---- */

/* The node's own record of a fault, read from its events while the runner
 * sweeps: a killed service's restart on its node (chaos.injected, then
 * recovery.restarted: the node's clock at both ends), a killed leader's
 * successor (consensus.elected on a survivor, against this runner's clock
 * at the injection: the killed node's own events go with it). */
#define WATCH_MAX 16
struct node_watch {
    enum { WATCH_NONE, WATCH_SERVICE, WATCH_ELECTION } kind;
    size_t n;
    char id[WATCH_MAX][DRILL_ID_MAX];
    char http[WATCH_MAX][256];
    json_int_t since[WATCH_MAX]; /* each one's last event before the injection */
    char fault_id[80];           /* the injected fault's, as its events name it */
    char service[DRILL_ID_MAX];
    int64_t injected_wall;               /* Unix ms, this runner's clock */
    json_int_t injected_seq, injected_t; /* WATCH_SERVICE: the target's chaos.injected */
};

/* Before the injection: what to watch for action a on node. */
void drun_watch_start(const struct drun *x, const struct drill_action *a, const char *node,
                      struct node_watch *w);
/* Looks for the node's record of the fault once more; fills s->node when
 * found. */
void drun_watch_poll(const struct drun *x, struct node_watch *w, struct drill_step_result *s);
/* to - from, or 0 when to is not after from (two node timestamps). */
uint32_t drun_ms_between(json_int_t from, json_int_t to);

/* ---- the actions: drill_fault.c, drill_deploy.c, drill_rollbacks.c ---- */

void drun_run_fault(struct drun *x, const struct drill_action *a, struct drill_step_result *s);
void drun_run_deploy(struct drun *x, const struct drill_action *a, struct drill_step_result *s);
void drun_run_heal(struct drun *x, struct drill_step_result *s);
void drun_run_restart(struct drun *x, struct drill_step_result *s);

/* ---- drill_ledger.c ---- */

/* How the result went into the ledger. */
struct recorded {
    bool ok;
    bool as_note; /* the node has no POST /drills: an operator note instead */
    json_int_t index;
    json_t *notarization; /* GET /drills's, once a checkpoint notarizes it */
};

/* The result as a drill record (POST /drills), or a note when the node
 * answers 404 (an older node). */
void drun_record(struct drun *x, const uint8_t digest[DRILL_DIGEST_BYTES], struct recorded *out);
/* Waits, a few seconds at most, for a checkpoint at or after the record to
 * be notarized. */
void drun_await_notarization(struct drun *x, struct recorded *rec);
/* The report's last lines: where the result is recorded and who notarized it. */
void drun_print_recorded(const struct recorded *rec);

#endif
