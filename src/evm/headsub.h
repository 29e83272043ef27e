/* A newHeads subscription on a node's IPC socket (geth.ipc, anvil --ipc):
 * its own connection, `eth_subscribe ["newHeads"]`, and a callback for each
 * `eth_subscription` notification the node pushes on that connection.
 *
 * The subscription is a hint, never a source of truth: the callback gets
 * the head number the node announced (0 when it could not be read) and the
 * caller reads the chain as it would on a poll.
 *
 * When the connection cannot be made, the node refuses eth_subscribe (a
 * JSON-RPC error), does not answer within the timeout, sends a message
 * larger than max_message or closes the connection, the subscription is
 * dropped (on_state(false) if it was live) and tried again after a backoff
 * that doubles from backoff_ms up to backoff_max_ms (reset once live).
 *
 * Bounds: one message is at most max_message bytes (larger: the connection
 * is dropped and the drop logged); notifications are not queued, each runs
 * on_head at once, and the caller coalesces them.
 *
 * Loop thread only. */
#ifndef CS_EVM_HEADSUB_H
#define CS_EVM_HEADSUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define CS_HEADSUB_MAX_MESSAGE (64u << 10)

typedef struct cs_headsub cs_headsub;

typedef struct cs_headsub_opts {
    const char *path;        /* the node's unix socket; copied */
    const char *name;        /* for logs (the network); copied */
    uint64_t timeout_ms;     /* to connect and to get the subscription; 0: 10 s */
    uint64_t backoff_ms;     /* first delay before subscribing again; 0: 1 s */
    uint64_t backoff_max_ms; /* 0: 60 s */
    size_t max_message;      /* 0: CS_HEADSUB_MAX_MESSAGE */
    /* Each notification; number: the announced head (0: unreadable). */
    void (*on_head)(uint64_t number, void *arg);
    /* The subscription became live (true) or was lost (false). */
    void (*on_state)(bool live, void *arg);
    void *arg;
} cs_headsub_opts;

typedef struct cs_headsub_stats {
    bool live;
    uint64_t notifications; /* eth_subscription messages for our id */
    uint64_t subscribes;    /* times the subscription became live */
    uint64_t failures;      /* connections, refusals, timeouts, drops */
} cs_headsub_stats;

/* Copies opts. Errors: CS_EINVAL (no path or callbacks), CS_ENOMEM. */
int cs_headsub_new(uv_loop_t *loop, const cs_headsub_opts *opts, cs_headsub **out);
/* Connects and subscribes (asynchronously). */
void cs_headsub_start(cs_headsub *h);
/* No callback runs after this; frees h, then done (may be NULL). */
void cs_headsub_close(cs_headsub *h, void (*done)(void *arg), void *arg);
void cs_headsub_stats_get(const cs_headsub *h, cs_headsub_stats *st);

#endif
