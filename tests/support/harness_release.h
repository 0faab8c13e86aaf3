/* Releases for integration tests: the manifests of deploy/examples,
 * deployed through a node's HTTP API, waits on what the federation says
 * about them, and the service processes a node started (they carry its
 * data directory as a mark, CHIMERA_SERVICE_OWNER). Built on harness.h. */
#ifndef CHIMERA_TEST_HARNESS_RELEASE_H
#define CHIMERA_TEST_HARNESS_RELEASE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "harness.h"

/* Puts the build directory (where chimera-demo is) first on this process's
 * PATH, which the nodes a test starts inherit. */
void h_path_add_bin_dir(void);

/* cmocka set-up and tear-down: a one-node (three-, five-node) cluster
 * whose nodes find chimera-demo (in *state), and its destruction. */
int h_setup_one_node(void **state);
int h_setup_three_nodes(void **state);
int h_setup_five_nodes(void **state);
/* Three nodes with a 600 ms election timeout: a leadership transfer gives
 * up after one, and a longer one than the default keeps a loaded machine
 * (sanitizers, parallel tests) from failing a transfer merely slow. */
int h_setup_three_nodes_for_transfer(void **state);
int h_teardown_cluster(void **state);

/* The path of deploy/examples/NAME in the source tree. */
void h_release_example_path(const char *name, char *out, size_t len);

/* deploy/examples/NAME, read whole (malloc'd), with its "1.0.0" version
 * replaced by version unless version is NULL. NULL when it cannot be read. */
char *h_release_example(const char *name, const char *version);

/* POSTs body to path on node i with the admin token, waiting up to
 * timeout_ms (<= 0: the default); the answer's JSON (NULL: none) and
 * status. */
json_t *h_release_post(const struct h_cluster *c, int i, const char *path, const char *body,
                       int timeout_ms, long *status);

/* h_release_post that follows the leader: a 307 (not the leader) goes on
 * to the node it names, and a 503 while no leader is known (an election, a
 * read-only node) is asked again, for up to h_timeout_ms() in all, so that
 * an election a loaded machine holds mid-test does not fail the test. A
 * test that checks a 307 or a 503 itself uses h_release_post. The text
 * variant returns the answer's text (malloc'd) and the node that gave it
 * in *at (may be NULL). */
json_t *h_release_post_leader(const struct h_cluster *c, int i, const char *path, const char *body,
                              int timeout_ms, long *status);
char *h_release_post_text(const struct h_cluster *c, int i, const char *path, const char *body,
                          int timeout_ms, long *status, int *at);

/* POSTs the manifest to node i (the leader: followed where it moved, as
 * h_release_post_leader does), waiting up to timeout_ms per request (<= 0:
 * the default); returns the deployment id (malloc'd), or NULL with the
 * answer in why. */
char *h_release_deploy(struct h_cluster *c, int i, const char *manifest, int timeout_ms, char *why,
                       size_t whylen);

/* h_release_deploy of deploy/examples/FILE (its version replaced unless
 * version is NULL); NULL after printing why. */
char *h_release_submit(struct h_cluster *c, int i, const char *file, const char *version,
                       int timeout_ms);

/* Waits until node i (i < 0: some running node) reports deployment id in
 * stage; returns the deployment object it reported (json_decref it), or
 * NULL after printing the stage last seen and the nodes' views. */
json_t *h_release_stage_at(struct h_cluster *c, int i, const char *id, const char *stage,
                           int timeout_ms);

/* Waits until some running node reports deployment id in stage; false
 * after printing why. */
bool h_release_wait_stage(struct h_cluster *c, const char *id, const char *stage, int timeout_ms);

/* Waits until every running node runs the release of deployment id; false
 * after printing why. */
bool h_release_wait_running(struct h_cluster *c, const char *id, int timeout_ms);

/* The id of the newest deployment node i lists (malloc'd), or NULL after
 * printing why. */
char *h_release_newest(struct h_cluster *c, int i);
/* The newest deployment on node i once it is another than `than` (a rollback
 * recorded after the deployment it reverts: "failed" is visible a moment
 * before the rollback's record is); NULL if none within timeout_ms. */
char *h_release_newest_after(struct h_cluster *c, int i, const char *than, int timeout_ms);

/* POSTs deploy/examples/<file> to node i (the leader) and waits up to
 * timeout_ms for the deployment to be stable there. Returns its id
 * (malloc'd), or NULL after printing why. */
char *h_deploy_stable(struct h_cluster *c, int i, const char *file, int timeout_ms);

/* Waits until node i holds an event of kind whose message contains about
 * (NULL: any message); the message of the last such event goes to message
 * (NULL: nowhere). */
bool h_release_wait_event(const struct h_cluster *c, int i, const char *kind, const char *about,
                          int timeout_ms, char *message, size_t len);

/* The pids of the running processes that carry node i's mark, up to max;
 * returns how many there are. */
size_t h_service_pids(const struct h_cluster *c, int i, pid_t *pids, size_t max);

/* Waits until node i has no marked process left. */
bool h_wait_no_services(const struct h_cluster *c, int i, int timeout_ms);

/* The machine's load average over the last minute (-1: unknown): benchmarks
 * print it with every figure. */
double h_load_average(void);

#endif
