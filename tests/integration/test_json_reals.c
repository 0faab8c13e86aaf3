/* Integration: the node writes reals in its JSON answers as people wrote
 * them (node/net/http.h, HTTP_JSON_FLAGS): GET /chaos gives the default
 * probability as 0.15, not jansson's %.17g 0.14999999999999999. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "harness.h"

static int setup(void **state)
{
    struct h_cluster *c = h_cluster_create(1);
    *state = c;
    return c && h_start_agreed(c, "test_json_reals", NULL) >= 0 ? 0 : -1;
}

static int teardown(void **state)
{
    h_cluster_destroy(*state);
    return 0;
}

static void test_chaos_gives_the_default_probability_as_0_15(void **state)
{
    struct h_cluster *c = *state;
    long st = 0;
    char *text = h_http_get_text(c, 0, "/chaos", &st);
    assert_int_equal(st, 200);
    const char *p = text ? strstr(text, "\"probability\":0.15") : NULL;
    char after = p ? p[strlen("\"probability\":0.15")] : 0;
    if (after != ',' && after != '}')
        fail_msg("GET /chaos: no \"probability\":0.15 in %s", text ? text : "(nothing)");
    free(text);
    h_cluster_pass(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_chaos_gives_the_default_probability_as_0_15, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
