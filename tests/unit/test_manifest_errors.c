/* manifest_parse: every validation error names the JSON path of the first
 * problem and says, in one line, what is wrong and what is allowed. The
 * table's documents use ' for " to stay readable. Each row is its own test,
 * named for the behaviour. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/core/manifest.h"

#define S "{'name':'api','command':'/bin/true'}"
#define SP "{'name':'api','command':'/bin/true','port':'auto'"
#define DOC(svc) "{'name':'web','version':'1','services':[" svc "]}"
#define SVC(extra) "{'name':'api','command':'/bin/true'," extra "}"
#define ROLLOUT(r) "{'name':'web','version':'1','services':[" S "],'rollout':{" r "}}"
#define HEALTH(h) DOC(SP ",'health':{" h "}}")
#define ID64 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"

struct row {
    const char *name;
    const char *doc;
    const char *path;
    const char *message; /* a substring of the message */
};

static const struct row rows[] = {
    /* the document */
    {"document_that_is_an_array_is_refused", "[]", "", "must be a JSON object"},
    {"invalid_json_gives_line_and_column", "{\n  'name': }", "", "not valid JSON: line 2, column"},
    {"trailing_garbage_is_invalid_json", "{} x", "", "not valid JSON: line 1"},
    {"duplicate_key_is_invalid_json", "{'name':'a','name':'b'}", "", "duplicate object key"},
    {"unknown_top_level_key_is_named", "{'nmae':'web'}", "nmae",
     "unknown key \"nmae\"; known keys here are name, version, description, services, rollout"},
    /* name and version */
    {"missing_name_is_an_error", "{'version':'1','services':[" S "]}", "name",
     "missing: the release's name"},
    {"null_name_is_missing", "{'name':null,'version':'1','services':[" S "]}", "name", "missing"},
    {"name_with_a_space_is_not_an_id", "{'name':'we b','version':'1','services':[" S "]}", "name",
     "\"we b\" is not a valid id: 1-63 letters, digits, '.', '_' or '-'"},
    {"name_starting_with_a_dot_is_not_an_id", "{'name':'.web','version':'1','services':[" S "]}",
     "name", "not a valid id"},
    {"name_of_64_characters_is_not_an_id", "{'name':'" ID64 "','version':'1','services':[" S "]}",
     "name", "not a valid id"},
    {"name_that_is_a_number_is_a_wrong_type", "{'name':5,'version':'1','services':[" S "]}", "name",
     "must be an id such as \"web\", not an integer"},
    {"missing_version_is_an_error", "{'name':'web','services':[" S "]}", "version",
     "missing: the release's version"},
    {"version_with_a_space_is_refused", "{'name':'web','version':'1 0','services':[" S "]}",
     "version", "not a valid version"},
    {"empty_version_is_refused", "{'name':'web','version':'','services':[" S "]}", "version",
     "not a valid version"},
    {"version_of_65_characters_is_refused",
     "{'name':'web','version':'" ID64 "x','services':[" S "]}", "version", "1-64 printable ASCII"},
    {"version_that_is_a_number_is_a_wrong_type", "{'name':'web','version':1.2,'services':[" S "]}",
     "version", "not a number with a fraction"},
    {"description_that_is_not_a_string_is_refused",
     "{'name':'web','version':'1','description':[],'services':[" S "]}", "description",
     "must be a string, not an array"},
    /* services */
    {"missing_services_is_an_error", "{'name':'web','version':'1'}", "services",
     "missing: at least one service"},
    {"empty_services_is_an_error", DOC(""), "services", "at least one service is required"},
    {"services_that_is_an_object_is_refused", "{'name':'web','version':'1','services':{}}",
     "services", "must be an array of services, not an object"},
    {"service_that_is_not_an_object_is_refused", DOC("5"), "services[0]", "must be an object"},
    {"duplicate_service_names_are_refused", DOC(S "," S), "services[1].name",
     "duplicate service name \"api\" (also services[0].name)"},
    {"service_without_a_name_is_refused", DOC("{'command':'/bin/true'}"), "services[0].name",
     "missing: the service's name"},
    {"service_name_that_is_not_an_id_is_refused", DOC("{'name':'a/b','command':'x'}"),
     "services[0].name", "not a valid id"},
    {"unknown_service_key_is_named", DOC(SVC("'cmd':'x'")), "services[0].cmd",
     "unknown key \"cmd\"; known keys here are name, driver, command, args, env, env_file, "
     "working_dir, port, health, stop_grace, user"},
    {"unknown_key_in_a_later_service_has_its_index", DOC(S ",{'name':'b','command':'x','x':1}"),
     "services[1].x", "unknown key \"x\""},
    {"docker_driver_is_unsupported", DOC(SVC("'driver':'docker'")), "services[0].driver",
     "driver \"docker\" is not supported; supported drivers: process"},
    {"driver_that_is_not_a_string_is_refused", DOC(SVC("'driver':1")), "services[0].driver",
     "not an integer"},
    {"missing_command_is_an_error", DOC("{'name':'api'}"), "services[0].command",
     "missing: the program to run"},
    {"empty_command_is_an_error", DOC("{'name':'api','command':''}"), "services[0].command",
     "missing"},
    {"relative_command_path_is_refused", DOC("{'name':'api','command':'bin/api'}"),
     "services[0].command",
     "\"bin/api\" is a relative path; use an absolute path or a name looked up in PATH"},
    {"command_name_with_arguments_is_refused", DOC("{'name':'api','command':'api --port 80'}"),
     "services[0].command",
     "\"api --port 80\" is not a command name; put its arguments in \"args\""},
    {"args_that_is_a_string_is_refused", DOC(SVC("'args':'-v'")), "services[0].args",
     "must be an array of strings"},
    {"arg_that_is_a_number_is_refused", DOC(SVC("'args':['-n',5]")), "services[0].args[1]",
     "must be a string, not an integer"},
    {"env_that_is_an_array_is_refused", DOC(SVC("'env':[]")), "services[0].env",
     "must be an object of strings"},
    {"env_name_starting_with_a_digit_is_refused", DOC(SVC("'env':{'1X':'a'}")),
     "services[0].env.1X", "\"1X\" is not a valid variable name"},
    {"env_name_with_a_dash_is_refused", DOC(SVC("'env':{'A-B':'a'}")), "services[0].env.A-B",
     "not a valid variable name"},
    {"env_value_that_is_a_number_is_refused", DOC(SVC("'env':{'N':8080}")), "services[0].env.N",
     "must be a string (quote numbers: \"8080\"), not an integer"},
    {"relative_env_file_is_refused", DOC(SVC("'env_file':'secrets.env'")), "services[0].env_file",
     "\"secrets.env\" must be an absolute path"},
    {"env_file_that_is_an_object_is_refused", DOC(SVC("'env_file':{'A':'b'}")),
     "services[0].env_file", "must be an absolute path, not an object"},
    {"env_file_with_an_unknown_variable_is_refused", DOC(SVC("'env_file':'/etc/${HOST}.env'")),
     "services[0].env_file", "unknown variable ${HOST}"},
    {"user_with_a_space_is_refused", DOC(SVC("'user':'web user'")), "services[0].user",
     "\"web user\" is not a user: give a user name"},
    {"empty_user_is_refused", DOC(SVC("'user':''")), "services[0].user", "is not a user"},
    {"user_starting_with_a_dash_is_refused", DOC(SVC("'user':'-web'")), "services[0].user",
     "is not a user"},
    {"user_name_of_33_bytes_is_refused",
     DOC(SVC("'user':'"
             "abcdefghijklmnopqrstuvwxyzabcdefg"
             "'")),
     "services[0].user", "at most 32 bytes"},
    {"uid_with_an_empty_gid_is_refused", DOC(SVC("'user':'1000:'")), "services[0].user",
     "or \"UID\" or \"UID:GID\""},
    {"uid_with_two_colons_is_refused", DOC(SVC("'user':'1:2:3'")), "services[0].user",
     "is not a user"},
    {"uid_4294967295_is_refused", DOC(SVC("'user':'4294967295'")), "services[0].user",
     "is not a user"},
    {"user_that_is_a_number_is_a_wrong_type", DOC(SVC("'user':1000")), "services[0].user",
     "must be a user name or \"UID[:GID]\", not an integer"},
    {"relative_working_dir_is_refused", DOC(SVC("'working_dir':'srv'")), "services[0].working_dir",
     "\"srv\" must be an absolute path"},
    {"port_0_is_out_of_range", DOC(SVC("'port':0")), "services[0].port",
     "0 is out of range; a port is 1..65535"},
    {"port_65536_is_out_of_range", DOC(SVC("'port':65536")), "services[0].port",
     "65536 is out of range"},
    {"negative_port_is_out_of_range", DOC(SVC("'port':-1")), "services[0].port", "out of range"},
    {"port_string_other_than_auto_is_refused", DOC(SVC("'port':'8080'")), "services[0].port",
     "\"8080\" is not a port; use \"auto\" or an integer 1..65535"},
    {"port_with_a_fraction_is_refused", DOC(SVC("'port':80.5")), "services[0].port",
     "not a number with a fraction"},
    {"stop_grace_that_is_a_boolean_is_refused", DOC(SVC("'stop_grace':true")),
     "services[0].stop_grace", "must be a duration such as \"10s\""},
    /* variables */
    {"port_variable_in_args_without_a_port_is_refused", DOC(SVC("'args':['--port','${PORT}']")),
     "services[0].args[1]",
     "${PORT} needs a port: set the service's \"port\" to \"auto\" or a number"},
    {"port_variable_in_env_without_a_port_is_refused", DOC(SVC("'env':{'P':'${PORT}'}")),
     "services[0].env.P", "${PORT} needs a port"},
    {"port_variable_in_health_url_without_a_port_is_refused",
     DOC(SVC("'health':{'url':'http://127.0.0.1:${PORT}/'}")), "services[0].health.url",
     "${PORT} needs a port"},
    {"unknown_variable_is_refused_with_its_path", DOC(SVC("'args':['${HOST}']")),
     "services[0].args[0]",
     "unknown variable ${HOST}; variables are ${PORT}, ${NODE}, ${NAME}, ${VERSION}"},
    {"lower_case_variable_is_unknown", DOC(SVC("'env':{'A':'${node}'}")), "services[0].env.A",
     "unknown variable ${node}"},
    {"unterminated_variable_is_refused", DOC(SVC("'args':['${PORT']")), "services[0].args[0]",
     "unterminated \"${\""},
    /* health */
    {"health_that_is_not_an_object_is_refused", DOC(SVC("'health':true")), "services[0].health",
     "must be an object"},
    {"health_without_url_is_refused", HEALTH("'interval':'1s'"), "services[0].health.url",
     "missing: the URL to check"},
    {"health_url_with_another_scheme_is_refused", HEALTH("'url':'ftp://h/'"),
     "services[0].health.url", "must start with http:// or https://"},
    {"health_url_without_host_is_refused", HEALTH("'url':'http://'"), "services[0].health.url",
     "has no host"},
    {"health_url_with_a_space_is_refused", HEALTH("'url':'http://h/a b'"), "services[0].health.url",
     "must not contain spaces"},
    {"unknown_health_key_is_named", HEALTH("'url':'http://h/','path':'/x'"),
     "services[0].health.path",
     "unknown key \"path\"; known keys here are url, interval, timeout, healthy_threshold, "
     "unhealthy_threshold"},
    {"timeout_longer_than_interval_is_refused",
     HEALTH("'url':'http://h/','interval':'1s','timeout':'2s'"), "services[0].health.timeout",
     "timeout (2s) must not be longer than interval (1s)"},
    {"timeout_longer_than_default_interval_says_default",
     HEALTH("'url':'http://h/','timeout':'1500ms'"), "services[0].health.timeout",
     "timeout (1s500ms) must not be longer than interval (1s, the default)"},
    {"interval_of_zero_is_refused", HEALTH("'url':'http://h/','interval':0"),
     "services[0].health.interval", "must be longer than 0"},
    {"timeout_of_zero_is_refused", HEALTH("'url':'http://h/','timeout':'0'"),
     "services[0].health.timeout", "must be longer than 0"},
    {"healthy_threshold_0_is_out_of_range", HEALTH("'url':'http://h/','healthy_threshold':0"),
     "services[0].health.healthy_threshold", "0 is out of range; allowed: 1..100"},
    {"unhealthy_threshold_101_is_out_of_range",
     HEALTH("'url':'http://h/','unhealthy_threshold':101"),
     "services[0].health.unhealthy_threshold", "101 is out of range"},
    {"threshold_that_is_a_string_is_refused", HEALTH("'url':'http://h/','healthy_threshold':'2'"),
     "services[0].health.healthy_threshold", "must be an integer 1..100, not a string"},
    /* durations */
    {"duration_with_unknown_unit_is_refused", DOC(SVC("'stop_grace':'10x'")),
     "services[0].stop_grace",
     "\"10x\" is not a duration (unknown unit \"x\"); use e.g. \"500ms\", \"10s\""},
    {"negative_duration_is_refused", DOC(SVC("'stop_grace':'-1s'")), "services[0].stop_grace",
     "\"-1s\" is not a duration (negative)"},
    {"empty_duration_is_refused", DOC(SVC("'stop_grace':''")), "services[0].stop_grace",
     "\"\" is not a duration (empty)"},
    {"duration_without_unit_is_refused", DOC(SVC("'stop_grace':'10'")), "services[0].stop_grace",
     "(missing unit)"},
    {"duration_of_microseconds_is_refused", DOC(SVC("'stop_grace':'10us'")),
     "services[0].stop_grace", "unknown unit \"us\""},
    {"duration_below_a_millisecond_is_refused", DOC(SVC("'stop_grace':'1.5ms'")),
     "services[0].stop_grace", "not a whole number of milliseconds"},
    {"duration_over_24h_is_refused", DOC(SVC("'stop_grace':'25h'")), "services[0].stop_grace",
     "too long; at most 24h"},
    {"negative_integer_duration_is_refused", DOC(SVC("'stop_grace':-5")), "services[0].stop_grace",
     "-5 is negative"},
    {"integer_duration_over_24h_is_refused", DOC(SVC("'stop_grace':86400001")),
     "services[0].stop_grace", "at most 24h"},
    {"fractional_number_duration_is_refused", DOC(SVC("'stop_grace':1.5")),
     "services[0].stop_grace", "not a number with a fraction"},
    {"duration_with_a_dangling_dot_unit_is_refused", DOC(SVC("'stop_grace':'s'")),
     "services[0].stop_grace", "expected a number"},
    /* rollout */
    {"rollout_that_is_not_an_object_is_refused",
     "{'name':'web','version':'1','services':[" S "],'rollout':1}", "rollout", "must be an object"},
    {"unknown_rollout_key_is_named", ROLLOUT("'canary':1"), "rollout.canary",
     "unknown key \"canary\"; known keys here are max_parallel, min_healthy_time, "
     "healthy_deadline, progress_deadline, auto_revert"},
    {"max_parallel_0_is_out_of_range", ROLLOUT("'max_parallel':0"), "rollout.max_parallel",
     "0 is out of range; allowed: 1..16"},
    {"max_parallel_17_is_out_of_range", ROLLOUT("'max_parallel':17"), "rollout.max_parallel",
     "17 is out of range"},
    {"max_parallel_that_is_a_string_is_refused", ROLLOUT("'max_parallel':'2'"),
     "rollout.max_parallel", "must be an integer 1..16, not a string"},
    {"healthy_deadline_equal_to_min_healthy_time_is_refused",
     ROLLOUT("'min_healthy_time':'10s','healthy_deadline':'10s'"), "rollout.healthy_deadline",
     "healthy_deadline (10s) must be longer than min_healthy_time (10s)"},
    {"min_healthy_time_beyond_default_healthy_deadline_is_refused",
     ROLLOUT("'min_healthy_time':'6m'"), "rollout.min_healthy_time",
     "healthy_deadline (5m, the default) must be longer than min_healthy_time (6m)"},
    {"progress_deadline_below_healthy_deadline_is_refused",
     ROLLOUT("'healthy_deadline':'5m','progress_deadline':'4m'"), "rollout.progress_deadline",
     "progress_deadline (4m) must be at least healthy_deadline (5m)"},
    {"healthy_deadline_beyond_default_progress_deadline_is_refused",
     ROLLOUT("'healthy_deadline':'11m'"), "rollout.healthy_deadline",
     "progress_deadline (10m, the default) must be at least healthy_deadline (11m)"},
    {"auto_revert_that_is_a_string_is_refused", ROLLOUT("'auto_revert':'yes'"),
     "rollout.auto_revert", "must be true or false, not a string"},
    {"bad_duration_in_rollout_has_its_path", ROLLOUT("'min_healthy_time':'10x'"),
     "rollout.min_healthy_time", "is not a duration"},
    /* services[].restart (Nomad's restart block) */
    {"restart_that_is_not_an_object_is_refused", DOC(SVC("'restart':'always'")),
     "services[0].restart", "must be an object such as {\"attempts\": 3"},
    {"unknown_restart_key_is_named", DOC(SVC("'restart':{'max_attempts':3}")),
     "services[0].restart.max_attempts", "unknown key \"max_attempts\""},
    {"restart_attempts_that_are_a_string_are_refused", DOC(SVC("'restart':{'attempts':'3'}")),
     "services[0].restart.attempts", "must be an integer 0..100, not a string"},
    {"restart_attempts_101_are_out_of_range", DOC(SVC("'restart':{'attempts':101}")),
     "services[0].restart.attempts", "101 is out of range; allowed: 0..100"},
    {"negative_restart_attempts_are_out_of_range", DOC(SVC("'restart':{'attempts':-1}")),
     "services[0].restart.attempts", "out of range"},
    {"restart_interval_that_is_not_a_duration_is_refused",
     DOC(SVC("'restart':{'interval':'soon'}")), "services[0].restart.interval",
     "is not a duration"},
    {"restart_delay_that_is_a_boolean_is_refused", DOC(SVC("'restart':{'delay':true}")),
     "services[0].restart.delay", "not a boolean"},
    {"restart_interval_not_longer_than_delay_is_refused",
     DOC(SVC("'restart':{'interval':'1s','delay':'1s'}")), "services[0].restart.interval",
     "interval (1s) must be longer than delay (1s)"},
    {"restart_delay_beyond_the_default_interval_is_refused", DOC(SVC("'restart':{'delay':'2m'}")),
     "services[0].restart.delay", "interval (1m, the default) must be longer than delay (2m)"},
    {"unknown_restart_mode_is_refused", DOC(SVC("'restart':{'mode':'sometimes'}")),
     "services[0].restart.mode", "\"sometimes\" is not a mode; use \"delay\""},
    {"restart_mode_that_is_an_integer_is_refused", DOC(SVC("'restart':{'mode':1}")),
     "services[0].restart.mode", "must be \"delay\" or \"fail\", not an integer"},
};

/* ' becomes ". */
static char *quotes(const char *s)
{
    char *d = strdup(s);
    assert_non_null(d);
    for (char *c = d; *c; c++)
        if (*c == '\'')
            *c = '"';
    return d;
}

static void expect_error(const char *doc, size_t len, const char *path, const char *message)
{
    struct manifest m;
    struct manifest_error err;
    int rc = manifest_parse(doc, len, &m, &err);
    if (rc == 0)
        manifest_free(&m);
    assert_int_equal(rc, -1);
    if (strcmp(err.path, path) != 0 || !strstr(err.message, message))
        fail_msg("got path \"%s\" message \"%s\"; want path \"%s\" message containing \"%s\"",
                 err.path, err.message, path, message);
    assert_null(strchr(err.message, '\n'));
    assert_int_equal(m.nservices, 0); /* nothing is left allocated */
}

static void test_row(void **state)
{
    const struct row *r = *state;
    char *doc = quotes(r->doc);
    expect_error(doc, strlen(doc), r->path, r->message);
    free(doc);
}

/* head, then item n times separated by commas, then tail; ' becomes ". */
static char *build(const char *head, const char *item, size_t n, const char *tail)
{
    size_t len = strlen(head) + n * (strlen(item) + 1) + strlen(tail) + 1;
    char *d = malloc(len), *p = d;
    assert_non_null(d);
    p += sprintf(p, "%s", head);
    for (size_t i = 0; i < n; i++)
        p += sprintf(p, "%s%s", i ? "," : "", item);
    sprintf(p, "%s", tail);
    char *q = quotes(d);
    free(d);
    return q;
}

static void test_too_many_services_are_refused(void **state)
{
    (void)state;
    char *doc = build("{'name':'web','version':'1','services':[", S, 17, "]}");
    expect_error(doc, strlen(doc), "services", "17 services; at most 16");
    free(doc);
}

static void test_too_many_args_are_refused(void **state)
{
    (void)state;
    char *doc =
        build("{'name':'web','version':'1','services':[{'name':'api','command':'x','args':[", "'a'",
              65, "]}]}");
    expect_error(doc, strlen(doc), "services[0].args", "65 arguments; at most 64");
    free(doc);
}

static void test_too_many_env_variables_are_refused(void **state)
{
    (void)state;
    char item[16], *doc = malloc(65 * 16 + 128), *p = doc;
    assert_non_null(doc);
    p += sprintf(p, "{\"name\":\"web\",\"version\":\"1\",\"services\":[{\"name\":\"a\","
                    "\"command\":\"x\",\"env\":{");
    for (int i = 0; i < 65; i++) {
        snprintf(item, sizeof item, "\"V%d\":\"\"", i);
        p += sprintf(p, "%s%s", i ? "," : "", item);
    }
    sprintf(p, "}}]}");
    expect_error(doc, strlen(doc), "services[0].env", "65 variables; at most 64");
    free(doc);
}

static void test_arg_over_4096_bytes_is_refused(void **state)
{
    (void)state;
    char arg[4100];
    memset(arg, 'a', 4097);
    arg[4097] = '\0';
    char *doc = malloc(8192);
    assert_non_null(doc);
    snprintf(doc, 8192,
             "{\"name\":\"web\",\"version\":\"1\",\"services\":[{\"name\":\"a\",\"command\":\"x\","
             "\"args\":[\"%s\"]}]}",
             arg);
    expect_error(doc, strlen(doc), "services[0].args[0]", "4097 bytes is too long; at most 4096");
    free(doc);
}

static void test_description_over_1024_bytes_is_refused(void **state)
{
    (void)state;
    char desc[1100], doc[1400];
    memset(desc, 'd', 1025);
    desc[1025] = '\0';
    snprintf(doc, sizeof doc,
             "{\"name\":\"web\",\"version\":\"1\",\"description\":\"%s\",\"services\":[{\"name\":"
             "\"a\",\"command\":\"x\"}]}",
             desc);
    expect_error(doc, strlen(doc), "description", "1025 bytes is too long; at most 1024");
}

static void test_document_over_256_kib_is_refused_before_parsing(void **state)
{
    (void)state;
    size_t len = MANIFEST_MAX_BYTES + 1;
    char *doc = malloc(len);
    assert_non_null(doc);
    memset(doc, '[', len); /* not even JSON: the size is checked first */
    expect_error(doc, len, "", "the manifest is 262145 bytes; at most 262144 (256 KiB)");
    free(doc);
}

static void test_env_file_path_over_4096_bytes_is_refused(void **state)
{
    (void)state;
    char path[4098], doc[4300];
    path[0] = '/';
    memset(path + 1, 'p', 4096);
    path[4097] = '\0';
    snprintf(doc, sizeof doc,
             "{\"name\":\"w\",\"version\":\"1\",\"services\":[{\"name\":\"a\",\"command\":"
             "\"x\",\"env_file\":\"%s\"}]}",
             path);
    expect_error(doc, strlen(doc), "services[0].env_file", "4097 bytes is too long; at most 4096");
}

static void test_control_characters_in_a_key_keep_the_error_on_one_line(void **state)
{
    (void)state;
    const char *doc = "{\"a\\nb\": 1}";
    struct manifest m;
    struct manifest_error err;
    assert_int_equal(manifest_parse(doc, strlen(doc), &m, &err), -1);
    assert_null(strchr(err.path, '\n'));
    assert_null(strchr(err.message, '\n'));
    assert_non_null(strstr(err.message, "unknown key \"a?b\""));
}

static void test_nul_byte_in_the_document_is_invalid_json(void **state)
{
    (void)state;
    const char doc[] = "{\"name\":\"w\0b\"}";
    expect_error(doc, sizeof doc - 1, "", "not valid JSON");
}

int main(void)
{
    static const struct CMUnitTest fixed[] = {
        cmocka_unit_test(test_too_many_services_are_refused),
        cmocka_unit_test(test_too_many_args_are_refused),
        cmocka_unit_test(test_too_many_env_variables_are_refused),
        cmocka_unit_test(test_arg_over_4096_bytes_is_refused),
        cmocka_unit_test(test_description_over_1024_bytes_is_refused),
        cmocka_unit_test(test_document_over_256_kib_is_refused_before_parsing),
        cmocka_unit_test(test_control_characters_in_a_key_keep_the_error_on_one_line),
        cmocka_unit_test(test_env_file_path_over_4096_bytes_is_refused),
        cmocka_unit_test(test_nul_byte_in_the_document_is_invalid_json),
    };
    enum { NROWS = sizeof rows / sizeof rows[0], NFIXED = sizeof fixed / sizeof fixed[0] };
    static struct CMUnitTest tests[NROWS + NFIXED];
    for (size_t i = 0; i < NROWS; i++)
        tests[i] = (struct CMUnitTest){
            .name = rows[i].name, .test_func = test_row, .initial_state = (void *)&rows[i]};
    for (size_t i = 0; i < NFIXED; i++)
        tests[NROWS + i] = fixed[i];
    return _cmocka_run_group_tests("test_manifest_errors", tests, NROWS + NFIXED, NULL, NULL);
}
