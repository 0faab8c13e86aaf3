/* Integration: checkpoints and cosignatures are synced off the loop. On
 * three real chimerad processes, notes are committed and checkpointed,
 * cosigned and notarized on every node, and no node's loop waited for the
 * disk meanwhile (chimera_ledger_loop_syncs_total stays put): the records
 * join the sync the entries share on the thread pool. Every wait is on a
 * condition, never on time. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "harness_fixture.h"
#include "harness_release.h"

#define NOTES 10

struct notarized_arg {
    struct h_cluster *c;
    json_int_t at_least;
};

/* Every node holds a notarized checkpoint at or beyond at_least. */
static bool notarized_everywhere(void *arg)
{
    struct notarized_arg *a = arg;
    bool ok = true;
    for (int i = 0; ok && i < a->c->n; i++) {
        long st = 0;
        json_t *h = h_http_get_json(a->c, i, "/ledger/head", &st);
        json_t *cp = h ? json_object_get(h, "checkpoint") : NULL;
        ok = st == 200 && json_is_object(cp) &&
             json_integer_value(json_object_get(cp, "index")) >= a->at_least &&
             json_is_true(json_object_get(cp, "notarized"));
        json_decref(h);
    }
    return ok;
}

static void expect_notarized(struct h_cluster *c, json_int_t at_least)
{
    struct notarized_arg a = {.c = c, .at_least = at_least};
    if (!h_wait_until(notarized_everywhere, &a, h_timeout_ms()))
        fail_msg("no notarized checkpoint at index >= %lld on every node", (long long)at_least);
}

static double metric_of(struct h_cluster *c, int i, const char *name)
{
    double v = 0;
    if (!h_metric(c, i, name, &v))
        fail_msg("%s: no %s in /metrics", c->nodes[i].id, name);
    return v;
}

static void test_checkpoints_and_cosignatures_are_synced_off_the_loop(void **state)
{
    struct h_cluster *c = *state;
    unsigned long long term;
    /* What is tested is where records are synced, not elections: a leader
     * change would bring a truncation, which syncs on the loop. */
    c->election_timeout_ms = 1000;
    int leader = h_start_leader(c, "test_records_off_loop", 0, &term);
    /* Past the start: the ledger opened, its first segment made, the first
     * checkpoint notarized everywhere. */
    expect_notarized(c, 1);
    double loop0[H_MAX_NODES], cps0[H_MAX_NODES];
    for (int i = 0; i < c->n; i++) {
        loop0[i] = metric_of(c, i, "chimera_ledger_loop_syncs_total");
        cps0[i] = metric_of(c, i, "chimera_ledger_checkpoints_total");
    }
    json_int_t last = 0;
    for (int k = 0; k < NOTES; k++)
        last = h_note_committed(c, leader, "off the loop");
    expect_notarized(c, last);
    for (int i = 0; i < c->n; i++) {
        double cps = metric_of(c, i, "chimera_ledger_checkpoints_total");
        double loop = metric_of(c, i, "chimera_ledger_loop_syncs_total");
        if (cps <= cps0[i])
            fail_msg("%s stored no checkpoint (%.0f before, %.0f after)", c->nodes[i].id, cps0[i],
                     cps);
        if (loop != loop0[i])
            fail_msg("%s: its loop waited for %.0f syncs of the ledger while it stored %.0f "
                     "checkpoints (with their cosignatures)",
                     c->nodes[i].id, loop - loop0[i], cps - cps0[i]);
    }
    h_cluster_pass(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_checkpoints_and_cosignatures_are_synced_off_the_loop,
                                        h_setup_three_nodes, h_teardown_cluster),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
