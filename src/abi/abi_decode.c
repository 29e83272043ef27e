/* ABI decoding of calldata and logs into chainscope values.
 *
 * The encoding (Solidity ABI specification, "Formal Specification of the
 * Encoding"): a tuple is a head of 32-byte slots, one per static component
 * (its whole encoding in place) or dynamic component (an offset, relative to
 * the start of the tuple, to its encoding in the tail). T[] is a length word
 * followed by the elements encoded as a tuple; T[k] is a tuple of k
 * elements; bytes and string are a length word followed by the bytes. */
#include "core/error.h"
#include "core/u256.h"
#include "core/value.h"
#include "abi/abi.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

typedef struct trail_item {
    const char *key; /* tuple component, or NULL for an array index */
    uint16_t klen;
    uint32_t idx;
} trail_item;

typedef struct dctx {
    const uint8_t *d;
    size_t n;
    cs_vw *w;
    unsigned flags;
    char detail[200];
    trail_item trail[CS_ABI_MAX_DEPTH + 4];
    int ntrail;
} dctx;

static int dfail(dctx *c, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int dfail(dctx *c, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->detail, sizeof c->detail, fmt, ap);
    va_end(ap);
    return rc;
}

/* Records where an error happened as it unwinds (innermost first). */
static void push_trail(dctx *c, const char *key, uint16_t klen, uint32_t idx)
{
    if (c->ntrail < (int)(sizeof c->trail / sizeof *c->trail))
        c->trail[c->ntrail++] = (trail_item){key, klen, idx};
}

/* Points *p at the 32-byte word at pos, or fails naming the shortfall. */
static inline int word(dctx *c, size_t pos, const uint8_t **p)
{
    if (pos > c->n || c->n - pos < 32)
        return dfail(c, CS_ETRUNC, "needs bytes %zu..%zu but the data has %zu bytes", pos, pos + 32,
                     c->n);
    *p = c->d + pos;
    return 0;
}

static inline uint64_t be64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return __builtin_bswap64(v);
}

static inline bool high_zero(const uint8_t *wd)
{
    return (be64(wd) | be64(wd + 8) | be64(wd + 16)) == 0;
}

/* Reads a length or offset word: it must fit in the data's size range. */
static int small_word(dctx *c, size_t pos, const char *what, uint64_t *v)
{
    const uint8_t *wd = NULL;
    int rc = word(c, pos, &wd);
    if (rc)
        return rc;
    uint64_t x = be64(wd + 24);
    if (!high_zero(wd) || x > c->n)
        return dfail(c, CS_EPARSE, "%s at byte %zu is %s%llu, past the end of the data (%zu bytes)",
                     what, pos, high_zero(wd) ? "" : "over 2^64: not ", (unsigned long long)x,
                     c->n);
    *v = x;
    return 0;
}

static void put_dec(cs_vw *w, const cs_u256 *x, bool neg)
{
    char tmp[81];
    size_t off = 0;
    if (neg)
        tmp[off++] = '-';
    off += cs_u256_to_dec(x, tmp + off);
    cs_vw_str(w, tmp, off);
}

/* Writes the static value type t held in the 32-byte word wd. Like other
 * decoders, integers and addresses are taken from their low bytes. */
static void value_word(dctx *c, const cs_abi_type *t, const uint8_t *wd)
{
    cs_vw *w = c->w;
    switch (t->kind) {
    case CS_ABI_UINT: {
        if (t->size <= 64 || high_zero(wd)) {
            uint64_t u = be64(wd + 24);
            if (t->size < 64)
                u &= (1ull << t->size) - 1;
            if (c->flags & CS_ABI_INTS_AS_STRINGS) {
                char tmp[24];
                int m = snprintf(tmp, sizeof tmp, "%llu", (unsigned long long)u);
                cs_vw_str(w, tmp, (size_t)m);
            } else {
                cs_vw_u64(w, u);
            }
            return;
        }
        size_t nb = t->size / 8;
        if (c->flags & CS_ABI_INTS_AS_STRINGS) {
            cs_u256 x;
            cs_u256_from_be(&x, wd + 32 - nb, nb);
            put_dec(w, &x, false);
        } else {
            cs_vw_big(w, wd + 32 - nb, nb, false);
        }
        return;
    }
    case CS_ABI_INT: {
        if (t->size <= 64) {
            uint64_t u = be64(wd + 24);
            if (t->size < 64) {
                unsigned sh = 64 - t->size;
                u = (uint64_t)((int64_t)(u << sh) >> sh);
            }
            int64_t v = (int64_t)u;
            if (c->flags & CS_ABI_INTS_AS_STRINGS) {
                char tmp[24];
                int m = snprintf(tmp, sizeof tmp, "%lld", (long long)v);
                cs_vw_str(w, tmp, (size_t)m);
            } else {
                cs_vw_i64(w, v);
            }
            return;
        }
        size_t nb = t->size / 8;
        uint8_t full[32];
        bool neg = wd[32 - nb] & 0x80;
        memset(full, neg ? 0xff : 0, 32 - nb);
        memcpy(full + 32 - nb, wd + 32 - nb, nb);
        cs_u256 x;
        cs_u256_from_be(&x, full, 32);
        if (neg)
            cs_u256_neg(&x, &x);
        if (c->flags & CS_ABI_INTS_AS_STRINGS) {
            put_dec(w, &x, neg);
        } else {
            uint8_t mag[32];
            cs_u256_to_be(&x, mag);
            cs_vw_big(w, mag, 32, neg);
        }
        return;
    }
    case CS_ABI_ADDRESS: {
        static const char hx[] = "0123456789abcdef";
        char a[42];
        a[0] = '0';
        a[1] = 'x';
        for (int i = 0; i < 20; i++) {
            a[2 + 2 * i] = hx[wd[12 + i] >> 4];
            a[3 + 2 * i] = hx[wd[12 + i] & 15];
        }
        cs_vw_str(w, a, 42);
        return;
    }
    case CS_ABI_BOOL:
        cs_vw_bool(w, !(high_zero(wd) && be64(wd + 24) == 0));
        return;
    case CS_ABI_FBYTES:
        cs_vw_bytes(w, wd, t->size);
        return;
    case CS_ABI_FUNCTION:
        cs_vw_bytes(w, wd, 24);
        return;
    default:
        return; /* not a value type: callers never pass one */
    }
}

static int value_at(dctx *c, const cs_abi_type *t, size_t pos);

/* Decodes `count` elements of type elem encoded as a tuple at base. */
static int elements(dctx *c, const cs_abi_type *elem, uint64_t count, size_t base)
{
    /* Every element takes at least its head in the data: bounds the count
     * (and so the work) by the input size. */
    if (count > (c->n - base) / elem->head)
        return dfail(c, CS_ETRUNC,
                     "array of %llu elements at byte %zu needs %llu bytes but %zu remain",
                     (unsigned long long)count, base,
                     (unsigned long long)(count * (uint64_t)elem->head), c->n - base);
    cs_vw_array_begin(c->w);
    size_t hp = base;
    for (uint64_t i = 0; i < count; i++, hp += elem->head) {
        int rc;
        if (elem->dynamic) {
            uint64_t off;
            if (!(rc = small_word(c, hp, "offset", &off)))
                rc = value_at(c, elem, base + off);
        } else {
            rc = value_at(c, elem, hp);
        }
        if (!rc && c->w->err)
            rc = dfail(c, c->w->err, "output too large: %s", cs_strerror(c->w->err));
        if (rc) {
            push_trail(c, NULL, 0, (uint32_t)i);
            return rc;
        }
    }
    cs_vw_array_end(c->w);
    return 0;
}

/* Decodes a tuple of params at base into an object. With topics, indexed
 * params come from topics[*ti...] instead of the data (a log). */
static int tuple(dctx *c, const cs_abi_param *ps, uint32_t n, size_t base,
                 const uint8_t (*topics)[32], size_t *ti)
{
    cs_vw_object_begin(c->w);
    size_t hp = base;
    for (uint32_t i = 0; i < n; i++) {
        const cs_abi_param *p = &ps[i];
        int rc = 0;
        cs_vw_keyn(c->w, p->key, p->key_len);
        if (topics && p->indexed) {
            const uint8_t *tw = topics[(*ti)++];
            const cs_abi_type *t = &p->type;
            /* Solidity: indexed arrays, strings, bytes and structs are stored
             * as the Keccak-256 of their encoding. */
            if (t->dynamic || t->kind == CS_ABI_TUPLE || t->kind == CS_ABI_FARRAY)
                cs_vw_bytes(c->w, tw, 32);
            else
                value_word(c, t, tw);
            continue;
        }
        if (p->type.dynamic) {
            uint64_t off;
            if (!(rc = small_word(c, hp, "offset", &off)))
                rc = value_at(c, &p->type, base + off);
        } else {
            rc = value_at(c, &p->type, hp);
        }
        if (rc) {
            push_trail(c, p->key, p->key_len, i);
            return rc;
        }
        hp += p->type.head;
    }
    cs_vw_object_end(c->w);
    return 0;
}

/* Decodes the value of type t whose encoding starts at pos. */
static int value_at(dctx *c, const cs_abi_type *t, size_t pos)
{
    const uint8_t *wd = NULL;
    uint64_t len;
    int rc;
    switch (t->kind) {
    case CS_ABI_BYTES:
    case CS_ABI_STRING:
        if ((rc = small_word(c, pos, "length", &len)))
            return rc;
        if (len > c->n - pos - 32)
            return dfail(c, CS_ETRUNC, "%s of %llu bytes at byte %zu runs past the end (%zu bytes)",
                         t->kind == CS_ABI_STRING ? "string" : "bytes", (unsigned long long)len,
                         pos + 32, c->n);
        if (t->kind == CS_ABI_STRING) {
            if (!cs_utf8_valid(c->d + pos + 32, (size_t)len))
                return dfail(c, CS_EPARSE, "string at byte %zu is not valid UTF-8", pos + 32);
            cs_vw_str(c->w, (const char *)c->d + pos + 32, (size_t)len);
        } else {
            cs_vw_bytes(c->w, c->d + pos + 32, (size_t)len);
        }
        return 0;
    case CS_ABI_ARRAY:
        if ((rc = small_word(c, pos, "array length", &len)))
            return rc;
        return elements(c, t->elem, len, pos + 32);
    case CS_ABI_FARRAY:
        if (pos > c->n)
            return dfail(c, CS_ETRUNC, "array at byte %zu is past the end (%zu bytes)", pos, c->n);
        return elements(c, t->elem, t->len, pos);
    case CS_ABI_TUPLE:
        if (pos > c->n)
            return dfail(c, CS_ETRUNC, "tuple at byte %zu is past the end (%zu bytes)", pos, c->n);
        return tuple(c, t->comps, t->ncomps, pos, NULL, NULL);
    default:
        if ((rc = word(c, pos, &wd)))
            return rc;
        value_word(c, t, wd);
        return 0;
    }
}

/* ---- entry points ------------------------------------------------------- */

typedef struct wsave {
    size_t len;
    int depth;
    uint32_t count;
    int err;
} wsave;

static wsave save(const cs_vw *w)
{
    return (wsave){w->buf.len, w->depth, w->depth ? w->count[w->depth - 1] : 0, w->err};
}

static void restore(cs_vw *w, const wsave *s)
{
    w->buf.len = s->len;
    w->depth = s->depth;
    if (s->depth)
        w->count[s->depth - 1] = s->count;
    w->err = s->err;
}

/* Formats "what: argument a.b[3]: detail" into err. */
static void report(const dctx *c, const char *what, char *err, size_t errlen)
{
    if (!err || !errlen)
        return;
    char path[256];
    size_t pl = 0;
    path[0] = 0;
    for (int i = c->ntrail - 1; i >= 0 && pl < sizeof path - 1; i--) {
        const trail_item *t = &c->trail[i];
        int m = t->key ? snprintf(path + pl, sizeof path - pl, "%s%.*s", pl ? "." : "",
                                  (int)t->klen, t->key)
                       : snprintf(path + pl, sizeof path - pl, "[%u]", t->idx);
        if (m < 0)
            break;
        pl += (size_t)m;
        if (pl >= sizeof path)
            pl = sizeof path - 1;
    }
    if (pl)
        snprintf(err, errlen, "%s: argument %s: %s", what, path, c->detail);
    else
        snprintf(err, errlen, "%s: %s", what, c->detail);
}

/* Runs a decode with rollback of w on failure. */
static int finish(dctx *c, int rc, const wsave *s, const char *what, char *err, size_t errlen)
{
    if (!rc && c->w->err) {
        rc = c->w->err;
        dfail(c, rc, "output too large: %s", cs_strerror(rc));
        c->ntrail = 0;
    }
    if (rc) {
        restore(c->w, s);
        report(c, what, err, errlen);
    }
    return rc;
}

int cs_abi_decode_params(const cs_abi_param *ps, uint32_t n, const uint8_t *data, size_t len,
                         unsigned flags, const char *what, cs_vw *w, const char *key, char *err,
                         size_t errlen)
{
    if (w->err)
        return w->err;
    wsave s = save(w);
    dctx c = {.d = data, .n = len, .w = w, .flags = flags};
    if (key)
        cs_vw_key(w, key);
    int rc = tuple(&c, ps, n, 0, NULL, NULL);
    return finish(&c, rc, &s, what ? what : "tuple", err, errlen);
}

int cs_abi_decode_event(const cs_abi_event *ev, const uint8_t (*topics)[32], size_t ntopics,
                        const uint8_t *data, size_t len, unsigned flags, cs_vw *w, const char *key,
                        char *err, size_t errlen)
{
    if (w->err)
        return w->err;
    size_t need = ev->nindexed + (ev->anonymous ? 0 : 1);
    char what[160];
    snprintf(what, sizeof what, "event %s", ev->name);
    if (ntopics != need) {
        if (err && errlen)
            snprintf(err, errlen,
                     "%s: the log has %zu topics but the event needs %zu (%u indexed%s)", what,
                     ntopics, need, ev->nindexed, ev->anonymous ? ", anonymous" : " + topic0");
        return CS_EPARSE;
    }
    if (!ev->anonymous && memcmp(topics[0], ev->topic0, 32) != 0) {
        if (err && errlen)
            snprintf(err, errlen, "%s: topic0 is not the event's signature hash", what);
        return CS_EPARSE;
    }
    wsave s = save(w);
    dctx c = {.d = data, .n = len, .w = w, .flags = flags};
    if (key)
        cs_vw_key(w, key);
    size_t ti = ev->anonymous ? 0 : 1;
    int rc = tuple(&c, ev->inputs, ev->ninputs, 0, topics, &ti);
    return finish(&c, rc, &s, what, err, errlen);
}

int cs_abi_decode_log(const cs_abi *abi, const uint8_t (*topics)[32], size_t ntopics,
                      const uint8_t *data, size_t len, unsigned flags, cs_vw *w, const char *key,
                      const cs_abi_event **evp, char *err, size_t errlen)
{
    const cs_abi_event *ev = ntopics ? cs_abi_find_event(abi, topics[0]) : NULL;
    if (ev) {
        if (evp)
            *evp = ev;
        return cs_abi_decode_event(ev, topics, ntopics, data, len, flags, w, key, err, errlen);
    }
    /* Anonymous events have no signature topic: the first whose shape
     * decodes the log wins. */
    for (size_t i = 0; i < cs_abi_nevents(abi); i++) {
        const cs_abi_event *a = cs_abi_event_at(abi, i);
        if (!a->anonymous || a->nindexed != ntopics)
            continue;
        if (cs_abi_decode_event(a, topics, ntopics, data, len, flags, w, key, NULL, 0) == 0) {
            if (evp)
                *evp = a;
            return 0;
        }
    }
    if (err && errlen) {
        if (ntopics) {
            static const char hx[] = "0123456789abcdef";
            char t0[67] = "0x";
            for (int i = 0; i < 32; i++) {
                t0[2 + 2 * i] = hx[topics[0][i] >> 4];
                t0[3 + 2 * i] = hx[topics[0][i] & 15];
            }
            t0[66] = 0;
            snprintf(err, errlen, "no event in the ABI has topic0 %s", t0);
        } else {
            snprintf(err, errlen, "the log has no topics and no anonymous event fits");
        }
    }
    return CS_ENOTFOUND;
}

int cs_abi_decode_call(const cs_abi *abi, const uint8_t *data, size_t len, unsigned flags, cs_vw *w,
                       const char *key, const cs_abi_func **fnp, char *err, size_t errlen)
{
    if (len < 4) {
        if (err && errlen)
            snprintf(err, errlen, "calldata of %zu bytes has no 4-byte selector", len);
        return CS_ETRUNC;
    }
    const cs_abi_func *fn = cs_abi_find_func(abi, data);
    if (!fn) {
        if (err && errlen)
            snprintf(err, errlen, "no function in the ABI has selector 0x%02x%02x%02x%02x", data[0],
                     data[1], data[2], data[3]);
        return CS_ENOTFOUND;
    }
    if (fnp)
        *fnp = fn;
    char what[160];
    snprintf(what, sizeof what, "function %s", fn->name);
    return cs_abi_decode_params(fn->inputs, fn->ninputs, data + 4, len - 4, flags, what, w, key,
                                err, errlen);
}
