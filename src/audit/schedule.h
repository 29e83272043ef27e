/* When checks and reports run: "every 30m" / "every 1h" (aligned to the
 * epoch, so hourly sweeps run at minute 0), "@hourly", "@daily",
 * "@weekly", "@monthly", or five cron fields "MIN HOUR DOM MONTH DOW"
 * (each a star, N, A-B, star/S, A-B/S or a comma list; DOW 0-7 with 0 and
 * 7 Sunday; when both DOM and DOW are restricted either may match, as in
 * cron). Times are UTC. */
#ifndef CS_AUDIT_SCHEDULE_H
#define CS_AUDIT_SCHEDULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct cs_sched {
    uint64_t every;  /* seconds; 0: cron fields below */
    uint64_t minute; /* bit m: minute m */
    uint32_t hour;   /* bit h */
    uint32_t dom;    /* bit d (1..31) */
    uint16_t month;  /* bit m (1..12) */
    uint8_t dow;     /* bit d (0..6, Sunday 0) */
    bool dom_star, dow_star;
} cs_sched;

/* Parses a schedule; on error writes why into err and returns CS_EPARSE. */
int cs_sched_parse(const char *s, cs_sched *out, char *err, size_t errlen);
/* The first time strictly after `after` (Unix seconds) when it fires;
 * -1 if none within 5 years (e.g. "0 0 31 2 *"). */
int64_t cs_sched_next(const cs_sched *s, int64_t after);

/* ---- the scheduler ------------------------------------------------------
 *
 * One timer drives everything: at each time the check schedule names, a
 * sweep runs every check of the inventory (audit/check.h); its results go
 * to the ledger (on a worker thread: SQLite never runs on the loop), then
 * onto the bus: every result as a `node.check` event and every change of a
 * check between ok and fail as `node.state` (unknown results neither end
 * nor start a state). At the times the report schedule names, the daily
 * report is rendered and handed to the report hook (the notification
 * channels of src/notify/ plug in there). */

#include <uv.h>

#include "audit/audit.h"
#include "net/http_client.h"
#include "audit/ledger.h"
#include "core/bus.h"

/* A rendered daily report, handed to the report hook on the loop. Every
 * pointer is borrowed for the call. */
typedef struct cs_audit_report {
    const char *subject; /* one line: "chainscope audit 2024-01-31 jouleverse: all well" */
    const char *id;      /* unique per scheduled report: "audit.report/<origin>/<due time>" */
    int64_t due;         /* the scheduled time it was made for (Unix seconds) */
    unsigned problems;   /* failing checks in the newest sweeps */
    const char *body;    /* the report in `format` (audit.report.format) */
    size_t len;
    const char *format; /* "text", "md", "html" or "json" */
    const char *text;   /* the report as text, whatever the format */
    size_t text_len;
    const char *html; /* the report as an HTML page, whatever the format */
    size_t html_len;
    const char *const *channels; /* the names from audit.report.channels */
    size_t nchannels;
} cs_audit_report;

typedef void (*cs_audit_report_hook)(void *arg, const cs_audit_report *r);

typedef struct cs_audit_sched_opts {
    uv_loop_t *loop;
    cs_bus *bus;                /* NULL: no events */
    const char *origin;         /* events' origin, e.g. "audit@host"; borrowed */
    const cs_audit_config *cfg; /* borrowed for the scheduler's life */
    const char *db;             /* ledger path; NULL: cfg->db, else chainscope-audit.db */
    cs_http_client *http;       /* borrowed: the checks' HTTP client (cs_audit_http_client_new) */
    bool mask_ips;
    cs_audit_report_hook report; /* NULL: reports are not sent */
    void *report_arg;
} cs_audit_sched_opts;

typedef struct cs_audit_scheduler cs_audit_scheduler;

/* Opens the ledger and prepares; does not start the timer. *out is owned
 * by the caller (cs_audit_scheduler_close). Errors: CS_EIO (ledger),
 * CS_EPARSE (schedule), CS_ENOMEM. */
int cs_audit_scheduler_new(const cs_audit_sched_opts *o, cs_audit_scheduler **out);
/* Arms the timer for the configured schedules. */
int cs_audit_scheduler_start(cs_audit_scheduler *s);

/* A new inventory and schedules (SIGHUP). The schedules are checked now
 * (CS_EPARSE, nothing changes); the new cfg takes over at once when no
 * sweep or report is in flight, else when that work ends, and the next
 * times are computed from it. The ledger stays (a changed `db` is ignored);
 * what the previous sweeps saw of a network carries over by name. Once
 * the old cfg is no longer used, retired(arg, old) runs so that the caller
 * can free it (a cfg given to a reload that was replaced before it took
 * over is retired the same way). cfg is borrowed from then on. */
int cs_audit_scheduler_reload(cs_audit_scheduler *s, const cs_audit_config *cfg,
                              void (*retired)(void *arg, const cs_audit_config *old), void *arg);

/* Runs one sweep now. cb(arg, err, problems) runs on the loop once the
 * results are stored and published; problems = failing checks (chain
 * checks and nodes' `available`). Returns CS_EEXIST if a sweep is already
 * running (cb is not called then). */
typedef void (*cs_audit_sweep_cb)(void *arg, int err, unsigned problems);
int cs_audit_scheduler_sweep(cs_audit_scheduler *s, cs_audit_sweep_cb cb, void *arg);

/* The ledger, for reports on the loop thread between sweeps (not while a
 * sweep or report is being stored or rendered). Borrowed. */
cs_ledger *cs_audit_scheduler_ledger(cs_audit_scheduler *s);

/* Stops the timer, waits for work in flight, closes the ledger and frees;
 * done(arg) runs on the loop when all is closed (may be NULL). */
void cs_audit_scheduler_close(cs_audit_scheduler *s, void (*done)(void *arg), void *arg);

#endif
