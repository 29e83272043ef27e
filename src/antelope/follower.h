/* The Antelope chain follower: every block by number through the chain API
 * (get_info, get_block), confirmed at head or LIB, in order, with a SQLite
 * cursor (the next block and the ids of the recent ones), forks (blocks
 * replaced before LIB fetched again and published with `replaces`, one
 * antelope.fork), producer schedules, round and slot accounting
 * (rounds.h) with a missed slot published within a slot, producer
 * accounting per hour in the database, and the checks of our own producer
 * nodes (double production, none producing, node lag). docs/antelope.md.
 *
 * Endpoints fail over in order: a failed call moves to the next; when every
 * endpoint failed in a row the follower waits (250 ms doubling to 30 s)
 * before the next round of calls. */
#ifndef CS_ANTELOPE_FOLLOWER_H
#define CS_ANTELOPE_FOLLOWER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "core/bus.h"
#include "core/metrics.h"
#include "net/http_client.h"

#define CS_ANT_MAX_ENDPOINTS 8
#define CS_ANT_MAX_OWN 8
#define CS_ANT_MAX_NODES 8

typedef struct cs_ant_own_node {
    char *name;
    char *api;
} cs_ant_own_node;

typedef struct cs_ant_own {
    char *account;
    cs_ant_own_node nodes[CS_ANT_MAX_NODES];
    size_t nnodes;
} cs_ant_own;

typedef struct cs_ant_follower_opts {
    const char *network; /* borrowed, as every string here, for the follower's life */
    const char *origin;
    char *const *api;
    size_t napi;
    const char *chain_id; /* expected; NULL: the first answer's */
    bool confirm_lib;
    bool from_set;
    uint64_t from;
    uint64_t poll_ms;  /* get_info period */
    uint64_t slot_ms;  /* a slot's wall-clock length (500; tests run faster) */
    uint64_t timeout_ms;
    uint64_t check_ms; /* own nodes' get_info period */
    uint64_t max_lag;  /* blocks a node may lag before its check fails */
    const char *db_path; /* NULL: no cursor, no accounting */
    const cs_ant_own *own;
    size_t nown;
} cs_ant_follower_opts;

/* Metric families the follower feeds (any may be NULL). */
typedef struct cs_ant_metrics {
    cs_mfamily *head, *lib, *next, *lag, *blocks, *forks, *rounds, *errors;
    cs_mfamily *missed, *produced, *missed_rounds; /* labels network, producer */
} cs_ant_metrics;

typedef struct cs_ant_follower cs_ant_follower;

/* Opens the database and reads the cursor. err says why on failure
 * (CS_EIO, CS_ENOMEM). http and m are borrowed. */
int cs_ant_follower_new(uv_loop_t *loop, cs_bus *bus, cs_http_client *http,
                        const cs_ant_metrics *m, const cs_ant_follower_opts *o,
                        cs_ant_follower **out, char *err, size_t errlen);
void cs_ant_follower_start(cs_ant_follower *f);
/* Stops; done(arg) runs once its timer closed and its requests ended (the
 * caller closes the shared HTTP client, which ends them). */
void cs_ant_follower_close(cs_ant_follower *f, void (*done)(void *), void *arg);

#endif
