/* What integration tests built on cmocka share at start-up: a federation
 * started with one agreed leader or the test fails, clusters in network
 * namespaces (skipped loudly where there are none), and the ledger head's
 * index. These fail the running cmocka test (fail_msg, skip) instead of
 * returning an error, so only cmocka tests may call them; they free what
 * they hold before they fail (the failure leaves the function by a
 * longjmp), so that a failing test's sanitizer report is about the
 * failure, not about their buffers. Built on harness.h. */
#ifndef CHIMERA_TEST_HARNESS_FIXTURE_H
#define CHIMERA_TEST_HARNESS_FIXTURE_H

#include "harness.h"

/* Starts every node and waits up to agree_ms (<= 0: h_timeout_ms()) for one
 * leader all agree on; returns its index (its term in *term, may be NULL).
 * Fails the test when none comes (the harness's line says why, prefixed
 * with who). */
int h_start_leader(struct h_cluster *c, const char *who, int agree_ms, unsigned long long *term);

/* Node i's ledger head index (GET /ledger/head); fails the test when the
 * node does not answer 200 with an integer index. */
json_int_t h_ledger_head_index(struct h_cluster *c, int i);

/* `chimeractl ledger verify --data DIR --json` on stopped node i's data:
 * fails the test (naming the node, the exit code and what it printed)
 * unless it exits 0 with a JSON report; returns the report (json_decref
 * it). */
json_t *h_ledger_verify(struct h_cluster *c, int i);

/* POSTs the note text to node i with the admin token; fails the test
 * unless the note is committed (201). The ledger's last index from the
 * answer. */
json_int_t h_note_committed(struct h_cluster *c, int i, const char *text);

/* GET /health/ready on node i; fails the test unless it answers want,
 * with the node's answer (its reason) and every node's view. */
void h_expect_ready(struct h_cluster *c, int i, long want);

/* ---- network namespaces (real partitions: root and iproute2) ----------- */

/* For a cmocka group set-up: finds out once whether network namespaces are
 * available and, when not, says loudly that `skipped` ("every test", "the
 * partition test") of who will be skipped. Returns 0. */
int h_netns_check(const char *who, const char *skipped);

/* cmocka set-up: an n-node cluster in *state, each node in a namespace of
 * its own when namespaces are available (h_netns_setup); -1 after saying
 * why when they cannot be set up. */
int h_netns_cluster_setup(void **state, int n, const char *who);

/* At the start of a test that needs the namespaces: returns when they are
 * available; otherwise skips the test (fails it when CHIMERA_REQUIRE_NETNS
 * is 1). */
void h_require_netns(struct h_cluster *c, const char *who);

#endif
