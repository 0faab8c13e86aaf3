/* Internal to the manifest parser (manifest.c, manifest_service.c,
 * manifest_field.c): reading the fields of a JSON document. Every reader
 * takes the path of the object (base) and fills *err, with the field's path,
 * on the first problem; each returns 0 or -1 unless said otherwise. */
#ifndef CHIMERA_PIPELINE_MANIFEST_INT_H
#define CHIMERA_PIPELINE_MANIFEST_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "pipeline/core/manifest.h"

#define MANIFEST_PATH_CAP sizeof(((struct manifest_error *)0)->path)

/* Sets *err (one line: control characters become '?'). Returns -1. */
int manifest_fail(struct manifest_error *err, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* out (MANIFEST_PATH_CAP bytes) = base.key, or base[i]; cut short when
 * too long. */
void manifest_key_path(char *out, const char *base, const char *key);
void manifest_index_path(char *out, const char *base, size_t i);
/* A user's value quoted in a message: at most 40 bytes of it. */
const char *manifest_show(const char *v, char buf[48]);
/* "an object", "a string", ...: what v is, for a message. */
const char *manifest_type_name(const json_t *v);
/* The value of key, or NULL when absent or null. */
json_t *manifest_field(const json_t *obj, const char *key);
/* obj has no key outside known (NULL-terminated). */
int manifest_check_keys(json_t *obj, const char *base, const char *const known[],
                        struct manifest_error *err);
/* 1 present, 0 absent, -1 error (also for a string over max bytes). */
int manifest_get_str(const json_t *obj, const char *base, const char *key, size_t max,
                     const char *expect, const char **out, struct manifest_error *err);
/* A required id (ledger_valid_id); what names it in the "missing" message. */
int manifest_get_id(const json_t *obj, const char *base, const char *key, const char *what,
                    char out[MANIFEST_ID_MAX], struct manifest_error *err);
/* A duration ("10s" or integer ms); def when absent (*given false). */
int manifest_get_duration(const json_t *obj, const char *base, const char *key, uint32_t def,
                          uint32_t *out, bool *given, struct manifest_error *err);
/* An integer lo..hi; def when absent. */
int manifest_get_uint(const json_t *obj, const char *base, const char *key, uint32_t lo,
                      uint32_t hi, uint32_t def, uint32_t *out, struct manifest_error *err);
/* *out = strdup(s), or "out of memory" at path. */
int manifest_dup(const char *s, char **out, const char *path, struct manifest_error *err);
/* Variables are checked at parse time; nothing is expanded. */
int manifest_check_template(const char *s, const char *path, bool has_port,
                            struct manifest_error *err);
/* ", the default" when a value was not given, for a message. */
const char *manifest_given_note(bool given);

/* Parses services[i] of the document into m->services[i] (manifest_service.c). */
int manifest_parse_service(json_t *js, size_t i, struct manifest *m, struct manifest_error *err);

#endif
