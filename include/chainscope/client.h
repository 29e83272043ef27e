/* chainscope client library: publish events into a running chainscope log
 * server and subscribe to its stream. Blocking I/O on one socket; one client
 * per thread. The wire protocol is in docs/protocol.md.
 *
 *   cs_client *c;
 *   if (cs_client_connect("/run/chainscope/bus.sock", "my-tool", NULL, &c) == 0) {
 *       cs_client_subscribe(c, "p2p.msg.*");
 *       const uint8_t *rec; size_t len;
 *       while (cs_client_next(c, &rec, &len, -1) == 0)
 *           ...  // rec is one event record; cs_event_decode() reads it
 *       cs_client_close(c);
 *   }
 *
 * Events: chainscope/event.h, their payloads: chainscope/value.h; a whole
 * program is examples/subscribe.c. Functions return 0 or a negative error
 * code (chainscope/error.h; cs_strerror names it). */
#ifndef CHAINSCOPE_CLIENT_H
#define CHAINSCOPE_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cs_client cs_client;

/* Room for a server's reason with its NUL (reasons are at most 1024 bytes). */
#define CS_CLIENT_REASON_MAX 1025

/* address: a unix socket path, or "tcp:HOST:PORT" (token required there).
 * name identifies the client in the server's logs. Sends HELLO and waits
 * for WELCOME (up to 5 s). *out is freed by cs_client_close. */
int cs_client_connect(const char *address, const char *name, const char *token, cs_client **out);
/* The same; when the server refuses the client, its reason (the ERROR it
 * sent, e.g. "limit: 64 connections are waiting for HELLO already; try
 * again later") is copied into reason (reason_len bytes with the NUL; ""
 * when it gave none). Returns CS_EAUTH for a wrong token, CS_ELIMIT when
 * the server is full, CS_ECLOSED when it closed for another reason. */
int cs_client_connect_reason(const char *address, const char *name, const char *token, char *reason,
                             size_t reason_len, cs_client **out);
void cs_client_close(cs_client *c);

/* Adds or removes a subject filter (NATS style: "p2p.msg.*", "evm.>"). */
int cs_client_subscribe(cs_client *c, const char *filter);
int cs_client_unsubscribe(cs_client *c, const char *filter);

/* Queues one event record for the server; written when the queue passes
 * 64 KiB or on cs_client_flush. */
int cs_client_publish(cs_client *c, const uint8_t *record, size_t len);
/* Writes everything queued and waits (up to timeout_ms, -1: forever) until
 * the server has handed all of it to its subscribers. */
int cs_client_flush(cs_client *c, int timeout_ms);

/* Waits up to timeout_ms (-1: forever, 0: poll) for the next event. On 0,
 * *record points at it, valid until the next call on c. Returns
 * CS_ETIMEDOUT, CS_ECLOSED when the server closed the connection (its
 * reason, if it sent one, is in cs_client_error), or another error. */
int cs_client_next(cs_client *c, const uint8_t **record, size_t *len, int timeout_ms);

/* The server's last ERROR reason, or "". */
const char *cs_client_error(const cs_client *c);
/* The socket, for poll(); readable when cs_client_next may have data. */
int cs_client_fd(const cs_client *c);
/* Events received so far that were buffered but not yet returned. */
size_t cs_client_pending(const cs_client *c);

#ifdef __cplusplus
}
#endif
#endif
