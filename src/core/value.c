#include "core/value.h"
#include "core/error.h"

#include <stdlib.h>
#include <string.h>

/* ---- varints ----------------------------------------------------------- */

size_t cs_varint_put(uint8_t *dst, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        dst[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    dst[n++] = (uint8_t)v;
    return n;
}

int cs_varint_get(const uint8_t **pp, const uint8_t *end, uint64_t *v)
{
    const uint8_t *p = *pp;
    uint64_t r = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (p >= end)
            return CS_ETRUNC;
        uint8_t b = *p++;
        if (shift == 63 && b > 1)
            return CS_ERANGE;
        r |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            if (b == 0 && shift)
                return CS_EPARSE; /* not minimal */
            *pp = p;
            *v = r;
            return 0;
        }
    }
    return CS_ERANGE;
}

/* ---- writer ------------------------------------------------------------ */

void cs_vw_init(cs_vw *w, size_t max)
{
    cs_buf_init(&w->buf, max);
    w->err = 0;
    w->depth = 0;
}

void cs_vw_free(cs_vw *w)
{
    cs_buf_free(&w->buf);
}

void cs_vw_reset(cs_vw *w)
{
    w->buf.len = 0;
    w->err = 0;
    w->depth = 0;
}

int cs_vw_error(const cs_vw *w)
{
    if (w->err)
        return w->err;
    return w->depth ? CS_EINVAL : 0;
}

static inline void put(cs_vw *w, const void *p, size_t n)
{
    if (w->err)
        return;
    int rc = cs_buf_append(&w->buf, p, n);
    if (rc)
        w->err = rc;
}

/* Counts one item in the innermost open container. */
static inline void item(cs_vw *w)
{
    if (w->depth)
        w->count[w->depth - 1]++;
}

static void tag_varint(cs_vw *w, uint8_t tag, uint64_t v)
{
    uint8_t tmp[11];
    tmp[0] = tag;
    size_t n = 1 + cs_varint_put(tmp + 1, v);
    put(w, tmp, n);
}

void cs_vw_null(cs_vw *w)
{
    uint8_t t = CS_VT_NULL;
    put(w, &t, 1);
    item(w);
}

void cs_vw_bool(cs_vw *w, bool v)
{
    uint8_t t = v ? CS_VT_TRUE : CS_VT_FALSE;
    put(w, &t, 1);
    item(w);
}

void cs_vw_u64(cs_vw *w, uint64_t v)
{
    tag_varint(w, CS_VT_UINT, v);
    item(w);
}

void cs_vw_i64(cs_vw *w, int64_t v)
{
    if (v >= 0)
        tag_varint(w, CS_VT_UINT, (uint64_t)v);
    else
        tag_varint(w, CS_VT_NINT, (uint64_t)(-(v + 1)));
    item(w);
}

void cs_vw_big(cs_vw *w, const uint8_t *be, size_t n, bool neg)
{
    while (n && *be == 0) {
        be++;
        n--;
    }
    if (n > 32) {
        w->err = w->err ? w->err : CS_ERANGE;
        return;
    }
    if (n <= 8) {
        uint64_t u = 0;
        for (size_t i = 0; i < n; i++)
            u = (u << 8) | be[i];
        if (!neg) {
            cs_vw_u64(w, u);
            return;
        }
        if (u == 0) {
            cs_vw_u64(w, 0);
            return;
        }
        if (u <= (uint64_t)INT64_MAX + 1) {
            tag_varint(w, CS_VT_NINT, u - 1);
            item(w);
            return;
        }
    }
    uint8_t hdr[2] = {neg ? CS_VT_NBIG : CS_VT_BIG, (uint8_t)n};
    put(w, hdr, 2);
    put(w, be, n);
    item(w);
}

void cs_vw_double(cs_vw *w, double v)
{
    uint8_t tmp[9];
    tmp[0] = CS_VT_DOUBLE;
    uint64_t bits;
    memcpy(&bits, &v, 8);
    for (int i = 0; i < 8; i++)
        tmp[1 + i] = (uint8_t)(bits >> (8 * i));
    put(w, tmp, 9);
    item(w);
}

static void lenpref(cs_vw *w, uint8_t tag, const void *p, size_t n)
{
    tag_varint(w, tag, n);
    put(w, p, n);
    item(w);
}

void cs_vw_str(cs_vw *w, const char *s, size_t n)
{
    lenpref(w, CS_VT_STR, s, n);
}

void cs_vw_cstr(cs_vw *w, const char *s)
{
    lenpref(w, CS_VT_STR, s ? s : "", s ? strlen(s) : 0);
}

void cs_vw_bytes(cs_vw *w, const void *p, size_t n)
{
    lenpref(w, CS_VT_BYTES, p, n);
}

static void open_container(cs_vw *w, uint8_t tag)
{
    if (w->err)
        return;
    if (w->depth >= CS_VALUE_MAX_DEPTH) {
        w->err = CS_ELIMIT;
        return;
    }
    item(w);
    uint8_t hdr[9] = {tag};
    size_t at = w->buf.len + 1;
    put(w, hdr, sizeof hdr);
    if (w->err)
        return;
    w->open[w->depth] = at;
    w->count[w->depth] = 0;
    w->depth++;
}

static void wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static void close_container(cs_vw *w)
{
    if (w->err)
        return;
    if (w->depth == 0) {
        w->err = CS_EINVAL;
        return;
    }
    w->depth--;
    size_t at = w->open[w->depth];
    size_t body = w->buf.len - at - 4;
    if (body > UINT32_MAX) {
        w->err = CS_ELIMIT;
        return;
    }
    wr32(w->buf.data + at, (uint32_t)body);
    wr32(w->buf.data + at + 4, w->count[w->depth]);
}

void cs_vw_array_begin(cs_vw *w)
{
    open_container(w, CS_VT_ARRAY);
}

void cs_vw_array_end(cs_vw *w)
{
    close_container(w);
}

void cs_vw_object_begin(cs_vw *w)
{
    open_container(w, CS_VT_OBJECT);
}

void cs_vw_object_end(cs_vw *w)
{
    close_container(w);
}

void cs_vw_keyn(cs_vw *w, const char *k, size_t n)
{
    uint8_t tmp[10];
    size_t m = cs_varint_put(tmp, n);
    put(w, tmp, m);
    put(w, k, n);
}

void cs_vw_key(cs_vw *w, const char *k)
{
    cs_vw_keyn(w, k, strlen(k));
}

void cs_vw_raw(cs_vw *w, const uint8_t *p, size_t n)
{
    put(w, p, n);
    item(w);
}

void cs_vw_kv_u64(cs_vw *w, const char *k, uint64_t v)
{
    cs_vw_key(w, k);
    cs_vw_u64(w, v);
}

void cs_vw_kv_i64(cs_vw *w, const char *k, int64_t v)
{
    cs_vw_key(w, k);
    cs_vw_i64(w, v);
}

void cs_vw_kv_bool(cs_vw *w, const char *k, bool v)
{
    cs_vw_key(w, k);
    cs_vw_bool(w, v);
}

void cs_vw_kv_double(cs_vw *w, const char *k, double v)
{
    cs_vw_key(w, k);
    cs_vw_double(w, v);
}

void cs_vw_kv_str(cs_vw *w, const char *k, const char *s)
{
    cs_vw_key(w, k);
    cs_vw_cstr(w, s);
}

void cs_vw_kv_strn(cs_vw *w, const char *k, const char *s, size_t n)
{
    cs_vw_key(w, k);
    cs_vw_str(w, s, n);
}

void cs_vw_kv_bytes(cs_vw *w, const char *k, const void *p, size_t n)
{
    cs_vw_key(w, k);
    cs_vw_bytes(w, p, n);
}

/* ---- reader ------------------------------------------------------------ */

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int cs_val_read(const uint8_t *p, size_t n, cs_val *v, size_t *used)
{
    if (n == 0)
        return CS_ETRUNC;
    const uint8_t *q = p + 1, *end = p + n;
    uint64_t x;
    int rc;
    memset(v, 0, sizeof *v);
    switch (p[0]) {
    case CS_VT_NULL:
        v->kind = CS_VAL_NULL;
        break;
    case CS_VT_FALSE:
    case CS_VT_TRUE:
        v->kind = CS_VAL_BOOL;
        v->b = p[0] == CS_VT_TRUE;
        break;
    case CS_VT_UINT:
        if ((rc = cs_varint_get(&q, end, &x)))
            return rc;
        v->kind = CS_VAL_INT;
        v->u = x;
        break;
    case CS_VT_NINT:
        if ((rc = cs_varint_get(&q, end, &x)))
            return rc;
        if (x > (uint64_t)INT64_MAX)
            return CS_ERANGE;
        v->kind = CS_VAL_INT;
        v->neg = true;
        v->i = -(int64_t)x - 1;
        break;
    case CS_VT_BIG:
    case CS_VT_NBIG:
        if (q >= end)
            return CS_ETRUNC;
        x = *q++;
        if (x == 0 || x > 32)
            return CS_EPARSE;
        if ((size_t)(end - q) < x)
            return CS_ETRUNC;
        v->kind = CS_VAL_BIG;
        v->neg = p[0] == CS_VT_NBIG;
        v->p = q;
        v->n = (size_t)x;
        q += x;
        break;
    case CS_VT_DOUBLE: {
        if (end - q < 8)
            return CS_ETRUNC;
        uint64_t bits = 0;
        for (int i = 0; i < 8; i++)
            bits |= (uint64_t)q[i] << (8 * i);
        memcpy(&v->d, &bits, 8);
        v->kind = CS_VAL_DOUBLE;
        q += 8;
        break;
    }
    case CS_VT_STR:
    case CS_VT_BYTES:
        if ((rc = cs_varint_get(&q, end, &x)))
            return rc;
        if ((uint64_t)(end - q) < x)
            return CS_ETRUNC;
        v->kind = p[0] == CS_VT_STR ? CS_VAL_STR : CS_VAL_BYTES;
        v->p = q;
        v->n = (size_t)x;
        q += x;
        break;
    case CS_VT_ARRAY:
    case CS_VT_OBJECT: {
        if (end - q < 8)
            return CS_ETRUNC;
        uint32_t body = rd32(q);
        if (body < 4 || (size_t)(end - q - 4) < body)
            return CS_ETRUNC;
        v->kind = p[0] == CS_VT_ARRAY ? CS_VAL_ARRAY : CS_VAL_OBJECT;
        v->count = rd32(q + 4);
        v->p = q + 8;
        v->n = body - 4;
        /* Every item takes at least one byte (two in an object). */
        if (v->count > v->n)
            return CS_EPARSE;
        q += 4 + body;
        break;
    }
    default:
        return CS_EPARSE;
    }
    v->raw = p;
    v->raw_len = (size_t)(q - p);
    if (used)
        *used = v->raw_len;
    return 0;
}

void cs_val_iter_init(cs_val_iter *it, const cs_val *c)
{
    it->p = c->p;
    it->end = c->p + c->n;
    it->left = (c->kind == CS_VAL_ARRAY || c->kind == CS_VAL_OBJECT) ? c->count : 0;
    it->object = c->kind == CS_VAL_OBJECT;
}

int cs_val_next(cs_val_iter *it, const char **key, size_t *keylen, cs_val *item_out)
{
    if (it->left == 0)
        return it->p == it->end ? 0 : CS_EPARSE;
    if (it->object) {
        uint64_t kl;
        int rc = cs_varint_get(&it->p, it->end, &kl);
        if (rc)
            return rc;
        if ((uint64_t)(it->end - it->p) < kl)
            return CS_ETRUNC;
        if (key)
            *key = (const char *)it->p;
        if (keylen)
            *keylen = (size_t)kl;
        it->p += kl;
    } else {
        if (key)
            *key = NULL;
        if (keylen)
            *keylen = 0;
    }
    size_t used;
    int rc = cs_val_read(it->p, (size_t)(it->end - it->p), item_out, &used);
    if (rc)
        return rc;
    it->p += used;
    it->left--;
    return 1;
}

int cs_val_get(const cs_val *obj, const char *key, size_t keylen, cs_val *out)
{
    if (obj->kind != CS_VAL_OBJECT)
        return CS_ETYPE;
    cs_val_iter it;
    cs_val_iter_init(&it, obj);
    const char *k;
    size_t kl;
    int rc;
    while ((rc = cs_val_next(&it, &k, &kl, out)) == 1)
        if (kl == keylen && memcmp(k, key, kl) == 0)
            return 0;
    return rc < 0 ? rc : CS_ENOTFOUND;
}

int cs_val_index(const cs_val *arr, uint32_t index, cs_val *out)
{
    if (arr->kind != CS_VAL_ARRAY)
        return CS_ETYPE;
    if (index >= arr->count)
        return CS_ENOTFOUND;
    cs_val_iter it;
    cs_val_iter_init(&it, arr);
    int rc;
    uint32_t i = 0;
    while ((rc = cs_val_next(&it, NULL, NULL, out)) == 1)
        if (i++ == index)
            return 0;
    return rc < 0 ? rc : CS_ENOTFOUND;
}

int cs_val_path(const cs_val *root, const char *path, size_t len, cs_val *out)
{
    cs_val cur = *root;
    size_t i = 0;
    while (i < len) {
        if (path[i] == '[') {
            size_t j = i + 1;
            uint64_t idx = 0;
            if (j >= len || path[j] < '0' || path[j] > '9')
                return CS_EPARSE;
            while (j < len && path[j] >= '0' && path[j] <= '9') {
                idx = idx * 10 + (uint64_t)(path[j] - '0');
                if (idx > UINT32_MAX)
                    return CS_ENOTFOUND;
                j++;
            }
            if (j >= len || path[j] != ']')
                return CS_EPARSE;
            int rc = cs_val_index(&cur, (uint32_t)idx, &cur);
            if (rc)
                return rc == CS_ETYPE ? CS_ENOTFOUND : rc;
            i = j + 1;
            if (i < len && path[i] == '.')
                i++;
            continue;
        }
        size_t j = i;
        while (j < len && path[j] != '.' && path[j] != '[')
            j++;
        if (j == i)
            return CS_EPARSE;
        int rc = cs_val_get(&cur, path + i, j - i, &cur);
        if (rc)
            return rc == CS_ETYPE ? CS_ENOTFOUND : rc;
        i = j;
        if (i < len && path[i] == '.') {
            i++;
            if (i == len)
                return CS_EPARSE;
        }
    }
    *out = cur;
    return 0;
}

bool cs_val_str_eq(const cs_val *v, const char *s)
{
    size_t n = strlen(s);
    return v->kind == CS_VAL_STR && v->n == n && memcmp(v->p, s, n) == 0;
}

/* ---- validation -------------------------------------------------------- */

bool cs_utf8_valid(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        /* Fast path: eight ASCII bytes at a time. */
        if (i + 8 <= n) {
            uint64_t x;
            memcpy(&x, s + i, 8);
            if (!(x & 0x8080808080808080ull)) {
                i += 8;
                continue;
            }
        }
        uint8_t c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len;
        uint32_t cp;
        if ((c & 0xe0) == 0xc0) {
            len = 2;
            cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            len = 3;
            cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            len = 4;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (n - i < len)
            return false;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += len;
    }
    return true;
}

static int validate(const uint8_t *p, size_t n, size_t *used, int depth)
{
    cs_val v;
    int rc = cs_val_read(p, n, &v, used);
    if (rc)
        return rc;
    switch (v.kind) {
    case CS_VAL_STR:
        return cs_utf8_valid(v.p, v.n) ? 0 : CS_EPARSE;
    case CS_VAL_BIG:
        /* Minimal: no leading zero, and not small enough for uint/nint. */
        if (v.p[0] == 0 || v.n < 8 || (!v.neg && v.n == 8))
            return CS_EPARSE;
        if (v.n == 8) { /* negative: only magnitudes past 2^63 need nbig */
            uint64_t m = 0;
            for (int k = 0; k < 8; k++)
                m = (m << 8) | v.p[k];
            if (m <= (uint64_t)INT64_MAX + 1)
                return CS_EPARSE;
        }
        return 0;
    case CS_VAL_ARRAY:
    case CS_VAL_OBJECT: {
        if (depth >= CS_VALUE_MAX_DEPTH)
            return CS_ELIMIT;
        const uint8_t *q = v.p, *end = v.p + v.n;
        for (uint32_t k = 0; k < v.count; k++) {
            if (v.kind == CS_VAL_OBJECT) {
                uint64_t kl;
                if ((rc = cs_varint_get(&q, end, &kl)))
                    return rc;
                if ((uint64_t)(end - q) < kl)
                    return CS_ETRUNC;
                if (!cs_utf8_valid(q, (size_t)kl))
                    return CS_EPARSE;
                q += kl;
            }
            size_t u;
            if ((rc = validate(q, (size_t)(end - q), &u, depth + 1)))
                return rc;
            q += u;
        }
        return q == end ? 0 : CS_EPARSE;
    }
    default:
        return 0;
    }
}

int cs_val_validate(const uint8_t *p, size_t n)
{
    size_t used;
    int rc = validate(p, n, &used, 0);
    if (rc)
        return rc;
    return used == n ? 0 : CS_EPARSE;
}
