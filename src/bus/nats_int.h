/* What the NATS bridge's files share (bus/nats.h). */
#ifndef CS_BUS_NATS_INT_H
#define CS_BUS_NATS_INT_H

#include <nats/nats.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <uv.h>

#include "bus/nats.h"
#include "core/buf.h"
#include "core/metrics.h"

#define CS_NATS_ORIGINS 4096 /* origins remembered for loop prevention */

enum { ORIGIN_IN = 1, ORIGIN_OUT = 2 };

typedef struct cs_nats_stats {
    uint64_t sent, dropped, received, import_dropped, acked, bad, looped, connects, disconnects;
    size_t buffered, buffered_bytes;
    bool connected;
    /* the disk spool (nats.spool) */
    uint64_t spooled, unspooled, spool_dropped, spool_events, spool_bytes;
    bool spool_full; /* the last append met nats.spool.max */
} cs_nats_stats;

/* The publisher's disk spool (nats_spool.c), the bridge thread's own:
 * events past half the memory buffer go to append-only files in dir, at
 * most max bytes, and are sent from there, oldest first, before what is
 * in memory. Kept across restarts. */
typedef struct cs_nats_spool {
    char *dir;
    uint64_t max, file_max;
    uint64_t bytes;             /* of every spool file */
    uint64_t events;            /* records not yet sent */
    uint64_t head_no, head_off; /* the next record to send */
    uint64_t tail_no, tail_size;
    uint64_t peek_off; /* after the records of the last peek */
    int head_fd, tail_fd;
    cs_buf rd, wr;
} cs_nats_spool;

/* Opens (creates) the spool in dir and reads back what a previous run
 * left. why says what failed. */
int cs_nats_spool_open(cs_nats_spool *sp, const char *dir, uint64_t max, char *why, size_t whylen);
/* Appends the records of evs[0..n) in order, fsync once; stops at max.
 * Returns how many were written. */
size_t cs_nats_spool_append(cs_nats_spool *sp, cs_event *const *evs, size_t n);
/* Up to max of the oldest events (the caller unrefs them; NULL for a
 * record that does not decode), without taking them out. */
size_t cs_nats_spool_peek(cs_nats_spool *sp, cs_event **out, size_t max);
/* Takes out the n events of the last peek (sent); files sent in full are
 * deleted. */
void cs_nats_spool_consume(cs_nats_spool *sp, size_t n);
void cs_nats_spool_close(cs_nats_spool *sp);

typedef struct cs_nats {
    cs_runtime *rt;
    const cs_nats_conf *c;
    cs_sub *sub;
    cs_publisher pub;
    char origin[300];
    char name[300];
    uv_async_t async;
    uv_timer_t tick; /* nats.dropped, once a second */
    int closing;     /* handles still to close */
    pthread_t thread;
    bool thread_started;
    pthread_mutex_t mu; /* everything below */
    pthread_cond_t cv;
    cs_event **q; /* export ring */
    size_t head, len, cap;
    size_t qbytes;
    bool stopping;
    unsigned conns_closed; /* libnats's closed callbacks so far */
    cs_nats_stats st;
    uint64_t dropped_told; /* drops already reported as an event */
    unsigned notices;      /* NOTICE_* waiting for the loop */
    char error[256];       /* last connection error, for the event */
    char url[256];         /* connected server */
    uint64_t barrier_req, barrier_sent, barrier_done;
    struct nbarrier *barrier; /* in flight on the loop */
    struct {
        char *name;
        unsigned dir;
    } origins[CS_NATS_ORIGINS];
    size_t norigins;
    /* the thread's own */
    natsOptions *opts;
    natsConnection *nc;
    jsCtx *js;
    natsSubscription *nsub;
    atomic_uint_fast64_t pub_errors; /* JetStream publish failures */
    cs_nats_spool spool;             /* with c->spool_dir */
    bool spooling;
    /* metrics */
    cs_metrics *metrics;
    cs_mcount m_sent, m_dropped, m_received, m_import_dropped, m_acked, m_bad, m_connects;
    cs_mcount m_spooled, m_unspooled, m_spool_dropped;
    cs_mseries *m_buffered, *m_buffered_bytes, *m_connected, *m_spool_events, *m_spool_bytes,
        *m_spool_full;
    uint64_t spooled_told, unspooled_told; /* for nats.spooled, nats.unspooled */
    void (*done)(void *);
    void *done_arg;
} cs_nats;

enum { NOTICE_CONNECTED = 1, NOTICE_DISCONNECTED = 2, NOTICE_DROPPED = 4, NOTICE_BARRIER = 8 };

/* Under mu: the directions an origin was seen in; adds dir when add. */
unsigned cs_nats_origin(cs_nats *s, const char *origin, unsigned add);
/* Under mu: asks the loop for something (uv_async). */
void cs_nats_notice(cs_nats *s, unsigned what);

/* nats_io.c: libnats options from the config (secrets from the
 * environment); why says what is wrong. */
int cs_nats_make_options(cs_nats *s, char *why, size_t whylen);
/* nats_io.c: libnats options for c alone: servers, name, timeouts,
 * reconnect backoff, credentials (secrets from the environment), TLS.
 * Caller destroys *out. */
int cs_nats_options(const cs_nats_conf *c, const char *name, natsOptions **out, char *why,
                    size_t whylen);
/* nats_io.c: creates the stream of c or binds to it (updated to the config
 * when nats.jetstream.create). */
int cs_nats_setup_stream(const cs_nats_conf *c, jsCtx *js);
/* nats_link.c: the message for ev: subject PREFIX.NETWORK.TYPE, the record
 * (or its JSON, rendered into json) and the headers Chainscope-Origin,
 * Chainscope-Seq, Chainscope-Encoding, Nats-Msg-Id. CS_ELIMIT when ev can
 * never be sent (subject too long, no JSON rendering). Caller destroys *out. */
struct cs_buf;
int cs_nats_msg(const cs_nats_conf *c, const cs_event *ev, struct cs_buf *json, natsMsg **out);
/* nats_io.c: the thread. */
void *cs_nats_run(void *arg);

#endif
