/* Integration: what chimeractl prints of a node's answers, against a stub
 * of its HTTP API (ctl_stub.h): the recovery table's columns, the
 * numbers of JSON output, the addresses in messages. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "ctl_support.h"
#include "ctl_stub.h"

/* chimeractl --addr at stub s, with up to two arguments more (NULL: none). */
static struct run ctl(struct stub *s, const char *cmd, const char *a, const char *b)
{
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", s->port);
    struct run r = {0};
    if (!h_ctl(NULL, -1, &r.code, &r.out, &r.err, "--addr", addr, cmd, a, b, NULL))
        run_fail(&r, "chimeractl did not finish", __FILE__, __LINE__);
    return r;
}

/* ---- recovery --------------------------------------------------------- */

/* A lone node whose service took over a minute to recover once. */
static void fn_slow_recovery(struct stub *s, const struct req *rq, int n, struct answer *a)
{
    (void)s, (void)n;
    if (strcmp(rq->path, "/federation/state") == 0)
        answer_json(a, 200,
                    "{\"node\":\"n1\",\"role\":\"leader\",\"leader\":\"n1\",\"peers\":["
                    "{\"node\":\"n1\",\"http\":\"127.0.0.1:1\",\"self\":true}]}");
    else if (strcmp(rq->path, "/recovery") == 0)
        answer_json(a, 200,
                    "{\"enabled\":true,\"services\":[{\"name\":\"web\",\"state\":\"healthy\","
                    "\"restarts\":3,\"last_cause\":\"exited with status 1\",\"mttr\":{"
                    "\"count\":3,\"p50_ms\":83456,\"max_ms\":3723004}}]}");
}

/* The length of the first line of text that starts with prefix (-1: none),
 * and in *at where `within` ends in it (-1: nowhere). */
static long end_of_line(const char *text, const char *prefix, const char *within, long *at)
{
    for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        if (strncmp(l, prefix, strlen(prefix)) != 0)
            continue;
        const char *w = strstr(l, within), *nl = strchr(l, '\n');
        *at = w && (!nl || w < nl) ? (long)(w - l) + (long)strlen(within) : -1;
        return nl ? (long)(nl - l) : (long)strlen(l);
    }
    return -1;
}

static void test_recovery_columns_stay_aligned_for_an_mttr_over_a_minute(void **state)
{
    (void)state;
    struct stub *s = stub_start(fn_slow_recovery);
    struct run r = ctl(s, "recovery", NULL, NULL);
    EXPECT(r.code == 0 && strstr(r.out, "1m23s456ms"), r);
    long head_p50, row_p50;
    long head = end_of_line(r.out, "NODE ", "MTTR P50", &head_p50);
    long row = end_of_line(r.out, "n1 ", "1m23s456ms", &row_p50);
    EXPECT(head > 0 && row == head, r); /* MTTR MAX ends where its header does */
    EXPECT(head_p50 > 0 && row_p50 == head_p50, r);
    run_free(&r);
    stub_stop(s);
}

/* ---- JSON output ------------------------------------------------------ */

/* The injector's settings with the seeds' default probability. */
static void fn_chaos(struct stub *s, const struct req *rq, int n, struct answer *a)
{
    (void)s, (void)n;
    if (strcmp(rq->path, "/chaos") == 0)
        answer_json(a, 200,
                    "{\"settings\":{\"enabled\":true,\"dry_run\":false,\"interval_ms\":600000,"
                    "\"probability\":0.15,\"window\":\"always\",\"faults\":[\"kill_service\"],"
                    "\"max_duration_ms\":60000},\"stopped\":false,\"active\":null,"
                    "\"applied_here\":[],\"history\":[]}");
}

/* jansson writes a double with %.17g unless told: 0.15 would read
 * 0.14999999999999999. */
static void test_json_output_writes_a_probability_as_it_was_given(void **state)
{
    (void)state;
    struct stub *s = stub_start(fn_chaos);
    struct run r = ctl(s, "chaos", "status", "--json");
    EXPECT(r.code == 0 && strstr(r.out, "\"probability\": 0.15,"), r);
    EXPECT(!strstr(r.out, "0.1499"), r);
    run_free(&r);
    stub_stop(s);
}

static void fn_chaos_rare(struct stub *s, const struct req *rq, int n, struct answer *a)
{
    (void)s, (void)n;
    if (strcmp(rq->path, "/chaos") == 0)
        answer_json(a, 200,
                    "{\"settings\":{\"enabled\":true,\"dry_run\":false,\"interval_ms\":600000,"
                    "\"probability\":0.005,\"window\":\"always\",\"faults\":[\"kill_service\"],"
                    "\"max_duration_ms\":60000},\"stopped\":false,\"active\":null,"
                    "\"applied_here\":[],\"history\":[]}");
}

/* A rare fault's probability reads as set, not rounded to two places
 * (0.005 read 0.01). */
static void test_status_text_writes_a_small_probability_as_it_was_given(void **state)
{
    (void)state;
    struct stub *s = stub_start(fn_chaos_rare);
    struct run r = ctl(s, "chaos", "status", NULL);
    EXPECT(r.code == 0 && strstr(r.out, "probability 0.005,"), r);
    run_free(&r);
    stub_stop(s);
}

/* ---- addresses in messages -------------------------------------------- */

static void fn_events_not_an_array(struct stub *s, const struct req *rq, int n, struct answer *a)
{
    (void)s, (void)n, (void)rq;
    answer_json(a, 200, "{\"events\":[]}");
}

/* The endpoint that answered, not the whole --addr list. */
static void test_a_message_names_the_node_that_answered(void **state)
{
    (void)state;
    struct stub *s = stub_start(fn_events_not_an_array);
    char addr[64], want[96];
    snprintf(addr, sizeof addr, "127.0.0.1:%d,127.0.0.1:1", s->port);
    struct run r = {0};
    if (!h_ctl(NULL, -1, &r.code, &r.out, &r.err, "--addr", addr, "events", NULL))
        run_fail(&r, "chimeractl did not finish", __FILE__, __LINE__);
    snprintf(want, sizeof want, "node at 127.0.0.1:%d sent events that are not an array\n",
             s->port);
    EXPECT(r.code != 0 && strstr(r.err, want), r);
    run_free(&r);
    stub_stop(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_recovery_columns_stay_aligned_for_an_mttr_over_a_minute),
        cmocka_unit_test(test_json_output_writes_a_probability_as_it_was_given),
        cmocka_unit_test(test_status_text_writes_a_small_probability_as_it_was_given),
        cmocka_unit_test(test_a_message_names_the_node_that_answered),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
