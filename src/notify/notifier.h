/* The notifier: takes alerts (cs_notifier_alert) and ready-made messages
 * (cs_notifier_send), records each alert, renders it for each of its
 * channels into the outbox, and delivers the outbox: retries with
 * exponential backoff and jitter, a rate limit and a bound on requests in
 * flight per channel, an idempotency key on every request (at-least-once
 * delivery; receivers deduplicate by the key). Pending notifications
 * survive a restart: a new notifier on the same outbox resumes them.
 *
 * Every outbox statement runs on a worker thread (uv_queue_work), one job
 * at a time: a job writes what was queued since the last one in one
 * transaction, prunes by age and count now and then, and reads the rows
 * that are due. The loop thread renders and sends; it never waits on the
 * disk. The notifier knows nothing of monitors or audits: what it gets is
 * plain strings and an alert document. */
#ifndef CS_NOTIFY_NOTIFIER_H
#define CS_NOTIFY_NOTIFIER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "config/config.h"
#include "core/value.h"
#include "notify/channel.h"
#include "notify/conf.h"
#include "notify/transport.h"

typedef struct cs_notifier cs_notifier;

/* A receiver's Retry-After (on 429 and 503) delays the next attempt at
 * least that long, up to this bound. */
#define CS_NOTIFY_MAX_RETRY_AFTER_S 3600

typedef struct cs_notifier_opts {
    uv_loop_t *loop;
    const char *outbox_path;
    const cs_channels_conf *channels; /* borrowed: must outlive the notifier */
    cs_notify_http_fn http;           /* NULL: the shared HTTP client (net/http_client.h) */
    void *http_impl;
    uint32_t max_attempts;
    uint64_t backoff_ms, max_backoff_ms;
    uint64_t sweep_ms;    /* how often the outbox is looked at; default 200 */
    size_t max_in_flight; /* per channel; default 4 */
    /* channels of an alert that names none, per severity (index as in
     * notify/conf.h); borrowed: must outlive the notifier */
    char **const *defaults;
    const size_t *ndefaults;
    uint64_t keep_ms;   /* sent rows and alert records; 0: CS_NOTIFY_KEEP_MS */
    uint64_t keep_rows; /* 0: CS_NOTIFY_KEEP_ROWS */
    uint64_t prune_ms;  /* how often retention runs; 0: once a minute */
    /* runs on the loop once the alert or message with this id is committed
     * to the outbox (what an acknowledgement to its publisher may say);
     * may be NULL */
    void (*on_stored)(const char *id, void *arg);
    void *arg;
} cs_notifier_opts;

typedef struct cs_notifier_stats {
    uint64_t matches;    /* recorded */
    uint64_t queued;     /* notifications added to the outbox */
    uint64_t duplicates; /* already in the outbox (same idempotency key) */
    uint64_t sent;
    uint64_t retries;
    uint64_t dead;
    uint64_t unknown_channel;
    uint64_t render_errors;
    uint64_t rate_limited; /* deliveries put off by a channel's rate limit */
    uint64_t pruned;       /* rows deleted by retention */
    uint64_t db_bytes;     /* the outbox's size at the last job */
    size_t in_flight;
} cs_notifier_stats;

int cs_notifier_new(const cs_notifier_opts *o, cs_notifier **out, char *err, size_t errlen);
/* Stops delivering, cancels what is in flight (it stays pending in the
 * outbox), closes the outbox; done(arg) runs once everything is freed. */
void cs_notifier_close(cs_notifier *n, void (*done)(void *arg), void *arg);

/* An alert (a monitor's match that its policy let through). Strings and
 * doc are borrowed for the call. */
typedef struct cs_notify_alert {
    const char *id;       /* stable: its idempotency keys derive from it */
    const char *monitor;  /* who raised it (the outbox's monitor column) */
    const char *network;  /* may be NULL */
    int64_t time_ns;      /* of the matched event */
    const char *severity; /* low, medium, high: picks defaults when no channels */
    const char *const *channels;
    size_t nchannels;
    const char *title, *message; /* templates (notify/template.h); NULL: the channel's */
    cs_val doc;                  /* the alert document (an object) */
} cs_notify_alert;

/* Renders a for each of its channels (or its severity's defaults) and
 * queues the notifications; an alert id already queued is not queued
 * again. A channel not configured is logged and counted as
 * unknown_channel. Returns how many notifications were rendered. */
int cs_notifier_alert(cs_notifier *n, const cs_notify_alert *a);

/* A ready-made message for named channels (an audit report), queued in
 * the outbox like an alert and delivered the same way. Strings are
 * borrowed for the call. */
typedef struct cs_notify_msg {
    const char *id;      /* unique per message: its idempotency keys derive from it */
    const char *source;  /* who sends it, kept in the outbox's monitor column */
    const char *subject; /* one line */
    const char *text;    /* plain text; chat shows it as a code block */
    const char *html;    /* the email's HTML part; NULL: the text, preformatted */
    const char *json;    /* what webhooks and scripts get, PagerDuty's details (an object) */
    const char *const *channels;
    size_t nchannels;
} cs_notify_msg;

/* Queues m for each of its channels and kicks delivery. Returns how many
 * were rendered (an id already queued is not queued again), or an error;
 * a channel not configured is logged and counted as unknown_channel. */
int cs_notifier_send(cs_notifier *n, const cs_notify_msg *m);

/* Writes and commits what is queued so far on the calling thread (a
 * worker job does it otherwise; a clean close does it too). Waits for a
 * job in flight first. */
int cs_notifier_commit(cs_notifier *n);

/* Looks at the outbox now rather than at the next sweep. */
void cs_notifier_kick(cs_notifier *n);
/* Runs cb(arg) on the loop once everything handed to the notifier before
 * this call is committed to the outbox: inside this call when nothing
 * waits, and at the latest when the notifier is freed. Callbacks run in
 * call order. Errors: CS_ENOMEM (cb will not run). */
int cs_notifier_when_stored(cs_notifier *n, void (*cb)(void *), void *arg);
void cs_notifier_get_stats(const cs_notifier *n, cs_notifier_stats *out);

/* The idempotency key of an alert on a channel: 32 hex digits of
 * SHA-256(match id "\n" channel). */
void cs_notify_key(const char *match_id, const char *channel, char out[33]);

#endif
