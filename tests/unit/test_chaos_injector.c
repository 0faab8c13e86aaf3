/* The chaos injector: when the leader injects (interval, window,
 * probability), what it picks, each safety rule on its own, dry-run, the
 * kill switch, the ledger's chaos state across leaders, and an operator's
 * inject. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "chaos/injector.h"

#define T0 1704103200000ull /* Monday 2024-01-01 10:00 UTC */
#define IVL 600000ull

/* A fixed sequence of random words, repeated; 0 makes every die roll low. */
struct seq {
    uint64_t v[8];
    size_t n, i;
};
static uint64_t seq_next(void *ctx)
{
    struct seq *s = ctx;
    return s->v[s->i++ % (s->n ? s->n : 1)];
}

static const char *const web[] = {"web", "db"};
static struct chaos_member m[5];
static struct chaos_state st;
static struct chaos_settings set;
static struct chaos_view view;
static struct seq zeros;
static struct chaos_rng rng = {seq_next, &zeros};

static int setup(void **state)
{
    (void)state;
    static const char *const ids[] = {"n1", "n2", "n3", "n4", "n5"};
    for (int i = 0; i < 5; i++)
        m[i] = (struct chaos_member){ids[i], CHAOS_MEMBER_ALIVE, false, true, web, 2, 0};
    chaos_state_init(&st);
    chaos_settings_default(&set);
    set.enabled = true;
    set.probability = 1.0;
    view = (struct chaos_view){T0, m, 3, false, &st};
    zeros = (struct seq){{0}, 1, 0};
    rng.ctx = &zeros; /* tests point it at their own sequences */
    return 0;
}

/* One tick, due now. */
static struct chaos_decision tick(void)
{
    struct chaos_injector inj;
    struct chaos_decision d;
    chaos_injector_init(&inj, &set, view.now_ms - set.interval_ms);
    chaos_injector_tick(&inj, &view, &rng, &d);
    return d;
}

static void assert_refused(struct chaos_decision d, const char *prefix)
{
    assert_int_equal(d.action, CHAOS_ACT_REFUSED);
    if (strncmp(d.reason, prefix, strlen(prefix)) != 0) {
        print_error("reason \"%s\" does not start with \"%s\"\n", d.reason, prefix);
        fail();
    }
}

static struct chaos_fault committed(enum chaos_kind k, const char *node, uint64_t start,
                                    uint64_t dur)
{
    struct chaos_record r = {.kind = CHAOS_REC_FAULT, .has_fault = true};
    r.fault.kind = k;
    snprintf(r.fault.id, sizeof r.fault.id, "chaos-%llu", (unsigned long long)start);
    strcpy(r.fault.node, node);
    if (chaos_kind_on_service(k))
        strcpy(r.fault.service, "web");
    r.fault.start_ms = start;
    r.fault.duration_ms = dur;
    r.fault.expires_ms = start + dur;
    chaos_state_apply(&st, &r);
    return r.fault;
}

static void feed(enum chaos_record_kind k, const char *id)
{
    struct chaos_record r = {.kind = k};
    if (id)
        strcpy(r.fault.id, id);
    chaos_state_apply(&st, &r);
}

/* ---- when ---- */

static void test_a_healthy_federation_gets_a_fault_at_probability_one(void **state)
{
    (void)state;
    struct chaos_decision d = tick();
    assert_int_equal(d.action, CHAOS_ACT_INJECT);
    assert_int_equal(d.fault.origin, CHAOS_ORIGIN_INJECTOR);
    assert_int_equal(d.fault.start_ms, T0);
    assert_int_equal(d.fault.expires_ms, T0 + set.max_duration_ms);
    assert_int_equal(d.next_tick_ms, T0 + IVL);
    strcpy(d.fault.id, "chaos-1");
    assert_int_equal(chaos_fault_check(&d.fault, NULL, 0), 0);
}

static void test_nothing_happens_before_the_interval_is_up(void **state)
{
    (void)state;
    struct chaos_injector inj;
    struct chaos_decision d;
    chaos_injector_init(&inj, &set, T0);
    chaos_injector_tick(&inj, &view, &rng, &d);
    assert_int_equal(d.action, CHAOS_ACT_NONE);
    assert_int_equal(d.next_tick_ms, T0 + IVL);
}

static void test_a_new_leader_waits_one_interval_before_its_first_fault(void **state)
{
    (void)state;
    struct chaos_injector inj;
    struct chaos_decision d;
    chaos_injector_init(&inj, &set, T0);
    view.now_ms = T0 + IVL - 1;
    chaos_injector_tick(&inj, &view, &rng, &d);
    assert_int_equal(d.action, CHAOS_ACT_NONE);
    view.now_ms = T0 + IVL;
    chaos_injector_tick(&inj, &view, &rng, &d);
    assert_int_equal(d.action, CHAOS_ACT_INJECT);
}

static void test_a_disabled_injector_never_injects(void **state)
{
    (void)state;
    set.enabled = false;
    assert_int_equal(tick().action, CHAOS_ACT_NONE);
}

static void test_the_dice_decide_below_probability_one(void **state)
{
    (void)state;
    set.probability = 0.15;
    struct seq hi = {{UINT64_MAX / 100 * 15 + UINT64_MAX / 1000}, 1, 0}; /* u just above 0.15 */
    struct seq lo = {{UINT64_MAX / 100 * 14}, 1, 0};                     /* u = 0.14 */
    rng.ctx = &hi;
    assert_int_equal(tick().action, CHAOS_ACT_NONE);
    rng.ctx = &lo;
    assert_int_equal(tick().action, CHAOS_ACT_INJECT);
}

static void test_probability_zero_never_injects(void **state)
{
    (void)state;
    set.probability = 0;
    assert_int_equal(tick().action, CHAOS_ACT_NONE);
}

static void test_outside_the_window_nothing_happens_until_it_opens(void **state)
{
    (void)state;
    assert_int_equal(chaos_window_parse("Mon-Fri 12:00-17:00", &set.window, NULL, 0), 0);
    struct chaos_decision d = tick(); /* Monday 10:00 */
    assert_int_equal(d.action, CHAOS_ACT_NONE);
    assert_int_equal(d.next_tick_ms, T0 + 2 * 3600000ull); /* at noon, not ten minutes on */
}

static void test_inside_the_window_the_injector_runs(void **state)
{
    (void)state;
    assert_int_equal(chaos_window_parse("Mon-Fri 09:00-17:00", &set.window, NULL, 0), 0);
    assert_int_equal(tick().action, CHAOS_ACT_INJECT);
}

/* ---- safety rules, one by one ---- */

static void test_refused_while_a_fault_is_active(void **state)
{
    (void)state;
    committed(CHAOS_PAUSE_SERVICE, "n2", T0 - 1000, 60000);
    struct chaos_decision d = tick();
    assert_refused(d, "active: fault chaos-");
    /* In whole seconds, written as a drill file writes durations. */
    if (!strstr(d.reason, " is active for 59s more"))
        fail_msg("reason \"%s\" does not say how long the fault has left", d.reason);
}

static void test_a_fault_past_its_expiry_no_longer_blocks(void **state)
{
    (void)state;
    committed(CHAOS_PAUSE_SERVICE, "n2", T0 - 60000, 60000); /* the leader died before healed */
    assert_int_equal(tick().action, CHAOS_ACT_INJECT);
}

static void test_a_new_leader_knows_the_active_fault_from_the_ledger(void **state)
{
    (void)state;
    /* The old leader committed a fault; the new one folded the same records. */
    committed(CHAOS_ISOLATE_NODE, "n3", T0 - 5000, 60000);
    struct chaos_state fresh;
    chaos_state_init(&fresh);
    chaos_state_apply(
        &fresh,
        &(struct chaos_record){.kind = CHAOS_REC_FAULT, .fault = st.active[0], .has_fault = true});
    view.state = &fresh;
    assert_refused(tick(), "active:");
}

static void test_a_healed_record_ends_the_active_fault(void **state)
{
    (void)state;
    struct chaos_fault f = committed(CHAOS_ISOLATE_NODE, "n3", T0 - 5000, 60000);
    feed(CHAOS_REC_HEALED, f.id);
    assert_null(chaos_state_active(&st, T0));
    assert_int_equal(tick().action, CHAOS_ACT_INJECT);
}

/* f blocks no other fault now and is due for a healed record with this
 * reason, until one is committed. */
static void assert_over_and_due(const struct chaos_fault *f, const char *reason)
{
    assert_null(chaos_state_active(&st, T0));
    assert_int_equal(tick().action, CHAOS_ACT_INJECT);
    const char *why = NULL;
    const struct chaos_fault *e = chaos_state_expired(&st, T0, &why);
    assert_non_null(e);
    assert_string_equal(e->id, f->id);
    assert_string_equal(why, reason);
    feed(CHAOS_REC_HEALED, f->id);
    assert_null(chaos_state_expired(&st, T0, NULL));
}

static void test_an_expired_fault_is_due_for_a_healed_record(void **state)
{
    (void)state;
    struct chaos_fault f = committed(CHAOS_ISOLATE_NODE, "n3", T0 - 5000, 1000);
    const char *why = NULL;
    const struct chaos_fault *e = chaos_state_expired(&st, T0, &why);
    assert_non_null(e);
    assert_string_equal(e->id, f.id);
    assert_string_equal(why, "expired");
    feed(CHAOS_REC_HEALED, f.id);
    assert_null(chaos_state_expired(&st, T0, NULL));
}

/* A kill is instantaneous: once the ledger records the killed service
 * running again on its node, the kill blocks no other fault, and is due
 * for a healed record that says why. */
static void test_a_killed_service_restarted_no_longer_blocks(void **state)
{
    (void)state;
    struct chaos_fault f = committed(CHAOS_KILL_SERVICE, "n2", T0 - 5000, 60000);
    assert_refused(tick(), "active:");
    chaos_state_restarted(&st, &(struct chaos_restart){"n2", "web", T0 - 4990});
    assert_over_and_due(&f, "restarted");
}

/* Only the kill's own restart ends it: another service's or node's, or a
 * failure from before the kill, does not; nor does a restart end a pause. */
static void test_only_the_killed_services_restart_ends_the_kill(void **state)
{
    (void)state;
    committed(CHAOS_KILL_SERVICE, "n2", T0 - 5000, 60000);
    chaos_state_restarted(&st, &(struct chaos_restart){"n3", "web", T0 - 4990});
    chaos_state_restarted(&st, &(struct chaos_restart){"n2", "db", T0 - 4990});
    chaos_state_restarted(&st, &(struct chaos_restart){"n2", "web", T0 - 5001});
    assert_non_null(chaos_state_active(&st, T0));
    chaos_state_init(&st);
    committed(CHAOS_PAUSE_SERVICE, "n2", T0 - 5000, 60000);
    chaos_state_restarted(&st, &(struct chaos_restart){"n2", "web", T0 - 4990});
    assert_non_null(chaos_state_active(&st, T0));
    assert_null(chaos_state_expired(&st, T0, NULL));
}

/* A kill_node of the process with boot epoch 100 on n2, given a minute;
 * the members as the leader hears them: n2 still with that epoch. */
static struct chaos_fault killed_n2(void)
{
    committed(CHAOS_KILL_NODE, "n2", T0 - 5000, 60000);
    st.active[st.nactive - 1].boot = 100;
    for (int i = 0; i < 3; i++)
        m[i].boot = 100;
    return st.active[st.nactive - 1];
}

/* A killed node is back once the leader hears a new process of it, alive
 * and answering: the kill blocks no other fault, and is due for a healed
 * record that says why. */
static void test_a_killed_node_back_as_a_member_no_longer_blocks(void **state)
{
    (void)state;
    struct chaos_fault f = killed_n2();
    chaos_state_members(&st, m, 3);
    assert_non_null(chaos_state_active(&st, T0));
    m[1].boot = 101;
    chaos_state_members(&st, m, 3);
    assert_over_and_due(&f, "restarted");
}

/* A new epoch alone is not back: the node must be alive and answer the
 * leader's heartbeats, and must be the killed one. */
static void test_a_killed_node_is_back_only_alive_and_answering(void **state)
{
    (void)state;
    killed_n2();
    m[1].boot = 101;
    m[1].status = CHAOS_MEMBER_SUSPECT;
    chaos_state_members(&st, m, 3);
    m[1].status = CHAOS_MEMBER_ALIVE;
    m[1].read_only = true;
    chaos_state_members(&st, m, 3);
    m[1].read_only = false;
    m[1].boot = 100;
    m[2].boot = 101;
    chaos_state_members(&st, m, 3);
    assert_non_null(chaos_state_active(&st, T0));
    assert_null(chaos_state_expired(&st, T0, NULL));
}

/* Without the killed process's epoch (a record from before it was kept),
 * or for a fault that is no kill_node, a new epoch changes nothing: the
 * duration still bounds it. */
static void test_a_new_epoch_ends_only_a_kill_node_that_knows_its_own(void **state)
{
    (void)state;
    killed_n2();
    st.active[0].boot = 0;
    committed(CHAOS_ISOLATE_NODE, "n2", T0 - 4000, 60000);
    m[1].boot = 101;
    chaos_state_members(&st, m, 3);
    assert_non_null(chaos_state_active(&st, T0));
    assert_null(chaos_state_expired(&st, T0, NULL));
}

/* The leader builds the members' view only while a kill_node that knows
 * its process is in force, and no longer once it is over. */
static void test_only_a_kill_node_in_force_awaits_its_node(void **state)
{
    (void)state;
    committed(CHAOS_ISOLATE_NODE, "n2", T0 - 4000, 60000);
    assert_false(chaos_state_awaits_node(&st));
    killed_n2();
    assert_true(chaos_state_awaits_node(&st));
    m[1].boot = 101;
    chaos_state_members(&st, m, 3);
    assert_false(chaos_state_awaits_node(&st));
}

static void test_refused_while_a_rollout_runs(void **state)
{
    (void)state;
    view.rollout_running = true;
    assert_refused(tick(), "rollout:");
}

static void test_refused_while_a_member_is_dead(void **state)
{
    (void)state;
    m[2].status = CHAOS_MEMBER_DEAD;
    assert_refused(tick(), "unhealthy: member n3 is dead");
}

static void test_refused_while_a_member_is_suspect(void **state)
{
    (void)state;
    m[1].status = CHAOS_MEMBER_SUSPECT;
    assert_refused(tick(), "unhealthy: member n2 is suspect");
}

static void test_refused_while_a_member_is_read_only(void **state)
{
    (void)state;
    m[0].read_only = true;
    assert_refused(tick(), "unhealthy: member n1 is read-only");
}

static void test_a_node_fault_without_a_spare_vote_is_refused(void **state)
{
    (void)state;
    view.nmembers = 2; /* quorum 2 of 2: no vote to spare */
    set.kinds = CHAOS_KIND_BIT(CHAOS_ISOLATE_NODE) | CHAOS_KIND_BIT(CHAOS_KILL_NODE);
    assert_refused(tick(), "no spare vote: a fault on n2 would leave 1 of 2 voters up");
}

static void test_without_a_spare_vote_a_service_fault_is_chosen(void **state)
{
    (void)state;
    view.nmembers = 2;
    for (int i = 0; i < 20; i++) {
        struct seq s = {{(uint64_t)i, (uint64_t)i * 7}, 2, 0};
        rng.ctx = &s;
        struct chaos_decision d = tick();
        assert_int_equal(d.action, CHAOS_ACT_INJECT);
        assert_true(chaos_kind_on_service(d.fault.kind));
    }
}

static void test_a_non_voter_can_be_faulted_without_a_spare_vote(void **state)
{
    (void)state;
    view.nmembers = 3;
    m[2].voter = false; /* n1, n2 vote: quorum 2 of 2 */
    set.kinds = CHAOS_KIND_BIT(CHAOS_KILL_NODE);
    struct chaos_decision d = tick();
    assert_int_equal(d.action, CHAOS_ACT_INJECT);
    assert_string_equal(d.fault.node, "n3");
}

static void test_an_excluded_node_is_never_chosen(void **state)
{
    (void)state;
    strcpy(set.exclude[0], "n1");
    strcpy(set.exclude[1], "n3");
    set.nexclude = 2;
    for (uint64_t i = 0; i < 50; i++) {
        struct seq s = {{0, i, i * 3, i * 5}, 4, 0};
        rng.ctx = &s;
        struct chaos_decision d = tick();
        assert_int_equal(d.action, CHAOS_ACT_INJECT);
        assert_string_equal(d.fault.node, "n2");
        assert_true(d.fault.peer[0] == '\0' || strcmp(d.fault.peer, "n2") != 0);
        assert_false(strcmp(d.fault.peer, "n1") == 0 || strcmp(d.fault.peer, "n3") == 0);
    }
}

static void test_an_excluded_service_is_never_chosen(void **state)
{
    (void)state;
    strcpy(set.exclude[0], "db");
    set.nexclude = 1;
    set.kinds = CHAOS_KIND_BIT(CHAOS_KILL_SERVICE);
    for (uint64_t i = 0; i < 50; i++) {
        struct seq s = {{0, i, i * 3}, 3, 0};
        rng.ctx = &s;
        assert_string_equal(tick().fault.service, "web");
    }
}

static void test_everything_excluded_is_refused_for_want_of_a_target(void **state)
{
    (void)state;
    const char *ex[] = {"n1", "n2", "n3"};
    for (int i = 0; i < 3; i++)
        strcpy(set.exclude[i], ex[i]);
    set.nexclude = 3;
    assert_refused(tick(), "no target:");
}

static void test_kill_node_is_not_chosen_by_default(void **state)
{
    (void)state;
    for (uint64_t i = 0; i < 100; i++) {
        struct seq s = {{0, i, i * 11}, 3, 0};
        rng.ctx = &s;
        assert_int_not_equal(tick().fault.kind, CHAOS_KILL_NODE);
    }
}

static void test_kill_node_is_chosen_when_listed(void **state)
{
    (void)state;
    set.kinds = CHAOS_KIND_BIT(CHAOS_KILL_NODE);
    struct chaos_decision d = tick();
    assert_int_equal(d.action, CHAOS_ACT_INJECT);
    assert_int_equal(d.fault.kind, CHAOS_KILL_NODE);
}

static void test_every_enabled_kind_gets_chosen_some_time(void **state)
{
    (void)state;
    set.kinds = CHAOS_KINDS_ALL;
    uint32_t seen = 0;
    for (uint64_t i = 0; i < 50; i++) {
        struct seq s = {{0, i, 0, 3}, 4, 0};
        rng.ctx = &s;
        struct chaos_decision d = tick();
        seen |= CHAOS_KIND_BIT(d.fault.kind);
        if (d.fault.kind == CHAOS_DELAY_MESSAGES)
            assert_true(d.fault.delay_ms >= 50 && d.fault.delay_ms <= 500);
    }
    assert_int_equal(seen, CHAOS_KINDS_ALL);
}

/* ---- dry-run and the kill switch ---- */

static void test_dry_run_decides_but_would_only_inject(void **state)
{
    (void)state;
    set.dry_run = true;
    struct chaos_decision d = tick();
    assert_int_equal(d.action, CHAOS_ACT_WOULD_INJECT);
    assert_true(d.has_fault);
    assert_true(d.fault.node[0] != '\0');
}

static void test_dry_run_still_refuses_under_the_safety_rules(void **state)
{
    (void)state;
    set.dry_run = true;
    view.rollout_running = true;
    assert_refused(tick(), "rollout:");
}

static void test_after_a_stop_the_injector_stays_off(void **state)
{
    (void)state;
    feed(CHAOS_REC_STOP, NULL);
    struct chaos_decision d = tick();
    assert_int_equal(d.action, CHAOS_ACT_NONE);
    view.now_ms += 10 * IVL;
    assert_int_equal(tick().action, CHAOS_ACT_NONE);
}

static void test_a_stop_heals_the_active_fault_in_the_ledger_state(void **state)
{
    (void)state;
    committed(CHAOS_ISOLATE_NODE, "n3", T0 - 5000, 60000);
    feed(CHAOS_REC_STOP, NULL);
    assert_null(chaos_state_active(&st, T0));
    assert_true(st.stopped);
}

static void test_enabling_again_lets_the_injector_run(void **state)
{
    (void)state;
    feed(CHAOS_REC_STOP, NULL);
    feed(CHAOS_REC_ENABLE, NULL);
    assert_int_equal(tick().action, CHAOS_ACT_INJECT);
}

/* ---- an operator's inject ---- */

static struct chaos_decision operator(enum chaos_kind k, const char *node, const char *service,
                                      bool force)
{
    struct chaos_fault req = {.kind = k, .forced = force, .duration_ms = 10000};
    struct chaos_decision d;
    strcpy(req.node, node);
    if (service)
        strcpy(req.service, service);
    chaos_injector_check(&set, &view, &req, &d);
    return d;
}

static void test_an_operator_fault_passes_with_the_injector_disabled(void **state)
{
    (void)state;
    set.enabled = false;
    set.kinds = CHAOS_KIND_BIT(CHAOS_KILL_SERVICE);
    struct chaos_decision d = operator(CHAOS_KILL_NODE, "n2", NULL, false);
    assert_int_equal(d.action, CHAOS_ACT_INJECT);
    assert_int_equal(d.fault.origin, CHAOS_ORIGIN_OPERATOR);
    assert_int_equal(d.fault.expires_ms, T0 + 10000);
}

static void test_an_operator_fault_is_refused_during_a_rollout(void **state)
{
    (void)state;
    view.rollout_running = true;
    assert_refused(operator(CHAOS_KILL_SERVICE, "n1", "web", false), "rollout:");
}

static void test_an_operator_fault_on_an_excluded_target_is_refused(void **state)
{
    (void)state;
    strcpy(set.exclude[0], "web");
    set.nexclude = 1;
    assert_refused(operator(CHAOS_KILL_SERVICE, "n1", "web", false), "excluded: web is excluded");
}

static void test_an_operator_fault_is_refused_while_another_is_active(void **state)
{
    (void)state;
    committed(CHAOS_PAUSE_SERVICE, "n2", T0 - 1000, 60000);
    assert_refused(operator(CHAOS_KILL_NODE, "n1", NULL, false), "active:");
}

static void test_an_operator_fault_is_refused_after_a_stop(void **state)
{
    (void)state;
    feed(CHAOS_REC_STOP, NULL);
    assert_refused(operator(CHAOS_KILL_NODE, "n1", NULL, false), "stopped:");
}

static void test_an_operator_node_fault_needs_a_spare_vote(void **state)
{
    (void)state;
    view.nmembers = 2;
    assert_refused(operator(CHAOS_ISOLATE_NODE, "n1", NULL, false), "no spare vote:");
}

static void test_force_overrides_the_safety_rules(void **state)
{
    (void)state;
    view.rollout_running = true;
    view.nmembers = 2;
    m[1].status = CHAOS_MEMBER_DEAD;
    feed(CHAOS_REC_STOP, NULL);
    struct chaos_decision d = operator(CHAOS_KILL_NODE, "n1", NULL, true);
    assert_int_equal(d.action, CHAOS_ACT_INJECT);
    assert_true(d.fault.forced);
}

static void test_force_does_not_make_an_unknown_target_valid(void **state)
{
    (void)state;
    assert_refused(operator(CHAOS_KILL_NODE, "n9", NULL, true), "no target: n9 is not a member");
    assert_refused(operator(CHAOS_KILL_SERVICE, "n1", "cache", true),
                   "no target: n1 runs no service cache");
}

static void test_an_operator_duration_over_the_maximum_is_refused(void **state)
{
    (void)state;
    struct chaos_fault req = {.kind = CHAOS_KILL_NODE, .duration_ms = set.max_duration_ms + 1};
    struct chaos_decision d;
    strcpy(req.node, "n1");
    chaos_injector_check(&set, &view, &req, &d);
    assert_refused(d, "duration: 1m1ms is more than the maximum 1m");
}

static void test_an_operator_fault_without_a_duration_gets_the_maximum(void **state)
{
    (void)state;
    struct chaos_fault req = {.kind = CHAOS_KILL_NODE};
    struct chaos_decision d;
    strcpy(req.node, "n1");
    chaos_injector_check(&set, &view, &req, &d);
    assert_int_equal(d.action, CHAOS_ACT_INJECT);
    assert_int_equal(d.fault.duration_ms, set.max_duration_ms);
}

static void test_the_settings_json_lists_kinds_and_exclusions(void **state)
{
    (void)state;
    strcpy(set.exclude[0], "db");
    set.nexclude = 1;
    json_t *j = chaos_settings_json(&set, "Mon-Fri 09:00-17:00");
    json_t *faults = json_object_get(j, "faults");
    assert_true(json_is_true(json_object_get(j, "enabled")));
    assert_int_equal(json_integer_value(json_object_get(j, "interval_ms")), IVL);
    assert_int_equal(json_array_size(faults), 4);
    assert_string_equal(json_string_value(json_array_get(faults, 0)), "kill_service");
    assert_string_equal(json_string_value(json_array_get(json_object_get(j, "exclude"), 0)), "db");
    assert_string_equal(json_string_value(json_object_get(j, "window")), "Mon-Fri 09:00-17:00");
    json_decref(j);
}

#define T(f) cmocka_unit_test_setup(f, setup)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_a_healthy_federation_gets_a_fault_at_probability_one),
        T(test_nothing_happens_before_the_interval_is_up),
        T(test_a_new_leader_waits_one_interval_before_its_first_fault),
        T(test_a_disabled_injector_never_injects),
        T(test_the_dice_decide_below_probability_one),
        T(test_probability_zero_never_injects),
        T(test_outside_the_window_nothing_happens_until_it_opens),
        T(test_inside_the_window_the_injector_runs),
        T(test_refused_while_a_fault_is_active),
        T(test_a_fault_past_its_expiry_no_longer_blocks),
        T(test_a_new_leader_knows_the_active_fault_from_the_ledger),
        T(test_a_healed_record_ends_the_active_fault),
        T(test_an_expired_fault_is_due_for_a_healed_record),
        T(test_a_killed_service_restarted_no_longer_blocks),
        T(test_only_the_killed_services_restart_ends_the_kill),
        T(test_a_killed_node_back_as_a_member_no_longer_blocks),
        T(test_a_killed_node_is_back_only_alive_and_answering),
        T(test_a_new_epoch_ends_only_a_kill_node_that_knows_its_own),
        T(test_only_a_kill_node_in_force_awaits_its_node),
        T(test_refused_while_a_rollout_runs),
        T(test_refused_while_a_member_is_dead),
        T(test_refused_while_a_member_is_suspect),
        T(test_refused_while_a_member_is_read_only),
        T(test_a_node_fault_without_a_spare_vote_is_refused),
        T(test_without_a_spare_vote_a_service_fault_is_chosen),
        T(test_a_non_voter_can_be_faulted_without_a_spare_vote),
        T(test_an_excluded_node_is_never_chosen),
        T(test_an_excluded_service_is_never_chosen),
        T(test_everything_excluded_is_refused_for_want_of_a_target),
        T(test_kill_node_is_not_chosen_by_default),
        T(test_kill_node_is_chosen_when_listed),
        T(test_every_enabled_kind_gets_chosen_some_time),
        T(test_dry_run_decides_but_would_only_inject),
        T(test_dry_run_still_refuses_under_the_safety_rules),
        T(test_after_a_stop_the_injector_stays_off),
        T(test_a_stop_heals_the_active_fault_in_the_ledger_state),
        T(test_enabling_again_lets_the_injector_run),
        T(test_an_operator_fault_passes_with_the_injector_disabled),
        T(test_an_operator_fault_is_refused_during_a_rollout),
        T(test_an_operator_fault_on_an_excluded_target_is_refused),
        T(test_an_operator_fault_is_refused_while_another_is_active),
        T(test_an_operator_fault_is_refused_after_a_stop),
        T(test_an_operator_node_fault_needs_a_spare_vote),
        T(test_force_overrides_the_safety_rules),
        T(test_force_does_not_make_an_unknown_target_valid),
        T(test_an_operator_duration_over_the_maximum_is_refused),
        T(test_an_operator_fault_without_a_duration_gets_the_maximum),
        T(test_the_settings_json_lists_kinds_and_exclusions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
