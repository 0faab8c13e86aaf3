/* Env files: the secrets of a service, kept out of the ledger. A manifest
 * names a file ("env_file": "/abs/path") that lives on each node; the node
 * reads it when it starts the service, so only the path is ever replicated.
 *
 * Format (docker compose's env_file, without its expansion):
 *   # a comment            blank lines and lines starting with '#' are skipped
 *   NAME=value             NAME is [A-Za-z_][A-Za-z0-9_]*, at most 128 bytes
 *   export NAME=value      an optional "export " prefix (shell-sourceable files)
 *   NAME = value           spaces around '=' and around an unquoted value are trimmed
 *   NAME=value # note      in an unquoted value, '#' after a space starts a comment
 *   NAME='a "b" # c'       single or double quotes: the bytes between them, as
 *   NAME="it's"            they are (no escapes, no expansion); only a comment
 *                          may follow the closing quote
 *   NAME=                  an empty value
 * "$" is never expanded. Lines end with "\n" or "\r\n". A name given twice,
 * a NUL byte anywhere, an unterminated quote, a value over 4096 bytes, more
 * than ENVFILE_MAX_ENTRIES variables or a file over ENVFILE_MAX_BYTES are
 * errors. Errors give the line and what is wrong, never the line's content:
 * a value is a secret, and so may be a mistyped line.
 *
 * envfile_parse is pure; the file is read by probe_env_file_read
 * (pipeline/exec/probe.h), the shell. */
#ifndef CHIMERA_PIPELINE_ENV_FILE_H
#define CHIMERA_PIPELINE_ENV_FILE_H

#include <stddef.h>

#define ENVFILE_MAX_BYTES (64u * 1024u) /* the whole file */
#define ENVFILE_MAX_ENTRIES 256
#define ENVFILE_NAME_MAX 128   /* bytes of a name, as a manifest's env */
#define ENVFILE_VALUE_MAX 4096 /* bytes of a value, as a manifest's env */

struct envfile_entry {
    char *kv;        /* "NAME=value", NUL-terminated: ready for an environment */
    size_t name_len; /* kv[name_len] is the '=' */
    size_t line;     /* 1-based line in the file */
};

struct envfile {
    struct envfile_entry *e; /* n entries, in the file's order */
    size_t n;
};

struct envfile_error {
    size_t line;       /* 0: the file as a whole (too big, out of memory) */
    char message[160]; /* "line 3: invalid variable name", never a value */
};

/* Parses len bytes (any bytes; not NUL-terminated necessarily) into *out.
 * Returns 0, or -1 with *err set and *out empty. */
int envfile_parse(const char *buf, size_t len, struct envfile *out, struct envfile_error *err);

/* Wipes the values (they are secrets) and releases them; *f is emptied.
 * NULL and an empty struct are accepted. */
void envfile_free(struct envfile *f);

/* Appends to env (which holds k entries, room for cap, not counting a NULL
 * the caller adds) the entries of f whose name none of env[0..k) sets:
 * what the manifest sets, and the node's own variables, win. Returns the new
 * count, at most cap. The strings stay f's. */
size_t envfile_merge(const struct envfile *f, const char **env, size_t k, size_t cap);

#endif
