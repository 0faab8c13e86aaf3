/* Probe: the simulate stage's facts about one node (their type and JSON
 * form: pipeline/core/probe_facts.h), and the heal stage's actions on it.
 * Shell code: probe_release and probe_heal look at (and probe_heal changes)
 * this machine; they block, briefly (stat, access, a bind on 127.0.0.1 and
 * close, mkdir), so they may run on the loop. The pure core
 * (pipeline/core/certify.h) turns the facts into issues. */
#ifndef CHIMERA_PIPELINE_PROBE_H
#define CHIMERA_PIPELINE_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pipeline/core/env_file.h"
#include "pipeline/core/manifest.h"
#include "pipeline/core/probe_facts.h"

/* Gathers the facts of every service of m on this machine into *out (zeroed
 * first; answered = true). node_id is ${NODE}. Fixed and assigned ports are
 * held until every service is probed, so two auto services get different
 * ports, then released. Returns 0, or -1 with out->error set when m or
 * node_id is unusable (then answered is false). */
int probe_release(const struct manifest *m, const char *node_id, struct probe_facts *out);

/* Reads and parses the env file of service s (pipeline/core/env_file.h), its
 * path expanded with v, the way the node does when it starts the service: a
 * regular file this process may read, at most ENVFILE_MAX_BYTES. A service
 * without one gets an empty *out. Returns 0 and *out (envfile_free it), or
 * -1 with one line in err naming the file and, for a parse error, the line,
 * e.g. "env_file /etc/web.env: line 3: unterminated double quote"; never a
 * value. */
int probe_env_file_read(const struct manifest_service *s, const struct manifest_vars *v,
                        struct envfile *out, char *err, size_t errlen);

/* A manifest's "user" resolved on this machine. */
struct probe_user {
    uint32_t uid, gid;
    bool named;                /* found in the user database: name and home are its */
    char name[64];             /* "" when not named */
    char home[PROBE_PATH_MAX]; /* "" when not named */
};

/* Resolves spec (a user name, "UID" or "UID:GID"; manifest.h) with the
 * user database: a name gives its uid, primary gid and home; "UID" must have
 * an entry (for its group); "UID:GID" is taken as given (an entry, when there
 * is one, adds name and home). Returns 0, or -1 with one line in err, e.g.
 * "user \"web\" does not exist on this node". */
int probe_user_resolve(const char *spec, struct probe_user *out, char *err, size_t errlen);

/* A port free on 127.0.0.1 now, for "port": "auto" (0 when none could be
 * had). The node assigns it when it starts the service. */
uint16_t probe_free_port(void);

/* A fixed port found in use is marked port_own when it is one of the ports
 * (n of them) the release this node runs now listens on: the rollout stops
 * that release before starting the new one. The probe cannot tell by itself. */
void probe_mark_own_ports(struct probe_facts *f, const uint16_t *ports, size_t n);

/* Heal actions and their results are the core's (pipeline/core/certify.h). */
struct cert_heal_action;
struct cert_heal_result;

/* Performs the actions addressed to this machine (the caller passes only
 * this node's) and fills results[i] for actions[i]:
 *   CERT_HEAL_CREATE_DIR  mkdir -p the service's working_dir, mode 0755
 *   CERT_HEAL_REPROBE     nothing to do here: the re-probe picks a new port
 * Returns the number of actions that failed (0: all done). */
int probe_heal(const struct manifest *m, const struct cert_heal_action *actions, size_t n,
               struct cert_heal_result *results);

#endif
