/* Probe facts: what the simulate stage found about one node, as plain data
 * that judges nothing. A follower gathers them (pipeline/exec/probe.h, the
 * shell), the leader judges them (pipeline/core/certify.h); between the two
 * they travel in this JSON form:
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
#ifndef CHIMERA_PIPELINE_PROBE_FACTS_H
#define CHIMERA_PIPELINE_PROBE_FACTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "pipeline/core/manifest.h"

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

/* JSON form (see above). to_json returns a new reference or NULL on
 * allocation failure. from_json returns 0, or -1 with one line in err
 * naming the field; *out is then zeroed. */
json_t *probe_facts_to_json(const struct probe_facts *f);
int probe_facts_from_json(const json_t *js, struct probe_facts *out, char *err, size_t errlen);

#endif
