/* A sweep: networks in parallel, each through the same phases (ask, follow
 * up, judge), results collected, one timer for all observing networks. */
#include "audit/check_int.h"
#include "core/error.h"
#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct owned_result {
    cs_audit_result r;
    char *mem; /* network, node, check, detail, back to back */
} owned_result;

struct cs_audit_run {
    uv_loop_t *loop;
    cs_http_client *http; /* borrowed */
    cs_rpc **rpcs;        /* owned: the nodes' JSON-RPC clients (cs_audit_nr_rpc) */
    size_t nrpcs, rpcs_cap;
    int closing; /* handles and clients still closing (cs_audit_run_free) */
    const cs_audit_config *cfg;
    int64_t now;
    net_run *nets;
    size_t nnets, pending_nets;
    owned_result *res;
    cs_audit_result *flat; /* built when done */
    size_t nres, cap;
    size_t dropped;
    uv_timer_t timer; /* wakes ticking networks; fires once for an empty run */
    bool done_called;
    cs_audit_run_cb done;
    void *arg;
};

/* ---- results ---------------------------------------------------------- */

void cs_audit_nr_result(net_run *nr, const char *node, const char *check, int state, bool has_value,
                        double value, const char *fmt, ...)
{
    cs_audit_run *run = nr->run;
    if (run->nres >= CS_AUDIT_RUN_MAX_RESULTS) {
        run->dropped++; /* bound: counted and logged when the sweep ends */
        return;
    }
    if (run->nres == run->cap) {
        size_t cap = run->cap ? run->cap * 2 : 128;
        owned_result *p = realloc(run->res, cap * sizeof *p);
        if (!p) {
            run->dropped++;
            return;
        }
        run->res = p;
        run->cap = cap;
    }
    char detail[CS_AUDIT_DETAIL_MAX] = "";
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(detail, sizeof detail, fmt, ap);
        va_end(ap);
    }
    size_t l1 = strlen(nr->net->name) + 1, l2 = strlen(node) + 1, l3 = strlen(check) + 1,
           l4 = strlen(detail) + 1;
    char *m = malloc(l1 + l2 + l3 + l4);
    if (!m) {
        run->dropped++;
        return;
    }
    memcpy(m, nr->net->name, l1);
    memcpy(m + l1, node, l2);
    memcpy(m + l1 + l2, check, l3);
    memcpy(m + l1 + l2 + l3, detail, l4);
    owned_result *o = &run->res[run->nres++];
    o->mem = m;
    o->r = (cs_audit_result){.time = nr->now,
                             .network = m,
                             .node = m + l1,
                             .check = m + l1 + l2,
                             .state = state,
                             .has_value = has_value,
                             .value = has_value ? value : 0,
                             .detail = fmt ? m + l1 + l2 + l3 : NULL};
}

static void run_maybe_done(cs_audit_run *run)
{
    if (run->pending_nets || run->done_called)
        return;
    run->done_called = true;
    uv_timer_stop(&run->timer);
    if (run->dropped)
        CS_WARN("audit", "sweep: %zu results dropped at the bound of %d", run->dropped,
                CS_AUDIT_RUN_MAX_RESULTS);
    run->flat = calloc(run->nres ? run->nres : 1, sizeof *run->flat);
    if (run->flat)
        for (size_t i = 0; i < run->nres; i++)
            run->flat[i] = run->res[i].r;
    run->done(run, run->arg);
}

void cs_audit_nr_finish(net_run *nr)
{
    if (nr->finished)
        return;
    nr->finished = true;
    nr->next_tick_ms = 0;
    cs_audit_run *run = nr->run;
    /* The aggregate per node, over the rows this network recorded. */
    for (size_t i = 0; i < nr->net->nnodes; i++) {
        const cs_audit_node *n = &nr->net->nodes[i];
        int st = -1;
        char why[CS_AUDIT_DETAIL_MAX] = "";
        for (size_t j = 0; j < run->nres; j++) {
            const cs_audit_result *r = &run->res[j].r;
            if (r->network != NULL && strcmp(r->network, nr->net->name) == 0 &&
                strcmp(r->node, n->name) == 0 && strncmp(r->check, "action.", 7) != 0) {
                if (r->state == CS_AUDIT_FAIL && st != CS_AUDIT_FAIL) {
                    st = CS_AUDIT_FAIL;
                    snprintf(why, sizeof why, "%s failed", r->check);
                } else if (r->state == CS_AUDIT_UNKNOWN && st != CS_AUDIT_FAIL) {
                    st = CS_AUDIT_UNKNOWN;
                    snprintf(why, sizeof why, "%s unknown", r->check);
                } else if (r->state == CS_AUDIT_OK && st < 0) {
                    st = CS_AUDIT_OK;
                }
            }
        }
        if (st < 0)
            cs_audit_nr_result(nr, n->name, CS_AUDIT_AVAILABLE, CS_AUDIT_UNKNOWN, false, 0,
                               "no check applies");
        else if (st == CS_AUDIT_OK)
            cs_audit_nr_result(nr, n->name, CS_AUDIT_AVAILABLE, st, false, 0, NULL);
        else
            cs_audit_nr_result(nr, n->name, CS_AUDIT_AVAILABLE, st, false, 0, "%s", why);
    }
    run->pending_nets--;
    run_maybe_done(run);
}

void cs_audit_nr_chain(net_run *nr, bool have, uint64_t best, int64_t best_time, const char *who)
{
    const char *C = CS_AUDIT_CHAIN_NODE;
    if (!have) {
        cs_audit_nr_result(nr, C, "height", CS_AUDIT_UNKNOWN, false, 0, "no node answered");
        cs_audit_nr_result(nr, C, "head_age", CS_AUDIT_UNKNOWN, false, 0, "no node answered");
        cs_audit_nr_result(nr, C, "advancing", CS_AUDIT_UNKNOWN, false, 0, "no node answered");
        return;
    }
    cs_audit_nr_result(nr, C, "height", CS_AUDIT_OK, true, (double)best, "best head %llu (%s)",
                       (unsigned long long)best, who);
    int64_t age = nr->now - best_time;
    if (age < 0)
        age = 0;
    int age_state = age <= (int64_t)nr->lim.head_max_age ? CS_AUDIT_OK : CS_AUDIT_FAIL;
    if (age_state == CS_AUDIT_OK)
        cs_audit_nr_result(nr, C, "head_age", age_state, true, (double)age,
                           "head %lld s old (limit %u s)", (long long)age, nr->lim.head_max_age);
    else /* no node has a newer block: nobody is producing */
        cs_audit_nr_result(nr, C, "head_age", age_state, true, (double)age,
                           "stalled: the best head %llu is %lld s old (limit %u s)",
                           (unsigned long long)best, (long long)age, nr->lim.head_max_age);
    const cs_audit_prev *p = nr->prev;
    if (!p || !p->have) {
        cs_audit_nr_result(nr, C, "advancing", age_state, false, 0,
                           age_state == CS_AUDIT_OK
                               ? "first sweep: judged by the head's age"
                               : "first sweep: stalled, judged by the head's age");
    } else if ((double)best > p->height) {
        cs_audit_nr_result(nr, C, "advancing", CS_AUDIT_OK, true, (double)best - p->height,
                           "%.0f blocks since the sweep %lld s ago", (double)best - p->height,
                           (long long)(nr->now - p->time));
    } else if (nr->now - p->time < (int64_t)nr->lim.head_max_age) {
        cs_audit_nr_result(nr, C, "advancing", age_state, true, 0,
                           "no new block since the sweep %lld s ago (too recent to tell)",
                           (long long)(nr->now - p->time));
    } else {
        cs_audit_nr_result(nr, C, "advancing", CS_AUDIT_FAIL, true, 0,
                           "stalled: stuck at %llu since the sweep %lld s ago",
                           (unsigned long long)best, (long long)(nr->now - p->time));
    }
}

/* ---- phases ----------------------------------------------------------- */

/* on_idle of every kind: see cs_audit_nr_begin. */
static void phased_idle(net_run *nr)
{
    if (nr->phase == 1) {
        nr->phase = 2;
        cs_audit_nr_hold(nr);
        if (nr->follow_up)
            nr->follow_up(nr);
        cs_audit_nr_release(nr); /* back here at once when nothing was asked */
        return;
    }
    if (nr->phase == 2) {
        nr->phase = 3;
        nr->judge(nr);
        cs_audit_nr_finish(nr);
    }
}

void *cs_audit_nr_begin(net_run *nr, size_t state_size, size_t node_size, void **nodes,
                        void (*free_state)(void *state), void (*follow_up)(net_run *nr),
                        void (*judge)(net_run *nr))
{
    void *s = calloc(1, state_size);
    void *n = s ? calloc(nr->net->nnodes ? nr->net->nnodes : 1, node_size) : NULL;
    if (!n) {
        free(s);
        nr->on_idle = cs_audit_nr_finish;
        cs_audit_nr_chain(nr, false, 0, 0, "");
        return NULL;
    }
    *nodes = n;
    nr->nodes = n;
    nr->state = s;
    nr->free_state = free_state;
    nr->follow_up = follow_up;
    nr->judge = judge;
    nr->on_idle = phased_idle;
    nr->phase = 1;
    return s;
}

void cs_audit_nr_unanswered(net_run *nr, const cs_audit_node *node, const char *const *checks,
                            size_t n, const char *why)
{
    for (size_t c = 0; c < n; c++)
        if (cs_audit_node_has_check(nr->net, node, checks[c]))
            cs_audit_nr_result(nr, node->name, checks[c], CS_AUDIT_FAIL, false, 0, "%s",
                               c == 0 ? why : "no answer");
}

/* ---- requests --------------------------------------------------------- */

void cs_audit_nr_hold(net_run *nr)
{
    nr->pending++;
}

void cs_audit_nr_release(net_run *nr)
{
    if (--nr->pending == 0 && !nr->finished && nr->next_tick_ms == 0)
        nr->on_idle(nr);
}

void cs_audit_nr_not_sent(int rc, char *why, size_t len)
{
    snprintf(why, len, "request not sent: %s", cs_strerror(rc));
}

cs_rpc *cs_audit_nr_rpc(net_run *nr, const char *url, const char *userpwd, char *why, size_t whylen)
{
    cs_audit_run *run = nr->run;
    if (run->nrpcs == run->rpcs_cap) {
        size_t cap = run->rpcs_cap ? run->rpcs_cap * 2 : 16;
        cs_rpc **p = realloc(run->rpcs, cap * sizeof *p);
        if (!p) {
            cs_audit_nr_not_sent(CS_ENOMEM, why, whylen);
            return NULL;
        }
        run->rpcs = p;
        run->rpcs_cap = cap;
    }
    cs_rpc_endpoint ep = {.url = url};
    cs_rpc_opts o = {.endpoints = &ep,
                     .nendpoints = 1,
                     .timeout_ms = nr->lim.timeout_ms,
                     .retries = (unsigned)-1, /* none: a sweep judges what answers now */
                     .max_response = CS_AUDIT_RPC_MAX_BODY,
                     .name = nr->net->name,
                     .userpwd = userpwd};
    cs_rpc *rpc;
    int rc = cs_rpc_new(run->loop, run->http, &o, &rpc);
    if (rc) {
        snprintf(why, whylen, "%s: %s", url,
                 rc == CS_EINVAL ? "not an http://, https:// or ipc:// URL" : cs_strerror(rc));
        return NULL;
    }
    run->rpcs[run->nrpcs++] = rpc;
    return rpc;
}

cs_http_client *cs_audit_nr_http(net_run *nr)
{
    return nr->run->http;
}

int cs_audit_http_client_new(uv_loop_t *loop, cs_http_client **out)
{
    int rc = cs_http_client_new(loop, CS_AUDIT_HTTP_MAX_PENDING, out);
    if (!rc)
        cs_http_client_set_max_connections(*out, CS_AUDIT_HTTP_MAX_CONNS);
    return rc;
}

/* ---- ticks ------------------------------------------------------------ */

uint64_t cs_audit_nr_now_ms(net_run *nr)
{
    return uv_now(nr->run->loop);
}

uv_loop_t *cs_audit_nr_loop(net_run *nr)
{
    return nr->run->loop;
}

static void on_timer(uv_timer_t *t);

static void arm(cs_audit_run *run)
{
    uint64_t next = 0;
    for (size_t i = 0; i < run->nnets; i++)
        if (run->nets[i].next_tick_ms && (!next || run->nets[i].next_tick_ms < next))
            next = run->nets[i].next_tick_ms;
    if (!next)
        return;
    uint64_t now = uv_now(run->loop);
    uv_timer_start(&run->timer, on_timer, next > now ? next - now : 0, 0);
}

void cs_audit_nr_tick_at(net_run *nr, uint64_t at_ms)
{
    nr->next_tick_ms = at_ms ? at_ms : 1;
    arm(nr->run);
}

static void on_timer(uv_timer_t *t)
{
    cs_audit_run *run = t->data;
    if (run->nnets == 0) {
        run_maybe_done(run);
        return;
    }
    uint64_t now = uv_now(run->loop);
    for (size_t i = 0; i < run->nnets; i++) {
        net_run *nr = &run->nets[i];
        if (nr->next_tick_ms && nr->next_tick_ms <= now && !nr->finished) {
            nr->next_tick_ms = 0;
            cs_audit_nr_hold(nr);
            nr->on_tick(nr, now);
            cs_audit_nr_release(nr);
        }
    }
    if (!run->done_called)
        arm(run);
}

/* ---- the run ---------------------------------------------------------- */

int cs_audit_run_start(uv_loop_t *loop, cs_http_client *http, const cs_audit_config *cfg,
                       int64_t now, const cs_audit_prev *prev, cs_audit_run_cb done, void *arg,
                       cs_audit_run **out)
{
    cs_audit_run *run = calloc(1, sizeof *run);
    if (!run)
        return CS_ENOMEM;
    run->nets = calloc(cfg->nnets ? cfg->nnets : 1, sizeof *run->nets);
    if (!run->nets) {
        free(run);
        return CS_ENOMEM;
    }
    run->loop = loop;
    run->http = http;
    run->cfg = cfg;
    run->now = now;
    run->done = done;
    run->arg = arg;
    run->nnets = cfg->nnets;
    uv_timer_init(loop, &run->timer);
    run->timer.data = run;
    *out = run;
    run->pending_nets = cfg->nnets;
    if (cfg->nnets == 0) {
        uv_timer_start(&run->timer, on_timer, 0, 0);
        return 0;
    }
    for (size_t i = 0; i < cfg->nnets; i++) {
        net_run *nr = &run->nets[i];
        nr->run = run;
        nr->net = &cfg->nets[i];
        nr->lim = cs_audit_limits_effective(&nr->net->lim, nr->net->kind);
        nr->prev = prev ? &prev[i] : NULL;
        nr->now = now;
    }
    for (size_t i = 0; i < cfg->nnets; i++) {
        net_run *nr = &run->nets[i];
        cs_audit_nr_hold(nr);
        switch (nr->net->kind) {
        case CS_AUDIT_EVM:
            cs_audit_evm_start(nr);
            break;
        case CS_AUDIT_BITCOIN:
            cs_audit_btc_start(nr);
            break;
        default:
            cs_audit_ant_start(nr);
            if (nr->net->bp.enabled)
                cs_audit_ant_bp_start(nr);
        }
        cs_audit_nr_release(nr);
    }
    return 0;
}

size_t cs_audit_run_results(const cs_audit_run *run, const cs_audit_result **out)
{
    *out = run->flat;
    return run->flat ? run->nres : 0;
}

/* One more of the run's handles and clients has closed; the last frees it. */
static void run_release(cs_audit_run *run)
{
    if (--run->closing)
        return;
    for (size_t i = 0; i < run->nres; i++)
        free(run->res[i].mem);
    free(run->res);
    free(run->flat);
    free(run->nets);
    free(run->rpcs);
    free(run);
}

static void run_closed(uv_handle_t *h)
{
    run_release(h->data);
}

static void rpc_closed(void *arg)
{
    run_release(arg);
}

void cs_audit_run_free(cs_audit_run *run)
{
    if (!run)
        return;
    for (size_t i = 0; i < run->nnets; i++) {
        net_run *nr = &run->nets[i];
        if (nr->free_state)
            nr->free_state(nr->state);
        free(nr->state);
        free(nr->nodes);
    }
    run->closing = 1 + (int)run->nrpcs;
    for (size_t i = 0; i < run->nrpcs; i++)
        cs_rpc_close(run->rpcs[i], rpc_closed, run);
    uv_timer_stop(&run->timer);
    uv_close((uv_handle_t *)&run->timer, run_closed);
}
