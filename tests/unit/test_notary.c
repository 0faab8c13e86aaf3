/* The notary (witness/notary.h): when a leader checkpoints and asks again
 * for cosignatures, what a witness does with a checkpoint it receives,
 * when it cosigns, and when a leader counts a checkpoint notarized. The
 * tests play the shell: checkpoints are real encoded ones, signatures
 * carry only their signer (the store checks them, not this core), and the
 * loop time is the tests' own. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "witness/notary.h"

#define HB 50u

static struct ledger_sig sig(const char *signer)
{
    struct ledger_sig s;
    memset(&s, 0, sizeof(s));
    snprintf(s.signer, sizeof(s.signer), "%s", signer);
    return s;
}

/* A checkpoint of index in federation fed, with its head hash made of
 * byte h, signed by the signers given (up to three, NULL-ended). */
static struct ledger_signed_checkpoint checkpoint(const char *fed, uint64_t index, uint8_t h,
                                                  const char *a, const char *b, const char *c)
{
    struct ledger_signed_checkpoint out;
    memset(&out, 0, sizeof(out));
    out.cp = (struct ledger_checkpoint){.index = index, .term = 1};
    snprintf(out.cp.origin, sizeof(out.cp.origin), "%s", fed);
    memset(out.cp.head_hash, h, sizeof(out.cp.head_hash));
    assert_int_equal(ledger_checkpoint_encode(&out.cp, out.bytes, &out.len), LEDGER_OK);
    const char *who[] = {a, b, c};
    for (size_t i = 0; i < 3 && who[i]; i++)
        out.sigs[out.nsigs++] = sig(who[i]);
    return out;
}

static struct notary leader(void)
{
    struct notary nt;
    notary_init(&nt, HB);
    return nt;
}

/* ---- the leader -------------------------------------------------------- */

static void test_a_leader_checkpoints_only_a_committed_index_its_log_holds(void **state)
{
    (void)state;
    struct notary nt = leader();
    assert_false(notary_due(&nt, 0, 0, 5));
    assert_false(notary_due(&nt, 0, 6, 5));
    assert_true(notary_due(&nt, 0, 5, 5));
}

static void test_a_leader_checkpoints_at_most_once_per_heartbeat(void **state)
{
    (void)state;
    struct notary nt = leader();
    notary_checkpointed(&nt, 1000);
    assert_false(notary_due(&nt, 1000 + HB - 1, 7, 7));
    assert_true(notary_due(&nt, 1000 + HB, 7, 7));
}

/* Not in the turn it won: a checkpoint and its cosignatures are synced on
 * the loop, where the election entry and the writes held for a hand-over
 * wait for them. */
static void test_a_new_leader_checkpoints_a_heartbeat_after_its_election(void **state)
{
    (void)state;
    struct notary nt = leader();
    notary_elected(&nt, 1000);
    assert_false(notary_due(&nt, 1000, 7, 7));
    assert_false(notary_due(&nt, 1000 + HB - 1, 7, 7));
    assert_true(notary_due(&nt, 1000 + HB, 7, 7));
}

static void test_a_checkpoint_the_store_refused_is_tried_again_ten_heartbeats_later(void **state)
{
    (void)state;
    struct notary nt = leader();
    notary_checkpoint_refused(&nt, 1000);
    assert_false(notary_due(&nt, 1000 + 10 * HB - 1, 7, 7));
    assert_true(notary_due(&nt, 1000 + 10 * HB, 7, 7));
}

static void test_a_leader_checkpoints_a_commit_index_its_latest_checkpoint_is_behind(void **state)
{
    (void)state;
    struct notary nt = leader();
    struct ledger_signed_checkpoint cp = checkpoint("fed", 4, 1, "n1", NULL, NULL);
    assert_int_equal(notary_tick(&nt, 0, 5, &cp, "n1"), NOTARY_CHECKPOINT);
    assert_int_equal(notary_tick(&nt, 0, 5, NULL, "n1"), NOTARY_CHECKPOINT);
}

static void test_a_leader_asks_again_for_missing_cosignatures_every_four_heartbeats(void **state)
{
    (void)state;
    struct notary nt = leader();
    struct ledger_signed_checkpoint cp = checkpoint("fed", 5, 1, "n1", NULL, NULL);
    assert_int_equal(notary_tick(&nt, 1000, 5, &cp, "n1"), NOTARY_RESEND);
    assert_int_equal(notary_tick(&nt, 1000 + 4 * HB - 1, 5, &cp, "n1"), NOTARY_WAIT);
    assert_int_equal(notary_tick(&nt, 1000 + 4 * HB, 5, &cp, "n1"), NOTARY_RESEND);
}

static void test_a_leader_does_not_relay_a_checkpoint_another_node_signed_first(void **state)
{
    (void)state;
    struct notary nt = leader();
    struct ledger_signed_checkpoint cp = checkpoint("fed", 5, 1, "n2", "n1", NULL);
    assert_int_equal(notary_tick(&nt, 1000, 5, &cp, "n1"), NOTARY_WAIT);
}

static void test_the_members_asked_again_are_those_whose_cosignature_is_missing(void **state)
{
    (void)state;
    struct ledger_signed_checkpoint cp = checkpoint("fed", 5, 1, "n1", "n3", NULL);
    assert_false(notary_lacks(&cp, "n1"));
    assert_true(notary_lacks(&cp, "n2"));
    assert_false(notary_lacks(&cp, "n3"));
}

/* ---- a witness receives a checkpoint ----------------------------------- */

/* This witness's log holds the entry a checkpoint names, or not. */
static bool holds_it(void *ctx, const struct ledger_checkpoint *cp)
{
    (void)ctx;
    (void)cp;
    return true;
}

static bool holds_not(void *ctx, const struct ledger_checkpoint *cp)
{
    (void)ctx;
    (void)cp;
    return false;
}

static void test_a_checkpoint_its_sender_did_not_sign_first_is_malformed(void **state)
{
    (void)state;
    struct ledger_signed_checkpoint in = checkpoint("fed", 5, 1, "n2", "n1", NULL);
    struct ledger_checkpoint cp;
    assert_int_equal(notary_offer("n1", "fed", in.bytes, in.len, in.sigs, in.nsigs, &cp),
                     NOTARY_OFFER_MALFORMED);
    assert_int_equal(notary_offer("n1", "fed", in.bytes, in.len, in.sigs, 0, &cp),
                     NOTARY_OFFER_MALFORMED);
}

static void test_a_checkpoint_that_does_not_decode_is_malformed(void **state)
{
    (void)state;
    struct ledger_signed_checkpoint in = checkpoint("fed", 5, 1, "n1", NULL, NULL);
    struct ledger_checkpoint cp;
    assert_int_equal(notary_offer("n1", "fed", in.bytes, in.len - 1, in.sigs, in.nsigs, &cp),
                     NOTARY_OFFER_MALFORMED);
}

static void test_a_checkpoint_of_another_federation_is_refused(void **state)
{
    (void)state;
    struct ledger_signed_checkpoint in = checkpoint("other", 5, 1, "n1", NULL, NULL);
    struct ledger_checkpoint cp;
    assert_int_equal(notary_offer("n1", "fed", in.bytes, in.len, in.sigs, in.nsigs, &cp),
                     NOTARY_OFFER_FOREIGN);
    in = checkpoint("fed", 5, 1, "n1", NULL, NULL);
    assert_int_equal(notary_offer("n1", "fed", in.bytes, in.len, in.sigs, in.nsigs, &cp),
                     NOTARY_OFFER_VALID);
    assert_int_equal(cp.index, 5);
}

static void test_the_checkpoint_a_witness_holds_already_is_merged(void **state)
{
    (void)state;
    struct ledger_signed_checkpoint mine = checkpoint("fed", 5, 1, "n1", "n2", NULL);
    struct ledger_signed_checkpoint in = checkpoint("fed", 5, 1, "n1", "n3", NULL);
    assert_int_equal(notary_take(&mine, in.bytes, in.len, &in.cp, holds_not, NULL),
                     NOTARY_TAKE_MERGE);
}

static void test_a_witness_ignores_a_checkpoint_of_an_entry_it_does_not_hold(void **state)
{
    (void)state;
    struct ledger_signed_checkpoint mine = checkpoint("fed", 3, 1, "n1", "n2", NULL);
    struct ledger_signed_checkpoint in = checkpoint("fed", 5, 2, "n1", NULL, NULL);
    assert_int_equal(notary_take(&mine, in.bytes, in.len, &in.cp, holds_not, NULL),
                     NOTARY_TAKE_IGNORE);
    assert_int_equal(notary_take(NULL, in.bytes, in.len, &in.cp, holds_not, NULL),
                     NOTARY_TAKE_IGNORE);
}

static void test_a_witness_stores_a_checkpoint_of_an_entry_it_holds(void **state)
{
    (void)state;
    struct ledger_signed_checkpoint mine = checkpoint("fed", 3, 1, "n1", "n2", NULL);
    struct ledger_signed_checkpoint in = checkpoint("fed", 5, 2, "n1", NULL, NULL);
    assert_int_equal(notary_take(&mine, in.bytes, in.len, &in.cp, holds_it, NULL),
                     NOTARY_TAKE_STORE);
    assert_int_equal(notary_take(NULL, in.bytes, in.len, &in.cp, holds_it, NULL),
                     NOTARY_TAKE_STORE);
}

static void test_another_checkpoint_at_the_index_of_its_own_goes_to_the_store(void **state)
{
    (void)state;
    /* The store tells equivocation: another head hash at that index. */
    struct ledger_signed_checkpoint mine = checkpoint("fed", 5, 1, "n1", "n2", NULL);
    struct ledger_signed_checkpoint in = checkpoint("fed", 5, 9, "n3", NULL, NULL);
    assert_int_equal(notary_take(&mine, in.bytes, in.len, &in.cp, holds_not, NULL),
                     NOTARY_TAKE_STORE);
}

static bool holds_counted(void *ctx, const struct ledger_checkpoint *cp)
{
    (void)cp;
    ++*(int *)ctx;
    return true;
}

static void test_the_witness_reads_its_log_only_for_a_checkpoint_it_does_not_hold(void **state)
{
    (void)state;
    struct ledger_signed_checkpoint mine = checkpoint("fed", 5, 1, "n1", "n2", NULL);
    struct ledger_signed_checkpoint same = checkpoint("fed", 5, 1, "n1", "n3", NULL);
    struct ledger_signed_checkpoint next = checkpoint("fed", 6, 1, "n1", NULL, NULL);
    int reads = 0;
    notary_take(&mine, same.bytes, same.len, &same.cp, holds_counted, &reads);
    assert_int_equal(reads, 0);
    notary_take(&mine, next.bytes, next.len, &next.cp, holds_counted, &reads);
    assert_int_equal(reads, 1);
}

static void test_a_witness_sends_its_cosignature_again_when_the_sender_lacks_it(void **state)
{
    (void)state;
    struct ledger_signed_checkpoint mine = checkpoint("fed", 5, 1, "n1", "n2", NULL);
    struct ledger_signed_checkpoint in = checkpoint("fed", 5, 1, "n1", NULL, NULL);
    const struct ledger_sig *again = notary_own_again(&mine, in.sigs, in.nsigs, "n2");
    assert_ptr_equal(again, &mine.sigs[1]);
    in = checkpoint("fed", 5, 1, "n1", "n2", NULL);
    assert_null(notary_own_again(&mine, in.sigs, in.nsigs, "n2"));
    assert_null(notary_own_again(&mine, in.sigs, in.nsigs, "n3"));
}

static void test_what_the_store_answers_says_what_a_witness_does_next(void **state)
{
    (void)state;
    assert_int_equal(notary_stored(LEDGER_OK), NOTARY_STORED_KEPT);
    assert_int_equal(notary_stored(LEDGER_EEQUIVOCATION), NOTARY_STORED_EQUIVOCATION);
    assert_int_equal(notary_stored(LEDGER_EEXIST), NOTARY_STORED_DUPLICATE);
    assert_int_equal(notary_stored(LEDGER_EBADSIG), NOTARY_STORED_REFUSED);
    assert_int_equal(notary_stored(LEDGER_EKEY), NOTARY_STORED_REFUSED);
}

static void test_a_witness_cosigns_when_its_key_is_recorded_and_it_did_not_sign_yet(void **state)
{
    (void)state;
    struct ledger_signed_checkpoint in = checkpoint("fed", 5, 1, "n1", "n3", NULL);
    assert_true(notary_cosigns(true, in.sigs, in.nsigs, "n2"));
    assert_false(notary_cosigns(false, in.sigs, in.nsigs, "n2"));
    assert_false(notary_cosigns(true, in.sigs, in.nsigs, "n3"));
}

/* ---- the leader receives a cosignature ---------------------------------- */

static void test_a_cosignature_not_signed_by_its_sender_is_malformed(void **state)
{
    (void)state;
    struct ledger_signed_checkpoint mine = checkpoint("fed", 5, 1, "n1", NULL, NULL);
    struct ledger_sig s = sig("n3");
    assert_int_equal(notary_cosign("n2", &s, &mine, mine.bytes, mine.len), NOTARY_COSIGN_MALFORMED);
}

static void test_a_cosignature_of_another_checkpoint_or_a_repeat_is_stale(void **state)
{
    (void)state;
    struct ledger_signed_checkpoint mine = checkpoint("fed", 6, 1, "n1", "n3", NULL);
    struct ledger_signed_checkpoint old = checkpoint("fed", 5, 1, "n1", NULL, NULL);
    struct ledger_sig s2 = sig("n2"), s3 = sig("n3");
    assert_int_equal(notary_cosign("n2", &s2, &mine, old.bytes, old.len), NOTARY_COSIGN_STALE);
    assert_int_equal(notary_cosign("n2", &s2, NULL, mine.bytes, mine.len), NOTARY_COSIGN_STALE);
    assert_int_equal(notary_cosign("n3", &s3, &mine, mine.bytes, mine.len), NOTARY_COSIGN_STALE);
}

static void test_a_new_cosignature_of_the_latest_checkpoint_is_added(void **state)
{
    (void)state;
    struct ledger_signed_checkpoint mine = checkpoint("fed", 6, 1, "n1", "n3", NULL);
    struct ledger_sig s = sig("n2");
    assert_int_equal(notary_cosign("n2", &s, &mine, mine.bytes, mine.len), NOTARY_COSIGN_ADD);
}

static void test_a_checkpoint_is_counted_notarized_once_and_a_leader_sends_it_to_all(void **state)
{
    (void)state;
    assert_int_equal(notary_tally(false, false, true), 0);
    assert_int_equal(notary_tally(false, true, true), NOTARY_TALLY_COUNT | NOTARY_TALLY_BROADCAST);
    assert_int_equal(notary_tally(false, true, false), NOTARY_TALLY_COUNT);
    assert_int_equal(notary_tally(true, true, true), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_leader_checkpoints_only_a_committed_index_its_log_holds),
        cmocka_unit_test(test_a_leader_checkpoints_at_most_once_per_heartbeat),
        cmocka_unit_test(test_a_new_leader_checkpoints_a_heartbeat_after_its_election),
        cmocka_unit_test(test_a_checkpoint_the_store_refused_is_tried_again_ten_heartbeats_later),
        cmocka_unit_test(test_a_leader_checkpoints_a_commit_index_its_latest_checkpoint_is_behind),
        cmocka_unit_test(test_a_leader_asks_again_for_missing_cosignatures_every_four_heartbeats),
        cmocka_unit_test(test_a_leader_does_not_relay_a_checkpoint_another_node_signed_first),
        cmocka_unit_test(test_the_members_asked_again_are_those_whose_cosignature_is_missing),
        cmocka_unit_test(test_a_checkpoint_its_sender_did_not_sign_first_is_malformed),
        cmocka_unit_test(test_a_checkpoint_that_does_not_decode_is_malformed),
        cmocka_unit_test(test_a_checkpoint_of_another_federation_is_refused),
        cmocka_unit_test(test_the_checkpoint_a_witness_holds_already_is_merged),
        cmocka_unit_test(test_a_witness_ignores_a_checkpoint_of_an_entry_it_does_not_hold),
        cmocka_unit_test(test_a_witness_stores_a_checkpoint_of_an_entry_it_holds),
        cmocka_unit_test(test_another_checkpoint_at_the_index_of_its_own_goes_to_the_store),
        cmocka_unit_test(test_the_witness_reads_its_log_only_for_a_checkpoint_it_does_not_hold),
        cmocka_unit_test(test_a_witness_sends_its_cosignature_again_when_the_sender_lacks_it),
        cmocka_unit_test(test_what_the_store_answers_says_what_a_witness_does_next),
        cmocka_unit_test(test_a_witness_cosigns_when_its_key_is_recorded_and_it_did_not_sign_yet),
        cmocka_unit_test(test_a_cosignature_not_signed_by_its_sender_is_malformed),
        cmocka_unit_test(test_a_cosignature_of_another_checkpoint_or_a_repeat_is_stale),
        cmocka_unit_test(test_a_new_cosignature_of_the_latest_checkpoint_is_added),
        cmocka_unit_test(test_a_checkpoint_is_counted_notarized_once_and_a_leader_sends_it_to_all),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
