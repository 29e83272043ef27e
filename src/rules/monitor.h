/* Monitors: contract monitors over evm.tx/evm.log and event monitors over
 * any event, with an alert policy (docs/monitors.md).
 *
 * A monitor is described by a plain struct (cs_monitor_def), filled by the
 * config parser (rules/monitor_config.h) or by code. The engine compiles a
 * set of them, indexes contract monitors by address so that a transaction
 * only meets the monitors that watch one of its addresses, and turns events
 * into matches. Every match goes through the monitor's alert policy
 * (dedup key, threshold within a window, minimum interval) and reaches the
 * on_match callback, whether or not it is to be notified; a match to be
 * notified is also published as `alert.fired` on the bus, with everything
 * a notifier needs (the alert document, the channels, the severity, the
 * templates, the id its idempotency keys derive from).
 *
 * Contract monitors see whole transactions: the engine gathers the evm.tx
 * and evm.log events of a block and evaluates them when the block is
 * complete (its evm.block event arrives after its transactions, an event of
 * a later block arrives, or cs_monitor_engine_flush is called), and for a
 * monitor with `confirmations: N` only once the network's head is N blocks
 * past it. An evm.reorg drops the pending blocks it replaces.
 *
 * Threads: everything runs on the loop thread. */
#ifndef CS_RULES_MONITOR_H
#define CS_RULES_MONITOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "core/bus.h"
#include "core/event.h"
#include "rules/expr.h"
#include "rules/window.h"

typedef enum cs_severity { CS_SEV_LOW, CS_SEV_MEDIUM, CS_SEV_HIGH } cs_severity;
#define CS_SEV_COUNT 3

typedef enum cs_risk {
    CS_RISK_NONE,
    CS_RISK_GOVERNANCE,
    CS_RISK_ACCESS_CONTROL,
    CS_RISK_SUSPICIOUS,
    CS_RISK_FINANCIAL,
    CS_RISK_TECHNICAL,
} cs_risk;

const char *cs_severity_name(cs_severity s);
int cs_severity_parse(const char *s); /* -1 if unknown */
const char *cs_risk_name(cs_risk r);
int cs_risk_parse(const char *s); /* -1 if unknown */

typedef enum cs_monitor_kind { CS_MONITOR_CONTRACT, CS_MONITOR_EVENT } cs_monitor_kind;

/* An event or function to match. signature: "Transfer(address,address,uint256)"
 * (parameter names and `indexed` are allowed and ignored), a bare name
 * "Transfer", or for events a 0x-hex topic0. condition: NULL for any. */
typedef struct cs_monitor_sig {
    char *signature;
    char *condition;
} cs_monitor_sig;

typedef struct cs_monitor_window {
    bool enabled;
    cs_window_kind kind;
    int64_t window_ns;
    uint64_t threshold;
    double rate;
    char *group_by; /* expression; NULL: one group */
    char *of;       /* expression: DISTINCT counts it, STALE watches it, ZSCORE/EWMA test it */
    size_t max_groups;
    double burst;                /* TOKEN_BUCKET */
    char *cost;                  /* TOKEN_BUCKET: expression, tokens an event takes; NULL: 1 */
    char *forget;                /* expression: a subject's event matching it forgets its group */
    double k, min_change, alpha; /* ZSCORE, EWMA */
    uint32_t warmup, samples;
    cs_window_dir direction;
} cs_monitor_window;

typedef struct cs_monitor_policy {
    uint32_t threshold;          /* matches within threshold_window before notifying; <= 1: each */
    int64_t threshold_window_ns; /* default: 1 hour */
    int64_t min_interval_ns;     /* least time between notifications; 0: none */
    char *dedup_key;             /* expression over the matched event; NULL: no dedup */
    int64_t dedup_window_ns;     /* how long a key is remembered; default 24 h */
} cs_monitor_policy;

/* A custom filter program: gets matches in batches of at most 25 as JSON on
 * stdin, answers which to keep (docs/monitors.md, "Custom filters"). */
typedef struct cs_monitor_filter {
    char **argv; /* NULL-terminated; argv[0] is the program; NULL: no filter */
    int64_t timeout_ns;
    bool keep_on_error; /* what a failing filter means: keep or drop the batch */
    bool keep_on_timeout;
} cs_monitor_filter;

typedef struct cs_monitor_def {
    char *name;
    cs_monitor_kind kind;
    char **networks; /* empty: every network */
    size_t nnetworks;
    bool paused;
    cs_severity severity;
    cs_risk risk;
    char **channels; /* empty: the default channels of the severity */
    size_t nchannels;
    /* contract monitors */
    char **addresses; /* empty: any contract */
    size_t naddresses;
    char *abi; /* path of the ABI file, passed along in alerts */
    cs_monitor_sig *events;
    size_t nevents;
    cs_monitor_sig *functions;
    size_t nfunctions;
    char *tx_condition;
    uint32_t confirmations;
    /* event monitors */
    char **subjects; /* subject filters */
    size_t nsubjects;
    char *condition;
    cs_monitor_window window;
    /* both */
    cs_monitor_policy policy;
    cs_monitor_filter filter;
    char *title; /* templates (notify/template.h); NULL: the channel's default */
    char *message;
} cs_monitor_def;

/* Frees what a def owns (not the struct itself). */
void cs_monitor_def_clear(cs_monitor_def *d);
/* Deep copy. */
int cs_monitor_def_copy(cs_monitor_def *dst, const cs_monitor_def *src);

/* ---- the engine -------------------------------------------------------- */

typedef struct cs_monitor_engine cs_monitor_engine;
typedef struct cs_monitor cs_monitor; /* a compiled monitor, owned by the engine */

/* Why a match was not notified. */
typedef enum cs_suppress {
    CS_SUPPRESS_NONE,
    CS_SUPPRESS_PAUSED_NEVER, /* (not used: paused monitors do not match) */
    CS_SUPPRESS_DEDUP,
    CS_SUPPRESS_THRESHOLD,
    CS_SUPPRESS_MIN_INTERVAL,
    CS_SUPPRESS_FILTER,
} cs_suppress;
const char *cs_suppress_name(cs_suppress s);

/* One match, as on_match sees it. Everything is borrowed: valid until the
 * callback returns. doc is the alert document (an object: see
 * docs/monitors.md, "The alert document"). */
typedef struct cs_match {
    const cs_monitor_def *def;
    const char *id; /* stable across runs: the outbox's idempotency key base */
    const char *network;
    int64_t time_ns;
    bool notify; /* passed the policy: to be sent to `channels` */
    cs_suppress suppressed;
    const char *const *channels; /* resolved: the monitor's, or its severity's defaults */
    size_t nchannels;
    cs_val doc;
    const uint8_t *doc_raw; /* the encoded document */
    size_t doc_len;
} cs_match;

typedef void (*cs_match_cb)(const cs_match *m, void *arg);

typedef struct cs_monitor_engine_opts {
    uv_loop_t *loop;    /* may be NULL: no sweep timer, no custom filters */
    cs_bus *bus;        /* may be NULL: no subscription, no alert.fired */
    const char *origin; /* for alert.fired; default "monitors" */
    /* default channels per severity (index cs_severity); borrowed, copied */
    const char *const *default_channels[CS_SEV_COUNT];
    size_t ndefault_channels[CS_SEV_COUNT];
    /* explorer base URLs per network: {"eth-main", "https://etherscan.io"}; copied */
    const char *const (*explorers)[2];
    size_t nexplorers;
    size_t max_pending_blocks; /* per network; 0: 256 */
    size_t max_block_events;   /* per block; 0: 200000 */
    size_t max_pending_events; /* in all pending blocks; 0: 1000000 (then events are dropped) */
    cs_match_cb on_match;
    void *arg;
    /* may be NULL: alert.fired is published once; else it is also kept
     * there until a notifier acknowledges it (bus/spool.h) */
    struct cs_spool *spool;
} cs_monitor_engine_opts;

typedef struct cs_monitor_stats {
    uint64_t matches;
    uint64_t notified;
    uint64_t suppressed[CS_SUPPRESS_FILTER + 1];
    uint64_t errors;           /* conditions that failed to evaluate */
    uint64_t window_groups;    /* groups a windowed monitor tracks now */
    uint64_t window_evictions; /* groups dropped at its max_groups bound */
} cs_monitor_stats;

typedef struct cs_monitor_engine_stats {
    uint64_t events;
    uint64_t blocks;
    uint64_t txs;
    uint64_t pairs;     /* monitor x transaction pairs settled (all of them, indexed or not) */
    uint64_t evaluated; /* pairs that got past the index */
    uint64_t dropped;   /* events dropped at max_block_events / max_pending_* */
    uint64_t reorged;   /* pending blocks dropped by evm.reorg */
} cs_monitor_engine_stats;

/* Compiles defs (copied) into an engine. On a bad condition returns
 * CS_ECONFIG and writes "monitor NAME: condition: 1:9: ..." into err.
 * With a bus, subscribes to evm.> and to every event monitor's subjects.
 * *out is owned by the caller: cs_monitor_engine_close. */
int cs_monitor_engine_new(const cs_monitor_engine_opts *o, const cs_monitor_def *defs, size_t n,
                          cs_monitor_engine **out, char *err, size_t errlen);
/* Unsubscribes and frees (after pending filters are killed, from their close
 * callbacks when a loop runs). */
void cs_monitor_engine_close(cs_monitor_engine *e);

/* Feeds one event (borrowed), as the bus subscription does. */
void cs_monitor_engine_feed(cs_monitor_engine *e, cs_event *ev);
/* Evaluates every pending block as if complete and confirmed (end of input,
 * `monitor test`). */
void cs_monitor_engine_flush(cs_monitor_engine *e);
/* Runs windowed staleness checks and expires old policy state at now_ns
 * (the engine's timer calls it every second when it has a loop). */
void cs_monitor_engine_tick(cs_monitor_engine *e, int64_t now_ns);

/* Pauses or resumes a monitor by name; CS_ENOTFOUND if none. */
int cs_monitor_engine_pause(cs_monitor_engine *e, const char *name, bool paused);
int cs_monitor_engine_monitor_stats(const cs_monitor_engine *e, const char *name,
                                    cs_monitor_stats *out);
void cs_monitor_engine_get_stats(const cs_monitor_engine *e, cs_monitor_engine_stats *out);
/* Custom filter batches still running. */
size_t cs_monitor_engine_busy(const cs_monitor_engine *e);

/* Canonical form of a signature: "Transfer(address indexed from, uint256 v)"
 * -> "Transfer(address,uint256)". Writes at most cap bytes with the NUL;
 * returns the length or CS_ELIMIT / CS_EPARSE. */
int cs_monitor_canonical_sig(const char *sig, char *out, size_t cap);

#endif
