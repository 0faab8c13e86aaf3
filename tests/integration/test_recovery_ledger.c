/* Recoveries in the ledger across a change of leader (issue 12): a node
 * reports each recovery until it sees it committed, so a leader may hear
 * of one it, or the leader before it, already recorded (its acknowledgement
 * was lost with it). The test speaks for a member as the harness can (the
 * cluster key seals envelopes as any member, harness.h "forged
 * node-to-node messages"): with that member stopped, it reports one
 * recovery to the leader, then the same again to the leader that follows,
 * and reads both acknowledgements on the member's inbox. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#include "node/base/envelope.h"

#define NODES 3
#define FAILED_AT_MS 1700000000123ull /* the recovery's identity, with the member's id */

struct fixture {
    struct h_cluster *c;
    struct h_forge *f;
};

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    if (!fx)
        return -1;
    *state = fx;
    fx->c = h_cluster_create(NODES);
    fx->f = fx->c ? h_forge_open(fx->c) : NULL;
    return fx->f ? 0 : -1;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    h_forge_close(fx->f);
    h_cluster_destroy(fx->c);
    free(fx);
    return 0;
}

/* MSG_RECOVERY [10, service, cause_kind, cause_code, attempts, failed_at_ms,
 * ttr_ms] (node/chaos/watch_lead.c): web killed by signal 9, healthy again
 * after one restart, 300 ms later. */
static void report_recovery(struct h_forge *f, int to, const char *as)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 7);
    msgpack_pack_uint32(&pk, MSG_RECOVERY);
    msgpack_pack_str_with_body(&pk, "web", 3);
    msgpack_pack_uint32(&pk, 2); /* WT_CAUSE_SIGNAL */
    msgpack_pack_int64(&pk, 9);
    msgpack_pack_uint32(&pk, 1);
    msgpack_pack_uint64(&pk, FAILED_AT_MS);
    msgpack_pack_uint64(&pk, 300);
    assert_int_equal(h_forge_send(f, to, ENV_LEDGER, as, sb.data, sb.size), 0);
    msgpack_sbuffer_destroy(&sb);
}

/* The index node `from` acknowledges the recovery with on the member's
 * inbox, reporting it again every second until it answers; 0 if it never
 * does. */
static uint64_t acknowledged(struct fixture *fx, int from, const char *as)
{
    const char *id = fx->c->nodes[from].id;
    uint64_t deadline = h_now_ns() + (uint64_t)h_timeout_ms() * 1000000u, next = 0;
    while (h_now_ns() < deadline) {
        if (h_now_ns() >= next) {
            report_recovery(fx->f, from, as);
            next = h_now_ns() + 1000000000u;
        }
        struct env_msg msg;
        if (h_forge_recv(fx->f, 200, &msg) != 0)
            continue;
        const msgpack_object *b = &msg.body;
        uint64_t index = 0;
        if (strcmp(msg.from, id) == 0 && msg.type == ENV_LEDGER &&
            b->type == MSGPACK_OBJECT_ARRAY && b->via.array.size == 3 &&
            b->via.array.ptr[0].via.u64 == MSG_RECOVERY_ACK &&
            b->via.array.ptr[1].via.u64 == FAILED_AT_MS)
            index = b->via.array.ptr[2].via.u64;
        env_msg_free(&msg);
        if (index)
            return index;
    }
    return 0;
}

/* How many recovery entries of node `who` node i's ledger holds. */
static int recoveries_of(struct h_cluster *c, int i, const char *who)
{
    long st = 0;
    json_t *page = h_http_get_json(c, i, "/ledger?from=1&limit=1000", &st);
    size_t k;
    json_t *e;
    int n = 0;
    json_array_foreach(json_object_get(page, "entries"), k, e)
    {
        const char *type = json_string_value(json_object_get(e, "type"));
        const char *node = json_string_value(json_object_get(json_object_get(e, "data"), "node"));
        n += type && node && strcmp(type, "recovery") == 0 && strcmp(node, who) == 0;
    }
    json_decref(page);
    return n;
}

struct count_arg {
    struct h_cluster *c;
    int i;
    const char *who;
};

static bool recorded_once(void *arg)
{
    struct count_arg *a = arg;
    return recoveries_of(a->c, a->i, a->who) == 1;
}

static void test_a_recovery_reported_again_to_the_next_leader_is_recorded_once(void **state)
{
    struct fixture *fx = *state;
    struct h_cluster *c = fx->c;
    unsigned long long term = 0;
    int leader = h_start_agreed(c, "test_recovery_ledger", &term);
    if (leader < 0)
        fail_msg("the federation did not come up with a leader");
    int member = (leader + 1) % NODES, other = (leader + 2) % NODES;
    const char *as = c->nodes[member].id;
    h_node_stop(c, member);
    assert_int_equal(h_forge_listen(fx->f, member), 0);

    uint64_t first = acknowledged(fx, leader, as);
    if (!first)
        fail_msg("the leader %s never acknowledged the recovery", c->nodes[leader].id);
    struct count_arg once = {c, other, as};
    if (!h_wait_until(recorded_once, &once, h_timeout_ms()))
        fail_msg("%s's ledger does not hold the recovery once", c->nodes[other].id);

    /* The leader restarts: whoever leads next knows the recovery only from
     * the ledger. */
    h_node_stop(c, leader);
    assert_int_equal(h_node_start(c, leader), 0);
    int both[] = {leader, other}, next = -1;
    if (!h_wait_agreed_among(c, both, 2, term, h_timeout_ms(), &next, NULL))
        fail_msg("no leader after %s restarted: %s", c->nodes[leader].id, h_views_line(c));
    uint64_t again = acknowledged(fx, next, as);
    if (again != first)
        fail_msg("%s acknowledged the recovery recorded at %llu with %llu: recorded twice",
                 c->nodes[next].id, (unsigned long long)first, (unsigned long long)again);
    assert_int_equal(recoveries_of(c, next, as), 1);
    h_cluster_pass(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_a_recovery_reported_again_to_the_next_leader_is_recorded_once, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
