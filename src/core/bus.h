/* The in-process bus: every source publishes here, every sink subscribes.
 *
 * Publishing never blocks and never calls a subscriber: it takes a reference
 * to the event for each subscriber whose filter matches and puts it on that
 * subscriber's bounded queue. Queues are drained on the loop (a uv_idle runs
 * while any queue holds events) or by cs_bus_drain when there is no loop.
 *
 * Queues grow on demand (a subscription with a large bound costs a few
 * hundred bytes until events arrive) and shrink again once drained. Each is
 * bounded in events (queue_max) and in bytes (queue_bytes, the sum of the
 * queued records' sizes); an empty queue always takes one event, so a record
 * larger than queue_bytes still passes one at a time.
 *
 * At the bound, by policy:
 *   CS_SUB_DROP      the new event is lost and the drop counter grows;
 *   CS_SUB_CUTOFF    the subscription is removed, its on_cutoff runs once;
 *   CS_SUB_LOSSLESS  nothing is dropped: the bounds are a high mark. Above it
 *                    the bus is "pressed" (see cs_bus_watch_pressure) and
 *                    sources slow down; the queue keeps growing up to the
 *                    hard bound, CS_BUS_LOSSLESS_HARD times the high mark,
 *                    where the subscription is cut off (on_cutoff runs, a
 *                    warning is logged, cs_bus_cutoffs counts it).
 * Memory is bounded by the sum of the queue bounds (hard bounds for lossless
 * subscriptions).
 *
 * Pressure: the bus is pressed while any lossless queue is above its high
 * mark; it is released when every lossless queue is at or below its low mark
 * (half the high mark, in events and in bytes) or gone.
 * Watchers hear of each change.
 *
 * Barriers: cs_bus_barrier's callback runs once every event published before
 * it has been delivered to every subscription that existed at the call. A
 * subscription with on_barrier (one that forwards events out of the process)
 * is counted done only when it calls cs_sub_barrier_done.
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
typedef struct cs_sub_barrier cs_sub_barrier;
/* The subscription has been handed every event published before a barrier;
 * it owns b and calls cs_sub_barrier_done(b) exactly once, now or later
 * (after its unsubscribe too), when those events have left the process. */
typedef void (*cs_sub_barrier_cb)(cs_sub *sub, cs_sub_barrier *b, void *arg);
typedef void (*cs_bus_barrier_cb)(void *arg);
typedef void (*cs_bus_pressure_cb)(cs_bus *bus, int pressed, void *arg);
typedef struct cs_bus_watch cs_bus_watch;

enum cs_sub_policy { CS_SUB_DROP, CS_SUB_CUTOFF, CS_SUB_LOSSLESS };

typedef struct cs_sub_opts {
    const char *const *filters; /* subject filters; NULL or empty: ">" */
    size_t nfilters;
    size_t queue_max;   /* events; 0: CS_BUS_DEFAULT_QUEUE (lossless: the high mark) */
    size_t queue_bytes; /* bytes; 0: CS_BUS_DEFAULT_QUEUE_BYTES (lossless: the high mark) */
    enum cs_sub_policy policy;
    cs_sub_cb cb;
    cs_sub_cutoff_cb on_cutoff;   /* CS_SUB_CUTOFF and CS_SUB_LOSSLESS; may be NULL */
    cs_sub_barrier_cb on_barrier; /* NULL: done once the events are delivered */
    void *arg;
    const char *name; /* for logs and metrics */
} cs_sub_opts;

#define CS_BUS_DEFAULT_QUEUE 65536
#define CS_BUS_DEFAULT_QUEUE_BYTES (64u << 20)
#define CS_BUS_LOSSLESS_HARD 4 /* hard bound of a lossless queue, in high marks */
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

/* A paused subscription gets no callbacks (nor barrier calls); its queue
 * fills and, if lossless, presses the bus. Resume delivers what queued. */
void cs_sub_pause(cs_sub *sub);
void cs_sub_resume(cs_sub *sub);
int cs_sub_paused(const cs_sub *sub);

/* Runs cb(arg) on the loop (or in cs_bus_drain without one), never inside
 * this call, once every event published before the call (including events
 * already in the inbox) has been delivered to every subscription that
 * existed at the call; a subscription that goes away counts as done. If the
 * bus closes first, cb never runs. Errors: CS_ENOMEM (cb will not run). */
int cs_bus_barrier(cs_bus *bus, cs_bus_barrier_cb cb, void *arg);
/* Ends a barrier mark handed to on_barrier; b is invalid afterwards. */
void cs_sub_barrier_done(cs_sub_barrier *b);

/* 1 while some lossless queue is above its high mark. */
int cs_bus_pressed(const cs_bus *bus);
/* cb(bus, pressed, arg) runs on each change of cs_bus_pressed, from inside
 * publish or drain: it must not publish. *out is owned by the bus until
 * cs_bus_unwatch_pressure (safe inside the callback) or cs_bus_close. */
int cs_bus_watch_pressure(cs_bus *bus, cs_bus_pressure_cb cb, void *arg, cs_bus_watch **out);
void cs_bus_unwatch_pressure(cs_bus_watch *w);

uint64_t cs_sub_dropped(const cs_sub *sub);
size_t cs_sub_queued(const cs_sub *sub);
size_t cs_sub_queued_bytes(const cs_sub *sub);
/* Bytes the queue holds allocated (its ring), for tests and metrics. */
size_t cs_sub_allocated(const cs_sub *sub);
const char *cs_sub_name(const cs_sub *sub);
uint64_t cs_bus_published(const cs_bus *bus);
/* Events lost at a queue's bound, over every subscription ever (including
 * those gone), and subscriptions cut off. */
uint64_t cs_bus_dropped(const cs_bus *bus);
uint64_t cs_bus_cutoffs(const cs_bus *bus);
/* Times the bus became pressed. */
uint64_t cs_bus_pressure_count(const cs_bus *bus);
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
