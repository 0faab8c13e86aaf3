/* wire_prescan_counted: what the pre-scan counts in an object it accepts,
 * for readers that refuse too many items before msgpack-c allocates for
 * them (the well-formedness it shares with wire_prescan is tested in
 * test_wire_prescan.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "wire/prescan.h"

#define DEPTH 2

static struct wire_counts counted(const char *buf, size_t len, uint64_t max_items)
{
    struct wire_counts n;
    assert_int_equal(wire_prescan_counted(buf, len, DEPTH, max_items, &n), 0);
    return n;
}

static void test_every_object_is_counted_containers_and_all(void **state)
{
    (void)state;
    /* {"a": [1, 2], "b": nil} */
    struct wire_counts n = counted("\x82\xa1"
                                   "a\x92\x01\x02\xa1"
                                   "b\xc0",
                                   9, 16);
    assert_int_equal(n.objects, 7);
    assert_int_equal(n.wide_items, 0);
}

static void test_the_first_container_over_the_limit_is_found_with_its_key(void **state)
{
    (void)state;
    /* {"k": [1, 2, 3], "z": [1, 2, 3, 4]} */
    struct wire_counts n = counted("\x82\xa1"
                                   "k\x93\x01\x02\x03\xa1"
                                   "z\x94\x01\x02\x03\x04",
                                   14, 2);
    assert_int_equal(n.wide_items, 3);
    assert_int_equal(n.wide_at, 3);
    assert_int_equal(n.wide_key_at, 1);
}

static void test_a_key_that_is_a_container_is_found_where_it_starts(void **state)
{
    (void)state;
    /* {[1]: [1, 2, 3]} */
    struct wire_counts n = counted("\x81\x91\x01\x93\x01\x02\x03", 7, 2);
    assert_int_equal(n.wide_at, 3);
    assert_int_equal(n.wide_key_at, 1);
}

static void test_a_map_counts_its_pairs_and_has_no_key_at_the_top(void **state)
{
    (void)state;
    /* {1: 2, 3: 4, 5: 6} */
    struct wire_counts n = counted("\x83\x01\x02\x03\x04\x05\x06", 7, 2);
    assert_int_equal(n.wide_items, 3);
    assert_int_equal(n.wide_at, 0);
    assert_int_equal(n.wide_key_at, WIRE_NO_KEY);
}

static void test_an_array_item_over_the_limit_has_no_key(void **state)
{
    (void)state;
    /* [nil, [1, 2, 3]] */
    struct wire_counts n = counted("\x92\xc0\x93\x01\x02\x03", 6, 2);
    assert_int_equal(n.wide_at, 2);
    assert_int_equal(n.wide_key_at, WIRE_NO_KEY);
}

static void test_a_key_over_the_limit_has_no_key(void **state)
{
    (void)state;
    /* {[1, 2, 3]: nil} */
    struct wire_counts n = counted("\x81\x93\x01\x02\x03\xc0", 6, 2);
    assert_int_equal(n.wide_at, 1);
    assert_int_equal(n.wide_key_at, WIRE_NO_KEY);
}

static void test_a_count_past_the_end_is_refused_before_it_is_counted(void **state)
{
    (void)state;
    struct wire_counts n;
    assert_int_equal(wire_prescan_counted("\xdd\xff\xff\xff\xff\xc0", 6, DEPTH, 2, &n), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_object_is_counted_containers_and_all),
        cmocka_unit_test(test_the_first_container_over_the_limit_is_found_with_its_key),
        cmocka_unit_test(test_a_key_that_is_a_container_is_found_where_it_starts),
        cmocka_unit_test(test_a_map_counts_its_pairs_and_has_no_key_at_the_top),
        cmocka_unit_test(test_an_array_item_over_the_limit_has_no_key),
        cmocka_unit_test(test_a_key_over_the_limit_has_no_key),
        cmocka_unit_test(test_a_count_past_the_end_is_refused_before_it_is_counted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
