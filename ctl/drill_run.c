/* chimeractl drill run FILE|NAME: a drill against a live federation. The
 * decisions (the verdict, the journal, its digest, the report) are
 * chaos/drill's; the runner only asks the nodes and keeps the clock. This
 * file holds the command, the flow below and the runner's helpers
 * (drill_run_int.h); the probes and the measuring are drill_probes.c's,
 * the nodes' own records drill_watch.c's, the actions drill_fault.c's,
 * drill_deploy.c's and drill_rollbacks.c's, the result in the ledger
 * drill_ledger.c's.
 *
 * The flow, as Chaos Toolkit's users know it:
 *  1. Load and validate the drill (exit 2 when invalid). A method with
 *     faults needs the node's chaos endpoints: GET /chaos answering 404
 *     refuses the drill before anything is touched (exit 11).
 *  2. Steady state before: every probe once. Not holding: exit 11, nothing
 *     done.
 *  3. The method, in order, each action between its pauses. A fault is
 *     POST /chaos/inject {"kind","target","service","peer","duration_ms",
 *     "delay_ms"} (selectors such as "leader" resolved from GET /federation/state
 *     first); from then on the SLO's probes are swept every DRILL_SWEEP_MS
 *     (a note probe at most every DRILL_NOTE_SWEEP_MS): the first sweep
 *     that fails is the time to detect (from the injection), the first
 *     that holds after it the time to recover (from the SLO's start: the
 *     injection, or the fault's end with "from": "heal"), as
 *     drill_measure_sweep keeps them: a lasting fault is watched to its
 *     end. Meanwhile the nodes' events give their own figures: a killed
 *     service's restart on its node, a killed node's successor elected;
 *     drill_step_settle chooses. Neither the probes nor the node seeing a
 *     failure within the SLO (and the fault) means the federation masked
 *     the fault (recovered, not detected). Probes still failing twice the
 *     SLO plus 5 s past its start are given up on, so a miss is still
 *     measured. A deploy is POST /deployments, then GET
 *     /deployments/ID until it ends as expected (stable; or failed, and the
 *     leader's rollback listed by GET /deployments ended reverted: the
 *     node's figures, failure to revert) and, at once, its SLO's probes
 *     hold.
 *  4. Steady state after: swept until it holds, for as long as the longest
 *     SLO (at least 5 s).
 *  5. The rollbacks, always, also after a failure or Ctrl-C: "heal" is POST
 *     /chaos/stop (the kill switch) then POST /chaos/enable when this run
 *     injected a fault (chaos was not stopped before, or it could not have);
 *     "restart_nodes" runs --restart-cmd for each node a kill_node fault
 *     took down (without it, the node's supervisor is trusted).
 *  6. The verdict, the report, the journal (--journal, default
 *     journal.json) and its BLAKE2b digest, recorded in the ledger as a
 *     drill record of its own (POST /drills: a chaos entry; a node that
 *     answers 404 gets an operator note, POST /ledger/notes, instead);
 *     then, for at most a few seconds, GET /drills until a checkpoint at
 *     or after it is notarized, and the report names it and its signers.
 * Exit: 0 held, 10 deviated, 11 could not run; before the run starts, 5
 * and 6 as for every command when no node answers GET /federation/state or
 * refuses the read; and 6, as for every command, when a node refused the
 * admin token (401, 403) of a mutation: the run goes on to its report and
 * journal, which say what that failed. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl/deploy_int.h"
#include "ctl/drill_run_int.h"
#include "pipeline/core/manifest.h"

#define SETTLE_MIN_MS 5000u

int64_t drun_now_ms(const struct drun *x)
{
    return x->wall0 + (ctl_mono_ms() - x->mono0);
}

void drun_progress(const struct drun *x, const char *fmt, ...)
{
    if (x->o->json)
        return;
    char clock[16];
    va_list ap;
    ctl_clock(clock, sizeof clock);
    printf("[%s] ", clock);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
}

void drun_append(char *out, size_t cap, const char *s)
{
    size_t n = strlen(out);
    snprintf(out + n, cap - n, "%s%s", n ? ", " : "", s);
}

/* POSTs with the admin token, noting a refusal of it (exit 6). */
int drun_post_once(struct drun *x, const char *path, const char *payload, struct ctl_reply *r)
{
    int rc = ctl_conn_post(&x->conn, path, payload, x->token, r);
    if (rc == 0 && (r->status == 401 || r->status == 403))
        x->token_refused = true;
    return rc;
}

/* POSTs through the runner's connection. The leader it follows may be the
 * node a fault just killed, and its client, pinned to a node that went
 * away, tries no other: after no answer, the connection starts over from
 * --addr, whose 307 names the new leader. A request that may be sent twice
 * (the kill switch) is sent again at once; a probe's note is not: its
 * failure is what the sweep reports. */
int drun_post(struct drun *x, const char *path, const char *payload, bool twice,
              struct ctl_reply *r)
{
    int rc = drun_post_once(x, path, payload, r);
    struct ctl_conn fresh;
    if (rc != 0 && r->no_answer && ctl_conn_open(&fresh, &x->conn_opts) == 0) {
        ctl_conn_close(&x->conn);
        x->conn = fresh;
        if (twice) {
            ctl_reply_free(r);
            rc = drun_post_once(x, path, payload, r);
        }
    }
    return rc;
}

void drun_fail_step(struct drill_step_result *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->detail, sizeof s->detail, fmt, ap);
    va_end(ap);
    s->status = DRILL_STEP_FAILED;
}

/* The error of a refused mutation, for a step's detail. */
void drun_refusal(const struct ctl_reply *r, int rc, char *out, size_t cap)
{
    if (rc != 0)
        snprintf(out, cap, "%.200s", r->error);
    else
        snprintf(out, cap, "%ld: %.200s", r->status,
                 ctl_json_str(r->json, "error", "error status"));
}

static void run_action(struct drun *x, const struct drill_action *a, struct drill_step_result *s)
{
    drun_progress(x, "%s (%s)", a->name, drill_action_name(a->kind));
    s->started_ms = drun_now_ms(x);
    ctl_sleep_ms(a->pause_before_ms);
    switch (a->kind) {
    case DRILL_ACTION_FAULT:
        drun_run_fault(x, a, s);
        break;
    case DRILL_ACTION_DEPLOY:
        drun_run_deploy(x, a, s);
        break;
    case DRILL_ACTION_PAUSE:
        ctl_sleep_ms(a->duration_ms);
        s->status = DRILL_STEP_DONE;
        break;
    case DRILL_ACTION_HEAL:
        drun_run_heal(x, s);
        break;
    case DRILL_ACTION_RESTART_NODES:
        drun_run_restart(x, s);
        break;
    }
    if (s->status == DRILL_STEP_FAILED)
        drun_progress(x, "  FAILED: %s", s->detail);
    else
        ctl_sleep_ms(a->pause_after_ms);
    s->ended_ms = drun_now_ms(x);
}

/* Refuses a drill with faults up front when the node has no chaos
 * endpoints: nothing is touched. */
static bool chaos_missing(struct drun *x)
{
    long st;
    json_t *j = ctl_get_json(x->o, NULL, "/chaos", &st);
    json_decref(j);
    return st == 404;
}

static void steady_after(struct drun *x)
{
    const struct drill *d = &x->f.d;
    uint32_t wait = SETTLE_MIN_MS;
    for (size_t i = 0; i < d->nmethod; i++)
        if (d->method[i].slo.set && d->method[i].slo.recover_within_ms > wait)
            wait = d->method[i].slo.recover_within_ms;
    int64_t until = ctl_mono_ms() + wait;
    x->r.after_checked = true;
    drun_sweep_fresh(x); /* the steady state after is seen anew, not from the last step's notes */
    while (!drun_sweep(x, drun_all_probes(d), x->r.after) && !ctl_interrupted &&
           ctl_mono_ms() < until)
        ctl_sleep_ms(DRILL_SWEEP_MS);
}

static void print_hypothesis(const struct drun *x, const char *when,
                             const struct drill_probe_result *res)
{
    size_t held = 0;
    for (size_t i = 0; i < x->f.d.nprobes; i++)
        held += res[i].held;
    drun_progress(x, "steady state %s: %zu of %zu probes hold", when, held, x->f.d.nprobes);
}

static int finish(struct drun *x, const char *journal_file)
{
    x->r.ended_ms = drun_now_ms(x);
    char why[320], hex[2 * DRILL_DIGEST_BYTES + 1] = "";
    enum drill_verdict v = drill_verdict(&x->f.d, &x->r, why, sizeof why);
    json_t *journal = drill_journal(&x->f.d, &x->r);
    uint8_t digest[DRILL_DIGEST_BYTES] = {0};
    if (journal && drill_journal_digest(journal, digest) == 0)
        for (size_t i = 0; i < sizeof digest; i++)
            snprintf(hex + 2 * i, 3, "%02x", digest[i]);
    if (journal && json_dump_file(journal, journal_file, JSON_INDENT(2)) != 0)
        fprintf(stderr, "chimeractl: drill run: cannot write the journal to %s\n", journal_file);
    struct recorded rec = {0};
    drun_record(x, digest, &rec);
    /* --json prints the journal alone, as written: its digest is over it. */
    if (rec.ok && !rec.as_note && !x->o->json)
        drun_await_notarization(x, &rec);
    if (x->o->json) {
        json_dumpf(journal, stdout, JSON_INDENT(2));
        putchar('\n');
    } else {
        char *report = drill_report(&x->f.d, &x->r);
        printf("\n%s", report ? report : "(out of memory)\n");
        free(report);
        printf("Journal: %s (BLAKE2b %s)\n", journal_file, hex);
        drun_print_recorded(&rec);
    }
    json_decref(rec.notarization);
    json_decref(journal);
    /* The verdict is about the hypothesis (as Chaos Toolkit's status is);
     * a rollback that failed may have left a fault or a stopped node
     * behind, which whoever runs drills from a script must hear of. */
    bool rollback_failed = false;
    for (size_t i = 0; i < x->f.d.nrollbacks; i++)
        if (x->r.rollbacks[i].status == DRILL_STEP_FAILED) {
            rollback_failed = true;
            fprintf(stderr,
                    "chimeractl: drill run: rollback \"%s\" failed: %s; the federation may still "
                    "carry a fault or a stopped node\n",
                    x->f.d.rollbacks[i].name, x->r.rollbacks[i].detail);
        }
    if (x->token_refused) {
        fprintf(stderr, "chimeractl: drill run: the node refused the admin token (check "
                        "--token-file or CHIMERA_ADMIN_TOKEN_FILE): exit 6\n");
        return CTL_AUTH;
    }
    if (v == DRILL_HELD)
        return rollback_failed ? CTL_DRILL_ROLLBACK_FAILED : CTL_OK;
    return v == DRILL_DEVIATED ? CTL_DRILL_DEVIATED : CTL_DRILL_COULD_NOT_RUN;
}

static int usage(const char *what, const char *arg)
{
    fprintf(stderr, "chimeractl: drill run: %s%s%s%s (see chimeractl drill run --help)\n", what,
            arg ? " '" : "", arg ? arg : "", arg ? "'" : "");
    return CTL_USAGE;
}

int ctl_cmd_drill_run(const struct ctl_opts *o, int argc, char **argv)
{
    const char *arg = NULL, *journal = "journal.json", *restart = NULL;
    bool verbose = false;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--verbose") == 0 || strcmp(a, "-v") == 0) {
            verbose = true;
            continue;
        }
        const char **val = strcmp(a, "--journal") == 0       ? &journal
                           : strcmp(a, "--restart-cmd") == 0 ? &restart
                                                             : NULL;
        if (val) {
            if (i + 1 >= argc || !*argv[i + 1])
                return usage("needs a value after", a);
            *val = argv[++i];
        } else if (a[0] == '-' && a[1])
            return ctl_bad_argument("drill run", a);
        else if (arg)
            return usage("one drill at a time; unexpected argument", a);
        else
            arg = a;
    }
    if (!arg)
        return usage("needs a drill FILE or the NAME of a built-in drill", NULL);
    struct drun *x = calloc(1, sizeof *x);
    if (!x)
        return CTL_FAILED;
    x->o = o;
    x->restart_cmd = restart;
    /* The connection's redirect notice is the only thing json silences. */
    x->conn_opts = *o;
    x->conn_opts.json = o->json || !verbose;
    int rc = ctl_drill_load("drill run", arg, false, &x->f);
    if (rc == CTL_OK && !(x->token = ctl_token_for(o, "drill run")))
        rc = CTL_USAGE;
    if (rc == CTL_OK && ctl_conn_open(&x->conn, &x->conn_opts) != 0)
        rc = ctl_exit_code(CTL_FAM_COMMON, CTL_O_NO_ANSWER);
    if (rc != CTL_OK) {
        ctl_drill_unload(&x->f);
        free(x);
        return rc;
    }
    ctl_catch_signals();
    ctl_client_set_cancel(x->conn.first, &ctl_interrupted);
    x->mono0 = ctl_mono_ms();
    /* To the ms: the journal's times are compared with the nodes'. */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    x->wall0 = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    x->r.started_ms = x->wall0;
    const struct drill *d = &x->f.d;
    /* A federation that cannot be reached, or refuses our reads, gets the
     * common codes (5, 6) before anything is measured. */
    struct ctl_reply st;
    rc = ctl_check_reply(ctl_get(x->conn.first, "/federation/state", &st), &st);
    ctl_reply_free(&st);
    if (rc != CTL_OK)
        goto out;
    drun_progress(x, "drill \"%s\" against %s", d->title, ctl_conn_addr(&x->conn));
    if (drill_has_faults(d) && chaos_missing(x)) {
        fprintf(stderr, "chimeractl: drill run: %s: the method injects faults, but %s\n", x->f.path,
                NO_CHAOS);
        snprintf(x->r.stopped, sizeof x->r.stopped, "%s", NO_CHAOS);
        rc = CTL_DRILL_COULD_NOT_RUN;
        goto out;
    }
    x->r.before_checked = true;
    bool steady = drun_sweep(x, drun_all_probes(d), x->r.before);
    print_hypothesis(x, "before", x->r.before);
    for (size_t i = 0; steady && i < d->nmethod && !ctl_interrupted; i++) {
        run_action(x, &d->method[i], &x->r.method[i]);
        if (x->r.method[i].status == DRILL_STEP_FAILED)
            break;
    }
    if (ctl_interrupted)
        snprintf(x->r.stopped, sizeof x->r.stopped, "interrupted");
    bool failed = false;
    for (size_t i = 0; i < d->nmethod; i++)
        failed = failed || x->r.method[i].status == DRILL_STEP_FAILED;
    if (steady && !failed && !ctl_interrupted) {
        steady_after(x);
        print_hypothesis(x, "after", x->r.after);
    }
    /* The rollbacks always run: a Ctrl-C stops the method, not them. */
    ctl_interrupted = 0;
    for (size_t i = 0; steady && i < d->nrollbacks; i++)
        run_action(x, &d->rollbacks[i], &x->r.rollbacks[i]);
    rc = finish(x, journal);
out:
    ctl_conn_close(&x->conn);
    ctl_drill_unload(&x->f);
    free(x);
    return rc;
}
