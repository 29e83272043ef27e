/* A spool: events that must reach a consumer, kept by their publisher and
 * published again until the consumer acknowledges them.
 *
 * The monitors (alert.fired) and the audit (audit.report) publish through
 * a spool; the notifier, once it has committed an event to its outbox,
 * publishes `notify.ack` {id}. An event not acknowledged within
 * `resend_ms` is published again, and again, until it is: so an alert
 * fired while the notifier was down, or cut off from the bus, or in
 * another process behind a log server that was restarting, still reaches
 * it once it is back. The notifier deduplicates by id (its idempotency
 * keys), so a resend is never delivered twice.
 *
 * Bounds: at most `max` events are kept; past that the oldest is dropped,
 * logged and counted. The spool is in memory: what a stopped publisher had
 * not got acknowledged is not resent by the next run (docs/monitors.md,
 * "Running monitors and notify apart"). Loop thread only. */
#ifndef CS_BUS_SPOOL_H
#define CS_BUS_SPOOL_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "core/bus.h"

#define CS_SPOOL_ACK "notify.ack" /* the acknowledgement's event type; field `id` */
#define CS_SPOOL_DEFAULT_MAX 10000
#define CS_SPOOL_DEFAULT_RESEND_MS 5000

typedef struct cs_spool cs_spool; /* struct cs_spool in other headers */

typedef struct cs_spool_opts {
    uv_loop_t *loop;
    cs_bus *bus;
    const char *name;   /* for logs and the subscription; borrowed */
    size_t max;         /* 0: CS_SPOOL_DEFAULT_MAX */
    uint64_t resend_ms; /* 0: CS_SPOOL_DEFAULT_RESEND_MS */
} cs_spool_opts;

typedef struct cs_spool_stats {
    size_t kept;      /* waiting for an acknowledgement */
    uint64_t acked;   /* acknowledged */
    uint64_t resent;  /* publications again */
    uint64_t dropped; /* given up at the bound */
} cs_spool_stats;

/* Subscribes to CS_SPOOL_ACK on bus. *out: cs_spool_close. */
int cs_spool_new(const cs_spool_opts *o, cs_spool **out);
/* Unsubscribes, releases what is kept; freed from a close callback. */
void cs_spool_close(cs_spool *s);

/* Publishes ev (borrowed: the spool takes a reference) and keeps it until
 * an acknowledgement names id. An id already kept is replaced. */
int cs_spool_publish(cs_spool *s, const char *id, cs_event *ev);
/* The same for an event the caller has published already. */
int cs_spool_keep(cs_spool *s, const char *id, cs_event *ev);
void cs_spool_get_stats(const cs_spool *s, cs_spool_stats *out);

#endif
