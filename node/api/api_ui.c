/* GET /ui/...: the console (README "Console"), served from the assets
 * compiled into chimerad (ui/embed.cmake, node/api/ui_assets.h). Each file
 * has a strong ETag (a hash of its bytes, made at build time) and
 * "Cache-Control: no-cache": a browser may keep a copy but asks each time
 * (If-None-Match; 304 when it is current), so it never mixes an index.html
 * of one chimerad version with an app.js cached from another after an
 * upgrade, and does not fetch the same bytes again otherwise. */
#include <string.h>

#include "node/api/api.h"
#include "node/api/ui_assets.h"

static const struct ui_asset *find_asset(const char *name)
{
    for (size_t i = 0; i < ui_nassets; i++)
        if (strcmp(ui_assets[i].name, name) == 0)
            return &ui_assets[i];
    return NULL;
}

void api_ui_get(struct node_api *api, struct http_request *req)
{
    (void)api;
    if (strcmp(req->path, "/ui") == 0) {
        /* The page's relative URLs (app.js, style.css) need the slash. */
        http_respond_redirect(req, 308, "/ui/", NULL);
        return;
    }
    const char *name = req->path + strlen("/ui/");
    const struct ui_asset *a = find_asset(name[0] ? name : "index.html");
    if (!a) {
        http_respond_error(req, 404, "%s %s: no such file of the console", req->method, req->path);
        return;
    }
    req->cache_control = "no-cache";
    req->etag = a->etag;
    if (http_etag_matches(req->if_none_match, a->etag))
        http_respond(req, 304, a->content_type, "", 0);
    else
        http_respond(req, 200, a->content_type, (const char *)a->data, a->size);
}
