/* Helpers shared by the test_rollout*.c programs (each its own
 * executable, so these are static): a release, the shell's part of
 * committing what pl_tick decides, and nodes' reports. */
#ifndef CHIMERA_TEST_ROLLOUT_SUPPORT_H
#define CHIMERA_TEST_ROLLOUT_SUPPORT_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "pipeline/core/rollout.h"

#define SEC 1000u

static const char nodes3[3][PL_ID_MAX] = {"n1", "n2", "n3"};

static inline struct pl_release release(const char *version, uint32_t max_parallel,
                                        bool auto_revert)
{
    struct pl_release r = {.policy = {.max_parallel = max_parallel,
                                      .min_healthy_time_ms = 2 * SEC,
                                      .healthy_deadline_ms = 10 * SEC,
                                      .progress_deadline_ms = 60 * SEC,
                                      .auto_revert = auto_revert}};
    snprintf(r.name, sizeof(r.name), "demo");
    snprintf(r.version, sizeof(r.version), "%s", version);
    memset(r.digest, version[0], sizeof(r.digest));
    return r;
}

/* Commits what pl_tick decides at now; returns its kind (0: nothing). */
static inline enum pl_record_kind step(struct pl_state *s, uint64_t now, struct pl_record *got)
{
    struct pl_record r;
    if (!pl_tick(s, now, &r))
        return 0;
    assert_int_equal(pl_apply(s, &r), 0);
    if (got)
        *got = r;
    return r.kind;
}

static inline void begin(struct pl_state *s, const char *id, const struct pl_release *rel,
                         uint64_t now)
{
    struct pl_record r;
    char why[256];
    assert_int_equal(pl_begin(s, id, rel, now, &r, why, sizeof(why)), 0);
    assert_int_equal(pl_apply(s, &r), 0);
}

static inline void healthy(struct pl_state *s, const char *node, const char *dep, uint64_t since)
{
    struct pl_report r = {.health = PL_H_HEALTHY,
                          .healthy_since_ms = since,
                          .at_ms = since,
                          .gen = pl_desired_gen(s, node)};
    snprintf(r.deployment, sizeof(r.deployment), "%s", dep);
    pl_report(s, node, &r);
}

static inline void reports(struct pl_state *s, const char *node, const char *dep, enum pl_health h,
                           const char *detail)
{
    struct pl_report r = {.health = h, .gen = pl_desired_gen(s, node)};
    snprintf(r.deployment, sizeof(r.deployment), "%s", dep);
    snprintf(r.detail, sizeof(r.detail), "%s", detail);
    pl_report(s, node, &r);
}

/* Takes dep from RELEASE to STABLE with every node healthy at once;
 * returns the time it became stable. */
static inline uint64_t roll_to_stable(struct pl_state *s, const char *dep,
                                      const struct pl_release *rel, uint64_t t)
{
    begin(s, dep, rel, t);
    for (int guard = 0; guard < 10; guard++) {
        struct pl_record r;
        enum pl_record_kind k = step(s, t, &r);
        if (k == PL_REC_STABLE)
            return t;
        if (k == PL_REC_WAVE)
            for (size_t i = 0; i < r.nnodes; i++)
                healthy(s, r.nodes[i], dep, t);
        t += rel->policy.min_healthy_time_ms;
    }
    fail_msg("%s never became stable", dep);
    return 0;
}

/* Steps the active deployment or rollback to its end, every member it
 * reaches healthy at once on the release `runs`; returns the time. */
static inline uint64_t settle(struct pl_state *s, const char *runs, uint64_t t)
{
    for (int guard = 0; guard < 10 && s->active >= 0; guard++) {
        struct pl_record r;
        if (step(s, t, &r) == PL_REC_WAVE)
            for (size_t i = 0; i < r.nnodes; i++)
                healthy(s, r.nodes[i], runs, t);
        t += 2 * SEC;
    }
    assert_int_equal(s->active, -1);
    return t;
}

/* d1 (version 1, max_parallel) begun on the three members, its first
 * wave committed at 0. */
static inline void d1_first_wave(struct pl_state *s, uint32_t max_parallel, bool auto_revert)
{
    pl_init(s, nodes3, 3);
    struct pl_release v1 = release("1", max_parallel, auto_revert);
    begin(s, "d1", &v1, 0);
    assert_int_equal(step(s, 0, NULL), PL_REC_WAVE);
}

/* d1 (version 1) stable on the three members, all at once; the time. */
static inline uint64_t d1_stable(struct pl_state *s)
{
    pl_init(s, nodes3, 3);
    struct pl_release v1 = release("1", 3, true);
    return roll_to_stable(s, "d1", &v1, 0);
}

/* d1 (version 1) stable on every node, then d2 (version 2) in its first
 * wave with n1 reporting h for it; returns the time. */
static inline uint64_t stable_then_d2_reports(struct pl_state *s, bool auto_revert,
                                              enum pl_health h, const char *detail)
{
    pl_init(s, nodes3, 3);
    struct pl_release v1 = release("1", 1, true), v2 = release("2", 1, auto_revert);
    uint64_t t = roll_to_stable(s, "d1", &v1, 0);
    begin(s, "d2", &v2, t);
    assert_int_equal(step(s, t, NULL), PL_REC_WAVE);
    reports(s, "n1", "d2", h, detail);
    return t;
}

/* stable_then_d2_reports with n1's d2 crashed, then the failure and the
 * automatic rollback committed at the returned time; the rollback's
 * record in *rb unless rb is NULL. */
static inline uint64_t d2_crashed_and_rolled_back(struct pl_state *s, struct pl_record *rb)
{
    uint64_t t = stable_then_d2_reports(s, true, PL_H_CRASHED, "");
    assert_int_equal(step(s, t, NULL), PL_REC_FAILED);
    assert_int_equal(step(s, t, rb), PL_REC_ROLLBACK);
    return t;
}

/* d1 (version 1, policy max_parallel mp1) then d2 (version 2, every node
 * at once) stable; returns the time. */
static inline uint64_t two_stable(struct pl_state *s, uint32_t mp1)
{
    pl_init(s, nodes3, 3);
    struct pl_release v1 = release("1", mp1, true), v2 = release("2", 3, true);
    uint64_t t = roll_to_stable(s, "d1", &v1, 0);
    return roll_to_stable(s, "d2", &v2, t);
}

/* A manual rollback (to version `to`, NULL: the previous stable release)
 * accepted at t and committed; its record in *r. */
static inline void rollback(struct pl_state *s, const char *id, const char *to, uint64_t t,
                            struct pl_record *r)
{
    char why[256];
    assert_int_equal(pl_rollback(s, id, to, t, r, why, sizeof(why)), 0);
    assert_int_equal(pl_apply(s, r), 0);
}

/* Begins id (release v) at t on every member at once; n1 reports it
 * crashed and it fails. */
static inline void begin_and_fail(struct pl_state *s, const char *id, const struct pl_release *v,
                                  uint64_t t)
{
    begin(s, id, v, t);
    assert_int_equal(step(s, t, NULL), PL_REC_WAVE);
    reports(s, "n1", id, PL_H_CRASHED, "");
    assert_int_equal(step(s, t, NULL), PL_REC_FAILED);
}

#endif
