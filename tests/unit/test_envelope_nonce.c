/* env_seal's nonces: a prefix drawn once per process followed by the
 * counter, never the same nonce twice under the cluster key (envelope.c
 * says why). That no getrandom runs per message is shown with strace, not
 * here: the figure is in the change's report. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "node/base/envelope.h"

static const uint8_t key[ENV_KEY_BYTES] = "0123456789abcdef0123456789abcdef";

/* Seals an empty body with this counter; returns the nonce it carries. */
static void seal_nonce(uint64_t counter, uint8_t nonce[ENV_NONCE_BYTES])
{
    uint8_t *wire;
    size_t n;
    assert_int_equal(env_seal(key, ENV_HELLO, "node-a", counter, "\xc0", 1, &wire, &n), ENV_OK);
    memcpy(nonce, wire, ENV_NONCE_BYTES);
    /* and it still opens, the counter intact */
    struct env_msg msg;
    assert_int_equal(env_open(key, wire, n, &msg), ENV_OK);
    assert_true(msg.counter == counter);
    env_msg_free(&msg);
    free(wire);
}

static uint64_t nonce_counter(const uint8_t nonce[ENV_NONCE_BYTES])
{
    uint64_t c = 0;
    for (int i = 0; i < 8; i++)
        c = c << 8 | nonce[ENV_NONCE_PREFIX_BYTES + i];
    return c;
}

static void test_nonce_is_prefix_then_counter_big_endian(void **state)
{
    (void)state;
    uint8_t prefix[ENV_NONCE_PREFIX_BYTES], nonce[ENV_NONCE_BYTES];
    for (size_t i = 0; i < sizeof(prefix); i++)
        prefix[i] = (uint8_t)(0xa0 + i);
    env_nonce(nonce, prefix, UINT64_C(0x0102030405060708));
    assert_memory_equal(nonce, prefix, ENV_NONCE_PREFIX_BYTES);
    static const uint8_t tail[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    assert_memory_equal(nonce + ENV_NONCE_PREFIX_BYTES, tail, 8);
}

static void test_consecutive_counters_share_the_prefix_and_differ(void **state)
{
    (void)state;
    uint64_t c = UINT64_C(7) << 32;
    uint8_t a[ENV_NONCE_BYTES], b[ENV_NONCE_BYTES];
    seal_nonce(c, a);
    seal_nonce(c + 1, b);
    assert_memory_not_equal(a, b, ENV_NONCE_BYTES);
    assert_memory_equal(a, b, ENV_NONCE_PREFIX_BYTES); /* drawn once, not per message */
}

static void test_nonce_carries_the_counter(void **state)
{
    (void)state;
    uint64_t c = (UINT64_C(9) << 32) | 12345;
    uint8_t n[ENV_NONCE_BYTES];
    seal_nonce(c, n);
    assert_true(nonce_counter(n) == c);
}

static void test_counter_sealed_again_gets_a_new_prefix(void **state)
{
    (void)state;
    uint64_t c = UINT64_C(11) << 32;
    uint8_t a[ENV_NONCE_BYTES], b[ENV_NONCE_BYTES], d[ENV_NONCE_BYTES];
    seal_nonce(c, a);
    seal_nonce(c, b); /* the same counter twice: never the same nonce */
    assert_memory_not_equal(a, b, ENV_NONCE_PREFIX_BYTES);
    seal_nonce(c - 1, d); /* an older one too */
    assert_memory_not_equal(b, d, ENV_NONCE_PREFIX_BYTES);
    assert_memory_not_equal(a, d, ENV_NONCE_PREFIX_BYTES);
}

/* Another process (a restart, or a fork) draws its own prefix, even when it
 * goes on with the counters this one was using. */
static void test_two_boots_differ_in_prefix(void **state)
{
    (void)state;
    uint64_t c = UINT64_C(13) << 32;
    uint8_t here[ENV_NONCE_BYTES], there[ENV_NONCE_BYTES];
    seal_nonce(c, here);
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        uint8_t n[ENV_NONCE_BYTES];
        uint8_t *wire;
        size_t len;
        if (env_seal(key, ENV_HELLO, "node-a", c + 1, "\xc0", 1, &wire, &len) != ENV_OK)
            _exit(1);
        memcpy(n, wire, sizeof(n));
        _exit(write(fds[1], n, sizeof(n)) == (ssize_t)sizeof(n) ? 0 : 1);
    }
    close(fds[1]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_equal(read(fds[0], there, sizeof(there)), (ssize_t)sizeof(there));
    close(fds[0]);
    assert_true(nonce_counter(there) == c + 1);
    assert_memory_not_equal(here, there, ENV_NONCE_PREFIX_BYTES);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nonce_is_prefix_then_counter_big_endian),
        cmocka_unit_test(test_consecutive_counters_share_the_prefix_and_differ),
        cmocka_unit_test(test_nonce_carries_the_counter),
        cmocka_unit_test(test_counter_sealed_again_gets_a_new_prefix),
        cmocka_unit_test(test_two_boots_differ_in_prefix),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
