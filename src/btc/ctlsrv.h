/* The control socket's server side, apart from what answers the requests:
 * a unix socket (mode 0600), clients, frames (docs/control-protocol.md) and
 * RESULT replies in request order. What executes a request is the owner's
 * callback: the connector's control (control.c) answers at once, the horde
 * (horde.c) answers when its shards have. Loop thread only. */
#ifndef CS_BTC_CTLSRV_H
#define CS_BTC_CTLSRV_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "core/bus.h"

typedef struct cs_ctlsrv cs_ctlsrv;

/* A parsed request frame (views into the input). */
typedef struct cs_control_req {
    uint8_t op;
    uint32_t req_id;
    const uint8_t *body;
    size_t body_len;
} cs_control_req;

/* Parses one frame at p[0..n): u32 LE length, u8 op, u32 LE request id,
 * body. Returns 0 and *used, CS_ETRUNC when more bytes are needed, or
 * CS_EPROTO / CS_ELIMIT for a bad frame (reason in err). Both directions
 * share the framing: a RESULT frame parses the same way. */
int cs_control_parse(const uint8_t *p, size_t n, cs_control_req *req, size_t *used, char *err,
                     size_t errlen);

/* A PEERS page's body: u64 LE after, u32 LE limit (1..CS_CTL_PEERS_PAGE_MAX).
 * Returns 0 or CS_EINVAL. */
int cs_control_peers_page(const uint8_t *b, size_t len, uint64_t *after, uint32_t *limit);

/* The request's name as results say it ("connect", ...; "unknown"). */
const char *cs_control_op_name(uint8_t op);

/* One request being answered. The request it holds (cs_ctlsrv_call_req) is
 * a copy, valid until cs_ctlsrv_reply. */
typedef struct cs_ctlsrv_call cs_ctlsrv_call;

/* Runs one request. It must end, now or later, in exactly one
 * cs_ctlsrv_reply(call, ...). The client's next request waits until then:
 * each client's results come in the order of its requests. */
typedef void (*cs_ctlsrv_exec_fn)(void *arg, cs_ctlsrv_call *call, const cs_control_req *req);

typedef struct cs_ctlsrv_opts {
    const char *path;       /* socket path; copied. An existing socket file is replaced */
    size_t max_clients;     /* 0: 64; one more is closed at once */
    const char *log_name;   /* the log's component name; NULL: "control" */
    cs_ctlsrv_exec_fn exec; /* required */
    void *arg;
} cs_ctlsrv_opts;

/* Listens on opts->path. Returns 0 or an error (nothing left open). The
 * server is freed by cs_ctlsrv_close. */
int cs_ctlsrv_new(uv_loop_t *loop, const cs_ctlsrv_opts *opts, cs_ctlsrv **out);
/* Closes the socket and every client, removes the socket file. Calls still
 * in flight must still be replied to (their replies go nowhere); memory is
 * freed once they are and every handle has closed. */
void cs_ctlsrv_close(cs_ctlsrv *s);

/* Answers a call with a status (0 or a negative CS_E* code) and the
 * value-encoded result object res[0..len) (copied). Frees the call. */
void cs_ctlsrv_reply(cs_ctlsrv_call *call, int status, const uint8_t *res, size_t len);
/* The number of the client that sent the call (from 1, per server); 0 once
 * that client has gone. */
unsigned cs_ctlsrv_call_client(const cs_ctlsrv_call *call);
/* The request the call answers (its body is a copy owned by the call). */
const cs_control_req *cs_ctlsrv_call_req(const cs_ctlsrv_call *call);

/* Publishes a request's outcome as a ctl.result event (docs/events.md)
 * about key "ctl CLIENT": client, request, status, ok, result (the object
 * res[0..len)). No-op on a publisher without a bus. */
void cs_control_publish_result(cs_publisher *pub, unsigned client, uint32_t req_id, int status,
                               const uint8_t *res, size_t len);

#endif
