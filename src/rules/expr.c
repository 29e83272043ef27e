/* The rule language: a recursive-descent compiler that emits postfix code,
 * and a stack machine that runs it without allocating (see expr.h and
 * docs/rules.md for the grammar). */
#include "rules/expr.h"

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

/* ---- compiled form ----------------------------------------------------- */

enum op {
    OP_CONST,  /* push consts[arg] */
    OP_FIELD,  /* push fields[arg] resolved on the event */
    OP_BIN,    /* pop b, pop a, push a <arg> b */
    OP_NOT,    /* logical not of the top */
    OP_NEG,    /* arithmetic negation of the top */
    OP_TOBOOL, /* replace the top by its truth value */
    OP_JF,     /* top falsy: replace by false and jump to arg; else pop */
    OP_JT,     /* top truthy: replace by true and jump to arg; else pop */
    OP_CALL,   /* call function arg with n arguments */
    OP_ENUM,   /* an integer on top becomes enums[arg]'s label */
};

enum binop {
    B_EQ,
    B_NE,
    B_LT,
    B_LE,
    B_GT,
    B_GE,
    B_ADD,
    B_SUB,
    B_MUL,
    B_DIV,
    B_MOD,
    B_POW,
    B_CONTAINS,
    B_STARTS,
    B_ENDS,
};

enum fn { FN_LEN, FN_LOWER, FN_SUBNET };

typedef struct insn {
    uint8_t op;
    uint8_t n;
    uint32_t arg;
} insn;

typedef struct xfield {
    const char *p1; /* first path tried */
    uint32_t n1;
    const char *p2; /* fallback path; n2 == 0: none */
    uint32_t n2;
    int32_t pos;      /* $N: position in the argument root; -1 otherwise */
    const char *rest; /* after $N: ".x" or "[0]..." */
    uint32_t nrest;
} xfield;

struct cs_expr {
    insn *code;
    size_t ncode;
    cs_xval *consts;
    size_t nconsts;
    xfield *fields;
    size_t nfields;
    char *pool; /* strings of consts and fields */
    char *src;
    const char *arg_root;
    size_t arg_root_len;
    int max_stack;
    const cs_expr_enum *enums; /* borrowed from the options */
};

/* ---- numbers ----------------------------------------------------------- */

static const cs_u256 U256_ZERO = {{0, 0, 0, 0}};

/* The digit value of c in *v (core/hex.h); false if it is not one. */
static inline bool hexval(char c, unsigned *v)
{
    int d = cs_hex_digit(c);
    *v = (unsigned)d;
    return d >= 0;
}

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

static void set_num(cs_xval *x, const cs_u256 *m, bool neg)
{
    memset(x, 0, sizeof *x);
    x->kind = CS_X_NUM;
    x->n = *m;
    x->neg = neg && !cs_u256_is_zero(m);
}

static void set_bool(cs_xval *x, bool b)
{
    memset(x, 0, sizeof *x);
    x->kind = CS_X_BOOL;
    x->b = b;
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

/* ---- lexer ------------------------------------------------------------- */

enum tok {
    T_EOF,
    T_NUM,
    T_DBL,
    T_STR,
    T_PATH,
    T_POS,
    T_LP,
    T_RP,
    T_COMMA,
    T_EQ,
    T_NE,
    T_LT,
    T_LE,
    T_GT,
    T_GE,
    T_PLUS,
    T_MINUS,
    T_STAR,
    T_SLASH,
    T_PCT,
    T_CARET,
    T_NOT,
    T_AND,
    T_OR,
    T_TRUE,
    T_FALSE,
    T_NULL,
    T_CONTAINS,
    T_STARTS,
    T_ENDS,
};

typedef struct parser {
    const char *src;
    size_t n;
    size_t pos;
    /* current token */
    enum tok t;
    size_t tstart, tlen;
    cs_u256 num;
    double dbl;
    int32_t posidx;
    /* output */
    cs_buf code;   /* insn */
    cs_buf consts; /* cs_xval, strings as pool offsets in .s */
    cs_buf fields; /* xfield, strings as pool offsets */
    cs_buf pool;
    cs_buf strtmp; /* string literal being decoded */
    const cs_expr_opts *opts;
    int depth, max_depth, nest;
    char *err;
    size_t errlen;
    bool failed;
} parser;

static void perr(parser *p, size_t at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void perr(parser *p, size_t at, const char *fmt, ...)
{
    if (p->failed)
        return;
    p->failed = true;
    if (!p->errlen)
        return;
    unsigned line = 1, col = 1;
    for (size_t i = 0; i < at && i < p->n; i++) {
        if (p->src[i] == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    int k = snprintf(p->err, p->errlen, "%u:%u: ", line, col);
    if (k < 0 || (size_t)k >= p->errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err + k, p->errlen - (size_t)k, fmt, ap);
    va_end(ap);
}

static bool is_ident_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_ident_char(char c)
{
    return is_ident_start(c) || (c >= '0' && c <= '9');
}

static bool kw(const char *s, size_t n, const char *k)
{
    return strlen(k) == n && strncasecmp(s, k, n) == 0;
}

/* After an identifier or $N: `.name` and `[digits]` steps, no spaces. */
static bool lex_path_rest(parser *p, size_t *i)
{
    const char *s = p->src;
    while (*i < p->n) {
        if (s[*i] == '.' && *i + 1 < p->n && is_ident_start(s[*i + 1])) {
            (*i)++;
            while (*i < p->n && is_ident_char(s[*i]))
                (*i)++;
        } else if (s[*i] == '[') {
            size_t j = *i + 1;
            while (j < p->n && s[j] >= '0' && s[j] <= '9')
                j++;
            if (j == *i + 1 || j >= p->n || s[j] != ']') {
                perr(p, *i, "expected an array index like [0]");
                return false;
            }
            if (j - *i - 1 > 9) {
                perr(p, *i + 1, "array index too large");
                return false;
            }
            *i = j + 1;
        } else {
            break;
        }
    }
    return true;
}

static void next(parser *p)
{
    const char *s = p->src;
    while (p->pos < p->n &&
           (s[p->pos] == ' ' || s[p->pos] == '\t' || s[p->pos] == '\n' || s[p->pos] == '\r'))
        p->pos++;
    p->tstart = p->pos;
    p->tlen = 0;
    if (p->failed || p->pos >= p->n) {
        p->t = T_EOF;
        return;
    }
    size_t i = p->pos;
    char c = s[i];
    char d = i + 1 < p->n ? s[i + 1] : 0;
#define TOK(tt, len)                                                                               \
    do {                                                                                           \
        p->t = tt;                                                                                 \
        p->pos = i + (len);                                                                        \
        p->tlen = (len);                                                                           \
        return;                                                                                    \
    } while (0)
    switch (c) {
    case '(':
        TOK(T_LP, 1);
    case ')':
        TOK(T_RP, 1);
    case ',':
        TOK(T_COMMA, 1);
    case '+':
        TOK(T_PLUS, 1);
    case '-':
        TOK(T_MINUS, 1);
    case '*':
        TOK(T_STAR, 1);
    case '/':
        TOK(T_SLASH, 1);
    case '%':
        TOK(T_PCT, 1);
    case '^':
        TOK(T_CARET, 1);
    case '=':
        if (d == '=')
            TOK(T_EQ, 2);
        perr(p, i, "unexpected '=' (compare with '==')");
        p->t = T_EOF;
        return;
    case '!':
        if (d == '=')
            TOK(T_NE, 2);
        TOK(T_NOT, 1);
    case '<':
        if (d == '=')
            TOK(T_LE, 2);
        TOK(T_LT, 1);
    case '>':
        if (d == '=')
            TOK(T_GE, 2);
        TOK(T_GT, 1);
    case '&':
        if (d == '&')
            TOK(T_AND, 2);
        perr(p, i, "unexpected '&' (logical and is '&&' or AND)");
        p->t = T_EOF;
        return;
    case '|':
        if (d == '|')
            TOK(T_OR, 2);
        perr(p, i, "unexpected '|' (logical or is '||' or OR)");
        p->t = T_EOF;
        return;
    default:
        break;
    }
#undef TOK
    if (c == '"' || c == '\'') {
        char q = c;
        size_t j = i + 1;
        p->strtmp.len = 0;
        while (j < p->n && s[j] != q) {
            char ch = s[j];
            if (ch == '\\') {
                if (j + 1 >= p->n)
                    break;
                char e = s[j + 1];
                switch (e) {
                case 'n':
                    ch = '\n';
                    break;
                case 't':
                    ch = '\t';
                    break;
                case '\\':
                case '"':
                case '\'':
                    ch = e;
                    break;
                default:
                    perr(p, j, "unknown escape '\\%c' in string", e);
                    p->t = T_EOF;
                    return;
                }
                j++;
            }
            if (cs_buf_putc(&p->strtmp, ch)) {
                perr(p, i, "out of memory");
                p->t = T_EOF;
                return;
            }
            j++;
        }
        if (j >= p->n) {
            perr(p, i, "unterminated string");
            p->t = T_EOF;
            return;
        }
        p->t = T_STR;
        p->pos = j + 1;
        p->tlen = p->pos - i;
        return;
    }
    if (c >= '0' && c <= '9') {
        size_t j = i;
        if (c == '0' && (d == 'x' || d == 'X')) {
            j = i + 2;
            unsigned v;
            while (j < p->n && hexval(s[j], &v))
                j++;
            if (j == i + 2) {
                perr(p, i, "expected hex digits after 0x");
                p->t = T_EOF;
                return;
            }
            if (j < p->n && is_ident_char(s[j])) {
                perr(p, j, "unexpected '%c' in number", s[j]);
                p->t = T_EOF;
                return;
            }
            if (!cs_u256_from_hex(&p->num, s + i, j - i)) {
                perr(p, i, "number does not fit 256 bits");
                p->t = T_EOF;
                return;
            }
            p->t = T_NUM;
        } else {
            while (j < p->n && s[j] >= '0' && s[j] <= '9')
                j++;
            if (j + 1 < p->n && s[j] == '.' && s[j + 1] >= '0' && s[j + 1] <= '9') {
                j++;
                while (j < p->n && s[j] >= '0' && s[j] <= '9')
                    j++;
                char tmp[64];
                if (j - i >= sizeof tmp) {
                    perr(p, i, "number too long");
                    p->t = T_EOF;
                    return;
                }
                memcpy(tmp, s + i, j - i);
                tmp[j - i] = 0;
                p->dbl = strtod(tmp, NULL);
                p->t = T_DBL;
            } else {
                if (j - i > 78 || !cs_u256_from_dec(&p->num, s + i, j - i)) {
                    perr(p, i, "number does not fit 256 bits");
                    p->t = T_EOF;
                    return;
                }
                p->t = T_NUM;
            }
            if (j < p->n && is_ident_char(s[j])) {
                perr(p, j, "unexpected '%c' in number", s[j]);
                p->t = T_EOF;
                return;
            }
        }
        p->pos = j;
        p->tlen = j - i;
        return;
    }
    if (c == '$') {
        size_t j = i + 1;
        uint32_t v = 0;
        while (j < p->n && s[j] >= '0' && s[j] <= '9' && j - i < 6) {
            v = v * 10 + (uint32_t)(s[j] - '0');
            j++;
        }
        if (j == i + 1 || (j < p->n && s[j] >= '0' && s[j] <= '9')) {
            perr(p, i, "expected a position like $0");
            p->t = T_EOF;
            return;
        }
        p->posidx = (int32_t)v;
        if (!lex_path_rest(p, &j)) {
            p->t = T_EOF;
            return;
        }
        p->t = T_POS;
        p->pos = j;
        p->tlen = j - i;
        return;
    }
    if (is_ident_start(c)) {
        size_t j = i;
        while (j < p->n && is_ident_char(s[j]))
            j++;
        size_t wl = j - i;
        static const struct {
            const char *k;
            enum tok t;
        } kws[] = {{"and", T_AND},           {"or", T_OR},
                   {"not", T_NOT},           {"true", T_TRUE},
                   {"false", T_FALSE},       {"null", T_NULL},
                   {"contains", T_CONTAINS}, {"starts_with", T_STARTS},
                   {"ends_with", T_ENDS}};
        bool dotted = j < p->n && (s[j] == '.' || s[j] == '[');
        if (!dotted)
            for (size_t k = 0; k < sizeof kws / sizeof *kws; k++)
                if (kw(s + i, wl, kws[k].k)) {
                    p->t = kws[k].t;
                    p->pos = j;
                    p->tlen = wl;
                    return;
                }
        if (!lex_path_rest(p, &j)) {
            p->t = T_EOF;
            return;
        }
        p->t = T_PATH;
        p->pos = j;
        p->tlen = j - i;
        return;
    }
    perr(p, i, "unexpected character '%c'", (c >= 32 && c < 127) ? c : '?');
    p->t = T_EOF;
}

/* ---- code emission ----------------------------------------------------- */

static size_t emit(parser *p, uint8_t op, uint8_t n, uint32_t arg, int stack_delta)
{
    insn in = {op, n, arg};
    size_t at = p->code.len / sizeof(insn);
    if (at >= CS_EXPR_MAX_CODE) {
        perr(p, p->tstart, "expression too long");
        return at;
    }
    if (cs_buf_append(&p->code, &in, sizeof in))
        perr(p, p->tstart, "out of memory");
    p->depth += stack_delta;
    if (p->depth > p->max_depth)
        p->max_depth = p->depth;
    if (p->max_depth > CS_EXPR_MAX_STACK)
        perr(p, p->tstart, "expression nests too deeply");
    return at;
}

static void patch(parser *p, size_t at)
{
    if (p->failed)
        return;
    insn *code = (insn *)p->code.data;
    code[at].arg = (uint32_t)(p->code.len / sizeof(insn));
}

static uint32_t pool_add(parser *p, const char *s, size_t n)
{
    uint32_t off = (uint32_t)p->pool.len;
    if (cs_buf_append(&p->pool, s, n) || cs_buf_putc(&p->pool, 0))
        perr(p, p->tstart, "out of memory");
    return off;
}

static void emit_const(parser *p, const cs_xval *x)
{
    uint32_t k = (uint32_t)(p->consts.len / sizeof(cs_xval));
    if (cs_buf_append(&p->consts, x, sizeof *x))
        perr(p, p->tstart, "out of memory");
    emit(p, OP_CONST, 0, k, 1);
}

static void emit_field(parser *p)
{
    xfield f;
    memset(&f, 0, sizeof f);
    const char *s = p->src + p->tstart;
    size_t n = p->tlen;
    const cs_expr_opts *o = p->opts;
    if (p->t == T_POS) {
        f.pos = p->posidx;
        size_t k = 1;
        while (k < n && s[k] >= '0' && s[k] <= '9')
            k++;
        if (k < n && s[k] == '.')
            k++;
        f.nrest = (uint32_t)(n - k);
        f.rest = (const char *)(uintptr_t)pool_add(p, s + k, n - k);
    } else {
        f.pos = -1;
        size_t head = 0;
        while (head < n && s[head] != '.' && s[head] != '[')
            head++;
        const char *alias = NULL;
        for (size_t i = 0; o && i < o->naliases; i++)
            if (strlen(o->aliases[i].name) == head && memcmp(o->aliases[i].name, s, head) == 0)
                alias = o->aliases[i].path;
        cs_buf tmp;
        cs_buf_init(&tmp, 0);
        if (alias) {
            cs_buf_append_str(&tmp, alias);
            cs_buf_append(&tmp, s + head, n - head);
        } else {
            cs_buf_append(&tmp, s, n);
        }
        const char *path = (const char *)tmp.data;
        size_t plen = tmp.len;
        size_t rl = o && o->arg_root ? strlen(o->arg_root) : 0;
        bool rooted = rl && plen > rl && memcmp(path, o->arg_root, rl) == 0 &&
                      (path[rl] == '.' || path[rl] == '[');
        if (rl && !alias && !rooted) {
            /* bare name: the argument first, then the event field */
            cs_buf full;
            cs_buf_init(&full, 0);
            cs_buf_append(&full, o->arg_root, rl);
            cs_buf_putc(&full, '.');
            cs_buf_append(&full, path, plen);
            f.n1 = (uint32_t)full.len;
            f.p1 = (const char *)(uintptr_t)pool_add(p, (const char *)full.data, full.len);
            cs_buf_free(&full);
            f.n2 = (uint32_t)plen;
            f.p2 = (const char *)(uintptr_t)pool_add(p, path, plen);
        } else {
            f.n1 = (uint32_t)plen;
            f.p1 = (const char *)(uintptr_t)pool_add(p, path, plen);
        }
        cs_buf_free(&tmp);
    }
    uint32_t k = (uint32_t)(p->fields.len / sizeof(xfield));
    if (cs_buf_append(&p->fields, &f, sizeof f))
        perr(p, p->tstart, "out of memory");
    emit(p, OP_FIELD, 0, k, 1);
    for (size_t i = 0; o && p->t == T_PATH && i < o->nenums; i++)
        if (strlen(o->enums[i].name) == n && memcmp(o->enums[i].name, s, n) == 0)
            emit(p, OP_ENUM, 0, (uint32_t)i, 0);
}

/* ---- grammar ----------------------------------------------------------- */

static void parse_or(parser *p);

static const char *tok_name(enum tok t)
{
    switch (t) {
    case T_EOF:
        return "end of input";
    case T_RP:
        return "')'";
    case T_COMMA:
        return "','";
    default:
        return NULL;
    }
}

static void expect_operand_error(parser *p)
{
    if (p->t == T_EOF && p->tstart >= p->n)
        perr(p, p->tstart, "expected a value, found end of input");
    else
        perr(p, p->tstart, "expected a value, found '%.*s'", (int)(p->tlen ? p->tlen : 1),
             p->src + p->tstart);
}

static void parse_primary(parser *p)
{
    if (p->failed)
        return;
    cs_xval x;
    memset(&x, 0, sizeof x);
    switch (p->t) {
    case T_NUM:
        set_num(&x, &p->num, false);
        emit_const(p, &x);
        next(p);
        return;
    case T_DBL:
        x.kind = CS_X_DBL;
        x.d = p->dbl;
        emit_const(p, &x);
        next(p);
        return;
    case T_STR:
        x.kind = CS_X_STR;
        x.len = p->strtmp.len;
        x.s = (const char *)(uintptr_t)pool_add(p, (const char *)p->strtmp.data, p->strtmp.len);
        emit_const(p, &x);
        next(p);
        return;
    case T_TRUE:
    case T_FALSE:
        set_bool(&x, p->t == T_TRUE);
        emit_const(p, &x);
        next(p);
        return;
    case T_NULL:
        x.kind = CS_X_NULL;
        emit_const(p, &x);
        next(p);
        return;
    case T_POS:
        emit_field(p);
        next(p);
        return;
    case T_PATH: {
        size_t at = p->tstart, len = p->tlen;
        /* a function call? */
        size_t k = p->pos;
        while (k < p->n && (p->src[k] == ' ' || p->src[k] == '\t'))
            k++;
        if (k < p->n && p->src[k] == '(') {
            static const struct {
                const char *name;
                enum fn f;
                int nargs;
            } fns[] = {{"len", FN_LEN, 1}, {"lower", FN_LOWER, 1}, {"subnet", FN_SUBNET, 2}};
            int which = -1;
            for (size_t i = 0; i < sizeof fns / sizeof *fns; i++)
                if (kw(p->src + at, len, fns[i].name))
                    which = (int)i;
            if (which < 0) {
                perr(p, at, "unknown function '%.*s' (known: len, lower, subnet)", (int)len,
                     p->src + at);
                return;
            }
            next(p); /* name */
            next(p); /* ( */
            int nargs = 0;
            if (p->t != T_RP) {
                for (;;) {
                    parse_or(p);
                    nargs++;
                    if (p->failed)
                        return;
                    if (p->t != T_COMMA)
                        break;
                    next(p);
                }
            }
            if (p->t != T_RP) {
                perr(p, p->tstart, "expected ')' or ',' in call of %s", fns[which].name);
                return;
            }
            if (nargs != fns[which].nargs) {
                perr(p, at, "%s takes %d argument%s, not %d", fns[which].name, fns[which].nargs,
                     fns[which].nargs == 1 ? "" : "s", nargs);
                return;
            }
            next(p);
            emit(p, OP_CALL, (uint8_t)nargs, (uint32_t)fns[which].f, 1 - nargs);
            return;
        }
        emit_field(p);
        next(p);
        return;
    }
    case T_LP: {
        size_t open = p->tstart;
        next(p);
        parse_or(p);
        if (p->failed)
            return;
        if (p->t != T_RP) {
            const char *tn = tok_name(p->t);
            if (tn)
                perr(p, p->tstart, "expected ')' to close '(' at column %zu, found %s", open + 1,
                     tn);
            else
                perr(p, p->tstart, "expected ')' to close '(' at column %zu, found '%.*s'",
                     open + 1, (int)p->tlen, p->src + p->tstart);
            return;
        }
        next(p);
        return;
    }
    default:
        expect_operand_error(p);
        return;
    }
}

static void parse_unary(parser *p);

static void parse_pow(parser *p)
{
    parse_primary(p);
    if (!p->failed && p->t == T_CARET) {
        next(p);
        parse_unary(p); /* right associative: 2^3^2 == 2^9 */
        emit(p, OP_BIN, 0, B_POW, -1);
    }
}

static void parse_unary(parser *p)
{
    if (++p->nest > CS_EXPR_MAX_STACK) {
        perr(p, p->tstart, "expression nests too deeply");
        return;
    }
    if (p->t == T_MINUS) {
        next(p);
        parse_unary(p);
        emit(p, OP_NEG, 0, 0, 0);
    } else {
        parse_pow(p);
    }
    p->nest--;
}

static void parse_mul(parser *p)
{
    parse_unary(p);
    while (!p->failed && (p->t == T_STAR || p->t == T_SLASH || p->t == T_PCT)) {
        enum binop b = p->t == T_STAR ? B_MUL : p->t == T_SLASH ? B_DIV : B_MOD;
        next(p);
        parse_unary(p);
        emit(p, OP_BIN, 0, b, -1);
    }
}

static void parse_add(parser *p)
{
    parse_mul(p);
    while (!p->failed && (p->t == T_PLUS || p->t == T_MINUS)) {
        enum binop b = p->t == T_PLUS ? B_ADD : B_SUB;
        next(p);
        parse_mul(p);
        emit(p, OP_BIN, 0, b, -1);
    }
}

static int cmp_op(enum tok t)
{
    switch (t) {
    case T_EQ:
        return B_EQ;
    case T_NE:
        return B_NE;
    case T_LT:
        return B_LT;
    case T_LE:
        return B_LE;
    case T_GT:
        return B_GT;
    case T_GE:
        return B_GE;
    case T_CONTAINS:
        return B_CONTAINS;
    case T_STARTS:
        return B_STARTS;
    case T_ENDS:
        return B_ENDS;
    default:
        return -1;
    }
}

static void parse_cmp(parser *p)
{
    parse_add(p);
    int b = cmp_op(p->t);
    if (!p->failed && b >= 0) {
        next(p);
        parse_add(p);
        emit(p, OP_BIN, 0, (uint32_t)b, -1);
        if (!p->failed && cmp_op(p->t) >= 0)
            perr(p, p->tstart, "comparisons do not chain; use AND (a < b AND b < c)");
    }
}

static void parse_not(parser *p)
{
    if (++p->nest > CS_EXPR_MAX_STACK) {
        perr(p, p->tstart, "expression nests too deeply");
        return;
    }
    if (p->t == T_NOT) {
        next(p);
        parse_not(p);
        emit(p, OP_NOT, 0, 0, 0);
    } else {
        parse_cmp(p);
    }
    p->nest--;
}

static void parse_and(parser *p)
{
    parse_not(p);
    while (!p->failed && p->t == T_AND) {
        next(p);
        size_t j = emit(p, OP_JF, 0, 0, -1);
        parse_not(p);
        emit(p, OP_TOBOOL, 0, 0, 0);
        patch(p, j);
    }
}

static void parse_or(parser *p)
{
    if (++p->nest > CS_EXPR_MAX_STACK) {
        perr(p, p->tstart, "expression nests too deeply");
        return;
    }
    parse_and(p);
    while (!p->failed && p->t == T_OR) {
        next(p);
        size_t j = emit(p, OP_JT, 0, 0, -1);
        parse_and(p);
        emit(p, OP_TOBOOL, 0, 0, 0);
        patch(p, j);
    }
    p->nest--;
}

int cs_expr_compile(const char *src, size_t n, const cs_expr_opts *opts, cs_expr **out, char *err,
                    size_t errlen)
{
    static const cs_expr_opts none = {0};
    if (errlen)
        err[0] = 0;
    *out = NULL;
    parser p;
    memset(&p, 0, sizeof p);
    p.src = src;
    p.n = n;
    p.opts = opts ? opts : &none;
    p.err = err;
    p.errlen = errlen;
    cs_buf_init(&p.code, 0);
    cs_buf_init(&p.consts, 0);
    cs_buf_init(&p.fields, 0);
    cs_buf_init(&p.pool, 0);
    cs_buf_init(&p.strtmp, CS_EXPR_MAX_SOURCE);
    if (n > CS_EXPR_MAX_SOURCE) {
        perr(&p, 0, "expression longer than %d bytes", CS_EXPR_MAX_SOURCE);
    } else if (memchr(src, 0, n)) {
        perr(&p, (size_t)((const char *)memchr(src, 0, n) - src), "NUL byte in expression");
    } else {
        next(&p);
        if (p.t == T_EOF && !p.failed)
            perr(&p, p.tstart, "empty expression");
        parse_or(&p);
        if (!p.failed && p.t != T_EOF) {
            if (p.t == T_RP)
                perr(&p, p.tstart, "unbalanced ')'");
            else
                perr(&p, p.tstart, "expected an operator or end of input, found '%.*s'",
                     (int)p.tlen, p.src + p.tstart);
        }
    }
    int rc = 0;
    cs_expr *e = NULL;
    if (p.failed) {
        rc = CS_EPARSE;
        goto done;
    }
    e = calloc(1, sizeof *e);
    if (!e) {
        rc = CS_ENOMEM;
        goto done;
    }
    e->ncode = p.code.len / sizeof(insn);
    e->code = (insn *)cs_buf_steal(&p.code, NULL);
    e->nconsts = p.consts.len / sizeof(cs_xval);
    e->consts = (cs_xval *)cs_buf_steal(&p.consts, NULL);
    e->nfields = p.fields.len / sizeof(xfield);
    e->fields = (xfield *)cs_buf_steal(&p.fields, NULL);
    if (p.pool.len == 0)
        cs_buf_putc(&p.pool, 0);
    e->pool = (char *)cs_buf_steal(&p.pool, NULL);
    e->src = strndup(src, n);
    e->max_stack = p.max_depth;
    e->enums = opts ? opts->enums : NULL;
    const char *root = opts && opts->arg_root ? opts->arg_root : "args";
    e->arg_root_len = strlen(root);
    e->arg_root = strdup(root);
    if (!e->code || !e->pool || !e->src || !e->arg_root || (e->nconsts && !e->consts) ||
        (e->nfields && !e->fields)) {
        cs_expr_free(e);
        e = NULL;
        rc = CS_ENOMEM;
        goto done;
    }
    for (size_t i = 0; i < e->nconsts; i++)
        if (e->consts[i].kind == CS_X_STR)
            e->consts[i].s = e->pool + (uintptr_t)e->consts[i].s;
    for (size_t i = 0; i < e->nfields; i++) {
        xfield *f = &e->fields[i];
        if (f->pos >= 0) {
            f->rest = e->pool + (uintptr_t)f->rest;
        } else {
            f->p1 = e->pool + (uintptr_t)f->p1;
            if (f->n2)
                f->p2 = e->pool + (uintptr_t)f->p2;
        }
    }
    *out = e;
done:
    cs_buf_free(&p.code);
    cs_buf_free(&p.consts);
    cs_buf_free(&p.fields);
    cs_buf_free(&p.pool);
    cs_buf_free(&p.strtmp);
    return rc;
}

void cs_expr_free(cs_expr *e)
{
    if (!e)
        return;
    free(e->code);
    free(e->consts);
    free(e->fields);
    free(e->pool);
    free(e->src);
    free((char *)e->arg_root);
    free(e);
}

const char *cs_expr_source(const cs_expr *e)
{
    return e->src;
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
