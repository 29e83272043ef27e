#include "audit/report_int.h"
#include "audit/audit.h"
#include "core/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void cs_audit_rt_init(rt_table *t, size_t ncols, const char *const *head)
{
    memset(t, 0, sizeof *t);
    t->ncols = ncols < RT_MAX_COLS ? ncols : RT_MAX_COLS;
    for (size_t i = 0; i < t->ncols; i++)
        t->head[i] = head[i];
}

void cs_audit_rt_free(rt_table *t)
{
    for (size_t i = 0; i < t->nrows * t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    t->cells = NULL;
    t->nrows = t->cap = 0;
}

int cs_audit_rt_row(rt_table *t, const char *const *cells)
{
    if (t->nrows >= RT_MAX_ROWS)
        return CS_ELIMIT;
    if (t->nrows == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        char **p = realloc(t->cells, cap * t->ncols * sizeof *p);
        if (!p)
            return CS_ENOMEM;
        t->cells = p;
        t->cap = cap;
    }
    char **row = t->cells + t->nrows * t->ncols;
    for (size_t i = 0; i < t->ncols; i++) {
        row[i] = strdup(cells[i] ? cells[i] : "");
        if (!row[i]) {
            while (i--)
                free(row[i]);
            return CS_ENOMEM;
        }
    }
    t->nrows++;
    return 0;
}

static const char *cell(const rt_table *t, size_t r, size_t c)
{
    return t->cells[r * t->ncols + c];
}

/* Decodes one UTF-8 code point; returns its length (1 for a bad byte). */
static size_t utf8_next(const unsigned char *s, uint32_t *cp)
{
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    int n = (s[0] & 0xe0) == 0xc0 ? 2 : (s[0] & 0xf0) == 0xe0 ? 3 : (s[0] & 0xf8) == 0xf0 ? 4 : 1;
    if (n == 1) {
        *cp = s[0];
        return 1;
    }
    uint32_t v = s[0] & (0x7f >> n);
    for (int i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            *cp = s[0];
            return 1;
        }
        v = v << 6 | (s[i] & 0x3f);
    }
    *cp = v;
    return (size_t)n;
}

size_t cs_audit_rt_width(const char *s)
{
    size_t w = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        uint32_t cp;
        p += utf8_next(p, &cp);
        if (cp >= 0x300 && cp < 0x370)
            continue; /* combining marks */
        bool wide = (cp >= 0x1100 && cp <= 0x115f) || (cp >= 0x2e80 && cp <= 0xa4cf) ||
                    (cp >= 0xac00 && cp <= 0xd7a3) || (cp >= 0xf900 && cp <= 0xfaff) ||
                    (cp >= 0xfe30 && cp <= 0xfe4f) || (cp >= 0xff00 && cp <= 0xff60) ||
                    (cp >= 0xffe0 && cp <= 0xffe6) || (cp >= 0x1f300 && cp <= 0x1faff) ||
                    (cp >= 0x20000 && cp <= 0x3fffd) || cp == 0x2705 || cp == 0x274c ||
                    (cp >= 0x2753 && cp <= 0x2755) || cp == 0x26aa || cp == 0x26ab ||
                    cp == 0x2b1b || cp == 0x2b1c; /* the report's glyphs: ✅ ❌ ❔ ⚪ ⬜ */
        w += wide ? 2 : 1;
    }
    return w;
}

static int pad(cs_buf *out, size_t n)
{
    int rc = 0;
    while (n-- && !rc)
        rc = cs_buf_putc(out, ' ');
    return rc;
}

int cs_audit_rt_text(cs_buf *out, const rt_table *t)
{
    size_t w[RT_MAX_COLS] = {0};
    for (size_t c = 0; c < t->ncols; c++) {
        w[c] = cs_audit_rt_width(t->head[c]);
        for (size_t r = 0; r < t->nrows; r++) {
            size_t x = cs_audit_rt_width(cell(t, r, c));
            if (x > w[c])
                w[c] = x;
        }
    }
    int rc = 0;
    size_t last = t->ncols;
    while (last > 0 && (t->flags[last - 1] & RT_HTML_ONLY))
        last--;
    for (size_t r = 0; r <= t->nrows && !rc; r++) {
        bool first = true;
        for (size_t c = 0; c < last && !rc; c++) {
            if (t->flags[c] & RT_HTML_ONLY)
                continue;
            const char *s = r == 0 ? t->head[c] : cell(t, r - 1, c);
            size_t gap = w[c] - cs_audit_rt_width(s);
            if (!first)
                rc = cs_buf_append_str(out, "  ");
            first = false;
            if (!rc && (t->flags[c] & RT_RIGHT))
                rc = pad(out, gap);
            if (!rc)
                rc = cs_buf_append_str(out, s);
            if (!rc && !(t->flags[c] & RT_RIGHT) && c + 1 < last)
                rc = pad(out, gap);
        }
        if (!rc)
            rc = cs_buf_putc(out, '\n');
    }
    return rc;
}

int cs_audit_rt_md_esc(cs_buf *out, const char *s)
{
    int rc = 0;
    for (; *s && !rc; s++) {
        if (*s == '|' || *s == '\\' || *s == '*' || *s == '`' || *s == '<')
            rc = cs_buf_putc(out, '\\');
        if (!rc)
            rc = cs_buf_putc(out, *s == '\n' ? ' ' : *s);
    }
    return rc;
}

int cs_audit_rt_md(cs_buf *out, const rt_table *t)
{
    int rc = 0;
    for (size_t r = 0; r <= t->nrows + 1 && !rc; r++) {
        for (size_t c = 0; c < t->ncols && !rc; c++) {
            if (t->flags[c] & RT_HTML_ONLY)
                continue;
            rc = cs_buf_append_str(out, "| ");
            if (rc)
                break;
            if (r == 0)
                rc = cs_audit_rt_md_esc(out, t->head[c]);
            else if (r == 1)
                rc = cs_buf_append_str(out, (t->flags[c] & RT_RIGHT) ? "---:" : "---");
            else
                rc = cs_audit_rt_md_esc(out, cell(t, r - 2, c));
            if (!rc)
                rc = cs_buf_putc(out, ' ');
        }
        if (!rc)
            rc = cs_buf_append_str(out, "|\n");
    }
    return rc;
}

int cs_audit_rt_html_esc(cs_buf *out, const char *s)
{
    int rc = 0;
    for (; *s && !rc; s++) {
        switch (*s) {
        case '&':
            rc = cs_buf_append_str(out, "&amp;");
            break;
        case '<':
            rc = cs_buf_append_str(out, "&lt;");
            break;
        case '>':
            rc = cs_buf_append_str(out, "&gt;");
            break;
        case '"':
            rc = cs_buf_append_str(out, "&quot;");
            break;
        default:
            rc = cs_buf_putc(out, *s);
        }
    }
    return rc;
}

int cs_audit_rt_html(cs_buf *out, const rt_table *t, const char *cls)
{
    int rc = cs_buf_printf(out, "<table class=\"%s\">\n<thead><tr>", cls);
    for (size_t c = 0; c < t->ncols && !rc; c++) {
        rc = cs_buf_append_str(out, "<th>");
        if (!rc)
            rc = cs_audit_rt_html_esc(out, t->head[c]);
        if (!rc)
            rc = cs_buf_append_str(out, "</th>");
    }
    if (!rc)
        rc = cs_buf_append_str(out, "</tr></thead>\n<tbody>\n");
    for (size_t r = 0; r < t->nrows && !rc; r++) {
        rc = cs_buf_append_str(out, "<tr>");
        for (size_t c = 0; c < t->ncols && !rc; c++) {
            const char *s = cell(t, r, c);
            rc = cs_buf_append_str(out, (t->flags[c] & RT_RIGHT) ? "<td class=\"num\">" : "<td>");
            if (!rc)
                rc = (t->flags[c] & RT_HTML_ONLY) ? cs_buf_append_str(out, s)
                                                  : cs_audit_rt_html_esc(out, s);
            if (!rc)
                rc = cs_buf_append_str(out, "</td>");
        }
        if (!rc)
            rc = cs_buf_append_str(out, "</tr>\n");
    }
    if (!rc)
        rc = cs_buf_append_str(out, "</tbody>\n</table>\n");
    return rc;
}

void cs_audit_rt_time(int64_t t, char *out, size_t len)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (!gmtime_r(&tt, &tm)) {
        snprintf(out, len, "?");
        return;
    }
    strftime(out, len, "%Y-%m-%d %H:%M:%S UTC", &tm);
}

/* Inline SVG: one bar per day, its height the day's availability; green
 * at or above the threshold, red below, a grey stub for a day without data. */
void cs_audit_rt_ago(int64_t secs, char *out, size_t len)
{
    if (secs < 0)
        secs = 0;
    if (secs < 120)
        snprintf(out, len, "%llds ago", (long long)secs);
    else if (secs < 7200)
        snprintf(out, len, "%lldm ago", (long long)(secs / 60));
    else if (secs < 172800)
        snprintf(out, len, "%lldh ago", (long long)(secs / 3600));
    else
        snprintf(out, len, "%lldd ago", (long long)(secs / 86400));
}

int cs_audit_rt_svg_bars(cs_buf *out, int year, int month, int ndays, const cs_avail *days,
                         uint32_t bp)
{
    int rc = cs_buf_printf(out,
                           "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"24\" "
                           "role=\"img\" aria-label=\"daily availability\">",
                           ndays * 6);
    for (int d = 0; d < ndays && !rc; d++) {
        const cs_avail *a = &days[d];
        double p = cs_avail_percent(a);
        if (p < 0) {
            rc = cs_buf_printf(out,
                               "<rect x=\"%d\" y=\"21\" width=\"5\" height=\"2\" fill=\"#bbb\">"
                               "<title>%04d-%02d-%02d: no data</title></rect>",
                               d * 6, year, month, d + 1);
            continue;
        }
        double h = 2 + 20 * p / 100;
        bool ok = cs_audit_sla_pass(a->ok, a->fail, bp, NULL);
        rc = cs_buf_printf(out,
                           "<rect x=\"%d\" y=\"%.1f\" width=\"5\" height=\"%.1f\" fill=\"%s\">"
                           "<title>%04d-%02d-%02d: %.2f%% (%llu ok, %llu fail, %llu unknown)"
                           "</title></rect>",
                           d * 6, 23 - h, h, ok ? "#2a2" : "#d22", year, month, d + 1, p,
                           (unsigned long long)a->ok, (unsigned long long)a->fail,
                           (unsigned long long)a->unknown);
    }
    if (!rc)
        rc = cs_buf_append_str(out, "</svg>");
    return rc;
}
