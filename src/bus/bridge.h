/* A bridge between the in-process bus and another process's log server
 * (config `bus.connect`), so that components of one deployment run in
 * several processes: events matching `bus.import` come from the server
 * onto this bus, events matching `bus.export` go from this bus to the
 * server. A notify-only process imports alert.fired and audit.report and
 * exports notify.ack (docs/monitors.md, "Running monitors and notify
 * apart").
 *
 * The client library blocks, so the bridge runs on a thread of its own;
 * the loop only queues event references for export. When the server goes
 * away (a restart) the thread connects again every second and subscribes
 * again; what was published meanwhile is not replayed by the server, which
 * is why alerts and reports come through spools (bus/spool.h).
 *
 * Bounds: at most `queue_max` events wait for export; past that the
 * newest are dropped and counted. Imports go through
 * cs_bus_publish_threadsafe (its inbox bound; a full inbox drops and
 * counts). The import and export filters must not overlap, or an event
 * would go round. */
#ifndef CS_BUS_BRIDGE_H
#define CS_BUS_BRIDGE_H

#include <stddef.h>
#include <stdint.h>

#include "core/bus.h"

typedef struct cs_bridge cs_bridge;

typedef struct cs_bridge_opts {
    const char *address; /* socket path or tcp:HOST:PORT (token from $CHAINSCOPE_TOKEN) */
    const char *name;    /* this process, in the server's logs */
    const char *const *import;
    size_t nimport;
    const char *const *export_;
    size_t nexport;
    size_t queue_max; /* 0: 65536 */
} cs_bridge_opts;

typedef struct cs_bridge_stats {
    uint64_t imported, exported, dropped, connects;
} cs_bridge_stats;

/* Subscribes to the export filters on bus and starts the thread (which
 * connects, and connects again, on its own). Strings are copied. */
int cs_bridge_start(cs_bus *bus, const cs_bridge_opts *o, cs_bridge **out);
/* Unsubscribes, stops and joins the thread (what waits for export is
 * given up to 2 s), frees b. */
void cs_bridge_stop(cs_bridge *b, cs_bridge_stats *stats);

#endif
