/* chimeractl drill validate | list: drill files, offline (chaos/drill
 * validates them). `drill run` is drill_run.c's, `drill history`
 * drill_history.c's.
 *
 * FILE|NAME: an argument with a '/' or ending in ".json", or naming a file
 * that exists, is a file; otherwise it names a built-in drill, looked up in
 * $CHIMERA_DRILLS_DIR, then share/chimera/drills beside the bin/ this
 * chimeractl runs from (where `make install PREFIX=...` put deploy/drills,
 * whatever prefix the build was configured with), then the configured
 * prefix's (CTL_DRILLS_INSTALLED), then in the source tree chimeractl was
 * built from (CTL_DRILLS_SOURCE), so a build runs them without
 * installing. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctl/drill_int.h"
#include "pipeline/core/manifest.h"

#ifndef CTL_DRILLS_INSTALLED
#define CTL_DRILLS_INSTALLED "/usr/local/share/chimera/drills"
#endif
#ifndef CTL_DRILLS_SOURCE
#define CTL_DRILLS_SOURCE ""
#endif
#define MAX_BUILTINS 64

static int usage(const char *cmd, const char *what, const char *arg)
{
    fprintf(stderr, "chimeractl: %s: %s%s%s%s (see chimeractl %s --help)\n", cmd, what,
            arg ? " '" : "", arg ? arg : "", arg ? "'" : "", cmd);
    return CTL_USAGE;
}

/* PREFIX/share/chimera/drills for the PREFIX/bin/chimeractl running, or
 * "" when this program's path is unknown. */
static const char *beside_exe(void)
{
    static char dir[PATH_MAX + 32];
    char exe[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len <= 0)
        return "";
    exe[len] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash)
        *slash = '\0'; /* PREFIX/bin */
    slash = strrchr(exe, '/');
    if (!slash)
        return "";
    *slash = '\0'; /* PREFIX */
    snprintf(dir, sizeof dir, "%s/share/chimera/drills", exe);
    return dir;
}

/* The folders of built-in drills, in the order they are searched. */
static size_t drill_dirs(const char *out[4])
{
    size_t n = 0;
    const char *env = getenv("CHIMERA_DRILLS_DIR");
    if (env && *env)
        out[n++] = env;
    const char *beside = beside_exe();
    if (*beside && strcmp(beside, CTL_DRILLS_INSTALLED) != 0)
        out[n++] = beside;
    out[n++] = CTL_DRILLS_INSTALLED;
    if (*CTL_DRILLS_SOURCE)
        out[n++] = CTL_DRILLS_SOURCE;
    return n;
}

static bool is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* The names of the built-in drills (sorted, each once: the first folder
 * that has a name wins); returns how many. */
static size_t builtin_names(char names[][64], char paths[][PATH_MAX], size_t max)
{
    const char *dirs[4];
    size_t nd = drill_dirs(dirs), n = 0;
    for (size_t i = 0; i < nd; i++) {
        struct dirent **ents;
        int ne = scandir(dirs[i], &ents, NULL, alphasort);
        for (int e = 0; e < ne; e++) {
            const char *nm = ents[e]->d_name;
            size_t l = strlen(nm);
            bool dup = false;
            if (l > 5 && l - 5 < 64 && strcmp(nm + l - 5, ".json") == 0 && n < max) {
                for (size_t k = 0; k < n; k++)
                    dup = dup || (strncmp(names[k], nm, l - 5) == 0 && names[k][l - 5] == '\0');
                if (!dup) {
                    snprintf(names[n], 64, "%.*s", (int)(l - 5), nm);
                    snprintf(paths[n], PATH_MAX, "%s/%s", dirs[i], nm);
                    n++;
                }
            }
            free(ents[e]);
        }
        if (ne >= 0)
            free(ents);
    }
    return n;
}

/* The path of built-in drill `name` into path; false when there is none. */
static bool builtin_path(const char *name, char *path, size_t cap)
{
    static char names[MAX_BUILTINS][64], paths[MAX_BUILTINS][PATH_MAX];
    size_t n = builtin_names(names, paths, MAX_BUILTINS);
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0) {
            snprintf(path, cap, "%s", paths[i]);
            return true;
        }
    return false;
}

/* Whether arg names a drill (a file, or a built-in drill). */
static bool names_a_drill(const char *arg)
{
    char path[PATH_MAX];
    return is_file(arg) || builtin_path(arg, path, sizeof path);
}

/* FILE|NAME as a path, or CTL_USAGE after saying the name is unknown. */
static int resolve(const char *cmd, const char *arg, char *path, size_t cap)
{
    size_t l = strlen(arg);
    if (strchr(arg, '/') || (l > 5 && strcmp(arg + l - 5, ".json") == 0) || is_file(arg)) {
        snprintf(path, cap, "%s", arg);
        return CTL_OK;
    }
    if (builtin_path(arg, path, cap))
        return CTL_OK;
    static char names[MAX_BUILTINS][64], paths[MAX_BUILTINS][PATH_MAX];
    size_t n = builtin_names(names, paths, MAX_BUILTINS);
    const char *list[MAX_BUILTINS];
    for (size_t i = 0; i < n; i++)
        list[i] = names[i];
    if (n == 0) {
        fprintf(stderr,
                "chimeractl: %s: no file '%s', and no built-in drills were found (set "
                "CHIMERA_DRILLS_DIR to the folder of deploy/drills)\n",
                cmd, arg);
        return CTL_USAGE;
    }
    const char *near = ctl_nearest(arg, list, n);
    fprintf(stderr,
            "chimeractl: %s: no file and no built-in drill '%s'%s%s%s (chimeractl drill "
            "list names them)\n",
            cmd, arg, near ? "; did you mean '" : "", near ? near : "", near ? "'?" : "");
    return CTL_USAGE;
}

static void say_invalid(const char *cmd, const char *path, bool as_json, const char *at,
                        const char *msg)
{
    if (as_json) {
        json_t *o =
            json_pack("{s:b,s:s,s:s,s:s}", "valid", 0, "file", path, "path", at, "error", msg);
        json_dumpf(o, stdout, JSON_INDENT(2) | CTL_JSON_REAL);
        putchar('\n');
        json_decref(o);
    } else {
        fprintf(stderr, "chimeractl: %s: %s: invalid drill at %s: %s\n", cmd, path,
                *at ? at : "(document)", msg);
    }
}

char *ctl_drill_manifest(const struct ctl_drill_file *f, const struct drill_action *a, char *why,
                         size_t whylen)
{
    if (a->manifest_inline) {
        char *s = strdup(a->manifest);
        if (!s)
            snprintf(why, whylen, "out of memory");
        return s;
    }
    char path[PATH_MAX * 2];
    size_t len;
    if (a->manifest[0] == '/')
        snprintf(path, sizeof path, "%s", a->manifest);
    else
        snprintf(path, sizeof path, "%s/%s", f->dir, a->manifest);
    char *doc = ctl_file_read(path, MANIFEST_MAX_BYTES, &len, NULL, why, whylen);
    struct manifest m;
    struct manifest_error me;
    if (doc && manifest_parse(doc, len, &m, &me) != 0) {
        snprintf(why, whylen, "%s: invalid manifest at %s: %s", path,
                 *me.path ? me.path : "(document)", me.message);
        free(doc);
        return NULL;
    }
    if (doc)
        manifest_free(&m);
    return doc;
}

int ctl_drill_load(const char *cmd, const char *arg, bool as_json, struct ctl_drill_file *f)
{
    memset(f, 0, sizeof *f);
    int rc = resolve(cmd, arg, f->path, sizeof f->path);
    if (rc != CTL_OK)
        return rc;
    snprintf(f->dir, sizeof f->dir, "%s", f->path);
    char *slash = strrchr(f->dir, '/');
    if (slash)
        *slash = '\0';
    else
        snprintf(f->dir, sizeof f->dir, ".");
    char why[512];
    size_t len;
    char *doc = ctl_file_read(f->path, DRILL_MAX_BYTES, &len, NULL, why, sizeof why);
    if (!doc) {
        fprintf(stderr, "chimeractl: %s: %s\n", cmd, why);
        return CTL_FAILED;
    }
    struct drill_error err;
    rc = drill_parse(doc, len, &f->d, &err);
    if (rc == 0 && strlen(doc) != len)
        snprintf(err.path, sizeof err.path, "%s", ""),
            snprintf(err.message, sizeof err.message, "a NUL byte in the JSON"), rc = -1;
    free(doc);
    if (rc != 0) {
        drill_free(&f->d);
        say_invalid(cmd, f->path, as_json, err.path, err.message);
        return CTL_USAGE;
    }
    /* A deploy's manifest file is checked too, so a drill does not fail
     * half-way through for a typo in it. */
    for (size_t i = 0; i < f->d.nmethod + f->d.nrollbacks; i++) {
        bool rb = i >= f->d.nmethod;
        const struct drill_action *a = rb ? &f->d.rollbacks[i - f->d.nmethod] : &f->d.method[i];
        if (a->kind != DRILL_ACTION_DEPLOY || a->manifest_inline)
            continue;
        char *m = ctl_drill_manifest(f, a, why, sizeof why);
        if (m) {
            free(m);
            continue;
        }
        char at[64];
        snprintf(at, sizeof at, "%s[%zu].provider.manifest", rb ? "rollbacks" : "method",
                 rb ? i - f->d.nmethod : i);
        drill_free(&f->d);
        say_invalid(cmd, f->path, as_json, at, why);
        return CTL_USAGE;
    }
    return CTL_OK;
}

void ctl_drill_unload(struct ctl_drill_file *f)
{
    drill_free(&f->d);
}

/* "fault kill_node on leader, SLO 5s" and the like, for people. */
static void describe(const struct drill_action *a, char *out, size_t cap)
{
    char d1[32], d2[32];
    manifest_format_duration(a->duration_ms, d1, sizeof d1);
    manifest_format_duration(a->slo.recover_within_ms, d2, sizeof d2);
    switch (a->kind) {
    case DRILL_ACTION_FAULT:
        snprintf(
            out, cap, "fault %s %s %s%s%s%s%s, SLO %s", drill_fault_name(a->fault),
            a->fault == DRILL_FAULT_KILL_SERVICE || a->fault == DRILL_FAULT_PAUSE_SERVICE ? "of"
                                                                                          : "on",
            a->target,
            a->fault == DRILL_FAULT_KILL_SERVICE || a->fault == DRILL_FAULT_PAUSE_SERVICE
                ? " on node "
                : "",
            a->fault == DRILL_FAULT_KILL_SERVICE || a->fault == DRILL_FAULT_PAUSE_SERVICE ? a->node
                                                                                          : "",
            a->duration_ms ? " for " : "", a->duration_ms ? d1 : "", d2);
        break;
    case DRILL_ACTION_DEPLOY:
        snprintf(out, cap, "deploy %s, expect %s%s%s",
                 a->manifest_inline ? "(inline manifest)" : a->manifest,
                 a->expect_reverted ? "reverted" : "stable", a->slo.set ? ", SLO " : "",
                 a->slo.set ? d2 : "");
        break;
    case DRILL_ACTION_PAUSE:
        snprintf(out, cap, "pause %s", d1);
        break;
    default:
        snprintf(out, cap, "%s", drill_action_name(a->kind));
    }
}

static void print_drill(const struct ctl_drill_file *f)
{
    const struct drill *d = &f->d;
    char what[256];
    printf("%s: valid drill \"%s\"\n", f->path, d->title);
    printf("Steady state%s%s:\n", *d->hypothesis_title ? ", " : "", d->hypothesis_title);
    for (size_t i = 0; i < d->nprobes; i++)
        printf("  %s (%s)\n", d->probes[i].name, drill_probe_name(d->probes[i].kind));
    printf("Method:\n");
    for (size_t i = 0; i < d->nmethod; i++) {
        describe(&d->method[i], what, sizeof what);
        printf("  %s: %s\n", d->method[i].name, what);
    }
    printf("Rollbacks:\n");
    for (size_t i = 0; i < d->nrollbacks; i++) {
        describe(&d->rollbacks[i], what, sizeof what);
        printf("  %s: %s\n", d->rollbacks[i].name, what);
    }
}

static int cmd_validate(const struct ctl_opts *o, int argc, char **argv)
{
    const char *arg = NULL;
    for (int i = 2; i < argc; i++) {
        if (argv[i][0] == '-' && argv[i][1])
            return ctl_bad_argument("drill validate", argv[i]);
        if (arg)
            return usage("drill validate", "one drill at a time; unexpected argument", argv[i]);
        arg = argv[i];
    }
    if (!arg)
        return usage("drill validate", "needs a drill FILE or the NAME of a built-in drill", NULL);
    struct ctl_drill_file f;
    int rc = ctl_drill_load("drill validate", arg, o->json, &f);
    if (rc != CTL_OK)
        return rc;
    if (o->json) {
        json_t *out =
            json_pack("{s:b,s:s,s:o}", "valid", 1, "file", f.path, "drill", drill_to_json(&f.d));
        json_dumpf(out, stdout, JSON_INDENT(2) | CTL_JSON_REAL);
        putchar('\n');
        json_decref(out);
    } else {
        print_drill(&f);
    }
    ctl_drill_unload(&f);
    return CTL_OK;
}

static int cmd_list(const struct ctl_opts *o, int argc, char **argv)
{
    if (argc > 2)
        return ctl_bad_argument("drill list", argv[2]);
    static char names[MAX_BUILTINS][64], paths[MAX_BUILTINS][PATH_MAX];
    size_t n = builtin_names(names, paths, MAX_BUILTINS);
    json_t *arr = json_array();
    if (!o->json && n)
        printf("%-20s %-24s %s\n", "NAME", "TITLE", "METHOD");
    for (size_t i = 0; i < n; i++) {
        struct ctl_drill_file f;
        char what[256] = "";
        /* An invalid file is listed (its error on stderr), not hidden. */
        int rc = ctl_drill_load("drill list", paths[i], false, &f);
        json_t *faults = json_array();
        for (size_t k = 0; rc == CTL_OK && k < f.d.nmethod; k++) {
            char one[256];
            describe(&f.d.method[k], one, sizeof one);
            json_array_append_new(faults, json_string(one));
            if (!*what)
                snprintf(what, sizeof what, "%s", one);
        }
        if (o->json)
            json_array_append_new(arr, json_pack("{s:s,s:s,s:s?,s:b,s:o}", "name", names[i], "file",
                                                 paths[i], "title", rc == CTL_OK ? f.d.title : NULL,
                                                 "valid", rc == CTL_OK, "method", faults));
        else {
            printf("%-20s %-24s %s\n", names[i], rc == CTL_OK ? f.d.title : "(invalid)", what);
            json_decref(faults);
        }
        if (rc == CTL_OK)
            ctl_drill_unload(&f);
    }
    if (o->json) {
        json_dumpf(arr, stdout, JSON_INDENT(2) | CTL_JSON_REAL);
        putchar('\n');
    } else if (n == 0) {
        const char *dirs[4];
        size_t nd = drill_dirs(dirs);
        fprintf(stderr, "chimeractl: drill list: no drills in");
        for (size_t i = 0; i < nd; i++)
            fprintf(stderr, "%s %s", i ? "," : "", dirs[i]);
        fprintf(stderr, " (set CHIMERA_DRILLS_DIR to the folder of deploy/drills)\n");
    }
    json_decref(arr);
    return n ? CTL_OK : CTL_FAILED;
}

static const char *const drill_names[] = {"validate", "list", "run", "history"};

int ctl_cmd_drill(const struct ctl_opts *o, int argc, char **argv)
{
    if (argc < 2)
        return usage("drill", "needs a subcommand: validate, list, run or history", NULL);
    if (strcmp(argv[1], "validate") == 0)
        return cmd_validate(o, argc, argv);
    if (strcmp(argv[1], "list") == 0)
        return cmd_list(o, argc, argv);
    if (strcmp(argv[1], "run") == 0)
        return ctl_cmd_drill_run(o, argc, argv);
    if (strcmp(argv[1], "history") == 0)
        return ctl_cmd_drill_history(o, argc, argv);
    if (names_a_drill(argv[1])) { /* `chimeractl drill leader-loss` */
        char how[PATH_MAX + 64];
        snprintf(how, sizeof how, "to run that drill: chimeractl drill run %s", argv[1]);
        return ctl_unknown_meant("drill command", argv[1], how);
    }
    return ctl_unknown("drill command", argv[1], drill_names,
                       sizeof drill_names / sizeof drill_names[0]);
}
