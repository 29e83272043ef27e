/* The debug.log line parser: Core's prefixes (time, thread, source
 * location, category) and the matcher of the kinds table (btclog_kinds.c).
 * Pure functions over bytes; the fuzz target drives them. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "btc/btclog_int.h"
#include "btc/wire_int.h"
#include "core/date.h"
#include "core/value.h"

/* ---- prefixes ---------------------------------------------------------- */

static bool digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

static int num(const char *s, size_t n)
{
    int v = 0;
    for (size_t i = 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    return v;
}

/* The length of a timestamp at s ("YYYY-MM-DDThh:mm:ssZ", or with
 * ".ffffff" before the Z: -logtimemicros), 0 if there is none; *us gets
 * its time. */
static size_t timestamp(const char *s, size_t n, int64_t *us)
{
    /* lines of one minute share "YYYY-MM-DDThh:mm": its seconds are kept */
    static _Thread_local char last[16];
    static _Thread_local int64_t last_s = -1;
    if (n < 20)
        return 0;
    int64_t base;
    if (last_s >= 0 && memcmp(s, last, 16) == 0) {
        base = last_s;
    } else {
        if (!digits(s, 4) || s[4] != '-' || !digits(s + 5, 2) || s[7] != '-' || !digits(s + 8, 2) ||
            s[10] != 'T' || !digits(s + 11, 2) || s[13] != ':' || !digits(s + 14, 2))
            return 0;
        int mo = num(s + 5, 2), d = num(s + 8, 2);
        if (mo < 1 || mo > 12 || d < 1 || d > 31)
            return 0;
        base = cs_days_from_civil(num(s, 4), mo, d) * 86400 + num(s + 11, 2) * 3600 +
               num(s + 14, 2) * 60;
        memcpy(last, s, 16);
        last_s = base;
    }
    if (s[16] != ':' || !digits(s + 17, 2))
        return 0;
    size_t i = 19;
    int64_t frac = 0;
    if (s[i] == '.') {
        size_t j = i + 1;
        while (j < n && j - i <= 6 && s[j] >= '0' && s[j] <= '9')
            frac = frac * 10 + (s[j++] - '0');
        for (size_t k = j - i - 1; k < 6; k++)
            frac *= 10;
        i = j;
    }
    if (i >= n || s[i] != 'Z')
        return 0;
    *us = (base + num(s + 17, 2)) * 1000000 + frac;
    return i + 1;
}

/* Whether every byte is below 0x80 (the usual line): 32 bytes a step. */
static bool ascii(const char *s, size_t n)
{
    uint64_t acc = 0, w[4];
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        memcpy(w, s + i, 32);
        acc |= w[0] | w[1] | w[2] | w[3];
    }
    for (; i + 8 <= n; i += 8) {
        memcpy(w, s + i, 8);
        acc |= w[0];
    }
    for (; i < n; i++)
        acc |= (unsigned char)s[i];
    return !(acc & 0x8080808080808080ull);
}

bool cs_btclog_starts_entry(const char *s, size_t n)
{
    int64_t us;
    return timestamp(s, n, &us) > 0;
}

/* Core's debug categories and levels (logging.cpp LogCategories,
 * LogLevelToStr), which the "[category]" prefix names. */
typedef struct word {
    const char *s;
    size_t n;
} word;
#define W(x)                                                                                       \
    {                                                                                              \
        x, sizeof(x) - 1                                                                           \
    }
static const word categories[] = {W("addrman"),
                                  W("all"),
                                  W("bench"),
                                  W("blockstorage"),
                                  W("cmpctblock"),
                                  W("coindb"),
                                  W("estimatefee"),
                                  W("http"),
                                  W("i2p"),
                                  W("ipc"),
                                  W("kernel"),
                                  W("leveldb"),
                                  W("libevent"),
                                  W("lock"),
                                  W("mempool"),
                                  W("mempoolrej"),
                                  W("net"),
                                  W("privatebroadcast"),
                                  W("proxy"),
                                  W("prune"),
                                  W("qt"),
                                  W("rand"),
                                  W("reindex"),
                                  W("rpc"),
                                  W("scan"),
                                  W("selectcoins"),
                                  W("tor"),
                                  W("txpackages"),
                                  W("txreconciliation"),
                                  W("util"),
                                  W("validation"),
                                  W("walletdb"),
                                  W("zmq"),
                                  {NULL, 0}};
static const word levels[] = {W("trace"),   W("debug"), W("info"),
                              W("warning"), W("error"), {NULL, 0}};

/* Whether s[0..n) is in set. The sets are small and every line asks: the
 * first letter and the length reject most at once. */
static bool in(const word *set, const char *s, size_t n)
{
    for (; set->s; set++)
        if (set->n == n && set->s[0] == s[0] && memcmp(set->s, s, n) == 0)
            return true;
    return false;
}

/* "[x] " groups at the start of s: where each begins and its length. */
typedef struct group {
    const char *p;
    size_t n;
    bool cat, src, thr; /* what it may be */
    const char *lvl;    /* when cat: its level part and category length */
    size_t lvl_n, cat_n;
} group;

static bool is_category(const group *g, const char **lvl, size_t *lvl_n, size_t *cat_n)
{
    const char *colon = memchr(g->p, ':', g->n);
    if (!colon) {
        if (in(levels, g->p, g->n)) {
            *cat_n = 0;
            *lvl = g->p;
            *lvl_n = g->n;
            return true;
        }
        *cat_n = g->n;
        *lvl_n = 0;
        return in(categories, g->p, g->n);
    }
    size_t cn = (size_t)(colon - g->p);
    if (!in(categories, g->p, cn) || !in(levels, colon + 1, g->n - cn - 1))
        return false;
    *cat_n = cn;
    *lvl = colon + 1;
    *lvl_n = g->n - cn - 1;
    return true;
}

static bool is_source(const group *g)
{
    const char *colon = NULL;
    for (size_t i = g->n; i > 0; i--)
        if (g->p[i - 1] == ':') {
            colon = g->p + i - 1;
            break;
        }
    if (!colon || colon == g->p)
        return false;
    size_t dn = g->n - (size_t)(colon + 1 - g->p);
    return dn > 0 && digits(colon + 1, dn);
}

static bool is_thread(const group *g)
{
    return g->n > 0 && g->n <= 64 && !memchr(g->p, ' ', g->n);
}

void cs_btclog_split(const char *s, size_t n, cs_btclog_line *o)
{
    memset(o, 0, sizeof *o);
    o->utf8 = ascii(s, n) || cs_utf8_valid((const uint8_t *)s, n);
    size_t i = timestamp(s, n, &o->time_us);
    if (i) {
        o->time = s;
        o->time_len = i;
        /* " (mocktime: ...)" follows under -mocktime */
        if (n - i > 12 && memcmp(s + i, " (mocktime: ", 12) == 0) {
            const char *e = memchr(s + i, ')', n - i);
            if (e)
                i = (size_t)(e + 1 - s);
        }
        if (i < n && s[i] == ' ')
            i++;
    }
    group g[4];
    size_t ng = 0;
    for (size_t j = i; ng < 4 && j < n && s[j] == '[';) {
        const char *e = memchr(s + j, ']', n - j > 200 ? 200 : n - j);
        if (!e || (size_t)(e - s) + 1 >= n || e[1] != ' ')
            break;
        group *x = &g[ng++];
        x->p = s + j + 1;
        x->n = (size_t)(e - s) - j - 1;
        x->lvl = NULL;
        x->lvl_n = x->cat_n = 0;
        x->cat = x->n && is_category(x, &x->lvl, &x->lvl_n, &x->cat_n);
        x->src = is_source(x);
        x->thr = is_thread(x);
        j = (size_t)(e - s) + 2;
    }
    /* In order: [thread] [file:line] [function] [category]. A group names
     * a thread when what follows it still reads as a prefix. */
    size_t k = 0;
    if (k < ng && g[k].thr &&
        ((k + 2 < ng && g[k + 1].src) || (k + 1 < ng && g[k + 1].cat) || !g[k].cat) &&
        !(k + 1 < ng && g[k].src)) {
        o->thread = g[k].p;
        o->thread_len = g[k].n;
        k++;
    }
    if (k + 1 < ng && g[k].src) {
        o->source = g[k].p;
        o->source_len = g[k].n;
        o->function = g[k + 1].p;
        o->function_len = g[k + 1].n;
        k += 2;
    }
    if (k < ng && g[k].cat) {
        o->category = g[k].cat_n ? g[k].p : NULL;
        o->category_len = g[k].cat_n;
        o->level = g[k].lvl_n ? g[k].lvl : NULL;
        o->level_len = g[k].lvl_n;
        k++;
    }
    const char *m = k ? g[k - 1].p + g[k - 1].n + 2 : s + i;
    const char *end = s + n;
    while (m < end && *m == ' ')
        m++;
    while (end > m && (end[-1] == '\n' || end[-1] == '\r' || end[-1] == ' '))
        end--;
    o->msg = m;
    o->msg_len = (size_t)(end - m);
}

/* ---- the matcher ------------------------------------------------------- */

enum { OP_LIT, OP_CAP, OP_OPT, OP_OPT_END };
enum { T_STR, T_U64, T_I64, T_DBL, T_SKIP };

typedef struct op {
    uint8_t op, type;
    char stop[4];    /* OP_CAP string: the characters that may end it ("": the end) */
    uint16_t len;    /* OP_LIT, OP_CAP: bytes of lit (the name) */
    uint16_t jump;   /* OP_OPT: index of its OP_OPT_END */
    const char *lit; /* OP_LIT: the text; OP_CAP: the field name */
} op;

#define MAX_OPS 48
#define MAX_CAPS 16

typedef struct prog {
    int kind; /* index in cs_schema_btclog */
    op ops[MAX_OPS];
    size_t nops;
} prog;

static prog *progs;
static size_t nprogs;
/* rows whose pattern starts with this byte, and rows that start with a
 * capture (tried for every message) */
static uint16_t *by_first[256];
static uint16_t nby_first[256];
static uint16_t *any_first;
static uint16_t nany_first;
static size_t nkinds;

static int field_type(int kind, const char *name, size_t n)
{
    if (n == 1 && name[0] == '_')
        return T_SKIP;
    for (const cs_field_def *f = cs_schema_btclog[kind].fields; f->name; f++)
        if (strlen(f->name) == n && memcmp(f->name, name, n) == 0) {
            if (strcmp(f->type, "u64") == 0)
                return T_U64;
            if (strcmp(f->type, "i64") == 0)
                return T_I64;
            if (strcmp(f->type, "double") == 0)
                return T_DBL;
            return T_STR;
        }
    abort(); /* a pattern names a field its kind lacks: fix the table */
}

static void compile_row(const cs_btclog_row *r, prog *pg)
{
    size_t kind = 0;
    while (strcmp(cs_schema_btclog[kind].type + 13, r->kind) != 0)
        kind++; /* every row's kind is in the table */
    pg->kind = (int)kind;
    pg->nops = 0;
    size_t open = 0;
    bool in_opt = false;
    for (const char *p = r->pattern; *p;) {
        op *o = &pg->ops[pg->nops++];
        if (pg->nops > MAX_OPS)
            abort();
        memset(o, 0, sizeof *o);
        if (p[0] == '{' && p[1] == '?') {
            o->op = OP_OPT;
            open = pg->nops - 1;
            in_opt = true;
            p += 2;
        } else if (p[0] == '{') {
            const char *e = strchr(p, '}');
            o->op = OP_CAP;
            o->lit = p + 1;
            o->len = (uint16_t)(e - p - 1);
            o->type = (uint8_t)field_type(pg->kind, o->lit, o->len);
            p = e + 1;
        } else if (p[0] == '}' && in_opt) {
            o->op = OP_OPT_END;
            pg->ops[open].jump = (uint16_t)(pg->nops - 1);
            in_opt = false;
            p++;
        } else {
            o->op = OP_LIT;
            o->lit = p;
            while (*p && *p != '{' && !(*p == '}' && in_opt))
                p++;
            o->len = (uint16_t)(p - o->lit);
        }
    }
    /* A string capture ends where what may follow it begins: the first
     * character of each optional part after it and of the next literal
     * that must come. */
    for (size_t i = 0; i < pg->nops; i++) {
        op *c = &pg->ops[i];
        if (c->op != OP_CAP)
            continue;
        size_t ns = 0;
        for (size_t j = i + 1; j < pg->nops && ns < sizeof c->stop - 1; j++) {
            const op *o = &pg->ops[j];
            if (o->op == OP_LIT) {
                c->stop[ns++] = o->lit[0];
                break;
            }
            if (o->op == OP_CAP)
                break;
            if (o->op == OP_OPT) {
                if (pg->ops[j + 1].op == OP_LIT)
                    c->stop[ns++] = pg->ops[j + 1].lit[0];
                j = o->jump;
            }
        }
    }
}

static void compile(void)
{
    while (cs_schema_btclog[nkinds].type &&
           strncmp(cs_schema_btclog[nkinds].type, "bitcoind.log.", 13) == 0)
        nkinds++;
    while (cs_btclog_rows[nprogs].kind)
        nprogs++;
    progs = calloc(nprogs, sizeof *progs);
    uint16_t *idx = calloc(nprogs * 2 + 1, sizeof *idx);
    if (!progs || !idx)
        abort();
    for (size_t i = 0; i < nprogs; i++)
        compile_row(&cs_btclog_rows[i], &progs[i]);
    /* buckets laid out one after another in idx */
    size_t at = 0;
    for (int c = 0; c < 256; c++) {
        by_first[c] = idx + at;
        for (size_t i = 0; i < nprogs; i++)
            if (progs[i].ops[0].op == OP_LIT && (unsigned char)progs[i].ops[0].lit[0] == c)
                idx[at++] = (uint16_t)i, nby_first[c]++;
    }
    any_first = idx + at;
    for (size_t i = 0; i < nprogs; i++)
        if (progs[i].ops[0].op != OP_LIT)
            idx[at++] = (uint16_t)i, nany_first++;
}

static pthread_once_t once = PTHREAD_ONCE_INIT;

size_t cs_btclog_kinds(void)
{
    pthread_once(&once, compile);
    return nkinds;
}

const char *cs_btclog_kind_name(size_t kind)
{
    return cs_schema_btclog[kind].type + 13;
}

typedef struct cap {
    const op *o;
    const char *p;
    size_t n;
    union {
        uint64_t u;
        int64_t i;
        double d;
    } v;
} cap;

/* A number at s..e as typed; returns its length, 0 if none. */
static size_t read_num(const char *s, const char *e, int type, cap *c)
{
    const char *p = s;
    bool neg = false;
    if (type != T_U64 && p < e && *p == '-')
        neg = true, p++;
    uint64_t u = 0;
    const char *d0 = p;
    while (p < e && *p >= '0' && *p <= '9' && p - d0 < 19)
        u = u * 10 + (uint64_t)(*p++ - '0');
    if (p == d0)
        return 0;
    if (type == T_U64) {
        c->v.u = u;
    } else if (type == T_I64) {
        c->v.i = neg ? -(int64_t)u : (int64_t)u;
    } else {
        static const double pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8, 1e9,
                                       1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18};
        double d = (double)u;
        if (p + 1 < e && *p == '.' && p[1] >= '0' && p[1] <= '9') {
            uint64_t f = 0;
            size_t nd = 0;
            for (p++; p < e && *p >= '0' && *p <= '9'; p++)
                if (nd < 18)
                    f = f * 10 + (uint64_t)(*p - '0'), nd++;
            d += (double)f / pow10[nd];
        }
        c->v.d = neg ? -d : d;
    }
    return (size_t)(p - s);
}

/* Runs ops [from, to) at *pp; captures go to caps[*nc..]. */
static bool run(const prog *pg, size_t from, size_t to, const char **pp, const char *e, cap *caps,
                size_t *nc)
{
    const char *p = *pp;
    for (size_t i = from; i < to; i++) {
        const op *o = &pg->ops[i];
        switch (o->op) {
        case OP_LIT:
            if ((size_t)(e - p) < o->len || memcmp(p, o->lit, o->len) != 0)
                return false;
            p += o->len;
            break;
        case OP_CAP: {
            if (*nc >= MAX_CAPS)
                return false;
            cap *c = &caps[*nc];
            c->o = o;
            c->p = p;
            if (o->type == T_STR || o->type == T_SKIP) {
                const char *q = e;
                if (o->stop[1]) {
                    for (q = p; q < e && *q != o->stop[0] && *q != o->stop[1] && *q != o->stop[2];
                         q++)
                        ;
                } else if (o->stop[0]) {
                    q = memchr(p, o->stop[0], (size_t)(e - p));
                    q = q ? q : e;
                }
                c->n = (size_t)(q - p);
            } else if (!(c->n = read_num(p, e, o->type, c))) {
                return false;
            }
            p += c->n;
            if (o->type != T_SKIP)
                (*nc)++;
            break;
        }
        case OP_OPT: {
            const char *q = p;
            size_t n0 = *nc;
            if (run(pg, i + 1, o->jump, &q, e, caps, nc))
                p = q;
            else
                *nc = n0;
            i = o->jump;
            break;
        }
        default:
            break;
        }
    }
    *pp = p;
    return true;
}

/* A double in the value encoding: tag, 8 bytes IEEE 754 little-endian. */
static uint8_t *fw_double(uint8_t *q, double d)
{
    uint64_t u;
    memcpy(&u, &d, 8);
    *q++ = CS_VT_DOUBLE;
    for (int i = 0; i < 8; i++)
        *q++ = (uint8_t)(u >> (8 * i));
    return q;
}

/* skip: the row's first literal is already compared (1) or not (0). */
static int try_row(size_t r, const char *msg, size_t n, bool utf8, size_t skip, cs_vw *w)
{
    const prog *pg = &progs[r];
    cap caps[MAX_CAPS];
    size_t nc = 0;
    const char *p = msg + (skip ? pg->ops[0].len : 0);
    if (!run(pg, skip, pg->nops, &p, msg + n, caps, &nc))
        return -1;
    /* strings in events are UTF-8: a line that is not does not match */
    for (size_t i = 0; !utf8 && i < nc; i++)
        if (caps[i].o->type == T_STR && !cs_utf8_valid((const uint8_t *)caps[i].p, caps[i].n))
            return -1;
    /* every field at once, after one bound check: the captures hold at most
     * n bytes of text, each key and tag fits in 48 */
    uint8_t *q = fw_begin(w, n + nc * 48);
    if (!q)
        return pg->kind;
    for (size_t i = 0; i < nc; i++) {
        const cap *c = &caps[i];
        q = fw_key(q, c->o->lit, c->o->len);
        switch (c->o->type) {
        case T_U64:
            q = fw_uint(q, c->v.u);
            break;
        case T_I64:
            q = fw_int(q, c->v.i);
            break;
        case T_DBL:
            q = fw_double(q, c->v.d);
            break;
        default:
            q = fw_str(q, c->p, c->n);
        }
    }
    fw_set(w, q);
    fw_count(w, (uint32_t)nc);
    return pg->kind;
}

/* utf8: the message is known to be UTF-8 (no check per field). */
static int match(const char *msg, size_t n, bool utf8, cs_vw *w)
{
    pthread_once(&once, compile);
    if (n == 0)
        return -1;
    unsigned char f = (unsigned char)msg[0];
    for (uint16_t i = 0; i < nby_first[f]; i++) {
        const op *o = &progs[by_first[f][i]].ops[0];
        if (n >= o->len && memcmp(msg, o->lit, o->len) == 0) {
            int k = try_row(by_first[f][i], msg, n, utf8, 1, w);
            if (k >= 0)
                return k;
        }
    }
    for (uint16_t i = 0; i < nany_first; i++) {
        int k = try_row(any_first[i], msg, n, utf8, 0, w);
        if (k >= 0)
            return k;
    }
    return -1;
}

int cs_btclog_match(const char *msg, size_t n, cs_vw *w)
{
    return match(msg, n, false, w);
}

/* UTF-8 text as a field; text that is not is left out. */
static uint8_t *kv_text(uint8_t *q, const char *k, size_t kl, const char *s, size_t n, bool utf8,
                        uint32_t *count)
{
    if (!n || (!utf8 && !cs_utf8_valid((const uint8_t *)s, n)))
        return q;
    (*count)++;
    return fw_str(fw_key(q, k, kl), s, n);
}
#define KV_TEXT(q, lit, s, n, count) kv_text(q, lit, sizeof(lit) - 1, s, n, l->utf8, count)

int cs_btclog_payload(const cs_btclog_line *l, const char *node, cs_vw *w)
{
    size_t nl = strlen(node);
    uint8_t *q = fw_begin(w, nl + l->time_len + l->thread_len + l->source_len + l->function_len +
                                 l->category_len + l->level_len + 7 * 24);
    if (!q)
        return match(l->msg, l->msg_len, l->utf8, w);
    uint32_t count = 1;
    q = fw_str(FW_KEY(q, "node"), node, nl);
    q = KV_TEXT(q, "log_time", l->time, l->time_len, &count);
    q = KV_TEXT(q, "thread", l->thread, l->thread_len, &count);
    if (l->source_len) {
        q = KV_TEXT(q, "source", l->source, l->source_len, &count);
        q = KV_TEXT(q, "function", l->function, l->function_len, &count);
    }
    q = KV_TEXT(q, "category", l->category, l->category_len, &count);
    q = KV_TEXT(q, "level", l->level, l->level_len, &count);
    fw_set(w, q);
    fw_count(w, count);
    return match(l->msg, l->msg_len, l->utf8, w);
}
