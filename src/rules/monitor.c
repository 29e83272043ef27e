/* The monitor engine (see monitor.h): compiled monitors, the address index,
 * block gathering with confirmations, matching, the alert document. The
 * alert policy lives in policy.c. */
#include "rules/monitor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/json.h"
#include "core/log.h"
#include "core/subject.h"
#include "abi/abi.h"
#include "core/hex.h"
#include "abi/keccak.h"
#include "rules/evm_fields.h"
#include "rules/monitor_int.h"
#include "rules/policy_int.h"

#define MAX_NETS 64
#define MAX_DEPTHS 64
#define MAX_REASONS 64

/* ---- helpers on values -------------------------------------------------- */

static bool hexnib(char c, uint8_t *v)
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
        hexnib(s[2 + 2 * i], &hi);
        hexnib(s[3 + 2 * i], &lo);
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

static bool field_addr(const cs_event *ev, const char *name, uint8_t out[20])
{
    cs_val v;
    return cs_event_field(ev, name, strlen(name), &v) == 0 && val_addr(&v, out);
}

/* A scalar as text: strings as they are, bytes as 0x-hex, integers in
 * decimal. Returns the length, or -1. */
static int val_text(const cs_val *v, char *buf, size_t cap)
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

static bool field_u64(const cs_event *ev, const char *name, uint64_t *out)
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

typedef struct csig {
    char canon[256];
    size_t len;
    bool by_name;  /* a bare name: compare with `event` / `function` */
    bool by_topic; /* 0x topic0 */
    uint8_t topic[32];
    cs_expr *cond;
    const cs_monitor_sig *src;
} csig;

struct cs_monitor {
    cs_monitor_def def;
    cs_monitor_engine *eng;
    cs_abi *abi; /* the monitor's `abi`, for what the follower left undecoded; NULL: none */
    uint32_t idx;
    csig *events, *functions;
    cs_expr *txcond, *cond, *dedup, *group, *of;
    cs_window *win;
    uint8_t (*addrs)[20];
    size_t naddrs;
    const char **chans;
    size_t nchans;
    cs_policy pol;
    cs_monitor_stats st;
    uint64_t stamp;
    uint64_t seq;
    bool warned;
    cs_pmatch fbatch[CS_FILTER_BATCH];
    size_t fn;
};

typedef struct aent {
    uint8_t a[20];
    bool used;
    uint32_t *mons;
    uint32_t n;
} aent;

typedef struct blk {
    uint64_t number;
    bool complete;
    int64_t evaluated; /* deepest confirmation depth evaluated; -1: none */
    cs_event **evs;
    size_t n, cap;
} blk;

typedef struct netstate {
    char *name;
    uint64_t head;
    blk *blocks; /* ascending by number */
    size_t nblocks;
} netstate;

struct cs_monitor_engine {
    cs_monitor_engine_opts o;
    char **defchans[CS_SEV_COUNT];
    size_t ndefchans[CS_SEV_COUNT];
    char **explorer_net, **explorer_url;
    size_t nexplorers;
    cs_monitor *mons;
    size_t n;
    uint32_t *contract, *wild, *evmons;
    size_t ncontract, nwild, nevmons;
    aent *aidx;
    size_t acap;
    int64_t depths[MAX_DEPTHS];
    size_t ndepths;
    int64_t maxdepth;
    netstate nets[MAX_NETS];
    size_t nnets;
    cs_sub *sub;
    cs_publisher pub;
    bool has_pub;
    uv_timer_t timer;
    bool has_timer;
    cs_vw doc;
    cs_vw dec; /* payloads decoded with a monitor's ABI */
    cs_buf tmp;
    uint64_t stamp;
    uint32_t *cand;
    cs_monitor_engine_stats st;
    size_t busy;
    bool closing;
    size_t pending_events; /* held in pending blocks, all networks */
    struct tcache *types;  /* event type -> event monitors whose subjects match it */
    size_t ntypes;
};

/* The event monitors of one event type, found once per type. */
#define TYPE_SLOTS 2048 /* at most 3/4 of them used; further types are matched every time */
typedef struct tcache {
    char *type;
    uint32_t *mons;
    uint32_t n;
} tcache;

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

static aent *aidx_find(const cs_monitor_engine *e, const uint8_t a[20], bool add)
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
            if (!hexnib(sig[2 + 2 * i], &hi) || !hexnib(sig[3 + 2 * i], &lo)) {
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
            if (cs_abi_load_file(d->abi, &m->abi, msg, sizeof msg)) {
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
                                  errlen)))
                return rc;
            cs_window_opts wo = {.kind = d->window.kind,
                                 .window_ns = d->window.window_ns,
                                 .threshold = d->window.threshold,
                                 .rate = d->window.rate,
                                 .group = m->group,
                                 .of = m->of,
                                 .max_groups = d->window.max_groups};
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
            aent *x = aidx_find(e, m->addrs[j], true);
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

static void blk_free_counted(cs_monitor_engine *e, blk *b);

static void blk_free(blk *b)
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
            blk_free(&e->nets[i].blocks[j]);
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

static void maybe_free(cs_monitor_engine *e)
{
    if (e->closing && e->busy == 0 && !e->has_timer)
        engine_free(e);
}

static void timer_closed(uv_handle_t *h)
{
    cs_monitor_engine *e = h->data;
    e->has_timer = false;
    maybe_free(e);
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
    maybe_free(e);
}

/* ---- the alert document --------------------------------------------------- */

static void w_monitor(cs_vw *w, const cs_monitor *m, const char *network)
{
    const cs_monitor_def *d = &m->def;
    cs_vw_key(w, "monitor");
    cs_vw_object_begin(w);
    cs_vw_kv_str(w, "name", d->name);
    cs_vw_kv_str(w, "kind", d->kind == CS_MONITOR_CONTRACT ? "contract" : "event");
    cs_vw_kv_str(w, "severity", cs_severity_name(d->severity));
    cs_vw_kv_str(w, "risk", cs_risk_name(d->risk));
    cs_vw_kv_str(w, "network", network);
    if (d->kind == CS_MONITOR_CONTRACT) {
        cs_vw_key(w, "addresses");
        cs_vw_array_begin(w);
        for (size_t i = 0; i < d->naddresses; i++)
            cs_vw_cstr(w, d->addresses[i]);
        cs_vw_array_end(w);
        cs_vw_kv_u64(w, "confirmBlocks", d->confirmations);
        if (d->abi)
            cs_vw_kv_str(w, "abi", d->abi);
    } else {
        cs_vw_key(w, "subjects");
        cs_vw_array_begin(w);
        for (size_t i = 0; i < d->nsubjects; i++)
            cs_vw_cstr(w, d->subjects[i]);
        cs_vw_array_end(w);
    }
    cs_vw_object_end(w);
    cs_vw_kv_str(w, "network", network);
    cs_vw_kv_str(w, "severity", cs_severity_name(d->severity));
    cs_vw_kv_str(w, "risk", cs_risk_name(d->risk));
}

/* Copies the members of an object value into the open object. */
static void w_members(cs_vw *w, const cs_val *obj)
{
    cs_val_iter it;
    cs_val_iter_init(&it, obj);
    const char *k;
    size_t kl;
    cs_val v;
    while (cs_val_next(&it, &k, &kl, &v) == 1) {
        cs_vw_keyn(w, k, kl);
        cs_vw_raw(w, v.raw, v.raw_len);
    }
}

static void w_field(cs_vw *w, const char *key, const cs_event *ev, const char *name)
{
    cs_val v;
    if (ev && cs_event_field(ev, name, strlen(name), &v) == 0) {
        cs_vw_key(w, key);
        cs_vw_raw(w, v.raw, v.raw_len);
    }
}

/* Appends "k: v" text for the formatted reasons. */
static void fmt_val(cs_buf *b, const cs_val *v)
{
    char t[200];
    if (val_text(v, t, sizeof t) >= 0)
        cs_buf_append_str(b, t);
    else
        cs_json_value(b, v);
}

typedef struct reason {
    int type; /* 0 event, 1 function, 2 transaction */
    const cs_event *ev;
    const csig *sig;
} reason;

static const char *reason_type[] = {"event", "function", "transaction"};

static void w_reasons(cs_vw *w, cs_buf *fmt, const reason *r, size_t nr, const cs_monitor *m)
{
    cs_vw_key(w, "matchReasons");
    cs_vw_array_begin(w);
    for (size_t i = 0; i < nr; i++) {
        cs_buf_printf(fmt, "%sMatch reason %zu\nType: %s\n", i ? "\n" : "", i + 1,
                      reason_type[r[i].type]);
        cs_vw_object_begin(w);
        cs_vw_kv_str(w, "type", reason_type[r[i].type]);
        if (r[i].type == 2) {
            cs_vw_kv_str(w, "condition", m->def.tx_condition);
            cs_buf_printf(fmt, "Condition: %s\n", m->def.tx_condition);
            cs_vw_object_end(w);
            continue;
        }
        const cs_event *ev = r[i].ev;
        const char *addrf = r[i].type == 0 ? CS_EVF_LOG_ADDRESS : CS_EVF_TX_TO;
        w_field(w, "address", ev, addrf);
        cs_val v;
        if (cs_event_field(ev, addrf, strlen(addrf), &v) == 0) {
            cs_buf_append_str(fmt, "Address: ");
            fmt_val(fmt, &v);
            cs_buf_putc(fmt, '\n');
        }
        const char *sigf = r[i].type == 0 ? CS_EVF_LOG_SIGNATURE : CS_EVF_TX_SIGNATURE;
        if (cs_event_field(ev, sigf, strlen(sigf), &v) == 0 && v.kind == CS_VAL_STR) {
            cs_vw_key(w, "signature");
            cs_vw_raw(w, v.raw, v.raw_len);
            cs_buf_printf(fmt, "Signature: %.*s\n", (int)v.n, (const char *)v.p);
        } else {
            cs_vw_kv_str(w, "signature", r[i].sig->canon);
            cs_buf_printf(fmt, "Signature: %s\n", r[i].sig->canon);
        }
        w_field(w, "name", ev, r[i].type == 0 ? CS_EVF_LOG_EVENT : CS_EVF_TX_FUNCTION);
        if (r[i].type == 0)
            w_field(w, "log_index", ev, CS_EVF_LOG_INDEX);
        if (r[i].sig->src->condition) {
            cs_vw_kv_str(w, "condition", r[i].sig->src->condition);
            cs_buf_printf(fmt, "Condition: %s\n", r[i].sig->src->condition);
        }
        cs_val args;
        if (cs_event_field(ev, CS_EVF_ARGS, strlen(CS_EVF_ARGS), &args) == 0 &&
            (args.kind == CS_VAL_OBJECT || args.kind == CS_VAL_ARRAY)) {
            cs_val_iter it;
            const char *k;
            size_t kl;
            cs_vw_key(w, "args");
            cs_vw_array_begin(w);
            cs_val_iter_init(&it, &args);
            while (cs_val_next(&it, &k, &kl, &v) == 1)
                cs_vw_raw(w, v.raw, v.raw_len);
            cs_vw_array_end(w);
            if (args.kind == CS_VAL_OBJECT) {
                cs_vw_key(w, "params");
                cs_vw_raw(w, args.raw, args.raw_len);
                cs_buf_append_str(fmt, "Params:");
                cs_val_iter_init(&it, &args);
                while (cs_val_next(&it, &k, &kl, &v) == 1) {
                    cs_buf_printf(fmt, " %.*s=", (int)kl, k);
                    fmt_val(fmt, &v);
                }
                cs_buf_putc(fmt, '\n');
            }
        }
        cs_vw_object_end(w);
    }
    cs_vw_array_end(w);
}

static const char *explorer(const cs_monitor_engine *e, const char *network)
{
    for (size_t i = 0; i < e->nexplorers; i++)
        if (strcmp(e->explorer_net[i], network) == 0)
            return e->explorer_url[i];
    return NULL;
}

/* ---- delivery: filter, policy, callback ------------------------------------ */

static void flush_filter(cs_monitor *m);

/* The end of a match's way: policy (unless the filter dropped it), record,
 * publish, callback. */
static void finish(cs_monitor *m, const char *id, const char *network, int64_t t,
                   const uint8_t *doc, size_t len, const char *dedup, bool filtered_out)
{
    cs_monitor_engine *e = m->eng;
    m->st.matches++;
    cs_suppress s = filtered_out ? CS_SUPPRESS_FILTER : cs_policy_decide(&m->pol, t, dedup);
    if (s == CS_SUPPRESS_NONE)
        m->st.notified++;
    else
        m->st.suppressed[s]++;
    cs_match mt = {.def = &m->def,
                   .id = id,
                   .network = network,
                   .time_ns = t,
                   .notify = s == CS_SUPPRESS_NONE,
                   .suppressed = s,
                   .channels = m->chans,
                   .nchannels = m->nchans,
                   .doc_raw = doc,
                   .doc_len = len};
    if (cs_val_read(doc, len, &mt.doc, NULL))
        return;
    if (mt.notify && e->has_pub && !e->closing) {
        cs_vw *w = cs_publisher_begin(&e->pub);
        w_members(w, &mt.doc);
        cs_vw_key(w, "channels");
        cs_vw_array_begin(w);
        for (size_t i = 0; i < m->nchans; i++)
            cs_vw_cstr(w, m->chans[i]);
        cs_vw_array_end(w);
        cs_publisher_emit(&e->pub, "alert.fired", network, m->def.name, NULL);
    }
    if (e->o.on_match)
        e->o.on_match(&mt, e->o.arg);
}

void cs_pmatch_clear(cs_pmatch *p)
{
    free(p->id);
    free(p->network);
    free(p->dedup);
    free(p->doc);
    memset(p, 0, sizeof *p);
}

typedef struct fctx {
    cs_monitor_engine *e;
    uint32_t mon;
    cs_pmatch batch[CS_FILTER_BATCH];
    size_t n;
} fctx;

static void filter_done(void *arg, cs_pmatch *batch, size_t n, const bool *keep,
                        const char *outcome)
{
    fctx *f = arg;
    cs_monitor_engine *e = f->e;
    cs_monitor *m = &e->mons[f->mon];
    if (strcmp(outcome, "ok") != 0)
        CS_WARN("monitors", "monitor %s: custom filter %s: %s the batch of %zu", m->def.name,
                outcome, keep[0] ? "keeping" : "dropping", n);
    for (size_t i = 0; i < n; i++) {
        if (!e->closing)
            finish(m, batch[i].id, batch[i].network, batch[i].t, batch[i].doc, batch[i].len,
                   batch[i].dedup, !keep[i]);
        cs_pmatch_clear(&batch[i]);
    }
    free(f);
    e->busy--;
    maybe_free(e);
}

static void flush_filter(cs_monitor *m)
{
    cs_monitor_engine *e = m->eng;
    if (!m->fn)
        return;
    fctx *f = calloc(1, sizeof *f);
    int rc = CS_ENOMEM;
    if (f) {
        f->e = e;
        f->mon = m->idx;
        f->n = m->fn;
        memcpy(f->batch, m->fbatch, m->fn * sizeof *m->fbatch);
        rc = e->o.loop ? cs_filter_start(e->o.loop, &m->def.filter, f->batch, f->n, filter_done, f)
                       : CS_EUNSUPPORTED;
    }
    if (rc == 0) {
        e->busy++;
        m->fn = 0;
        return;
    }
    /* could not run the filter: its error policy decides */
    CS_WARN("monitors", "monitor %s: custom filter did not start (%s): %s the batch", m->def.name,
            cs_strerror(rc), m->def.filter.keep_on_error ? "keeping" : "dropping");
    for (size_t i = 0; i < m->fn; i++) {
        finish(m, m->fbatch[i].id, m->fbatch[i].network, m->fbatch[i].t, m->fbatch[i].doc,
               m->fbatch[i].len, m->fbatch[i].dedup, !m->def.filter.keep_on_error);
        cs_pmatch_clear(&m->fbatch[i]);
    }
    m->fn = 0;
    free(f);
}

static char *dupn(const void *p, size_t n)
{
    char *s = malloc(n + 1);
    if (s) {
        memcpy(s, p, n);
        s[n] = 0;
    }
    return s;
}

/* A match is built in e->doc: send it on its way. */
static void deliver(cs_monitor *m, const char *id, const char *network, int64_t t,
                    const cs_event *trigger)
{
    cs_monitor_engine *e = m->eng;
    if (cs_vw_error(&e->doc)) {
        m->st.errors++;
        CS_WARN("monitors", "monitor %s: alert document: %s", m->def.name,
                cs_strerror(cs_vw_error(&e->doc)));
        return;
    }
    char dk[CS_WINDOW_MAX_KEY * 2];
    const char *dedup = NULL;
    if (m->dedup && trigger) {
        int n = cs_expr_eval_text(m->dedup, trigger, dk, sizeof dk);
        if (n >= 0)
            dedup = dk;
        else
            m->st.errors++;
    }
    if (!m->def.filter.argv) {
        finish(m, id, network, t, e->doc.buf.data, e->doc.buf.len, dedup, false);
        return;
    }
    cs_pmatch *p = &m->fbatch[m->fn];
    p->id = strdup(id);
    p->network = strdup(network);
    p->dedup = dedup ? strdup(dedup) : NULL;
    p->doc = (uint8_t *)dupn(e->doc.buf.data, e->doc.buf.len);
    p->len = e->doc.buf.len;
    p->t = t;
    if (!p->id || !p->network || !p->doc || (dedup && !p->dedup)) {
        cs_pmatch_clear(p);
        m->st.errors++;
        return;
    }
    if (++m->fn == CS_FILTER_BATCH)
        flush_filter(m);
}

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

static bool net_ok(const cs_monitor *m, const char *network)
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
        if (!hexnib((char)v->p[2 + 2 * i], &hi) || !hexnib((char)v->p[3 + 2 * i], &lo) ||
            (uint8_t)(hi << 4 | lo) != topic[i])
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

static int test_cond(cs_monitor *m, const cs_expr *c, const cs_event *ev)
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
        if (!g->tx || !test_cond(m, m->txcond, g->tx))
            return;
    }
    bool to_watched = g->tx && field_addr(g->tx, CS_EVF_TX_TO, a) && has_addr(m, a);
    bool from_watched = g->tx && field_addr(g->tx, CS_EVF_TX_FROM, a) && has_addr(m, a);
    if (!m->def.nevents && !m->def.nfunctions) {
        /* every transaction to or from the contracts */
        bool any = to_watched || from_watched;
        for (size_t i = 0; !any && i < g->nlogs; i++)
            any = field_addr(g->logs[i], CS_EVF_LOG_ADDRESS, a) && has_addr(m, a);
        if (!any || !g->tx)
            return;
    } else {
        for (size_t i = 0; i < g->nlogs && nr < MAX_REASONS; i++) {
            const cs_event *lg = g->logs[i];
            if (!field_addr(lg, CS_EVF_LOG_ADDRESS, a) || !has_addr(m, a))
                continue;
            for (size_t k = 0; k < m->def.nevents && nr < MAX_REASONS; k++)
                if (sig_match(&m->events[k], lg, true) && test_cond(m, m->events[k].cond, lg))
                    r[nr++] = (reason){0, lg, &m->events[k]};
        }
        if (to_watched)
            for (size_t k = 0; k < m->def.nfunctions && nr < MAX_REASONS; k++)
                if (sig_match(&m->functions[k], g->tx, false) &&
                    test_cond(m, m->functions[k].cond, g->tx))
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
        val_text(&hv, hash, sizeof hash);
    char id[512];
    snprintf(id, sizeof id, "%s/%s/%s", m->def.name, network, hash);
    cs_vw *w = &e->doc;
    cs_vw_reset(w);
    cs_buf_consume(&e->tmp, e->tmp.len);
    cs_vw_object_begin(w);
    cs_vw_kv_str(w, "id", id);
    w_monitor(w, m, network);
    cs_vw_kv_i64(w, "time", any->time_ns);
    cs_vw_key(w, "block");
    cs_vw_object_begin(w);
    cs_vw_kv_u64(w, "number", block);
    w_field(w, "hash", any, CS_EVF_BLOCK_HASH);
    cs_vw_object_end(w);
    w_field(w, "blockHash", any, CS_EVF_BLOCK_HASH);
    cs_vw_key(w, "transaction");
    cs_vw_object_begin(w);
    if (g->tx)
        w_members(w, &g->tx->payload);
    else
        cs_vw_kv_str(w, "hash", hash);
    const char *ex = explorer(e, network);
    if (ex) {
        char link[700];
        snprintf(link, sizeof link, "%s/tx/%s", ex, hash);
        cs_vw_kv_str(w, "link", link);
    }
    cs_vw_object_end(w);
    w_reasons(w, &e->tmp, r, nr, m);
    cs_vw_kv_strn(w, "matchReasonsFormatted", (const char *)e->tmp.data, e->tmp.len);
    cs_vw_key(w, "matchedAddresses");
    cs_vw_array_begin(w);
    {
        uint8_t seen[8][20];
        size_t nseen = 0;
        for (size_t i = 0; i < g->nlogs + 2; i++) {
            bool ok = i == 0   ? g->tx && field_addr(g->tx, CS_EVF_TX_TO, a)
                      : i == 1 ? g->tx && field_addr(g->tx, CS_EVF_TX_FROM, a)
                               : field_addr(g->logs[i - 2], CS_EVF_LOG_ADDRESS, a);
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
            w_field(w, "args", r[i].ev, CS_EVF_ARGS);
            break;
        }
    cs_vw_object_end(w);
    deliver(m, id, network, any->time_ns, nr && r[0].type != 2 ? r[0].ev : any);
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
        if (field_addr(g->logs[i], CS_EVF_LOG_ADDRESS, a) && has_addr(m, a))
            x = decode_copy(e, m->abi, g->logs[i], true);
        logs[i] = x ? x : g->logs[i];
    }
    if (g->tx && field_addr(g->tx, CS_EVF_TX_TO, a) && has_addr(m, a)) {
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
            if (field_addr(g->tx, CS_EVF_TX_TO, a) && (x = aidx_find(e, a, false)))
                add_cand(e, x->mons, x->n, &nc);
            if (field_addr(g->tx, CS_EVF_TX_FROM, a) && (x = aidx_find(e, a, false)))
                add_cand(e, x->mons, x->n, &nc);
        }
        for (size_t i = 0; i < g->nlogs; i++) {
            aent *x;
            if (field_addr(g->logs[i], CS_EVF_LOG_ADDRESS, a) && (x = aidx_find(e, a, false)))
                add_cand(e, x->mons, x->n, &nc);
        }
        add_cand(e, e->wild, e->nwild, &nc);
        if (nc > 1)
            qsort(e->cand, nc, sizeof *e->cand, u32cmp);
        for (size_t i = 0; i < nc; i++) {
            cs_monitor *m = &e->mons[e->cand[i]];
            int64_t c = m->def.confirmations;
            if (c <= lo || c > hi || m->def.paused || !net_ok(m, ns->name))
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
            flush_filter(m);
    }
}

static void blk_free_counted(cs_monitor_engine *e, blk *b)
{
    e->pending_events -= b->n;
    blk_free(b);
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
static void advance(cs_monitor_engine *e, netstate *ns, bool all)
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
            blk_free_counted(e, b);
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
        blk_free_counted(e, &ns->blocks[0]);
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

static void feed_evm(cs_monitor_engine *e, cs_event *ev)
{
    netstate *ns = net_get(e, ev->network);
    if (!ns)
        return;
    uint64_t num;
    if (strcmp(ev->type, CS_EVT_REORG) == 0) {
        /* blocks above the common ancestor were replaced; the new branch's
         * events follow */
        if (!field_u64(ev, CS_EVF_REORG_ANCESTOR, &num) || num == UINT64_MAX)
            return;
        num++;
        size_t keep = 0;
        for (size_t i = 0; i < ns->nblocks; i++) {
            if (ns->blocks[i].number >= num) {
                e->st.reorged++;
                blk_free_counted(e, &ns->blocks[i]);
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
        if (!field_u64(ev, CS_EVF_NUMBER, &num))
            return;
        for (size_t i = 0; i < ns->nblocks; i++)
            if (ns->blocks[i].number == num && ns->blocks[i].n)
                ns->blocks[i].complete = true;
        if (num > ns->head)
            ns->head = num;
        advance(e, ns, false);
        return;
    }
    if (!field_u64(ev, CS_EVF_BLOCK_NUMBER, &num)) {
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
        advance(e, ns, false);
}

/* ---- event monitors ------------------------------------------------------- */

static void event_doc(cs_monitor_engine *e, cs_monitor *m, const cs_event *ev,
                      const cs_window_hit *hit, const char *network, int64_t t, char *id,
                      size_t idcap)
{
    if (hit) {
        char g[CS_WINDOW_MAX_KEY + 1];
        snprintf(g, sizeof g, "%.*s", (int)hit->group_len, hit->group);
        snprintf(id, idcap, "%s/%s/%s/%lld", m->def.name, network, g, (long long)t);
    } else if (ev) {
        /* origin and seq name the event; its time too, as a publisher that
         * restarts counts from 1 again */
        snprintf(id, idcap, "%s/%s/%s/%llu/%lld", m->def.name, network, ev->origin,
                 (unsigned long long)ev->seq, (long long)ev->time_ns);
    }
    cs_vw *w = &e->doc;
    cs_vw_reset(w);
    cs_buf_consume(&e->tmp, e->tmp.len);
    cs_vw_object_begin(w);
    cs_vw_kv_str(w, "id", id);
    w_monitor(w, m, network);
    cs_vw_kv_i64(w, "time", t);
    cs_buf_printf(&e->tmp, "Match reason 1\nType: event\n");
    if (ev) {
        cs_vw_key(w, "event");
        cs_vw_object_begin(w);
        cs_vw_kv_u64(w, "seq", ev->seq);
        cs_vw_kv_i64(w, "time", ev->time_ns);
        cs_vw_kv_str(w, "origin", ev->origin);
        cs_vw_kv_str(w, "network", ev->network);
        cs_vw_kv_str(w, "type", ev->type);
        cs_vw_kv_str(w, "key", ev->key);
        cs_vw_key(w, "payload");
        cs_vw_raw(w, ev->payload.raw, ev->payload.raw_len);
        cs_vw_object_end(w);
        cs_buf_printf(&e->tmp, "Subject: %s\nKey: %s\n", ev->type, ev->key);
    }
    cs_vw_key(w, "matchReasons");
    cs_vw_array_begin(w);
    cs_vw_object_begin(w);
    cs_vw_kv_str(w, "type", hit ? "window" : "event");
    if (ev)
        cs_vw_kv_str(w, "subject", ev->type);
    if (m->def.condition) {
        cs_vw_kv_str(w, "condition", m->def.condition);
        cs_buf_printf(&e->tmp, "Condition: %s\n", m->def.condition);
    }
    cs_vw_object_end(w);
    cs_vw_array_end(w);
    if (hit) {
        static const char *kinds[] = {"count", "rate", "distinct", "stale"};
        cs_vw_key(w, "window");
        cs_vw_object_begin(w);
        cs_vw_kv_str(w, "kind", kinds[m->def.window.kind]);
        cs_vw_kv_strn(w, "group", hit->group, hit->group_len);
        cs_vw_kv_u64(w, "count", hit->count);
        cs_vw_kv_double(w, "rate", hit->rate);
        cs_vw_kv_i64(w, "since", hit->since_ns);
        cs_vw_kv_double(w, "seconds", (double)m->def.window.window_ns / 1e9);
        if (m->def.window.kind == CS_WINDOW_STALE)
            cs_vw_kv_u64(w, "threshold", 0);
        else
            cs_vw_kv_u64(w, "threshold", m->def.window.threshold);
        cs_vw_object_end(w);
        cs_buf_printf(&e->tmp, "Window: %s %.*s: %llu in %.0f s\n", kinds[m->def.window.kind],
                      (int)hit->group_len, hit->group, (unsigned long long)hit->count,
                      (double)m->def.window.window_ns / 1e9);
    }
    cs_vw_kv_strn(w, "matchReasonsFormatted", (const char *)e->tmp.data, e->tmp.len);
    cs_vw_object_end(w);
}

static bool subject_ok(const cs_monitor *m, const char *type, size_t tl)
{
    for (size_t j = 0; j < m->def.nsubjects; j++)
        if (cs_subject_match(m->def.subjects[j], strlen(m->def.subjects[j]), type, tl))
            return true;
    return false;
}

/* The cached list for a type, built on first sight; NULL when the cache is
 * full (the caller then tests every event monitor). */
static const tcache *type_monitors(cs_monitor_engine *e, const char *type, size_t tl)
{
    if (!e->types && !(e->types = calloc(TYPE_SLOTS, sizeof *e->types)))
        return NULL;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < tl; i++)
        h = (h ^ (uint8_t)type[i]) * 1099511628211ull;
    size_t at = h & (TYPE_SLOTS - 1);
    while (e->types[at].type) {
        if (strcmp(e->types[at].type, type) == 0)
            return &e->types[at];
        at = (at + 1) & (TYPE_SLOTS - 1);
    }
    if (e->ntypes >= TYPE_SLOTS * 3 / 4)
        return NULL;
    tcache *c = &e->types[at];
    c->mons = calloc(e->nevmons + 1, sizeof *c->mons);
    if (!c->mons || !(c->type = strdup(type))) {
        free(c->mons);
        c->mons = NULL;
        return NULL;
    }
    for (size_t i = 0; i < e->nevmons; i++)
        if (subject_ok(&e->mons[e->evmons[i]], type, tl))
            c->mons[c->n++] = e->evmons[i];
    e->ntypes++;
    return c;
}

static void feed_event_monitors(cs_monitor_engine *e, cs_event *ev)
{
    size_t tl = strlen(ev->type);
    const tcache *tc = type_monitors(e, ev->type, tl);
    size_t n = tc ? tc->n : e->nevmons;
    for (size_t i = 0; i < n; i++) {
        cs_monitor *m = &e->mons[tc ? tc->mons[i] : e->evmons[i]];
        if (m->def.paused || !net_ok(m, ev->network))
            continue;
        if ((!tc && !subject_ok(m, ev->type, tl)) || !test_cond(m, m->cond, ev))
            continue;
        char id[512];
        if (m->win) {
            cs_window_hit hit;
            int rc = cs_window_feed(m->win, ev, ev->time_ns, &hit);
            if (rc < 0)
                m->st.errors++;
            if (rc != 1)
                continue;
            event_doc(e, m, ev, &hit, ev->network, ev->time_ns, id, sizeof id);
        } else {
            event_doc(e, m, ev, NULL, ev->network, ev->time_ns, id, sizeof id);
        }
        deliver(m, id, ev->network, ev->time_ns, ev);
        if (m->fn)
            flush_filter(m);
    }
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
        feed_evm(e, ev);
    if (e->nevmons)
        feed_event_monitors(e, ev);
}

static void sub_cb(cs_sub *sub, cs_event *ev, void *arg)
{
    (void)sub;
    cs_monitor_engine_feed(arg, ev);
}

void cs_monitor_engine_flush(cs_monitor_engine *e)
{
    for (size_t i = 0; i < e->nnets; i++)
        advance(e, &e->nets[i], true);
    for (size_t i = 0; i < e->n; i++)
        if (e->mons[i].fn)
            flush_filter(&e->mons[i]);
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
    event_doc(c->e, m, NULL, hit, network, c->now, id, sizeof id);
    deliver(m, id, network, c->now, NULL);
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
            flush_filter(m);
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
