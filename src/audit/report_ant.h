/* The Antelope network report, a section of the daily audit report
 * (report_antelope.c). */
#ifndef CS_AUDIT_REPORT_ANT_H
#define CS_AUDIT_REPORT_ANT_H

#include "audit/report.h"
#include "audit/report_int.h"

/* The section of the day o->day for net (a `kind: antelope` network): the
 * network-wide figures and one row per producer. Text, Markdown and HTML
 * are appended to out; JSON goes into w as the key "antelope" of the
 * network's object (open in w). */
int cs_report_antelope(cs_ledger *l, const cs_audit_network *net, const cs_report_opts *o,
                       cs_buf *out, cs_vw *w);

#endif
