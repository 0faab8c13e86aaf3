/* Test support for tests that need a release running: deploy one of
 * deploy/examples and find the service processes a node started (they
 * carry its data directory as a mark, CHIMERA_SERVICE_OWNER). */
#ifndef CHIMERA_TEST_HARNESS_RELEASE_H
#define CHIMERA_TEST_HARNESS_RELEASE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "harness.h"

/* Puts the build directory (chimera-demo) first on this process's PATH,
 * which the nodes it starts inherit. */
void h_path_add_bin_dir(void);

/* cmocka set-up and tear-down: a one-node cluster whose node finds
 * chimera-demo (in *state), and its destruction. */
int h_setup_one_node(void **state);
int h_teardown_cluster(void **state);

/* POSTs deploy/examples/<file> to node i (the leader) and waits up to
 * timeout_ms for the deployment to be stable there. Returns its id
 * (malloc'd), or NULL after printing why. */
char *h_deploy_stable(struct h_cluster *c, int i, const char *file, int timeout_ms);

/* The pids of the running processes that carry node i's mark, up to max;
 * returns how many there are. */
size_t h_service_pids(const struct h_cluster *c, int i, pid_t *pids, size_t max);

/* Waits until node i has no marked process left. */
bool h_wait_no_services(const struct h_cluster *c, int i, int timeout_ms);

#endif
