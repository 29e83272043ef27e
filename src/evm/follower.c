/* The EVM chain follower (follower.h, docs/evm.md): one idea, the walk
 * along the chain: the head poll, fetching blocks in order with bounded
 * concurrency, confirmations and reorgs, publishing each block in slices and
 * committing the cursor behind a bus barrier. Its head subscription is
 * follower_sub.c and its cursor database follower_db.c. */
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
static void slot_clear(slot *s);
static void barrier_kick(cs_follower *f);
static void on_pressure(cs_bus *bus, int pressed, void *arg);

/* ---- lifecycle --------------------------------------------------------------- */

static void free_all(cs_follower *f)
{
    if (f->barrier)
        f->barrier->f = NULL; /* it frees itself when it passes */
    if (f->watch)
        cs_bus_unwatch_pressure(f->watch);
    sqlite3_stmt *sts[] = {f->st_begin, f->st_commit, f->st_block,
                           f->st_prune, f->st_cursor, f->st_cut};
    for (size_t i = 0; i < sizeof sts / sizeof *sts; i++)
        sqlite3_finalize(sts[i]);
    if (f->db)
        sqlite3_close(f->db);
    for (unsigned i = 0; i < CS_FOLLOWER_MAX_CONCURRENCY; i++)
        slot_clear(&f->slots[i]);
    free(f->db_batch);
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

void cs_follower_maybe_free(cs_follower *f)
{
    if (f->closing && f->handles == 0 && f->pending == 0 && !f->sub && !cs_follower_db_busy(f) &&
        !f->barrier && !cs_follower_db_writable(f)) {
        void (*done)(void *) = f->done;
        void *arg = f->done_arg;
        free_all(f);
        if (done)
            done(arg);
    }
}

static void on_handle_closed(uv_handle_t *h)
{
    cs_follower *f = h->data;
    f->handles--;
    cs_follower_maybe_free(f);
}

static void on_timer(uv_timer_t *t)
{
    tick(t->data);
}

static void on_sub_closed(void *arg)
{
    cs_follower *f = arg;
    f->sub = NULL;
    cs_follower_maybe_free(f);
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
    cs_buf_init(&f->scratch, CS_EVENT_MAX_SIZE);
    f->bus = bus;
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
    if ((rc = cs_bus_watch_pressure(bus, on_pressure, f, &f->watch))) {
        free_all(f);
        return rc;
    }
    f->pressed = cs_bus_pressed(bus);
    uv_timer_init(loop, &f->timer);
    f->timer.data = f;
    uv_idle_init(loop, &f->pump);
    f->pump.data = f;
    f->handles = 2;
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
    uv_close((uv_handle_t *)&f->timer, on_handle_closed);
    uv_idle_stop(&f->pump);
    uv_close((uv_handle_t *)&f->pump, on_handle_closed);
    if (f->watch)
        cs_bus_unwatch_pressure(f->watch);
    f->watch = NULL;
    barrier_kick(f); /* the last blocks' cursor, once their events are out */
    if (f->sub)
        cs_headsub_close(f->sub, on_sub_closed, f);
}

void cs_follower_stats_get(const cs_follower *f, cs_follower_stats *st)
{
    *st = f->st;
    st->next = f->next;
    st->head = f->head;
    st->target = f->target;
    st->node_down = f->down;
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
        cs_follower_maybe_free(f);
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

/* Transport failures (after the client's own retries) mean the node is
 * unreachable; other errors are the node's answers. */
static bool unreachable(int error)
{
    return error == CS_ETIMEDOUT || error == CS_EIO;
}

/* The node failed a call: the first failure of an outage is logged, the
 * others only at debug level, and polls back off (poll_ms doubled at each
 * failed poll up to CS_FOLLOWER_BACKOFF_MAX_MS). */
static void node_down(cs_follower *f, const char *what, const cs_rpc_result *res, bool poll)
{
    char buf[256];
    cs_rpc_strerror(res, buf, sizeof buf);
    if (!f->down) {
        f->down = true;
        f->down_since_ms = uv_now(f->loop);
        f->down_polls = 0;
        f->st.outages++;
        CS_WARN(LOG, "%s: node %s unreachable: %s: %s", f->network, f->key, what, buf);
    } else {
        CS_DEBUG(LOG, "%s: node %s still unreachable: %s: %s", f->network, f->key, what, buf);
    }
    if (!poll || f->closing)
        return;
    uint64_t d = f->o.poll_ms;
    for (unsigned i = 0; i < f->down_polls && d < CS_FOLLOWER_BACKOFF_MAX_MS; i++)
        d *= 2;
    if (d > CS_FOLLOWER_BACKOFF_MAX_MS)
        d = CS_FOLLOWER_BACKOFF_MAX_MS;
    f->down_polls++;
    uv_timer_start(&f->timer, on_timer, d, d);
}

/* A head check succeeded: the end of an outage is logged once and the
 * polls go back to their pace. */
static void node_up(cs_follower *f)
{
    if (!f->down)
        return;
    f->down = false;
    CS_INFO(LOG, "%s: node %s back after %.0f s", f->network, f->key,
            (double)(uv_now(f->loop) - f->down_since_ms) / 1000.0);
    if (!f->closing)
        uv_timer_start(&f->timer, on_timer, f->poll_now, f->poll_now);
}

static void warn_rpc(cs_follower *f, const char *what, const cs_rpc_result *res)
{
    char buf[256];
    f->st.errors++;
    if (unreachable(res->error)) {
        node_down(f, what, res, false);
        return;
    }
    CS_WARN(LOG, "%s: %s: %s", f->network, what, cs_rpc_strerror(res, buf, sizeof buf));
}

/* Every event published before the barrier has left the process (or gone
 * to every sink that must not lose it): the cursor writes queued before it
 * may be written. */
static void on_barrier(void *arg)
{
    fbarrier *b = arg;
    cs_follower *f = b->f;
    uint64_t upto = b->upto;
    free(b);
    if (!f)
        return; /* the follower went away without waiting */
    f->barrier = NULL;
    cs_follower_db_reached(f, upto);
    barrier_kick(f);
    cs_follower_maybe_free(f);
}

/* Asks the bus for a barrier covering every cursor write queued so far,
 * unless one is in flight (the next one covers what queues meanwhile). */
static void barrier_kick(cs_follower *f)
{
    if (f->barrier || f->saves_ready == f->saves_tail)
        return;
    fbarrier *b = malloc(sizeof *b);
    if (!b)
        return; /* tried again at the next block or at close */
    b->f = f;
    b->upto = f->saves_tail;
    if (cs_bus_barrier(f->bus, on_barrier, b)) {
        free(b);
        return;
    }
    f->barrier = b;
}

/* Queues the cursor write for what has just been published (see
 * cs_follower_db_save), to be written once those events are out: a crash
 * before that publishes them again instead of skipping them. */
static void save_cursor(cs_follower *f, uint64_t n, const char *h, bool cut)
{
    cs_follower_db_save(f, n, h, cut);
    barrier_kick(f);
}

/* The bus's pressure changed: stop fetching and publishing new blocks while
 * it is pressed, go on when it is released. Runs inside publish or drain:
 * it publishes nothing itself (the pump does, from the next loop turn). */
static void on_pressure(cs_bus *bus, int pressed, void *arg)
{
    cs_follower *f = arg;
    (void)bus;
    f->pressed = pressed;
    if (pressed) {
        f->st.pressed++;
        return;
    }
    process(f);
    fill(f);
}

/* ---- reorgs -------------------------------------------------------------------- */

static ringent *ring_get(cs_follower *f, uint64_t n)
{
    ringent *e = &f->ring[n % f->ring_size];
    return e->used && e->number == n ? e : NULL;
}

static void slot_clear(slot *s)
{
    free(s->text);
    free(s->rtext);
    cs_jsonr_free(&s->json);
    cs_jsonr_free(&s->rjson);
    memset(s, 0, sizeof *s);
}

/* Freeing a big response (tens of MB that were written to) takes
 * milliseconds; it is done on the thread pool. */
#define FREE_OFF_LOOP_BYTES (256u << 10)

typedef struct garbage {
    uv_work_t work;
    cs_follower *f;
    void *p[4];
} garbage;

static void garbage_free(uv_work_t *w)
{
    garbage *g = w->data;
    for (size_t i = 0; i < sizeof g->p / sizeof *g->p; i++)
        free(g->p[i]);
}

static void garbage_done(uv_work_t *w, int status)
{
    garbage *g = w->data;
    cs_follower *f = g->f;
    (void)status;
    free(g);
    f->handles--;
    cs_follower_maybe_free(f);
}

/* Empties slot s, freeing a big block's buffers off the loop. */
static void slot_release(cs_follower *f, slot *s)
{
    garbage *g = s->json.n + s->rjson.n > FREE_OFF_LOOP_BYTES ? malloc(sizeof *g) : NULL;
    if (g) {
        g->f = f;
        g->p[0] = s->text;
        g->p[1] = s->rtext;
        g->p[2] = s->json.tok;
        g->p[3] = s->rjson.tok;
        g->work.data = g;
        if (uv_queue_work(f->loop, &g->work, garbage_free, garbage_done) == 0) {
            f->handles++;
            memset(s, 0, sizeof *s);
            return;
        }
        free(g);
    }
    slot_clear(s);
}

static void drop_slots(cs_follower *f)
{
    for (unsigned i = 0; i < CS_FOLLOWER_MAX_CONCURRENCY; i++)
        slot_clear(&f->slots[i]);
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
    if (f->walk_n) {
        /* the same reorg in the shape every chain shares (chain.reorg, the
         * fork watch's event; walk_*[0] are the newest heights) */
        w = cs_publisher_begin(&f->pub);
        cs_vw_kv_str(w, "node", f->key);
        cs_vw_kv_u64(w, "depth", depth);
        cs_vw_kv_u64(w, "fork_height", ancestor);
        cs_vw_kv_strn(w, "old_tip", f->walk_old[0], 66);
        cs_vw_kv_strn(w, "new_tip", f->walk_new[0], 66);
        cs_vw_kv_u64(w, "old_height", old_head);
        cs_vw_kv_u64(w, "new_height", old_head);
        cs_publisher_emit(&f->pub, "chain.reorg", NULL, f->key, NULL);
    }
    f->st.reorgs++;
    CS_WARN(LOG, "%s: reorg of depth %llu: blocks after %llu replaced; publishing the new branch",
            f->network, (unsigned long long)depth, (unsigned long long)ancestor);
    for (uint64_t n = ancestor + 1; n <= old_head; n++) {
        ringent *e = ring_get(f, n);
        if (e)
            e->used = false;
    }
    f->next = ancestor + 1;
    save_cursor(f, ancestor, NULL, true);
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

static void check_head(cs_follower *f, const cs_rpc_result *res, uint64_t asked);

static void on_tick(const cs_rpc_result *res, void *arg)
{
    callctx *c = arg;
    cs_follower *f = c->f;
    uint64_t c_number = c->number; /* the published block whose hash was asked, +1; 0: none */
    f->ticking = false;
    bool live = ctx_live(c);
    free(c);
    if (!live)
        return;
    check_head(f, res, c_number);
    if (f->rewake && !f->walking && !f->closing) {
        f->rewake = false;
        soon(f);
    }
}

/* The answer to a head check (a poll or a notification); asked - 1 is
 * the published block whose hash came with it (asked 0: none). */
static void check_head(cs_follower *f, const cs_rpc_result *res, uint64_t asked)
{
    if (res->error && unreachable(res->error)) {
        f->st.errors++;
        node_down(f, "polling the head", res, true);
        return;
    }
    if (res->error) {
        warn_rpc(f, "polling the head", res);
        return;
    }
    node_up(f);
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
    /* Is the last published block still on the node's chain? Only when it
     * is still the last one (blocks published while the check was out are
     * checked by their parents) and no block is half published. */
    if (res->n > 1 && f->have_next && f->next > 0 && asked == f->next && !f->cur.active) {
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
    if (call_batch(f, q, n, on_tick, n > 1 ? f->next : 0) == 0) {
        f->ticking = true;
        f->rewake = false; /* this check covers every head announced so far */
    }
}

/* ---- fetching ------------------------------------------------------------------- */

static slot *slot_of(cs_follower *f, uint64_t n)
{
    return &f->slots[n % f->o.concurrency];
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
    if (res->error || cs_rpc_take(res, &s->rjson, &s->rtext)) {
        if (res->error)
            warn_rpc(f, "fetching receipts", res);
        slot_clear(s); /* fetched again at the next poll */
        return;
    }
    s->number = n;
    s->state = S_READY;
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
    s->blk = blk;
    s->rcpts = res->n > 1 && res->results[1] && cs_jsonr_at(j, res->results[1])->type == CS_JT_ARR
                   ? res->results[1]
                   : 0;
    if (cs_rpc_take(res, &s->json, &s->text))
        return;
    if (need_receipts)
        fetch_receipts(f, s, &s->json, blk);
    else
        s->state = S_READY;
    process(f);
}

static void fetch(cs_follower *f, uint64_t n)
{
    slot *s = slot_of(f, n);
    slot_clear(s);
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
    if (!f->have_next || !f->have_target || f->walking || f->closing || f->finished || f->down ||
        f->pressed)
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

/* A slice: at most SLICE_ITEMS transactions and logs, and at most
 * SLICE_NS of work, per loop turn (checked every SLICE_CHECK items); a
 * bigger block goes out over several turns. */
#define SLICE_ITEMS 2048
#define SLICE_NS 2000000u
#define SLICE_CHECK 32

enum begin { B_STARTED, B_BAD, B_REORG };

/* Checks block s (the next one) and starts publishing it into f->cur:
 * B_REORG when its parent is not the block published before it (a walk
 * back has started), B_BAD when the data is unusable. */
static enum begin begin_block(cs_follower *f, slot *s)
{
    char err[512];
    const cs_jsonr *j = &s->json;
    uint32_t blk = s->blk;
    pubstate *c = &f->cur;
    /* Check the parent before publishing anything. */
    uint32_t ph = cs_jsonr_get(j, blk, "parentHash");
    ringent *prev = s->number ? ring_get(f, s->number - 1) : NULL;
    if (prev && ph && cs_evm_hexstr(j, ph, 32, c->parent) == 0 &&
        strcmp(c->parent, prev->hash) != 0) {
        start_walk(f, s->number - 1);
        return B_REORG;
    }
    if (cs_evm_read_block(j, blk, &c->ref, c->parent, err, sizeof err)) {
        CS_WARN(LOG, "%s: block %llu: %s", f->network, (unsigned long long)s->number, err);
        f->st.errors++;
        return B_BAD;
    }
    if (c->ref.number != s->number)
        CS_WARN(LOG, "%s: asked for block %llu, the node sent %llu", f->network,
                (unsigned long long)s->number, (unsigned long long)c->ref.number);
    uint32_t txs = cs_jsonr_get(j, blk, "transactions");
    if (!s->rtext && s->rcpts && cs_jsonr_at(j, s->rcpts)->len != cs_jsonr_at(j, txs)->len) {
        CS_WARN(LOG, "%s: block %llu: %u receipts for %u transactions", f->network,
                (unsigned long long)s->number, cs_jsonr_at(j, s->rcpts)->len,
                cs_jsonr_at(j, txs)->len);
        f->st.errors++;
    }
    c->tx = cs_jsonr_first(j, txs);
    c->rc_it = s->rcpts ? cs_jsonr_first(j, s->rcpts) : 0;
    c->k = 0;
    memset(&c->counts, 0, sizeof c->counts);
    c->active = true;
    return B_STARTED;
}

/* Publishes the next transactions of f->cur (each evm.tx with its
 * evm.logs) while *budget lasts. Returns true when every one is out. */
static bool publish_txs(cs_follower *f, slot *s, long *budget, uint64_t t0)
{
    char err[512];
    const cs_jsonr *j = &s->json;
    const cs_jsonr *rj = s->rtext ? &s->rjson : j;
    pubstate *c = &f->cur;
    uint32_t txs = cs_jsonr_get(j, s->blk, "transactions");
    unsigned done = 0;
    while (c->tx) {
        if (*budget <= 0 || (++done % SLICE_CHECK == 0 && uv_hrtime() - t0 > SLICE_NS))
            return false;
        uint32_t tx = c->tx, rcpt = 0;
        if (s->rtext) {
            uint32_t hk = cs_jsonr_get(j, tx, "hash");
            char h[67];
            if (hk && cs_evm_hexstr(j, hk, 32, h) == 0)
                rcpt = find_receipt(rj, h, c->k);
        } else {
            rcpt = c->rc_it;
            if (c->rc_it)
                c->rc_it = cs_jsonr_next_item(j, s->rcpts, c->rc_it);
        }
        uint64_t logs = c->counts.logs;
        if (!rcpt) {
            CS_WARN(LOG, "%s: block %llu: transaction %u has no receipt", f->network,
                    (unsigned long long)s->number, c->k);
            f->st.errors++;
        } else if (cs_evm_emit_receipt(&f->pub, rj, rcpt, j, tx, &c->ref, f->abis, &f->scratch,
                                       &c->counts, err, sizeof err)) {
            CS_WARN(LOG, "%s: %s", f->network, err);
            f->st.errors++;
        }
        *budget -= 1 + (long)(c->counts.logs - logs);
        c->tx = cs_jsonr_next_item(j, txs, tx);
        c->k++;
    }
    return true;
}

/* Ends block s: evm.block last (it tells sinks such as the monitors that
 * the block is complete), then the ring and the cursor. */
static void finish_block(cs_follower *f, slot *s)
{
    char err[512];
    pubstate *c = &f->cur;
    if (cs_evm_emit_block(&f->pub, &s->json, s->blk, f->key, &c->ref, c->parent, err, sizeof err)) {
        CS_WARN(LOG, "%s: block %llu: %s", f->network, (unsigned long long)s->number, err);
        f->st.errors++;
    }
    f->st.blocks++;
    f->st.txs += c->counts.txs;
    f->st.logs += c->counts.logs;
    f->st.decoded_logs += c->counts.decoded_logs;
    ringent *e = &f->ring[s->number % f->ring_size];
    e->number = s->number;
    memcpy(e->hash, c->ref.hash, 67);
    e->used = true;
    f->next = s->number + 1;
    c->active = false;
    save_cursor(f, s->number, c->ref.hash, false);
}

/* Block s could not be published (bad data): fetched again at the next
 * poll, and skipped after a few tries so one bad block cannot stop the
 * follower. */
static void bad_block(cs_follower *f, slot *s)
{
    uint64_t n = s->number;
    slot_clear(s);
    if (f->bad_block != n) {
        f->bad_block = n;
        f->bad_count = 0;
    }
    if (++f->bad_count >= 5) {
        CS_ERROR(LOG, "%s: block %llu failed 5 times; skipping it", f->network,
                 (unsigned long long)n);
        f->next = n + 1;
        save_cursor(f, n, NULL, false);
    }
}

static void pump_stop(cs_follower *f)
{
    if (f->pumping) {
        uv_idle_stop(&f->pump);
        f->pumping = false;
    }
}

/* One loop turn's slice: publishes ready blocks in order, the next one
 * possibly in part, within the slice's bounds; stops the pump when
 * nothing is ready. */
static void on_pump(uv_idle_t *h)
{
    cs_follower *f = h->data;
    uint64_t t0 = uv_hrtime();
    long budget = SLICE_ITEMS;
    while (!f->walking && !f->closing && !f->finished && !f->pressed) {
        slot *s = slot_of(f, f->next);
        if (!f->cur.active) {
            if (s->number != f->next || s->state != S_READY || cs_follower_db_full(f))
                break;
            if (budget <= 0 || uv_hrtime() - t0 > SLICE_NS)
                return; /* the next turn goes on */
            enum begin b = begin_block(f, s);
            if (b == B_REORG)
                break;
            if (b == B_BAD) {
                bad_block(f, s);
                continue;
            }
        }
        if (!publish_txs(f, s, &budget, t0))
            return; /* the next turn goes on */
        uint64_t n = s->number;
        finish_block(f, s);
        slot_release(f, s);
        fill(f);
        if (f->o.until_block && n >= f->o.until_block) {
            f->finished = true;
            pump_stop(f);
            if (f->on_done)
                f->on_done(f->on_done_arg);
            return;
        }
    }
    pump_stop(f);
    fill(f);
}

/* Publishes ready blocks in order, from the next loop turn on. */
static void process(cs_follower *f)
{
    if (!f->pumping && !f->closing && !f->finished) {
        uv_idle_start(&f->pump, on_pump);
        f->pumping = true;
    }
}

void cs_follower_wake(cs_follower *f)
{
    process(f);
}
