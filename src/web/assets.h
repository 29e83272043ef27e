/* The dashboard's files (src/web/assets/), turned into C at build time by
 * scripts/embed-assets: no network and no files needed at run time. */
#ifndef CS_WEB_ASSETS_H
#define CS_WEB_ASSETS_H

#include <stddef.h>

typedef struct cs_web_asset {
    const char *name; /* file name: "app.js" */
    const char *type; /* Content-Type */
    const unsigned char *data;
    size_t len;
} cs_web_asset;

extern const cs_web_asset cs_web_assets[];
extern const size_t cs_web_nassets;

#endif
