/* The Antelope chain follower (see follower.h): one request at a time,
 * driven by a poll timer and by the answers. */
#include "antelope/chainapi.h"
#include "antelope/follower_int.h"
#include "core/error.h"
#include "core/log.h"
#include "net/jsonr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG "antelope"
#define BACKOFF_MIN_MS 250
#define BACKOFF_MAX_MS 30000
#define SCHEDULE_EVERY 20 /* get_info answers between two schedule reads */

static void step(cs_ant_follower *f);

cs_mseries *ant_series(cs_ant_follower *f, cs_mfamily *fam, const char *producer)
{
    const char *lv[] = {f->o.network, producer};
    return fam ? cs_mfamily_series(fam, lv) : NULL;
}

static cs_mseries *net_series(cs_ant_follower *f, cs_mfamily *fam)
{
    const char *lv[] = {f->o.network};
    return fam ? cs_mfamily_series(fam, lv) : NULL;
}

static void gauges(cs_ant_follower *f)
{
    cs_mseries_set(net_series(f, f->m.head), (double)f->head);
    cs_mseries_set(net_series(f, f->m.lib), (double)f->lib);
    cs_mseries_set(net_series(f, f->m.next), (double)f->next);
    uint64_t target = f->o.confirm_lib ? f->lib : f->head;
    cs_mseries_set(net_series(f, f->m.lag),
                   target + 1 > f->next ? (double)(target + 1 - f->next) : 0.0);
}

/* ---- endpoints ------------------------------------------------------------ */

/* A call failed: the next endpoint; after a full turn of failures, back off. */
static void failed(cs_ant_follower *f, const char *what, const char *why)
{
    cs_mseries_inc(net_series(f, f->m.errors), 1);
    CS_WARN(LOG, "%s: %s at %s: %s", f->o.network, what, f->o.api[f->ep], why);
    f->ep = (f->ep + 1) % f->o.napi;
    if (++f->fails_in_row >= f->o.napi) {
        f->fails_in_row = 0;
        f->backoff_ms = f->backoff_ms ? f->backoff_ms * 2 : BACKOFF_MIN_MS;
        if (f->backoff_ms > BACKOFF_MAX_MS)
            f->backoff_ms = BACKOFF_MAX_MS;
        f->wait_until = uv_now(f->loop) + f->backoff_ms;
    }
    f->st = ST_IDLE;
}

static void succeeded(cs_ant_follower *f)
{
    f->fails_in_row = 0;
    f->backoff_ms = 0;
}

/* The parsed body of an answer, or 0 after failed(). j is initialised. */
static int answer(cs_ant_follower *f, const char *what, const cs_http_response *res, cs_jsonr *j)
{
    char why[300];
    if (res->error) {
        snprintf(why, sizeof why, "%s", res->error_text);
    } else if (cs_jsonr_parse(j, res->body, res->body_len)) {
        snprintf(why, sizeof why, "HTTP %ld, not JSON (%s)", res->status, j->err);
    } else if (res->status != 200) {
        char m[160];
        cs_jsonr_copy(j, cs_jsonr_get(j, cs_jsonr_get(j, 0, "error"), "what"), m, sizeof m);
        snprintf(why, sizeof why, "HTTP %ld: %s", res->status, m[0] ? m : "error");
    } else {
        return 0;
    }
    failed(f, what, why);
    return -1;
}

static int call(cs_ant_follower *f, const char *path, const char *body, cs_http_cb cb)
{
    int rc = cs_ant_post(f->http, f->o.api[f->ep], path, body, (uint32_t)f->o.timeout_ms, cb, f);
    if (rc == 0)
        f->inflight++;
    else
        failed(f, path, cs_strerror(rc));
    return rc;
}

/* ---- schedule and producers ------------------------------------------------- */

static void parse_sched(const cs_jsonr *j, uint32_t node, cs_ant_sched *s)
{
    memset(s, 0, sizeof *s);
    uint32_t t = cs_jsonr_get(j, node, "version");
    if (t)
        cs_jsonr_u64(j, t, &s->version);
    uint32_t prods = cs_jsonr_get(j, node, "producers");
    if (!prods || cs_jsonr_at(j, prods)->type != CS_JT_ARR)
        return;
    for (uint32_t it = cs_jsonr_first(j, prods); it && s->n < CS_ANT_MAX_PRODUCERS;
         it = cs_jsonr_next_item(j, prods, it)) {
        cs_jsonr_copy(j, cs_jsonr_get(j, it, "producer_name"), s->names[s->n], CS_ANT_NAME_MAX);
        if (cs_ant_name_valid(s->names[s->n]))
            s->n++;
    }
}

static void publish_sched(cs_ant_follower *f, const char *kind, const cs_ant_sched *s)
{
    cs_vw *w = cs_publisher_begin(&f->pub);
    cs_vw_kv_str(w, "kind", kind);
    cs_vw_kv_u64(w, "version", s->version);
    cs_vw_key(w, "producers");
    cs_vw_array_begin(w);
    for (size_t i = 0; i < s->n; i++)
        cs_vw_cstr(w, s->names[i]);
    cs_vw_array_end(w);
    cs_vw_kv_u64(w, "block", f->head);
    cs_publisher_emit(&f->pub, "antelope.schedule", NULL, f->o.network, NULL);
}

static void round_done(void *arg, const cs_ant_round *r);
static void slot_missed(void *arg, const char *producer, int64_t slot_ms, uint64_t expected,
                        uint64_t consecutive);

static void slot_late(void *arg, const char *producer, int64_t slot_ms);

static const cs_ant_rounds_cb *rounds_cb(cs_ant_follower *f)
{
    f->rcb =
        (cs_ant_rounds_cb){.missed = slot_missed, .round = round_done, .arg = f, .late = slot_late};
    return &f->rcb;
}

static void on_schedule(const cs_http_response *res, void *arg)
{
    cs_ant_follower *f = arg;
    if (ant_landed(f))
        return;
    cs_jsonr j;
    cs_jsonr_init(&j, 0, 0);
    if (answer(f, "get_producer_schedule", res, &j) == 0) {
        static const char *const kinds[] = {"proposed", "pending", "active"};
        cs_ant_sched s;
        for (int k = 0; k < 3; k++) {
            uint32_t node = cs_jsonr_get(&j, 0, kinds[k]);
            if (!node || cs_jsonr_at(&j, node)->type != CS_JT_OBJ)
                continue;
            parse_sched(&j, node, &s);
            if (!s.n)
                continue;
            if (s.version != f->sched_version[k] || (k == 2 && !f->have_sched))
                publish_sched(f, kinds[k], &s);
            f->sched_version[k] = s.version;
            if (k == 2 && (!f->have_sched || s.version != f->rounds.s.version)) {
                if (f->have_sched)
                    cs_ant_rounds_set_schedule(&f->rounds, &s, rounds_cb(f));
                else
                    cs_ant_rounds_init(&f->rounds, &s);
                f->have_sched = true;
                f->standby_known = false;
            }
        }
        if (!f->have_sched) {
            failed(f, "get_producer_schedule", "no active producers");
        } else {
            succeeded(f);
            f->st = ST_IDLE;
        }
    }
    cs_jsonr_free(&j);
    step(f);
}

/* Registered producers outside the active schedule are standbys. */
static void on_producers(const cs_http_response *res, void *arg)
{
    cs_ant_follower *f = arg;
    if (ant_landed(f))
        return;
    cs_jsonr j;
    cs_jsonr_init(&j, 0, 0);
    if (answer(f, "get_producers", res, &j) == 0) {
        uint32_t rows = cs_jsonr_get(&j, 0, "rows");
        f->nstandby = 0;
        ant_db_begin(f);
        for (uint32_t it = rows ? cs_jsonr_first(&j, rows) : 0; it;
             it = cs_jsonr_next_item(&j, rows, it)) {
            char name[CS_ANT_NAME_MAX];
            cs_jsonr_copy(&j, cs_jsonr_get(&j, it, "owner"), name, sizeof name);
            if (!cs_ant_name_valid(name))
                continue;
            bool active = false;
            for (size_t i = 0; i < f->rounds.s.n && !active; i++)
                active = strcmp(f->rounds.s.names[i], name) == 0;
            ant_db_standby(f, name, !active);
            if (!active && f->nstandby < CS_ANT_MAX_PRODUCERS)
                snprintf(f->standby[f->nstandby++], CS_ANT_NAME_MAX, "%s", name);
        }
        ant_db_commit(f);
        succeeded(f);
        f->st = ST_IDLE;
    }
    f->standby_known = true; /* asked once per schedule, answered or not */
    cs_jsonr_free(&j);
    step(f);
}

/* ---- accounting ------------------------------------------------------------- */

static void slot_missed(void *arg, const char *producer, int64_t slot_ms, uint64_t expected,
                        uint64_t consecutive)
{
    cs_ant_follower *f = arg;
    cs_vw *w = cs_publisher_begin(&f->pub);
    cs_vw_kv_str(w, "producer", producer);
    cs_vw_kv_u64(w, "slot_time", (uint64_t)slot_ms);
    cs_vw_kv_u64(w, "expected_block", expected);
    cs_vw_kv_u64(w, "consecutive", consecutive);
    cs_publisher_emit(&f->pub, "antelope.slot.missed", NULL, producer, NULL);
    cs_mseries_inc(ant_series(f, f->m.missed, producer), 1);
    ant_db_missed(f, producer, slot_ms, 1);
}

/* The slot's block came after all: the hour's count takes the miss back
 * (the antelope.slot.missed event and the metric stay: they were seen). */
static void slot_late(void *arg, const char *producer, int64_t slot_ms)
{
    ant_db_missed(arg, producer, slot_ms, -1);
}

static void round_done(void *arg, const cs_ant_round *r)
{
    cs_ant_follower *f = arg;
    if (r->partial)
        return; /* observed in part: not a round to judge */
    cs_vw *w = cs_publisher_begin(&f->pub);
    cs_vw_kv_u64(w, "schedule_version", r->schedule_version);
    cs_vw_kv_u64(w, "first_block", r->first_block);
    cs_vw_kv_u64(w, "last_block", r->last_block);
    cs_vw_kv_u64(w, "start", (uint64_t)r->start_ms);
    cs_vw_kv_u64(w, "end", (uint64_t)r->end_ms);
    cs_vw_key(w, "producers");
    cs_vw_array_begin(w);
    for (size_t i = 0; i < r->n; i++) {
        cs_vw_object_begin(w);
        cs_vw_kv_str(w, "producer", r->names[i]);
        cs_vw_kv_u64(w, "produced", r->produced[i]);
        cs_vw_kv_u64(w, "missed", CS_ANT_REPETITIONS - r->produced[i]);
        cs_vw_kv_bool(w, "round_missed", r->produced[i] == 0);
        cs_vw_kv_bool(w, "standby", false);
        cs_vw_object_end(w);
    }
    cs_vw_array_end(w);
    cs_vw_key(w, "missed_producers");
    cs_vw_array_begin(w);
    for (size_t i = 0; i < r->n; i++)
        if (r->produced[i] == 0)
            cs_vw_cstr(w, r->names[i]);
    cs_vw_array_end(w);
    cs_vw_key(w, "standbys");
    cs_vw_array_begin(w);
    for (size_t i = 0; i < f->nstandby; i++)
        cs_vw_cstr(w, f->standby[i]);
    cs_vw_array_end(w);
    cs_publisher_emit(&f->pub, "antelope.round", NULL, f->o.network, NULL);
    cs_mseries_inc(net_series(f, f->m.rounds), 1);
    for (size_t i = 0; i < r->n; i++)
        if (r->produced[i] == 0) {
            cs_mseries_inc(ant_series(f, f->m.missed_rounds, r->names[i]), 1);
            ant_db_round_missed(f, r->names[i], r->start_ms);
        }
    ant_own_round(f, r);
}

/* ---- blocks --------------------------------------------------------------------- */

static ringent *ring_get(cs_ant_follower *f, uint64_t num)
{
    ringent *e = &f->ring[num % RING];
    return e->num == num ? e : NULL;
}

/* Accounts and publishes block b (the next one), then moves on. */
static void publish_block(cs_ant_follower *f, const cs_ant_block *b)
{
    const ringent *old = ring_get(f, b->num);
    bool replaces = old && b->num <= f->replacing_upto && strcmp(old->id, b->id) != 0;
    char old_id[CS_ANT_ID_HEX + 1] = "";
    if (replaces)
        memcpy(old_id, old->id, sizeof old_id);
    ant_db_begin(f);
    cs_ant_rounds_block(&f->rounds, b->num, cs_ant_slot(b->time_ms), b->producer, rounds_cb(f));
    ringent *e = &f->ring[b->num % RING];
    e->num = b->num;
    memcpy(e->id, b->id, sizeof e->id);
    f->next = b->num + 1;
    f->have_next = true;
    ant_db_block(f, b, replaces);
    ant_db_cursor(f);
    ant_db_commit(f); /* the cursor is on disk before the event leaves: no duplicate */
    cs_vw *w = cs_publisher_begin(&f->pub);
    cs_vw_kv_u64(w, "num", b->num);
    cs_vw_kv_str(w, "id", b->id);
    cs_vw_kv_str(w, "previous", b->previous);
    cs_vw_kv_str(w, "producer", b->producer);
    cs_vw_kv_u64(w, "timestamp", (uint64_t)b->time_ms);
    cs_vw_kv_u64(w, "schedule_version", b->schedule_version);
    cs_vw_kv_u64(w, "trx_count", b->trx_count);
    cs_vw_kv_u64(w, "action_count", b->action_count);
    cs_vw_kv_u64(w, "lib", f->lib);
    if (replaces)
        cs_vw_kv_str(w, "replaces", old_id);
    cs_publisher_emit(&f->pub, "antelope.block", NULL, b->producer, NULL);
    cs_mseries_inc(net_series(f, f->m.blocks), 1);
    cs_mseries_inc(ant_series(f, f->m.produced, b->producer), 1);
    uint64_t target = f->o.confirm_lib ? f->lib : f->head;
    if (b->num >= target) { /* at the head: the slot clock starts from here */
        f->anchor_slot = cs_ant_slot(b->time_ms);
        f->anchor_wall = uv_now(f->loop);
        f->anchored = true;
    }
}

static void fetch_block(cs_ant_follower *f, uint64_t num, fstate st);
static void on_block(const cs_http_response *res, void *arg);

/* A fork: publishes antelope.fork and goes back to the first replaced block. */
static void fork_found(cs_ant_follower *f, uint64_t ancestor)
{
    uint64_t depth = f->walk_top - ancestor;
    cs_vw *w = cs_publisher_begin(&f->pub);
    cs_vw_kv_u64(w, "num", ancestor + 1);
    cs_vw_kv_str(w, "old_id", f->fork_old);
    cs_vw_kv_str(w, "new_id", f->fork_new);
    cs_vw_kv_u64(w, "depth", depth);
    cs_vw_kv_bool(w, "below_lib", ancestor + 1 <= f->lib);
    cs_publisher_emit(&f->pub, "antelope.fork", NULL, f->o.network, NULL);
    cs_mseries_inc(net_series(f, f->m.forks), 1);
    CS_WARN(LOG, "%s: fork: blocks %llu to %llu replaced; publishing the new ones", f->o.network,
            (unsigned long long)ancestor + 1, (unsigned long long)f->walk_top);
    f->replacing_upto = f->walk_top;
    f->next = ancestor + 1;
    f->st = ST_IDLE;
}

static void on_walk(cs_ant_follower *f, const cs_ant_block *b)
{
    const ringent *e = ring_get(f, b->num);
    if (!e || strcmp(e->id, b->id) == 0 || b->num <= 1 || f->walk_top - b->num >= RING - 1) {
        /* the shared block (or the end of what is known) */
        fork_found(f, e && strcmp(e->id, b->id) == 0 ? b->num : b->num - 1);
        return;
    }
    memcpy(f->fork_old, e->id, sizeof f->fork_old);
    memcpy(f->fork_new, b->id, sizeof f->fork_new);
    fetch_block(f, b->num - 1, ST_WALK);
}

static void take_block(cs_ant_follower *f, const cs_ant_block *b)
{
    const ringent *prev = b->num > 1 ? ring_get(f, b->num - 1) : NULL;
    if (prev && strcmp(prev->id, b->previous) != 0) {
        /* the block before changed: walk back to the shared one */
        f->walk_top = b->num - 1;
        fetch_block(f, b->num - 1, ST_WALK);
        return;
    }
    if (b->schedule_version > f->rounds.s.version && f->sched_version[2] < b->schedule_version) {
        f->held = *b; /* a new schedule: read it first */
        f->holding = true;
        f->sched_version[2] = b->schedule_version; /* asked once per version */
        f->st = ST_SCHEDULE;
        call(f, "/v1/chain/get_producer_schedule", "{}", on_schedule);
        return;
    }
    publish_block(f, b);
    f->st = ST_IDLE;
}

static void on_block(const cs_http_response *res, void *arg)
{
    cs_ant_follower *f = arg;
    if (ant_landed(f))
        return;
    fstate st = f->st;
    if (res->error || res->status != 200) {
        cs_jsonr j;
        cs_jsonr_init(&j, 0, 0);
        answer(f, "get_block", res, &j);
        cs_jsonr_free(&j);
        step(f);
        return;
    }
    cs_ant_block b;
    char why[256];
    int rc = cs_ant_block_decode(res->body, res->body_len, &b, why, sizeof why);
    if (rc) {
        failed(f, "get_block", why);
    } else {
        succeeded(f);
        if (st == ST_WALK)
            on_walk(f, &b);
        else if (b.num != f->next)
            failed(f, "get_block", "answered another block");
        else
            take_block(f, &b);
    }
    step(f);
}

static void fetch_block(cs_ant_follower *f, uint64_t num, fstate st)
{
    char body[64];
    snprintf(body, sizeof body, "{\"block_num_or_id\":%llu}", (unsigned long long)num);
    f->st = st;
    call(f, "/v1/chain/get_block", body, on_block);
}

/* ---- get_info and the loop ------------------------------------------------------ */

static void on_info(const cs_http_response *res, void *arg)
{
    cs_ant_follower *f = arg;
    if (ant_landed(f))
        return;
    cs_jsonr j;
    cs_jsonr_init(&j, 0, 0);
    if (answer(f, "get_info", res, &j) == 0) {
        uint64_t head = 0, lib = 0;
        uint32_t t = cs_jsonr_get(&j, 0, "head_block_num");
        char cid[80];
        cs_jsonr_copy(&j, cs_jsonr_get(&j, 0, "chain_id"), cid, sizeof cid);
        if (!t || cs_jsonr_u64(&j, t, &head)) {
            failed(f, "get_info", "no head_block_num");
        } else if (f->chain_id[0] && strcmp(cid, f->chain_id) != 0) {
            char why[200];
            snprintf(why, sizeof why, "chain_id %s, not %s", cid, f->chain_id);
            failed(f, "get_info", why);
        } else {
            if ((t = cs_jsonr_get(&j, 0, "last_irreversible_block_num")))
                cs_jsonr_u64(&j, t, &lib);
            if (!f->chain_id[0])
                snprintf(f->chain_id, sizeof f->chain_id, "%s", cid);
            f->head = head;
            f->lib = lib;
            if (!f->have_next) {
                f->next = f->o.from_set ? f->o.from : (f->o.confirm_lib ? lib : head);
                f->have_next = true;
            }
            f->infos++;
            succeeded(f);
            f->st = ST_IDLE;
            gauges(f);
            if (f->infos % SCHEDULE_EVERY == 0) {
                f->st = ST_SCHEDULE;
                call(f, "/v1/chain/get_producer_schedule", "{}", on_schedule);
                cs_jsonr_free(&j);
                return;
            }
        }
    }
    cs_jsonr_free(&j);
    step(f);
}

/* Starts the next request when none is running. */
static void step(cs_ant_follower *f)
{
    if (f->closing || f->st != ST_IDLE || uv_now(f->loop) < f->wait_until)
        return;
    if (!f->have_sched) {
        f->st = ST_SCHEDULE;
        call(f, "/v1/chain/get_producer_schedule", "{}", on_schedule);
        return;
    }
    if (!f->standby_known) {
        f->st = ST_PRODUCERS;
        call(f, "/v1/chain/get_producers", "{\"json\":true,\"lower_bound\":\"\",\"limit\":100}",
             on_producers);
        return;
    }
    if (f->holding) {
        f->holding = false;
        cs_ant_block b = f->held;
        publish_block(f, &b);
    }
    uint64_t target = f->o.confirm_lib ? f->lib : f->head;
    if (f->have_next && f->next <= target)
        fetch_block(f, f->next, ST_BLOCK);
}

static void on_timer(uv_timer_t *t)
{
    cs_ant_follower *f = t->data;
    uint64_t now = uv_now(f->loop);
    if (f->o.nown && now - f->last_check >= f->o.check_ms) {
        f->last_check = now;
        ant_own_check(f);
    }
    uint64_t target = f->o.confirm_lib ? f->lib : f->head;
    if (f->anchored && f->have_sched && f->next > target) {
        /* at the head: slots whose block is a slot late are missed */
        int64_t over = (int64_t)((now - f->anchor_wall) / f->o.slot_ms);
        if (over >= 2) {
            ant_db_begin(f);
            cs_ant_rounds_tick(&f->rounds, f->anchor_slot + over, rounds_cb(f));
            ant_db_commit(f);
        }
    }
    if (f->st == ST_IDLE && now >= f->wait_until) {
        f->st = ST_INFO;
        call(f, "/v1/chain/get_info", "{}", on_info);
    }
}

/* ---- life ------------------------------------------------------------------------ */

static void maybe_done(cs_ant_follower *f)
{
    if (!f->closing || f->inflight || f->timer.data)
        return;
    void (*done)(void *) = f->done;
    void *arg = f->done_arg;
    ant_db_close(f);
    cs_publisher_free(&f->pub);
    free(f);
    if (done)
        done(arg);
}

bool ant_landed(cs_ant_follower *f)
{
    f->inflight--;
    if (f->closing) {
        maybe_done(f);
        return true;
    }
    return false;
}

int cs_ant_follower_new(uv_loop_t *loop, cs_bus *bus, cs_http_client *http, const cs_ant_metrics *m,
                        const cs_ant_follower_opts *o, cs_ant_follower **out, char *err,
                        size_t errlen)
{
    cs_ant_follower *f = calloc(1, sizeof *f);
    if (!f) {
        snprintf(err, errlen, "out of memory");
        return CS_ENOMEM;
    }
    f->loop = loop;
    f->http = http;
    if (m)
        f->m = *m;
    f->o = *o;
    if (!f->o.poll_ms)
        f->o.poll_ms = 250;
    if (!f->o.slot_ms)
        f->o.slot_ms = CS_ANT_SLOT_MS;
    if (!f->o.check_ms)
        f->o.check_ms = 10000;
    if (o->chain_id)
        snprintf(f->chain_id, sizeof f->chain_id, "%s", o->chain_id);
    cs_publisher_init(&f->pub, bus, o->origin, o->network);
    int rc = o->db_path ? ant_db_open(f, err, errlen) : 0;
    if (rc) {
        ant_db_close(f);
        cs_publisher_free(&f->pub);
        free(f);
        return rc;
    }
    uv_timer_init(loop, &f->timer);
    f->timer.data = f;
    *out = f;
    return 0;
}

void cs_ant_follower_start(cs_ant_follower *f)
{
    uv_timer_start(&f->timer, on_timer, 0, f->o.poll_ms);
}

static void timer_closed(uv_handle_t *h)
{
    cs_ant_follower *f = h->data;
    f->timer.data = NULL;
    maybe_done(f);
}

void cs_ant_follower_close(cs_ant_follower *f, void (*done)(void *), void *arg)
{
    f->closing = true;
    f->done = done;
    f->done_arg = arg;
    uv_timer_stop(&f->timer);
    uv_close((uv_handle_t *)&f->timer, timer_closed);
}
