/* The rule language's compiler: a lexer and a recursive-descent parser that
 * emit postfix code for the evaluator in expr.c (see expr.h and
 * docs/rules.md for the grammar). */
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
