/* The rule language's values and its evaluator: a stack machine that runs
 * the postfix code expr_compile.c emits, without allocating (see expr.h and
 * docs/rules.md). */
#include "rules/expr.h"
#include "rules/expr_int.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/hex.h"
#include "core/json.h"

/* ---- numbers ----------------------------------------------------------- */

static const cs_u256 U256_ZERO = {{0, 0, 0, 0}};

/* Parses "-"? ("0x" hex | decimal) exactly; false if s is not such a number
 * or does not fit 256 bits. */
static bool num_from_text(const char *s, size_t n, cs_xval *out)
{
    bool neg = false;
    if (n > 0 && s[0] == '-') {
        neg = true;
        s++;
        n--;
    }
    if (n == 0 || n > 80)
        return false;
    cs_u256 v;
    if (n > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        if (!cs_u256_from_hex(&v, s, n))
            return false;
    } else {
        for (size_t i = 0; i < n; i++)
            if (s[i] < '0' || s[i] > '9')
                return false;
        if (!cs_u256_from_dec(&v, s, n))
            return false;
    }
    memset(out, 0, sizeof *out);
    out->kind = CS_X_NUM;
    out->n = v;
    out->neg = neg && !cs_u256_is_zero(&v);
    return true;
}

static double u256_to_double(const cs_u256 *a)
{
    double d = 0;
    for (int i = 3; i >= 0; i--)
        d = d * 18446744073709551616.0 + (double)a->w[i];
    return d;
}

static double num_to_double(const cs_xval *x)
{
    double d = u256_to_double(&x->n);
    return x->neg ? -d : d;
}

void cs_xval_from_val(cs_xval *out, const cs_val *v)
{
    memset(out, 0, sizeof *out);
    switch (v->kind) {
    case CS_VAL_NULL:
        out->kind = CS_X_NULL;
        break;
    case CS_VAL_BOOL:
        out->kind = CS_X_BOOL;
        out->b = v->b;
        break;
    case CS_VAL_INT:
        out->kind = CS_X_NUM;
        if (v->neg) {
            out->neg = true;
            out->n = cs_u256_from_u64((uint64_t)(-(v->i + 1)) + 1u);
        } else {
            out->n = cs_u256_from_u64(v->u);
        }
        break;
    case CS_VAL_BIG:
        out->kind = CS_X_NUM;
        cs_u256_from_be(&out->n, v->p, v->n);
        out->neg = v->neg && !cs_u256_is_zero(&out->n);
        break;
    case CS_VAL_DOUBLE:
        out->kind = CS_X_DBL;
        out->d = v->d;
        break;
    case CS_VAL_STR:
        out->kind = CS_X_STR;
        out->s = (const char *)v->p;
        out->len = v->n;
        break;
    case CS_VAL_BYTES:
        out->kind = CS_X_BYTES;
        out->s = (const char *)v->p;
        out->len = v->n;
        break;
    case CS_VAL_ARRAY:
    case CS_VAL_OBJECT:
        out->kind = CS_X_VAL;
        out->v = *v;
        break;
    }
}

/* A value as a number if it is one, or a string or short byte string that
 * reads as one (JSON input keeps integers past 64 bits as strings). */
static bool as_num(const cs_xval *x, cs_xval *out)
{
    if (x->kind == CS_X_NUM) {
        *out = *x;
        return true;
    }
    if (x->kind == CS_X_STR && x->labeled) {
        memset(out, 0, sizeof *out);
        out->kind = CS_X_NUM;
        out->n = x->n;
        return true;
    }
    if (x->kind == CS_X_STR)
        return num_from_text(x->s, x->len, out);
    if (x->kind == CS_X_BYTES && x->len <= 32) {
        memset(out, 0, sizeof *out);
        out->kind = CS_X_NUM;
        cs_u256_from_be(&out->n, (const uint8_t *)x->s, x->len);
        return true;
    }
    return false;
}

/* ---- comparison -------------------------------------------------------- */

bool cs_expr_is_address(const char *s, size_t n)
{
    if (n != 42 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X'))
        return false;
    unsigned v;
    for (size_t i = 2; i < 42; i++)
        if (!hexval(s[i], &v))
            return false;
    return true;
}

static bool is_hex_text(const char *s, size_t n)
{
    if (n < 2 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X') || (n & 1))
        return false;
    unsigned v;
    for (size_t i = 2; i < n; i++)
        if (!hexval(s[i], &v))
            return false;
    return true;
}

static int sgn(int c)
{
    return c < 0 ? -1 : c > 0 ? 1 : 0;
}

static int ci_cmp(const char *a, size_t an, const char *b, size_t bn)
{
    size_t n = an < bn ? an : bn;
    for (size_t i = 0; i < n; i++) {
        int ca = tolower((unsigned char)a[i]), cb = tolower((unsigned char)b[i]);
        if (ca != cb)
            return ca < cb ? -1 : 1;
    }
    return an == bn ? 0 : an < bn ? -1 : 1;
}

/* Bytes against "0x..." text, digit by digit. */
static int bytes_hex_cmp(const uint8_t *b, size_t bn, const char *h, size_t hn)
{
    size_t hb = (hn - 2) / 2;
    if (bn != hb)
        return bn < hb ? -1 : 1;
    for (size_t i = 0; i < bn; i++) {
        unsigned hi = 0, lo = 0;
        hexval(h[2 + 2 * i], &hi);
        hexval(h[3 + 2 * i], &lo);
        unsigned x = hi << 4 | lo;
        if (b[i] != x)
            return b[i] < x ? -1 : 1;
    }
    return 0;
}

static int num_cmp(const cs_xval *a, const cs_xval *b)
{
    if (a->neg != b->neg)
        return a->neg ? -1 : 1;
    int c = cs_u256_cmp(&a->n, &b->n);
    return a->neg ? -c : c;
}

int cs_xval_cmp(const cs_xval *a, const cs_xval *b)
{
    cs_xval na, nb;
    if (a->kind == CS_X_NULL || b->kind == CS_X_NULL)
        return a->kind == b->kind ? 0 : 2;
    if (a->kind == CS_X_STR && b->kind == CS_X_STR) {
        if (cs_expr_is_address(a->s, a->len) && cs_expr_is_address(b->s, b->len))
            return ci_cmp(a->s, a->len, b->s, b->len);
        size_t n = a->len < b->len ? a->len : b->len;
        int c = n ? memcmp(a->s, b->s, n) : 0;
        if (c)
            return sgn(c);
        return a->len == b->len ? 0 : a->len < b->len ? -1 : 1;
    }
    if (a->kind == CS_X_BYTES && b->kind == CS_X_BYTES) {
        if (a->len != b->len)
            return a->len < b->len ? -1 : 1;
        return a->len ? sgn(memcmp(a->s, b->s, a->len)) : 0;
    }
    if (a->kind == CS_X_BYTES && b->kind == CS_X_STR) {
        if (!is_hex_text(b->s, b->len))
            return 2;
        return bytes_hex_cmp((const uint8_t *)a->s, a->len, b->s, b->len);
    }
    if (a->kind == CS_X_STR && b->kind == CS_X_BYTES) {
        int c = cs_xval_cmp(b, a);
        return c == 2 ? 2 : -c;
    }
    if (a->kind == CS_X_BOOL || b->kind == CS_X_BOOL) {
        if (a->kind != b->kind)
            return 2;
        return a->b == b->b ? 0 : a->b ? 1 : -1;
    }
    if (a->kind == CS_X_VAL || b->kind == CS_X_VAL) {
        if (a->kind != b->kind)
            return 2;
        return a->v.raw_len == b->v.raw_len && memcmp(a->v.raw, b->v.raw, a->v.raw_len) == 0 ? 0
                                                                                             : 2;
    }
    if (a->kind == CS_X_DBL || b->kind == CS_X_DBL) {
        double da, db;
        if (a->kind == CS_X_DBL)
            da = a->d;
        else if (as_num(a, &na))
            da = num_to_double(&na);
        else
            return 2;
        if (b->kind == CS_X_DBL)
            db = b->d;
        else if (as_num(b, &nb))
            db = num_to_double(&nb);
        else
            return 2;
        if (isnan(da) || isnan(db))
            return 2;
        return da < db ? -1 : da > db ? 1 : 0;
    }
    /* numbers, and strings or bytes that read as numbers */
    if (!as_num(a, &na) || !as_num(b, &nb))
        return 2;
    return num_cmp(&na, &nb);
}

/* ---- evaluation -------------------------------------------------------- */

typedef struct ectx {
    const cs_expr *e;
    const cs_event *ev;
    char *scratch;
    size_t used;
} ectx;

static bool truthy(const cs_xval *x)
{
    switch (x->kind) {
    case CS_X_NULL:
        return false;
    case CS_X_BOOL:
        return x->b;
    case CS_X_NUM:
        return !cs_u256_is_zero(&x->n);
    case CS_X_DBL:
        return x->d != 0 && !isnan(x->d);
    case CS_X_STR:
    case CS_X_BYTES:
        return x->len > 0;
    case CS_X_VAL:
        return x->v.count > 0;
    }
    return false;
}

static void load_field(const ectx *c, const xfield *f, cs_xval *out)
{
    cs_val v;
    int rc;
    if (f->pos >= 0) {
        cs_val root, item = {0};
        rc = cs_event_field(c->ev, c->e->arg_root, c->e->arg_root_len, &root);
        if (rc == 0) {
            if (root.kind == CS_VAL_ARRAY) {
                rc = cs_val_index(&root, (uint32_t)f->pos, &item);
            } else if (root.kind == CS_VAL_OBJECT) {
                cs_val_iter it;
                cs_val_iter_init(&it, &root);
                const char *k;
                size_t kl;
                rc = CS_ENOTFOUND;
                for (int32_t i = 0; cs_val_next(&it, &k, &kl, &item) == 1; i++)
                    if (i == f->pos) {
                        rc = 0;
                        break;
                    }
            } else {
                rc = CS_ENOTFOUND;
            }
        }
        if (rc == 0 && f->nrest)
            rc = cs_val_path(&item, f->rest, f->nrest, &item);
        v = item;
    } else {
        rc = cs_event_field(c->ev, f->p1, f->n1, &v);
        if (rc && f->n2)
            rc = cs_event_field(c->ev, f->p2, f->n2, &v);
    }
    if (rc) {
        memset(out, 0, sizeof *out);
        out->kind = CS_X_NULL;
        return;
    }
    cs_xval_from_val(out, &v);
}

static int arith_num(enum binop op, const cs_xval *a, const cs_xval *b, cs_xval *r)
{
    cs_u256 m;
    switch (op) {
    case B_ADD:
    case B_SUB: {
        bool bneg = op == B_SUB ? !b->neg : b->neg;
        if (cs_u256_is_zero(&b->n))
            bneg = false;
        if (a->neg == bneg) {
            if (cs_u256_add(&m, &a->n, &b->n))
                return CS_ERANGE;
            set_num(r, &m, a->neg);
        } else if (cs_u256_cmp(&a->n, &b->n) >= 0) {
            cs_u256_sub(&m, &a->n, &b->n);
            set_num(r, &m, a->neg);
        } else {
            cs_u256_sub(&m, &b->n, &a->n);
            set_num(r, &m, bneg);
        }
        return 0;
    }
    case B_MUL:
        if (cs_u256_mul(&m, &a->n, &b->n))
            return CS_ERANGE;
        set_num(r, &m, a->neg != b->neg);
        return 0;
    case B_DIV:
    case B_MOD: {
        cs_u256 q, rem;
        if (!cs_u256_divmod(&a->n, &b->n, &q, &rem))
            return CS_ERANGE; /* division by zero */
        if (op == B_DIV)
            set_num(r, &q, a->neg != b->neg);
        else
            set_num(r, &rem, a->neg);
        return 0;
    }
    case B_POW: {
        if (b->neg)
            return CS_ERANGE;
        cs_u256 one = cs_u256_from_u64(1), base = a->n, acc = one;
        bool odd = b->n.w[0] & 1;
        if (cs_u256_is_zero(&b->n)) {
            set_num(r, &one, false);
            return 0;
        }
        if (cs_u256_cmp(&base, &one) <= 0) { /* 0 or 1 */
            set_num(r, &base, a->neg && odd);
            return 0;
        }
        if (cs_u256_bits(&b->n) > 9) /* base >= 2 and exponent >= 512 */
            return CS_ERANGE;
        uint64_t ex = b->n.w[0];
        while (ex) {
            if (ex & 1)
                if (cs_u256_mul(&acc, &acc, &base))
                    return CS_ERANGE;
            ex >>= 1;
            if (ex && cs_u256_mul(&base, &base, &base))
                return CS_ERANGE;
        }
        set_num(r, &acc, a->neg && odd);
        return 0;
    }
    default:
        return CS_EINVAL;
    }
}

static int arith(enum binop op, const cs_xval *a, const cs_xval *b, cs_xval *r)
{
    cs_xval na, nb;
    if (a->kind == CS_X_DBL || b->kind == CS_X_DBL) {
        double x, y;
        if (a->kind == CS_X_DBL)
            x = a->d;
        else if (as_num(a, &na))
            x = num_to_double(&na);
        else
            return CS_ETYPE;
        if (b->kind == CS_X_DBL)
            y = b->d;
        else if (as_num(b, &nb))
            y = num_to_double(&nb);
        else
            return CS_ETYPE;
        memset(r, 0, sizeof *r);
        r->kind = CS_X_DBL;
        switch (op) {
        case B_ADD:
            r->d = x + y;
            break;
        case B_SUB:
            r->d = x - y;
            break;
        case B_MUL:
            r->d = x * y;
            break;
        case B_DIV:
            if (y == 0)
                return CS_ERANGE;
            r->d = x / y;
            break;
        case B_MOD:
            if (y == 0)
                return CS_ERANGE;
            r->d = fmod(x, y);
            break;
        case B_POW:
            r->d = pow(x, y);
            break;
        default:
            return CS_EINVAL;
        }
        return isfinite(r->d) ? 0 : CS_ERANGE;
    }
    if (!as_num(a, &na) || !as_num(b, &nb))
        return CS_ETYPE;
    return arith_num(op, &na, &nb, r);
}

/* Hex digits, with or without a leading 0x. */
static bool all_hex_chars(const char *s, size_t n)
{
    unsigned v;
    size_t i = n >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') ? 2 : 0;
    for (; i < n; i++)
        if (!hexval(s[i], &v))
            return false;
    return true;
}

static bool ci_mem(const char *h, size_t hn, const char *n, size_t nn, bool ci)
{
    if (nn > hn)
        return false;
    for (size_t i = 0; i + nn <= hn; i++)
        if (ci ? strncasecmp(h + i, n, nn) == 0 : memcmp(h + i, n, nn) == 0)
            return true;
    return false;
}

static int str_op(enum binop op, const cs_xval *a, const cs_xval *b, bool *res)
{
    if (op == B_CONTAINS && a->kind == CS_X_VAL) {
        cs_val_iter it;
        cs_val_iter_init(&it, &a->v);
        const char *k;
        size_t kl;
        cs_val item;
        int rc;
        while ((rc = cs_val_next(&it, &k, &kl, &item)) == 1) {
            if (a->v.kind == CS_VAL_OBJECT) {
                /* an object contains its keys */
                if (b->kind == CS_X_STR && kl == b->len && memcmp(k, b->s, kl) == 0) {
                    *res = true;
                    return 0;
                }
                continue;
            }
            cs_xval x;
            cs_xval_from_val(&x, &item);
            if (cs_xval_cmp(&x, b) == 0) {
                *res = true;
                return 0;
            }
        }
        *res = false;
        return rc < 0 ? rc : 0;
    }
    if (a->kind == CS_X_NULL || b->kind == CS_X_NULL) {
        *res = false;
        return 0;
    }
    if (a->kind == CS_X_BYTES && b->kind == CS_X_STR && is_hex_text(b->s, b->len)) {
        /* bytes against hex text: compare digit pairs */
        size_t nb = (b->len - 2) / 2;
        if (nb > a->len) {
            *res = false;
            return 0;
        }
        const uint8_t *h = (const uint8_t *)a->s;
        for (size_t off = 0; off + nb <= a->len; off++) {
            if (op == B_STARTS && off > 0)
                break;
            if (op == B_ENDS && off != a->len - nb)
                continue;
            if (bytes_hex_cmp(h + off, nb, b->s, b->len) == 0) {
                *res = true;
                return 0;
            }
        }
        *res = false;
        return 0;
    }
    if (a->kind != CS_X_STR || b->kind != CS_X_STR)
        return CS_ETYPE;
    /* 0x-hex text (addresses, hashes) matches in any case */
    bool ci = is_hex_text(a->s, a->len) && all_hex_chars(b->s, b->len);
    if (b->len > a->len) {
        *res = false;
        return 0;
    }
    switch (op) {
    case B_CONTAINS:
        *res = ci_mem(a->s, a->len, b->s, b->len, ci);
        break;
    case B_STARTS:
        *res = ci ? strncasecmp(a->s, b->s, b->len) == 0 : memcmp(a->s, b->s, b->len) == 0;
        break;
    default: {
        const char *t = a->s + a->len - b->len;
        *res = ci ? strncasecmp(t, b->s, b->len) == 0 : memcmp(t, b->s, b->len) == 0;
        break;
    }
    }
    return 0;
}

static char *scratch_alloc(ectx *c, size_t n)
{
    if (!c->scratch || c->used + n > CS_EXPR_SCRATCH)
        return NULL;
    char *p = c->scratch + c->used;
    c->used += n;
    return p;
}

/* subnet("1.2.3.4:8333", 16) -> "1.2.0.0/16"; IPv6 in brackets or bare. */
static int fn_subnet(ectx *c, const cs_xval *a, const cs_xval *b, cs_xval *r)
{
    cs_xval nb;
    if (a->kind != CS_X_STR || !as_num(b, &nb) || nb.neg || nb.n.w[1] || nb.n.w[2] || nb.n.w[3])
        return CS_ETYPE;
    char host[64];
    const char *s = a->s;
    size_t n = a->len;
    if (n && s[0] == '[') {
        const char *e = memchr(s, ']', n);
        if (!e)
            return CS_EPARSE;
        s++;
        n = (size_t)(e - s);
    } else {
        const char *colon = memchr(s, ':', n);
        if (colon && !memchr(colon + 1, ':', n - (size_t)(colon + 1 - s)))
            n = (size_t)(colon - s); /* a.b.c.d:port */
    }
    if (n >= sizeof host)
        return CS_EPARSE;
    memcpy(host, s, n);
    host[n] = 0;
    uint8_t addr[16];
    int fam = AF_INET, alen = 4;
    if (inet_pton(AF_INET, host, addr) != 1) {
        fam = AF_INET6;
        alen = 16;
        if (inet_pton(AF_INET6, host, addr) != 1) {
            /* not an IP address (an onion name...): the host itself */
            char *o = scratch_alloc(c, n);
            if (!o)
                return CS_ELIMIT;
            memcpy(o, host, n);
            memset(r, 0, sizeof *r);
            r->kind = CS_X_STR;
            r->s = o;
            r->len = n;
            return 0;
        }
    }
    uint64_t bits = nb.n.w[0];
    if (bits > (uint64_t)alen * 8)
        bits = (uint64_t)alen * 8;
    for (int i = 0; i < alen; i++) {
        int keep = (int)bits - i * 8;
        if (keep <= 0)
            addr[i] = 0;
        else if (keep < 8)
            addr[i] &= (uint8_t)(0xff << (8 - keep));
    }
    char txt[INET6_ADDRSTRLEN + 8];
    if (!inet_ntop(fam, addr, txt, INET6_ADDRSTRLEN))
        return CS_EPARSE;
    size_t tl = strlen(txt);
    tl += (size_t)snprintf(txt + tl, sizeof txt - tl, "/%u", (unsigned)bits);
    char *o = scratch_alloc(c, tl);
    if (!o)
        return CS_ELIMIT;
    memcpy(o, txt, tl);
    memset(r, 0, sizeof *r);
    r->kind = CS_X_STR;
    r->s = o;
    r->len = tl;
    return 0;
}

static int call(ectx *c, enum fn f, cs_xval *args, cs_xval *r)
{
    switch (f) {
    case FN_LEN: {
        cs_u256 n;
        if (args[0].kind == CS_X_STR || args[0].kind == CS_X_BYTES)
            n = cs_u256_from_u64(args[0].len);
        else if (args[0].kind == CS_X_VAL)
            n = cs_u256_from_u64(args[0].v.count);
        else if (args[0].kind == CS_X_NULL)
            n = U256_ZERO;
        else
            return CS_ETYPE;
        set_num(r, &n, false);
        return 0;
    }
    case FN_LOWER: {
        if (args[0].kind != CS_X_STR)
            return CS_ETYPE;
        char *o = scratch_alloc(c, args[0].len);
        if (!o && args[0].len)
            return CS_ELIMIT;
        for (size_t i = 0; i < args[0].len; i++)
            o[i] = (char)tolower((unsigned char)args[0].s[i]);
        memset(r, 0, sizeof *r);
        r->kind = CS_X_STR;
        r->s = o ? o : "";
        r->len = args[0].len;
        return 0;
    }
    case FN_SUBNET:
        return fn_subnet(c, &args[0], &args[1], r);
    }
    return CS_EINVAL;
}

static int run(ectx *c, cs_xval *out)
{
    const cs_expr *e = c->e;
    cs_xval st[CS_EXPR_MAX_STACK + 1];
    int sp = 0;
    size_t pc = 0;
    while (pc < e->ncode) {
        const insn *in = &e->code[pc++];
        switch (in->op) {
        case OP_CONST:
            st[sp++] = e->consts[in->arg];
            break;
        case OP_FIELD:
            load_field(c, &e->fields[in->arg], &st[sp++]);
            break;
        case OP_NOT:
            set_bool(&st[sp - 1], !truthy(&st[sp - 1]));
            break;
        case OP_TOBOOL:
            set_bool(&st[sp - 1], truthy(&st[sp - 1]));
            break;
        case OP_NEG: {
            cs_xval *x = &st[sp - 1], n;
            if (x->kind == CS_X_DBL) {
                x->d = -x->d;
            } else if (as_num(x, &n)) {
                set_num(x, &n.n, !n.neg);
            } else {
                return CS_ETYPE;
            }
            break;
        }
        case OP_ENUM: {
            cs_xval *x = &st[sp - 1];
            const cs_expr_enum *en = &e->enums[in->arg];
            const char *const *labels = en->labels;
            if (x->kind == CS_X_NUM && !x->neg && !x->n.w[1] && !x->n.w[2] && !x->n.w[3] &&
                (!en->type || strcmp(en->type, c->ev->type) == 0)) {
                uint64_t i = 0;
                while (i < x->n.w[0] && labels[i])
                    i++;
                if (labels[i] && i == x->n.w[0]) {
                    cs_u256 n = x->n;
                    memset(x, 0, sizeof *x);
                    x->kind = CS_X_STR;
                    x->s = labels[i];
                    x->len = strlen(labels[i]);
                    x->labeled = true;
                    x->n = n;
                }
            }
            break;
        }
        case OP_JF:
            if (!truthy(&st[sp - 1])) {
                set_bool(&st[sp - 1], false);
                pc = in->arg;
            } else {
                sp--;
            }
            break;
        case OP_JT:
            if (truthy(&st[sp - 1])) {
                set_bool(&st[sp - 1], true);
                pc = in->arg;
            } else {
                sp--;
            }
            break;
        case OP_CALL: {
            cs_xval r;
            int rc = call(c, (enum fn)in->arg, &st[sp - in->n], &r);
            if (rc)
                return rc;
            sp -= in->n;
            st[sp++] = r;
            break;
        }
        case OP_BIN: {
            cs_xval *a = &st[sp - 2], *b = &st[sp - 1];
            enum binop op = (enum binop)in->arg;
            int rc = 0, cmp;
            bool res = false;
            cs_xval r;
            switch (op) {
            case B_EQ:
                set_bool(&r, cs_xval_cmp(a, b) == 0);
                break;
            case B_NE:
                set_bool(&r, cs_xval_cmp(a, b) != 0);
                break;
            case B_LT:
            case B_LE:
            case B_GT:
            case B_GE:
                cmp = cs_xval_cmp(a, b);
                if (cmp == 2)
                    res = false;
                else if (op == B_LT)
                    res = cmp < 0;
                else if (op == B_LE)
                    res = cmp <= 0;
                else if (op == B_GT)
                    res = cmp > 0;
                else
                    res = cmp >= 0;
                set_bool(&r, res);
                break;
            case B_CONTAINS:
            case B_STARTS:
            case B_ENDS:
                rc = str_op(op, a, b, &res);
                if (rc == CS_ETYPE) {
                    res = false;
                    rc = 0;
                }
                set_bool(&r, res);
                break;
            default:
                rc = arith(op, a, b, &r);
                break;
            }
            if (rc)
                return rc;
            sp--;
            st[sp - 1] = r;
            break;
        }
        default:
            return CS_EINVAL;
        }
    }
    if (sp != 1)
        return CS_EINVAL;
    *out = st[0];
    return 0;
}

int cs_expr_eval(const cs_expr *e, const cs_event *ev, char *scratch, cs_xval *out)
{
    ectx c = {e, ev, scratch, 0};
    return run(&c, out);
}

int cs_expr_test(const cs_expr *e, const cs_event *ev)
{
    char scratch[CS_EXPR_SCRATCH];
    cs_xval r;
    int rc = cs_expr_eval(e, ev, scratch, &r);
    if (rc)
        return rc;
    return truthy(&r) ? 1 : 0;
}

int cs_expr_eval_text(const cs_expr *e, const cs_event *ev, char *buf, size_t cap)
{
    char scratch[CS_EXPR_SCRATCH];
    cs_xval r;
    int rc = cs_expr_eval(e, ev, scratch, &r);
    if (rc)
        return rc;
    if (cap == 0)
        return CS_ELIMIT;
    size_t n = 0;
    static const char hx[] = "0123456789abcdef";
    switch (r.kind) {
    case CS_X_NULL:
        n = 0;
        break;
    case CS_X_BOOL:
        n = (size_t)snprintf(buf, cap, "%s", r.b ? "true" : "false");
        break;
    case CS_X_NUM: {
        char d[80];
        size_t dl = cs_u256_to_dec(&r.n, d);
        n = (size_t)snprintf(buf, cap, "%s%s", r.neg ? "-" : "", d);
        (void)dl;
        break;
    }
    case CS_X_DBL:
        n = (size_t)snprintf(buf, cap, "%.17g", r.d);
        break;
    case CS_X_STR:
        n = r.len;
        if (n < cap)
            memcpy(buf, r.s, n);
        break;
    case CS_X_BYTES:
        n = 2 + 2 * r.len;
        if (n < cap) {
            buf[0] = '0';
            buf[1] = 'x';
            for (size_t i = 0; i < r.len; i++) {
                buf[2 + 2 * i] = hx[(uint8_t)r.s[i] >> 4];
                buf[3 + 2 * i] = hx[(uint8_t)r.s[i] & 15];
            }
        }
        break;
    case CS_X_VAL: {
        cs_buf b;
        cs_buf_init(&b, cap);
        rc = cs_json_value(&b, &r.v);
        n = b.len;
        if (rc == 0 && n < cap)
            memcpy(buf, b.data, n);
        cs_buf_free(&b);
        if (rc)
            return rc;
        break;
    }
    }
    if (n >= cap)
        return CS_ELIMIT;
    buf[n] = 0;
    return (int)n;
}
