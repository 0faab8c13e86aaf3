/* Release manifests: parsing and validation (the schema is in manifest.h
 * and the README) of the document and its rollout; each service is
 * manifest_service.c's, the field readers manifest_field.c's. The first
 * problem found wins; checks run in document order within an object, after
 * its keys have been checked. */
#include "pipeline/core/manifest_int.h"

#include <stdio.h>
#include <string.h>

static int parse_rollout(json_t *ro, struct manifest_rollout *r, struct manifest_error *err)
{
    static const char *const keys[] = {"max_parallel",      "min_healthy_time", "healthy_deadline",
                                       "progress_deadline", "auto_revert",      NULL};
    json_t *empty = NULL;
    if (!ro)
        ro = empty = json_object(); /* every default */
    if (!ro)
        return manifest_fail(err, "rollout", "out of memory");
    int rc = -1;
    bool mht_given, hd_given, pd_given;
    char d1[32], d2[32];
    if (!json_is_object(ro)) {
        manifest_fail(err, "rollout", "must be an object such as {\"max_parallel\": 1}, not %s",
                      manifest_type_name(ro));
        goto out;
    }
    if (manifest_check_keys(ro, "rollout", keys, err) ||
        manifest_get_uint(ro, "rollout", "max_parallel", 1, MANIFEST_MAX_PARALLEL,
                          MANIFEST_DEFAULT_MAX_PARALLEL, &r->max_parallel, err) ||
        manifest_get_duration(ro, "rollout", "min_healthy_time",
                              MANIFEST_DEFAULT_MIN_HEALTHY_TIME_MS, &r->min_healthy_time_ms,
                              &mht_given, err) ||
        manifest_get_duration(ro, "rollout", "healthy_deadline",
                              MANIFEST_DEFAULT_HEALTHY_DEADLINE_MS, &r->healthy_deadline_ms,
                              &hd_given, err) ||
        manifest_get_duration(ro, "rollout", "progress_deadline",
                              MANIFEST_DEFAULT_PROGRESS_DEADLINE_MS, &r->progress_deadline_ms,
                              &pd_given, err))
        goto out;
    json_t *ar = manifest_field(ro, "auto_revert");
    r->auto_revert = true;
    if (ar && !json_is_boolean(ar)) {
        manifest_fail(err, "rollout.auto_revert", "must be true or false, not %s",
                      manifest_type_name(ar));
        goto out;
    }
    if (ar)
        r->auto_revert = json_is_true(ar);
    if (r->healthy_deadline_ms <= r->min_healthy_time_ms) {
        manifest_format_duration(r->healthy_deadline_ms, d1, sizeof d1);
        manifest_format_duration(r->min_healthy_time_ms, d2, sizeof d2);
        manifest_fail(err, hd_given ? "rollout.healthy_deadline" : "rollout.min_healthy_time",
                      "healthy_deadline (%s%s) must be longer than min_healthy_time (%s%s)", d1,
                      manifest_given_note(hd_given), d2, manifest_given_note(mht_given));
        goto out;
    }
    if (r->progress_deadline_ms < r->healthy_deadline_ms) {
        manifest_format_duration(r->progress_deadline_ms, d1, sizeof d1);
        manifest_format_duration(r->healthy_deadline_ms, d2, sizeof d2);
        manifest_fail(err, pd_given ? "rollout.progress_deadline" : "rollout.healthy_deadline",
                      "progress_deadline (%s%s) must be at least healthy_deadline (%s%s)", d1,
                      manifest_given_note(pd_given), d2, manifest_given_note(hd_given));
        goto out;
    }
    rc = 0;
out:
    json_decref(empty);
    return rc;
}

static int parse_root(json_t *root, struct manifest *m, struct manifest_error *err)
{
    static const char *const keys[] = {"name",     "version", "description",
                                       "services", "rollout", NULL};
    char b[48];
    if (!json_is_object(root))
        return manifest_fail(
            err, "",
            "a manifest must be a JSON object such as {\"name\": \"web\", \"version\": "
            "\"1.0.0\", \"services\": [...]}");
    if (manifest_check_keys(root, "", keys, err) ||
        manifest_get_id(root, "", "name", "the release's name", m->name, err))
        return -1;

    const char *str = NULL;
    int r = manifest_get_str(root, "", "version", MANIFEST_STRING_MAX, "a string such as \"1.4.2\"",
                             &str, err);
    if (r < 0)
        return -1;
    if (r == 0)
        return manifest_fail(err, "version", "missing: the release's version, e.g. \"1.4.2\"");
    size_t n = strlen(str);
    bool ok = n >= 1 && n < MANIFEST_VERSION_MAX;
    for (const char *c = str; ok && *c; c++)
        ok = *c > 0x20 && *c < 0x7f;
    if (!ok)
        return manifest_fail(
            err, "version",
            "\"%s\" is not a valid version: 1-64 printable ASCII characters without "
            "spaces, e.g. \"1.4.2\"",
            manifest_show(str, b));
    memcpy(m->version, str, n + 1);

    str = NULL;
    if (manifest_get_str(root, "", "description", MANIFEST_DESCRIPTION_MAX, "a string", &str, err) <
        0)
        return -1;
    if (str)
        snprintf(m->description, sizeof m->description, "%s", str);

    json_t *svcs = manifest_field(root, "services");
    if (!svcs)
        return manifest_fail(
            err, "services",
            "missing: at least one service, e.g. [{\"name\": \"api\", \"command\": "
            "\"/usr/bin/api\"}]");
    if (!json_is_array(svcs))
        return manifest_fail(err, "services", "must be an array of services, not %s",
                             manifest_type_name(svcs));
    size_t ns = json_array_size(svcs);
    if (ns == 0)
        return manifest_fail(err, "services", "empty: at least one service is required");
    if (ns > MANIFEST_MAX_SERVICES)
        return manifest_fail(err, "services", "%zu services; at most %d", ns,
                             MANIFEST_MAX_SERVICES);
    for (size_t i = 0; i < ns; i++) {
        m->nservices = i + 1; /* what parse_service allocated is freed on failure */
        if (manifest_parse_service(json_array_get(svcs, i), i, m, err))
            return -1;
    }
    return parse_rollout(manifest_field(root, "rollout"), &m->rollout, err);
}

int manifest_parse(const char *json, size_t len, struct manifest *m, struct manifest_error *err)
{
    memset(m, 0, sizeof *m);
    memset(err, 0, sizeof *err);
    if (len > MANIFEST_MAX_BYTES)
        return manifest_fail(err, "", "the manifest is %zu bytes; at most %u (256 KiB)", len,
                             MANIFEST_MAX_BYTES);
    json_error_t je;
    json_t *root = json_loadb(json ? json : "", json ? len : 0, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return manifest_fail(err, "", "not valid JSON: line %d, column %d: %s", je.line, je.column,
                             je.text);
    int rc = parse_root(root, m, err);
    json_decref(root);
    if (rc)
        manifest_free(m);
    return rc;
}
