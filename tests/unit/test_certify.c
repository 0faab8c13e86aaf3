/* Simulate -> heal -> certify, the pure core: every judge rule and its
 * severity, the heal plan, the heal limit (3 attempts, then give up), the
 * verification chain's rejections by link, and the signature. The tests
 * play the nodes: facts are written by hand, as probe_release would. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/core/certify.h"

static const char *const doc =
    "{\"name\": \"demo\", \"version\": \"1.0.0\", \"services\": ["
    " {\"name\": \"web\", \"command\": \"chimera-demo\", \"args\": [\"--port\", \"${PORT}\"],"
    "  \"port\": \"auto\", \"working_dir\": \"/srv/demo\","
    "  \"health\": {\"url\": \"http://127.0.0.1:${PORT}/health\"}},"
    " {\"name\": \"api\", \"command\": \"/usr/bin/api\", \"port\": 8080,"
    "  \"health\": {\"url\": \"http://127.0.0.1:${PORT}/health\"}}]}";

struct fixture {
    struct manifest m;
    struct probe_facts nodes[3];
    struct cert_issue issues[64];
};

static void good_service(struct probe_service *ps, const struct manifest_service *s)
{
    memset(ps, 0, sizeof(*ps));
    snprintf(ps->name, sizeof(ps->name), "%s", s->name);
    ps->command_found = ps->command_executable = true;
    snprintf(ps->command_path, sizeof(ps->command_path), "/usr/bin/%s", s->name);
    ps->working_dir_set = s->working_dir != NULL;
    ps->working_dir_exists = ps->working_dir_is_dir = s->working_dir != NULL;
    ps->port_kind = s->port_kind;
    ps->port = s->port_kind == MANIFEST_PORT_FIXED ? s->port : 40000;
    ps->port_free = true;
    ps->health_set = ps->health_ok = s->health.enabled;
    ps->env_ok = ps->args_ok = true;
}

static void good_facts(const struct manifest *m, const char *node, struct probe_facts *f)
{
    memset(f, 0, sizeof(*f));
    snprintf(f->node, sizeof(f->node), "%s", node);
    f->answered = true;
    f->nservices = m->nservices;
    for (size_t i = 0; i < m->nservices; i++)
        good_service(&f->services[i], &m->services[i]);
}

static void parse_into(const char *json, struct manifest *m)
{
    struct manifest_error e;
    int rc = manifest_parse(json, strlen(json), m, &e);
    if (rc)
        fprintf(stderr, "manifest: %s: %s\n", e.path, e.message);
    assert_int_equal(rc, 0);
}

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    assert_non_null(fx);
    parse_into(doc, &fx->m);
    good_facts(&fx->m, "n1", &fx->nodes[0]);
    good_facts(&fx->m, "n2", &fx->nodes[1]);
    good_facts(&fx->m, "n3", &fx->nodes[2]);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    manifest_free(&fx->m);
    free(fx);
    return 0;
}

/* The working_dir of "web" on nodes[node] is missing, and creatable. */
static void make_missing_dir(struct fixture *fx, size_t node)
{
    struct probe_service *ps = &fx->nodes[node].services[0];
    ps->working_dir_exists = ps->working_dir_is_dir = false;
    ps->working_dir_creatable = true;
}

/* Judges the fixture and expects exactly one issue; returns it. */
static const struct cert_issue *only_issue(struct fixture *fx)
{
    size_t n = cert_judge(&fx->m, fx->nodes, 3, fx->issues, 64);
    for (size_t i = 0; i < n && n != 1; i++)
        fprintf(stderr, "issue %s/%s %s\n", fx->issues[i].node, fx->issues[i].service,
                fx->issues[i].code);
    assert_int_equal(n, 1);
    return &fx->issues[0];
}

static void expect(const struct cert_issue *is, const char *node, const char *service,
                   const char *code, enum cert_severity sev, bool healable)
{
    assert_string_equal(is->node, node);
    assert_string_equal(is->service, service);
    assert_string_equal(is->code, code);
    assert_int_equal(is->severity, sev);
    assert_int_equal(is->healable, healable);
    assert_true(is->message[0] != '\0');
    assert_null(strchr(is->message, '\n'));
}

/* Parses json into *m and judges it with good facts from one node "n1";
 * returns the number of issues (at most 8 in is). */
static size_t judge_alone(const char *json, struct manifest *m, struct cert_issue is[8])
{
    struct probe_facts f;
    parse_into(json, m);
    good_facts(m, "n1", &f);
    return cert_judge(m, &f, 1, is, 8);
}

static const char *const user_doc =
    "{\"name\": \"demo\", \"version\": \"1\", \"services\": ["
    " {\"name\": \"web\", \"command\": \"/bin/web\", \"user\": \"web\"}]}";

/* user_doc judged with n1 and n2 good (root, the user exists) but for what
 * change does to n2's facts; returns the number of issues. */
static size_t judge_user(struct manifest *m, void (*change)(struct probe_service *),
                         struct cert_issue is[8])
{
    struct probe_facts f[2];
    parse_into(user_doc, m);
    good_facts(m, "n1", &f[0]);
    good_facts(m, "n2", &f[1]);
    for (size_t i = 0; i < 2; i++) {
        struct probe_service *ps = &f[i].services[0];
        ps->user_set = ps->user_root = ps->user_ok = true;
    }
    change(&f[1].services[0]);
    return cert_judge(m, f, 2, is, 8);
}

/* ---- judge rules -------------------------------------------------------- */

static void test_judge_good_facts_give_no_issue(void **state)
{
    struct fixture *fx = *state;
    assert_int_equal(cert_judge(&fx->m, fx->nodes, 3, fx->issues, 64), 0);
}

static void test_judge_command_not_found_is_critical(void **state)
{
    struct fixture *fx = *state;
    fx->nodes[1].services[0].command_found = false;
    fx->nodes[1].services[0].command_executable = false;
    const struct cert_issue *is = only_issue(fx);
    expect(is, "n2", "web", "command_not_found", CERT_CRITICAL, false);
    assert_non_null(strstr(is->message, "chimera-demo"));
    assert_non_null(strstr(is->message, "PATH"));
}

static void test_judge_command_not_executable_is_critical(void **state)
{
    struct fixture *fx = *state;
    fx->nodes[0].services[1].command_executable = false;
    expect(only_issue(fx), "n1", "api", "command_not_executable", CERT_CRITICAL, false);
}

static void test_judge_working_dir_missing_is_critical_and_healable(void **state)
{
    struct fixture *fx = *state;
    make_missing_dir(fx, 2);
    expect(only_issue(fx), "n3", "web", "working_dir_missing", CERT_CRITICAL, true);
}

static void test_judge_working_dir_uncreatable_is_not_healable(void **state)
{
    struct fixture *fx = *state;
    struct probe_service *ps = &fx->nodes[2].services[0];
    ps->working_dir_exists = ps->working_dir_is_dir = ps->working_dir_creatable = false;
    expect(only_issue(fx), "n3", "web", "working_dir_uncreatable", CERT_CRITICAL, false);
}

static void test_judge_working_dir_not_a_directory_is_critical(void **state)
{
    struct fixture *fx = *state;
    fx->nodes[0].services[0].working_dir_is_dir = false;
    expect(only_issue(fx), "n1", "web", "working_dir_not_directory", CERT_CRITICAL, false);
}

static void test_judge_fixed_port_in_use_is_critical(void **state)
{
    struct fixture *fx = *state;
    fx->nodes[1].services[1].port_free = false;
    const struct cert_issue *is = only_issue(fx);
    expect(is, "n2", "api", "port_in_use", CERT_CRITICAL, false);
    assert_non_null(strstr(is->message, "8080"));
}

static void test_judge_port_held_by_running_release_is_info(void **state)
{
    struct fixture *fx = *state;
    fx->nodes[1].services[1].port_free = false;
    fx->nodes[1].services[1].port_own = true;
    expect(only_issue(fx), "n2", "api", "port_held_by_release", CERT_INFO, false);
}

static void test_judge_auto_port_unavailable_is_healable(void **state)
{
    struct fixture *fx = *state;
    fx->nodes[0].services[0].port_free = false;
    fx->nodes[0].services[0].port = 0;
    expect(only_issue(fx), "n1", "web", "auto_port_unavailable", CERT_CRITICAL, true);
}

static void test_judge_health_url_invalid_is_critical(void **state)
{
    struct fixture *fx = *state;
    fx->nodes[0].services[1].health_ok = false;
    snprintf(fx->nodes[0].services[1].health_error, PROBE_DETAIL_MAX, "no host");
    const struct cert_issue *is = only_issue(fx);
    expect(is, "n1", "api", "health_url_invalid", CERT_CRITICAL, false);
    assert_non_null(strstr(is->message, "no host"));
}

static void test_judge_env_that_does_not_expand_is_critical(void **state)
{
    struct fixture *fx = *state;
    fx->nodes[0].services[0].env_ok = false;
    expect(only_issue(fx), "n1", "web", "env_invalid", CERT_CRITICAL, false);
}

static void test_judge_args_that_do_not_expand_are_critical(void **state)
{
    struct fixture *fx = *state;
    fx->nodes[0].services[0].args_ok = false;
    expect(only_issue(fx), "n1", "web", "args_invalid", CERT_CRITICAL, false);
}

/* The issue of code among n; fails when there is none. */
static const struct cert_issue *issue_of(const struct cert_issue *is, size_t n, const char *code)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(is[i].code, code) == 0)
            return &is[i];
    fail_msg("no %s issue among %zu", code, n);
    return NULL;
}

static void user_fine(struct probe_service *ps)
{
    (void)ps;
}

static void not_root(struct probe_service *ps)
{
    ps->user_root = ps->user_ok = false;
    snprintf(ps->user_error, sizeof(ps->user_error), "user set but chimerad is not root");
}

static void no_such_user(struct probe_service *ps)
{
    ps->user_ok = false;
    snprintf(ps->user_error, sizeof(ps->user_error), "user \"web\" does not exist on this node");
}

static void test_judge_user_that_exists_on_a_root_node_gives_no_issue(void **state)
{
    (void)state;
    struct manifest m;
    struct cert_issue is[8];
    assert_int_equal(judge_user(&m, user_fine, is), 1);
    expect(&is[0], "", "web", "no_health_check", CERT_INFO, false);
    manifest_free(&m);
}

static void test_judge_user_where_chimerad_is_not_root_is_critical(void **state)
{
    (void)state;
    struct manifest m;
    struct cert_issue is[8];
    size_t n = judge_user(&m, not_root, is);
    assert_int_equal(n, 2); /* and no_health_check */
    const struct cert_issue *it = issue_of(is, n, "user_not_root");
    expect(it, "n2", "web", "user_not_root", CERT_CRITICAL, false);
    assert_non_null(strstr(it->message, "set but chimerad is not root on node n2"));
    manifest_free(&m);
}

static void test_judge_user_missing_on_a_node_is_critical_and_names_it(void **state)
{
    (void)state;
    struct manifest m;
    struct cert_issue is[8];
    size_t n = judge_user(&m, no_such_user, is);
    assert_int_equal(n, 2); /* and no_health_check */
    const struct cert_issue *it = issue_of(is, n, "user_unknown");
    expect(it, "n2", "web", "user_unknown", CERT_CRITICAL, false);
    assert_non_null(strstr(it->message, "node n2"));
    assert_non_null(strstr(it->message, "does not exist"));
    manifest_free(&m);
}

static void test_judge_service_missing_from_facts_is_critical(void **state)
{
    struct fixture *fx = *state;
    fx->nodes[2].nservices = 1; /* "api" was not probed */
    expect(only_issue(fx), "n3", "api", "service_not_probed", CERT_CRITICAL, false);
}

static void test_judge_unreachable_node_with_quorum_is_warning(void **state)
{
    struct fixture *fx = *state;
    fx->nodes[2].answered = false;
    fx->nodes[2].services[0].command_found = false; /* ignored: it did not answer */
    const struct cert_issue *is = only_issue(fx);
    expect(is, "n3", "", "node_unreachable", CERT_WARNING, false);
}

static void test_judge_unreachable_nodes_without_quorum_are_critical(void **state)
{
    struct fixture *fx = *state;
    fx->nodes[1].answered = false;
    fx->nodes[2].answered = false;
    size_t n = cert_judge(&fx->m, fx->nodes, 3, fx->issues, 64);
    assert_int_equal(n, 2);
    expect(&fx->issues[0], "n2", "", "node_unreachable", CERT_CRITICAL, false);
    expect(&fx->issues[1], "n3", "", "node_unreachable", CERT_CRITICAL, false);
}

static void test_judge_two_services_on_one_fixed_port_collide(void **state)
{
    (void)state;
    struct manifest m;
    struct cert_issue is[8];
    assert_int_equal(judge_alone("{\"name\": \"x\", \"version\": \"1\", \"services\": ["
                                 " {\"name\": \"a\", \"command\": \"/bin/a\", \"port\": 9000,"
                                 "  \"health\": {\"url\": \"http://127.0.0.1:${PORT}/\"}},"
                                 " {\"name\": \"b\", \"command\": \"/bin/b\", \"port\": 9000,"
                                 "  \"health\": {\"url\": \"http://127.0.0.1:${PORT}/\"}}]}",
                                 &m, is),
                     1);
    expect(&is[0], "", "b", "port_collision", CERT_CRITICAL, false);
    assert_non_null(strstr(is[0].message, "\"a\""));
    manifest_free(&m);
}

static void test_judge_service_without_health_check_is_info(void **state)
{
    (void)state;
    struct manifest m;
    struct cert_issue is[8];
    assert_int_equal(judge_alone("{\"name\": \"x\", \"version\": \"1\", \"services\": ["
                                 " {\"name\": \"worker\", \"command\": \"/bin/w\"}]}",
                                 &m, is),
                     1);
    expect(&is[0], "", "worker", "no_health_check", CERT_INFO, false);
    manifest_free(&m);
}

static void test_judge_counts_issues_beyond_max(void **state)
{
    struct fixture *fx = *state;
    for (size_t n = 0; n < 3; n++)
        fx->nodes[n].services[0].command_found = false;
    struct cert_issue two[2];
    assert_int_equal(cert_judge(&fx->m, fx->nodes, 3, two, 2), 3);
    assert_string_equal(two[1].node, "n2");
}

/* ---- heal plan ---------------------------------------------------------- */

static void test_heal_plan_has_one_action_per_healable_issue(void **state)
{
    struct fixture *fx = *state;
    make_missing_dir(fx, 0);
    fx->nodes[1].services[0].port_free = false;     /* auto: re-probe */
    fx->nodes[1].services[1].command_found = false; /* not healable */
    size_t n = cert_judge(&fx->m, fx->nodes, 3, fx->issues, 64);
    assert_int_equal(n, 3);
    struct cert_heal_action a[8];
    assert_int_equal(cert_heal_plan(fx->issues, n, a, 8), 2);
    assert_string_equal(a[0].node, "n1");
    assert_string_equal(a[0].service, "web");
    assert_int_equal(a[0].kind, CERT_HEAL_CREATE_DIR);
    assert_string_equal(a[1].node, "n2");
    assert_int_equal(a[1].kind, CERT_HEAL_REPROBE);
}

static void test_heal_plan_merges_repeated_issues(void **state)
{
    struct fixture *fx = *state;
    make_missing_dir(fx, 0);
    size_t n = cert_judge(&fx->m, fx->nodes, 3, fx->issues, 32);
    assert_int_equal(n, 1);
    fx->issues[1] = fx->issues[0];
    struct cert_heal_action a[4];
    assert_int_equal(cert_heal_plan(fx->issues, 2, a, 4), 1);
}

/* ---- session: the heal limit -------------------------------------------- */

static struct cert_session *new_session(void)
{
    struct cert_session *s = malloc(sizeof(*s));
    assert_non_null(s);
    cert_session_init(s);
    return s;
}

static void heal_all(struct cert_session *s, const struct cert_heal_action *a, size_t n, bool ok)
{
    struct cert_heal_result r[8];
    assert_true(n <= 8);
    for (size_t i = 0; i < n; i++) {
        r[i].ok = ok;
        snprintf(r[i].detail, sizeof(r[i].detail), "%s", ok ? "created /srv/demo" : "EACCES");
    }
    cert_session_record(s, a, r, n);
}

static void test_session_without_healable_issue_certifies_at_once(void **state)
{
    struct fixture *fx = *state;
    struct cert_session *s = new_session();
    struct cert_heal_action a[8];
    size_t na = 99;
    assert_int_equal(cert_session_next(s, &fx->m, fx->nodes, 3, a, 8, &na), CERT_NEXT_CERTIFY);
    assert_int_equal(na, 0);
    assert_int_equal(s->attempts, 0);
    free(s);
}

static void test_session_heals_then_certifies_once_fixed(void **state)
{
    struct fixture *fx = *state;
    make_missing_dir(fx, 1);
    struct cert_session *s = new_session();
    struct cert_heal_action a[8];
    size_t na;
    assert_int_equal(cert_session_next(s, &fx->m, fx->nodes, 3, a, 8, &na), CERT_NEXT_HEAL);
    assert_int_equal(na, 1);
    assert_string_equal(a[0].node, "n2");
    heal_all(s, a, na, true);
    good_facts(&fx->m, "n2", &fx->nodes[1]); /* the re-probe finds the directory */
    assert_int_equal(cert_session_next(s, &fx->m, fx->nodes, 3, a, 8, &na), CERT_NEXT_CERTIFY);
    assert_int_equal(s->attempts, 1);
    assert_int_equal(s->nchanges, 1);
    assert_string_equal(s->changes[0].action, "create_working_dir");
    assert_true(s->changes[0].ok);
    free(s);
}

static void test_session_gives_up_after_three_heal_attempts(void **state)
{
    struct fixture *fx = *state;
    make_missing_dir(fx, 0); /* healing never helps: the re-probe still finds it missing */
    struct cert_session *s = new_session();
    struct cert_heal_action a[8];
    size_t na;
    for (int i = 1; i <= CERT_MAX_HEAL_ATTEMPTS; i++) {
        assert_int_equal(cert_session_next(s, &fx->m, fx->nodes, 3, a, 8, &na), CERT_NEXT_HEAL);
        assert_int_equal(s->attempts, (uint32_t)i);
        heal_all(s, a, na, false);
    }
    assert_int_equal(cert_session_next(s, &fx->m, fx->nodes, 3, a, 8, &na), CERT_NEXT_GIVE_UP);
    assert_int_equal(na, 0);
    assert_int_equal(s->attempts, 3);
    assert_true(s->limit_reached);
    assert_int_equal(s->nchanges, 3);
    assert_int_equal(s->changes[2].attempt, 3);
    free(s);
}

/* ---- certification ------------------------------------------------------ */

static void key_of(uint8_t seed_byte, struct ledger_key *k)
{
    uint8_t seed[LEDGER_SEED_BYTES];
    memset(seed, seed_byte, sizeof(seed));
    ledger_key_from_seed(seed, k);
}

static struct cert_session *judged(struct fixture *fx)
{
    struct cert_session *s = new_session();
    struct cert_heal_action a[8];
    size_t na;
    cert_session_next(s, &fx->m, fx->nodes, 3, a, 8, &na);
    return s;
}

/* Certifies doc as n1 (key seed 7), expecting cert_certify to return want. */
static void certify(struct fixture *fx, const struct cert_session *s, bool valid,
                    struct cert_certificate *c, int want)
{
    uint8_t digest[32];
    manifest_digest(doc, strlen(doc), digest);
    struct ledger_key k;
    key_of(7, &k);
    assert_int_equal(cert_certify(s, &fx->m, valid, digest, &k, "n1", c), want);
}

/* Judges the fixture, then certifies a valid config: *c, and the session
 * (the caller frees it). */
static struct cert_session *judged_certified(struct fixture *fx, struct cert_certificate *c,
                                             int want)
{
    struct cert_session *s = judged(fx);
    certify(fx, s, true, c, want);
    return s;
}

static void expect_failed(const struct cert_certificate *c, const char *links)
{
    char got[128];
    assert_false(c->certified);
    cert_failed_links(c, got, sizeof(got));
    assert_string_equal(got, links);
    static const uint8_t zero[LEDGER_SIG_BYTES];
    assert_memory_equal(c->signature, zero, sizeof(zero));
    assert_string_equal(c->signer, "");
}

static void test_certify_signs_when_every_link_holds(void **state)
{
    struct fixture *fx = *state;
    struct cert_certificate c;
    struct cert_session *s = judged_certified(fx, &c, 0);
    assert_true(c.certified);
    assert_string_equal(c.signer, "n1");
    static const char *const names[] = {"config_valid", "simulation_passed", "no_critical_issue",
                                        "healing_ok"};
    for (size_t i = 0; i < CERT_NLINKS; i++) {
        assert_string_equal(c.links[i].name, names[i]);
        assert_true(c.links[i].ok);
    }
    free(s);
}

/* Certifies the fixture, then checks the certificate against the digest of
 * json (also swapped into the certificate when swapped) and the key of
 * seed. */
static bool verifies_with(struct fixture *fx, const char *json, uint8_t seed, bool swapped)
{
    struct cert_certificate c;
    free(judged_certified(fx, &c, 0));
    uint8_t digest[32];
    manifest_digest(json, strlen(json), digest);
    if (swapped)
        memcpy(c.digest, digest, sizeof(digest));
    struct ledger_key k;
    key_of(seed, &k);
    return cert_verify(&c, digest, k.pk);
}

static void test_certificate_verifies_with_digest_and_key(void **state)
{
    assert_true(verifies_with(*state, doc, 7, false));
}

static void test_certificate_fails_with_another_digest(void **state)
{
    assert_false(verifies_with(*state, "{}", 7, false));
    assert_false(verifies_with(*state, "{}", 7, true)); /* a digest swapped in the certificate */
}

static void test_certificate_fails_with_another_key(void **state)
{
    assert_false(verifies_with(*state, doc, 8, false));
}

static void test_certify_rejects_invalid_config(void **state)
{
    struct fixture *fx = *state;
    struct cert_session *s = judged(fx);
    struct cert_certificate c;
    certify(fx, s, false, &c, -1);
    expect_failed(&c, "config_valid");
    free(s);
}

static void test_certify_rejects_without_simulation(void **state)
{
    struct fixture *fx = *state;
    struct cert_certificate c;
    certify(fx, NULL, true, &c, -1);
    expect_failed(&c, "simulation_passed,no_critical_issue,healing_ok");
}

static void test_certify_rejects_when_no_quorum_answered(void **state)
{
    struct fixture *fx = *state;
    fx->nodes[0].answered = false;
    fx->nodes[1].answered = false;
    struct cert_certificate c;
    struct cert_session *s = judged_certified(fx, &c, -1);
    expect_failed(&c, "simulation_passed,no_critical_issue");
    assert_non_null(strstr(c.links[1].detail, "1 of 3"));
    free(s);
}

static void test_certify_accepts_one_unreachable_node_of_three(void **state)
{
    struct fixture *fx = *state;
    fx->nodes[2].answered = false;
    struct cert_certificate c;
    struct cert_session *s = judged_certified(fx, &c, 0);
    assert_true(c.certified);
    free(s);
}

static void test_certify_rejects_a_critical_issue(void **state)
{
    struct fixture *fx = *state;
    fx->nodes[1].services[1].port_free = false;
    struct cert_certificate c;
    struct cert_session *s = judged_certified(fx, &c, -1);
    expect_failed(&c, "no_critical_issue");
    assert_non_null(strstr(c.links[2].detail, "n2/api port_in_use"));
    free(s);
}

static void test_certify_rejects_after_heal_limit(void **state)
{
    struct fixture *fx = *state;
    make_missing_dir(fx, 0);
    struct cert_session *s = new_session();
    struct cert_heal_action a[8];
    size_t na;
    while (cert_session_next(s, &fx->m, fx->nodes, 3, a, 8, &na) == CERT_NEXT_HEAL)
        heal_all(s, a, na, false);
    struct cert_certificate c;
    certify(fx, s, true, &c, -1);
    expect_failed(&c, "no_critical_issue,healing_ok");
    assert_non_null(strstr(c.links[3].detail, "heal limit reached"));
    free(s);
}

/* ---- JSON --------------------------------------------------------------- */

static void test_json_shows_issues_healing_and_certificate(void **state)
{
    struct fixture *fx = *state;
    make_missing_dir(fx, 1);
    struct cert_session *s = new_session();
    struct cert_heal_action a[8];
    size_t na;
    assert_int_equal(cert_session_next(s, &fx->m, fx->nodes, 3, a, 8, &na), CERT_NEXT_HEAL);
    heal_all(s, a, na, true);
    good_facts(&fx->m, "n2", &fx->nodes[1]);
    fx->nodes[2].answered = false;
    assert_int_equal(cert_session_next(s, &fx->m, fx->nodes, 3, a, 8, &na), CERT_NEXT_CERTIFY);
    struct cert_certificate c;
    certify(fx, s, true, &c, 0);

    json_t *js = cert_to_json(s, &c);
    assert_non_null(js);
    json_t *is = json_array_get(json_object_get(js, "issues"), 0);
    assert_string_equal(json_string_value(json_object_get(is, "node")), "n3");
    assert_string_equal(json_string_value(json_object_get(is, "code")), "node_unreachable");
    assert_string_equal(json_string_value(json_object_get(is, "severity")), "warning");
    assert_true(json_is_false(json_object_get(is, "healable")));
    json_t *h = json_object_get(js, "healing");
    assert_int_equal(json_integer_value(json_object_get(h, "attempts")), 1);
    json_t *ch = json_array_get(json_object_get(h, "changes"), 0);
    assert_string_equal(json_string_value(json_object_get(ch, "node")), "n2");
    assert_string_equal(json_string_value(json_object_get(ch, "action")), "create_working_dir");
    assert_true(json_is_true(json_object_get(ch, "ok")));
    json_t *ce = json_object_get(js, "certification");
    assert_true(json_is_true(json_object_get(ce, "certified")));
    assert_int_equal(json_array_size(json_object_get(ce, "links")), 4);
    assert_string_equal(json_string_value(json_object_get(ce, "signer")), "n1");
    assert_int_equal(strlen(json_string_value(json_object_get(ce, "signature"))), 128);
    assert_int_equal(strlen(json_string_value(json_object_get(ce, "digest"))), 64);
    json_decref(js);
    free(s);
}

static void test_json_of_uncertified_release_has_no_signature(void **state)
{
    struct fixture *fx = *state;
    fx->nodes[0].services[0].command_found = false;
    struct cert_certificate c;
    struct cert_session *s = judged_certified(fx, &c, -1);
    json_t *js = cert_to_json(s, &c);
    json_t *ce = json_object_get(js, "certification");
    assert_true(json_is_false(json_object_get(ce, "certified")));
    assert_string_equal(json_string_value(json_object_get(ce, "signature")), "");
    json_t *l = json_array_get(json_object_get(ce, "links"), 2);
    assert_string_equal(json_string_value(json_object_get(l, "name")), "no_critical_issue");
    assert_true(json_is_false(json_object_get(l, "ok")));
    json_decref(js);
    js = cert_to_json(s, NULL); /* a dry run before certification */
    assert_true(json_is_null(json_object_get(js, "certification")));
    json_decref(js);
    free(s);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_judge_good_facts_give_no_issue),
        T(test_judge_user_that_exists_on_a_root_node_gives_no_issue),
        T(test_judge_user_where_chimerad_is_not_root_is_critical),
        T(test_judge_user_missing_on_a_node_is_critical_and_names_it),
        T(test_judge_command_not_found_is_critical),
        T(test_judge_command_not_executable_is_critical),
        T(test_judge_working_dir_missing_is_critical_and_healable),
        T(test_judge_working_dir_uncreatable_is_not_healable),
        T(test_judge_working_dir_not_a_directory_is_critical),
        T(test_judge_fixed_port_in_use_is_critical),
        T(test_judge_port_held_by_running_release_is_info),
        T(test_judge_auto_port_unavailable_is_healable),
        T(test_judge_health_url_invalid_is_critical),
        T(test_judge_env_that_does_not_expand_is_critical),
        T(test_judge_args_that_do_not_expand_are_critical),
        T(test_judge_service_missing_from_facts_is_critical),
        T(test_judge_unreachable_node_with_quorum_is_warning),
        T(test_judge_unreachable_nodes_without_quorum_are_critical),
        T(test_judge_two_services_on_one_fixed_port_collide),
        T(test_judge_service_without_health_check_is_info),
        T(test_judge_counts_issues_beyond_max),
        T(test_heal_plan_has_one_action_per_healable_issue),
        T(test_heal_plan_merges_repeated_issues),
        T(test_session_without_healable_issue_certifies_at_once),
        T(test_session_heals_then_certifies_once_fixed),
        T(test_session_gives_up_after_three_heal_attempts),
        T(test_certify_signs_when_every_link_holds),
        T(test_certificate_verifies_with_digest_and_key),
        T(test_certificate_fails_with_another_digest),
        T(test_certificate_fails_with_another_key),
        T(test_certify_rejects_invalid_config),
        T(test_certify_rejects_without_simulation),
        T(test_certify_rejects_when_no_quorum_answered),
        T(test_certify_accepts_one_unreachable_node_of_three),
        T(test_certify_rejects_a_critical_issue),
        T(test_certify_rejects_after_heal_limit),
        T(test_json_shows_issues_healing_and_certificate),
        T(test_json_of_uncertified_release_has_no_signature),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
