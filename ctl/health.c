/* chimeractl health [--ready]: one probe of the node behind --addr (GET
 * /health/live, or /health/ready), answered by the exit status. It is what
 * the container image's HEALTHCHECK runs, so the image needs no curl; a
 * script can use it the same way. One request, no retry: the caller (Docker,
 * a supervisor) decides how often to ask and how many failures count. */
#include <stdio.h>
#include <string.h>

#include "ctl/deploy_int.h"

int ctl_cmd_health(const struct ctl_opts *o, int argc, char **argv)
{
    bool ready = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--ready") == 0) {
            ready = true;
        } else if (strcmp(argv[i], "--live") == 0) {
            ready = false;
        } else {
            return ctl_bad_argument("health", argv[i]);
        }
    }
    const char *path = ready ? "/health/ready" : "/health/live";
    const char *what = ready ? "ready" : "live";
    struct ctl_client *cl = ctl_client_new(o);
    if (!cl) {
        fprintf(stderr, "chimeractl: health: cannot initialise the HTTP client\n");
        return CTL_FAILED;
    }
    struct ctl_reply r;
    int got = ctl_get(cl, path, &r);
    enum ctl_outcome oc = ctl_outcome_of_reply(got, &r);
    /* A 503 from /health/ready is an answer, not a failure to talk: say
     * the node's reason rather than a transport error. */
    if (got == 0 && r.status == 503 && r.json)
        oc = CTL_O_UNAVAILABLE;
    if (o->json && got == 0 && r.json) {
        json_dumpf(r.json, stdout, JSON_INDENT(2) | CTL_JSON_REAL);
        putchar('\n');
    } else if (oc == CTL_O_OK) {
        printf("%s: %s %s\n", ctl_client_addr(cl), ctl_json_str(r.json, "node", "?"), what);
    } else if (got == 0 && r.status == 503 && r.json) {
        printf("%s: %s not %s: %s\n", ctl_client_addr(cl), ctl_json_str(r.json, "node", "?"), what,
               ctl_json_str(r.json, "reason", "unavailable"));
    } else {
        ctl_say_failure("health", got, &r);
    }
    ctl_reply_free(&r);
    ctl_client_free(cl);
    return ctl_exit_code(CTL_FAM_COMMON, oc);
}
