/* Antelope checks: api, lag, lib_lag, chain_id, version, producing, and the
 * chain.
 *
 * Phase 1: /v1/chain/get_info on every node, /v1/chain/get_producer_schedule
 * on the first node with an API. Phase 2, when a producer is registered and
 * `observe` is set: the node with the best head is sampled every `sample`
 * for `observe`, and the sequence of head_block_producer feeds the tracker
 * of src/antelope/producers.h (missed blocks and rounds per producer).
 * The calls are antelope/chainapi.h's; this file judges their answers. */
#include "antelope/chainapi.h"
#include "antelope/producers.h"
#include "audit/check_int.h"
#include "core/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct ant_node {
    const cs_audit_node *n;
    net_run *nr;
    bool ok;
    char err[512];
    uint64_t head, lib;
    int64_t head_ms;
    char producer[CS_ANT_NAME_MAX];
    char chain_id[80];
    char version[96];
} ant_node;

typedef struct ant_state {
    net_run *nr;
    ant_node *nodes;
    size_t n;
    bool want_schedule, sched_ok;
    char sched_err[512];
    char url[1024]; /* the API base the schedule came from */
    cs_ant_tracker tracker;
    int ref; /* the node sampled while observing */
    uint64_t observe_until;
    uint64_t samples_failed;
} ant_state;

static void on_info(const cs_ant_info *in, void *arg)
{
    ant_node *an = arg;
    if (in->error) {
        snprintf(an->err, sizeof an->err, "%s", in->why);
    } else {
        an->ok = true;
        an->head = in->head;
        an->lib = in->lib;
        an->head_ms = in->head_ms;
        snprintf(an->producer, sizeof an->producer, "%s", in->producer);
        snprintf(an->chain_id, sizeof an->chain_id, "%s", in->chain_id);
        snprintf(an->version, sizeof an->version, "%s", in->version);
    }
    cs_audit_nr_release(an->nr);
}

static void on_schedule(const cs_ant_schedule *sc, void *arg)
{
    ant_state *s = arg;
    const char *ptr[CS_ANT_MAX_PRODUCERS];
    for (size_t i = 0; i < sc->n; i++)
        ptr[i] = sc->names[i];
    if (sc->error)
        snprintf(s->sched_err, sizeof s->sched_err, "%s", sc->why);
    else if (cs_ant_tracker_init(&s->tracker, ptr, sc->n) == 0)
        s->sched_ok = true;
    else
        snprintf(s->sched_err, sizeof s->sched_err, "get_producer_schedule: %zu producers", sc->n);
    cs_audit_nr_release(s->nr);
}

static void on_sample(const cs_ant_info *in, void *arg)
{
    ant_state *s = arg;
    if (in->error)
        s->samples_failed++;
    else
        cs_ant_tracker_feed(&s->tracker, in->head, in->head_ms, in->producer);
    cs_audit_nr_release(s->nr);
}

/* The answering node with the highest head (the first of equals), or -1. */
static int best_head(const ant_state *s)
{
    int best = -1;
    for (size_t i = 0; i < s->n; i++)
        if (s->nodes[i].ok && (best < 0 || s->nodes[i].head > s->nodes[best].head))
            best = (int)i;
    return best;
}

static void on_tick(net_run *nr, uint64_t now_ms)
{
    ant_state *s = nr->state;
    cs_audit_nr_hold(nr);
    if (cs_ant_get_info(cs_audit_nr_http(nr), s->nodes[s->ref].n->rpc, nr->lim.timeout_ms, on_sample, s)) {
        s->samples_failed++;
        cs_audit_nr_release(nr);
    }
    if (now_ms + nr->lim.sample_ms <= s->observe_until)
        cs_audit_nr_tick_at(nr, now_ms + nr->lim.sample_ms);
}

static void judge(net_run *nr)
{
    ant_state *s = nr->state;
    const cs_audit_limits *L = &nr->lim;
    int best = best_head(s);
    uint64_t bh = best >= 0 ? s->nodes[best].head : 0;
    int64_t bms = best >= 0 ? s->nodes[best].head_ms : 0;
    cs_audit_nr_chain(nr, best >= 0, bh, bms / 1000, best >= 0 ? s->nodes[best].n->name : "");
    for (size_t i = 0; i < s->n; i++) {
        ant_node *an = &s->nodes[i];
        const cs_audit_node *n = an->n;
        const char *nm = n->name;
        if (!n->rpc) {
            /* nothing to ask it; a producer is still judged from the schedule
             * and the best node's samples */
        } else if (!an->ok) {
            static const char *const checks[] = {"api", "lag", "lib_lag", "chain_id", "version"};
            cs_audit_nr_unanswered(nr, n, checks, 5, an->err);
        } else {
            if (cs_audit_node_has_check(nr->net, n, "api"))
                cs_audit_nr_result(nr, nm, "api", CS_AUDIT_OK, true, (double)an->head, "%s",
                                   an->version[0] ? an->version : "answering");
            if (cs_audit_node_has_check(nr->net, n, "lag")) {
                uint64_t blocks = bh - an->head;
                int64_t secs = (bms - an->head_ms) / 1000;
                bool ok = blocks <= L->lag_blocks && secs <= (int64_t)L->lag_seconds;
                cs_audit_nr_result(nr, nm, "lag", ok ? CS_AUDIT_OK : CS_AUDIT_FAIL, true,
                                   (double)blocks, "%llu blocks, %lld s behind%s",
                                   (unsigned long long)blocks, (long long)secs,
                                   ok ? "" : " (limit exceeded)");
            }
            if (cs_audit_node_has_check(nr->net, n, "lib_lag")) {
                uint64_t d = an->head > an->lib ? an->head - an->lib : 0;
                cs_audit_nr_result(nr, nm, "lib_lag", d <= L->lib_lag ? CS_AUDIT_OK : CS_AUDIT_FAIL,
                                   true, (double)d, "LIB %llu, %llu behind the head (limit %u)",
                                   (unsigned long long)an->lib, (unsigned long long)d, L->lib_lag);
            }
            if (cs_audit_node_has_check(nr->net, n, "chain_id")) {
                bool ok = strcmp(an->chain_id, nr->net->chain_id) == 0;
                cs_audit_nr_result(nr, nm, "chain_id", ok ? CS_AUDIT_OK : CS_AUDIT_FAIL, false, 0,
                                   ok ? "%.16s..." : "%s, expected the configured chain_id",
                                   an->chain_id);
            }
            if (cs_audit_node_has_check(nr->net, n, "version")) {
                bool ok = !nr->net->version || strcmp(an->version, nr->net->version) == 0;
                if (ok)
                    cs_audit_nr_result(nr, nm, "version", CS_AUDIT_OK, false, 0, "%s", an->version);
                else
                    cs_audit_nr_result(nr, nm, "version", CS_AUDIT_FAIL, false, 0,
                                       "%s, expected %s", an->version, nr->net->version);
            }
        }
        if (!cs_audit_node_has_check(nr->net, n, "producing"))
            continue;
        const cs_ant_producer_stats *ps =
            s->sched_ok ? cs_ant_tracker_get(&s->tracker, n->account) : NULL;
        if (!s->sched_ok)
            cs_audit_nr_result(nr, nm, "producing", CS_AUDIT_UNKNOWN, false, 0, "%s",
                               s->sched_err[0] ? s->sched_err : "no producer schedule");
        else if (!ps)
            cs_audit_nr_result(nr, nm, "producing", CS_AUDIT_OK, false, 0,
                               "%s is not in the active schedule (standby)", n->account);
        else if (!s->tracker.observed_slots)
            cs_audit_nr_result(nr, nm, "producing", CS_AUDIT_UNKNOWN, false, 0,
                               "production not observed (observe: %u ms, %llu samples failed)",
                               L->observe_ms, (unsigned long long)s->samples_failed);
        else
            cs_audit_nr_result(
                nr, nm, "producing",
                ps->missed_blocks <= L->max_missed_blocks ? CS_AUDIT_OK : CS_AUDIT_FAIL, true,
                (double)ps->missed_blocks,
                "missed %llu block%s (%llu round%s) of %llu slots observed",
                (unsigned long long)ps->missed_blocks, ps->missed_blocks == 1 ? "" : "s",
                (unsigned long long)ps->missed_rounds, ps->missed_rounds == 1 ? "" : "s",
                (unsigned long long)ps->slots);
    }
}

/* Phase 2: with a producer schedule, the node with the best head is
 * sampled for `observe`; without, nothing (judged at once). */
static void observe(net_run *nr)
{
    ant_state *s = nr->state;
    int best = best_head(s);
    if (s->sched_ok && best >= 0 && nr->lim.observe_ms > 0) {
        ant_node *an = &s->nodes[best];
        s->ref = best;
        cs_ant_tracker_feed(&s->tracker, an->head, an->head_ms, an->producer);
        uint64_t now = cs_audit_nr_now_ms(nr);
        s->observe_until = now + nr->lim.observe_ms;
        cs_audit_nr_tick_at(nr, now + nr->lim.sample_ms);
    }
}

void cs_audit_ant_start(net_run *nr)
{
    const cs_audit_network *net = nr->net;
    void *nodes;
    ant_state *s = cs_audit_nr_begin(nr, sizeof *s, sizeof *s->nodes, &nodes, NULL, observe, judge);
    if (!s)
        return;
    s->nodes = nodes;
    s->nr = nr;
    nr->on_tick = on_tick;
    s->n = net->nnodes;
    for (size_t i = 0; i < s->n; i++) {
        ant_node *an = &s->nodes[i];
        an->n = &net->nodes[i];
        an->nr = nr;
        if (cs_audit_node_has_check(net, an->n, "producing"))
            s->want_schedule = true;
    }
    uint32_t to = nr->lim.timeout_ms;
    int rc;
    for (size_t i = 0; i < s->n; i++) {
        ant_node *an = &s->nodes[i];
        if (!an->n->rpc)
            continue;
        cs_audit_nr_hold(nr);
        if ((rc = cs_ant_get_info(cs_audit_nr_http(nr), an->n->rpc, to, on_info, an))) {
            cs_audit_nr_not_sent(rc, an->err, sizeof an->err);
            cs_audit_nr_release(nr);
        }
        if (s->want_schedule && !s->url[0]) {
            snprintf(s->url, sizeof s->url, "%s", an->n->rpc);
            cs_audit_nr_hold(nr);
            if ((rc = cs_ant_get_schedule(cs_audit_nr_http(nr), an->n->rpc, to, on_schedule, s))) {
                cs_audit_nr_not_sent(rc, s->sched_err, sizeof s->sched_err);
                cs_audit_nr_release(nr);
            }
        }
    }
}
