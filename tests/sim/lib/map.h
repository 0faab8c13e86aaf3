/* A small open-addressing hash map from (term, member) to an int32 value:
 * the checker's history (term -> leader, (term, voter) -> vote, (term,
 * candidate) -> granters). Terms are unbounded, so no arrays indexed by term. */
#ifndef SIM_MAP_H
#define SIM_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tmap_ent {
    uint64_t term;
    int32_t key; /* INT32_MIN: empty slot */
    int32_t val;
};

struct tmap {
    struct tmap_ent *e;
    size_t cap, len;
};

void tmap_init(struct tmap *m);
void tmap_free(struct tmap *m);
/* The value stored for (term, key), or NULL. */
int32_t *tmap_get(struct tmap *m, uint64_t term, int32_t key);
/* The value stored for (term, key), inserting init first if absent; *added
 * tells which. */
int32_t *tmap_put(struct tmap *m, uint64_t term, int32_t key, int32_t init, bool *added);

#endif
