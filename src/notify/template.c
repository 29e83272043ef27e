/* Templates (see template.h). */
#include "notify/template.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/json.h"
#include "core/u256.h"

enum segkind { SEG_TEXT, SEG_PATH, SEG_OPEN, SEG_CLOSE };

typedef struct seg {
    enum segkind kind;
    const char *s; /* into src */
    size_t n;
    size_t close; /* SEG_OPEN: index of its SEG_CLOSE */
} seg;

struct cs_template {
    char *src;
    seg *segs;
    size_t nsegs;
};

static void where(const char *src, size_t at, unsigned *line, unsigned *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < at; i++) {
        if (src[i] == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
}

static bool path_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '[' || c == ']' || c == '-';
}

int cs_template_compile(const char *src, cs_template **out, char *err, size_t errlen)
{
    *out = NULL;
    size_t n = strlen(src);
    unsigned line, col;
    if (n > CS_TEMPLATE_MAX) {
        snprintf(err, errlen, "1:1: template longer than %d bytes", CS_TEMPLATE_MAX);
        return CS_EPARSE;
    }
    cs_template *t = calloc(1, sizeof *t);
    if (!t || !(t->src = strdup(src)) || !(t->segs = calloc(n / 2 + 2, sizeof *t->segs))) {
        cs_template_free(t);
        return CS_ENOMEM;
    }
    const char *s = t->src;
    size_t i = 0, lit = 0, open[8], depth = 0;
    while (i < n) {
        if (s[i] == '{' && i + 1 < n && s[i + 1] == '{') {
            if (i > lit)
                t->segs[t->nsegs++] = (seg){SEG_TEXT, s + lit, i - lit, 0};
            const char *close = strstr(s + i + 2, "}}");
            if (!close) {
                where(s, i, &line, &col);
                snprintf(err, errlen, "%u:%u: '{{' is not closed with '}}'", line, col);
                cs_template_free(t);
                return CS_EPARSE;
            }
            size_t a = i + 2, b = (size_t)(close - s);
            while (a < b && (s[a] == ' ' || s[a] == '\t'))
                a++;
            enum segkind kind = SEG_PATH;
            if (a < b && (s[a] == '#' || s[a] == '/')) {
                kind = s[a] == '#' ? SEG_OPEN : SEG_CLOSE;
                a++;
            }
            while (b > a && (s[b - 1] == ' ' || s[b - 1] == '\t'))
                b--;
            for (size_t k = a; k < b; k++)
                if (!path_char(s[k])) {
                    where(s, k, &line, &col);
                    snprintf(err, errlen,
                             "%u:%u: unexpected '%c' in a path (write paths like "
                             "transaction.hash or matchReasons[0].params.value)",
                             line, col, s[k]);
                    cs_template_free(t);
                    return CS_EPARSE;
                }
            if (a == b) {
                where(s, i, &line, &col);
                snprintf(err, errlen, "%u:%u: empty '{{ }}'", line, col);
                cs_template_free(t);
                return CS_EPARSE;
            }
            if (kind == SEG_OPEN) {
                if (depth == 8) {
                    where(s, i, &line, &col);
                    snprintf(err, errlen, "%u:%u: sections nest deeper than 8", line, col);
                    cs_template_free(t);
                    return CS_EPARSE;
                }
                open[depth++] = t->nsegs;
            } else if (kind == SEG_CLOSE) {
                seg *o = depth ? &t->segs[open[depth - 1]] : NULL;
                if (!o || o->n != b - a || memcmp(o->s, s + a, b - a) != 0) {
                    where(s, i, &line, &col);
                    snprintf(err, errlen, "%u:%u: '{{/%.*s}}' does not close the open section",
                             line, col, (int)(b - a), s + a);
                    cs_template_free(t);
                    return CS_EPARSE;
                }
                o->close = t->nsegs;
                depth--;
            }
            t->segs[t->nsegs++] = (seg){kind, s + a, b - a, 0};
            i = (size_t)(close - s) + 2;
            lit = i;
        } else {
            i++;
        }
    }
    if (n > lit)
        t->segs[t->nsegs++] = (seg){SEG_TEXT, s + lit, n - lit, 0};
    if (depth) {
        const seg *o = &t->segs[open[depth - 1]];
        where(s, (size_t)(o->s - s), &line, &col);
        snprintf(err, errlen, "%u:%u: section '%.*s' is not closed with '{{/%.*s}}'", line, col,
                 (int)o->n, o->s, (int)o->n, o->s);
        cs_template_free(t);
        return CS_EPARSE;
    }
    *out = t;
    return 0;
}

void cs_template_free(cs_template *t)
{
    if (!t)
        return;
    free(t->src);
    free(t->segs);
    free(t);
}

int cs_escape_append(cs_buf *out, const char *s, size_t n, cs_escape esc)
{
    if (esc == CS_ESC_NONE)
        return cs_buf_append(out, s, n);
    if (esc == CS_ESC_JSON) {
        /* cs_json_string adds quotes: strip them */
        size_t at = out->len;
        int rc = cs_json_string(out, s, n);
        if (rc)
            return rc;
        memmove(out->data + at, out->data + at + 1, out->len - at - 2);
        out->len -= 2;
        return 0;
    }
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        char c = s[i];
        const char *ent = NULL;
        bool bs = false;
        switch (esc) {
        case CS_ESC_TELEGRAM:
            bs = strchr("_*[]()~`>#+-=|{}.!\\", c) != NULL && c;
            break;
        case CS_ESC_DISCORD:
            bs = strchr("\\*_~`|>", c) != NULL && c;
            break;
        case CS_ESC_SLACK:
            ent = c == '&' ? "&amp;" : c == '<' ? "&lt;" : c == '>' ? "&gt;" : NULL;
            break;
        case CS_ESC_HTML:
            ent = c == '&'    ? "&amp;"
                  : c == '<'  ? "&lt;"
                  : c == '>'  ? "&gt;"
                  : c == '"'  ? "&quot;"
                  : c == '\'' ? "&#39;"
                              : NULL;
            break;
        default:
            break;
        }
        if (ent)
            rc = cs_buf_append_str(out, ent);
        else if (bs)
            rc = cs_buf_putc(out, '\\') ? -1 : cs_buf_putc(out, c);
        else
            rc = cs_buf_putc(out, c);
    }
    return rc;
}

/* A value as text into tmp (replacing its contents). */
static int value_text(const cs_val *v, cs_buf *tmp)
{
    static const char hx[] = "0123456789abcdef";
    tmp->len = 0;
    switch (v->kind) {
    case CS_VAL_NULL:
        return 0;
    case CS_VAL_STR:
        return cs_buf_append(tmp, v->p, v->n);
    case CS_VAL_BOOL:
        return cs_buf_append_str(tmp, v->b ? "true" : "false");
    case CS_VAL_INT:
        if (v->neg)
            return cs_buf_printf(tmp, "%lld", (long long)v->i);
        return cs_buf_printf(tmp, "%llu", (unsigned long long)v->u);
    case CS_VAL_BIG: {
        cs_u256 u;
        cs_u256_from_be(&u, v->p, v->n);
        char d[80];
        cs_u256_to_dec(&u, d);
        return cs_buf_printf(tmp, "%s%s", v->neg ? "-" : "", d);
    }
    case CS_VAL_BYTES: {
        int rc = cs_buf_append_str(tmp, "0x");
        for (size_t i = 0; i < v->n && !rc; i++) {
            char h[2] = {hx[v->p[i] >> 4], hx[v->p[i] & 15]};
            rc = cs_buf_append(tmp, h, 2);
        }
        return rc;
    }
    default:
        return cs_json_value(tmp, v);
    }
}

/* Defender's names for what the alert document holds, so that its message
 * templates render unchanged (docs/monitors.md "Templates"). Any other
 * camelCase segment is also tried in snake_case (gasUsed: gas_used). */
static const char *const defender_alias[][2] = {
    {"transaction.transactionHash", "transaction.hash"},
    {"transaction.transactionIndex", "transaction.index"},
    {"transaction.blockNumber", "transaction.block_number"},
    {"transaction.blockHash", "transaction.block_hash"},
    {"transaction.gasLimit", "transaction.gas"},
    {"transaction.contractAddress", "transaction.contract_address"},
    {"blockNumber", "block.number"},
    {"value", "transaction.value"},
    {"hash", "transaction.hash"},
    {"blockExplorerLink", "transaction.link"},
    {"transaction.blockExplorerLink", "transaction.link"},
};

static bool lookup(const cs_val *doc, const char *path, size_t n, cs_val *v)
{
    if (cs_val_path(doc, path, n, v) == 0)
        return true;
    for (size_t i = 0; i < sizeof defender_alias / sizeof *defender_alias; i++)
        if (strlen(defender_alias[i][0]) == n && memcmp(defender_alias[i][0], path, n) == 0)
            return cs_val_path(doc, defender_alias[i][1], strlen(defender_alias[i][1]), v) == 0;
    char snake[256];
    size_t o = 0;
    bool changed = false;
    for (size_t i = 0; i < n && o + 2 < sizeof snake; i++) {
        char c = path[i];
        if (c >= 'A' && c <= 'Z' && i > 0 && path[i - 1] != '.') {
            snake[o++] = '_';
            c = (char)(c - 'A' + 'a');
            changed = true;
        }
        snake[o++] = c;
    }
    if (changed && cs_val_path(doc, snake, o, v) == 0)
        return true;
    /* Defender's sentinel.* is the monitor */
    if (n > 9 && memcmp(path, "sentinel.", 9) == 0) {
        char m[256];
        int ml = snprintf(m, sizeof m, "monitor.%.*s", (int)(n - 9), path + 9);
        return ml > 0 && (size_t)ml < sizeof m && cs_val_path(doc, m, (size_t)ml, v) == 0;
    }
    return false;
}

int cs_template_render(const cs_template *t, const cs_val *doc, cs_escape esc, cs_buf *out)
{
    cs_buf tmp;
    cs_buf_init(&tmp, 1u << 20);
    int rc = 0;
    for (size_t i = 0; i < t->nsegs && !rc; i++) {
        const seg *s = &t->segs[i];
        if (s->kind == SEG_TEXT) {
            rc = cs_buf_append(out, s->s, s->n);
            continue;
        }
        if (s->kind == SEG_CLOSE)
            continue;
        cs_val v;
        bool found = lookup(doc, s->s, s->n, &v);
        if (s->kind == SEG_OPEN) {
            /* the section shows when its value is there and not empty */
            bool show = found && v.kind != CS_VAL_NULL && !(v.kind == CS_VAL_BOOL && !v.b) &&
                        !((v.kind == CS_VAL_STR || v.kind == CS_VAL_BYTES) && v.n == 0) &&
                        !((v.kind == CS_VAL_ARRAY || v.kind == CS_VAL_OBJECT) && v.count == 0);
            if (!show)
                i = s->close;
            continue;
        }
        if (!found)
            continue; /* missing: nothing */
        if ((rc = value_text(&v, &tmp)) == 0)
            rc = cs_escape_append(out, (const char *)tmp.data, tmp.len, esc);
    }
    cs_buf_free(&tmp);
    return rc;
}

int cs_template_render_src(const char *src, const cs_val *doc, cs_escape esc, cs_buf *out,
                           char *err, size_t errlen)
{
    cs_template *t;
    int rc = cs_template_compile(src, &t, err, errlen);
    if (rc)
        return rc;
    rc = cs_template_render(t, doc, esc, out);
    cs_template_free(t);
    return rc;
}

int cs_text_truncate(cs_buf *b, size_t from, size_t max, cs_escape esc)
{
    static const char ell[] = "\xe2\x80\xa6"; /* … */
    if (b->len - from <= max)
        return 0;
    size_t keep = max >= 3 ? max - 3 : 0;
    size_t end = from + keep;
    while (end > from && (b->data[end] & 0xC0) == 0x80)
        end--; /* not inside a UTF-8 sequence */
    if (esc == CS_ESC_TELEGRAM || esc == CS_ESC_DISCORD) {
        size_t bs = 0;
        while (end - bs > from && b->data[end - bs - 1] == '\\')
            bs++;
        if (bs & 1)
            end--; /* a lone backslash would escape the ellipsis */
    }
    if (esc == CS_ESC_HTML || esc == CS_ESC_SLACK) {
        /* do not cut an entity in two */
        for (size_t k = end; k > from && end - k < 8; k--)
            if (b->data[k - 1] == '&') {
                end = k - 1;
                break;
            } else if (b->data[k - 1] == ';') {
                break;
            }
    }
    b->len = end;
    if (max >= 3)
        cs_buf_append(b, ell, 3);
    return 1;
}
