/* Shared by the check files: one network's part of a sweep, the clients
 * its questions go through and result recording. The questions themselves
 * are the chains' probes (evm/probe.h, btc/corerpc.h, antelope/chainapi.h);
 * the check files judge their answers. */
#ifndef CS_AUDIT_CHECK_INT_H
#define CS_AUDIT_CHECK_INT_H

#include "audit/check.h"
#include "net/jsonrpc.h"

typedef struct net_run net_run;

struct net_run {
    cs_audit_run *run;
    const cs_audit_network *net;
    cs_audit_limits lim;
    const cs_audit_prev *prev;    /* NULL if none */
    int64_t now;                  /* the sweep's time, s */
    int pending;                  /* requests in flight, plus holds */
    void (*on_idle)(net_run *nr); /* pending fell to 0: next phase or cs_audit_nr_finish */
    void (*on_tick)(net_run *nr, uint64_t now_ms); /* while observing (Antelope) */
    uint64_t next_tick_ms;                         /* 0: not ticking */
    void *state;                     /* the kind's (cs_audit_nr_begin); the run frees it */
    void *nodes;                     /* the kind's per-node records; the run frees them */
    void (*free_state)(void *state); /* what state holds besides them; may be NULL */
    bool finished;
    /* The phases (cs_audit_nr_begin): 1, the kind's first requests; 2, what
     * follow_up asked for once they were answered; 3, judged. */
    int phase;
    void (*follow_up)(net_run *nr); /* may be NULL */
    void (*judge)(net_run *nr);
};

/* Records a result; detail is printf-formatted (truncated at
 * CS_AUDIT_DETAIL_MAX). */
void cs_audit_nr_result(net_run *nr, const char *node, const char *check, int state, bool has_value,
                        double value, const char *fmt, ...) __attribute__((format(printf, 7, 8)));

/* A JSON-RPC client (net/jsonrpc.h) for a node's rpc URL (http(s):// or
 * ipc://), over the run's HTTP client, with the network's timeout and no
 * retries (a sweep judges what a node answers now); userpwd (may be NULL)
 * for Bitcoin Core's basic auth. Owned by the run (closed with it). NULL
 * with why when it cannot be made (a bad URL, out of memory). */
cs_rpc *cs_audit_nr_rpc(net_run *nr, const char *url, const char *userpwd, char *why,
                        size_t whylen);
/* The run's HTTP client (borrowed), for the Antelope chain API. */
cs_http_client *cs_audit_nr_http(net_run *nr);

/* A question in flight counts as a hold: cs_audit_nr_hold before asking, cs_audit_nr_release
 * in its callback (or at once when it could not be asked). */
void cs_audit_nr_hold(net_run *nr);
/* Drops a hold; at 0 pending calls on_idle. */
void cs_audit_nr_release(net_run *nr);
/* Asks for on_tick at now_ms (the run's timer sweeps every ticking network). */
void cs_audit_nr_tick_at(net_run *nr, uint64_t at_ms);
uint64_t cs_audit_nr_now_ms(net_run *nr);
/* The run's loop (borrowed). */
uv_loop_t *cs_audit_nr_loop(net_run *nr);

/* The network is done: adds each node's `available` and tells the run. */
void cs_audit_nr_finish(net_run *nr);

/* Begins a kind's part of the sweep: its state (state_size bytes) and its
 * nodes (node_size bytes for each configured node, into *nodes), both
 * zeroed, freed with the run; the kind keeps *nodes in its state, and
 * free_state (may be NULL) frees what else the state holds. Then the
 * phases run: once every request of phase 1 is answered, follow_up (may
 * be NULL) posts phase 2's requests or starts observing (cs_audit_nr_tick_at);
 * once those are answered too, judge records the results and the network
 * finishes. Returns the state, or NULL when out of memory: then the chain
 * checks are recorded unknown and the network finishes with nothing
 * asked. */
void *cs_audit_nr_begin(net_run *nr, size_t state_size, size_t node_size, void **nodes,
                        void (*free_state)(void *state), void (*follow_up)(net_run *nr),
                        void (*judge)(net_run *nr));

/* A node that did not answer: each of checks[0..n) that applies to it
 * fails, the first with why, the others with "no answer". */
void cs_audit_nr_unanswered(net_run *nr, const cs_audit_node *node, const char *const *checks,
                            size_t n, const char *why);

/* The chain checks: height, head_age, advancing. have=false: no node
 * answered (all unknown). */
void cs_audit_nr_chain(net_run *nr, bool have, uint64_t best, int64_t best_time, const char *who);

/* "request not sent: <reason>" for a question that could not be asked. */
void cs_audit_nr_not_sent(int rc, char *why, size_t len);

/* The kinds. */
void cs_audit_evm_start(net_run *nr);
void cs_audit_btc_start(net_run *nr);
void cs_audit_ant_start(net_run *nr);
/* Antelope's bp.json and endpoint checks (check_antelope_bp.c, `bp_json:
 * true`): holds nr until every registered producer is judged. */
void cs_audit_ant_bp_start(net_run *nr);

/* Bitcoin's `p2p` check (check_bitcoin_p2p.c): the connector's handshake
 * with each node's `p2p` address. cs_audit_btc_p2p_start starts every node's
 * attempt and holds nr until they have ended (the connector closed);
 * NULL when no node has the check, or when the connector could not start
 * (then each node's p2p is recorded unknown with the reason).
 * cs_audit_btc_p2p_judge records each node's result (NULL: nothing to record);
 * cs_audit_btc_p2p_free frees p (may be NULL) once the run is over. */
typedef struct btc_p2p btc_p2p;
btc_p2p *cs_audit_btc_p2p_start(net_run *nr);
void cs_audit_btc_p2p_judge(net_run *nr, const btc_p2p *p);
void cs_audit_btc_p2p_free(btc_p2p *p);

#endif
