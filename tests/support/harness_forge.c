/* Test harness: forged node-to-node messages. The cluster key is the only
 * secret the transport asks for (design.md, "Node-to-node transport"), and
 * the harness holds it, so a test can seal envelopes as any member and push
 * them into a node's inbox exactly as a peer does: NNG push0 to the pull0
 * socket the node listens on (node/net/transport.c). It can also take a stopped
 * member's place on its inbox address and read what the others send it.
 * See harness.h. */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/protocol/pipeline0/pull.h>
#include <nng/protocol/pipeline0/push.h>

#include "ledger/sign.h"
#include "node/base/envelope.h"

#define FORGE_RECV_MAX (4 * 1024 * 1024)
#define FORGE_SEND_TIMEOUT_MS 5000

struct h_forge {
    const struct h_cluster *c;
    uint8_t key[ENV_KEY_BYTES];
    uint64_t counter;
    nng_socket out[H_MAX_NODES];
    bool dialed[H_MAX_NODES];
    nng_socket in;
    bool listening;
};

/* Reads a file of exactly 64 hex digits (and an optional newline) into out. */
static int read_hex32(const char *path, uint8_t out[32])
{
    char *text = h_read_file(path);
    if (!text) {
        fprintf(stderr, "harness: cannot read %s\n", path);
        return -1;
    }
    size_t n = strlen(text);
    if (n > 0 && text[n - 1] == '\n')
        text[--n] = '\0';
    int rv = ledger_unhex(text, out, 32);
    free(text);
    if (rv != 0)
        fprintf(stderr, "harness: %s does not hold 64 hex digits\n", path);
    return rv;
}

struct h_forge *h_forge_open(const struct h_cluster *c)
{
    struct h_forge *f = calloc(1, sizeof(*f));
    if (!f)
        return NULL;
    f->c = c;
    f->counter = H_FORGE_COUNTER_BASE;
    if (read_hex32(c->key_file, f->key) != 0) {
        free(f);
        return NULL;
    }
    return f;
}

void h_forge_close(struct h_forge *f)
{
    if (!f)
        return;
    for (int i = 0; i < H_MAX_NODES; i++)
        if (f->dialed[i])
            nng_close(f->out[i]);
    if (f->listening)
        nng_close(f->in);
    memset(f->key, 0, sizeof(f->key));
    free(f);
}

static void inbox_url(const struct h_cluster *c, int i, char *url, size_t len)
{
    snprintf(url, len, "tcp://%s:%d", c->nodes[i].host, c->nodes[i].listen_port);
}

/* One push0 socket per target, dialed synchronously on first use and kept
 * open: closing a push socket may drop what it has not written yet. */
static int dial(struct h_forge *f, int i)
{
    if (f->dialed[i])
        return 0;
    char url[96];
    inbox_url(f->c, i, url, sizeof(url));
    int rv = nng_push0_open(&f->out[i]);
    if (rv != 0) {
        fprintf(stderr, "harness: push0: %s\n", nng_strerror(rv));
        return -1;
    }
    if ((rv = nng_socket_set_ms(f->out[i], NNG_OPT_SENDTIMEO, FORGE_SEND_TIMEOUT_MS)) != 0 ||
        (rv = nng_dial(f->out[i], url, NULL, 0)) != 0) {
        fprintf(stderr, "harness: cannot dial %s: %s\n", url, nng_strerror(rv));
        nng_close(f->out[i]);
        return -1;
    }
    f->dialed[i] = true;
    return 0;
}

int h_forge_send_counter(struct h_forge *f, int i, uint32_t type, const char *from,
                         uint64_t counter, const void *body, size_t len)
{
    if (i < 0 || i >= f->c->n || dial(f, i) != 0)
        return -1;
    uint8_t *wire;
    size_t wlen;
    int rv = env_seal(f->key, type, from, counter, body, len, &wire, &wlen);
    if (rv != ENV_OK) {
        fprintf(stderr, "harness: env_seal: %s\n", env_strerror((enum env_error)rv));
        return -1;
    }
    rv = nng_send(f->out[i], wire, wlen, 0);
    free(wire);
    if (rv != 0) {
        fprintf(stderr, "harness: send to %s: %s\n", f->c->nodes[i].id, nng_strerror(rv));
        return -1;
    }
    return 0;
}

int h_forge_send(struct h_forge *f, int i, uint32_t type, const char *from, const void *body,
                 size_t len)
{
    return h_forge_send_counter(f, i, type, from, ++f->counter, body, len);
}

struct listen_arg {
    struct h_forge *f;
    const char *url;
    int rv;
};

static bool try_listen(void *arg)
{
    struct listen_arg *a = arg;
    a->rv = nng_listen(a->f->in, a->url, NULL, 0);
    return a->rv == 0;
}

int h_forge_listen(struct h_forge *f, int i)
{
    if (f->listening || i < 0 || i >= f->c->n)
        return -1;
    char url[96];
    inbox_url(f->c, i, url, sizeof(url));
    int rv = nng_pull0_open(&f->in);
    if (rv == 0)
        rv = nng_socket_set_size(f->in, NNG_OPT_RECVMAXSZ, FORGE_RECV_MAX);
    if (rv != 0) {
        fprintf(stderr, "harness: pull0: %s\n", nng_strerror(rv));
        return -1;
    }
    /* The stopped node's port may take a moment to be free again. */
    struct listen_arg a = {.f = f, .url = url};
    if (!h_wait_until(try_listen, &a, h_timeout_ms())) {
        fprintf(stderr, "harness: cannot listen on %s: %s\n", url, nng_strerror(a.rv));
        nng_close(f->in);
        return -1;
    }
    f->listening = true;
    return 0;
}

int h_forge_recv(struct h_forge *f, int timeout_ms, struct env_msg *msg)
{
    if (!f->listening)
        return -1;
    uint64_t deadline = h_now_ns() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0) * 1000000u;
    for (;;) {
        uint64_t now = h_now_ns();
        if (now >= deadline || h_interrupted())
            return -1;
        int left = (int)((deadline - now) / 1000000u);
        if (nng_socket_set_ms(f->in, NNG_OPT_RECVTIMEO, left > 0 ? left : 1) != 0)
            return -1;
        void *buf;
        size_t len;
        int rv = nng_recv(f->in, &buf, &len, NNG_FLAG_ALLOC);
        if (rv == NNG_ETIMEDOUT)
            return -1;
        if (rv != 0) {
            fprintf(stderr, "harness: recv: %s\n", nng_strerror(rv));
            return -1;
        }
        enum env_error err = env_open(f->key, buf, len, msg);
        nng_free(buf, len);
        if (err == ENV_OK)
            return 0;
        fprintf(stderr, "harness: a message that does not open (%s); skipped\n", env_strerror(err));
    }
}

int h_node_key(const struct h_cluster *c, int i, struct ledger_key *key)
{
    char path[H_PATH_MAX + 16];
    uint8_t seed[LEDGER_SEED_BYTES];
    snprintf(path, sizeof(path), "%s/%s", c->nodes[i].data, LEDGER_KEY_FILE);
    if (read_hex32(path, seed) != 0)
        return -1;
    ledger_key_from_seed(seed, key);
    memset(seed, 0, sizeof(seed));
    return 0;
}
