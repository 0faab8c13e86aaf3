/* Probe: the simulate stage's facts about one node, and the heal stage's
 * actions on it. Shell code: probe_release and probe_heal look at (and
 * probe_heal changes) this machine; they block, briefly (stat, access, a
 * bind on 127.0.0.1 and close, mkdir), so they may run on the loop.
 *
 * Facts are plain data and judge nothing: the pure core (pipeline/certify.h)
 * turns them into issues. They travel between nodes (a follower probes, the
 * leader judges), so they have a JSON form:
 *   {"node": "n1", "answered": true, "error": "",
 *    "services": [{"name": "web",
 *                  "command": {"found": true, "executable": true, "path": "/usr/bin/x"},
 *                  "working_dir": {"set": true, "exists": false, "is_dir": false,
 *                                  "creatable": true},
 *                  "port": {"kind": "auto", "port": 41234, "free": true, "own": false},
 *                  "health": {"set": true, "ok": true, "url": "http://...", "error": ""},
 *                  "env": {"ok": true, "error": ""}, "args": {"ok": true, "error": ""},
 *                  "env_file": {"set": true, "ok": false,
 *                               "error": "env_file /etc/web.env: line 3: ..."},
 *                  "user": {"set": true, "root": true, "ok": true, "error": ""}}]}
 * Decoding is strict: every key required, no unknown key, right types,
 * strings that fit; the error names the field ("services[0].port.port"). */
#ifndef CHIMERA_PIPELINE_PROBE_H
#define CHIMERA_PIPELINE_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "pipeline/env_file.h"
#include "pipeline/manifest.h"

#define PROBE_PATH_MAX 1024  /* a resolved command path (+NUL); longer ones are left "" */
#define PROBE_URL_MAX 1024   /* an expanded health URL (+NUL) */
#define PROBE_DETAIL_MAX 192 /* one line of explanation (+NUL) */

struct probe_service {
    char name[MANIFEST_ID_MAX];
    /* command: absolute, or looked up in the node's PATH (like execvp) */
    bool command_found;                /* a file of that name exists */
    bool command_executable;           /* ... and it is a regular file we may execute (X_OK) */
    char command_path[PROBE_PATH_MAX]; /* the resolved path, "" when not found */
    /* working_dir */
    bool working_dir_set;       /* the manifest names one */
    bool working_dir_exists;    /* something is at that path */
    bool working_dir_is_dir;    /* ... and it is a directory */
    bool working_dir_creatable; /* missing, and mkdir -p could create it: the nearest
                                 * existing ancestor is a directory we may write */
    /* port */
    enum manifest_port port_kind;
    uint16_t port;  /* fixed: the manifest's; auto: the one the node would assign (0: none) */
    bool port_free; /* fixed: a bind on 127.0.0.1 succeeded; auto: a port was assigned */
    bool port_own;  /* fixed and in use, but by the release this node runs now
                     * (probe_mark_own_ports): it is freed before the new one starts */
    /* health check */
    bool health_set;                /* the service has a health check */
    bool health_ok;                 /* the URL expands and reads http(s)://host[:port]/... */
    char health_url[PROBE_URL_MAX]; /* expanded ("" when it does not expand or fit) */
    char health_error[PROBE_DETAIL_MAX];
    /* variables */
    bool env_ok; /* every env value expands */
    char env_error[PROBE_DETAIL_MAX];
    bool args_ok; /* every arg expands */
    char args_error[PROBE_DETAIL_MAX];
    /* env_file: what probe_env_file_read says (never a value) */
    bool env_file_set; /* the manifest names one */
    bool env_file_ok;  /* it can be read by this node and parses */
    char env_file_error[PROBE_DETAIL_MAX];
    /* user: whether the node could run the service as the manifest's user */
    bool user_set;  /* the manifest names one */
    bool user_root; /* chimerad runs as root here (euid 0), so it may switch users */
    bool user_ok;   /* ... and the user exists here (probe_user_resolve) */
    char user_error[PROBE_DETAIL_MAX];
};

struct probe_facts {
    char node[MANIFEST_ID_MAX];
    bool answered; /* false: the node did not answer (the leader fills this in); nothing
                    * else but node and error means anything then */
    char error[PROBE_DETAIL_MAX];                         /* why it did not answer, "" otherwise */
    struct probe_service services[MANIFEST_MAX_SERVICES]; /* the manifest's order */
    size_t nservices;
};

/* Gathers the facts of every service of m on this machine into *out (zeroed
 * first; answered = true). node_id is ${NODE}. Fixed and assigned ports are
 * held until every service is probed, so two auto services get different
 * ports, then released. Returns 0, or -1 with out->error set when m or
 * node_id is unusable (then answered is false). */
int probe_release(const struct manifest *m, const char *node_id, struct probe_facts *out);

/* Reads and parses the env file of service s (pipeline/env_file.h), its
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

/* JSON form (see above). to_json returns a new reference or NULL on
 * allocation failure. from_json returns 0, or -1 with one line in err
 * naming the field; *out is then zeroed. */
json_t *probe_facts_to_json(const struct probe_facts *f);
int probe_facts_from_json(const json_t *js, struct probe_facts *out, char *err, size_t errlen);

/* Heal actions and their results are the core's (pipeline/certify.h). */
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
