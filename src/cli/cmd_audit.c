/* chainscope audit --once: every check now, stored, the daily report.
 * chainscope sla: the monthly availability table from the ledger. */
#include "audit/audit.h"
#include "audit/check.h"
#include "audit/ledger.h"
#include "audit/report.h"
#include "audit/schedule.h"
#include "cli/cli.h"
#include "cli/components.h"
#include "core/bus.h"
#include "core/date.h"
#include "core/error.h"
#include "core/log.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void audit_help(void)
{
    printf("usage: chainscope audit --once -c FILE [--format text|md|html|json] [--mask-ips]\n"
           "                        [--glyphs] [--db FILE] [--output FILE]\n"
           "       chainscope audit report -c FILE [--day YYYY-MM-DD] [--format ...]\n"
           "                        (the report from the ledger, no checks: see its --help)\n"
           "\n"
           "Runs every check of the config's `audit:` section now (chain advancing, each\n"
           "node reachable, at the head, connected, sealing or producing, ...), stores\n"
           "the results in the ledger and prints the daily report: network status, head,\n"
           "size, one row per node and notices for nodes down or below their SLA. Made\n"
           "for cron; the scheduled form is `chainscope run -c FILE` with the same\n"
           "section. docs/audit.md explains every check, state and key.\n"
           "\n"
           "options:\n"
           "  -c, --config FILE  config file with an `audit:` section (required)\n"
           "      --once         run one sweep now and exit (required for now)\n"
           "  -f, --format FMT   report format: text (default), md, html or json\n"
           "      --mask-ips     mask every address (table, details, notices) as\n"
           "                     203.0.x.x (for public reports)\n"
           "      --glyphs       status glyphs beside the words, as the Jouleverse audit:\n"
           "                     chain 🟢, connected 🟩, activity (rate, RPC) ✅\n"
           "      --db FILE      ledger file (default: audit.db of the config, else\n"
           "                     chainscope-audit.db); results accumulate across runs\n"
           "  -o, --output FILE  write the report to FILE instead of standard output\n"
           "  -h, --help         this help\n"
           "\n"
           "exit status: 0 every node and the chain are well, 1 something is down,\n"
           "2 usage, 3 config error, 4 runtime failure (e.g. the ledger cannot open).\n"
           "\n"
           "example (hourly from cron, the report mailed by cron's MAILTO):\n"
           "  0 * * * *  chainscope audit --once -c /etc/chainscope/audit.yaml --db "
           "/var/lib/chainscope/audit.db\n");
}

typedef struct once_ctx {
    uv_loop_t *loop;
    cs_audit_scheduler *sched;
    cs_http_client *client;
    cs_bus *bus;
    int err;
    bool done;
} once_ctx;

static void on_swept(void *arg, int err, unsigned problems)
{
    once_ctx *c = arg;
    c->err = err;
    c->done = true;
}

static void on_closed(void *arg)
{
    once_ctx *c = arg;
    cs_http_client_close(c->client, NULL, NULL);
    cs_bus_close(c->bus);
}

static const cs_audit_config *audit_section(const char *cmd, const char *file, cs_config **cfg)
{
    char err[1024];
    if (cs_cli_load_config(file, cfg, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return NULL;
    }
    const cs_audit_config *a = cs_config_section(*cfg, "audit");
    if (!a) {
        fprintf(stderr, "%s: no `audit:` section (see docs/audit.md)\n", file);
        cs_config_free(*cfg);
        return NULL;
    }
    return a;
}

static int write_out(const char *path, cs_buf *b)
{
    FILE *f = path ? fopen(path, "wb") : stdout;
    if (!f) {
        perror(path);
        return CS_EXIT_FAIL;
    }
    size_t n = fwrite(b->data, 1, b->len, f);
    int bad = n != b->len || fflush(f) != 0;
    if (path)
        bad |= fclose(f) != 0;
    return bad ? CS_EXIT_FAIL : CS_EXIT_OK;
}

/* The daily report to output (NULL: standard output); the exit status:
 * 0, 1 when it counts problems, 4 when it could not be made or written. */
static int print_daily(cs_ledger *l, const cs_audit_config *acfg, const cs_report_opts *ro,
                       const char *output)
{
    cs_buf out;
    cs_buf_init(&out, 0);
    unsigned problems = 0;
    int rc = cs_report_daily(l, acfg, ro, &out, &problems), exit_code;
    if (rc) {
        fprintf(stderr, "chainscope audit: report: %s\n", cs_strerror(rc));
        exit_code = CS_EXIT_FAIL;
    } else {
        exit_code = write_out(output, &out);
        if (exit_code == CS_EXIT_OK && problems)
            exit_code = CS_EXIT_PROBLEM;
    }
    cs_buf_free(&out);
    return exit_code;
}

/* The options audit and sla share: -c, --db, -o, -f and -h, and the answer
 * to an unknown one. Returns -1 to go on parsing, or the exit code. */
static int report_opt(const char *cmd, int ch, const char **file, const char **db,
                      const char **output, int *format, void (*help)(void))
{
    switch (ch) {
    case 'c':
        *file = optarg;
        return -1;
    case 'd':
        *db = optarg;
        return -1;
    case 'o':
        *output = optarg;
        return -1;
    case 'f':
        if ((*format = cs_report_format_parse(optarg)) < 0)
            return cs_cli_usage_error(cmd, "unknown format '%s' (text, md, html, json)", optarg);
        return -1;
    case 'h':
        help();
        return CS_EXIT_OK;
    default:
        return cs_cli_usage_error(cmd, "unknown option");
    }
}

static void report_help(void)
{
    printf("usage: chainscope audit report -c FILE [--day YYYY-MM-DD]\n"
           "                        [--format text|md|html|json] [--mask-ips] [--glyphs]\n"
           "                        [--db FILE] [--output FILE]\n"
           "\n"
           "Prints the daily report from the ledger, without running a check: each\n"
           "network at its newest sweep, and for antelope networks the network report\n"
           "of the day (blocks, mean block time, LIB lag, schedule changes, forks; per\n"
           "producer rank, votes, blocks produced and missed, missed rounds, the last\n"
           "block, endpoint health, bp.json, days to certificate expiry), as the\n"
           "audit of `chainscope run` accounted it from the follower's events. The same\n"
           "report is what audit.report.channels receive. docs/audit.md, docs/antelope.md.\n"
           "\n"
           "options:\n"
           "  -c, --config FILE  config file with an `audit:` section (required)\n"
           "      --day DAY      the UTC day of the network report, YYYY-MM-DD\n"
           "                     (default: today, so far)\n"
           "  -f, --format FMT   text (default), md, html (with bar charts) or json\n"
           "      --mask-ips     mask every address as 203.0.x.x\n"
           "      --glyphs       status glyphs beside the words\n"
           "      --db FILE      ledger file (default: audit.db of the config)\n"
           "  -o, --output FILE  write the report to FILE instead of standard output\n"
           "  -h, --help         this help\n"
           "\n"
           "exit status: 0 all well at the newest sweeps, 1 something is down, 2 usage,\n"
           "3 config error, 4 runtime failure (e.g. no ledger).\n"
           "\n"
           "example (yesterday's report of an EOS network, as HTML):\n"
           "  chainscope audit report -c /etc/chainscope/audit.yaml --day 2024-01-31 "
           "--format html -o eos.html\n");
}

/* chainscope audit report: the daily report from the ledger, no sweep. */
static int cmd_report(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"day", required_argument, NULL, 'D'},
        {"format", required_argument, NULL, 'f'},
        {"mask-ips", no_argument, NULL, 'm'},
        {"db", required_argument, NULL, 'd'},
        {"output", required_argument, NULL, 'o'},
        {"glyphs", no_argument, NULL, 'g'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *file = NULL, *db = NULL, *output = NULL, *day = NULL;
    int format = CS_REPORT_TEXT, ch;
    bool mask = false, glyphs = false;
    const char *cmd = "audit report";
    optind = 1;
    while ((ch = getopt_long(argc, argv, "c:f:o:h", opts, NULL)) != -1) {
        int rc;
        if (ch == 'D')
            day = optarg;
        else if (ch == 'm')
            mask = true;
        else if (ch == 'g')
            glyphs = true;
        else if ((rc = report_opt(cmd, ch, &file, &db, &output, &format, report_help)) >= 0)
            return rc;
    }
    if (optind < argc)
        return cs_cli_usage_error("audit report", "unexpected argument '%s'", argv[optind]);
    if (!file)
        return cs_cli_usage_error("audit report", "which config? (-c FILE)");
    int64_t day0 = 0;
    if (day) {
        int y, m, d;
        char tail;
        if (sscanf(day, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3 || m < 1 || m > 12 || d < 1 ||
            d > 31)
            return cs_cli_usage_error("audit report", "--day wants YYYY-MM-DD, got '%s'", day);
        day0 = cs_days_from_civil(y, m, d) * 86400;
        time_t t = (time_t)day0;
        struct tm tm;
        gmtime_r(&t, &tm);
        if (tm.tm_mday != d) /* 2024-02-30 */
            return cs_cli_usage_error("audit report", "--day: %s is not a date", day);
    }
    cs_config *cfg;
    const cs_audit_config *acfg = audit_section("audit report", file, &cfg);
    if (!acfg)
        return CS_EXIT_CONFIG;
    if (!db)
        db = acfg->db ? acfg->db : "chainscope-audit.db";
    cs_ledger *l = NULL;
    if (access(db, R_OK) != 0) {
        fprintf(stderr, "chainscope audit report: no ledger at %s\n", db);
    } else if (cs_ledger_open(db, &l) != 0) {
        l = NULL;
    }
    if (!l) {
        cs_config_free(cfg);
        return CS_EXIT_FAIL;
    }
    cs_report_opts ro = {.format = format,
                         .mask_ips = mask || acfg->mask_ips,
                         .glyphs = glyphs || acfg->report_glyphs,
                         .day = day0};
    int exit_code = print_daily(l, acfg, &ro, output);
    cs_ledger_close(l);
    cs_config_free(cfg);
    return exit_code;
}

int cs_cmd_audit(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "report") == 0)
        return cmd_report(argc - 1, argv + 1);
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"once", no_argument, NULL, '1'},
        {"format", required_argument, NULL, 'f'},
        {"mask-ips", no_argument, NULL, 'm'},
        {"db", required_argument, NULL, 'd'},
        {"output", required_argument, NULL, 'o'},
        {"glyphs", no_argument, NULL, 'g'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *file = NULL, *db = NULL, *output = NULL;
    int format = CS_REPORT_TEXT, ch;
    bool once = false, mask = false, glyphs = false;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "c:f:o:h", opts, NULL)) != -1) {
        int rc;
        switch (ch) {
        case '1':
            once = true;
            break;
        case 'm':
            mask = true;
            break;
        case 'g':
            glyphs = true;
            break;
        default:
            if ((rc = report_opt("audit", ch, &file, &db, &output, &format, audit_help)) >= 0)
                return rc;
        }
    }
    if (optind < argc)
        return cs_cli_usage_error("audit", "unexpected argument '%s'", argv[optind]);
    if (!file)
        return cs_cli_usage_error("audit", "which config? (-c FILE)");
    if (!once)
        return cs_cli_usage_error("audit", "only --once is supported here; for scheduled "
                                           "audits use `chainscope run -c FILE`");
    cs_config *cfg;
    const cs_audit_config *acfg = audit_section("audit", file, &cfg);
    if (!acfg)
        return CS_EXIT_CONFIG;
    /* log.level, as under `chainscope run`: at warn, a clean run from cron
     * prints the report and nothing else */
    cs_log_set_level((enum cs_log_level)cfg->log_level);

    uv_loop_t loop;
    uv_loop_init(&loop);
    once_ctx c = {.loop = &loop};
    int rc = cs_audit_http_client_new(&loop, &c.client);
    if (!rc)
        rc = cs_bus_new(&loop, &c.bus);
    if (rc) {
        fprintf(stderr, "chainscope audit: %s\n", cs_strerror(rc));
        cs_config_free(cfg);
        return CS_EXIT_FAIL;
    }
    char origin[128];
    snprintf(origin, sizeof origin, "audit@%s", cfg->node ? cfg->node : "local");
    cs_audit_sched_opts o = {.loop = &loop,
                             .bus = c.bus,
                             .origin = origin,
                             .cfg = acfg,
                             .db = db,
                             .http = c.client,
                             .mask_ips = mask || acfg->mask_ips};
    rc = cs_audit_scheduler_new(&o, &c.sched);
    if (!rc)
        rc = cs_audit_scheduler_sweep(c.sched, on_swept, &c);
    int exit_code = CS_EXIT_OK;
    if (rc) {
        fprintf(stderr, "chainscope audit: cannot start: %s\n", cs_strerror(rc));
        exit_code = CS_EXIT_FAIL;
    } else {
        while (!c.done && uv_run(&loop, UV_RUN_ONCE))
            ;
        if (c.err) {
            fprintf(stderr, "chainscope audit: storing results failed: %s\n", cs_strerror(c.err));
            exit_code = CS_EXIT_FAIL;
        } else {
            cs_report_opts ro = {.format = format,
                                 .mask_ips = mask || acfg->mask_ips,
                                 .glyphs = glyphs || acfg->report_glyphs};
            exit_code = print_daily(cs_audit_scheduler_ledger(c.sched), acfg, &ro, output);
        }
    }
    if (c.sched) {
        cs_audit_scheduler_close(c.sched, on_closed, &c);
    } else {
        cs_http_client_close(c.client, NULL, NULL);
        cs_bus_close(c.bus);
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    cs_config_free(cfg);
    return exit_code;
}

static void sla_help(void)
{
    printf("usage: chainscope sla [--month YYYY-MM] [-c FILE] [--db FILE]\n"
           "                      [--format text|md|html|json] [--output FILE]\n"
           "\n"
           "Prints the monthly availability of every node from the audit ledger:\n"
           "ok / (ok + fail) of its `available` check, with unknown checks (the\n"
           "auditor could not check) left out and counted apart, the number of ok\n"
           "checks the SLA threshold of its role needs, and PASS or FAIL. With 99 %%\n"
           "and hourly checks in a 31-day month: 737 of 744 pass, 736 fail. HTML\n"
           "adds per-day availability bars. Months are UTC.\n"
           "\n"
           "options:\n"
           "  -m, --month YYYY-MM  the month (default: the current one, so far)\n"
           "  -c, --config FILE    config with an `audit:` section: its nodes, roles,\n"
           "                       thresholds (audit.sla) and ledger (audit.db)\n"
           "      --db FILE        ledger file (overrides the config's; without -c every\n"
           "                       node of the ledger is listed at 99 %%)\n"
           "  -f, --format FMT     text (default), md, html or json\n"
           "  -o, --output FILE    write to FILE instead of standard output\n"
           "  -h, --help           this help\n"
           "\n"
           "exit status: 0 every node passes, 1 a node fails its SLA, 2 usage, 3 config,\n"
           "4 runtime failure.\n"
           "\n"
           "example:\n"
           "  chainscope sla --month 2024-01 -c /etc/chainscope/audit.yaml --format html "
           "-o sla-2024-01.html\n");
}

int cs_cmd_sla(int argc, char **argv)
{
    static const struct option opts[] = {
        {"month", required_argument, NULL, 'm'},
        {"config", required_argument, NULL, 'c'},
        {"db", required_argument, NULL, 'd'},
        {"format", required_argument, NULL, 'f'},
        {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *file = NULL, *db = NULL, *month = NULL, *output = NULL;
    int format = CS_REPORT_TEXT, ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "m:c:f:o:h", opts, NULL)) != -1) {
        int rc;
        if (ch == 'm')
            month = optarg;
        else if ((rc = report_opt("sla", ch, &file, &db, &output, &format, sla_help)) >= 0)
            return rc;
    }
    if (optind < argc)
        return cs_cli_usage_error("sla", "unexpected argument '%s'", argv[optind]);
    int y, m;
    if (month) {
        if (cs_month_parse(month, &y, &m) != 0)
            return cs_cli_usage_error("sla", "--month wants YYYY-MM, got '%s'", month);
    } else {
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        y = tm.tm_year + 1900;
        m = tm.tm_mon + 1;
    }
    cs_config *cfg = NULL;
    const cs_audit_config *acfg = NULL;
    if (file && !(acfg = audit_section("sla", file, &cfg)))
        return CS_EXIT_CONFIG;
    if (!db)
        db = acfg && acfg->db ? acfg->db : NULL;
    if (!db) {
        if (cfg)
            cs_config_free(cfg);
        return cs_cli_usage_error("sla", "which ledger? (--db FILE, or audit.db in -c FILE)");
    }
    if (access(db, R_OK) != 0) {
        fprintf(stderr, "chainscope sla: no ledger at %s\n", db);
        if (cfg)
            cs_config_free(cfg);
        return CS_EXIT_FAIL;
    }
    cs_ledger *l;
    if (cs_ledger_open(db, &l) != 0) {
        if (cfg)
            cs_config_free(cfg);
        return CS_EXIT_FAIL;
    }
    cs_buf out;
    cs_buf_init(&out, 0);
    cs_report_opts ro = {.format = format};
    unsigned failing = 0;
    int rc = cs_report_sla(l, acfg, y, m, &ro, &out, &failing);
    int exit_code;
    if (rc) {
        fprintf(stderr, "chainscope sla: %s\n", cs_strerror(rc));
        exit_code = CS_EXIT_FAIL;
    } else {
        exit_code = write_out(output, &out);
        /* A failing node turns the exit status to 1, like audit. */
        if (exit_code == CS_EXIT_OK && failing)
            exit_code = CS_EXIT_PROBLEM;
    }
    cs_buf_free(&out);
    cs_ledger_close(l);
    if (cfg)
        cs_config_free(cfg);
    return exit_code;
}
