/* Probe: the facts of a release on this machine, and the heal actions (see
 * probe.h). Shell code; everything is quick and local. The facts' JSON form
 * is probe_json.c's. */
#include "pipeline/exec/probe.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <sodium.h>

#include "pipeline/core/certify.h"

#define DEFAULT_PATH "/usr/local/bin:/usr/bin:/bin"

/* ---- command ------------------------------------------------------------ */

static bool is_exec(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

static void set_path(struct probe_service *ps, const char *path)
{
    if (strlen(path) < sizeof(ps->command_path))
        memcpy(ps->command_path, path, strlen(path) + 1);
    else
        ps->command_path[0] = '\0';
}

/* Like execvp: the first executable candidate wins; when there is none, the
 * first file found is reported (found, not executable). */
static void probe_command(const char *cmd, struct probe_service *ps)
{
    struct stat st;
    if (strchr(cmd, '/')) {
        ps->command_found = stat(cmd, &st) == 0;
        ps->command_executable = ps->command_found && is_exec(cmd);
        if (ps->command_found)
            set_path(ps, cmd);
        return;
    }
    const char *path = getenv("PATH");
    if (!path || !*path)
        path = DEFAULT_PATH;
    char cand[PROBE_PATH_MAX];
    const char *p = path;
    for (;;) {
        const char *end = strchr(p, ':');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        int w = len ? snprintf(cand, sizeof(cand), "%.*s/%s", (int)len, p, cmd)
                    : snprintf(cand, sizeof(cand), "./%s", cmd);
        if (w > 0 && (size_t)w < sizeof(cand) && stat(cand, &st) == 0) {
            if (is_exec(cand)) {
                ps->command_found = ps->command_executable = true;
                set_path(ps, cand);
                return;
            }
            if (!ps->command_found) {
                ps->command_found = true;
                set_path(ps, cand);
            }
        }
        if (!end)
            break;
        p = end + 1;
    }
}

/* ---- working_dir -------------------------------------------------------- */

static void probe_dir(const char *dir, struct probe_service *ps)
{
    struct stat st;
    ps->working_dir_set = true;
    if (stat(dir, &st) == 0) {
        ps->working_dir_exists = true;
        ps->working_dir_is_dir = S_ISDIR(st.st_mode);
        return;
    }
    /* Missing: mkdir -p works when the nearest existing ancestor is a
     * directory we may write into. */
    char buf[MANIFEST_STRING_MAX + 1];
    if (strlen(dir) >= sizeof(buf))
        return;
    memcpy(buf, dir, strlen(dir) + 1);
    for (;;) {
        size_t len = strlen(buf);
        while (len > 1 && buf[len - 1] == '/')
            buf[--len] = '\0';
        char *slash = strrchr(buf, '/');
        if (!slash)
            return;
        if (slash == buf)
            slash[1] = '\0';
        else
            *slash = '\0';
        if (stat(buf, &st) == 0) {
            ps->working_dir_creatable = S_ISDIR(st.st_mode) && access(buf, W_OK | X_OK) == 0;
            return;
        }
        if (strcmp(buf, "/") == 0)
            return;
    }
}

/* ---- ports -------------------------------------------------------------- */

/* Binds 127.0.0.1:port (0: any), SO_REUSEADDR off. Returns the socket and
 * the bound port, or -1. */
static int bind_port(uint16_t port, uint16_t *bound)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(sa);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) != 0) {
        close(fd);
        return -1;
    }
    *bound = ntohs(sa.sin_port);
    return fd;
}

uint16_t probe_free_port(void)
{
    uint16_t port = 0;
    int fd = bind_port(0, &port);
    if (fd < 0)
        return 0;
    close(fd);
    return port;
}

/* ---- variables ---------------------------------------------------------- */

/* "http(s)://host[:port]" then nothing, or "/", "?", "#" and the rest. */
static bool url_valid(const char *u, char *why, size_t whylen)
{
    for (const char *c = u; *c; c++)
        if ((unsigned char)*c <= ' ' || *c == 0x7f) {
            snprintf(why, whylen, "%s", "it contains a space or a control character");
            return false;
        }
    const char *p;
    if (strncmp(u, "http://", 7) == 0)
        p = u + 7;
    else if (strncmp(u, "https://", 8) == 0)
        p = u + 8;
    else {
        snprintf(why, whylen, "%s", "it does not start with http:// or https://");
        return false;
    }
    if (memchr(p, '@', strcspn(p, "/?#"))) {
        snprintf(why, whylen, "%s",
                 "userinfo (user:password@ before the host) is not supported in a health URL");
        return false;
    }
    const char *h = p;
    if (*p == '[') {
        p = strchr(p, ']');
        if (!p) {
            snprintf(why, whylen, "%s", "unterminated [ in the host");
            return false;
        }
        p++;
    } else {
        while (*p && !strchr(":/?#", *p))
            p++;
    }
    if (p == h || (*h == '[' && p - h <= 2)) {
        snprintf(why, whylen, "%s", "no host");
        return false;
    }
    if (*p == ':') {
        p++;
        unsigned long port = 0;
        const char *d = p;
        while (*p >= '0' && *p <= '9' && port <= 65535)
            port = port * 10 + (unsigned long)(*p++ - '0');
        if (p == d || port == 0 || port > 65535 || (*p && !strchr("/?#", *p))) {
            snprintf(why, whylen, "%s", "the port is not 1..65535");
            return false;
        }
    }
    if (*p && !strchr("/?#", *p)) {
        snprintf(why, whylen, "%s", "unexpected character after the host");
        return false;
    }
    return true;
}

static void probe_vars(const struct manifest_service *s, const struct manifest_vars *v,
                       struct probe_service *ps)
{
    char buf[MANIFEST_STRING_MAX + 1];
    struct manifest_error e;

    ps->args_ok = true;
    for (size_t i = 0; i < s->nargs; i++)
        if (manifest_expand(s->args[i], v, buf, sizeof(buf), &e) != 0) {
            ps->args_ok = false;
            snprintf(ps->args_error, sizeof(ps->args_error), "args[%zu]: %.150s", i, e.message);
            break;
        }
    ps->env_ok = true;
    for (size_t i = 0; i < s->nenv; i++)
        if (manifest_expand(s->env[i].value, v, buf, sizeof(buf), &e) != 0) {
            ps->env_ok = false;
            snprintf(ps->env_error, sizeof(ps->env_error), "%.40s: %.140s", s->env[i].name,
                     e.message);
            break;
        }
    if (!s->health.enabled || !s->health.url)
        return;
    ps->health_set = true;
    if (manifest_expand(s->health.url, v, ps->health_url, sizeof(ps->health_url), &e) != 0) {
        snprintf(ps->health_error, sizeof(ps->health_error), "%.180s", e.message);
        return;
    }
    char why[96];
    if (!url_valid(ps->health_url, why, sizeof(why))) {
        snprintf(ps->health_error, sizeof(ps->health_error), "%.80s: %.100s", ps->health_url, why);
        return;
    }
    ps->health_ok = true;
}

/* ---- env_file ----------------------------------------------------------- */

static int read_env_file(const char *path, struct envfile *out, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        snprintf(err, errlen, "env_file %.120s: cannot read: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    if (!S_ISREG(st.st_mode)) { /* a FIFO or a device would block or never end */
        close(fd);
        snprintf(err, errlen, "env_file %.120s: not a regular file", path);
        return -1;
    }
    /* One byte more than allowed tells "too big" from "exactly the cap". */
    size_t cap = ENVFILE_MAX_BYTES + 1, len = 0;
    char *buf = malloc(cap);
    ssize_t r = 1;
    while (buf && len < cap && (r = read(fd, buf + len, cap - len)) > 0)
        len += (size_t)r;
    int e = errno;
    close(fd);
    struct envfile_error pe;
    int rc = -1;
    if (!buf)
        snprintf(err, errlen, "env_file %.120s: out of memory", path);
    else if (r < 0)
        snprintf(err, errlen, "env_file %.120s: cannot read: %s", path, strerror(e));
    else if (envfile_parse(buf, len, out, &pe) != 0)
        snprintf(err, errlen, "env_file %.120s: %s", path, pe.message);
    else
        rc = 0;
    if (buf) {
        sodium_memzero(buf, len);
        free(buf);
    }
    return rc;
}

int probe_env_file_read(const struct manifest_service *s, const struct manifest_vars *v,
                        struct envfile *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (!s->env_file)
        return 0;
    char path[MANIFEST_STRING_MAX + 1];
    struct manifest_error e;
    if (manifest_expand(s->env_file, v, path, sizeof(path), &e) != 0) {
        snprintf(err, errlen, "env_file %.100s: %.80s", s->env_file, e.message);
        return -1;
    }
    return read_env_file(path, out, err, errlen);
}

/* ---- user --------------------------------------------------------------- */

static void fill_named(struct probe_user *out, const struct passwd *pw)
{
    out->named = true;
    snprintf(out->name, sizeof(out->name), "%s", pw->pw_name);
    snprintf(out->home, sizeof(out->home), "%s", pw->pw_dir ? pw->pw_dir : "");
}

int probe_user_resolve(const char *spec, struct probe_user *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    char buf[MANIFEST_STRING_MAX + 1];
    snprintf(buf, sizeof(buf), "%s", spec);
    bool numeric = buf[0] && strspn(buf, "0123456789:") == strlen(buf);
    if (!numeric) {
        errno = 0;
        struct passwd *pw = getpwnam(buf);
        if (!pw) {
            snprintf(err, errlen, "user \"%.64s\" does not exist on this node%s%s", buf,
                     errno ? ": " : "", errno ? strerror(errno) : "");
            return -1;
        }
        out->uid = (uint32_t)pw->pw_uid;
        out->gid = (uint32_t)pw->pw_gid;
        fill_named(out, pw);
        return 0;
    }
    char *colon = strchr(buf, ':');
    out->uid = (uint32_t)strtoul(buf, NULL, 10);
    struct passwd *pw = getpwuid((uid_t)out->uid);
    if (colon)
        out->gid = (uint32_t)strtoul(colon + 1, NULL, 10);
    else if (pw)
        out->gid = (uint32_t)pw->pw_gid;
    else {
        snprintf(err, errlen,
                 "uid %u has no entry in the user database on this node; give its group too, "
                 "e.g. \"%u:%u\"",
                 (unsigned)out->uid, (unsigned)out->uid, (unsigned)out->uid);
        return -1;
    }
    if (pw)
        fill_named(out, pw);
    return 0;
}

static void probe_user(const char *spec, struct probe_service *ps)
{
    struct probe_user u;
    ps->user_set = true;
    ps->user_root = geteuid() == 0;
    if (!ps->user_root)
        snprintf(ps->user_error, sizeof(ps->user_error),
                 "user set but chimerad is not root (it runs as uid %u)", (unsigned)geteuid());
    else
        ps->user_ok = probe_user_resolve(spec, &u, ps->user_error, sizeof(ps->user_error)) == 0;
}

/* ---- probe_release ------------------------------------------------------ */

int probe_release(const struct manifest *m, const char *node_id, struct probe_facts *out)
{
    memset(out, 0, sizeof(*out));
    if (node_id)
        snprintf(out->node, sizeof(out->node), "%s", node_id);
    if (!m || !node_id || !*node_id || m->nservices > MANIFEST_MAX_SERVICES) {
        snprintf(out->error, sizeof(out->error), "%s",
                 !m                                     ? "no manifest"
                 : m->nservices > MANIFEST_MAX_SERVICES ? "too many services"
                                                        : "no node id");
        return -1;
    }
    out->answered = true;
    out->nservices = m->nservices;
    int held[MANIFEST_MAX_SERVICES];
    for (size_t i = 0; i < m->nservices; i++) {
        const struct manifest_service *s = &m->services[i];
        struct probe_service *ps = &out->services[i];
        held[i] = -1;
        snprintf(ps->name, sizeof(ps->name), "%s", s->name);
        probe_command(s->command ? s->command : "", ps);
        if (s->working_dir)
            probe_dir(s->working_dir, ps);
        if (s->user)
            probe_user(s->user, ps);

        ps->port_kind = s->port_kind;
        uint16_t bound = 0;
        if (s->port_kind == MANIFEST_PORT_FIXED) {
            ps->port = s->port;
            held[i] = bind_port(s->port, &bound);
            ps->port_free = held[i] >= 0;
        } else if (s->port_kind == MANIFEST_PORT_AUTO) {
            held[i] = bind_port(0, &bound);
            ps->port_free = held[i] >= 0 && bound != 0;
            ps->port = ps->port_free ? bound : 0;
        }

        /* Without an assigned port, the templates are checked with a
         * stand-in; auto_port_unavailable says what is wrong. */
        uint32_t vport = s->port_kind == MANIFEST_PORT_NONE ? 0u : ps->port ? ps->port : 1u;
        const struct manifest_vars v = {node_id, m->name, m->version, vport};
        probe_vars(s, &v, ps);
        if (s->env_file) {
            struct envfile ef;
            ps->env_file_set = true;
            ps->env_file_ok = probe_env_file_read(s, &v, &ef, ps->env_file_error,
                                                  sizeof(ps->env_file_error)) == 0;
            envfile_free(&ef);
        }
    }
    for (size_t i = 0; i < m->nservices; i++)
        if (held[i] >= 0)
            close(held[i]);
    return 0;
}

void probe_mark_own_ports(struct probe_facts *f, const uint16_t *ports, size_t n)
{
    for (size_t i = 0; i < f->nservices && i < MANIFEST_MAX_SERVICES; i++) {
        struct probe_service *ps = &f->services[i];
        if (ps->port_kind != MANIFEST_PORT_FIXED || ps->port_free)
            continue;
        for (size_t j = 0; j < n; j++)
            if (ports[j] == ps->port)
                ps->port_own = true;
    }
}

/* ---- heal --------------------------------------------------------------- */

static int mkdir_p(const char *dir, char *err, size_t errlen)
{
    char buf[MANIFEST_STRING_MAX + 1];
    size_t len = strlen(dir);
    if (len == 0 || len >= sizeof(buf) || dir[0] != '/') {
        snprintf(err, errlen, "%s", "not an absolute path");
        return -1;
    }
    memcpy(buf, dir, len + 1);
    for (char *p = buf + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        *p = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
            snprintf(err, errlen, "mkdir %.120s: %.60s", buf, strerror(errno));
            return -1;
        }
        *p = c;
        if (c == '\0')
            break;
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "%.120s is not a directory", dir);
        return -1;
    }
    return 0;
}

int probe_heal(const struct manifest *m, const struct cert_heal_action *actions, size_t n,
               struct cert_heal_result *results)
{
    int failed = 0;
    for (size_t i = 0; i < n; i++) {
        struct cert_heal_result *r = &results[i];
        memset(r, 0, sizeof(*r));
        const struct manifest_service *s = NULL;
        for (size_t j = 0; m && j < m->nservices; j++)
            if (strcmp(m->services[j].name, actions[i].service) == 0)
                s = &m->services[j];
        if (!s) {
            snprintf(r->detail, sizeof(r->detail), "no service \"%.64s\" in the release",
                     actions[i].service);
        } else if (actions[i].kind == CERT_HEAL_CREATE_DIR) {
            char err[PROBE_DETAIL_MAX];
            if (!s->working_dir)
                snprintf(r->detail, sizeof(r->detail), "%s", "the service has no working_dir");
            else if (mkdir_p(s->working_dir, err, sizeof(err)) != 0)
                snprintf(r->detail, sizeof(r->detail), "%s", err);
            else {
                r->ok = true;
                snprintf(r->detail, sizeof(r->detail), "created %.170s", s->working_dir);
            }
        } else if (actions[i].kind == CERT_HEAL_REPROBE) {
            r->ok = true;
            snprintf(r->detail, sizeof(r->detail), "%s", "a new port is picked by the re-probe");
        } else {
            snprintf(r->detail, sizeof(r->detail), "%s", "unknown action");
        }
        failed += !r->ok;
    }
    return failed;
}
