/* What the NATS bridge's files share (bus/nats.h). */
#ifndef CS_BUS_NATS_INT_H
#define CS_BUS_NATS_INT_H

#include <nats/nats.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <uv.h>

#include "bus/nats.h"
#include "core/metrics.h"

#define CS_NATS_ORIGINS 4096 /* origins remembered for loop prevention */

enum { ORIGIN_IN = 1, ORIGIN_OUT = 2 };

typedef struct cs_nats_stats {
    uint64_t sent, dropped, received, import_dropped, acked, bad, looped, connects, disconnects;
    size_t buffered, buffered_bytes;
    bool connected;
} cs_nats_stats;

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
    /* metrics */
    cs_metrics *metrics;
    cs_mcount m_sent, m_dropped, m_received, m_import_dropped, m_acked, m_bad, m_connects;
    cs_mseries *m_buffered, *m_buffered_bytes, *m_connected;
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
/* nats_io.c: the thread. */
void *cs_nats_run(void *arg);

#endif
