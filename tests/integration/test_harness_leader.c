/* Integration: the harness's release helpers follow the leader, on three
 * real chimerad processes. A loaded machine may hold an election mid-test,
 * so the node a test took for the leader may answer 307 (not the leader);
 * h_release_deploy goes on to the leader that answer names, while
 * h_release_post keeps the raw answer for the tests that check a 307 or a
 * refusal themselves. Every wait is on a condition with a deadline. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "harness_release.h"

/* The leader the federation agreed on, and a node that follows it. */
static int start(struct h_cluster *c, int *follower)
{
    int leader = h_start_agreed(c, "test_harness_leader", NULL);
    if (leader < 0)
        fail_msg("the federation did not come up with a leader");
    *follower = (leader + 1) % c->n;
    return leader;
}

static void test_a_deployment_posted_to_a_follower_reaches_the_leader(void **state)
{
    struct h_cluster *c = *state;
    int follower;
    int leader = start(c, &follower);
    char *manifest = h_release_example("demo-good.json", NULL);
    assert_non_null(manifest);
    char why[1024];
    char *id = h_release_deploy(c, follower, manifest, 0, why, sizeof(why));
    free(manifest);
    if (!id)
        fail_msg("%s", why);
    char path[160];
    snprintf(path, sizeof(path), "/deployments/%s", id);
    long st = 0;
    json_t *d = h_http_get_json(c, leader, path, &st);
    assert_int_equal(st, 200); /* recorded by the leader */
    json_decref(d);
    free(id);
    h_cluster_pass(c);
}

static void test_a_raw_post_to_a_follower_answers_307_naming_the_leader(void **state)
{
    struct h_cluster *c = *state;
    int follower;
    int leader = start(c, &follower);
    char *manifest = h_release_example("demo-good.json", NULL);
    assert_non_null(manifest);
    long st = 0;
    json_t *j = h_release_post(c, follower, "/deployments", manifest, 0, &st);
    free(manifest);
    assert_int_equal(st, 307);
    assert_string_equal(json_string_value(json_object_get(j, "leader")), c->nodes[leader].id);
    json_decref(j);
    h_cluster_pass(c);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, h_setup_three_nodes, h_teardown_cluster)
    const struct CMUnitTest tests[] = {
        T(test_a_deployment_posted_to_a_follower_reaches_the_leader),
        T(test_a_raw_post_to_a_follower_answers_307_naming_the_leader),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
