/* What the JSON-RPC client's files share: rpc.c (calls, retries, HTTP,
 * responses) and rpc_ipc.c (the IPC transport). Not for other components. */
#ifndef CS_NET_JSONRPC_INT_H
#define CS_NET_JSONRPC_INT_H

#include <stdbool.h>

#include "core/buf.h"
#include "net/jsonrpc.h"

#define RPC_SWEEP_MS 25
#define IPC_MAX_MESSAGE (128u << 20)

typedef struct call call;
typedef struct endpoint endpoint;

enum call_state { C_SENDING, C_WAITING, C_PARSING, C_FAILED, C_DONE };

struct call {
    cs_rpc *rpc;
    char *body;
    size_t body_len;
    uint64_t id_base;
    size_t n;
    bool batch;
    cs_rpc_cb cb;
    void *arg;
    uint64_t timeout_ms;
    unsigned attempts;
    endpoint *ep;
    enum call_state state;
    uint64_t due; /* C_WAITING: when to retry; IPC C_SENDING: deadline */
    int last_error;
    int64_t last_code;
    char last_msg[200];
    cs_http_request *http;
    bool on_ipc; /* in ep->ipc_pending */
    /* the response */
    char *resp;
    size_t resp_len;
    cs_jsonr json;
    int parse_rc;
    uv_work_t work;
    bool closing;              /* the client closed while parsing */
    call *prev, *next;         /* rpc->calls */
    call *ipc_prev, *ipc_next; /* ep->ipc_pending */
};

struct endpoint {
    char *url;
    char *path; /* IPC socket path, or NULL for HTTP */
    unsigned weight;
    unsigned fails;
    uint64_t down_until;
    /* IPC */
    uv_pipe_t pipe;
    bool pipe_open, connected, connecting;
    uv_connect_t connect_req;
    cs_buf rbuf;
    call *ipc_pending;
    cs_rpc *rpc;
};

struct cs_rpc {
    uv_loop_t *loop;
    cs_http_client *http;
    bool own_http;
    cs_rpc_opts o;
    endpoint eps[CS_RPC_MAX_ENDPOINTS];
    size_t neps;
    char *name;
    char *userpwd; /* owned copy of opts.userpwd, or NULL */
    uint64_t next_id;
    call *calls;
    size_t ncalls;
    uv_timer_t sweep;
    bool sweeping;
    bool closing;
    bool starting;    /* inside cs_rpc_call: failures wait for the sweep */
    int open_handles; /* sweep timer, pipes, http client, works */
    void (*done)(void *);
    void *done_arg;
    uint64_t rng;
};

/* rpc.c */
void cs_rpc_fail_attempt(call *c, int error, int64_t code, const char *msg);
/* Copies a complete response body and delivers it (parsing off the loop
 * when it is big). */
void cs_rpc_got_body(call *c, const char *body, size_t len);
/* The same with a body the call takes (NUL-terminated, from malloc). */
void cs_rpc_got_owned_body(call *c, char *body, size_t len);
void cs_rpc_arm_sweep(cs_rpc *r);
void cs_rpc_maybe_free(cs_rpc *r);

/* rpc_ipc.c */
/* Queues c on its IPC endpoint, connecting when needed. */
void cs_rpc_ipc_send(call *c);
void cs_rpc_ipc_unlink(call *c);
void cs_rpc_ipc_close(endpoint *e);

#endif
