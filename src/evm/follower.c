#include "evm/follower.h"
#include "evm/events.h"
#include "evm/follower_int.h"
#include "core/error.h"
#include "core/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void tick(cs_follower *f);
static void fill(cs_follower *f);
static void process(cs_follower *f);

/* ---- lifecycle --------------------------------------------------------------- */

static void free_all(cs_follower *f)
{
    sqlite3_stmt *sts[] = {f->st_begin, f->st_commit, f->st_block,
                           f->st_prune, f->st_cursor, f->st_cut};
    for (size_t i = 0; i < sizeof sts / sizeof *sts; i++)
        sqlite3_finalize(sts[i]);
    if (f->db)
        sqlite3_close(f->db);
    for (unsigned i = 0; i < CS_FOLLOWER_MAX_CONCURRENCY; i++) {
        free(f->slots[i].body);
        free(f->slots[i].rbody);
    }
    cs_jsonr_free(&f->json);
    cs_jsonr_free(&f->rjson);
    cs_buf_free(&f->scratch);
    cs_publisher_free(&f->pub);
    free(f->ring);
    free(f->walk_old);
    free(f->walk_new);
    free(f->network);
    free(f->origin);
    free(f->key);
    free(f->db_path);
    free(f);
}

static void maybe_free(cs_follower *f)
{
    if (f->closing && f->timer_closed && f->pending == 0 && !f->sub) {
        void (*done)(void *) = f->done;
        void *arg = f->done_arg;
        free_all(f);
        if (done)
            done(arg);
    }
}

static void on_timer_closed(uv_handle_t *h)
{
    cs_follower *f = h->data;
    f->timer_closed = true;
    maybe_free(f);
}

static void on_timer(uv_timer_t *t)
{
    tick(t->data);
}

static void on_sub_closed(void *arg)
{
    cs_follower *f = arg;
    f->sub = NULL;
    maybe_free(f);
}

int cs_follower_new(uv_loop_t *loop, cs_bus *bus, cs_rpc *rpc, const cs_evm_abis *abis,
                    const cs_follower_opts *o, cs_follower **out, char *err, size_t errlen)
{
    if (!o->network || !o->origin) {
        snprintf(err, errlen, "the follower needs a network and an origin");
        return CS_EINVAL;
    }
    cs_follower *f = calloc(1, sizeof *f);
    if (!f)
        return CS_ENOMEM;
    f->loop = loop;
    f->rpc = rpc;
    f->abis = abis;
    f->o = *o;
    if (!f->o.poll_ms)
        f->o.poll_ms = 2000;
    if (!f->o.subscribed_poll_ms)
        f->o.subscribed_poll_ms = 30000;
    if (f->o.subscribed_poll_ms < f->o.poll_ms)
        f->o.subscribed_poll_ms = f->o.poll_ms;
    f->poll_now = f->o.poll_ms;
    if (!f->o.concurrency)
        f->o.concurrency = 8;
    if (f->o.concurrency > CS_FOLLOWER_MAX_CONCURRENCY)
        f->o.concurrency = CS_FOLLOWER_MAX_CONCURRENCY;
    if (!f->o.reorg_depth)
        f->o.reorg_depth = 128;
    if (f->o.reorg_depth > RING_MAX)
        f->o.reorg_depth = RING_MAX;
    f->ring_size = f->o.reorg_depth;
    f->network = strdup(o->network);
    f->origin = strdup(o->origin);
    f->key = strdup(o->key ? o->key : o->network);
    f->db_path = o->db_path ? strdup(o->db_path) : NULL;
    f->ring = calloc(f->ring_size, sizeof *f->ring);
    f->walk_old = calloc(f->ring_size + 1, sizeof *f->walk_old);
    f->walk_new = calloc(f->ring_size + 1, sizeof *f->walk_new);
    cs_jsonr_init(&f->json, 0, 0);
    cs_jsonr_init(&f->rjson, 0, 0);
    cs_buf_init(&f->scratch, CS_EVENT_MAX_SIZE);
    cs_publisher_init(&f->pub, bus, f->origin, f->network);
    f->receipts = o->receipts_per_tx ? -1 : 0;
    if (!f->network || !f->origin || !f->key || !f->ring || !f->walk_old || !f->walk_new ||
        (o->db_path && !f->db_path)) {
        free_all(f);
        return CS_ENOMEM;
    }
    if (f->db_path) {
        int rc = cs_follower_db_open(f, err, errlen);
        if (rc) {
            free_all(f);
            return rc;
        }
    }
    int rc = o->subscribe_ipc ? cs_follower_sub_new(f, o->subscribe_ipc, err, errlen) : 0;
    if (rc) {
        free_all(f);
        return rc;
    }
    f->o.subscribe_ipc = NULL; /* borrowed: not kept */
    uv_timer_init(loop, &f->timer);
    f->timer.data = f;
    *out = f;
    return 0;
}

int cs_follower_start(cs_follower *f)
{
    if (f->have_next)
        CS_INFO(LOG, "%s: resuming at block %llu", f->network, (unsigned long long)f->next);
    f->last_progress_ms = uv_now(f->loop);
    if (f->sub)
        cs_headsub_start(f->sub);
    return uv_timer_start(&f->timer, on_timer, 0, f->poll_now);
}

void cs_follower_on_done(cs_follower *f, void (*on_done)(void *), void *arg)
{
    f->on_done = on_done;
    f->on_done_arg = arg;
}

void cs_follower_close(cs_follower *f, void (*done)(void *), void *arg)
{
    if (f->closing)
        return;
    f->closing = true;
    f->done = done;
    f->done_arg = arg;
    f->gen++;
    uv_timer_stop(&f->timer);
    uv_close((uv_handle_t *)&f->timer, on_timer_closed);
    if (f->sub)
        cs_headsub_close(f->sub, on_sub_closed, f);
}

void cs_follower_stats_get(const cs_follower *f, cs_follower_stats *st)
{
    *st = f->st;
    st->next = f->next;
    st->head = f->head;
    st->target = f->target;
}

/* ---- RPC plumbing ------------------------------------------------------------ */

static callctx *ctx_new(cs_follower *f, uint64_t number)
{
    callctx *c = malloc(sizeof *c);
    if (c) {
        c->f = f;
        c->number = number;
        c->gen = f->gen;
    }
    return c;
}

/* Returns true when the answer still matters (and frees nothing). */
static bool ctx_live(callctx *c)
{
    cs_follower *f = c->f;
    f->pending--;
    if (f->closing) {
        maybe_free(f);
        return false;
    }
    return c->gen == f->gen;
}

static int call_batch(cs_follower *f, const cs_rpc_req *reqs, size_t n, cs_rpc_cb cb,
                      uint64_t number)
{
    callctx *c = ctx_new(f, number);
    if (!c)
        return CS_ENOMEM;
    int rc = cs_rpc_batch(f->rpc, reqs, n, 0, cb, c);
    if (rc) {
        free(c);
        return rc;
    }
    f->pending++;
    return 0;
}

static void soon(cs_follower *f)
{
    if (!f->closing)
        uv_timer_start(&f->timer, on_timer, 0, f->poll_now);
}

void cs_follower_check_soon(cs_follower *f)
{
    soon(f);
}

static void warn_rpc(cs_follower *f, const char *what, const cs_rpc_result *res)
{
    char buf[256];
    f->st.errors++;
    CS_WARN(LOG, "%s: %s: %s", f->network, what, cs_rpc_strerror(res, buf, sizeof buf));
}

/* ---- reorgs -------------------------------------------------------------------- */

static ringent *ring_get(cs_follower *f, uint64_t n)
{
    ringent *e = &f->ring[n % f->ring_size];
    return e->used && e->number == n ? e : NULL;
}

static void drop_slots(cs_follower *f)
{
    for (unsigned i = 0; i < CS_FOLLOWER_MAX_CONCURRENCY; i++) {
        slot *s = &f->slots[i];
        free(s->body);
        free(s->rbody);
        memset(s, 0, sizeof *s);
    }
}

static void walk_step(cs_follower *f);

static void finish_walk(cs_follower *f, uint64_t ancestor)
{
    uint64_t old_head = f->next - 1;
    uint64_t depth = old_head - ancestor;
    cs_vw *w = cs_publisher_begin(&f->pub);
    cs_vw_kv_u64(w, "depth", depth);
    cs_vw_kv_u64(w, CS_EVF_REORG_ANCESTOR, ancestor);
    cs_vw_kv_u64(w, "old_head", old_head);
    cs_vw_key(w, "old_hashes");
    cs_vw_array_begin(w);
    for (unsigned i = f->walk_n; i-- > 0;)
        cs_vw_str(w, f->walk_old[i], 66);
    cs_vw_array_end(w);
    cs_vw_key(w, "new_hashes");
    cs_vw_array_begin(w);
    for (unsigned i = f->walk_n; i-- > 0;)
        cs_vw_str(w, f->walk_new[i], 66);
    cs_vw_array_end(w);
    cs_publisher_emit(&f->pub, CS_EVT_REORG, NULL, f->key, NULL);
    f->st.reorgs++;
    CS_WARN(LOG, "%s: reorg of depth %llu: blocks after %llu replaced; publishing the new branch",
            f->network, (unsigned long long)depth, (unsigned long long)ancestor);
    for (uint64_t n = ancestor + 1; n <= old_head; n++) {
        ringent *e = ring_get(f, n);
        if (e)
            e->used = false;
    }
    f->next = ancestor + 1;
    cs_follower_db_save(f, ancestor, NULL, true);
    f->walking = false;
    soon(f);
}

static void on_walk(const cs_rpc_result *res, void *arg)
{
    callctx *c = arg;
    cs_follower *f = c->f;
    bool live = ctx_live(c);
    free(c);
    if (!live)
        return;
    if (res->error || res->codes[0] || cs_jsonr_at(res->json, res->results[0])->type != CS_JT_OBJ) {
        if (!res->error)
            f->st.errors++;
        else
            warn_rpc(f, "walking back a reorg", res);
        f->walking = false; /* try again at the next poll */
        return;
    }
    char h[67];
    uint32_t hk = cs_jsonr_get(res->json, res->results[0], "hash");
    ringent *e = ring_get(f, f->walk_k);
    if (!hk || cs_evm_hexstr(res->json, hk, 32, h)) {
        f->walking = false;
        return;
    }
    if (!e || strcmp(e->hash, h) == 0) {
        /* Found the common ancestor, or ran out of known hashes. */
        finish_walk(f, f->walk_k);
        return;
    }
    memcpy(f->walk_old[f->walk_n], e->hash, 67);
    memcpy(f->walk_new[f->walk_n], h, 67);
    f->walk_n++;
    if (f->walk_k == 0 || f->walk_n >= f->ring_size) {
        CS_ERROR(LOG, "%s: reorg deeper than %u blocks; resuming after block %llu", f->network,
                 f->ring_size, (unsigned long long)(f->walk_k ? f->walk_k - 1 : 0));
        finish_walk(f, f->walk_k ? f->walk_k - 1 : 0);
        return;
    }
    f->walk_k--;
    walk_step(f);
}

static void walk_step(cs_follower *f)
{
    char params[64];
    snprintf(params, sizeof params, "[\"0x%llx\",false]", (unsigned long long)f->walk_k);
    cs_rpc_req q = {"eth_getBlockByNumber", params};
    if (call_batch(f, &q, 1, on_walk, f->walk_k))
        f->walking = false;
}

/* Starts walking back from block from (the newest published one). */
static void start_walk(cs_follower *f, uint64_t from)
{
    f->walking = true;
    f->gen++; /* answers for blocks fetched so far belong to the old branch */
    drop_slots(f);
    f->walk_k = from;
    f->walk_n = 0;
    walk_step(f);
}

/* ---- polling ------------------------------------------------------------------- */

static void progress(cs_follower *f)
{
    uint64_t now = uv_now(f->loop);
    if (now - f->last_progress_ms < 5000)
        return;
    if (f->have_target && f->target >= f->next && f->target - f->next > 10) {
        double rate = (double)(f->st.blocks - f->last_progress_block) * 1000.0 /
                      (double)(now - f->last_progress_ms);
        CS_INFO(LOG, "%s: catching up: block %llu of %llu (%llu behind), %.0f blocks/s", f->network,
                (unsigned long long)f->next, (unsigned long long)f->target,
                (unsigned long long)(f->target - f->next), rate);
    }
    f->last_progress_ms = now;
    f->last_progress_block = f->st.blocks;
}

static void check_head(cs_follower *f, const cs_rpc_result *res);

static void on_tick(const cs_rpc_result *res, void *arg)
{
    callctx *c = arg;
    cs_follower *f = c->f;
    f->ticking = false;
    bool live = ctx_live(c);
    free(c);
    if (!live)
        return;
    check_head(f, res);
    if (f->rewake && !f->walking && !f->closing) {
        f->rewake = false;
        soon(f);
    }
}

/* The answer to a head check (a poll or a notification). */
static void check_head(cs_follower *f, const cs_rpc_result *res)
{
    if (res->error) {
        warn_rpc(f, "polling the head", res);
        return;
    }
    const cs_jsonr *j = res->json;
    uint64_t head;
    uint32_t r0 = res->results[0];
    if (f->o.mode == CS_FOLLOW_DEPTH) {
        if (!r0 || cs_jsonr_u64(j, r0, &head)) {
            f->st.errors++;
            CS_WARN(LOG, "%s: eth_blockNumber: not a quantity", f->network);
            return;
        }
        f->head = head;
        if (head < f->o.confirmations)
            return;
        f->target = head - f->o.confirmations;
    } else {
        uint32_t num = r0 ? cs_jsonr_get(j, r0, "number") : 0;
        if (!num || cs_jsonr_u64(j, num, &head)) {
            f->st.errors++;
            CS_WARN(LOG, "%s: no %s block yet", f->network,
                    f->o.mode == CS_FOLLOW_SAFE ? "safe" : "finalized");
            return;
        }
        f->head = head;
        f->target = head;
    }
    f->have_target = true;
    /* Is the last published block still on the node's chain? */
    if (res->n > 1 && f->have_next && f->next > 0) {
        ringent *e = ring_get(f, f->next - 1);
        uint32_t hk = res->results[1] ? cs_jsonr_get(j, res->results[1], "hash") : 0;
        char h[67];
        if (e && hk && cs_evm_hexstr(j, hk, 32, h) == 0 && strcmp(h, e->hash) != 0) {
            start_walk(f, f->next - 1);
            return;
        }
        if (e && res->results[1] && cs_jsonr_at(j, res->results[1])->type == CS_JT_NULL &&
            f->o.mode == CS_FOLLOW_DEPTH && f->next - 1 > f->head) {
            /* The chain got shorter than what we published: a reorg too. */
            start_walk(f, f->next - 1);
            return;
        }
    }
    if (!f->have_next) {
        f->next = f->o.from_set ? f->o.from_block : f->target;
        f->have_next = true;
        CS_INFO(LOG, "%s: starting at block %llu (head %llu)", f->network,
                (unsigned long long)f->next, (unsigned long long)f->head);
    }
    progress(f);
    fill(f);
}

static void tick(cs_follower *f)
{
    if (f->closing || f->ticking || f->walking || f->finished)
        return;
    cs_rpc_req q[2];
    size_t n = 0;
    if (f->o.mode == CS_FOLLOW_DEPTH)
        q[n++] = (cs_rpc_req){"eth_blockNumber", NULL};
    else
        q[n++] = (cs_rpc_req){"eth_getBlockByNumber", f->o.mode == CS_FOLLOW_SAFE
                                                          ? "[\"safe\",false]"
                                                          : "[\"finalized\",false]"};
    char params[64];
    if (f->have_next && f->next > 0 && ring_get(f, f->next - 1)) {
        snprintf(params, sizeof params, "[\"0x%llx\",false]", (unsigned long long)(f->next - 1));
        q[n++] = (cs_rpc_req){"eth_getBlockByNumber", params};
    }
    if (call_batch(f, q, n, on_tick, 0) == 0) {
        f->ticking = true;
        f->rewake = false; /* this check covers every head announced so far */
    }
}

/* ---- fetching ------------------------------------------------------------------- */

static slot *slot_of(cs_follower *f, uint64_t n)
{
    return &f->slots[n % f->o.concurrency];
}

static char *copy_body(const cs_rpc_result *res, size_t *len)
{
    *len = res->json->n;
    char *b = malloc(*len + 1);
    if (b) {
        memcpy(b, res->json->text, *len);
        b[*len] = 0;
    }
    return b;
}

static void fetch(cs_follower *f, uint64_t n);

static void on_receipts(const cs_rpc_result *res, void *arg)
{
    callctx *c = arg;
    cs_follower *f = c->f;
    uint64_t n = c->number;
    bool live = ctx_live(c);
    free(c);
    if (!live)
        return;
    slot *s = slot_of(f, n);
    if (s->number != n || s->state != S_RECEIPTS)
        return;
    if (res->error) {
        warn_rpc(f, "fetching receipts", res);
        free(s->body);
        s->body = NULL;
        s->state = S_EMPTY; /* fetched again at the next poll */
        return;
    }
    s->rbody = copy_body(res, &s->rlen);
    s->state = s->rbody ? S_READY : S_EMPTY;
    process(f);
}

/* Asks for each transaction's receipt, for nodes without
 * eth_getBlockReceipts. */
static void fetch_receipts(cs_follower *f, slot *s, const cs_jsonr *j, uint32_t blk)
{
    uint32_t txs = cs_jsonr_get(j, blk, "transactions");
    size_t n = txs ? cs_jsonr_at(j, txs)->len : 0;
    if (n == 0) {
        s->state = S_READY;
        return;
    }
    if (n > CS_RPC_MAX_BATCH) {
        CS_ERROR(LOG, "%s: block %llu has %zu transactions, more than one batch of receipts",
                 f->network, (unsigned long long)s->number, n);
        n = CS_RPC_MAX_BATCH;
    }
    cs_rpc_req *q = calloc(n, sizeof *q);
    char(*params)[72] = calloc(n, sizeof *params);
    size_t k = 0;
    for (uint32_t it = cs_jsonr_first(j, txs); it && k < n; it = cs_jsonr_next_item(j, txs, it)) {
        uint32_t hk = cs_jsonr_get(j, it, "hash");
        char h[67];
        if (!hk || cs_evm_hexstr(j, hk, 32, h))
            continue;
        snprintf(params[k], sizeof params[k], "[\"%s\"]", h);
        q[k] = (cs_rpc_req){"eth_getTransactionReceipt", params[k]};
        k++;
    }
    s->state = S_RECEIPTS;
    if (!k || call_batch(f, q, k, on_receipts, s->number)) {
        s->state = k ? S_EMPTY : S_READY;
    }
    free(q);
    free(params);
}

static void on_block(const cs_rpc_result *res, void *arg)
{
    callctx *c = arg;
    cs_follower *f = c->f;
    uint64_t n = c->number;
    bool live = ctx_live(c);
    free(c);
    if (!live)
        return;
    slot *s = slot_of(f, n);
    if (s->number != n || s->state != S_FETCHING)
        return;
    s->state = S_EMPTY;
    if (res->error) {
        warn_rpc(f, "fetching a block", res);
        return;
    }
    const cs_jsonr *j = res->json;
    uint32_t blk = res->results[0];
    if (!blk || cs_jsonr_at(j, blk)->type != CS_JT_OBJ) {
        /* Not there yet (a node behind its own head): try again later. */
        return;
    }
    bool need_receipts = f->receipts < 0;
    if (res->n > 1 && res->codes[1]) {
        if (res->codes[1] == -32601 || res->codes[1] == -32600 || res->codes[1] == -32602) {
            if (f->receipts >= 0)
                CS_INFO(LOG, "%s: the node has no eth_getBlockReceipts; asking per transaction",
                        f->network);
            f->receipts = -1;
            need_receipts = true;
        } else {
            CS_WARN(LOG, "%s: block %llu: eth_getBlockReceipts failed (code %lld)", f->network,
                    (unsigned long long)n, (long long)res->codes[1]);
            f->st.errors++;
            return;
        }
    } else if (res->n > 1) {
        f->receipts = 1;
    }
    s->body = copy_body(res, &s->len);
    if (!s->body)
        return;
    if (need_receipts)
        fetch_receipts(f, s, j, blk);
    else
        s->state = S_READY;
    process(f);
}

static void fetch(cs_follower *f, uint64_t n)
{
    slot *s = slot_of(f, n);
    free(s->body);
    free(s->rbody);
    memset(s, 0, sizeof *s);
    s->number = n;
    s->state = S_FETCHING;
    char p1[64], p2[64];
    snprintf(p1, sizeof p1, "[\"0x%llx\",true]", (unsigned long long)n);
    snprintf(p2, sizeof p2, "[\"0x%llx\"]", (unsigned long long)n);
    cs_rpc_req q[2] = {{"eth_getBlockByNumber", p1}, {"eth_getBlockReceipts", p2}};
    if (call_batch(f, q, f->receipts < 0 ? 1 : 2, on_block, n))
        s->state = S_EMPTY;
}

/* Starts fetches for the blocks in [next, next + concurrency) that are not
 * yet fetched and are confirmed. */
static void fill(cs_follower *f)
{
    if (!f->have_next || !f->have_target || f->walking || f->closing || f->finished)
        return;
    for (uint64_t n = f->next; n < f->next + f->o.concurrency && n <= f->target; n++) {
        if (f->o.until_block && n > f->o.until_block)
            break;
        slot *s = slot_of(f, n);
        if (s->number == n && s->state != S_EMPTY)
            continue;
        if (s->number != n && s->state != S_EMPTY && s->number >= f->next)
            continue; /* should not happen: the window is the concurrency */
        fetch(f, n);
    }
}

/* ---- publishing ---------------------------------------------------------------- */

/* Finds the element of a batch response whose result has the JSON type. */
static uint32_t batch_result(const cs_jsonr *j, uint8_t type)
{
    if (cs_jsonr_at(j, 0)->type != CS_JT_ARR)
        return 0;
    for (uint32_t it = cs_jsonr_first(j, 0); it; it = cs_jsonr_next_item(j, 0, it)) {
        uint32_t r = cs_jsonr_get(j, it, "result");
        if (r && cs_jsonr_at(j, r)->type == type)
            return r;
    }
    return 0;
}

/* The receipt of transaction hash h in a per-transaction batch response:
 * the one with that hash, else the answer at position k (the request for
 * it), whose mismatch the caller reports. */
static uint32_t find_receipt(const cs_jsonr *j, const char *h, uint32_t k)
{
    uint32_t idx = 0, at_k = 0;
    for (uint32_t it = cs_jsonr_first(j, 0); it; it = cs_jsonr_next_item(j, 0, it), idx++) {
        uint32_t r = cs_jsonr_get(j, it, "result");
        if (!r || cs_jsonr_at(j, r)->type != CS_JT_OBJ)
            continue;
        if (idx == k)
            at_k = r;
        uint32_t th = cs_jsonr_get(j, r, "transactionHash");
        char got[67];
        if (th && cs_evm_hexstr(j, th, 32, got) == 0 && strcmp(got, h) == 0)
            return r;
    }
    return at_k;
}

/* Publishes block s (the next one). Returns false when a reorg was found. */
static bool publish_block(cs_follower *f, slot *s)
{
    char err[512];
    cs_jsonr *j = &f->json;
    if (cs_jsonr_parse(j, s->body, s->len)) {
        CS_WARN(LOG, "%s: block %llu: malformed response: %s", f->network,
                (unsigned long long)s->number, j->err);
        f->st.errors++;
        return true; /* refetched: the slot is emptied by the caller */
    }
    uint32_t blk = batch_result(j, CS_JT_OBJ);
    uint32_t rcpts = batch_result(j, CS_JT_ARR);
    cs_jsonr *rj = j;
    if (s->rbody) {
        if (cs_jsonr_parse(&f->rjson, s->rbody, s->rlen)) {
            CS_WARN(LOG, "%s: block %llu: malformed receipts: %s", f->network,
                    (unsigned long long)s->number, f->rjson.err);
            f->st.errors++;
            return true;
        }
        rj = &f->rjson;
    }
    /* Check the parent before publishing anything. */
    uint32_t ph = blk ? cs_jsonr_get(j, blk, "parentHash") : 0;
    char parent[67];
    ringent *prev = s->number ? ring_get(f, s->number - 1) : NULL;
    if (prev && ph && cs_evm_hexstr(j, ph, 32, parent) == 0 && strcmp(parent, prev->hash) != 0) {
        start_walk(f, s->number - 1);
        return false;
    }
    cs_evm_blockref ref;
    if (!blk || cs_evm_read_block(j, blk, &ref, parent, err, sizeof err)) {
        if (!blk)
            snprintf(err, sizeof err, "no block in the response");
        CS_WARN(LOG, "%s: block %llu: %s", f->network, (unsigned long long)s->number, err);
        f->st.errors++;
        return true;
    }
    if (ref.number != s->number)
        CS_WARN(LOG, "%s: asked for block %llu, the node sent %llu", f->network,
                (unsigned long long)s->number, (unsigned long long)ref.number);
    uint32_t txs = cs_jsonr_get(j, blk, "transactions");
    cs_evm_counts counts = {0};
    uint32_t k = 0;
    if (!s->rbody && rcpts && cs_jsonr_at(j, rcpts)->len != cs_jsonr_at(j, txs)->len) {
        CS_WARN(LOG, "%s: block %llu: %u receipts for %u transactions", f->network,
                (unsigned long long)s->number, cs_jsonr_at(j, rcpts)->len,
                cs_jsonr_at(j, txs)->len);
        f->st.errors++;
    }
    uint32_t rc_it = rcpts ? cs_jsonr_first(j, rcpts) : 0;
    for (uint32_t tx = cs_jsonr_first(j, txs); tx; tx = cs_jsonr_next_item(j, txs, tx), k++) {
        uint32_t rcpt = 0;
        if (s->rbody) {
            uint32_t hk = cs_jsonr_get(j, tx, "hash");
            char h[67];
            if (hk && cs_evm_hexstr(j, hk, 32, h) == 0)
                rcpt = find_receipt(rj, h, k);
        } else {
            rcpt = rc_it;
            if (rc_it)
                rc_it = cs_jsonr_next_item(j, rcpts, rc_it);
        }
        if (!rcpt) {
            CS_WARN(LOG, "%s: block %llu: transaction %u has no receipt", f->network,
                    (unsigned long long)s->number, k);
            f->st.errors++;
            continue;
        }
        if (cs_evm_emit_receipt(&f->pub, rj, rcpt, j, tx, &ref, f->abis, &f->scratch, &counts, err,
                                sizeof err)) {
            CS_WARN(LOG, "%s: %s", f->network, err);
            f->st.errors++;
        }
    }
    /* evm.block last: it tells sinks (monitors) that the block is complete */
    if (cs_evm_emit_block(&f->pub, j, blk, f->key, &ref, parent, err, sizeof err)) {
        CS_WARN(LOG, "%s: block %llu: %s", f->network, (unsigned long long)s->number, err);
        f->st.errors++;
    }
    f->st.blocks++;
    f->st.txs += counts.txs;
    f->st.logs += counts.logs;
    f->st.decoded_logs += counts.decoded_logs;
    ringent *e = &f->ring[s->number % f->ring_size];
    e->number = s->number;
    memcpy(e->hash, ref.hash, 67);
    e->used = true;
    f->next = s->number + 1;
    cs_follower_db_save(f, s->number, ref.hash, false);
    return true;
}

/* Publishes ready blocks in order. */
static void process(cs_follower *f)
{
    while (!f->walking && !f->closing && !f->finished) {
        slot *s = slot_of(f, f->next);
        if (s->number != f->next || s->state != S_READY)
            break;
        uint64_t n = s->number;
        if (!publish_block(f, s))
            return; /* walking back a reorg */
        if (f->next == n) {
            /* Not published (bad data): fetched again at the next poll, and
             * skipped after a few tries so one bad block cannot stop the
             * follower. */
            free(s->body);
            free(s->rbody);
            memset(s, 0, sizeof *s);
            if (f->bad_block != n) {
                f->bad_block = n;
                f->bad_count = 0;
            }
            if (++f->bad_count >= 5) {
                CS_ERROR(LOG, "%s: block %llu failed 5 times; skipping it", f->network,
                         (unsigned long long)n);
                f->next = n + 1;
                cs_follower_db_save(f, n, NULL, false);
                continue;
            }
            break;
        }
        free(s->body);
        free(s->rbody);
        memset(s, 0, sizeof *s);
        if (f->o.until_block && n >= f->o.until_block) {
            f->finished = true;
            if (f->on_done)
                f->on_done(f->on_done_arg);
            return;
        }
    }
    fill(f);
}
