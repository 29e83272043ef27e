/* Bitcoin Core's JSON-RPC, on the shared JSON-RPC client (net/jsonrpc.h: HTTP
 * with basic auth from the rpc user or the node's .cookie, batching,
 * timeouts): the calls the audit asks a node, read into plain structs for
 * the caller to judge. Each calls cb exactly once unless it returns an
 * error (CS_EINVAL, CS_ELIMIT, CS_ENOMEM); structs are borrowed until cb
 * returns. `error` is 0 or a CS_E* code with `why` for people. */
#ifndef CS_BTC_CORERPC_H
#define CS_BTC_CORERPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/jsonrpc.h"

#define CS_BTC_CORE_MAX_TIPS 64 /* getchaintips entries kept; `ntips` counts them all */

typedef struct cs_btc_core_tip {
    uint64_t height, branchlen;
    char status[32]; /* active, valid-fork, valid-headers, headers-only, invalid */
} cs_btc_core_tip;

/* [getblockchaininfo, getnetworkinfo, getchaintips]. */
typedef struct cs_btc_core_status {
    int error; /* of getblockchaininfo; the others have their own flag */
    char why[256];
    uint64_t blocks, headers;
    bool ibd;
    double progress; /* verificationprogress, 0..1 */
    int64_t time;    /* the tip's time; 0 when getblockchaininfo has none (before 23.0) */
    char best[65];   /* bestblockhash */
    bool net_ok;
    char version[96]; /* subversion */
    uint64_t in, out; /* connections; before 0.21 all of them in `out` */
    bool tips_ok;
    size_t ntips;                               /* every tip the node listed */
    cs_btc_core_tip tips[CS_BTC_CORE_MAX_TIPS]; /* the first of them */
} cs_btc_core_status;
typedef void (*cs_btc_core_status_cb)(const cs_btc_core_status *st, void *arg);
int cs_btc_core_status_probe(cs_rpc *rpc, uint64_t timeout_ms, cs_btc_core_status_cb cb, void *arg);

/* getblockheader(hash): the block's time (0 with error set when not read). */
typedef void (*cs_btc_core_time_cb)(int error, int64_t time, void *arg);
int cs_btc_core_header_time(cs_rpc *rpc, const char *hash, uint64_t timeout_ms,
                            cs_btc_core_time_cb cb, void *arg);

/* "user:password" from a .cookie file into out; a blocking read of a small
 * local file, like reading the config. CS_EIO or CS_EPARSE with why. */
int cs_btc_core_cookie(const char *path, char *out, size_t len, char *why, size_t whylen);

#endif
