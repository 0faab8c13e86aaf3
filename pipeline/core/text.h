/* Texts for people, cut to the room a record or an event has. One place,
 * so that every cut looks the same to a reader: whole characters, then
 * "...". Pure. */
#ifndef CHIMERA_PIPELINE_CORE_TEXT_H
#define CHIMERA_PIPELINE_CORE_TEXT_H

#include <stddef.h>

/* text into out (cap bytes); text that does not fit is cut, never inside
 * a UTF-8 character, and ends in "..." so that a reader sees it was cut.
 * Only the first cap bytes of text are read past its length check, so a
 * text already cut at cap or more bytes (snprintf into cap + 1) cuts the
 * same as the whole of it. */
void pl_cut_text(char *out, size_t cap, const char *text);

/* s made UTF-8 in place: each byte that does not belong to a well-formed
 * character (a stray byte off the wire, what a "%.100s" left of a cut
 * character) becomes '?', so that the text is a JSON string. Returns how
 * many bytes it changed. */
size_t pl_clean_text(char *s);

#endif
