/* drill_parse: every validation error names the JSON path of the first
 * problem and says, in one line, what is expected. The table's documents
 * use ' for " to stay readable; each row is its own test, named for the
 * behaviour. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chaos/drill.h"

#define LEADER "{'name':'a leader exists','provider':{'type':'leader_exists'}}"
#define HYP "'steady-state-hypothesis':{'probes':[" LEADER "]}"
#define PAUSE "{'name':'wait','provider':{'type':'pause','duration':'1s'}}"
#define DOC(rest) "{'title':'t'," HYP "," rest "}"
#define METHOD(a) DOC("'method':[" a "]")
#define PROBES(p) "{'title':'t','steady-state-hypothesis':{'probes':[" p "]},'method':[" PAUSE "]}"
#define FAULT(prov)                                                                                \
    METHOD("{'name':'f','provider':{'type':'fault'," prov "},'slo':{'recover_within':'5s'}}")
#define SLO(slo)                                                                                   \
    METHOD(                                                                                        \
        "{'name':'f','provider':{'type':'fault','kind':'kill_service','target':'web'},'slo':" slo  \
        "}")

struct row {
    const char *name;
    const char *doc;
    const char *path;
    const char *message; /* a substring of the message */
};

static const struct row rows[] = {
    /* the document */
    {"document_that_is_an_array_is_refused", "[]", "", "must be a JSON object"},
    {"invalid_json_gives_line_and_column", "{\n 'title': }", "", "not valid JSON: line 2, column"},
    {"unknown_top_level_key_is_named", "{'titel':'x'}", "titel",
     "unknown key \"titel\"; known keys here are version, title, description, tags, "
     "steady-state-hypothesis, method, rollbacks"},
    {"missing_title_is_an_error", "{" HYP ",'method':[" PAUSE "]}", "title",
     "missing: the drill's title"},
    {"title_that_is_a_number_is_a_wrong_type", "{'title':3}", "title",
     "must be a string, not an integer"},
    {"tag_that_is_not_a_string_is_named", "{'title':'t','tags':['a',1]}", "tags[1]",
     "must be a string, not an integer"},
    /* the hypothesis */
    {"missing_hypothesis_is_an_error", "{'title':'t','method':[" PAUSE "]}",
     "steady-state-hypothesis", "missing: the steady state"},
    {"hypothesis_without_probes_is_an_error", "{'title':'t','steady-state-hypothesis':{}}",
     "steady-state-hypothesis.probes", "missing: at least one probe"},
    {"empty_probe_list_is_refused", "{'title':'t','steady-state-hypothesis':{'probes':[]}}",
     "steady-state-hypothesis.probes", "0 probes; expected 1 to 16"},
    {"probe_without_a_name_is_named", PROBES("{'provider':{'type':'all_alive'}}"),
     "steady-state-hypothesis.probes[0].name", "missing: the probe's name"},
    {"unknown_probe_type_lists_the_known_ones",
     PROBES(LEADER ",{'name':'x','provider':{'type':'leader'}}"),
     "steady-state-hypothesis.probes[1].provider.type",
     "\"leader\" is not a probe type; expected one of \"leader_exists\", \"all_alive\", "
     "\"none_read_only\", \"release_healthy\", \"note_commits\" or \"http\""},
    {"an_action_among_the_probes_is_refused",
     PROBES("{'type':'action','name':'x','provider':{'type':'all_alive'}}"),
     "steady-state-hypothesis.probes[0].type",
     "an action does not belong here: the steady-state hypothesis holds only probes"},
    {"duplicate_probe_names_are_refused", PROBES(LEADER "," LEADER),
     "steady-state-hypothesis.probes[1].name", "names probe 0 too"},
    {"boolean_probe_with_a_number_tolerance_is_refused",
     PROBES("{'name':'x','provider':{'type':'all_alive'},'tolerance':200}"),
     "steady-state-hypothesis.probes[0].tolerance", "must be true or false"},
    {"note_commits_tolerance_as_a_bare_number_is_ambiguous",
     PROBES("{'name':'x','provider':{'type':'note_commits'},'tolerance':500}"),
     "steady-state-hypothesis.probes[0].tolerance", "a bare number is ambiguous"},
    {"http_probe_without_a_url_is_named", PROBES("{'name':'x','provider':{'type':'http'}}"),
     "steady-state-hypothesis.probes[0].provider.url", "missing: the URL"},
    {"http_probe_url_must_be_http",
     PROBES("{'name':'x','provider':{'type':'http','url':'ftp://h/'}}"),
     "steady-state-hypothesis.probes[0].provider.url", "must start with http:// or https://"},
    {"http_status_out_of_range_is_named_by_index",
     PROBES("{'name':'x','provider':{'type':'http','url':'http://h/'},'tolerance':[200,700]}"),
     "steady-state-hypothesis.probes[0].tolerance[1]", "HTTP status from 100 to 599"},
    {"unknown_provider_key_is_named",
     PROBES("{'name':'x','provider':{'type':'all_alive','url':'http://h/'}}"),
     "steady-state-hypothesis.probes[0].provider.url", "unknown key \"url\""},
    /* the method */
    {"missing_method_is_an_error", DOC("'tags':[]"), "method", "missing: at least one action"},
    {"empty_method_is_refused", METHOD(""), "method", "0 actions; expected 1 to 32"},
    {"a_probe_in_the_method_is_refused",
     METHOD("{'type':'probe','name':'x','provider':{'type':'pause','duration':'1s'}}"),
     "method[0].type", "the method holds only actions"},
    {"unknown_action_type_lists_the_known_ones",
     METHOD("{'name':'x','provider':{'type':'python'}}"), "method[0].provider.type",
     "\"python\" is not an action type; expected one of \"fault\", \"deploy\", \"pause\", "
     "\"heal\" or \"restart_nodes\""},
    {"pause_without_a_duration_is_named", METHOD("{'name':'x','provider':{'type':'pause'}}"),
     "method[0].provider.duration", "missing: how long to wait"},
    {"pause_of_a_bare_number_is_ambiguous",
     METHOD("{'name':'x','provider':{'type':'pause','duration':5}}"), "method[0].provider.duration",
     "a bare number is ambiguous (Chaos Toolkit reads seconds, Chimera milliseconds)"},
    {"pause_longer_than_an_hour_is_refused",
     METHOD("{'name':'x','provider':{'type':'pause','duration':'2h'}}"),
     "method[0].provider.duration", "too long; at most 1h"},
    {"pauses_after_with_a_bad_unit_is_named",
     METHOD("{'name':'x','provider':{'type':'heal'},'pauses':{'after':'5 parsecs'}}"),
     "method[0].pauses.after", "is not a duration"},
    /* faults */
    {"unknown_fault_kind_lists_the_known_ones", FAULT("'kind':'kill_pod','target':'web'"),
     "method[0].provider.kind",
     "\"kill_pod\" is not a fault kind; expected one of \"kill_service\", \"pause_service\", "
     "\"isolate_node\", \"delay_messages\" or \"kill_node\""},
    {"fault_without_a_target_is_named", FAULT("'kind':'kill_node'"), "method[0].provider.target",
     "missing: the node to hit"},
    {"service_target_must_be_an_id", FAULT("'kind':'kill_service','target':'we b'"),
     "method[0].provider.target", "not a valid service name"},
    {"node_target_must_be_an_id_or_a_selector", FAULT("'kind':'kill_node','target':'*'"),
     "method[0].provider.target",
     "a node id such as \"n2\", or \"leader\", \"follower\" or \"any\""},
    {"node_of_a_node_fault_is_refused", FAULT("'kind':'kill_node','target':'n1','node':'n1'"),
     "method[0].provider.node", "node is not for kill_node"},
    {"isolation_without_a_duration_is_named", FAULT("'kind':'isolate_node','target':'n2'"),
     "method[0].provider.duration", "missing: how long the fault lasts"},
    {"isolation_of_zero_is_refused", FAULT("'kind':'isolate_node','target':'n2','duration':'0'"),
     "method[0].provider.duration", "must be longer than 0"},
    {"duration_of_a_kill_is_refused", FAULT("'kind':'kill_service','target':'web','duration':'5s'"),
     "method[0].provider.duration", "a kill is instantaneous"},
    {"delay_messages_without_a_delay_is_named",
     FAULT("'kind':'delay_messages','target':'n2','duration':'5s'"), "method[0].provider.delay",
     "missing: how long each message is held back"},
    {"peer_of_a_kill_is_refused", FAULT("'kind':'kill_node','target':'n2','peer':'n1'"),
     "method[0].provider.peer", "peer is not for kill_node (only isolate_node)"},
    {"a_peer_that_is_not_an_id_is_named",
     FAULT("'kind':'isolate_node','target':'n2','duration':'5s','peer':7"),
     "method[0].provider.peer", "must be a node id such as \"n3\", not an integer"},
    {"fault_without_an_slo_is_refused",
     METHOD("{'name':'f','provider':{'type':'fault','kind':'kill_node','target':'n1'}}"),
     "method[0].slo", "missing: the fault's SLO"},
    /* SLOs */
    {"slo_without_recover_within_is_named", SLO("{}"), "method[0].slo.recover_within",
     "missing: the time the federation has to recover"},
    {"slo_from_heal_on_a_kill_is_refused", SLO("{'recover_within':'5s','from':'heal'}"),
     "method[0].slo.from", "only for faults that last"},
    {"slo_naming_an_unknown_probe_is_refused",
     SLO("{'recover_within':'5s','probes':['a leader exists','writable']}"),
     "method[0].slo.probes[1]", "\"writable\" names no probe of steady-state-hypothesis.probes"},
    {"slo_on_a_pause_is_refused",
     METHOD(
         "{'name':'x','provider':{'type':'pause','duration':'1s'},'slo':{'recover_within':'1s'}}"),
     "method[0].slo", "only a fault or a deploy has an SLO, not a pause"},
    /* deploys */
    {"deploy_without_a_manifest_is_named", METHOD("{'name':'d','provider':{'type':'deploy'}}"),
     "method[0].provider.manifest", "missing: the release to deploy"},
    {"inline_manifest_errors_carry_the_full_path",
     METHOD("{'name':'d','provider':{'type':'deploy','manifest':{'name':'w','version':'1',"
            "'services':[{'name':'a'}]}}}"),
     "method[0].provider.manifest.services[0].command", "missing"},
    {"deploy_expecting_an_unknown_outcome_is_refused",
     METHOD("{'name':'d','provider':{'type':'deploy','manifest':'x.json','expect':'failed'}}"),
     "method[0].provider.expect", "expected \"stable\" (the default) or \"reverted\""},
    /* rollbacks */
    {"fault_in_the_rollbacks_is_refused",
     DOC("'method':[" PAUSE "],'rollbacks':[{'name':'f','provider':{'type':'fault','kind':"
         "'kill_node','target':'n1'}}]"),
     "rollbacks[0].provider.type", "a rollback injects no fault"},
    {"rollbacks_that_are_not_an_array_are_refused", DOC("'method':[" PAUSE "],'rollbacks':{}"),
     "rollbacks", "must be an array of actions, not an object"},
};

static char *quotes(const char *s)
{
    char *d = strdup(s);
    assert_non_null(d);
    for (char *c = d; *c; c++)
        if (*c == '\'')
            *c = '"';
    return d;
}

static void test_row(void **state)
{
    const struct row *r = *state;
    char *doc = quotes(r->doc);
    struct drill d;
    struct drill_error err;
    int rc = drill_parse(doc, strlen(doc), &d, &err);
    if (rc == 0 || strcmp(err.path, r->path) != 0 || !strstr(err.message, r->message))
        fail_msg("%s:\n  got path \"%s\": %s\n  want path \"%s\": ...%s...", r->name, err.path,
                 err.message, r->path, r->message);
    assert_int_equal(d.nmethod, 0); /* freed and zeroed */
    free(doc);
}

static void test_drill_over_256_kib_is_refused_before_parsing(void **state)
{
    (void)state;
    size_t len = DRILL_MAX_BYTES + 1;
    char *doc = malloc(len);
    assert_non_null(doc);
    memset(doc, ' ', len);
    struct drill d;
    struct drill_error err;
    assert_int_equal(drill_parse(doc, len, &d, &err), -1);
    assert_string_equal(err.path, "");
    assert_non_null(strstr(err.message, "at most 262144 (256 KiB)"));
    free(doc);
}

static void test_control_characters_in_a_key_keep_the_error_on_one_line(void **state)
{
    (void)state;
    const char *doc = "{\"ti\\ntle\":1}";
    struct drill d;
    struct drill_error err;
    assert_int_equal(drill_parse(doc, strlen(doc), &d, &err), -1);
    assert_null(strchr(err.path, '\n'));
    assert_null(strchr(err.message, '\n'));
}

int main(void)
{
    static const struct CMUnitTest fixed[] = {
        cmocka_unit_test(test_drill_over_256_kib_is_refused_before_parsing),
        cmocka_unit_test(test_control_characters_in_a_key_keep_the_error_on_one_line),
    };
    enum { NROWS = sizeof rows / sizeof rows[0], NFIXED = sizeof fixed / sizeof fixed[0] };
    static struct CMUnitTest tests[NROWS + NFIXED];
    for (size_t i = 0; i < NROWS; i++)
        tests[i] = (struct CMUnitTest){
            .name = rows[i].name, .test_func = test_row, .initial_state = (void *)&rows[i]};
    for (size_t i = 0; i < NFIXED; i++)
        tests[NROWS + i] = fixed[i];
    return _cmocka_run_group_tests("test_drill_errors", tests, NROWS + NFIXED, NULL, NULL);
}
