/* chainscope antelope producers: the follower's producer accounting, read
 * from its database (antelope.networks[].db). */
#include "antelope/component.h"
#include "audit/report_int.h"
#include "cli/cli.h"
#include "cli/components.h"
#include "core/error.h"
#include "core/json.h"

#include <getopt.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_PRODUCERS 1024 /* bound: rows listed */

static void antelope_help(void)
{
    printf("usage: chainscope antelope producers -c FILE [--network NAME] [--json]\n"
           "\n"
           "Per producer of an Antelope network, from the follower's database\n"
           "(antelope.networks[].db, written by `chainscope run`; this command only\n"
           "reads it, so it works while the follower runs):\n"
           "\n"
           "  status         active (in the producer schedule) or standby (registered\n"
           "                 in get_producers, outside the schedule)\n"
           "  hour, day      blocks produced and slots missed in the current UTC clock\n"
           "                 hour so far, and in the last 24 clock hours (this one\n"
           "                 included); hours are those of the slot times\n"
           "  rounds missed  rounds without one block of the producer's 12, last 24 hours\n"
           "  last block     the last block it produced, and how long ago its slot was\n"
           "                 (\"12s ago\")\n"
           "\n"
           "options:\n"
           "  -c, --config FILE   the config with the `antelope:` section (required)\n"
           "  -n, --network NAME  which network (needed when the section has several)\n"
           "      --json          one JSON document instead of the table\n"
           "  -h, --help          this help\n"
           "\n"
           "exit status: 0, 2 usage, 3 config error, 4 no database or unreadable.\n"
           "\n"
           "example:\n"
           "  chainscope antelope producers -c /etc/chainscope/eos.yaml --network eos\n"
           "docs/antelope.md (\"antelope producers\") explains every field.\n");
}

typedef struct prod_row {
    char name[16];
    bool standby;
    int64_t hour_produced, hour_missed, day_produced, day_missed, day_rounds_missed;
    int64_t last_block, last_ms;
} prod_row;

static prod_row *row_of(prod_row *rows, size_t *n, const char *name)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp(rows[i].name, name) == 0)
            return &rows[i];
    if (*n == MAX_PRODUCERS)
        return NULL;
    prod_row *r = &rows[(*n)++];
    memset(r, 0, sizeof *r);
    snprintf(r->name, sizeof r->name, "%s", name);
    return r;
}

static int cmp_row(const void *a, const void *b)
{
    const prod_row *x = a, *y = b;
    if (x->standby != y->standby)
        return x->standby ? 1 : -1;
    return strcmp(x->name, y->name);
}

/* Reads every producer of network from db into rows. */
static int read_rows(sqlite3 *db, const char *network, int64_t now_ms, prod_row *rows, size_t *n)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(db,
                           "SELECT producer, last_block, last_ms, standby FROM antelope_producers"
                           " WHERE network=?1",
                           -1, &s, NULL) != SQLITE_OK)
        return CS_EIO;
    sqlite3_bind_text(s, 1, network, -1, SQLITE_STATIC);
    while (sqlite3_step(s) == SQLITE_ROW) {
        prod_row *r = row_of(rows, n, (const char *)sqlite3_column_text(s, 0));
        if (!r)
            break;
        r->last_block = sqlite3_column_int64(s, 1);
        r->last_ms = sqlite3_column_int64(s, 2);
        r->standby = sqlite3_column_int(s, 3) != 0;
    }
    sqlite3_finalize(s);
    int64_t hour = now_ms / 3600000;
    if (sqlite3_prepare_v2(db,
                           "SELECT producer, hour, produced, missed, missed_rounds FROM"
                           " antelope_hours WHERE network=?1 AND hour>?2",
                           -1, &s, NULL) != SQLITE_OK)
        return CS_EIO;
    sqlite3_bind_text(s, 1, network, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, hour - 24);
    while (sqlite3_step(s) == SQLITE_ROW) {
        prod_row *r = row_of(rows, n, (const char *)sqlite3_column_text(s, 0));
        if (!r)
            break;
        int64_t h = sqlite3_column_int64(s, 1);
        int64_t p = sqlite3_column_int64(s, 2), m = sqlite3_column_int64(s, 3);
        r->day_produced += p;
        r->day_missed += m;
        r->day_rounds_missed += sqlite3_column_int64(s, 4);
        if (h >= hour) {
            r->hour_produced += p;
            r->hour_missed += m;
        }
    }
    sqlite3_finalize(s);
    if (*n)
        qsort(rows, *n, sizeof *rows, cmp_row);
    return 0;
}

static int print_table(cs_buf *out, const char *network, const prod_row *rows, size_t n,
                       int64_t now_ms)
{
    size_t standby = 0;
    for (size_t i = 0; i < n; i++)
        standby += rows[i].standby;
    char when[32];
    cs_audit_rt_time(now_ms / 1000, when, sizeof when);
    int rc = cs_buf_printf(out, "%s: %zu producers (%zu active, %zu standby) at %s\n\n", network, n,
                           n - standby, standby, when);
    static const char *const head[] = {"producer",      "status",       "hour produced",
                                       "hour missed",   "day produced", "day missed",
                                       "rounds missed", "last block",   "last"};
    rt_table t;
    cs_audit_rt_init(&t, 9, head);
    for (size_t c = 2; c < 8; c++)
        t.flags[c] |= RT_RIGHT;
    for (size_t i = 0; i < n && !rc; i++) {
        const prod_row *r = &rows[i];
        char v[6][24], last_block[24], last[32];
        int64_t nums[6] = {r->hour_produced, r->hour_missed,       r->day_produced,
                           r->day_missed,    r->day_rounds_missed, 0};
        for (int k = 0; k < 5; k++)
            snprintf(v[k], sizeof v[k], "%lld", (long long)nums[k]);
        if (r->last_block) {
            snprintf(last_block, sizeof last_block, "%lld", (long long)r->last_block);
            cs_audit_rt_ago((now_ms - r->last_ms) / 1000, last, sizeof last);
        } else {
            snprintf(last_block, sizeof last_block, "-");
            snprintf(last, sizeof last, "never");
        }
        const char *cells[9] = {
            r->name, r->standby ? "standby" : "active", v[0], v[1], v[2], v[3], v[4], last_block,
            last};
        rc = cs_audit_rt_row(&t, cells);
    }
    if (!rc)
        rc = cs_audit_rt_text(out, &t);
    cs_audit_rt_free(&t);
    return rc;
}

static int print_json(cs_buf *out, const char *network, const prod_row *rows, size_t n,
                      int64_t now_ms)
{
    int rc = cs_buf_append_str(out, "{\"network\":");
    rc = rc || cs_json_string(out, network, strlen(network));
    rc = rc || cs_buf_printf(out, ",\"time\":%lld,\"producers\":[", (long long)now_ms);
    for (size_t i = 0; i < n && !rc; i++) {
        const prod_row *r = &rows[i];
        rc = cs_buf_append_str(out, i ? ",{\"producer\":" : "{\"producer\":");
        rc = rc || cs_json_string(out, r->name, strlen(r->name));
        rc = rc || cs_buf_printf(out,
                                 ",\"standby\":%s,\"hour\":{\"produced\":%lld,\"missed\":%lld},"
                                 "\"day\":{\"produced\":%lld,\"missed\":%lld,"
                                 "\"missed_rounds\":%lld},\"last_block\":%lld,",
                                 r->standby ? "true" : "false", (long long)r->hour_produced,
                                 (long long)r->hour_missed, (long long)r->day_produced,
                                 (long long)r->day_missed, (long long)r->day_rounds_missed,
                                 (long long)r->last_block);
        if (r->last_block)
            rc = rc || cs_buf_printf(out, "\"last_time\":%lld,\"since_ms\":%lld}",
                                     (long long)r->last_ms, (long long)(now_ms - r->last_ms));
        else
            rc = rc || cs_buf_append_str(out, "\"last_time\":null,\"since_ms\":null}");
    }
    return rc || cs_buf_append_str(out, "]}\n");
}

static int cmd_producers(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"network", required_argument, NULL, 'n'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *file = NULL, *network = NULL;
    bool json = false;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "c:n:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            file = optarg;
            break;
        case 'n':
            network = optarg;
            break;
        case 'j':
            json = true;
            break;
        case 'h':
            antelope_help();
            return CS_EXIT_OK;
        default:
            return cs_cli_usage_error("antelope producers", "unknown option");
        }
    }
    if (optind < argc)
        return cs_cli_usage_error("antelope producers", "unexpected argument '%s'", argv[optind]);
    if (!file)
        return cs_cli_usage_error("antelope producers", "which config? (-c FILE)");
    char err[1024];
    cs_config *cfg;
    if (cs_cli_load_config(file, &cfg, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return CS_EXIT_CONFIG;
    }
    const char *name = NULL;
    const char *path =
        cs_antelope_config_db(cs_config_section(cfg, "antelope"), network, &name, err, sizeof err);
    if (!path) {
        fprintf(stderr, "%s: %s\n", file, err);
        cs_config_free(cfg);
        return CS_EXIT_CONFIG;
    }
    sqlite3 *db = NULL;
    prod_row *rows = calloc(MAX_PRODUCERS, sizeof *rows);
    size_t n = 0;
    int64_t now_ms = cs_now_ns() / 1000000;
    int rc = rows ? 0 : CS_ENOMEM;
    if (!rc && (access(path, R_OK) != 0 ||
                sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)) {
        fprintf(stderr, "chainscope antelope producers: cannot read %s: %s\n", path,
                db ? sqlite3_errmsg(db) : "no such file (has the follower run?)");
        rc = CS_EIO;
    }
    if (!rc) {
        sqlite3_busy_timeout(db, 2000);
        if ((rc = read_rows(db, name, now_ms, rows, &n)))
            fprintf(stderr, "chainscope antelope producers: %s: %s\n", path, sqlite3_errmsg(db));
    }
    cs_buf out;
    cs_buf_init(&out, 0);
    if (!rc)
        rc = json ? print_json(&out, name, rows, n, now_ms)
                  : print_table(&out, name, rows, n, now_ms);
    if (!rc && fwrite(out.data, 1, out.len, stdout) != out.len)
        rc = CS_EIO;
    cs_buf_free(&out);
    sqlite3_close(db);
    free(rows);
    cs_config_free(cfg);
    return rc ? CS_EXIT_FAIL : CS_EXIT_OK;
}

int cs_cmd_antelope(int argc, char **argv)
{
    if (argc < 2)
        return cs_cli_usage_error("antelope", "which subcommand? (producers)");
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        antelope_help();
        return CS_EXIT_OK;
    }
    if (strcmp(argv[1], "producers") == 0)
        return cmd_producers(argc - 1, argv + 1);
    return cs_cli_usage_error("antelope", "unknown subcommand '%s' (producers)", argv[1]);
}
