/* Contract monitors: evm.tx and evm.log gathered per block, evaluated
 * when the block is complete and confirmed (see engine_int.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus/replay.h"
#include "core/error.h"
#include "core/json.h"
#include "core/log.h"
#include "rules/engine_int.h"
#include "core/hex.h"
#include "abi/keccak.h"
#include "rules/evm_fields.h"

/* ---- contract monitors ----------------------------------------------------- */

typedef struct txg {
    cs_event *tx; /* NULL: only logs were seen */
    cs_event **logs;
    size_t nlogs;
} txg;

static bool has_addr(const cs_monitor *m, const uint8_t a[20])
{
    if (!m->naddrs)
        return true;
    size_t lo = 0, hi = m->naddrs;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = memcmp(m->addrs[mid], a, 20);
        if (c == 0)
            return true;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

bool cs_mon_net_ok(const cs_monitor *m, const char *network)
{
    if (!m->def.nnetworks)
        return true;
    for (size_t i = 0; i < m->def.nnetworks; i++)
        if (strcmp(m->def.networks[i], network) == 0)
            return true;
    return false;
}

static bool topic_eq(const cs_val *v, const uint8_t *topic, size_t n)
{
    if (v->kind == CS_VAL_BYTES)
        return v->n >= n && memcmp(v->p, topic, n) == 0;
    if (v->kind != CS_VAL_STR || v->n < 2 + 2 * n)
        return false;
    for (size_t i = 0; i < n; i++) {
        uint8_t hi = 0, lo = 0;
        if (!cs_mon_hexnib((char)v->p[2 + 2 * i], &hi) ||
            !cs_mon_hexnib((char)v->p[3 + 2 * i], &lo) || (uint8_t)(hi << 4 | lo) != topic[i])
            return false;
    }
    return true;
}

/* Does the log (is_log) or transaction match the signature? By the decoded
 * signature or name when the follower decoded it; else by topic0 (events)
 * or the 4-byte selector at the start of the input (functions). */
static bool sig_match(const csig *s, const cs_event *ev, bool is_log)
{
    static const char t0[] = CS_EVF_LOG_TOPICS "[0]";
    cs_val v;
    if (s->by_topic)
        return cs_event_field(ev, t0, sizeof t0 - 1, &v) == 0 && topic_eq(&v, s->topic, 32);
    const char *f = s->by_name ? (is_log ? CS_EVF_LOG_EVENT : CS_EVF_TX_FUNCTION)
                               : (is_log ? CS_EVF_LOG_SIGNATURE : CS_EVF_TX_SIGNATURE);
    if (cs_event_field(ev, f, strlen(f), &v) == 0)
        return v.kind == CS_VAL_STR && v.n == s->len && memcmp(v.p, s->canon, s->len) == 0;
    if (s->by_name)
        return false;
    if (is_log)
        return cs_event_field(ev, t0, sizeof t0 - 1, &v) == 0 && topic_eq(&v, s->topic, 32);
    return cs_event_field(ev, CS_EVF_TX_INPUT, strlen(CS_EVF_TX_INPUT), &v) == 0 &&
           topic_eq(&v, s->topic, 4);
}

int cs_mon_test_cond(cs_monitor *m, const cs_expr *c, const cs_event *ev)
{
    if (!c)
        return 1;
    int rc = cs_expr_test(c, ev);
    if (rc < 0) {
        m->st.errors++;
        if (!m->warned) {
            m->warned = true;
            CS_WARN("monitors", "monitor %s: condition '%s' failed: %s (counted as false)",
                    m->def.name, cs_expr_source(c), cs_strerror(rc));
        }
        return 0;
    }
    return rc;
}

/* Tests monitor m against one transaction; on a match builds and delivers
 * the alert. */
static void match_tx(cs_monitor_engine *e, cs_monitor *m, const txg *g, const char *network,
                     uint64_t block)
{
    reason r[MAX_REASONS];
    size_t nr = 0;
    uint8_t a[20];
    if (m->txcond) {
        if (!g->tx || !cs_mon_test_cond(m, m->txcond, g->tx))
            return;
    }
    bool to_watched = g->tx && cs_mon_field_addr(g->tx, CS_EVF_TX_TO, a) && has_addr(m, a);
    bool from_watched = g->tx && cs_mon_field_addr(g->tx, CS_EVF_TX_FROM, a) && has_addr(m, a);
    if (!m->def.nevents && !m->def.nfunctions) {
        /* every transaction to or from the contracts */
        bool any = to_watched || from_watched;
        for (size_t i = 0; !any && i < g->nlogs; i++)
            any = cs_mon_field_addr(g->logs[i], CS_EVF_LOG_ADDRESS, a) && has_addr(m, a);
        if (!any || !g->tx)
            return;
    } else {
        for (size_t i = 0; i < g->nlogs && nr < MAX_REASONS; i++) {
            const cs_event *lg = g->logs[i];
            if (!cs_mon_field_addr(lg, CS_EVF_LOG_ADDRESS, a) || !has_addr(m, a))
                continue;
            for (size_t k = 0; k < m->def.nevents && nr < MAX_REASONS; k++)
                if (sig_match(&m->events[k], lg, true) &&
                    cs_mon_test_cond(m, m->events[k].cond, lg))
                    r[nr++] = (reason){0, lg, &m->events[k]};
        }
        if (to_watched)
            for (size_t k = 0; k < m->def.nfunctions && nr < MAX_REASONS; k++)
                if (sig_match(&m->functions[k], g->tx, false) &&
                    cs_mon_test_cond(m, m->functions[k].cond, g->tx))
                    r[nr++] = (reason){1, g->tx, &m->functions[k]};
        if (!nr)
            return;
    }
    if (m->txcond && nr < MAX_REASONS)
        r[nr++] = (reason){2, g->tx, NULL};

    /* the alert document */
    const cs_event *any = g->tx ? g->tx : g->logs[0];
    char hash[140] = "";
    cs_val hv;
    if ((g->tx && cs_event_field(g->tx, CS_EVF_TX_HASH, strlen(CS_EVF_TX_HASH), &hv) == 0) ||
        (!g->tx && cs_event_field(any, CS_EVF_LOG_TX_HASH, strlen(CS_EVF_LOG_TX_HASH), &hv) == 0))
        cs_mon_val_text(&hv, hash, sizeof hash);
    char id[512];
    bool replayed = cs_origin_replayed(any->origin);
    snprintf(id, sizeof id, "%s/%s/%s%s", m->def.name, network, hash,
             replayed ? CS_REPLAY_MARK : "");
    cs_vw *w = &e->doc;
    cs_vw_reset(w);
    cs_buf_consume(&e->tmp, e->tmp.len);
    cs_vw_object_begin(w);
    cs_vw_kv_str(w, "id", id);
    if (replayed)
        cs_vw_kv_bool(w, "replayed", true);
    cs_mon_w_monitor(w, m, network);
    cs_vw_kv_i64(w, "time", any->time_ns);
    cs_vw_key(w, "block");
    cs_vw_object_begin(w);
    cs_vw_kv_u64(w, "number", block);
    cs_mon_w_field(w, "hash", any, CS_EVF_BLOCK_HASH);
    cs_vw_object_end(w);
    cs_mon_w_field(w, "blockHash", any, CS_EVF_BLOCK_HASH);
    cs_vw_key(w, "transaction");
    cs_vw_object_begin(w);
    if (g->tx)
        cs_mon_w_members(w, &g->tx->payload);
    else
        cs_vw_kv_str(w, "hash", hash);
    const char *ex = cs_mon_explorer(e, network);
    if (ex) {
        char link[700];
        snprintf(link, sizeof link, "%s/tx/%s", ex, hash);
        cs_vw_kv_str(w, "link", link);
    }
    cs_vw_object_end(w);
    cs_mon_w_reasons(w, &e->tmp, r, nr, m);
    cs_vw_kv_strn(w, "matchReasonsFormatted", (const char *)e->tmp.data, e->tmp.len);
    cs_vw_key(w, "matchedAddresses");
    cs_vw_array_begin(w);
    {
        uint8_t seen[8][20];
        size_t nseen = 0;
        for (size_t i = 0; i < g->nlogs + 2; i++) {
            bool ok = i == 0   ? g->tx && cs_mon_field_addr(g->tx, CS_EVF_TX_TO, a)
                      : i == 1 ? g->tx && cs_mon_field_addr(g->tx, CS_EVF_TX_FROM, a)
                               : cs_mon_field_addr(g->logs[i - 2], CS_EVF_LOG_ADDRESS, a);
            if (!ok || !m->naddrs || !has_addr(m, a))
                continue;
            bool dup = false;
            for (size_t k = 0; k < nseen && !dup; k++)
                dup = memcmp(seen[k], a, 20) == 0;
            if (dup || nseen == 8)
                continue;
            memcpy(seen[nseen++], a, 20);
            char t[43] = "0x";
            static const char hx[] = "0123456789abcdef";
            for (int k = 0; k < 20; k++) {
                t[2 + 2 * k] = hx[a[k] >> 4];
                t[3 + 2 * k] = hx[a[k] & 15];
            }
            t[42] = 0;
            cs_vw_cstr(w, t);
        }
    }
    cs_vw_array_end(w);
    /* the first event's or function's arguments, for short templates */
    for (size_t i = 0; i < nr; i++)
        if (r[i].type != 2) {
            cs_val av;
            if (cs_event_field(r[i].ev, CS_EVF_ARGS, strlen(CS_EVF_ARGS), &av) == 0) {
                cs_vw_key(w, "args");
                cs_mon_w_abi(w, &av, 0);
            }
            break;
        }
    cs_vw_object_end(w);
    cs_mon_deliver(m, id, network, any->time_ns, nr && r[0].type != 2 ? r[0].ev : any);
}

/* Bytes of a field that is bytes, or 0x-hex text (events read back from
 * JSON), into *buf (malloc'ed when text; else a view). */
static bool field_bytes(const cs_event *ev, const char *name, const uint8_t **p, size_t *len,
                        uint8_t **own)
{
    cs_val v;
    *own = NULL;
    if (cs_event_field(ev, name, strlen(name), &v))
        return false;
    if (v.kind == CS_VAL_BYTES) {
        *p = v.p;
        *len = v.n;
        return true;
    }
    if (v.kind != CS_VAL_STR || v.n < 2 || v.p[0] != '0' || (v.p[1] | 0x20) != 'x')
        return false;
    size_t cap = v.n / 2 + 1;
    if (!(*own = malloc(cap)))
        return false;
    if (cs_hex_decode((const char *)v.p, v.n, *own, cap, len)) {
        free(*own);
        *own = NULL;
        return false;
    }
    *p = *own;
    return true;
}

/* A copy of log or transaction ev with its arguments decoded by abi
 * (`event` or `function`, `signature`, `args` added, as the follower would
 * have published it with that ABI), or NULL when ev is decoded already or
 * does not decode with abi. The caller owns the reference. */
static cs_event *decode_copy(cs_monitor_engine *e, const cs_abi *abi, cs_event *ev, bool is_log)
{
    cs_val v;
    const char *done = is_log ? CS_EVF_LOG_EVENT : CS_EVF_TX_FUNCTION;
    if (cs_event_field(ev, done, strlen(done), &v) == 0)
        return NULL;
    uint8_t topics[4][32];
    size_t nt = 0;
    const uint8_t *data;
    size_t dl;
    uint8_t *own;
    if (is_log) {
        cs_val tv;
        if (cs_event_field(ev, CS_EVF_LOG_TOPICS, strlen(CS_EVF_LOG_TOPICS), &tv) ||
            tv.kind != CS_VAL_ARRAY)
            return NULL;
        cs_val_iter it;
        const char *k;
        size_t kl;
        cs_val_iter_init(&it, &tv);
        while (cs_val_next(&it, &k, &kl, &v) == 1) {
            size_t got;
            if (nt == 4 || v.kind != CS_VAL_STR ||
                cs_hex_decode((const char *)v.p, v.n, topics[nt], 32, &got) || got != 32)
                return NULL;
            nt++;
        }
        if (!field_bytes(ev, "data", &data, &dl, &own))
            return NULL;
    } else if (!field_bytes(ev, CS_EVF_TX_INPUT, &data, &dl, &own) || dl < 4) {
        free(own);
        return NULL;
    }
    cs_vw *w = &e->dec;
    cs_vw_reset(w);
    cs_vw_object_begin(w);
    cs_val_iter it;
    const char *k;
    size_t kl;
    cs_val_iter_init(&it, &ev->payload);
    while (cs_val_next(&it, &k, &kl, &v) == 1) {
        if (kl == 12 && memcmp(k, "decode_error", 12) == 0)
            continue; /* the follower's ABI did not fit; this one does */
        cs_vw_keyn(w, k, kl);
        cs_vw_raw(w, v.raw, v.raw_len);
    }
    char derr[256];
    const char *name = NULL, *sig = NULL;
    int rc;
    if (is_log) {
        const cs_abi_event *aev;
        rc = cs_abi_decode_log(abi, (const uint8_t(*)[32])topics, nt, data, dl, 0, w, CS_EVF_ARGS,
                               &aev, derr, sizeof derr);
        if (rc == 0) {
            name = aev->name;
            sig = aev->signature;
        }
    } else {
        const cs_abi_func *fn;
        rc = cs_abi_decode_call(abi, data, dl, 0, w, CS_EVF_ARGS, &fn, derr, sizeof derr);
        if (rc == 0) {
            name = fn->name;
            sig = fn->signature;
        }
    }
    free(own);
    if (rc)
        return NULL;
    cs_vw_kv_str(w, done, name);
    cs_vw_kv_str(w, is_log ? CS_EVF_LOG_SIGNATURE : CS_EVF_TX_SIGNATURE, sig);
    cs_vw_object_end(w);
    if (cs_vw_error(w))
        return NULL;
    cs_event_hdr h = {.seq = ev->seq,
                      .time_ns = ev->time_ns,
                      .origin = ev->origin,
                      .network = ev->network,
                      .type = ev->type,
                      .key = ev->key};
    return cs_event_new(&h, w->buf.data, w->buf.len);
}

/* Tests monitor m against one transaction, first decoding with the
 * monitor's ABI what the follower left undecoded (logs of the watched
 * addresses, calls to them). */
static void eval_tx(cs_monitor_engine *e, cs_monitor *m, const txg *g, const char *network,
                    uint64_t block)
{
    if (!m->abi) {
        match_tx(e, m, g, network, block);
        return;
    }
    txg d = *g;
    uint8_t a[20];
    cs_event **logs = g->nlogs ? malloc(g->nlogs * sizeof *logs) : NULL;
    if (g->nlogs && !logs) {
        match_tx(e, m, g, network, block);
        return;
    }
    d.logs = logs;
    for (size_t i = 0; i < g->nlogs; i++) {
        cs_event *x = NULL;
        if (cs_mon_field_addr(g->logs[i], CS_EVF_LOG_ADDRESS, a) && has_addr(m, a))
            x = decode_copy(e, m->abi, g->logs[i], true);
        logs[i] = x ? x : g->logs[i];
    }
    if (g->tx && cs_mon_field_addr(g->tx, CS_EVF_TX_TO, a) && has_addr(m, a)) {
        cs_event *x = decode_copy(e, m->abi, g->tx, false);
        if (x)
            d.tx = x;
    }
    match_tx(e, m, &d, network, block);
    for (size_t i = 0; i < g->nlogs; i++)
        if (logs[i] != g->logs[i])
            cs_event_unref(logs[i]);
    if (d.tx != g->tx)
        cs_event_unref(d.tx);
    free(logs);
}

/* Groups a block's events into transactions. Returns the count, or -1. */
static int group_block(blk *b, txg **out, cs_event ***logs_out)
{
    size_t cap = 16;
    while (cap < b->n * 2)
        cap <<= 1;
    typedef struct slot {
        const uint8_t *k;
        size_t kl;
        int32_t g;
    } slot;
    slot *tab = calloc(cap, sizeof *tab);
    txg *gs = calloc(b->n + 1, sizeof *gs);
    cs_event **logs = calloc(b->n + 1, sizeof *logs);
    size_t *fill = calloc(b->n + 1, sizeof *fill);
    int32_t *which = calloc(b->n + 1, sizeof *which);
    if (!tab || !gs || !logs || !fill || !which) {
        free(tab);
        free(gs);
        free(logs);
        free(fill);
        free(which);
        return -1;
    }
    int32_t ng = 0;
    for (size_t i = 0; i < b->n; i++) {
        cs_event *ev = b->evs[i];
        bool is_tx = strcmp(ev->type, CS_EVT_TX) == 0;
        const char *hf = is_tx ? CS_EVF_TX_HASH : CS_EVF_LOG_TX_HASH;
        cs_val hv;
        which[i] = -1;
        if (cs_event_field(ev, hf, strlen(hf), &hv))
            continue;
        uint64_t h = 1469598103934665603ull;
        for (size_t k = 0; k < hv.raw_len; k++)
            h = (h ^ hv.raw[k]) * 1099511628211ull;
        size_t s = h & (cap - 1);
        while (tab[s].k && !(tab[s].kl == hv.raw_len && memcmp(tab[s].k, hv.raw, hv.raw_len) == 0))
            s = (s + 1) & (cap - 1);
        if (!tab[s].k) {
            tab[s].k = hv.raw;
            tab[s].kl = hv.raw_len;
            tab[s].g = ng++;
        }
        which[i] = tab[s].g;
        if (is_tx)
            gs[tab[s].g].tx = ev;
        else
            gs[tab[s].g].nlogs++;
    }
    size_t off = 0;
    for (int32_t g = 0; g < ng; g++) {
        gs[g].logs = logs + off;
        off += gs[g].nlogs;
    }
    for (size_t i = 0; i < b->n; i++)
        if (which[i] >= 0 && strcmp(b->evs[i]->type, CS_EVT_LOG) == 0)
            gs[which[i]].logs[fill[which[i]]++] = b->evs[i];
    free(tab);
    free(fill);
    free(which);
    *out = gs;
    *logs_out = logs;
    return ng;
}

static void add_cand(cs_monitor_engine *e, const uint32_t *ms, size_t n, size_t *nc)
{
    for (size_t i = 0; i < n; i++) {
        cs_monitor *m = &e->mons[ms[i]];
        if (m->stamp != e->stamp) {
            m->stamp = e->stamp;
            e->cand[(*nc)++] = ms[i];
        }
    }
}

static int u32cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Evaluates block b for the monitors with lo < confirmations <= hi. */
static void eval_block(cs_monitor_engine *e, netstate *ns, blk *b, int64_t lo, int64_t hi)
{
    txg *gs;
    cs_event **logs;
    int ng = group_block(b, &gs, &logs);
    if (ng < 0) {
        CS_ERROR("monitors", "out of memory evaluating block %llu", (unsigned long long)b->number);
        return;
    }
    size_t in_range = 0;
    for (size_t i = 0; i < e->ncontract; i++) {
        int64_t c = e->mons[e->contract[i]].def.confirmations;
        in_range += c > lo && c <= hi;
    }
    if (lo < 0)
        e->st.blocks++;
    uint8_t a[20];
    for (int gi = 0; gi < ng; gi++) {
        const txg *g = &gs[gi];
        size_t nc = 0;
        e->stamp++;
        if (lo < 0)
            e->st.txs++;
        e->st.pairs += in_range;
        if (g->tx) {
            aent *x;
            if (cs_mon_field_addr(g->tx, CS_EVF_TX_TO, a) && (x = cs_mon_aidx_find(e, a, false)))
                add_cand(e, x->mons, x->n, &nc);
            if (cs_mon_field_addr(g->tx, CS_EVF_TX_FROM, a) && (x = cs_mon_aidx_find(e, a, false)))
                add_cand(e, x->mons, x->n, &nc);
        }
        for (size_t i = 0; i < g->nlogs; i++) {
            aent *x;
            if (cs_mon_field_addr(g->logs[i], CS_EVF_LOG_ADDRESS, a) &&
                (x = cs_mon_aidx_find(e, a, false)))
                add_cand(e, x->mons, x->n, &nc);
        }
        add_cand(e, e->wild, e->nwild, &nc);
        if (nc > 1)
            qsort(e->cand, nc, sizeof *e->cand, u32cmp);
        for (size_t i = 0; i < nc; i++) {
            cs_monitor *m = &e->mons[e->cand[i]];
            int64_t c = m->def.confirmations;
            if (c <= lo || c > hi || m->def.paused || !cs_mon_net_ok(m, ns->name))
                continue;
            e->st.evaluated++;
            eval_tx(e, m, g, ns->name, b->number);
        }
    }
    free(gs);
    free(logs);
    for (size_t i = 0; i < e->ncontract; i++) {
        cs_monitor *m = &e->mons[e->contract[i]];
        if (m->fn)
            cs_mon_flush_filter(m);
    }
}

void cs_mon_blk_free_counted(cs_monitor_engine *e, blk *b)
{
    e->pending_events -= b->n;
    cs_mon_blk_free(b);
}

static netstate *net_get(cs_monitor_engine *e, const char *name)
{
    for (size_t i = 0; i < e->nnets; i++)
        if (strcmp(e->nets[i].name, name) == 0)
            return &e->nets[i];
    if (e->nnets == MAX_NETS)
        return NULL;
    netstate *ns = &e->nets[e->nnets];
    memset(ns, 0, sizeof *ns);
    ns->name = strdup(name);
    if (!ns->name)
        return NULL;
    e->nnets++;
    return ns;
}

/* Evaluates what the head allows, drops finished blocks. all: as if every
 * block were complete and deeply confirmed. */
void cs_mon_advance(cs_monitor_engine *e, netstate *ns, bool all)
{
    size_t keep = 0;
    for (size_t i = 0; i < ns->nblocks; i++) {
        blk *b = &ns->blocks[i];
        int64_t avail;
        if (all)
            avail = INT64_MAX;
        else if (ns->head > b->number)
            avail = (int64_t)(ns->head - b->number);
        else
            avail = b->complete ? 0 : -1;
        if (avail > b->evaluated) {
            eval_block(e, ns, b, b->evaluated, avail);
            b->evaluated = avail;
        }
        if (b->evaluated >= e->maxdepth)
            cs_mon_blk_free_counted(e, b);
        else
            ns->blocks[keep++] = *b;
    }
    ns->nblocks = keep;
}

static blk *blk_get(cs_monitor_engine *e, netstate *ns, uint64_t number)
{
    size_t i = 0;
    while (i < ns->nblocks && ns->blocks[i].number < number)
        i++;
    if (i < ns->nblocks && ns->blocks[i].number == number)
        return &ns->blocks[i];
    if (ns->nblocks >= e->o.max_pending_blocks) {
        if (i == 0)
            return NULL; /* older than everything we keep */
        /* the oldest block goes unevaluated: count its events */
        e->st.dropped += ns->blocks[0].n;
        cs_mon_blk_free_counted(e, &ns->blocks[0]);
        memmove(&ns->blocks[0], &ns->blocks[1], (ns->nblocks - 1) * sizeof *ns->blocks);
        ns->nblocks--;
        i--;
    }
    blk *nb = realloc(ns->blocks, (ns->nblocks + 1) * sizeof *nb);
    if (!nb)
        return NULL;
    ns->blocks = nb;
    memmove(&nb[i + 1], &nb[i], (ns->nblocks - i) * sizeof *nb);
    memset(&nb[i], 0, sizeof *nb);
    nb[i].number = number;
    nb[i].evaluated = -1;
    ns->nblocks++;
    return &nb[i];
}

void cs_mon_feed_evm(cs_monitor_engine *e, cs_event *ev)
{
    netstate *ns = net_get(e, ev->network);
    if (!ns)
        return;
    uint64_t num;
    if (strcmp(ev->type, CS_EVT_REORG) == 0) {
        /* blocks above the common ancestor were replaced; the new branch's
         * events follow */
        if (!cs_mon_field_u64(ev, CS_EVF_REORG_ANCESTOR, &num) || num == UINT64_MAX)
            return;
        num++;
        size_t keep = 0;
        for (size_t i = 0; i < ns->nblocks; i++) {
            if (ns->blocks[i].number >= num) {
                e->st.reorged++;
                cs_mon_blk_free_counted(e, &ns->blocks[i]);
            } else {
                ns->blocks[keep++] = ns->blocks[i];
            }
        }
        ns->nblocks = keep;
        if (ns->head >= num)
            ns->head = num ? num - 1 : 0;
        return;
    }
    if (strcmp(ev->type, CS_EVT_BLOCK) == 0) {
        if (!cs_mon_field_u64(ev, CS_EVF_NUMBER, &num))
            return;
        for (size_t i = 0; i < ns->nblocks; i++)
            if (ns->blocks[i].number == num && ns->blocks[i].n)
                ns->blocks[i].complete = true;
        if (num > ns->head)
            ns->head = num;
        cs_mon_advance(e, ns, false);
        return;
    }
    if (!cs_mon_field_u64(ev, CS_EVF_BLOCK_NUMBER, &num)) {
        e->st.dropped++;
        return;
    }
    bool later = num > ns->head;
    if (later) {
        for (size_t i = 0; i < ns->nblocks; i++)
            if (ns->blocks[i].number < num)
                ns->blocks[i].complete = true;
        ns->head = num;
    }
    blk *b = blk_get(e, ns, num);
    if (!b || b->n >= e->o.max_block_events || b->evaluated >= 0 ||
        e->pending_events >= e->o.max_pending_events) {
        e->st.dropped++; /* full, too old, already evaluated, or too much pending */
    } else {
        if (b->n == b->cap) {
            size_t nc = b->cap ? b->cap * 2 : 64;
            cs_event **ne = realloc(b->evs, nc * sizeof *ne);
            if (!ne) {
                e->st.dropped++;
                return;
            }
            b->evs = ne;
            b->cap = nc;
        }
        b->evs[b->n++] = cs_event_ref(ev);
        e->pending_events++;
    }
    if (later)
        cs_mon_advance(e, ns, false);
}
