/* Internal to chimeractl's deployment commands (deploy.c, deploy_conn.c,
 * deploy_watch.c); not part of ctl.h. */
#ifndef CHIMERA_CTL_DEPLOY_INT_H
#define CHIMERA_CTL_DEPLOY_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "ctl/ctl.h"

/* obj[key] when a non-empty string, else dflt. */
const char *ctl_json_str(const json_t *obj, const char *key, const char *dflt);
/* The id of a deployment object as text (ids are strings; integers too). */
void ctl_deploy_id(const json_t *d, char *buf, size_t len);

/* ---- the node, and the leader it points to ---------------------------- */

struct ctl_conn {
    const struct ctl_opts *o;  /* the user's options (--addr) */
    struct ctl_client *first;  /* the node behind --addr */
    struct ctl_opts lead_opts; /* the leader, after a redirect */
    char lead_addr[512];       /* its base URL */
    char lead_shown[512];      /* and as messages write it (ctl_addr_text) */
    struct ctl_client *lead;   /* NULL until redirected */
    struct ctl_client *using;  /* the one polled: lead, or first */
    bool down;                 /* contact lost, said so */
};

/* Opens the client for the node behind --addr; -1 (said) on failure. */
int ctl_conn_open(struct ctl_conn *c, const struct ctl_opts *o);
void ctl_conn_close(struct ctl_conn *c);
/* The address of the node polled. */
const char *ctl_conn_addr(const struct ctl_conn *c);
/* Reads go to the leader when the node behind --addr names one. */
void ctl_conn_prefer_leader(struct ctl_conn *c);
/* Polls go to the node that leads now, as the node behind --addr sees it;
 * true when that is another node than the one polled so far. */
bool ctl_conn_follow_leader(struct ctl_conn *c);
int ctl_conn_get(struct ctl_conn *c, const char *path, struct ctl_reply *r);
/* POSTs payload with the token, following a follower's 307 to the leader. */
int ctl_conn_post(struct ctl_conn *c, const char *path, const char *payload, const char *token,
                  struct ctl_reply *r);
/* One exchange with the node behind --addr: GET when payload is NULL,
 * else POST with the admin token (a follower's 307 followed). The answer's
 * JSON in *out (the caller's), or NULL after one line said: for a 404,
 * "this node has no <missing>". Returns the exit code (CTL_FAM_COMMON). */
int ctl_exchange(const struct ctl_opts *o, const char *cmd, const char *path, const char *payload,
                 const char *missing, json_t **out);
/* A failed reply the caller answers itself: the exit code, having said what
 * it must (*out stays NULL), or -1 to leave it to ctl_exchange_or. rc is
 * the request's result (0: r holds an HTTP answer); c is still open, on the
 * node that answered. */
typedef int (*ctl_take_fn)(struct ctl_conn *c, int rc, const struct ctl_reply *r, void *arg);
/* ctl_exchange, with take (NULL: none) asked first about a failure. */
int ctl_exchange_or(const struct ctl_opts *o, const char *cmd, const char *path,
                    const char *payload, const char *missing, json_t **out, ctl_take_fn take,
                    void *arg);
/* For the views of people (not --json): when d passed members over as down,
 * asks the node polled who is alive now (ctl_mark_members). */
void ctl_conn_mark_members(struct ctl_conn *c, json_t *d);
/* GET path as a JSON object, for polling; NULL (said once) on failure. */
json_t *ctl_conn_poll(struct ctl_conn *c, const char *path, long *status);

/* ---- watching (deploy_watch.c) ---------------------------------------- */

/* deploy --wait after the 202: the exit code (enum ctl_deploy_exit). */
int ctl_wait_deploy(struct ctl_conn *c, const char *id, int64_t deadline, bool auto_revert);
/* deployment --watch, rollback --wait: watches id until it ends (deadline:
 * monotonic ms, 0 none), prints the final object with --json and, for a
 * rollback that ends well, says so. Returns the exit code. */
int ctl_watch_until_end(struct ctl_conn *c, const char *id, int64_t deadline, bool rollback);

#endif
