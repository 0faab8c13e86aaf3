/* See histogram.h. */
#include "node/base/histogram.h"

#include <inttypes.h>

void histogram_init(struct histogram *h, const double *le, size_t nb)
{
    *h =
        (struct histogram){.le = le, .nb = nb < HISTOGRAM_MAX_BUCKETS ? nb : HISTOGRAM_MAX_BUCKETS};
}

void histogram_observe(struct histogram *h, double v)
{
    if (!(v > 0))
        v = 0; /* a negative duration is a clock's artefact; NaN too */
    size_t b = 0;
    while (b < h->nb && v > h->le[b])
        b++;
    h->count[b]++;
    h->n++;
    h->sum += v;
}

void histogram_observe_ns(struct histogram *h, uint64_t start_ns, uint64_t end_ns)
{
    histogram_observe(h, end_ns > start_ns ? (double)(end_ns - start_ns) / 1e9 : 0);
}

void histogram_header(FILE *f, const char *name, const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
}

void histogram_write(FILE *f, const char *name, const char *labels, const struct histogram *h)
{
    const char *sep = labels[0] ? "," : "";
    uint64_t cum = 0;
    for (size_t b = 0; b < h->nb; b++) {
        cum += h->count[b];
        fprintf(f, "%s_bucket{%s%sle=\"%g\"} %" PRIu64 "\n", name, labels, sep, h->le[b], cum);
    }
    fprintf(f, "%s_bucket{%s%sle=\"+Inf\"} %" PRIu64 "\n", name, labels, sep, h->n);
    const char *open = labels[0] ? "{" : "", *close = labels[0] ? "}" : "";
    fprintf(f, "%s_sum%s%s%s %.6f\n", name, open, labels, close, h->sum);
    fprintf(f, "%s_count%s%s%s %" PRIu64 "\n", name, open, labels, close, h->n);
}

char *histogram_label_value(const char *value, char *out, size_t cap)
{
    size_t k = 0;
    for (const char *p = value; *p && cap > 0; p++) {
        const char *esc = *p == '\\' ? "\\\\" : *p == '"' ? "\\\"" : *p == '\n' ? "\\n" : NULL;
        size_t need = esc ? 2 : 1;
        if (k + need >= cap)
            break;
        if (esc) {
            out[k++] = esc[0];
            out[k++] = esc[1];
        } else
            out[k++] = *p;
    }
    if (cap > 0)
        out[k] = '\0';
    return out;
}
