/* What `chainscope run` hands to every component it starts: one loop, one
 * bus, one metrics registry, the HTTP server (for routes), the config.
 *
 * A component is described by a cs_component_def and listed in the table of
 * src/cli/components.c together with its config section. */
#ifndef CS_CORE_RUNTIME_H
#define CS_CORE_RUNTIME_H

#include <uv.h>

#include "core/bus.h"
#include "core/metrics.h"

struct cs_http_server;
struct cs_config;

typedef struct cs_runtime {
    uv_loop_t *loop;
    cs_bus *bus;
    cs_metrics *metrics;
    struct cs_http_server *http;    /* NULL when http is disabled */
    const struct cs_config *config; /* valid while the component runs */
    const char *node;               /* this instance's name, for origins */
} cs_runtime;

typedef struct cs_component_def {
    const char *section; /* its config section; the component runs when present */
    /* Starts with the parsed section (borrowed for the component's life).
     * *state is the component's own; returns 0 or an error, leaving nothing
     * open on error. */
    int (*start)(cs_runtime *rt, void *conf, void **state);
    /* Closes every handle; calls done(arg) once everything is freed. */
    void (*stop)(void *state, void (*done)(void *arg), void *arg);
    /* Applies a new parsed section on SIGHUP (NULL: restart needed). The
     * component takes the new conf and frees its old one. */
    int (*reload)(void *state, void *conf);
} cs_component_def;

#endif
