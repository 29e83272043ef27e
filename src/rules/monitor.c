/* The monitor engine (see monitor.h): compiling monitors, the address
 * index, and the entry points. The alert document and a match's delivery
 * are in monitor_doc.c, contract monitors in monitor_contract.c, event
 * monitors in monitor_event.c (engine_int.h), the alert policy in
 * policy.c. */
#include "rules/monitor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus/spool.h"
#include "core/error.h"
#include "core/json.h"
#include "core/log.h"
#include "core/subject.h"
#include "core/u256.h"
#include "abi/abi.h"
#include "core/hex.h"
#include "abi/keccak.h"
#include "rules/evm_fields.h"
#include "rules/monitor_int.h"
#include "rules/policy_int.h"
#include "rules/engine_int.h"

/* ---- helpers on values -------------------------------------------------- */

bool cs_mon_hexnib(char c, uint8_t *v)
{
    if (c >= '0' && c <= '9')
        *v = (uint8_t)(c - '0');
    else if (c >= 'a' && c <= 'f')
        *v = (uint8_t)(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F')
        *v = (uint8_t)(c - 'A' + 10);
    else
        return false;
    return true;
}

/* An address from text "0x" + 40 hex digits (any case). */
static bool text_addr(const char *s, size_t n, uint8_t out[20])
{
    if (!cs_expr_is_address(s, n))
        return false;
    for (int i = 0; i < 20; i++) {
        uint8_t hi = 0, lo = 0;
        cs_mon_hexnib(s[2 + 2 * i], &hi);
        cs_mon_hexnib(s[3 + 2 * i], &lo);
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return true;
}

static bool val_addr(const cs_val *v, uint8_t out[20])
{
    if (v->kind == CS_VAL_STR)
        return text_addr((const char *)v->p, v->n, out);
    if (v->kind == CS_VAL_BYTES && v->n == 20) {
        memcpy(out, v->p, 20);
        return true;
    }
    return false;
}

bool cs_mon_field_addr(const cs_event *ev, const char *name, uint8_t out[20])
{
    cs_val v;
    return cs_event_field(ev, name, strlen(name), &v) == 0 && val_addr(&v, out);
}

/* A scalar as text: strings as they are, bytes as 0x-hex, integers in
 * decimal. Returns the length, or -1. */
int cs_mon_val_text(const cs_val *v, char *buf, size_t cap)
{
    static const char hx[] = "0123456789abcdef";
    size_t n;
    switch (v->kind) {
    case CS_VAL_STR:
        n = v->n;
        if (n >= cap)
            return -1;
        memcpy(buf, v->p, n);
        break;
    case CS_VAL_BYTES:
        n = 2 + 2 * v->n;
        if (n >= cap)
            return -1;
        buf[0] = '0';
        buf[1] = 'x';
        for (size_t i = 0; i < v->n; i++) {
            buf[2 + 2 * i] = hx[v->p[i] >> 4];
            buf[3 + 2 * i] = hx[v->p[i] & 15];
        }
        break;
    case CS_VAL_INT:
    case CS_VAL_BIG: {
        cs_xval x;
        cs_xval_from_val(&x, v);
        char d[80];
        cs_u256_to_dec(&x.n, d);
        int k = snprintf(buf, cap, "%s%s", x.neg ? "-" : "", d);
        if (k < 0 || (size_t)k >= cap)
            return -1;
        n = (size_t)k;
        break;
    }
    default:
        return -1;
    }
    buf[n] = 0;
    return (int)n;
}

bool cs_mon_field_u64(const cs_event *ev, const char *name, uint64_t *out)
{
    cs_val v;
    if (cs_event_field(ev, name, strlen(name), &v) || v.kind != CS_VAL_INT || v.neg) {
        if (v.kind == CS_VAL_STR) { /* JSON input may carry numbers as strings */
            cs_u256 u;
            if (v.n && v.n < 80 && cs_u256_from_dec(&u, (const char *)v.p, v.n) && !u.w[1] &&
                !u.w[2] && !u.w[3]) {
                *out = u.w[0];
                return true;
            }
        }
        return false;
    }
    *out = v.u;
    return true;
}

/* ---- compiled monitors --------------------------------------------------- */

static void sub_cb(cs_sub *sub, cs_event *ev, void *arg);
static void timer_cb(uv_timer_t *t);

static uint64_t addr_hash(const uint8_t a[20])
{
    uint64_t h, l;
    memcpy(&h, a + 12, 8);
    memcpy(&l, a + 4, 8);
    h ^= l * 0x9E3779B97F4A7C15ull; /* splitmix64's finalizer: every bit reaches the low ones */
    h ^= h >> 30;
    h *= 0xBF58476D1CE4E5B9ull;
    h ^= h >> 27;
    h *= 0x94D049BB133111EBull;
    return h ^ (h >> 31);
}

aent *cs_mon_aidx_find(const cs_monitor_engine *e, const uint8_t a[20], bool add)
{
    if (!e->acap)
        return NULL;
    size_t mask = e->acap - 1;
    for (size_t i = addr_hash(a) & mask;; i = (i + 1) & mask) {
        aent *x = &e->aidx[i];
        if (!x->used) {
            if (!add)
                return NULL;
            x->used = true;
            memcpy(x->a, a, 20);
            return x;
        }
        if (memcmp(x->a, a, 20) == 0)
            return x;
    }
}

static int compile_one(const cs_expr_opts *o, const char *src, cs_expr **out, const char *mon,
                       const char *what, char *err, size_t errlen)
{
    *out = NULL;
    if (!src || !*src)
        return 0;
    char msg[256];
    int rc = cs_expr_compile(src, strlen(src), o, out, msg, sizeof msg);
    if (rc) {
        snprintf(err, errlen, "monitor %s: %s: %s", mon, what, msg);
        return CS_ECONFIG;
    }
    return 0;
}

static int compile_sig(csig *c, const cs_monitor_sig *s, const cs_expr_opts *o, const char *mon,
                       char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    c->src = s;
    const char *sig = s->signature ? s->signature : "";
    size_t sl = strlen(sig);
    if (sl == 66 && sig[0] == '0' && (sig[1] == 'x' || sig[1] == 'X')) {
        c->by_topic = true;
        for (int i = 0; i < 32; i++) {
            uint8_t hi = 0, lo = 0;
            if (!cs_mon_hexnib(sig[2 + 2 * i], &hi) || !cs_mon_hexnib(sig[3 + 2 * i], &lo)) {
                snprintf(err, errlen, "monitor %s: bad topic '%s'", mon, sig);
                return CS_ECONFIG;
            }
            c->topic[i] = (uint8_t)(hi << 4 | lo);
        }
    } else {
        int n = cs_monitor_canonical_sig(sig, c->canon, sizeof c->canon);
        if (n < 0) {
            snprintf(err, errlen, "monitor %s: bad signature '%s'", mon, sig);
            return CS_ECONFIG;
        }
        c->len = (size_t)n;
        c->by_name = !strchr(c->canon, '(');
        if (!c->by_name) /* for logs and calls the follower could not decode */
            cs_keccak256(c->canon, c->len, c->topic);
    }
    return compile_one(o, s->condition, &c->cond, mon, "condition", err, errlen);
}

static void mon_free(cs_monitor *m)
{
    for (size_t i = 0; i < m->def.nevents && m->events; i++)
        cs_expr_free(m->events[i].cond);
    for (size_t i = 0; i < m->def.nfunctions && m->functions; i++)
        cs_expr_free(m->functions[i].cond);
    free(m->events);
    free(m->functions);
    cs_expr_free(m->txcond);
    cs_expr_free(m->cond);
    cs_expr_free(m->dedup);
    cs_expr_free(m->group);
    cs_expr_free(m->of);
    cs_window_free(m->win);
    cs_expr_free(m->cost);
    cs_expr_free(m->forget);
    free(m->addrs);
    free(m->chans);
    cs_abi_free(m->abi);
    cs_policy_free(&m->pol);
    for (size_t i = 0; i < m->fn; i++)
        cs_pmatch_clear(&m->fbatch[i]);
    cs_monitor_def_clear(&m->def);
}

static int addr_cmp(const void *a, const void *b)
{
    return memcmp(a, b, 20);
}

static int mon_build(cs_monitor_engine *e, cs_monitor *m, const cs_monitor_def *d, char *err,
                     size_t errlen)
{
    int rc = cs_monitor_def_copy(&m->def, d);
    if (rc)
        return rc;
    m->eng = e;
    const char *name = d->name ? d->name : "?";
    if (!d->name || !*d->name) {
        snprintf(err, errlen, "monitor without a name");
        return CS_ECONFIG;
    }
    if (d->kind == CS_MONITOR_CONTRACT) {
        m->addrs = calloc(d->naddresses ? d->naddresses : 1, 20);
        if (!m->addrs)
            return CS_ENOMEM;
        for (size_t i = 0; i < d->naddresses; i++) {
            if (!text_addr(d->addresses[i], strlen(d->addresses[i]), m->addrs[i])) {
                snprintf(err, errlen, "monitor %s: '%s' is not an address (0x and 40 hex digits)",
                         name, d->addresses[i]);
                return CS_ECONFIG;
            }
        }
        qsort(m->addrs, d->naddresses, 20, addr_cmp);
        m->naddrs = d->naddresses;
        m->events = calloc(d->nevents + 1, sizeof *m->events);
        m->functions = calloc(d->nfunctions + 1, sizeof *m->functions);
        if (!m->events || !m->functions)
            return CS_ENOMEM;
        for (size_t i = 0; i < d->nevents; i++)
            if ((rc = compile_sig(&m->events[i], &m->def.events[i], &cs_evm_arg_opts, name, err,
                                  errlen)))
                return rc;
        for (size_t i = 0; i < d->nfunctions; i++) {
            if ((rc = compile_sig(&m->functions[i], &m->def.functions[i], &cs_evm_arg_opts, name,
                                  err, errlen)))
                return rc;
            if (m->functions[i].by_topic) {
                snprintf(err, errlen, "monitor %s: a function is named by its signature", name);
                return CS_ECONFIG;
            }
        }
        if (d->abi && *d->abi) {
            char msg[512];
            int bad = d->abi[0] == '['
                          ? cs_abi_parse(d->abi, strlen(d->abi), "abi", &m->abi, msg, sizeof msg)
                          : cs_abi_load_file(d->abi, &m->abi, msg, sizeof msg);
            if (bad) {
                snprintf(err, errlen, "monitor %s: abi: %s", name, msg);
                return CS_ECONFIG;
            }
        }
        if ((rc = compile_one(&cs_evm_tx_opts, d->tx_condition, &m->txcond, name,
                              "transaction condition", err, errlen)))
            return rc;
    } else {
        if (!d->nsubjects) {
            snprintf(err, errlen, "monitor %s: an event monitor needs subjects", name);
            return CS_ECONFIG;
        }
        for (size_t i = 0; i < d->nsubjects; i++)
            if (!cs_subject_filter_valid(d->subjects[i], strlen(d->subjects[i]))) {
                snprintf(err, errlen, "monitor %s: bad subject filter '%s'", name, d->subjects[i]);
                return CS_ECONFIG;
            }
        if ((rc = compile_one(&cs_evm_event_opts, d->condition, &m->cond, name, "condition", err,
                              errlen)))
            return rc;
        if (d->window.enabled) {
            if ((rc = compile_one(&cs_evm_event_opts, d->window.group_by, &m->group, name,
                                  "window.group_by", err, errlen)) ||
                (rc = compile_one(&cs_evm_event_opts, d->window.of, &m->of, name, "window.of", err,
                                  errlen)) ||
                (rc = compile_one(&cs_evm_event_opts, d->window.cost, &m->cost, name, "window.cost",
                                  err, errlen)) ||
                (rc = compile_one(&cs_evm_event_opts, d->window.forget, &m->forget, name,
                                  "window.forget", err, errlen)))
                return rc;
            cs_window_opts wo = {.kind = d->window.kind,
                                 .window_ns = d->window.window_ns,
                                 .threshold = d->window.threshold,
                                 .rate = d->window.rate,
                                 .group = m->group,
                                 .of = m->of,
                                 .max_groups = d->window.max_groups,
                                 .burst = d->window.burst,
                                 .cost = m->cost,
                                 .k = d->window.k,
                                 .min_change = d->window.min_change,
                                 .warmup = d->window.warmup,
                                 .samples = d->window.samples,
                                 .alpha = d->window.alpha,
                                 .direction = d->window.direction};
            if (cs_window_new(&wo, &m->win)) {
                snprintf(err, errlen,
                         "monitor %s: bad window (needs a duration > 0, a threshold <= %d, and "
                         "`of` for distinct and stale)",
                         name, CS_WINDOW_MAX_THRESHOLD);
                return CS_ECONFIG;
            }
        }
    }
    if ((rc =
             compile_one(d->kind == CS_MONITOR_CONTRACT ? &cs_evm_trigger_opts : &cs_evm_event_opts,
                         d->policy.dedup_key, &m->dedup, name, "dedup_key", err, errlen)))
        return rc;
    if ((rc = cs_policy_init(&m->pol, &d->policy))) {
        snprintf(err, errlen, "monitor %s: bad alert policy (threshold at most %d)", name,
                 CS_POLICY_MAX_THRESHOLD);
        return CS_ECONFIG;
    }
    /* channels: the monitor's, or its severity's defaults */
    size_t nc = d->nchannels ? d->nchannels : e->ndefchans[d->severity];
    m->chans = calloc(nc + 1, sizeof *m->chans);
    if (!m->chans)
        return CS_ENOMEM;
    for (size_t i = 0; i < nc; i++)
        m->chans[i] = d->nchannels ? m->def.channels[i] : e->defchans[d->severity][i];
    m->nchans = nc;
    return 0;
}

int cs_monitor_engine_new(const cs_monitor_engine_opts *o, const cs_monitor_def *defs, size_t n,
                          cs_monitor_engine **out, char *err, size_t errlen)
{
    *out = NULL;
    if (errlen)
        err[0] = 0;
    cs_monitor_engine *e = calloc(1, sizeof *e);
    if (!e)
        return CS_ENOMEM;
    e->o = *o;
    if (!e->o.origin)
        e->o.origin = "monitors";
    if (!e->o.max_pending_blocks)
        e->o.max_pending_blocks = 256;
    if (!e->o.max_block_events)
        e->o.max_block_events = 200000;
    if (!e->o.max_pending_events)
        e->o.max_pending_events = 1000000;
    cs_vw_init(&e->doc, 4u << 20);
    cs_vw_init(&e->dec, CS_EVENT_MAX_SIZE);
    cs_buf_init(&e->tmp, 1u << 20);
    int rc = CS_ENOMEM;
    for (int s = 0; s < CS_SEV_COUNT; s++) {
        e->ndefchans[s] = o->ndefault_channels[s];
        e->defchans[s] = calloc(e->ndefchans[s] + 1, sizeof(char *));
        if (!e->defchans[s])
            goto fail;
        for (size_t i = 0; i < e->ndefchans[s]; i++)
            if (!(e->defchans[s][i] = strdup(o->default_channels[s][i])))
                goto fail;
    }
    e->explorer_net = calloc(o->nexplorers + 1, sizeof(char *));
    e->explorer_url = calloc(o->nexplorers + 1, sizeof(char *));
    if (!e->explorer_net || !e->explorer_url)
        goto fail;
    for (size_t i = 0; i < o->nexplorers; i++) {
        e->explorer_net[i] = strdup(o->explorers[i][0]);
        e->explorer_url[i] = strdup(o->explorers[i][1]);
        e->nexplorers++;
        if (!e->explorer_net[i] || !e->explorer_url[i])
            goto fail;
    }
    e->mons = calloc(n + 1, sizeof *e->mons);
    e->contract = calloc(n + 1, sizeof(uint32_t));
    e->wild = calloc(n + 1, sizeof(uint32_t));
    e->evmons = calloc(n + 1, sizeof(uint32_t));
    e->cand = calloc(n + 1, sizeof(uint32_t));
    if (!e->mons || !e->contract || !e->wild || !e->evmons || !e->cand)
        goto fail;
    size_t naddr = 0;
    for (size_t i = 0; i < n; i++) {
        cs_monitor *m = &e->mons[i];
        e->n = i + 1;
        m->idx = (uint32_t)i;
        if ((rc = mon_build(e, m, &defs[i], err, errlen)))
            goto fail;
        for (size_t j = 0; j < i; j++)
            if (strcmp(e->mons[j].def.name, m->def.name) == 0) {
                snprintf(err, errlen, "monitor %s: defined twice", m->def.name);
                rc = CS_ECONFIG;
                goto fail;
            }
        if (m->def.kind == CS_MONITOR_CONTRACT) {
            e->contract[e->ncontract++] = (uint32_t)i;
            if (!m->naddrs)
                e->wild[e->nwild++] = (uint32_t)i;
            naddr += m->naddrs;
            int64_t c = m->def.confirmations;
            size_t k = 0;
            while (k < e->ndepths && e->depths[k] < c)
                k++;
            if (k == e->ndepths || e->depths[k] != c) {
                if (e->ndepths == MAX_DEPTHS) {
                    snprintf(err, errlen, "too many different confirmation depths (at most %d)",
                             MAX_DEPTHS);
                    rc = CS_ECONFIG;
                    goto fail;
                }
                memmove(&e->depths[k + 1], &e->depths[k], (e->ndepths - k) * sizeof *e->depths);
                e->depths[k] = c;
                e->ndepths++;
            }
            if (c > e->maxdepth)
                e->maxdepth = c;
        } else {
            e->evmons[e->nevmons++] = (uint32_t)i;
        }
    }
    /* the address index: address -> monitors watching it */
    e->acap = 16;
    while (e->acap < naddr * 2)
        e->acap <<= 1;
    rc = CS_ENOMEM;
    e->aidx = calloc(e->acap, sizeof *e->aidx);
    if (!e->aidx)
        goto fail;
    for (size_t i = 0; i < e->ncontract; i++) {
        cs_monitor *m = &e->mons[e->contract[i]];
        for (size_t j = 0; j < m->naddrs; j++) {
            if (j && memcmp(m->addrs[j], m->addrs[j - 1], 20) == 0)
                continue;
            aent *x = cs_mon_aidx_find(e, m->addrs[j], true);
            uint32_t *nm = realloc(x->mons, (x->n + 1) * sizeof *nm);
            if (!nm)
                goto fail;
            x->mons = nm;
            x->mons[x->n++] = m->idx;
        }
    }
    if (o->bus) {
        size_t nf = 0;
        const char *filters[260];
        if (e->ncontract) {
            filters[nf++] = CS_EVT_TX;
            filters[nf++] = CS_EVT_LOG;
            filters[nf++] = CS_EVT_BLOCK;
            filters[nf++] = CS_EVT_REORG;
        }
        for (size_t i = 0; i < e->nevmons; i++) {
            cs_monitor *m = &e->mons[e->evmons[i]];
            for (size_t j = 0; j < m->def.nsubjects && nf < 256; j++)
                filters[nf++] = m->def.subjects[j];
        }
        cs_publisher_init(&e->pub, o->bus, e->o.origin, NULL);
        e->has_pub = true;
        if (nf) {
            cs_sub_opts so = {.filters = filters,
                              .nfilters = nf,
                              .policy = CS_SUB_DROP,
                              .cb = sub_cb,
                              .arg = e,
                              .name = "monitors"};
            if ((rc = cs_bus_subscribe(o->bus, &so, &e->sub)))
                goto fail;
        }
    }
    if (o->loop) {
        uv_timer_init(o->loop, &e->timer);
        e->timer.data = e;
        e->has_timer = true;
        uv_timer_start(&e->timer, timer_cb, 1000, 1000);
        uv_unref((uv_handle_t *)&e->timer);
    }
    *out = e;
    return 0;
fail:
    if (rc == CS_ENOMEM && errlen && !err[0])
        snprintf(err, errlen, "out of memory");
    cs_monitor_engine_close(e);
    return rc;
}

void cs_mon_blk_free(blk *b)
{
    for (size_t i = 0; i < b->n; i++)
        cs_event_unref(b->evs[i]);
    free(b->evs);
    memset(b, 0, sizeof *b);
}

static void engine_free(cs_monitor_engine *e)
{
    for (size_t i = 0; i < e->n; i++)
        mon_free(&e->mons[i]);
    free(e->mons);
    for (size_t i = 0; i < e->acap && e->aidx; i++)
        free(e->aidx[i].mons);
    free(e->aidx);
    for (size_t i = 0; i < e->nnets; i++) {
        for (size_t j = 0; j < e->nets[i].nblocks; j++)
            cs_mon_blk_free(&e->nets[i].blocks[j]);
        free(e->nets[i].blocks);
        free(e->nets[i].name);
    }
    for (int s = 0; s < CS_SEV_COUNT; s++) {
        for (size_t i = 0; e->defchans[s] && i < e->ndefchans[s]; i++)
            free(e->defchans[s][i]);
        free(e->defchans[s]);
    }
    for (size_t i = 0; i < e->nexplorers; i++) {
        free(e->explorer_net[i]);
        free(e->explorer_url[i]);
    }
    free(e->explorer_net);
    free(e->explorer_url);
    for (size_t i = 0; e->types && i < TYPE_SLOTS; i++) {
        free(e->types[i].type);
        free(e->types[i].mons);
    }
    free(e->types);
    free(e->contract);
    free(e->wild);
    free(e->evmons);
    free(e->cand);
    if (e->has_pub)
        cs_publisher_free(&e->pub);
    cs_vw_free(&e->doc);
    cs_vw_free(&e->dec);
    cs_buf_free(&e->tmp);
    free(e);
}

void cs_mon_maybe_free(cs_monitor_engine *e)
{
    if (e->closing && e->busy == 0 && !e->has_timer)
        engine_free(e);
}

static void timer_closed(uv_handle_t *h)
{
    cs_monitor_engine *e = h->data;
    e->has_timer = false;
    cs_mon_maybe_free(e);
}

void cs_monitor_engine_close(cs_monitor_engine *e)
{
    if (!e)
        return;
    e->closing = true;
    if (e->sub) {
        cs_bus_unsubscribe(e->sub);
        e->sub = NULL;
    }
    if (e->has_timer) {
        uv_timer_stop(&e->timer);
        uv_close((uv_handle_t *)&e->timer, timer_closed);
        return;
    }
    cs_mon_maybe_free(e);
}

/* ---- entry points ------------------------------------------------------------ */

void cs_monitor_engine_feed(cs_monitor_engine *e, cs_event *ev)
{
    if (e->closing)
        return;
    e->st.events++;
    if (e->ncontract && strncmp(ev->type, "evm.", 4) == 0 &&
        (strcmp(ev->type, CS_EVT_TX) == 0 || strcmp(ev->type, CS_EVT_LOG) == 0 ||
         strcmp(ev->type, CS_EVT_BLOCK) == 0 || strcmp(ev->type, CS_EVT_REORG) == 0))
        cs_mon_feed_evm(e, ev);
    if (e->nevmons)
        cs_mon_feed_event_monitors(e, ev);
}

static void sub_cb(cs_sub *sub, cs_event *ev, void *arg)
{
    (void)sub;
    cs_monitor_engine_feed(arg, ev);
}

void cs_monitor_engine_flush(cs_monitor_engine *e)
{
    for (size_t i = 0; i < e->nnets; i++)
        cs_mon_advance(e, &e->nets[i], true);
    for (size_t i = 0; i < e->n; i++)
        if (e->mons[i].fn)
            cs_mon_flush_filter(&e->mons[i]);
}

typedef struct stale_ctx {
    cs_monitor_engine *e;
    cs_monitor *m;
    int64_t now;
} stale_ctx;

static void on_stale(const cs_window_hit *hit, void *arg)
{
    stale_ctx *c = arg;
    cs_monitor *m = c->m;
    const char *network = m->def.nnetworks == 1 ? m->def.networks[0] : "";
    char id[512];
    cs_mon_event_doc(c->e, m, NULL, hit, network, c->now, id, sizeof id);
    cs_mon_deliver(m, id, network, c->now, NULL);
}

void cs_monitor_engine_tick(cs_monitor_engine *e, int64_t now)
{
    for (size_t i = 0; i < e->nevmons; i++) {
        cs_monitor *m = &e->mons[e->evmons[i]];
        if (!m->win)
            continue;
        stale_ctx c = {e, m, now};
        if (m->def.paused)
            cs_window_sweep(m->win, now, NULL, NULL);
        else
            cs_window_sweep(m->win, now, on_stale, &c);
        if (m->fn)
            cs_mon_flush_filter(m);
    }
    for (size_t i = 0; i < e->n; i++)
        cs_policy_expire(&e->mons[i].pol, now);
}

static void timer_cb(uv_timer_t *t)
{
    cs_monitor_engine_tick(t->data, cs_now_ns());
}

static cs_monitor *find(const cs_monitor_engine *e, const char *name)
{
    for (size_t i = 0; i < e->n; i++)
        if (strcmp(e->mons[i].def.name, name) == 0)
            return &e->mons[i];
    return NULL;
}

int cs_monitor_engine_pause(cs_monitor_engine *e, const char *name, bool paused)
{
    cs_monitor *m = find(e, name);
    if (!m)
        return CS_ENOTFOUND;
    m->def.paused = paused;
    return 0;
}

int cs_monitor_engine_monitor_stats(const cs_monitor_engine *e, const char *name,
                                    cs_monitor_stats *out)
{
    cs_monitor *m = find(e, name);
    if (!m)
        return CS_ENOTFOUND;
    *out = m->st;
    if (m->win) {
        cs_window_stats ws;
        cs_window_get_stats(m->win, &ws);
        out->window_groups = ws.groups;
        out->window_evictions = ws.evictions;
    }
    return 0;
}

void cs_monitor_engine_get_stats(const cs_monitor_engine *e, cs_monitor_engine_stats *out)
{
    *out = e->st;
}

size_t cs_monitor_engine_busy(const cs_monitor_engine *e)
{
    return e->busy;
}
