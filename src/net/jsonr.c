#include "net/jsonr.h"
#include "core/error.h"
#include "core/hex.h"
#include "core/u256.h"
#include "core/value.h"

#include <emmintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cs_jsonr_init(cs_jsonr *r, uint32_t max_tokens, uint32_t max_depth)
{
    memset(r, 0, sizeof *r);
    r->max_tokens = max_tokens ? max_tokens : UINT32_MAX - 1;
    r->max_depth = max_depth ? max_depth : CS_JSONR_DEFAULT_DEPTH;
}

void cs_jsonr_free(cs_jsonr *r)
{
    free(r->tok);
    r->tok = NULL;
    r->ntok = r->cap = 0;
}

/* ---- the tokenizer ------------------------------------------------------ */

static const uint8_t is_ws[256] = {[' '] = 1, ['\t'] = 1, ['\n'] = 1, ['\r'] = 1};

static int grow(cs_jsonr *r)
{
    if (r->cap >= r->max_tokens)
        return CS_ELIMIT;
    uint64_t nc = r->cap ? (uint64_t)r->cap * 2 : 1024;
    if (nc > r->max_tokens)
        nc = r->max_tokens;
    cs_jtok *t = realloc(r->tok, (size_t)nc * sizeof *t);
    if (!t)
        return CS_ENOMEM;
    r->tok = t;
    r->cap = (uint32_t)nc;
    return 0;
}

/* Scans a string body starting after the opening quote. Returns the
 * closing quote, or NULL on a raw control character, a bad escape or the
 * end of the text. *flags gets CS_JF_ESC / CS_JF_HIGH. */
static const char *scan_string(const char *p, const char *end, uint8_t *flags)
{
    const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\'),
                  ctl = _mm_set1_epi8(0x1f);
    uint8_t f = 0;
    for (;;) {
        while (end - p >= 16) {
            __m128i x = _mm_loadu_si128((const __m128i *)p);
            __m128i m =
                _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, quote), _mm_cmpeq_epi8(x, bslash)),
                             _mm_cmpeq_epi8(_mm_min_epu8(x, ctl), x)); /* x <= 0x1f */
            unsigned mask = (unsigned)_mm_movemask_epi8(m);
            unsigned high = (unsigned)_mm_movemask_epi8(x);
            if (!mask) {
                if (high)
                    f |= CS_JF_HIGH;
                p += 16;
                continue;
            }
            unsigned i = (unsigned)__builtin_ctz(mask);
            if (high & ((1u << i) - 1))
                f |= CS_JF_HIGH;
            p += i;
            goto special;
        }
        /* The last bytes, one at a time. */
        while (p < end && *p != '"' && *p != '\\' && (unsigned char)*p >= 0x20) {
            if ((unsigned char)*p >= 0x80)
                f |= CS_JF_HIGH;
            p++;
        }
        if (p >= end)
            return NULL;
    special:
        if (*p == '"') {
            *flags = f;
            return p;
        }
        if (*p != '\\')
            return NULL; /* a raw control character */
        f |= CS_JF_ESC;
        if (end - p < 2)
            return NULL;
        switch (p[1]) {
        case '"':
        case '\\':
        case '/':
        case 'b':
        case 'f':
        case 'n':
        case 'r':
        case 't':
            p += 2;
            break;
        case 'u':
            if (end - p < 6)
                return NULL;
            for (int k = 2; k < 6; k++) {
                char c = p[k], l = (char)(c | 0x20);
                /* Digits are tested before folding case: 0x10..0x19 fold
                 * onto '0'..'9'. */
                if (!((c >= '0' && c <= '9') || (l >= 'a' && l <= 'f')))
                    return NULL;
            }
            p += 6;
            break;
        default:
            return NULL;
        }
    }
}

/* Scans a number per RFC 8259: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static const char *scan_number(const char *p, const char *end)
{
    if (p < end && *p == '-')
        p++;
    if (p >= end)
        return NULL;
    if (*p == '0') {
        p++;
    } else if (*p >= '1' && *p <= '9') {
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    } else {
        return NULL;
    }
    if (p < end && *p == '.') {
        p++;
        if (p >= end || *p < '0' || *p > '9')
            return NULL;
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        if (p >= end || *p < '0' || *p > '9')
            return NULL;
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    }
    return p;
}

static int perr(cs_jsonr *r, const char *p, const char *msg)
{
    r->err_off = (size_t)(p - r->text);
    snprintf(r->err, sizeof r->err, "%s at byte %zu", msg, r->err_off);
    return CS_EPARSE;
}

int cs_jsonr_parse(cs_jsonr *r, const char *text, size_t n)
{
    r->text = text;
    r->n = n;
    r->ntok = 0;
    r->err[0] = 0;
    r->err_off = 0;
    if (n > CS_JSONR_MAX_TEXT)
        return CS_ELIMIT;
    const char *p = text, *end = text + n;
    uint32_t stack[256];
    uint32_t maxd = r->max_depth < 256 ? r->max_depth : 256;
    uint32_t depth = 0;
    int rc;
    cs_jtok *t;

#define NEWTOK()                                                                                   \
    do {                                                                                           \
        if (r->ntok == r->cap && (rc = grow(r)))                                                   \
            return rc == CS_ELIMIT ? (perr(r, p, "too many tokens"), CS_ELIMIT) : rc;              \
        t = &r->tok[r->ntok++];                                                                    \
    } while (0)
#define SKIPWS()                                                                                   \
    while (p < end && is_ws[(uint8_t)*p])                                                          \
    p++

value:
    SKIPWS();
    if (p >= end)
        return perr(r, p, "unexpected end of input");
    switch (*p) {
    case '{':
    case '[': {
        if (depth >= maxd) {
            perr(r, p, "nested too deeply");
            return CS_ELIMIT;
        }
        bool obj = *p == '{';
        NEWTOK();
        t->type = obj ? CS_JT_OBJ : CS_JT_ARR;
        t->flags = 0;
        t->off = (uint32_t)(p - text);
        t->len = 0;
        stack[depth++] = r->ntok - 1;
        p++;
        SKIPWS();
        if (p < end && *p == (obj ? '}' : ']')) {
            p++;
            r->tok[stack[--depth]].end = r->ntok;
            goto after;
        }
        if (obj)
            goto key;
        goto value;
    }
    case '"': {
        NEWTOK();
        const char *q = scan_string(p + 1, end, &t->flags);
        if (!q)
            return perr(r, p, "bad string");
        t->type = CS_JT_STR;
        t->off = (uint32_t)(p + 1 - text);
        t->len = (uint32_t)(q - p - 1);
        t->end = r->ntok;
        p = q + 1;
        goto after;
    }
    case 't':
    case 'f':
    case 'n': {
        static const char *lit[] = {"null", "false", "true"};
        int k = *p == 'n' ? 0 : *p == 'f' ? 1 : 2;
        size_t l = strlen(lit[k]);
        if ((size_t)(end - p) < l || memcmp(p, lit[k], l) != 0)
            return perr(r, p, "bad literal");
        NEWTOK();
        t->type = (uint8_t)(CS_JT_NULL + k);
        t->flags = 0;
        t->off = (uint32_t)(p - text);
        t->len = (uint32_t)l;
        t->end = r->ntok;
        p += l;
        goto after;
    }
    default: {
        const char *q = scan_number(p, end);
        if (!q)
            return perr(r, p, "unexpected character");
        NEWTOK();
        t->type = CS_JT_NUM;
        t->flags = 0;
        t->off = (uint32_t)(p - text);
        t->len = (uint32_t)(q - p);
        t->end = r->ntok;
        p = q;
        goto after;
    }
    }

key:
    SKIPWS();
    if (p >= end || *p != '"')
        return perr(r, p, "expected a member name");
    {
        NEWTOK();
        const char *q = scan_string(p + 1, end, &t->flags);
        if (!q)
            return perr(r, p, "bad string");
        t->type = CS_JT_STR;
        t->off = (uint32_t)(p + 1 - text);
        t->len = (uint32_t)(q - p - 1);
        t->end = r->ntok;
        p = q + 1;
    }
    SKIPWS();
    if (p >= end || *p != ':')
        return perr(r, p, "expected ':'");
    p++;
    goto value;

after:
    if (depth == 0) {
        SKIPWS();
        if (p != end)
            return perr(r, p, "text after the value");
        return 0;
    }
    {
        cs_jtok *parent = &r->tok[stack[depth - 1]];
        parent->len++;
        SKIPWS();
        if (p >= end)
            return perr(r, p, "unexpected end of input");
        if (*p == ',') {
            p++;
            if (parent->type == CS_JT_OBJ)
                goto key;
            goto value;
        }
        if (*p == (parent->type == CS_JT_OBJ ? '}' : ']')) {
            p++;
            parent->end = r->ntok;
            depth--;
            goto after;
        }
        return perr(r, p,
                    parent->type == CS_JT_OBJ ? "expected ',' or '}'" : "expected ',' or ']'");
    }
#undef NEWTOK
#undef SKIPWS
}

/* ---- navigation --------------------------------------------------------- */

bool cs_jsonr_eq(const cs_jsonr *r, uint32_t i, const char *s)
{
    const cs_jtok *t = &r->tok[i];
    size_t l = strlen(s);
    return t->type == CS_JT_STR && t->len == l && memcmp(r->text + t->off, s, l) == 0;
}

uint32_t cs_jsonr_get(const cs_jsonr *r, uint32_t obj, const char *key)
{
    if (r->tok[obj].type != CS_JT_OBJ)
        return 0;
    size_t l = strlen(key);
    for (uint32_t k = cs_jsonr_first(r, obj); k; k = cs_jsonr_next_key(r, obj, k)) {
        const cs_jtok *t = &r->tok[k];
        if (t->len == l && memcmp(r->text + t->off, key, l) == 0)
            return k + 1;
    }
    return 0;
}

uint32_t cs_jsonr_index(const cs_jsonr *r, uint32_t arr, uint32_t index)
{
    if (r->tok[arr].type != CS_JT_ARR || index >= r->tok[arr].len)
        return 0;
    uint32_t it = arr + 1;
    while (index--)
        it = r->tok[it].end;
    return it;
}

/* ---- values ------------------------------------------------------------- */

int cs_jsonr_u64(const cs_jsonr *r, uint32_t i, uint64_t *v)
{
    const cs_jtok *t = &r->tok[i];
    const char *s = r->text + t->off;
    uint64_t x = 0;
    if (t->type == CS_JT_NUM) {
        for (uint32_t k = 0; k < t->len; k++) {
            if (s[k] < '0' || s[k] > '9')
                return CS_ETYPE; /* negative, fraction or exponent */
            uint64_t d = (uint64_t)(s[k] - '0');
            if (x > (UINT64_MAX - d) / 10)
                return CS_ERANGE;
            x = x * 10 + d;
        }
        *v = x;
        return 0;
    }
    if (t->type != CS_JT_STR)
        return CS_ETYPE;
    if (t->len < 3 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X'))
        return CS_EPARSE;
    if (t->len - 2 > 16) {
        /* Leading zeros are not canonical but harmless. */
        uint32_t k = 2;
        while (k < t->len && s[k] == '0')
            k++;
        if (t->len - k > 16)
            return CS_ERANGE;
    }
    for (uint32_t k = 2; k < t->len; k++) {
        uint8_t d = cs_hex_values[(uint8_t)s[k]];
        if (!d)
            return CS_EPARSE;
        x = (x << 4) | (uint64_t)(d - 1);
    }
    *v = x;
    return 0;
}

int cs_jsonr_u256(const cs_jsonr *r, uint32_t i, uint8_t out[32])
{
    const cs_jtok *t = &r->tok[i];
    const char *s = r->text + t->off;
    cs_u256 x;
    if (t->type == CS_JT_NUM) {
        if (!cs_u256_from_dec(&x, s, t->len))
            return CS_ERANGE;
        cs_u256_to_be(&x, out);
        return 0;
    }
    if (t->type != CS_JT_STR)
        return CS_ETYPE;
    if (t->len < 3 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X'))
        return CS_EPARSE;
    uint32_t k = 2;
    while (k < t->len - 1 && s[k] == '0')
        k++;
    uint32_t digits = t->len - k;
    if (digits > 64)
        return CS_ERANGE;
    memset(out, 0, 32);
    for (uint32_t j = 0; j < digits; j++) {
        uint8_t d = cs_hex_values[(uint8_t)s[t->len - 1 - j]];
        if (!d)
            return CS_EPARSE;
        out[31 - j / 2] |= (uint8_t)((d - 1) << ((j & 1) * 4));
    }
    return 0;
}

int cs_jsonr_hex(const cs_jsonr *r, uint32_t i, uint8_t *out, size_t cap, size_t *len)
{
    const cs_jtok *t = &r->tok[i];
    if (t->type != CS_JT_STR)
        return CS_ETYPE;
    const uint8_t *s = (const uint8_t *)r->text + t->off;
    if (t->len < 2 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X'))
        return CS_EPARSE;
    size_t digits = t->len - 2;
    if (digits & 1)
        return CS_EPARSE;
    if (digits / 2 > cap)
        return CS_ELIMIT;
    s += 2;
    for (size_t k = 0; k < digits / 2; k++) {
        uint8_t hi = cs_hex_values[s[2 * k]], lo = cs_hex_values[s[2 * k + 1]];
        if (!hi || !lo)
            return CS_EPARSE;
        out[k] = (uint8_t)(((hi - 1) << 4) | (lo - 1));
    }
    *len = digits / 2;
    return 0;
}

static unsigned hex4(const char *p)
{
    unsigned v = 0;
    for (int k = 0; k < 4; k++)
        v = (v << 4) | (unsigned)(cs_hex_values[(uint8_t)p[k]] - 1);
    return v;
}

static int put_utf8(cs_buf *out, uint32_t cp)
{
    char b[4];
    size_t n;
    if (cp < 0x80) {
        b[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        b[0] = (char)(0xc0 | (cp >> 6));
        b[1] = (char)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        b[0] = (char)(0xe0 | (cp >> 12));
        b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        b[2] = (char)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        b[0] = (char)(0xf0 | (cp >> 18));
        b[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        b[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        b[3] = (char)(0x80 | (cp & 0x3f));
        n = 4;
    }
    return cs_buf_append(out, b, n);
}

int cs_jsonr_str(const cs_jsonr *r, uint32_t i, cs_buf *out)
{
    const cs_jtok *t = &r->tok[i];
    if (t->type != CS_JT_STR)
        return CS_ETYPE;
    const char *s = r->text + t->off, *e = s + t->len;
    size_t start = out->len;
    if ((t->flags & CS_JF_HIGH) && !cs_utf8_valid((const uint8_t *)s, t->len))
        return CS_EPARSE;
    if (!(t->flags & CS_JF_ESC))
        return cs_buf_append(out, s, t->len);
    int rc = 0;
    while (s < e && !rc) {
        const char *bs = memchr(s, '\\', (size_t)(e - s));
        if (!bs)
            return cs_buf_append(out, s, (size_t)(e - s));
        if ((rc = cs_buf_append(out, s, (size_t)(bs - s))))
            break;
        char c = bs[1];
        s = bs + 2;
        switch (c) {
        case 'b':
            rc = cs_buf_putc(out, '\b');
            break;
        case 'f':
            rc = cs_buf_putc(out, '\f');
            break;
        case 'n':
            rc = cs_buf_putc(out, '\n');
            break;
        case 'r':
            rc = cs_buf_putc(out, '\r');
            break;
        case 't':
            rc = cs_buf_putc(out, '\t');
            break;
        case 'u': {
            uint32_t cp = hex4(s);
            s += 4;
            if (cp >= 0xd800 && cp <= 0xdbff) {
                /* A high surrogate must be followed by a low one. */
                if (e - s < 6 || s[0] != '\\' || s[1] != 'u')
                    rc = CS_EPARSE;
                else {
                    uint32_t lo = hex4(s + 2);
                    if (lo < 0xdc00 || lo > 0xdfff)
                        rc = CS_EPARSE;
                    else {
                        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                        s += 6;
                    }
                }
            } else if (cp >= 0xdc00 && cp <= 0xdfff) {
                rc = CS_EPARSE;
            }
            if (!rc)
                rc = put_utf8(out, cp);
            break;
        }
        default:
            rc = cs_buf_putc(out, c);
            break; /* " \ / */
        }
    }
    if (rc)
        out->len = start;
    return rc;
}

static int num_value(const cs_jsonr *r, uint32_t i, cs_vw *w)
{
    const cs_jtok *t = &r->tok[i];
    const char *s = r->text + t->off;
    bool neg = s[0] == '-';
    bool integer = !memchr(s, '.', t->len) && !memchr(s, 'e', t->len) && !memchr(s, 'E', t->len);
    if (integer) {
        cs_u256 x;
        if (cs_u256_from_dec(&x, s + neg, t->len - neg)) {
            uint8_t be[32];
            cs_u256_to_be(&x, be);
            cs_vw_big(w, be, 32, neg);
            return 0;
        }
    }
    char tmp[64];
    if (t->len >= sizeof tmp) {
        /* Long numbers: strtod needs a terminated copy. */
        char *c = strndup(s, t->len);
        if (!c)
            return CS_ENOMEM;
        cs_vw_double(w, strtod(c, NULL));
        free(c);
        return 0;
    }
    memcpy(tmp, s, t->len);
    tmp[t->len] = 0;
    cs_vw_double(w, strtod(tmp, NULL));
    return 0;
}

static int value(const cs_jsonr *r, uint32_t i, cs_vw *w, cs_buf *tmp)
{
    const cs_jtok *t = &r->tok[i];
    int rc;
    switch (t->type) {
    case CS_JT_NULL:
        cs_vw_null(w);
        return 0;
    case CS_JT_FALSE:
        cs_vw_bool(w, false);
        return 0;
    case CS_JT_TRUE:
        cs_vw_bool(w, true);
        return 0;
    case CS_JT_NUM:
        return num_value(r, i, w);
    case CS_JT_STR:
        tmp->len = 0;
        if ((rc = cs_jsonr_str(r, i, tmp)))
            return rc;
        cs_vw_str(w, (const char *)tmp->data, tmp->len);
        return 0;
    case CS_JT_ARR:
        cs_vw_array_begin(w);
        for (uint32_t c = cs_jsonr_first(r, i); c; c = cs_jsonr_next_item(r, i, c))
            if ((rc = value(r, c, w, tmp)))
                return rc;
        cs_vw_array_end(w);
        return 0;
    case CS_JT_OBJ:
        cs_vw_object_begin(w);
        for (uint32_t k = cs_jsonr_first(r, i); k; k = cs_jsonr_next_key(r, i, k)) {
            tmp->len = 0;
            if ((rc = cs_jsonr_str(r, k, tmp)))
                return rc;
            cs_vw_keyn(w, (const char *)tmp->data, tmp->len);
            if ((rc = value(r, k + 1, w, tmp)))
                return rc;
        }
        cs_vw_object_end(w);
        return 0;
    }
    return CS_EINVAL;
}

int cs_jsonr_value(const cs_jsonr *r, uint32_t i, cs_vw *w)
{
    cs_buf tmp;
    cs_buf_init(&tmp, 0);
    int rc = value(r, i, w, &tmp);
    cs_buf_free(&tmp);
    return rc ? rc : w->err;
}

size_t cs_jsonr_frame(const char *p, size_t n, size_t *skip)
{
    size_t i = 0;
    while (i < n && (p[i] == ' ' || p[i] == '\n' || p[i] == '\r' || p[i] == '\t'))
        i++;
    *skip = i;
    int depth = 0;
    bool str = false, esc = false;
    for (; i < n; i++) {
        char ch = p[i];
        if (str) {
            if (esc)
                esc = false;
            else if (ch == '\\')
                esc = true;
            else if (ch == '"')
                str = false;
            continue;
        }
        if (ch == '"')
            str = true;
        else if (ch == '{' || ch == '[')
            depth++;
        else if (ch == '}' || ch == ']') {
            if (--depth <= 0)
                return i + 1;
        }
    }
    return 0;
}

void cs_jsonr_copy(const cs_jsonr *r, uint32_t i, char *out, size_t len)
{
    if (!len)
        return;
    out[0] = 0;
    if (!i || r->tok[i].type != CS_JT_STR)
        return;
    size_t n = r->tok[i].len < len - 1 ? r->tok[i].len : len - 1;
    memcpy(out, r->text + r->tok[i].off, n);
    out[n] = 0;
}

int cs_jsonr_double(const cs_jsonr *r, uint32_t i, double *v)
{
    if (!i || r->tok[i].type != CS_JT_NUM)
        return CS_ETYPE;
    char tmp[64];
    size_t n = r->tok[i].len < sizeof tmp - 1 ? r->tok[i].len : sizeof tmp - 1;
    memcpy(tmp, r->text + r->tok[i].off, n);
    tmp[n] = 0;
    *v = strtod(tmp, NULL);
    return 0;
}
