/* chimeractl ledger note TEXT... | ledger note -: operator notes, committed
 * through the leader in one batch (POST /ledger/notes with the admin token;
 * a follower's 307 is followed like deploy's, deploy_conn.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/deploy_int.h"

static int usage(const char *what, const char *arg)
{
    fprintf(stderr, "chimeractl: ledger note: %s%s%s%s (see chimeractl ledger note --help)\n", what,
            arg ? " '" : "", arg ? arg : "", arg ? "'" : "");
    return CTL_USAGE;
}

/* Appends one note; CTL_OK or CTL_USAGE (said). Its size and the count
 * are the node's to judge (400 naming notes[i]): one rule, in one place. */
static int add_note(json_t *notes, const char *text, size_t len)
{
    json_t *s = json_stringn(text, len);
    if (!s) {
        fprintf(stderr, "chimeractl: ledger note: note %zu is not valid UTF-8\n",
                json_array_size(notes) + 1);
        return CTL_USAGE;
    }
    json_array_append_new(notes, s);
    return CTL_OK;
}

/* Each non-empty line of stdin is a note. */
static int read_stdin(json_t *notes)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    int rc = CTL_OK;
    while (rc == CTL_OK && (got = getline(&line, &cap, stdin)) >= 0) {
        size_t len = (size_t)got;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            len--;
        if (len > 0)
            rc = add_note(notes, line, len);
    }
    if (rc == CTL_OK && ferror(stdin)) {
        fprintf(stderr, "chimeractl: ledger note: cannot read stdin: %m\n");
        rc = CTL_FAILED;
    }
    free(line);
    return rc;
}

static void print_committed(const json_t *a, size_t count)
{
    json_int_t first = json_integer_value(json_object_get(a, "first_index"));
    json_int_t last = json_integer_value(json_object_get(a, "last_index"));
    json_int_t term = json_integer_value(json_object_get(a, "term"));
    if (count == 1)
        printf("committed the note at index %" JSON_INTEGER_FORMAT " (term %" JSON_INTEGER_FORMAT
               ")\n",
               first, term);
    else
        printf("committed %zu notes at indexes %" JSON_INTEGER_FORMAT "..%" JSON_INTEGER_FORMAT
               " (term %" JSON_INTEGER_FORMAT ")\n",
               count, first, last, term);
}

int ctl_cmd_ledger_note(const struct ctl_opts *o, int argc, char **argv)
{
    json_t *notes = json_array();
    bool from_stdin = false, only_text = false;
    int rc = notes ? CTL_OK : CTL_FAILED;
    for (int i = 2; i < argc && rc == CTL_OK; i++) {
        const char *a = argv[i];
        if (!only_text && strcmp(a, "--") == 0)
            only_text = true;
        else if (!only_text && strcmp(a, "-") == 0)
            from_stdin = true;
        else if (!only_text && a[0] == '-')
            rc = ctl_nearest_option("ledger note", a)
                     ? ctl_bad_argument("ledger note", a)
                     : usage("unknown option (a note starting with '-' goes after --)", a);
        else
            rc = add_note(notes, a, strlen(a));
    }
    if (rc == CTL_OK && from_stdin && json_array_size(notes) > 0)
        rc = usage("either TEXT arguments or - (stdin), not both", NULL);
    if (rc == CTL_OK && from_stdin)
        rc = read_stdin(notes);
    if (rc == CTL_OK && json_array_size(notes) == 0)
        rc = usage(from_stdin ? "stdin held no note (no non-empty line)"
                              : "needs the TEXT of a note (or - to read lines from stdin)",
                   NULL);
    char *payload = NULL;
    const char *token = NULL;
    if (rc == CTL_OK) {
        json_t *body = json_pack("{s:O}", "notes", notes);
        payload = body ? json_dumps(body, JSON_COMPACT) : NULL;
        json_decref(body);
        rc = payload ? CTL_OK : CTL_FAILED;
    }
    if (rc == CTL_OK && !(token = ctl_token_for(o, "ledger note")))
        rc = CTL_USAGE;
    struct ctl_conn c;
    if (rc == CTL_OK && ctl_conn_open(&c, o) != 0)
        rc = CTL_FAILED;
    if (rc != CTL_OK) {
        free(payload);
        json_decref(notes);
        return rc;
    }
    struct ctl_reply r;
    int got = ctl_conn_post(&c, "/ledger/notes", payload, token, &r);
    free(payload);
    enum ctl_outcome oc = ctl_outcome_of_reply(got, &r);
    if (oc == CTL_O_OK && !json_is_integer(json_object_get(r.json, "first_index")))
        oc = CTL_O_FAILED;
    if (oc == CTL_O_OK && o->json) {
        json_dumpf(r.json, stdout, JSON_INDENT(2) | CTL_JSON_REAL);
        putchar('\n');
    } else if (oc == CTL_O_OK) {
        print_committed(r.json, json_array_size(notes));
    } else if (oc == CTL_O_UNAVAILABLE && got == 0 &&
               !json_is_true(json_object_get(r.json, "read_only"))) {
        ctl_say_failure("ledger note", got, &r);
        fprintf(stderr, "chimeractl: ledger note: the notes may or may not be committed: check "
                        "chimeractl ledger tail\n");
    } else {
        ctl_say_failure("ledger note", got, &r);
    }
    rc = ctl_exit_code(CTL_FAM_COMMON, oc);
    ctl_reply_free(&r);
    ctl_conn_close(&c);
    json_decref(notes);
    return rc;
}
