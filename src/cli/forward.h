/* Forwards events from the in-process bus to a running log server through
 * the client library (include/chainscope/client.h), for commands that run
 * a component on their own (crawl --publish). The client library blocks,
 * so it runs on a thread of its own; the loop thread only queues event
 * references. The queue is bounded: past `queue_max` events the newest are
 * dropped and counted. */
#ifndef CS_CLI_FORWARD_H
#define CS_CLI_FORWARD_H

#include <stddef.h>
#include <stdint.h>

#include "core/bus.h"

typedef struct cs_forward cs_forward;

typedef struct cs_forward_stats {
    uint64_t sent;    /* events the server acknowledged or was handed */
    uint64_t dropped; /* lost at the queue bound or after a write error */
} cs_forward_stats;

/* Connects to address (a socket path or tcp:HOST:PORT; token from
 * $CHAINSCOPE_TOKEN) as `name`, waiting up to 5 s: call it before the loop
 * runs. Then subscribes to filters on bus and starts the thread. On error
 * nothing is left open and err says why. *out is freed by cs_forward_finish. */
int cs_forward_start(cs_bus *bus, const char *const *filters, size_t nfilters, const char *address,
                     const char *name, size_t queue_max, cs_forward **out, char *err,
                     size_t errlen);

/* Unsubscribes, lets the thread write what is queued and wait up to
 * timeout_ms for the server's acknowledgement, joins it and frees f. Call
 * after the loop has stopped and the bus was drained. Returns 0, or the
 * first error (its reason in err). */
int cs_forward_finish(cs_forward *f, int timeout_ms, cs_forward_stats *stats, char *err,
                      size_t errlen);

#endif
