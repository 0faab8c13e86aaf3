/* Durations in the nodes' event text, for the benchmarks and tests that
 * read them back: written as drill files write them ("412ms", "2s685ms",
 * "1m"; manifest_format_duration). */
#ifndef CHIMERA_HARNESS_DURATION_H
#define CHIMERA_HARNESS_DURATION_H

/* The duration that text starts with, in ms; -1 when it starts with none. */
long h_duration_ms(const char *text);

#endif
