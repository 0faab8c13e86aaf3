/* Releases for integration tests: the manifests of deploy/examples, deployed
 * through a node's HTTP API, and waits on what the federation says about
 * them. Built on harness.h. */
#ifndef CHIMERA_TEST_HARNESS_RELEASE_H
#define CHIMERA_TEST_HARNESS_RELEASE_H

#include <stdbool.h>

#include "harness.h"

/* Puts the build directory (where chimera-demo is) in front of PATH, so the
 * nodes a test starts find the demo service. */
void h_release_path_setup(void);

/* deploy/examples/NAME, read whole (malloc'd), with its "1.0.0" version
 * replaced by version unless version is NULL. NULL when it cannot be read. */
char *h_release_example(const char *name, const char *version);

/* POSTs the manifest to node i (the leader); returns the deployment id
 * (malloc'd), or NULL with the answer in why. */
char *h_release_deploy(struct h_cluster *c, int i, const char *manifest, char *why, size_t whylen);

/* Waits until some running node reports deployment id in stage. */
bool h_release_wait_stage(struct h_cluster *c, const char *id, const char *stage, int timeout_ms);

/* Waits until every running node runs the release of deployment id. */
bool h_release_wait_running(struct h_cluster *c, const char *id, int timeout_ms);

#endif
