/* The leader's watch over the members' release health: which reports are
 * news (release.unhealthy, release.healthy), once each, rate-limited per
 * member, and afresh under a new leadership. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "node/base/release_watch.h"

#define TERM 3
#define IVL 30000

static struct release_watch w;

static int setup(void **state)
{
    (void)state;
    memset(&w, 0, sizeof(w));
    return 0;
}

static enum release_watch_news report(size_t idx, enum pl_health h, const char *dep, int64_t now,
                                      uint64_t *held)
{
    uint64_t ignored = 0;
    return release_watch_report(&w, TERM, idx, h, dep, now, IVL, held ? held : &ignored);
}

static void test_a_healthy_member_is_no_news(void **state)
{
    (void)state;
    assert_int_equal(report(0, PL_H_STARTING, "d-1", 1000, NULL), RELEASE_WATCH_NOTHING);
    assert_int_equal(report(0, PL_H_HEALTHY, "d-1", 2000, NULL), RELEASE_WATCH_NOTHING);
    assert_int_equal(report(0, PL_H_NONE, "", 3000, NULL), RELEASE_WATCH_NOTHING);
}

static void test_a_member_that_fails_to_start_is_raised_once(void **state)
{
    (void)state;
    uint64_t held = 99;
    assert_int_equal(report(1, PL_H_START_FAILED, "d-1", 1000, &held), RELEASE_WATCH_UNHEALTHY);
    assert_int_equal(held, 0);
    for (int64_t t = 1250; t < 200000; t += 250)
        assert_int_equal(report(1, PL_H_START_FAILED, "d-1", t, NULL), RELEASE_WATCH_NOTHING);
}

static void test_each_member_is_raised_on_its_own(void **state)
{
    (void)state;
    assert_int_equal(report(0, PL_H_CRASHED, "d-1", 1000, NULL), RELEASE_WATCH_UNHEALTHY);
    assert_int_equal(report(2, PL_H_CRASHED, "d-1", 1001, NULL), RELEASE_WATCH_UNHEALTHY);
}

static void test_recovery_is_raised_once_the_member_is_healthy_again(void **state)
{
    (void)state;
    report(0, PL_H_UNHEALTHY, "d-1", 1000, NULL);
    assert_int_equal(report(0, PL_H_STARTING, "d-1", 2000, NULL), RELEASE_WATCH_NOTHING);
    assert_int_equal(report(0, PL_H_HEALTHY, "d-1", 3000, NULL), RELEASE_WATCH_HEALTHY);
    assert_int_equal(report(0, PL_H_HEALTHY, "d-1", 4000, NULL), RELEASE_WATCH_NOTHING);
}

static void test_turning_bad_in_another_way_is_news_after_the_interval(void **state)
{
    (void)state;
    assert_int_equal(report(0, PL_H_UNHEALTHY, "d-1", 1000, NULL), RELEASE_WATCH_UNHEALTHY);
    assert_int_equal(report(0, PL_H_CRASHED, "d-1", 2000, NULL), RELEASE_WATCH_NOTHING);
    uint64_t held = 99;
    assert_int_equal(report(0, PL_H_CRASHED, "d-1", 1000 + IVL, &held), RELEASE_WATCH_UNHEALTHY);
    assert_int_equal(held, 0); /* the one held back is the one raised now */
}

static void test_a_flapping_member_is_raised_at_most_once_per_interval(void **state)
{
    (void)state;
    int raised = 0;
    for (int64_t t = 0; t < IVL; t += 500) {
        enum pl_health h = (t / 500) % 2 ? PL_H_HEALTHY : PL_H_UNHEALTHY;
        raised += report(0, h, "d-1", t, NULL) == RELEASE_WATCH_UNHEALTHY;
    }
    assert_int_equal(raised, 1);
    uint64_t held = 0;
    assert_int_equal(report(0, PL_H_UNHEALTHY, "d-1", IVL + 1, &held), RELEASE_WATCH_UNHEALTHY);
    assert_true(held > 0); /* says how many it held back */
}

static void test_a_new_leadership_raises_what_is_still_bad(void **state)
{
    (void)state;
    report(0, PL_H_CRASHED, "d-1", 1000, NULL);
    uint64_t held;
    assert_int_equal(release_watch_report(&w, TERM + 1, 0, PL_H_CRASHED, "d-1", 1500, IVL, &held),
                     RELEASE_WATCH_UNHEALTHY);
}

static void test_an_unknown_member_is_ignored(void **state)
{
    (void)state;
    assert_int_equal(report(PL_MAX_NODES, PL_H_CRASHED, "d-1", 1000, NULL), RELEASE_WATCH_NOTHING);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_a_healthy_member_is_no_news, setup),
        cmocka_unit_test_setup(test_a_member_that_fails_to_start_is_raised_once, setup),
        cmocka_unit_test_setup(test_each_member_is_raised_on_its_own, setup),
        cmocka_unit_test_setup(test_recovery_is_raised_once_the_member_is_healthy_again, setup),
        cmocka_unit_test_setup(test_turning_bad_in_another_way_is_news_after_the_interval, setup),
        cmocka_unit_test_setup(test_a_flapping_member_is_raised_at_most_once_per_interval, setup),
        cmocka_unit_test_setup(test_a_new_leadership_raises_what_is_still_bad, setup),
        cmocka_unit_test_setup(test_an_unknown_member_is_ignored, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
