/* The local log server: other processes publish events into this process's
 * bus and subscribe to it with subject filters, over a unix socket (mode
 * 0600) and, when configured, a TCP listener that requires a token.
 *
 * Every event on the bus goes to every client whose filters match, as the
 * same record bytes. Each client has an output bound (`buffer` bytes queued
 * and not yet taken by the kernel): a client past it is cut off, with a
 * logged reason and chainscope_logserver_cutoffs_total, and nobody else
 * notices. A client that sends a malformed frame gets an ERROR frame with
 * the reason and is disconnected; the server keeps serving.
 *
 * Before login (HELLO) a connection may hold at most CS_LOGSERVER_PREAUTH_IN
 * bytes of input and must finish its HELLO within hello_timeout; at most
 * max_unauthenticated connections per transport (unix, TCP) wait for it, so
 * what unauthenticated clients hold in all is bounded. Logged-in clients
 * are bounded by max_clients, of which unix_reserved are kept for the unix
 * socket. A connection refused at any of these bounds is sent an ERROR
 * with the reason, logged and counted (chainscope_logserver_refused_total). */
#ifndef CS_BUS_LOGSERVER_H
#define CS_BUS_LOGSERVER_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "core/bus.h"
#include "core/metrics.h"

/* Input a connection may buffer before its HELLO: more than the largest
 * HELLO (version, two strings of CS_FRAME_MAX_STR and their lengths). */
#define CS_LOGSERVER_PREAUTH_IN 4096

typedef struct cs_logserver cs_logserver;

typedef struct cs_logserver_opts {
    const char *socket_path;    /* unix socket; NULL: none */
    const char *tcp_listen;     /* "127.0.0.1:7400"; NULL: none */
    const char *token;          /* required with tcp_listen; optional on unix */
    size_t client_buffer;       /* bytes per client before cut-off; 0: 8 MiB */
    size_t max_clients;         /* logged-in clients; 0: 1024 */
    size_t unix_reserved;       /* of max_clients, kept for the unix socket; 0: 16,
                                   at most max_clients - 1 */
    size_t max_unauthenticated; /* per transport, waiting for HELLO; 0: 64 */
    uint64_t hello_timeout_ms;  /* from accept to HELLO; 0: 5000 */
    const char *name;           /* server name sent in WELCOME */
} cs_logserver_opts;

/* Starts listening. metrics may be NULL. On error nothing is left open. */
int cs_logserver_start(uv_loop_t *loop, cs_bus *bus, cs_metrics *metrics,
                       const cs_logserver_opts *opts, cs_logserver **out);
/* Closes listeners and clients (and removes the socket file); the memory
 * is freed from the close callbacks, and `done` (may be NULL) runs then. */
void cs_logserver_stop(cs_logserver *ls, void (*done)(void *arg), void *arg);

size_t cs_logserver_clients(const cs_logserver *ls);
/* "127.0.0.1:PORT" of the TCP listener, or "" */
const char *cs_logserver_tcp_address(const cs_logserver *ls);

#endif
