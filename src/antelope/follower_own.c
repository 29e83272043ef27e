/* Our own producers (follower.h): each node's get_info checked as an
 * antelope.node event; after each round, the block each node holds at the
 * account's first height of the round: two different blocks signed by the
 * account at one height are a double production (two nodes signed in the
 * round); an account of the schedule without a block in the round had no
 * node producing (antelope.own.none). */
#include "antelope/chainapi.h"
#include "antelope/follower_int.h"
#include "core/error.h"
#include "core/log.h"
#include "net/jsonr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct node_req {
    cs_ant_follower *f;
    const cs_ant_own *own;
    const cs_ant_own_node *node;
    uint64_t t0;
    struct round_check *rc; /* NULL: a get_info check */
    size_t slot;
} node_req;

typedef struct round_check {
    cs_ant_follower *f;
    const cs_ant_own *own;
    uint64_t round_start, block;
    size_t pending;
    char ids[CS_ANT_MAX_NODES][CS_ANT_ID_HEX + 1]; /* "" when no block by the account */
} round_check;

static void node_event(cs_ant_follower *f, const cs_ant_own_node *nd, const cs_ant_info *in,
                       uint64_t latency)
{
    char reason[300] = "";
    uint64_t head_lag = 0, lib_lag = 0;
    if (in->error) {
        snprintf(reason, sizeof reason, "%s", in->why);
    } else {
        head_lag = f->head > in->head ? f->head - in->head : 0;
        lib_lag = f->lib > in->lib ? f->lib - in->lib : 0;
        if (f->chain_id[0] && strcmp(in->chain_id, f->chain_id) != 0)
            snprintf(reason, sizeof reason, "chain_id %s, not %s", in->chain_id, f->chain_id);
        else if (head_lag > f->o.max_lag)
            snprintf(reason, sizeof reason, "head %llu blocks behind (more than %llu)",
                     (unsigned long long)head_lag, (unsigned long long)f->o.max_lag);
        else if (lib_lag > f->o.max_lag)
            snprintf(reason, sizeof reason, "LIB %llu blocks behind (more than %llu)",
                     (unsigned long long)lib_lag, (unsigned long long)f->o.max_lag);
    }
    cs_vw *w = cs_publisher_begin(&f->pub);
    cs_vw_kv_str(w, "node", nd->name);
    cs_vw_kv_str(w, "api", nd->api);
    cs_vw_kv_u64(w, "head", in->head);
    cs_vw_kv_u64(w, "lib", in->lib);
    cs_vw_kv_u64(w, "head_lag", head_lag);
    cs_vw_kv_u64(w, "lib_lag", lib_lag);
    cs_vw_kv_str(w, "chain_id", in->chain_id);
    cs_vw_kv_str(w, "server_version", in->version);
    cs_vw_kv_u64(w, "latency_ms", latency);
    cs_vw_kv_bool(w, "ok", !reason[0]);
    if (reason[0])
        cs_vw_kv_str(w, "reason", reason);
    cs_publisher_emit(&f->pub, "antelope.node", NULL, nd->name, NULL);
}

static void on_node_info(const cs_ant_info *in, void *arg)
{
    node_req *q = arg;
    cs_ant_follower *f = q->f;
    if (!f->closing)
        node_event(f, q->node, in, uv_now(f->loop) - q->t0);
    free(q);
    ant_landed(f);
}

void ant_own_check(cs_ant_follower *f)
{
    for (size_t a = 0; a < f->o.nown; a++)
        for (size_t k = 0; k < f->o.own[a].nnodes; k++) {
            node_req *q = calloc(1, sizeof *q);
            if (!q)
                return;
            *q = (node_req){f, &f->o.own[a], &f->o.own[a].nodes[k], uv_now(f->loop), NULL, 0};
            if (cs_ant_get_info(f->http, q->node->api, (uint32_t)f->o.timeout_ms, on_node_info,
                                q) == 0)
                f->inflight++;
            else
                free(q);
        }
}

static void round_checked(round_check *rc)
{
    cs_ant_follower *f = rc->f;
    size_t n = rc->own->nnodes, distinct = 0;
    bool signer[CS_ANT_MAX_NODES] = {false};
    for (size_t k = 0; k < n; k++) {
        if (!rc->ids[k][0])
            continue;
        bool seen = false;
        for (size_t i = 0; i < k && !seen; i++)
            seen = signer[i] && strcmp(rc->ids[i], rc->ids[k]) == 0;
        if (!seen) {
            signer[k] = true;
            distinct++;
        }
    }
    if (distinct >= 2) {
        cs_vw *w = cs_publisher_begin(&f->pub);
        cs_vw_kv_str(w, "account", rc->own->account);
        cs_vw_kv_u64(w, "round_start", rc->round_start);
        cs_vw_kv_u64(w, "block", rc->block);
        cs_vw_key(w, "nodes");
        cs_vw_array_begin(w);
        for (size_t k = 0; k < n; k++)
            if (signer[k])
                cs_vw_cstr(w, rc->own->nodes[k].name);
        cs_vw_array_end(w);
        cs_vw_key(w, "ids");
        cs_vw_array_begin(w);
        for (size_t k = 0; k < n; k++)
            if (signer[k])
                cs_vw_cstr(w, rc->ids[k]);
        cs_vw_array_end(w);
        cs_publisher_emit(&f->pub, "antelope.double_production", NULL, rc->own->account, NULL);
        CS_WARN("antelope", "%s: %s: %zu nodes signed block %llu", f->o.network,
                rc->own->account, distinct, (unsigned long long)rc->block);
    }
}

static void on_node_block(const cs_http_response *res, void *arg)
{
    node_req *q = arg;
    cs_ant_follower *f = q->f;
    round_check *rc = q->rc;
    cs_ant_block b;
    char why[256];
    if (!res->error && res->status == 200 &&
        cs_ant_block_decode(res->body, res->body_len, &b, why, sizeof why) == 0 &&
        b.num == rc->block && strcmp(b.producer, rc->own->account) == 0)
        memcpy(rc->ids[q->slot], b.id, sizeof b.id);
    free(q);
    if (--rc->pending == 0) {
        if (!f->closing)
            round_checked(rc);
        free(rc);
    }
    ant_landed(f);
}

static void own_none(cs_ant_follower *f, const cs_ant_own *own, const cs_ant_round *r)
{
    cs_vw *w = cs_publisher_begin(&f->pub);
    cs_vw_kv_str(w, "account", own->account);
    cs_vw_kv_u64(w, "round_start", (uint64_t)r->start_ms);
    cs_vw_kv_u64(w, "nodes", own->nnodes);
    cs_publisher_emit(&f->pub, "antelope.own.none", NULL, own->account, NULL);
}

void ant_own_round(cs_ant_follower *f, const cs_ant_round *r)
{
    for (size_t a = 0; a < f->o.nown; a++) {
        const cs_ant_own *own = &f->o.own[a];
        size_t i = 0;
        while (i < r->n && strcmp(r->names[i], own->account) != 0)
            i++;
        if (i == r->n)
            continue; /* a standby this round */
        if (!r->produced[i]) {
            own_none(f, own, r);
            continue;
        }
        round_check *rc = calloc(1, sizeof *rc);
        if (!rc)
            return;
        *rc = (round_check){.f = f, .own = own, .round_start = (uint64_t)r->start_ms,
                            .block = r->first_produced[i], .pending = 1};
        char body[64];
        snprintf(body, sizeof body, "{\"block_num\":%llu}", (unsigned long long)rc->block);
        for (size_t k = 0; k < own->nnodes; k++) {
            node_req *q = calloc(1, sizeof *q);
            if (!q)
                break;
            *q = (node_req){f, own, &own->nodes[k], uv_now(f->loop), rc, k};
            rc->pending++;
            if (cs_ant_post(f->http, own->nodes[k].api, "/v1/chain/get_block_info", body,
                            (uint32_t)f->o.timeout_ms, on_node_block, q) == 0) {
                f->inflight++;
            } else {
                rc->pending--;
                free(q);
            }
        }
        if (--rc->pending == 0) {
            round_checked(rc);
            free(rc);
        }
    }
}
