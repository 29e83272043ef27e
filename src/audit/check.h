/* One sweep of checks over every network of the inventory.
 *
 * cs_audit_run_start sends every request of every check at once (through
 * the chains' probes on the shared HTTP and JSON-RPC clients, never
 * blocking the loop), waits for the answers or their
 * timeouts, evaluates the checks and calls `done` once with every result,
 * all stamped with the sweep's start time `now`. Per network that is the
 * chain checks (under the pseudo-node CS_AUDIT_CHAIN_NODE), the checks of
 * each node, and each node's `available` aggregate. docs/audit.md lists
 * every check. */
#ifndef CS_AUDIT_CHECK_H
#define CS_AUDIT_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "audit/audit.h"
#include "net/http_client.h"

/* What the previous sweep saw of a network, for the `advancing` check. */
typedef struct cs_audit_prev {
    bool have;
    double height; /* best head height */
    int64_t time;  /* when that sweep ran */
} cs_audit_prev;

typedef struct cs_audit_run cs_audit_run;
typedef void (*cs_audit_run_cb)(cs_audit_run *run, void *arg);

#define CS_AUDIT_RUN_MAX_RESULTS 200000

#define CS_AUDIT_HTTP_MAX_PENDING 4096    /* requests in flight; beyond: not sent (CS_ELIMIT) */
#define CS_AUDIT_HTTP_MAX_CONNS 16        /* connections at once; more requests wait */
#define CS_AUDIT_RPC_MAX_BODY (16u << 20) /* bytes of a node's answer; beyond: CS_ELIMIT */

/* The HTTP client for the audit on loop: at most CS_AUDIT_HTTP_MAX_PENDING
 * requests, CS_AUDIT_HTTP_MAX_CONNS connections. *out is owned by the
 * caller: cs_http_client_close. */
int cs_audit_http_client_new(uv_loop_t *loop, cs_http_client **out);

/* Starts a sweep. cfg, http and prev (cfg->nnets entries, or NULL) are
 * borrowed until `done` has run. On success *out is the run, owned by the
 * caller (cs_audit_run_free once done has run); done is called exactly once
 * from the loop. */
int cs_audit_run_start(uv_loop_t *loop, cs_http_client *http, const cs_audit_config *cfg,
                       int64_t now, const cs_audit_prev *prev, cs_audit_run_cb done, void *arg,
                       cs_audit_run **out);

/* The results, valid until cs_audit_run_free. */
size_t cs_audit_run_results(const cs_audit_run *run, const cs_audit_result **out);

/* Frees the run (asynchronously: its timer and its JSON-RPC clients close
 * first; keep running the loop). Only after done has run. */
void cs_audit_run_free(cs_audit_run *run);

#endif
