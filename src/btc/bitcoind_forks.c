/* The fork watch: one header tree per network, fed by the chain tips of
 * every node of that network (see bitcoind_int.h). The best tip is the
 * highest active tip of any node (the first seen wins a tie); a node whose
 * tip is not on the best chain while the best chain is longer has an
 * outrun (stale) tip; a node whose new tip does not descend from its old
 * one has reorganised. Headers link to their parents lazily, by hash, so
 * they may arrive in any order; a walk that meets a header whose parent is
 * unknown gives up rather than guess. */
#include "btc/bitcoind_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/json.h"

#define MAX_INVALID 16
/* getchaintips lists every fork the node ever saw; those more than a day
 * of blocks below its tip are history, not news. */
#define RECENT_BLOCKS 144

typedef struct hdr {
    char hash[65];
    char prev[65];
    uint64_t height;
    int32_t parent; /* -1: not linked (yet) */
    bool stale_sent;
} hdr;

typedef struct fnode {
    int32_t tip;
    uint64_t since_ms;
    bool has, lagging, unreachable, stuck;
    char invalid[MAX_INVALID][65];
    size_t ninv;
} fnode;

struct cs_forks {
    cs_forks_opts o;
    char network[64];
    hdr *h;
    size_t n, cap;
    int32_t *map; /* open addressing, -1 empty */
    size_t mapcap;
    fnode *nodes;
    int32_t best;
};

static uint64_t hash_of(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static int32_t find(const cs_forks *f, const char *hash)
{
    if (!hash || !hash[0])
        return -1;
    size_t m = f->mapcap - 1;
    for (size_t i = hash_of(hash) & m;; i = (i + 1) & m) {
        int32_t k = f->map[i];
        if (k < 0)
            return -1;
        if (!strcmp(f->h[k].hash, hash))
            return k;
    }
}

static void map_put(cs_forks *f, int32_t k)
{
    size_t m = f->mapcap - 1;
    size_t i = hash_of(f->h[k].hash) & m;
    while (f->map[i] >= 0)
        i = (i + 1) & m;
    f->map[i] = k;
}

static int map_build(cs_forks *f, size_t cap)
{
    int32_t *nm = malloc(cap * sizeof *nm);
    if (!nm)
        return CS_ENOMEM;
    memset(nm, 0xff, cap * sizeof *nm);
    free(f->map);
    f->map = nm;
    f->mapcap = cap;
    for (size_t k = 0; k < f->n; k++)
        map_put(f, (int32_t)k);
    return 0;
}

int cs_forks_new(const cs_forks_opts *o, cs_forks **out)
{
    cs_forks *f = calloc(1, sizeof *f);
    if (!f)
        return CS_ENOMEM;
    f->o = *o;
    if (f->o.max_headers < 16)
        f->o.max_headers = 16;
    if (!f->o.lag_blocks)
        f->o.lag_blocks = 1;
    snprintf(f->network, sizeof f->network, "%s", o->network ? o->network : "");
    f->best = -1;
    f->nodes = calloc(o->nnodes ? o->nnodes : 1, sizeof *f->nodes);
    if (!f->nodes || map_build(f, 1024)) {
        cs_forks_free(f);
        return CS_ENOMEM;
    }
    for (size_t i = 0; i < o->nnodes; i++)
        f->nodes[i].tip = -1;
    *out = f;
    return 0;
}

void cs_forks_free(cs_forks *f)
{
    if (!f)
        return;
    free(f->h);
    free(f->map);
    free(f->nodes);
    free(f);
}

static int32_t parent(cs_forks *f, int32_t i)
{
    hdr *x = &f->h[i];
    if (x->parent < 0 && x->prev[0])
        x->parent = find(f, x->prev);
    return x->parent;
}

/* Keeps the headers at most `keep` below the best tip (and every node's
 * tip). */
static int prune_below(cs_forks *f, uint64_t keep, bool tips_only)
{
    uint64_t best = f->best >= 0 ? f->h[f->best].height : 0;
    uint64_t floor = best > keep ? best - keep : 0;
    int32_t *remap = malloc(f->n * sizeof *remap);
    if (!remap)
        return CS_ENOMEM;
    bool *tip = calloc(f->n, sizeof *tip);
    if (!tip) {
        free(remap);
        return CS_ENOMEM;
    }
    for (size_t i = 0; i < f->o.nnodes; i++)
        if (f->nodes[i].tip >= 0)
            tip[f->nodes[i].tip] = true;
    size_t k = 0;
    for (size_t i = 0; i < f->n; i++) {
        if ((f->h[i].height >= floor && !tips_only) || tip[i] || (int32_t)i == f->best) {
            remap[i] = (int32_t)k;
            f->h[k] = f->h[i];
            f->h[k++].parent = -1;
        } else {
            remap[i] = -1;
        }
    }
    free(tip);
    f->n = k;
    if (f->best >= 0)
        f->best = remap[f->best];
    for (size_t i = 0; i < f->o.nnodes; i++)
        if (f->nodes[i].tip >= 0)
            f->nodes[i].tip = remap[f->nodes[i].tip];
    free(remap);
    return map_build(f, f->mapcap);
}

/* Keeps about the newer half of the tree: heights within max_headers / 2
 * of the best tip, fewer while that is still too many (many branches at
 * the same heights), at last only the tips; node tips always stay. */
static int prune(cs_forks *f)
{
    int rc = 0;
    for (uint64_t keep = f->o.max_headers / 2; rc == 0; keep /= 2) {
        rc = prune_below(f, keep, false);
        if (f->n < f->o.max_headers)
            return rc;
        if (keep == 0)
            break;
    }
    /* still full (headers above the best tip): only the tips stay */
    return rc ? rc : prune_below(f, 0, true);
}

int cs_forks_add(cs_forks *f, const char *hash, uint64_t height, const char *prev)
{
    if (!hash || strlen(hash) != 64)
        return CS_EINVAL;
    if (find(f, hash) >= 0)
        return 0;
    int rc;
    if (f->n >= f->o.max_headers && (rc = prune(f)))
        return rc;
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 256;
        hdr *nh = realloc(f->h, cap * sizeof *nh);
        if (!nh)
            return CS_ENOMEM;
        f->h = nh;
        f->cap = cap;
    }
    hdr *x = &f->h[f->n];
    memset(x, 0, sizeof *x);
    memcpy(x->hash, hash, 65);
    if (prev && strlen(prev) == 64)
        memcpy(x->prev, prev, 65);
    x->height = height;
    x->parent = -1;
    f->n++;
    if (f->n * 2 > f->mapcap)
        return map_build(f, f->mapcap * 2);
    map_put(f, (int32_t)(f->n - 1));
    return 0;
}

bool cs_forks_known(const cs_forks *f, const char *hash)
{
    return find(f, hash) >= 0;
}

const char *cs_forks_missing_parent(const cs_forks *f, const char *hash)
{
    int32_t i = find(f, hash);
    if (i < 0 || !f->h[i].prev[0] || find(f, f->h[i].prev) >= 0)
        return "";
    return f->h[i].prev;
}

bool cs_forks_has_tip(const cs_forks *f, size_t node)
{
    return node < f->o.nnodes && f->nodes[node].has;
}

/* Is a an ancestor of (or equal to) d? false when the walk meets a gap. */
static bool is_ancestor(cs_forks *f, int32_t a, int32_t d)
{
    uint64_t ha = f->h[a].height;
    while (d >= 0 && f->h[d].height > ha)
        d = parent(f, d);
    return d == a;
}

/* The last header two branches share, or -1 when the tree cannot tell. */
static int32_t common(cs_forks *f, int32_t a, int32_t b)
{
    while (a >= 0 && b >= 0 && a != b) {
        if (f->h[a].height >= f->h[b].height)
            a = parent(f, a);
        else
            b = parent(f, b);
    }
    return a >= 0 && a == b ? a : -1;
}

static void emit(cs_forks *f, cs_forks_event *ev)
{
    if (f->o.emit)
        f->o.emit(ev, f->o.arg);
}

static void check_best(cs_forks *f, size_t who)
{
    int32_t best = f->best;
    size_t holder = who;
    for (size_t i = 0; i < f->o.nnodes; i++) {
        fnode *nd = &f->nodes[i];
        if (!nd->has || nd->tip < 0)
            continue;
        if (best < 0 || f->h[nd->tip].height > f->h[best].height) {
            best = nd->tip;
            holder = i;
        }
    }
    if (best < 0 || best == f->best)
        return;
    const char *prev = f->best >= 0 ? f->h[f->best].hash : NULL;
    char pbuf[65] = "";
    if (prev)
        memcpy(pbuf, prev, 65);
    f->best = best;
    cs_forks_event ev = {.type = "chain.tip",
                         .node = holder,
                         .height = f->h[best].height,
                         .hash = f->h[best].hash,
                         .previous = prev ? pbuf : NULL};
    emit(f, &ev);
}

/* Tips left behind by a longer best chain, and lagging nodes. */
static void check_nodes(cs_forks *f)
{
    if (f->best < 0)
        return;
    const hdr *b = &f->h[f->best];
    for (size_t i = 0; i < f->o.nnodes; i++) {
        fnode *nd = &f->nodes[i];
        if (!nd->has || nd->tip < 0)
            continue;
        hdr *t = &f->h[nd->tip];
        if (nd->tip != f->best && t->height < b->height && !t->stale_sent &&
            !is_ancestor(f, nd->tip, f->best) && common(f, nd->tip, f->best) >= 0) {
            t->stale_sent = true;
            cs_forks_event ev = {.type = "chain.stale",
                                 .node = i,
                                 .height = t->height,
                                 .hash = t->hash,
                                 .status = "outrun"};
            emit(f, &ev);
        }
        uint64_t behind = b->height > t->height ? b->height - t->height : 0;
        if (behind >= f->o.lag_blocks && !nd->lagging) {
            nd->lagging = true;
            cs_forks_event ev = {.type = "chain.lagging",
                                 .node = i,
                                 .height = t->height,
                                 .best_height = b->height,
                                 .behind = behind};
            emit(f, &ev);
        } else if (behind < f->o.lag_blocks) {
            nd->lagging = false;
        }
    }
}

static void side_tip(cs_forks *f, size_t node, const cs_btcd_tip *t, uint64_t active_height)
{
    fnode *nd = &f->nodes[node];
    if (t->height + RECENT_BLOCKS < active_height)
        return;
    if (!strcmp(t->status, "invalid")) {
        for (size_t k = 0; k < nd->ninv; k++)
            if (!strcmp(nd->invalid[k], t->hash))
                return;
        memmove(nd->invalid[1], nd->invalid[0],
                (MAX_INVALID - 1) * sizeof nd->invalid[0]); /* newest first */
        memcpy(nd->invalid[0], t->hash, 65);
        if (nd->ninv < MAX_INVALID)
            nd->ninv++;
        cs_forks_event ev = {
            .type = "chain.invalid", .node = node, .height = t->height, .hash = t->hash};
        emit(f, &ev);
        return;
    }
    if (t->branchlen == 0)
        return;
    if (cs_forks_add(f, t->hash, t->height, NULL))
        return;
    hdr *x = &f->h[find(f, t->hash)];
    if (x->stale_sent)
        return;
    x->stale_sent = true;
    cs_forks_event ev = {.type = "chain.stale",
                         .node = node,
                         .height = t->height,
                         .hash = t->hash,
                         .status = t->status};
    emit(f, &ev);
}

void cs_forks_tips(cs_forks *f, size_t node, const cs_btcd_tip *tips, size_t n, uint64_t now_ms)
{
    if (node >= f->o.nnodes)
        return;
    const cs_btcd_tip *active = NULL;
    for (size_t i = 0; i < n && !active; i++)
        if (!strcmp(tips[i].status, "active"))
            active = &tips[i];
    if (!active)
        return;
    fnode *nd = &f->nodes[node];
    nd->unreachable = false;
    if (cs_forks_add(f, active->hash, active->height, NULL))
        return;
    int32_t idx = find(f, active->hash);
    if (nd->has && nd->tip >= 0 && nd->tip != idx) {
        if (!is_ancestor(f, nd->tip, idx)) {
            int32_t c = common(f, nd->tip, idx);
            if (c >= 0) {
                const hdr *o = &f->h[nd->tip];
                cs_forks_event ev = {.type = "chain.reorg",
                                     .node = node,
                                     .depth = o->height - f->h[c].height,
                                     .fork_height = f->h[c].height,
                                     .old_tip = o->hash,
                                     .new_tip = active->hash,
                                     .old_height = o->height,
                                     .height = active->height};
                emit(f, &ev);
            }
        }
        nd->since_ms = now_ms;
        nd->stuck = false;
    } else if (!nd->has) {
        nd->since_ms = now_ms;
    }
    nd->tip = idx;
    nd->has = true;
    for (size_t i = 0; i < n; i++)
        if (&tips[i] != active)
            side_tip(f, node, &tips[i], active->height);
    check_best(f, node);
    check_nodes(f);
}

void cs_forks_unreachable(cs_forks *f, size_t node, const char *error)
{
    if (node >= f->o.nnodes || f->nodes[node].unreachable)
        return;
    f->nodes[node].unreachable = true;
    cs_forks_event ev = {.type = "chain.unreachable", .node = node, .error = error};
    emit(f, &ev);
}

void cs_forks_sweep(cs_forks *f, uint64_t now_ms)
{
    for (size_t i = 0; i < f->o.nnodes; i++) {
        fnode *nd = &f->nodes[i];
        if (!nd->has || nd->stuck || nd->unreachable || nd->tip < 0 ||
            now_ms < nd->since_ms + f->o.stale_after_ms)
            continue;
        nd->stuck = true;
        const hdr *t = &f->h[nd->tip];
        cs_forks_event ev = {.type = "chain.stuck",
                             .node = i,
                             .height = t->height,
                             .hash = t->hash,
                             .seconds = (now_ms - nd->since_ms) / 1000};
        emit(f, &ev);
    }
}

size_t cs_forks_size(const cs_forks *f)
{
    return f->n;
}

uint64_t cs_forks_best_height(const cs_forks *f)
{
    return f->best >= 0 ? f->h[f->best].height : 0;
}

uint64_t cs_forks_node_height(const cs_forks *f, size_t node)
{
    return node < f->o.nnodes && f->nodes[node].tip >= 0 ? f->h[f->nodes[node].tip].height : 0;
}

static int json_str(cs_buf *b, const char *s)
{
    return cs_json_string(b, s, strlen(s));
}

static int cmp_height(const void *a, const void *b, void *arg)
{
    const hdr *h = arg;
    uint64_t x = h[*(const int32_t *)a].height, y = h[*(const int32_t *)b].height;
    return (x > y) - (x < y);
}

static const char *node_state(const cs_forks *f, const fnode *nd)
{
    if (nd->unreachable)
        return "unreachable";
    if (nd->stuck)
        return "stuck";
    if (nd->lagging)
        return "lagging";
    if (f->best >= 0 && nd->tip >= 0 && nd->tip != f->best &&
        f->h[nd->tip].height >= f->h[f->best].height)
        return "fork";
    return "ok";
}

int cs_forks_json(const cs_forks *f, uint64_t depth, cs_buf *b)
{
    cs_forks *m = (cs_forks *)f; /* parent links are resolved lazily */
    int rc = cs_buf_append_str(b, "{\"network\":");
    rc = rc ? rc : json_str(b, f->network);
    uint64_t bh = cs_forks_best_height(f);
    if (f->best >= 0) {
        rc = rc ? rc
                : cs_buf_printf(b, ",\"best\":{\"height\":%llu,\"hash\":\"%s\"}",
                                (unsigned long long)bh, f->h[f->best].hash);
    } else {
        rc = rc ? rc : cs_buf_append_str(b, ",\"best\":null");
    }
    rc = rc ? rc : cs_buf_append_str(b, ",\"nodes\":[");
    for (size_t i = 0; rc == 0 && i < f->o.nnodes; i++) {
        const fnode *nd = &f->nodes[i];
        rc = cs_buf_append_str(b, i ? ",{\"node\":" : "{\"node\":");
        rc = rc ? rc : json_str(b, f->o.nodes[i]);
        if (rc == 0 && nd->tip >= 0) {
            const hdr *t = &f->h[nd->tip];
            rc = cs_buf_printf(b, ",\"height\":%llu,\"hash\":\"%s\",\"behind\":%llu",
                               (unsigned long long)t->height, t->hash,
                               (unsigned long long)(bh > t->height ? bh - t->height : 0));
        }
        rc = rc ? rc
                : cs_buf_printf(b, ",\"state\":\"%s\"}", nd->has ? node_state(f, nd) : "unknown");
    }
    rc = rc ? rc : cs_buf_append_str(b, "],\"headers\":[");
    int32_t *sel = malloc((f->n ? f->n : 1) * sizeof *sel);
    if (!sel)
        return CS_ENOMEM;
    size_t ns = 0;
    for (size_t i = 0; i < f->n; i++)
        if (f->h[i].height + depth >= bh)
            sel[ns++] = (int32_t)i;
    qsort_r(sel, ns, sizeof *sel, cmp_height, f->h);
    bool *best = calloc(f->n ? f->n : 1, sizeof *best); /* on the best chain */
    if (!best) {
        free(sel);
        return CS_ENOMEM;
    }
    for (int32_t i = f->best; i >= 0 && f->h[i].height + depth >= bh; i = parent(m, i))
        best[i] = true;
    for (size_t k = 0; rc == 0 && k < ns; k++) {
        int32_t i = sel[k];
        const hdr *x = &f->h[i];
        int32_t p = parent(m, i);
        bool on_best = best[i];
        rc = cs_buf_printf(b, "%s{\"height\":%llu,\"hash\":\"%s\",\"prev\":", k ? "," : "",
                           (unsigned long long)x->height, x->hash);
        if (rc == 0)
            rc = p >= 0 || x->prev[0] ? cs_buf_printf(b, "\"%s\"", x->prev)
                                      : cs_buf_append_str(b, "null");
        rc = rc ? rc
                : cs_buf_printf(b, ",\"best_chain\":%s,\"tip_of\":[", on_best ? "true" : "false");
        bool first = true;
        for (size_t n = 0; rc == 0 && n < f->o.nnodes; n++)
            if (f->nodes[n].tip == i) {
                rc = first ? 0 : cs_buf_putc(b, ',');
                rc = rc ? rc : json_str(b, f->o.nodes[n]);
                first = false;
            }
        rc = rc ? rc : cs_buf_append_str(b, "]}");
    }
    free(sel);
    free(best);
    return rc ? rc : cs_buf_append_str(b, "]}");
}
