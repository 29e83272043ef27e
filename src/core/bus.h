/* The in-process bus: every source publishes here, every sink subscribes.
 *
 * Publishing never blocks and never calls a subscriber: it takes a reference
 * to the event for each subscriber whose filter matches and puts it on that
 * subscriber's bounded queue. Queues are drained on the loop (a uv_idle runs
 * while any queue holds events) or by cs_bus_drain when there is no loop.
 *
 * At the bound: a subscriber whose queue is full loses the new event and its
 * drop counter grows (CS_SUB_DROP), or, with CS_SUB_CUTOFF, is unsubscribed
 * and its on_cutoff callback runs once. Memory is bounded by the sum of the
 * queue bounds.
 *
 * Threads: everything here runs on the loop thread, except
 * cs_bus_publish_threadsafe, which any thread may call. */
#ifndef CS_CORE_BUS_H
#define CS_CORE_BUS_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "core/event.h"
#include "core/value.h"

typedef struct cs_bus cs_bus;
typedef struct cs_sub cs_sub;

/* ev is borrowed: valid until the callback returns (cs_event_ref to keep). */
typedef void (*cs_sub_cb)(cs_sub *sub, cs_event *ev, void *arg);
typedef void (*cs_sub_cutoff_cb)(cs_sub *sub, void *arg);

enum cs_sub_policy { CS_SUB_DROP, CS_SUB_CUTOFF };

typedef struct cs_sub_opts {
    const char *const *filters; /* subject filters; NULL or empty: ">" */
    size_t nfilters;
    size_t queue_max; /* events; 0: CS_BUS_DEFAULT_QUEUE */
    enum cs_sub_policy policy;
    cs_sub_cb cb;
    cs_sub_cutoff_cb on_cutoff; /* CS_SUB_CUTOFF only; may be NULL */
    void *arg;
    const char *name; /* for logs and metrics */
} cs_sub_opts;

#define CS_BUS_DEFAULT_QUEUE 65536
#define CS_BUS_INBOX_MAX 65536 /* events queued from other threads */

/* loop may be NULL: then nothing is delivered until cs_bus_drain. */
int cs_bus_new(uv_loop_t *loop, cs_bus **out);
/* Closes the bus: drops every queued event and subscription. With a loop,
 * the bus's handles close asynchronously and the memory is freed from their
 * close callbacks; run the loop until it ends. */
void cs_bus_close(cs_bus *bus);

/* Subscribes. Errors: CS_EINVAL for a bad filter. *out is owned by the bus;
 * it stays valid until cs_bus_unsubscribe or a cut-off. */
int cs_bus_subscribe(cs_bus *bus, const cs_sub_opts *opts, cs_sub **out);
/* Removes a subscription and drops its queue. Safe inside any callback. */
void cs_bus_unsubscribe(cs_sub *sub);

/* Publishes ev (borrowed). Returns the number of queues it was put on. */
size_t cs_bus_publish(cs_bus *bus, cs_event *ev);
/* From any thread: takes over the caller's reference to ev. Returns
 * CS_ELIMIT (and releases ev) when the inbox is full. */
int cs_bus_publish_threadsafe(cs_bus *bus, cs_event *ev);

/* Delivers up to max events (0: until every queue is empty). Returns how
 * many were delivered. */
size_t cs_bus_drain(cs_bus *bus, size_t max);

uint64_t cs_sub_dropped(const cs_sub *sub);
size_t cs_sub_queued(const cs_sub *sub);
const char *cs_sub_name(const cs_sub *sub);
uint64_t cs_bus_published(const cs_bus *bus);
/* Calls fn for every live subscription (for metrics). */
void cs_bus_foreach_sub(cs_bus *bus, void (*fn)(cs_sub *sub, void *arg), void *arg);

/* A publisher: an origin and network that stamp events with a per-origin
 * sequence number. Embedded by each component instance. */
typedef struct cs_publisher {
    cs_bus *bus;
    const char *origin;  /* borrowed: must outlive the publisher */
    const char *network; /* default network; borrowed */
    uint64_t seq;
    cs_vw w; /* scratch writer for the payload */
} cs_publisher;

void cs_publisher_init(cs_publisher *p, cs_bus *bus, const char *origin, const char *network);
void cs_publisher_free(cs_publisher *p);
/* Starts a payload: returns the writer, with the payload object opened. */
cs_vw *cs_publisher_begin(cs_publisher *p);
/* Closes the payload object and publishes it as `type` about `key`
 * (network NULL: the publisher's). Returns 0 or an error; the event is
 * dropped on error. If out is not NULL it gets a reference to the event. */
int cs_publisher_emit(cs_publisher *p, const char *type, const char *network, const char *key,
                      cs_event **out);

#endif
