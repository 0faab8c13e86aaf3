/* config_load: the chaos injector's and the recovery watchtower's settings,
 * from flags, the environment and the --config file; each good and bad. */
#include "test_config_support.h"

/* Loads with REQ plus the flags in argv and the file json (NULL: none). */
static enum config_result load_with(void **state, struct config *c, char *err, size_t errlen,
                                    const char *const *argv, const char *const *envp,
                                    const char *json)
{
    const char *args[16] = {"chimerad", REQ};
    size_t n = 5;
    for (size_t i = 1; argv && argv[i]; i++)
        args[n++] = argv[i];
    if (json) {
        args[n++] = "--config";
        args[n++] = conf(state, json);
    }
    args[n] = NULL;
    return load(c, err, errlen, args, envp);
}

static struct config ok(void **state, const char *const *argv, const char *const *envp,
                        const char *json)
{
    struct config c;
    char err[512] = "";
    if (load_with(state, &c, err, sizeof err, argv, envp, json) != CONFIG_OK) {
        print_error("config did not load: %s\n", err);
        fail();
    }
    return c;
}

static void bad(void **state, const char *const *argv, const char *const *envp, const char *json,
                const char *needle)
{
    struct config c;
    char err[512] = "";
    assert_int_equal(load_with(state, &c, err, sizeof err, argv, envp, json), CONFIG_ERROR);
    assert_null(strchr(err, '\n'));
    assert_err_has(err, needle);
}

static void test_defaults_keep_chaos_off_and_recovery_on(void **state)
{
    struct config c = ok(state, NOARGS, NOENV, NULL);
    assert_false(c.chaos.enabled);
    assert_int_equal(c.chaos.interval_ms, 600000);
    assert_true(c.chaos.probability == 0.15);
    assert_false(c.chaos.dry_run);
    assert_int_equal(c.chaos.kinds, CHAOS_KINDS_DEFAULT);
    assert_int_equal(c.chaos.nexclude, 0);
    assert_int_equal(c.chaos.max_duration_ms, 60000);
    assert_true(c.chaos.window.always);
    assert_string_equal(c.chaos_window, "always");
    assert_true(c.recovery_enabled);
    assert_int_equal(c.recovery_revert_window_ms, 300000); /* WT_DEFAULT_REVERT_WINDOW_MS */
}

/* ---- CHIMERA_CHAOS_INTERVAL ---- */

static void test_interval_in_plain_seconds(void **state)
{
    assert_int_equal(ok(state, ARGV("--chaos-interval", "900"), NOENV, NULL).chaos.interval_ms,
                     900000);
}

static void test_interval_with_a_unit(void **state)
{
    assert_int_equal(ok(state, NOARGS, ENV("CHIMERA_CHAOS_INTERVAL=10m"), NULL).chaos.interval_ms,
                     600000);
}

static void test_interval_from_the_file_as_a_number_of_seconds(void **state)
{
    assert_int_equal(ok(state, NOARGS, NOENV, "{\"chaos_interval\": 120}").chaos.interval_ms,
                     120000);
}

static void test_interval_flag_wins_over_the_environment(void **state)
{
    assert_int_equal(ok(state, ARGV("--chaos-interval=30s"), ENV("CHIMERA_CHAOS_INTERVAL=1h"), NULL)
                         .chaos.interval_ms,
                     30000);
}

static void test_interval_of_zero_is_an_error(void **state)
{
    bad(state, ARGV("--chaos-interval", "0"), NOENV, NULL,
        "--chaos-interval: must be a duration from 1 to 604800 seconds");
}

static void test_interval_that_is_not_a_duration_names_the_env_variable(void **state)
{
    bad(state, NOARGS, ENV("CHIMERA_CHAOS_INTERVAL=often"), NULL,
        "CHIMERA_CHAOS_INTERVAL: must be a duration");
}

static void test_interval_of_the_wrong_json_type_names_key_and_file(void **state)
{
    bad(state, NOARGS, NOENV, "{\"chaos_interval\": true}",
        ": chaos_interval: must be a whole number of seconds or a duration string");
}

/* ---- CHIMERA_CHAOS_PROBABILITY ---- */

static void test_probability_is_read_as_a_number(void **state)
{
    assert_true(ok(state, ARGV("--chaos-probability", "0.5"), NOENV, NULL).chaos.probability ==
                0.5);
    assert_true(ok(state, ARGV("--chaos-probability", "1"), NOENV, NULL).chaos.probability == 1);
}

static void test_probability_from_the_file_as_a_json_number(void **state)
{
    assert_true(ok(state, NOARGS, NOENV, "{\"chaos_probability\": 0.25}").chaos.probability ==
                0.25);
    assert_true(ok(state, NOARGS, NOENV, "{\"chaos_probability\": 0}").chaos.probability == 0);
}

static void test_probability_above_one_is_an_error(void **state)
{
    bad(state, ARGV("--chaos-probability", "1.5"), NOENV, NULL,
        "--chaos-probability: must be a number from 0 to 1");
}

static void test_negative_or_not_a_number_probability_is_an_error(void **state)
{
    bad(state, ARGV("--chaos-probability", "-0.1"), NOENV, NULL, "from 0 to 1");
    bad(state, ARGV("--chaos-probability", "nan"), NOENV, NULL, "from 0 to 1");
    bad(state, ARGV("--chaos-probability", "15%"), NOENV, NULL, "from 0 to 1");
}

static void test_probability_as_a_json_string_is_an_error(void **state)
{
    bad(state, NOARGS, NOENV, "{\"chaos_probability\": \"0.2\"}",
        ": chaos_probability: must be a number from 0 to 1");
}

/* ---- CHIMERA_CHAOS_DRY_RUN ---- */

static void test_dry_run_switch_alone_turns_it_on(void **state)
{
    assert_true(ok(state, ARGV("--chaos-dry-run"), NOENV, NULL).chaos.dry_run);
}

static void test_dry_run_from_env_and_file(void **state)
{
    assert_true(ok(state, NOARGS, ENV("CHIMERA_CHAOS_DRY_RUN=yes"), NULL).chaos.dry_run);
    assert_true(ok(state, NOARGS, NOENV, "{\"chaos_dry_run\": true}").chaos.dry_run);
}

static void test_dry_run_followed_by_a_value_says_use_equals(void **state)
{
    bad(state, ARGV("--chaos-dry-run", "true"), NOENV, NULL,
        "--chaos-dry-run: takes no separate value; use --chaos-dry-run=true");
}

static void test_dry_run_with_a_bad_value_is_an_error(void **state)
{
    bad(state, NOARGS, ENV("CHIMERA_CHAOS_DRY_RUN=maybe"), NULL,
        "CHIMERA_CHAOS_DRY_RUN: must be true or false");
}

/* ---- CHIMERA_CHAOS_FAULTS ---- */

static void test_faults_list_sets_the_enabled_kinds(void **state)
{
    assert_int_equal(
        ok(state, ARGV("--chaos-faults", "kill_service, kill_node"), NOENV, NULL).chaos.kinds,
        CHAOS_KIND_BIT(CHAOS_KILL_SERVICE) | CHAOS_KIND_BIT(CHAOS_KILL_NODE));
}

static void test_faults_from_the_file_as_an_array(void **state)
{
    assert_int_equal(
        ok(state, NOARGS, NOENV, "{\"chaos_faults\": [\"pause_service\", \"isolate_node\"]}")
            .chaos.kinds,
        CHAOS_KIND_BIT(CHAOS_PAUSE_SERVICE) | CHAOS_KIND_BIT(CHAOS_ISOLATE_NODE));
}

static void test_an_unknown_fault_kind_is_an_error(void **state)
{
    bad(state, ARGV("--chaos-faults", "kill_service,kil_node"), NOENV, NULL,
        "--chaos-faults: \"kil_node\" is not a fault kind; use kill_service");
}

static void test_a_faults_list_naming_no_kind_is_an_error(void **state)
{
    bad(state, ARGV("--chaos-faults", ","), NOENV, NULL, "--chaos-faults: names no fault kind");
}

static void test_a_faults_array_with_a_number_is_an_error(void **state)
{
    bad(state, NOARGS, NOENV, "{\"chaos_faults\": [\"kill_service\", 3]}",
        ": chaos_faults: element 1 must be a string");
}

/* ---- CHIMERA_CHAOS_EXCLUDE ---- */

static void test_exclude_lists_nodes_and_services(void **state)
{
    struct config c = ok(state, NOARGS, ENV("CHIMERA_CHAOS_EXCLUDE=n1, db"), NULL);
    assert_int_equal(c.chaos.nexclude, 2);
    assert_true(chaos_settings_excludes(&c.chaos, "n1"));
    assert_true(chaos_settings_excludes(&c.chaos, "db"));
    assert_false(chaos_settings_excludes(&c.chaos, "web"));
}

static void test_exclude_from_the_file_as_an_array(void **state)
{
    struct config c = ok(state, NOARGS, NOENV, "{\"chaos_exclude\": [\"n2\", \"web\"]}");
    assert_int_equal(c.chaos.nexclude, 2);
    assert_string_equal(c.chaos.exclude[1], "web");
}

static void test_exclude_with_a_bad_name_is_an_error(void **state)
{
    bad(state, ARGV("--chaos-exclude", "n1,we b"), NOENV, NULL,
        "--chaos-exclude: \"we b\" is not a node or service name");
}

static void test_exclude_with_too_many_names_is_an_error(void **state)
{
    char list[CHAOS_EXCLUDE_MAX * 4 + 8] = "";
    for (int i = 0; i <= CHAOS_EXCLUDE_MAX; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%sn%d", i ? "," : "", i);
    bad(state, ARGV("--chaos-exclude", list), NOENV, NULL, "--chaos-exclude: more than 32 names");
}

/* ---- CHIMERA_CHAOS_MAX_DURATION ---- */

static void test_max_duration_with_a_unit(void **state)
{
    assert_int_equal(
        ok(state, ARGV("--chaos-max-duration", "90s"), NOENV, NULL).chaos.max_duration_ms, 90000);
}

static void test_max_duration_over_a_day_is_an_error(void **state)
{
    bad(state, ARGV("--chaos-max-duration", "25h"), NOENV, NULL,
        "--chaos-max-duration: must be a duration from 1 to 86400 seconds");
}

static void test_max_duration_with_an_unknown_unit_is_an_error(void **state)
{
    bad(state, NOARGS, NOENV, "{\"chaos_max_duration\": \"2d\"}",
        ": chaos_max_duration: must be a duration");
}

/* ---- CHIMERA_CHAOS_WINDOW ---- */

static void test_window_business_hours(void **state)
{
    struct config c = ok(state, ARGV("--chaos-window", "Mon-Fri 09:00-17:00"), NOENV, NULL);
    assert_false(c.chaos.window.always);
    assert_int_equal(c.chaos.window.n, 1);
    assert_string_equal(c.chaos_window, "Mon-Fri 09:00-17:00");
}

static void test_a_bad_window_names_the_setting_and_the_range(void **state)
{
    bad(state, NOARGS, ENV("CHIMERA_CHAOS_WINDOW=Mon-Fry 09:00-17:00"), NULL,
        "CHIMERA_CHAOS_WINDOW: \"Mon-Fry 09:00-17:00\": unknown day");
}

static void test_a_bad_window_in_the_file_names_key_and_file(void **state)
{
    bad(state, NOARGS, NOENV, "{\"chaos_window\": \"weekdays\"}", ": chaos_window: \"weekdays\"");
}

/* ---- CHIMERA_RECOVERY_ENABLED ---- */

static void test_recovery_can_be_turned_off(void **state)
{
    assert_false(ok(state, ARGV("--recovery-enabled=false"), NOENV, NULL).recovery_enabled);
    assert_false(ok(state, NOARGS, ENV("CHIMERA_RECOVERY_ENABLED=0"), NULL).recovery_enabled);
    assert_false(ok(state, NOARGS, NOENV, "{\"recovery_enabled\": false}").recovery_enabled);
}

static void test_recovery_with_a_bad_value_is_an_error(void **state)
{
    bad(state, ARGV("--recovery-enabled=sometimes"), NOENV, NULL,
        "--recovery-enabled: must be true or false");
}

/* ---- CHIMERA_RECOVERY_REVERT_WINDOW ---- */

static void test_revert_window_with_a_unit(void **state)
{
    assert_int_equal(ok(state, NOARGS, ENV("CHIMERA_RECOVERY_REVERT_WINDOW=30m"), NULL)
                         .recovery_revert_window_ms,
                     1800000);
}

static void test_revert_window_of_zero_is_allowed(void **state)
{
    assert_int_equal(
        ok(state, ARGV("--recovery-revert-window", "0"), NOENV, NULL).recovery_revert_window_ms, 0);
}

static void test_revert_window_over_a_week_is_an_error(void **state)
{
    bad(state, NOARGS, NOENV, "{\"recovery_revert_window\": 604801}",
        ": recovery_revert_window: must be a duration from 0 to 604800 seconds");
}

static void test_a_misspelt_file_key_gets_its_likely_spelling(void **state)
{
    bad(state, NOARGS, NOENV, "{\"chaos_intervall\": 5}",
        "unknown key \"chaos_intervall\" (did you mean chaos_interval?)");
}

static void test_an_unknown_file_key_lists_the_chaos_keys_too(void **state)
{
    bad(state, NOARGS, NOENV, "{\"mayhem\": 5}", "chaos_interval, chaos_probability");
}

#define T(name) cmocka_unit_test_setup_teardown(name, file_fixture_setup, file_fixture_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_defaults_keep_chaos_off_and_recovery_on),
        T(test_interval_in_plain_seconds),
        T(test_interval_with_a_unit),
        T(test_interval_from_the_file_as_a_number_of_seconds),
        T(test_interval_flag_wins_over_the_environment),
        T(test_interval_of_zero_is_an_error),
        T(test_interval_that_is_not_a_duration_names_the_env_variable),
        T(test_interval_of_the_wrong_json_type_names_key_and_file),
        T(test_probability_is_read_as_a_number),
        T(test_probability_from_the_file_as_a_json_number),
        T(test_probability_above_one_is_an_error),
        T(test_negative_or_not_a_number_probability_is_an_error),
        T(test_probability_as_a_json_string_is_an_error),
        T(test_dry_run_switch_alone_turns_it_on),
        T(test_dry_run_from_env_and_file),
        T(test_dry_run_followed_by_a_value_says_use_equals),
        T(test_dry_run_with_a_bad_value_is_an_error),
        T(test_faults_list_sets_the_enabled_kinds),
        T(test_faults_from_the_file_as_an_array),
        T(test_an_unknown_fault_kind_is_an_error),
        T(test_a_faults_list_naming_no_kind_is_an_error),
        T(test_a_faults_array_with_a_number_is_an_error),
        T(test_exclude_lists_nodes_and_services),
        T(test_exclude_from_the_file_as_an_array),
        T(test_exclude_with_a_bad_name_is_an_error),
        T(test_exclude_with_too_many_names_is_an_error),
        T(test_max_duration_with_a_unit),
        T(test_max_duration_over_a_day_is_an_error),
        T(test_max_duration_with_an_unknown_unit_is_an_error),
        T(test_window_business_hours),
        T(test_a_bad_window_names_the_setting_and_the_range),
        T(test_a_bad_window_in_the_file_names_key_and_file),
        T(test_recovery_can_be_turned_off),
        T(test_recovery_with_a_bad_value_is_an_error),
        T(test_revert_window_with_a_unit),
        T(test_revert_window_of_zero_is_allowed),
        T(test_revert_window_over_a_week_is_an_error),
        T(test_a_misspelt_file_key_gets_its_likely_spelling),
        T(test_an_unknown_file_key_lists_the_chaos_keys_too),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
