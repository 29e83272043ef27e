/* Decoders of Bitcoin Core's RPC answers (see bitcoind_int.h). The
 * shapes are those of Core's RPC help (src/rpc/net.cpp, blockchain.cpp,
 * mempool.cpp, node.cpp), versions 27 to 29; each reader takes what is
 * there and skips what is not, so older and newer nodes still decode. */
#include "btc/bitcoind_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "btc/wire.h"
#include "core/error.h"

const char *const cs_btcd_net_names[CS_BTCD_MAX_NETS] = {
    "ipv4", "ipv6", "onion", "i2p", "cjdns", "internal", "not_publicly_routable", "other"};

static int net_index(const cs_jsonr *j, uint32_t t)
{
    for (int i = 0; i < CS_BTCD_MAX_NETS - 1; i++)
        if (cs_jsonr_eq(j, t, cs_btcd_net_names[i]))
            return i;
    return CS_BTCD_MAX_NETS - 1;
}

/* A JSON integer (possibly negative) into *v. */
static int num_i64(const cs_jsonr *j, uint32_t t, int64_t *v)
{
    const cs_jtok *k = cs_jsonr_at(j, t);
    if (k->type != CS_JT_NUM || k->len == 0 || k->len > 20)
        return CS_ETYPE;
    char b[24];
    memcpy(b, cs_jsonr_ptr(j, t), k->len);
    b[k->len] = 0;
    char *end;
    long long x = strtoll(b, &end, 10);
    if (*end)
        return CS_ETYPE;
    *v = (int64_t)x;
    return 0;
}

static bool is_uint(const cs_jsonr *j, uint32_t t)
{
    uint64_t v;
    return cs_jsonr_u64(j, t, &v) == 0 && cs_jsonr_at(j, t)->type == CS_JT_NUM;
}

int cs_btcd_copy_fields(const cs_jsonr *j, uint32_t obj, const cs_field_def *fields, cs_vw *w)
{
    if (cs_jsonr_at(j, obj)->type != CS_JT_OBJ)
        return -1;
    int n = 0;
    for (const cs_field_def *f = fields; f->name; f++) {
        if (!strcmp(f->name, "node") || strchr(f->name, '.') || strchr(f->name, '['))
            continue;
        uint32_t t = cs_jsonr_get(j, obj, f->name);
        if (!t)
            continue;
        uint8_t jt = cs_jsonr_at(j, t)->type;
        const char *ty = f->type;
        int64_t iv;
        double dv;
        bool fits = !strcmp(ty, "any") || (!strcmp(ty, "u64") && is_uint(j, t)) ||
                    (!strcmp(ty, "i64") && num_i64(j, t, &iv) == 0) ||
                    (!strcmp(ty, "string") && jt == CS_JT_STR) ||
                    (!strcmp(ty, "bool") && (jt == CS_JT_TRUE || jt == CS_JT_FALSE)) ||
                    (!strcmp(ty, "object") && jt == CS_JT_OBJ) ||
                    (!strcmp(ty, "array") && jt == CS_JT_ARR);
        if (!strcmp(ty, "double")) {
            if (cs_jsonr_double(j, t, &dv))
                continue;
            cs_vw_kv_double(w, f->name, dv);
            n++;
            continue;
        }
        if (!fits)
            continue;
        cs_vw_key(w, f->name);
        if (cs_jsonr_value(j, t, w))
            return -1;
        n++;
    }
    return n;
}

static uint64_t u64_at(const cs_jsonr *j, uint32_t obj, const char *key)
{
    uint64_t v = 0;
    uint32_t t = cs_jsonr_get(j, obj, key);
    if (t && cs_jsonr_u64(j, t, &v))
        v = 0;
    return v;
}

static double dbl_at(const cs_jsonr *j, uint32_t obj, const char *key)
{
    double v;
    uint32_t t = cs_jsonr_get(j, obj, key);
    return t && cs_jsonr_double(j, t, &v) == 0 ? v : -1;
}

/* The IP of "1.2.3.4:8333" or "[2001:db8::1]:8333"; false for names
 * (onion, i2p) and anything else. */
static bool addr_ip(const char *addr, uint8_t ip[16])
{
    char host[64];
    const char *end;
    if (addr[0] == '[') {
        addr++;
        end = strchr(addr, ']');
    } else {
        end = strrchr(addr, ':');
        if (end && memchr(addr, ':', (size_t)(end - addr)))
            end = NULL; /* a bare IPv6 without a port */
        if (!end)
            end = addr + strlen(addr);
    }
    if (!end || (size_t)(end - addr) >= sizeof host)
        return false;
    memcpy(host, addr, (size_t)(end - addr));
    host[end - addr] = 0;
    return cs_wire_ip_parse(host, ip) == 0;
}

static int by_id(const void *a, const void *b)
{
    int64_t x = ((const cs_btcd_peer *)a)->id, y = ((const cs_btcd_peer *)b)->id;
    return (x > y) - (x < y);
}

int cs_btcd_peers_parse(const cs_jsonr *j, uint32_t arr, cs_btcd_peer **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (cs_jsonr_at(j, arr)->type != CS_JT_ARR)
        return CS_EPROTO;
    size_t cap = cs_jsonr_at(j, arr)->len;
    cs_btcd_peer *v = calloc(cap ? cap : 1, sizeof *v);
    if (!v)
        return CS_ENOMEM;
    size_t k = 0;
    for (uint32_t it = cs_jsonr_first(j, arr); it; it = cs_jsonr_next_item(j, arr, it)) {
        uint32_t t = cs_jsonr_get(j, it, "id");
        cs_btcd_peer *p = &v[k];
        memset(p, 0, sizeof *p);
        if (!t || num_i64(j, t, &p->id))
            continue;
        cs_jsonr_copy(j, cs_jsonr_get(j, it, "addr"), p->addr, sizeof p->addr);
        cs_jsonr_copy(j, cs_jsonr_get(j, it, "network"), p->network, sizeof p->network);
        cs_jsonr_copy(j, cs_jsonr_get(j, it, "connection_type"), p->conntype, sizeof p->conntype);
        cs_jsonr_copy(j, cs_jsonr_get(j, it, "transport_protocol_type"), p->transport,
                      sizeof p->transport);
        cs_jsonr_copy(j, cs_jsonr_get(j, it, "subver"), p->subver, sizeof p->subver);
        cs_jsonr_copy(j, cs_jsonr_get(j, it, "services"), p->services, sizeof p->services);
        p->inbound = (t = cs_jsonr_get(j, it, "inbound")) && cs_jsonr_at(j, t)->type == CS_JT_TRUE;
        if (!(t = cs_jsonr_get(j, it, "version")) || num_i64(j, t, &p->version))
            p->version = 0;
        if (!(t = cs_jsonr_get(j, it, "startingheight")) || num_i64(j, t, &p->startingheight))
            p->startingheight = -1;
        p->pingtime = dbl_at(j, it, "pingtime");
        p->minping = dbl_at(j, it, "minping");
        p->conntime = u64_at(j, it, "conntime");
        p->bytessent = u64_at(j, it, "bytessent");
        p->bytesrecv = u64_at(j, it, "bytesrecv");
        if (!p->conntype[0])
            snprintf(p->conntype, sizeof p->conntype, "%s", p->inbound ? "inbound" : "outbound");
        p->has_ip = addr_ip(p->addr, p->ip);
        k++;
    }
    qsort(v, k, sizeof *v, by_id);
    *out = v;
    *n = k;
    return 0;
}

int cs_btcd_addrman_init(cs_btcd_addrman *a)
{
    memset(a, 0, sizeof *a);
    a->new_slots = calloc(CS_BTCD_NEW_SLOTS, sizeof *a->new_slots);
    a->tried_slots = calloc(CS_BTCD_TRIED_SLOTS, sizeof *a->tried_slots);
    if (!a->new_slots || !a->tried_slots) {
        cs_btcd_addrman_free(a);
        return CS_ENOMEM;
    }
    return 0;
}

void cs_btcd_addrman_free(cs_btcd_addrman *a)
{
    free(a->new_slots);
    free(a->tried_slots);
    a->new_slots = a->tried_slots = NULL;
}

/* FNV-1a over the address and the port: what identifies an entry. */
static uint64_t entry_digest(const cs_jsonr *j, uint32_t addr, uint64_t port)
{
    uint64_t h = 1469598103934665603ull;
    const cs_jtok *k = cs_jsonr_at(j, addr);
    const unsigned char *p = (const unsigned char *)cs_jsonr_ptr(j, addr);
    for (uint32_t i = 0; i < k->len; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    h = (h ^ port) * 1099511628211ull;
    return h ? h : 1;
}

/* "bucket/position" into a slot index below nbuckets * 64, or -1. */
static long slot_of(const cs_jsonr *j, uint32_t key, unsigned nbuckets)
{
    const cs_jtok *k = cs_jsonr_at(j, key);
    const char *p = cs_jsonr_ptr(j, key), *e = p + k->len;
    unsigned long b = 0, pos = 0;
    const char *s = p;
    while (s < e && *s >= '0' && *s <= '9' && b < 100000)
        b = b * 10 + (unsigned long)(*s++ - '0');
    if (s == p || s >= e || *s != '/')
        return -1;
    const char *q = ++s;
    while (s < e && *s >= '0' && *s <= '9' && pos < 100000)
        pos = pos * 10 + (unsigned long)(*s++ - '0');
    if (s == q || s != e || b >= nbuckets || pos >= 64)
        return -1;
    return (long)(b * 64 + pos);
}

static void read_table(const cs_jsonr *j, uint32_t tab, bool tried, cs_btcd_addrman *a)
{
    if (!tab || cs_jsonr_at(j, tab)->type != CS_JT_OBJ)
        return;
    uint64_t *slots = tried ? a->tried_slots : a->new_slots;
    unsigned nb = tried ? 256 : 1024;
    for (uint32_t k = cs_jsonr_first(j, tab); k; k = cs_jsonr_next_key(j, tab, k)) {
        long s = slot_of(j, k, nb);
        uint32_t e = k + 1, ad, nt;
        if (s < 0 || !(ad = cs_jsonr_get(j, e, "address")) ||
            cs_jsonr_at(j, ad)->type != CS_JT_STR || slots[s]) {
            a->bad++;
            continue;
        }
        slots[s] = entry_digest(j, ad, u64_at(j, e, "port"));
        if (tried)
            a->ntried++;
        else
            a->nnew++;
        int ni = (nt = cs_jsonr_get(j, e, "network")) ? net_index(j, nt) : CS_BTCD_MAX_NETS - 1;
        a->by_net[tried][ni]++;
    }
}

int cs_btcd_addrman_parse(const cs_jsonr *j, uint32_t obj, cs_btcd_addrman *a)
{
    if (cs_jsonr_at(j, obj)->type != CS_JT_OBJ)
        return CS_EPROTO;
    memset(a->new_slots, 0, CS_BTCD_NEW_SLOTS * sizeof *a->new_slots);
    memset(a->tried_slots, 0, CS_BTCD_TRIED_SLOTS * sizeof *a->tried_slots);
    a->nnew = a->ntried = a->bad = 0;
    memset(a->by_net, 0, sizeof a->by_net);
    read_table(j, cs_jsonr_get(j, obj, "new"), false, a);
    read_table(j, cs_jsonr_get(j, obj, "tried"), true, a);
    return 0;
}

static void compare(const uint64_t *o, const uint64_t *c, size_t n, uint64_t *gained,
                    uint64_t *replaced, uint64_t *removed)
{
    for (size_t i = 0; i < n; i++) {
        if (o[i] == c[i])
            continue;
        if (!o[i])
            ++*gained;
        else if (!c[i])
            ++*removed;
        else
            ++*replaced;
    }
}

void cs_btcd_addrman_compare(const cs_btcd_addrman *old, const cs_btcd_addrman *cur,
                             cs_btcd_addrman_diff *d)
{
    memset(d, 0, sizeof *d);
    compare(old->new_slots, cur->new_slots, CS_BTCD_NEW_SLOTS, &d->new_gained, &d->new_replaced,
            &d->new_removed);
    compare(old->tried_slots, cur->tried_slots, CS_BTCD_TRIED_SLOTS, &d->tried_gained,
            &d->tried_replaced, &d->tried_removed);
}

int cs_btcd_tips_parse(const cs_jsonr *j, uint32_t arr, cs_btcd_tip **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (cs_jsonr_at(j, arr)->type != CS_JT_ARR)
        return CS_EPROTO;
    size_t cap = cs_jsonr_at(j, arr)->len;
    if (cap > CS_BTCD_MAX_TIPS)
        cap = CS_BTCD_MAX_TIPS;
    cs_btcd_tip *v = calloc(cap ? cap : 1, sizeof *v);
    if (!v)
        return CS_ENOMEM;
    size_t k = 0;
    for (uint32_t it = cs_jsonr_first(j, arr); it && k < cap; it = cs_jsonr_next_item(j, arr, it)) {
        cs_btcd_tip *t = &v[k];
        uint32_t h = cs_jsonr_get(j, it, "height"), x = cs_jsonr_get(j, it, "hash");
        if (!h || !x || cs_jsonr_u64(j, h, &t->height) || cs_jsonr_at(j, x)->type != CS_JT_STR ||
            cs_jsonr_at(j, x)->len != 64)
            continue;
        cs_jsonr_copy(j, x, t->hash, sizeof t->hash);
        t->branchlen = u64_at(j, it, "branchlen");
        cs_jsonr_copy(j, cs_jsonr_get(j, it, "status"), t->status, sizeof t->status);
        k++;
    }
    *out = v;
    *n = k;
    return 0;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

int cs_btcd_orphans_parse(const cs_jsonr *j, uint32_t arr, cs_btcd_orphans *o)
{
    memset(o, 0, sizeof *o);
    if (cs_jsonr_at(j, arr)->type != CS_JT_ARR)
        return CS_EPROTO;
    int64_t from[512];
    size_t nfrom = 0;
    for (uint32_t it = cs_jsonr_first(j, arr); it; it = cs_jsonr_next_item(j, arr, it)) {
        o->count++;
        if (cs_jsonr_at(j, it)->type != CS_JT_OBJ)
            continue; /* verbosity 0: txids only */
        o->bytes += u64_at(j, it, "bytes");
        o->vsize += u64_at(j, it, "vsize");
        uint32_t fr = cs_jsonr_get(j, it, "from");
        if (!fr || cs_jsonr_at(j, fr)->type != CS_JT_ARR)
            continue;
        for (uint32_t p = cs_jsonr_first(j, fr); p; p = cs_jsonr_next_item(j, fr, p))
            if (nfrom < sizeof from / sizeof *from && num_i64(j, p, &from[nfrom]) == 0)
                nfrom++;
    }
    if (nfrom > 1)
        qsort(from, nfrom, sizeof *from, cmp_i64);
    for (size_t i = 0; i < nfrom; i++)
        if (i == 0 || from[i] != from[i - 1])
            o->peers++;
    return 0;
}

int cs_btcd_header_parse(const cs_jsonr *j, uint32_t obj, char hash[65], uint64_t *height,
                         char prev[65])
{
    uint32_t h, x;
    if (cs_jsonr_at(j, obj)->type != CS_JT_OBJ || !(x = cs_jsonr_get(j, obj, "hash")) ||
        cs_jsonr_at(j, x)->type != CS_JT_STR || cs_jsonr_at(j, x)->len != 64 ||
        !(h = cs_jsonr_get(j, obj, "height")) || cs_jsonr_u64(j, h, height))
        return CS_EPROTO;
    cs_jsonr_copy(j, x, hash, 65);
    cs_jsonr_copy(j, cs_jsonr_get(j, obj, "previousblockhash"), prev, 65);
    if (prev[0] && strlen(prev) != 64)
        return CS_EPROTO;
    return 0;
}
