/* Reading a msgpack map by key: the one lookup shared by every decoder of
 * maps (the node's payloads, the chaos records), pure and bounded by the
 * map's own size. */
#ifndef CHIMERA_WIRE_MAP_H
#define CHIMERA_WIRE_MAP_H

#include <msgpack.h>

/* The value under the string key in map, or NULL when map is not a map or
 * holds no such key (the first one wins; decoders reject duplicates where
 * it matters). */
const msgpack_object *wire_map_get(const msgpack_object *map, const char *key);

#endif
