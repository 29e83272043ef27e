/* The notifier: takes the monitor engine's matches, records each one,
 * renders the notified ones for each of their channels into the outbox,
 * and delivers the outbox: retries with exponential backoff and jitter, a
 * rate limit and a bound on requests in flight per channel, an
 * idempotency key on every request (at-least-once delivery; receivers
 * deduplicate by the key). Pending notifications survive a restart: a new
 * notifier on the same outbox resumes them. */
#ifndef CS_NOTIFY_NOTIFIER_H
#define CS_NOTIFY_NOTIFIER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "config/config.h"
#include "notify/channel.h"
#include "notify/transport.h"
#include "rules/monitor.h"

/* The `notify:` config section. */
typedef struct cs_notify_conf {
    char *outbox;                  /* SQLite file; default chainscope-outbox.db */
    char **defaults[CS_SEV_COUNT]; /* channels per severity */
    size_t ndefaults[CS_SEV_COUNT];
    char **explorer_net, **explorer_url; /* network -> explorer base URL */
    size_t nexplorers;
    uint32_t max_attempts;   /* default 12 */
    uint64_t backoff_ms;     /* first retry delay; default 1000 */
    uint64_t max_backoff_ms; /* default 600000 */
} cs_notify_conf;

int cs_notify_conf_parse(cs_cfg *c, struct fy_node *node, void **out);
void cs_notify_conf_free(void *conf);

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
    size_t in_flight;
} cs_notifier_stats;

int cs_notifier_new(const cs_notifier_opts *o, cs_notifier **out, char *err, size_t errlen);
/* Stops delivering, cancels what is in flight (it stays pending in the
 * outbox), closes the outbox; done(arg) runs once everything is freed. */
void cs_notifier_close(cs_notifier *n, void (*done)(void *arg), void *arg);

/* A cs_match_cb for the monitor engine: arg is the notifier. */
void cs_notifier_on_match(const cs_match *m, void *arg);

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
 * were queued (an id already queued counts as done, not again), or an
 * error; a channel not configured is logged and counted as
 * unknown_channel. */
int cs_notifier_send(cs_notifier *n, const cs_notify_msg *m);

/* Commits the notifications queued so far (the sweep does it before it
 * sends; a clean close does it too). */
int cs_notifier_commit(cs_notifier *n);

/* Looks at the outbox now rather than at the next sweep. */
void cs_notifier_kick(cs_notifier *n);
void cs_notifier_get_stats(const cs_notifier *n, cs_notifier_stats *out);

/* The idempotency key of an alert on a channel: 32 hex digits of
 * SHA-256(match id "\n" channel). */
void cs_notify_key(const char *match_id, const char *channel, char out[33]);

#endif
