/* What the log server's two files share (logserver.c: connections, login,
 * frames, writing; logserver_flow.c: the side toward the bus, fan-out,
 * back-pressure and barriers). Nothing outside src/bus/ includes this. */
#ifndef CS_BUS_LOGSERVER_INT_H
#define CS_BUS_LOGSERVER_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "bus/filtertab.h"
#include "bus/frame.h"
#include "bus/logserver.h"
#include "core/buf.h"
#include "core/bus.h"
#include "core/metrics.h"

#define MAX_FILTERS 64
#define MAX_PINGS 16 /* PINGs of one client waiting for their PONG */
#define READ_CHUNK 65536
/* Input a logged-in client may buffer: the part of a frame not yet whole
 * (up to the largest frame but one byte: 4 + CS_FRAME_MAX - 1) and one more
 * read. With only CS_FRAME_MAX, a client sending a 16 MiB record was cut
 * off as "out of memory" when a read stopped in its last three bytes. */
#define MAX_IN (CS_FRAME_HEADER - 1 + CS_FRAME_MAX + READ_CHUNK)
/* Events queued for the server's bus subscription; publishers pause past
 * half of it. The fuzz target builds with a small one to reach that. */
#ifndef BUS_QUEUE
#define BUS_QUEUE (1u << 18)
#endif
/* A client whose unsent output stays above half its bound for this long is
 * cut off, so that one stuck client cannot hold the sources forever. */
#ifndef STUCK_MS
#define STUCK_MS 10000
#endif

struct client {
    cs_logserver *ls;
    struct client *next, **pprev;
    union {
        uv_pipe_t pipe;
        uv_tcp_t tcp;
        uv_handle_t handle;
        uv_stream_t stream;
    } h;
    uint64_t id;
    char name[64];
    char peer[64]; /* ", from ADDR:PORT" on TCP, for logs; "" on unix */
    bool is_tcp, hello, closing, writing, paused;
    uint64_t deadline; /* loop time (ms) by which HELLO must have come */
    struct {
        uint64_t target; /* answered once the server has delivered this many events */
        uint8_t cookie[8];
    } pings[MAX_PINGS]; /* oldest first; targets never decrease */
    size_t npings;
    char *filters[MAX_FILTERS];
    size_t flen[MAX_FILTERS];
    size_t nfilters;
    uint64_t stamp; /* the last event matched for it */
    bool high;      /* unsent output above half the bound */
    uint64_t high_since;
    uint64_t queued_total, written_total; /* bytes, for barriers */
    cs_buf in, out, wbuf;
    uv_write_t wreq;
};

struct cs_logserver {
    uv_loop_t *loop;
    cs_bus *bus;
    cs_sub *sub;
    uv_pipe_t pipe;
    uv_tcp_t tcp;
    uv_check_t check;
    uv_idle_t kick;         /* keeps the next poll from blocking while output waits */
    uv_timer_t hello_timer; /* runs while connections wait for HELLO */
    bool has_pipe, has_tcp, stopping;
    int open_handles;
    char *socket_path;
    char *token;
    char *name;
    char tcp_address[64];
    size_t client_buffer, max_clients, unix_reserved, max_unauth;
    uint64_t hello_timeout_ms;
    size_t bus_queue;             /* BUS_QUEUE, as logserver.c was built with it */
    struct client *clients;       /* logged in */
    struct client *pending;       /* waiting for HELLO */
    size_t nclients;              /* both lists */
    size_t nauth[2], npending[2]; /* by transport: [0] unix, [1] TCP */
    size_t npaused, npings;
    uint64_t delivered; /* events the bus subscription has delivered */
    uint64_t next_id;
    void (*done)(void *);
    void *done_arg;
    cs_ftab filters;      /* every client's filters, each distinct one once */
    struct client **hits; /* clients an event matched, then enqueued */
    size_t nhits, hits_cap;
    uint64_t stamp;
    size_t nhigh; /* clients above their high mark: the subscription is paused */
    uv_timer_t stuck;
    struct lbarrier *barriers;
    cs_publisher pub;
    char origin[300];
    cs_mseries *m_clients, *m_in, *m_out, *m_cutoffs, *m_malformed, *m_rejected, *m_unauth;
    cs_mseries *m_refused[4]; /* by enum refusal */
};

/* Why a connection was refused before or at login; the label of
 * chainscope_logserver_refused_total. */

/* ---- logserver.c ---- */

/* Cuts c off: logs the reason, sends it as an ERROR frame if it can, and
 * closes the connection. */
void cs_ls_client_fail(struct client *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Queues a frame for c, or cuts c off at its bound. */
void cs_ls_enqueue(struct client *c, uint8_t type, const uint8_t *body, size_t len);
/* Makes the next check phase write what is queued. */
void cs_ls_arm_check(cs_logserver *ls);

/* ---- logserver_flow.c ---- */

/* Subscribes the server to the bus (lossless, with barriers); paused at
 * once if some client is above its high mark. */
int cs_ls_subscribe(cs_logserver *ls);
/* Notes a change of c's unsent output: pauses or resumes the subscription. */
void cs_ls_output_changed(struct client *c);
/* The timer that cuts off clients stuck above their high mark. */
void cs_ls_on_stuck(uv_timer_t *t);
/* Forgets client gone (NULL: none) and ends the barriers nothing holds. */
void cs_ls_barriers_forget(cs_logserver *ls, struct client *gone);

#endif
