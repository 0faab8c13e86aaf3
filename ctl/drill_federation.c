/* The federation as drill run and chaos inject ask it (drill_int.h): a GET
 * from whichever endpoint answers, the leader's view of the members, and
 * a node selector ("leader", "follower", "any") resolved from that view,
 * so that both commands pick a node the same way. */
#include <stdio.h>
#include <string.h>

#include "ctl/deploy_int.h"
#include "ctl/drill_int.h"

json_t *ctl_get_json(const struct ctl_opts *o, const char *addr, const char *path, long *status)
{
    struct ctl_opts oo = *o;
    if (addr)
        oo.addr = addr;
    struct ctl_client *cl = ctl_client_new(&oo);
    struct ctl_reply r;
    json_t *j = NULL;
    *status = 0;
    if (!cl)
        return NULL;
    if (ctl_get(cl, path, &r) == 0) {
        *status = r.status;
        if (json_is_object(r.json))
            j = json_incref(r.json);
    }
    ctl_reply_free(&r);
    ctl_client_free(cl);
    return j;
}

const char *ctl_member_http(const json_t *state, const char *id)
{
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(state, "peers"), i, p)
    {
        if (id && strcmp(ctl_json_str(p, "node", ""), id) == 0)
            return json_string_value(json_object_get(p, "http"));
    }
    return NULL;
}

json_t *ctl_leader_state(const struct ctl_opts *o)
{
    long st;
    json_t *s = ctl_get_json(o, NULL, "/federation/state", &st);
    const char *leader = s ? json_string_value(json_object_get(s, "leader")) : NULL;
    const char *self = s ? json_string_value(json_object_get(s, "node")) : NULL;
    const char *http = ctl_member_http(s, leader);
    if (!leader || (self && strcmp(leader, self) == 0) || !http)
        return s;
    json_t *ls = ctl_get_json(o, http, "/federation/state", &st);
    if (!ls)
        return s;
    json_decref(s);
    return ls;
}

bool ctl_node_selector(const char *s)
{
    return strcmp(s, "leader") == 0 || strcmp(s, "follower") == 0 || strcmp(s, "any") == 0;
}

int ctl_resolve_node(const struct ctl_opts *o, const char *sel, char *out, size_t cap, char *why,
                     size_t whylen)
{
    bool leader = strcmp(sel, "leader") == 0, follower = strcmp(sel, "follower") == 0;
    if (!ctl_node_selector(sel)) {
        snprintf(out, cap, "%s", sel);
        return 0;
    }
    json_t *s = ctl_leader_state(o);
    const char *l = s ? json_string_value(json_object_get(s, "leader")) : NULL;
    out[0] = '\0';
    if (leader && l)
        snprintf(out, cap, "%s", l);
    size_t i;
    json_t *m;
    json_array_foreach(s ? json_object_get(s, "peers") : NULL, i, m)
    {
        const char *id = json_string_value(json_object_get(m, "node"));
        const char *st = json_string_value(json_object_get(m, "status"));
        if (out[0] || leader || !id || !st || strcmp(st, "alive") != 0)
            continue;
        /* A follower is any member but the leader; "any" prefers one too,
         * so a service fault does not also cost an election. */
        if (!l || strcmp(id, l) != 0)
            snprintf(out, cap, "%s", id);
    }
    if (!out[0] && !leader && l)
        snprintf(out, cap, "%s", l); /* "any" in a federation of one */
    /* l lives in s: compare before letting s go. */
    bool none = !out[0] || (follower && l && strcmp(out, l) == 0);
    bool answered = s != NULL;
    json_decref(s);
    if (!answered) {
        snprintf(why, whylen, "no %s to pick: no node answered", sel);
        return -1;
    }
    if (none) {
        snprintf(why, whylen, "no %s to pick: none is alive", sel);
        return -2;
    }
    return 0;
}
