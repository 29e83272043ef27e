/* Antelope checks: api, lag, lib_lag, chain_id, version, producing, and the
 * chain.
 *
 * Phase 1: /v1/chain/get_info on every node, /v1/chain/get_producer_schedule
 * on the first node with an API. Phase 2, when a producer is registered and
 * `observe` is set: the node with the best head is sampled every `sample`
 * for `observe`, and the sequence of head_block_producer feeds the tracker
 * of src/antelope/producers.h (missed blocks and rounds per producer). */
#include "antelope/producers.h"
#include "audit/check_int.h"
#include "core/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct ant_node {
    const cs_audit_node *n;
    bool ok;
    char err[512];
    uint64_t head, lib;
    int64_t head_ms;
    char producer[CS_ANT_NAME_MAX];
    char chain_id[80];
    char version[96];
} ant_node;

typedef struct ant_state {
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

static void api_url(const char *base, const char *path, char *out, size_t len)
{
    size_t bl = strlen(base);
    while (bl && base[bl - 1] == '/')
        bl--;
    snprintf(out, len, "%.*s%s", (int)bl, base, path);
}

/* Fills head, lib, time, producer, chain_id, version from get_info. */
static int parse_info(const cs_val *root, ant_node *an, char *err, size_t errlen)
{
    cs_val v;
    char t[40];
    if (cs_audit_val_member(root, "head_block_num", &v) != 0 ||
        cs_audit_val_u64(&v, &an->head) != 0) {
        snprintf(err, errlen, "get_info: no head_block_num");
        return CS_EPROTO;
    }
    if (cs_audit_val_member(root, "last_irreversible_block_num", &v) == 0)
        cs_audit_val_u64(&v, &an->lib);
    cs_audit_val_str(root, "head_block_time", t, sizeof t);
    if (cs_ant_time_parse(t, &an->head_ms) != 0) {
        snprintf(err, errlen, "get_info: bad head_block_time '%s'", t);
        return CS_EPROTO;
    }
    cs_audit_val_str(root, "head_block_producer", an->producer, sizeof an->producer);
    cs_audit_val_str(root, "chain_id", an->chain_id, sizeof an->chain_id);
    cs_audit_val_str(root, "server_version_string", an->version, sizeof an->version);
    if (!an->version[0])
        cs_audit_val_str(root, "server_version", an->version, sizeof an->version);
    return 0;
}

static void on_info(net_run *nr, void *ctx, const cs_val *root, const char *err)
{
    ant_node *an = ctx;
    if (err) {
        snprintf(an->err, sizeof an->err, "%s", err);
        return;
    }
    cs_val code;
    if (cs_audit_val_member(root, "code", &code) == 0 &&
        cs_audit_val_member(root, "head_block_num", &code) != 0) {
        char msg[160];
        cs_audit_val_str(root, "message", msg, sizeof msg);
        snprintf(an->err, sizeof an->err, "get_info: error: %s", msg);
        return;
    }
    if (parse_info(root, an, an->err, sizeof an->err) == 0)
        an->ok = true;
}

static void on_schedule(net_run *nr, void *ctx, const cs_val *root, const char *err)
{
    ant_state *s = ctx;
    if (err) {
        snprintf(s->sched_err, sizeof s->sched_err, "get_producer_schedule: %s", err);
        return;
    }
    cs_val act, prods, p;
    if (cs_audit_val_member(root, "active", &act) != 0 ||
        cs_audit_val_member(&act, "producers", &prods) != 0 || prods.kind != CS_VAL_ARRAY ||
        prods.count == 0) {
        snprintf(s->sched_err, sizeof s->sched_err, "get_producer_schedule: no active producers");
        return;
    }
    char names[CS_ANT_MAX_PRODUCERS][CS_ANT_NAME_MAX];
    const char *ptr[CS_ANT_MAX_PRODUCERS];
    size_t n = 0;
    cs_val_iter it;
    cs_val_iter_init(&it, &prods);
    while (n < CS_ANT_MAX_PRODUCERS && cs_val_next(&it, NULL, NULL, &p) == 1) {
        cs_audit_val_str(&p, "producer_name", names[n], sizeof names[n]);
        ptr[n] = names[n];
        n++;
    }
    if (cs_ant_tracker_init(&s->tracker, ptr, n) == 0)
        s->sched_ok = true;
    else
        snprintf(s->sched_err, sizeof s->sched_err, "get_producer_schedule: %zu producers", n);
}

static void on_sample(net_run *nr, void *ctx, const cs_val *root, const char *err)
{
    ant_state *s = ctx;
    ant_node tmp = {0};
    char e[256];
    if (err || parse_info(root, &tmp, e, sizeof e) != 0) {
        s->samples_failed++;
        return;
    }
    cs_ant_tracker_feed(&s->tracker, tmp.head, tmp.head_ms, tmp.producer);
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
    char url[1100];
    api_url(s->nodes[s->ref].n->rpc, "/v1/chain/get_info", url, sizeof url);
    cs_audit_nr_post(nr, url, "{}", NULL, on_sample, s);
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
        if (!n->rpc)
            continue;
        if (!an->ok) {
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
            cs_audit_nr_result(nr, nm, "producing", CS_AUDIT_OK, true, 0,
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
                "missed %llu blocks (%llu rounds) of %llu slots observed",
                (unsigned long long)ps->missed_blocks, (unsigned long long)ps->missed_rounds,
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
    nr->on_tick = on_tick;
    s->n = net->nnodes;
    for (size_t i = 0; i < s->n; i++) {
        ant_node *an = &s->nodes[i];
        an->n = &net->nodes[i];
        if (cs_audit_node_has_check(net, an->n, "producing"))
            s->want_schedule = true;
    }
    char url[1100];
    for (size_t i = 0; i < s->n; i++) {
        ant_node *an = &s->nodes[i];
        if (!an->n->rpc)
            continue;
        api_url(an->n->rpc, "/v1/chain/get_info", url, sizeof url);
        cs_audit_nr_post(nr, url, "{}", NULL, on_info, an);
        if (s->want_schedule && !s->url[0]) {
            snprintf(s->url, sizeof s->url, "%s", an->n->rpc);
            api_url(an->n->rpc, "/v1/chain/get_producer_schedule", url, sizeof url);
            cs_audit_nr_post(nr, url, "{}", NULL, on_schedule, s);
        }
    }
}
