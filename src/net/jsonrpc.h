/* A JSON-RPC client on the loop, shared by every chain (the EVM follower and
 * probes, Bitcoin Core RPC, the audit): HTTP(S) through cs_http_client,
 * or IPC (a node's unix socket, geth.ipc), single calls and batches, several
 * endpoints with weights and failover, retries with exponential backoff and
 * jitter.
 *
 * What is retried (on another endpoint when there is one): transport
 * failures, timeouts, HTTP 429 and 5xx, malformed responses, and JSON-RPC
 * errors that mean "try later" (-32005 limit exceeded, -32603 internal
 * error). Other JSON-RPC errors go to the caller (error CS_EPROTO with the
 * code and message). A failing endpoint is avoided for a while (its backoff)
 * while others are healthy.
 *
 * Responses bigger than offload_bytes are parsed on the libuv thread pool
 * (uv_queue_work), so a 10 MB block never stalls the loop.
 *
 * Loop thread only. */
#ifndef CS_NET_JSONRPC_H
#define CS_NET_JSONRPC_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "net/http_client.h"
#include "net/jsonr.h"

#define CS_RPC_MAX_ENDPOINTS 16
#define CS_RPC_MAX_BATCH 1000

typedef struct cs_rpc cs_rpc;

typedef struct cs_rpc_endpoint {
    const char *url; /* http://, https://, ipc:///path, or a path to a socket */
    unsigned weight; /* share of calls while healthy; 0 means 1 */
} cs_rpc_endpoint;

typedef struct cs_rpc_opts {
    const cs_rpc_endpoint *endpoints; /* copied */
    size_t nendpoints;
    uint64_t timeout_ms;     /* per attempt; 0: 10 s */
    unsigned retries;        /* attempts after the first; default 3 when 0 (-1u: none) */
    uint64_t backoff_ms;     /* first retry delay; 0: 250 ms; doubles, with jitter */
    uint64_t backoff_max_ms; /* 0: 8 s */
    size_t max_response;     /* 0: 128 MiB */
    size_t offload_bytes;    /* parse off the loop above this; 0: 256 KiB */
    size_t max_inflight;     /* calls at once; 0: 256 */
    const char *name;        /* for logs */
    /* Appended: */
    const char *userpwd; /* HTTP basic auth "user:password" (Bitcoin Core); copied; NULL: none */
} cs_rpc_opts;

/* One call's outcome. Borrowed: valid until the callback returns. */
typedef struct cs_rpc_result {
    int error;            /* 0; CS_EPROTO (JSON-RPC error: code, message); CS_EPARSE
                             (malformed response); CS_ETIMEDOUT, CS_EIO, CS_ELIMIT (transport,
                             after retries); CS_ECLOSED (client closed) */
    int64_t code;         /* JSON-RPC error code */
    const char *message;  /* error text for people ("" when none) */
    const cs_jsonr *json; /* the response, NULL on transport errors */
    uint32_t result;      /* token of "result" (single calls; 0 when none) */
    /* Batches: per call, in request order. */
    size_t n;
    const uint32_t *results; /* token of each "result", 0 when that call failed */
    const int64_t *codes;    /* each call's JSON-RPC error code, 0 when none */
    const char *endpoint;    /* the URL that answered */
    unsigned attempts;
    void *call_; /* private: for cs_rpc_take */
} cs_rpc_result;

typedef void (*cs_rpc_cb)(const cs_rpc_result *res, void *arg);

typedef struct cs_rpc_req {
    const char *method;
    const char *params; /* JSON array text, e.g. "[\"0x10\",true]"; NULL: [] */
} cs_rpc_req;

/* http may be shared (NULL: the client makes its own). Copies opts. */
int cs_rpc_new(uv_loop_t *loop, cs_http_client *http, const cs_rpc_opts *opts, cs_rpc **out);
/* Fails pending calls with CS_ECLOSED, closes, frees; done (may be NULL)
 * runs when everything is released. */
void cs_rpc_close(cs_rpc *rpc, void (*done)(void *arg), void *arg);

/* One call. The callback runs exactly once unless this returns an error.
 * timeout_ms 0: the client's. */
int cs_rpc_call(cs_rpc *rpc, const char *method, const char *params, uint64_t timeout_ms,
                cs_rpc_cb cb, void *arg);
/* A batch of n calls (1..CS_RPC_MAX_BATCH), sent as one JSON array. */
int cs_rpc_batch(cs_rpc *rpc, const cs_rpc_req *reqs, size_t n, uint64_t timeout_ms, cs_rpc_cb cb,
                 void *arg);

/* In a callback with a response: takes the parsed response out of the
 * call, so a caller that keeps it neither copies nor parses it again.
 * *json (initialized, or zeroed; its old tape is freed) gets the tape,
 * *text the text it points into (the caller frees it with free()); the
 * token indices in res stay valid for *json. res->json must not be used
 * after this. CS_EINVAL when res holds no response. */
int cs_rpc_take(const cs_rpc_result *res, cs_jsonr *json, char **text);

size_t cs_rpc_inflight(const cs_rpc *rpc);
/* A short description of an outcome, for logs: "timed out (3 attempts)". */
const char *cs_rpc_strerror(const cs_rpc_result *res, char *buf, size_t len);

/* rpc_result.c: reading outcomes for callers that judge them (probes).
 *
 * Why a call failed, for a report: "timed out after 5000 ms" (timeout_ms,
 * what the caller asked for), the transport's reason naming the endpoint,
 * "JSON-RPC error -32601: ...", and " (authentication failed)" after an
 * HTTP 401. */
const char *cs_rpc_why(const cs_rpc_result *res, uint64_t timeout_ms, char *buf, size_t len);
/* Call k of a successful batch: 0 and its result token in *tok, or
 * CS_EPROTO with "<method>: JSON-RPC error <code>" in why. */
int cs_rpc_item(const cs_rpc_result *res, size_t k, const char *method, uint32_t *tok, char *why,
                size_t len);

#endif
