/* The console's assets, compiled into chimerad (ui/embed.cmake writes the
 * table from ui/ at build time; api_ui.c serves it at GET /ui/). */
#ifndef CHIMERA_NODE_API_UI_ASSETS_H
#define CHIMERA_NODE_API_UI_ASSETS_H

#include <stddef.h>

struct ui_asset {
    const char *name; /* as served under /ui/ */
    const char *content_type;
    const unsigned char *data;
    size_t size;
    const char *etag; /* strong, quoted: "<128 bits of its SHA-256 in hex>" */
};

extern const struct ui_asset ui_assets[];
extern const size_t ui_nassets;

#endif
