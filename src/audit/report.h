/* Reports from the ledger: the daily audit report and the monthly SLA table,
 * in text, Markdown, HTML and JSON.
 *
 * Reports read only the ledger and the inventory, never the network, so a
 * report can be rebuilt at any time from what was recorded. Times are UTC.
 * JSON goes through core/json.h (one rendering everywhere). */
#ifndef CS_AUDIT_REPORT_H
#define CS_AUDIT_REPORT_H

#include <stdbool.h>
#include <stdint.h>

#include "audit/audit.h"
#include "audit/ledger.h"
#include "core/buf.h"

enum cs_report_format {
    CS_REPORT_TEXT = 0,
    CS_REPORT_MD,
    CS_REPORT_HTML,
    CS_REPORT_JSON,
};

/* "text", "md" (or "markdown"), "html", "json"; -1 if unknown. */
int cs_report_format_parse(const char *s);

typedef struct cs_report_opts {
    int format;    /* enum cs_report_format */
    bool mask_ips; /* every address (table, details, notices) shown as 203.0.x.x */
    bool glyphs;   /* the status glyphs of the Jouleverse audit beside the words (daily
                      report in text, md and html): 🟢 chain, 🟩 connected, ✅ activity */
    int64_t day;   /* the UTC day of the Antelope network report, as the Unix time of its
                      midnight; 0: the current day */
} cs_report_opts;

/* The subject of the daily report's notification: "chainscope audit
 * 2024-01-31 jouleverse, btc: 3 problems" (or "all well"); networks past
 * what fits in len are summed up as "+N more". */
void cs_report_subject(const cs_audit_config *cfg, const char *day, unsigned problems, char *out,
                       size_t len);

/* The daily report over every network of cfg, each at its newest sweep in
 * the ledger: network status, head height and time, network size, one row
 * per node with a legend, and notices (nodes down, nodes below their SLA for
 * the month so far, actions taken). Appends to out. *problems (may be NULL)
 * gets the number of failing checks in those sweeps (nodes down, chain
 * stalled), what `chainscope audit` turns into its exit status. */
int cs_report_daily(cs_ledger *l, const cs_audit_config *cfg, const cs_report_opts *o, cs_buf *out,
                    unsigned *problems);

/* The monthly SLA table for YYYY-MM: per node, the `available` check's ok,
 * fail and unknown counts, availability, the ok count needed and the
 * threshold of its role, and PASS/FAIL; HTML adds per-day availability bars
 * as inline SVG, JSON per-day counts. cfg may be NULL: then every node found
 * in the ledger that month is listed with cfg-less defaults (99 %).
 * *failing (may be NULL) gets the number of nodes with data that fail. */
int cs_report_sla(cs_ledger *l, const cs_audit_config *cfg, int year, int month,
                  const cs_report_opts *o, cs_buf *out, unsigned *failing);

#endif
