/* The one registry of the messages nodes send each other (msg.c): for each
 * envelope type and each ENV_LEDGER kind (their numbers: base/envelope.h),
 * its name, the shape its body must have and the layer that handles it.
 * A body of another shape, or a kind nobody handles, is dropped and counted
 * here, in one place. */
#ifndef CHIMERA_NODE_MSG_H
#define CHIMERA_NODE_MSG_H

#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>

struct node_base;
struct node_raft;
struct node_witness;
struct node_deploy;
struct watch;

/* The layers the registry hands messages to; node.c fills it. */
struct node_msg {
    struct node_base *base;
    struct node_raft *raft;
    struct node_witness *wit;
    struct node_deploy *deploy;
    struct watch *watch; /* the recovery watchtower (chaos/watch.h) */
};

/* An envelope of this type from member idx was opened and is not a replay. */
void node_msg_dispatch(struct node_msg *m, size_t from, uint32_t type, const msgpack_object *body);

/* Sends ENV_HELLO (liveness, boot epoch, HTTP address and public key) to
 * every member it is due to (base/peers.h: peers_hello_due), on node.c's
 * tick; Raft's heartbeat is another message (base/envelope.h). */
void node_msg_send_hello(struct node_msg *m);

/* The name of an envelope type ("unknown" for none): metrics labels. */
const char *node_msg_type_name(uint32_t type);

/* The name of an ENV_LEDGER kind ("unknown" for none). */
const char *node_msg_kind_name(uint64_t kind);

#endif
