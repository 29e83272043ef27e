/* The `dashboard` component of `chainscope run`: a sink. It runs when the
 * config has a dashboard: section and the HTTP server is on; it subscribes
 * to the bus (its `filter`, default everything) and serves on that server
 * the pages at / (assets embedded in the binary), the JSON APIs under
 * /api/, and the live feed (/api/events as Server-Sent Events, /api/ws as
 * WebSocket). docs/dashboard.md describes every page, API and key. */
#ifndef CS_WEB_COMPONENT_H
#define CS_WEB_COMPONENT_H

#include <stdint.h>

#include "config/config.h"
#include "core/runtime.h"

typedef struct cs_web_conf {
    char **filters; /* what the dashboard subscribes to; NULL: ">" */
    size_t nfilters;
    uint64_t ring, ring_bytes, client_buffer, max_clients, queue;
    double sla; /* percent, drawn on the audit page */
} cs_web_conf;

int cs_web_conf_parse(cs_cfg *c, struct fy_node *n, void **out);
void cs_web_conf_free(void *conf);
int cs_web_start(cs_runtime *rt, void *conf, void **state);
void cs_web_stop(void *state, void (*done)(void *arg), void *arg);

#endif
