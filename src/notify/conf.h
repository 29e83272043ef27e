/* The `notify:` config section (docs/monitors.md, "Notify"): where the
 * outbox lives, how long it keeps what it delivered, retries, the default
 * channels per severity and explorer links. Its presence in a config is
 * what starts the notify component of `chainscope run`.
 *
 * This header is the notifier's config contract: the components that publish
 * alerts and reports for it (rules/, audit/) may include it to check the
 * channel names they use and to read the severity defaults and explorer
 * links they put into what they publish. */
#ifndef CS_NOTIFY_CONF_H
#define CS_NOTIFY_CONF_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

/* severities, in the order of notify.defaults: low, medium, high */
#define CS_NOTIFY_NSEV 3
/* The index of a severity name ("low", "medium", "high"), or -1. */
int cs_notify_severity_index(const char *name);
const char *cs_notify_severity_name(int index);

/* Retention defaults (notify.keep, notify.keep_rows). */
#define CS_NOTIFY_KEEP_MS (7 * 24 * 3600 * 1000LL) /* sent rows and alert records: 7 days */
#define CS_NOTIFY_KEEP_ROWS 100000                 /* and at most this many of each */

typedef struct cs_notify_conf {
    char *outbox;                    /* SQLite file; default chainscope-outbox.db */
    char **defaults[CS_NOTIFY_NSEV]; /* channels per severity */
    size_t ndefaults[CS_NOTIFY_NSEV];
    char **explorer_net, **explorer_url; /* network -> explorer base URL */
    size_t nexplorers;
    uint32_t max_attempts;   /* default 12 */
    uint64_t backoff_ms;     /* first retry delay; default 1000 */
    uint64_t max_backoff_ms; /* default 600000 */
    uint64_t keep_ms;        /* default CS_NOTIFY_KEEP_MS */
    uint64_t keep_rows;      /* default CS_NOTIFY_KEEP_ROWS */
} cs_notify_conf;

/* The `channels:` section (notify/channel.h): the components that publish
 * for the notifier (monitors, the audit) check the channel names they use. */
typedef struct cs_channels_conf cs_channels_conf;
/* Whether every name is a channel of cc (NULL: none); if not, logs
 * "<what>: channel 'x' is not defined under channels:" and returns
 * CS_ECONFIG. */
int cs_channels_check(const cs_channels_conf *cc, const char *what, const char *const *names,
                      size_t n);

int cs_notify_conf_parse(cs_cfg *c, struct fy_node *node, void **out);
void cs_notify_conf_free(void *conf);

#endif
