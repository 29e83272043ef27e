/* Shared by the report files: a table rendered as text, Markdown or HTML,
 * escaping, and time formatting. */
#ifndef CS_AUDIT_REPORT_INT_H
#define CS_AUDIT_REPORT_INT_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/value.h"
#include "audit/ledger.h"

#define RT_MAX_COLS 16
#define RT_MAX_ROWS 100000 /* bound: a table never grows past this */

/* Column flag: the cells are raw HTML (not escaped) and the column is left
 * out of text and Markdown. */
#define RT_HTML_ONLY 1u
/* Column flag: right-aligned in text. */
#define RT_RIGHT 2u

typedef struct rt_table {
    size_t ncols;
    const char *head[RT_MAX_COLS]; /* borrowed: static strings */
    unsigned flags[RT_MAX_COLS];
    char **cells; /* owned: nrows * ncols copies */
    size_t nrows, cap;
} rt_table;

void cs_audit_rt_init(rt_table *t, size_t ncols, const char *const *head);
void cs_audit_rt_free(rt_table *t);
/* Appends a row: cells[0..ncols) are copied (NULL shows as ""). CS_ELIMIT at
 * RT_MAX_ROWS. */
int cs_audit_rt_row(rt_table *t, const char *const *cells);
int cs_audit_rt_text(cs_buf *out, const rt_table *t);
int cs_audit_rt_md(cs_buf *out, const rt_table *t);
int cs_audit_rt_html(cs_buf *out, const rt_table *t, const char *cls);

/* Display width of UTF-8 text in a terminal (wide East Asian characters and
 * emoji count 2). */
size_t cs_audit_rt_width(const char *s);
int cs_audit_rt_html_esc(cs_buf *out, const char *s);
int cs_audit_rt_md_esc(cs_buf *out, const char *s);
/* "2024-01-31 23:00:07 UTC" (len >= 32). */
void cs_audit_rt_time(int64_t t, char *out, size_t len);

/* How long ago, for people: "12s ago", "5m ago", "3h ago", "2d ago"
 * (negative counts as 0). len >= 24. */
void cs_audit_rt_ago(int64_t secs, char *out, size_t len);

/* Inline SVG: one bar per day of days[0..ndays), its height the day's
 * availability; green at or above bp, red below, a grey stub for a day
 * without data. */
int cs_audit_rt_svg_bars(cs_buf *out, int year, int month, int ndays, const cs_avail *days,
                         uint32_t bp);

/* Renders a finished value writer as JSON (core/json.h) and a newline. */
int cs_report_json_out(cs_buf *out, cs_vw *w);

#endif
