/* Writing crawl results: CSV, JSON (the one JSON rendering) or SQLite. */
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "btc/crawler.h"
#include "core/error.h"
#include "core/json.h"

static const char *ends(const char *path)
{
    const char *dot = strrchr(path, '.');
    return dot ? dot + 1 : "";
}

static void csv_field(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static int write_csv(const cs_crawl_node *n, size_t count, FILE *f)
{
    fprintf(f, "address,port,network,reachable,failure,version,services,user_agent,start_height,"
               "rtt_ms,addresses_returned,first_seen,last_seen\n");
    for (size_t i = 0; i < count; i++, n++) {
        csv_field(f, n->addr);
        fprintf(f, ",%u,%s,%s,", n->port, n->network, n->reachable ? "true" : "false");
        csv_field(f, n->failure[0] ? n->failure : n->reachable ? "" : "not tried");
        if (n->reachable) {
            fprintf(f, ",%d,%llu,", n->version, (unsigned long long)n->services);
            csv_field(f, n->user_agent);
            fprintf(f, ",%d,", n->start_height);
            if (n->rtt_ms >= 0)
                fprintf(f, "%.3f", n->rtt_ms);
        } else {
            fprintf(f, ",,,,,");
        }
        fprintf(f, ",%llu,%lld,", (unsigned long long)n->addresses, (long long)n->first_seen);
        if (n->last_seen)
            fprintf(f, "%lld", (long long)n->last_seen);
        fputc('\n', f);
    }
    return ferror(f) ? CS_EIO : 0;
}

static void node_fields(cs_vw *w, const cs_crawl_node *n)
{
    cs_vw_kv_str(w, "address", n->addr);
    cs_vw_kv_u64(w, "port", n->port);
    cs_vw_kv_str(w, "network", n->network);
    cs_vw_kv_bool(w, "reachable", n->reachable);
    if (!n->reachable || n->failure[0])
        cs_vw_kv_str(w, "failure", n->failure[0] ? n->failure : "not tried");
    if (n->reachable) {
        cs_vw_kv_i64(w, "version", n->version);
        cs_vw_kv_u64(w, "services", n->services);
        cs_vw_kv_str(w, "user_agent", n->user_agent);
        cs_vw_kv_i64(w, "start_height", n->start_height);
        if (n->rtt_ms >= 0)
            cs_vw_kv_double(w, "rtt_ms", n->rtt_ms);
        else
            cs_vw_key(w, "rtt_ms"), cs_vw_null(w);
    }
    cs_vw_kv_u64(w, "addresses_returned", n->addresses);
    cs_vw_kv_i64(w, "first_seen", n->first_seen);
    if (n->last_seen)
        cs_vw_kv_i64(w, "last_seen", n->last_seen);
}

static int write_json(const cs_crawl_node *n, size_t count, FILE *f)
{
    cs_vw w;
    cs_buf out;
    cs_vw_init(&w, 0);
    cs_buf_init(&out, 0);
    int rc = 0;
    fputs("[\n", f);
    for (size_t i = 0; i < count && !rc; i++) {
        cs_vw_reset(&w);
        cs_vw_object_begin(&w);
        node_fields(&w, &n[i]);
        cs_vw_object_end(&w);
        cs_val v;
        out.len = 0;
        if ((rc = cs_vw_error(&w)) || (rc = cs_val_read(w.buf.data, w.buf.len, &v, NULL)) ||
            (rc = cs_json_value(&out, &v)))
            break;
        fwrite(out.data, 1, out.len, f);
        fputs(i + 1 < count ? ",\n" : "\n", f);
    }
    fputs("]\n", f);
    cs_vw_free(&w);
    cs_buf_free(&out);
    return rc ? rc : ferror(f) ? CS_EIO : 0;
}

static int write_db(const cs_crawl_node *n, size_t count, const char *path, char *err,
                    size_t errlen)
{
    sqlite3 *db;
    sqlite3_stmt *st = NULL;
    if (sqlite3_open(path, &db) != SQLITE_OK) {
        snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(db));
        sqlite3_close(db);
        return CS_EIO;
    }
    const char *schema =
        "PRAGMA journal_mode=WAL;"
        "CREATE TABLE IF NOT EXISTS nodes (address TEXT NOT NULL, port INTEGER NOT NULL,"
        " network TEXT NOT NULL, reachable INTEGER NOT NULL, failure TEXT, version INTEGER,"
        " services INTEGER, user_agent TEXT, start_height INTEGER, rtt_ms REAL,"
        " addresses_returned INTEGER NOT NULL, first_seen INTEGER NOT NULL, last_seen INTEGER,"
        " PRIMARY KEY (address, port));"
        "BEGIN;";
    char *msg = NULL;
    int rc = CS_EIO;
    if (sqlite3_exec(db, schema, NULL, NULL, &msg) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO nodes VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                           -1, &st, NULL) != SQLITE_OK)
        goto out;
    for (size_t i = 0; i < count; i++, n++) {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        sqlite3_bind_text(st, 1, n->addr, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 2, n->port);
        sqlite3_bind_text(st, 3, n->network, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 4, n->reachable);
        if (!n->reachable || n->failure[0])
            sqlite3_bind_text(st, 5, n->failure[0] ? n->failure : "not tried", -1, SQLITE_STATIC);
        if (n->reachable) {
            sqlite3_bind_int(st, 6, n->version);
            sqlite3_bind_int64(st, 7, (sqlite3_int64)n->services);
            sqlite3_bind_text(st, 8, n->user_agent, -1, SQLITE_STATIC);
            sqlite3_bind_int(st, 9, n->start_height);
            if (n->rtt_ms >= 0)
                sqlite3_bind_double(st, 10, n->rtt_ms);
        }
        sqlite3_bind_int64(st, 11, (sqlite3_int64)n->addresses);
        sqlite3_bind_int64(st, 12, n->first_seen);
        if (n->last_seen)
            sqlite3_bind_int64(st, 13, n->last_seen);
        if (sqlite3_step(st) != SQLITE_DONE)
            goto out;
    }
    if (sqlite3_exec(db, "COMMIT;", NULL, NULL, &msg) != SQLITE_OK)
        goto out;
    rc = 0;
out:
    if (rc)
        snprintf(err, errlen, "%s: %s", path, msg ? msg : sqlite3_errmsg(db));
    sqlite3_free(msg);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return rc;
}

int cs_crawler_write(const cs_crawler *cr, const char *path, char *err, size_t errlen)
{
    const cs_crawl_node *n;
    size_t count = cs_crawler_nodes(cr, &n);
    const char *ext = ends(path);
    if (strcmp(ext, "db") == 0 || strcmp(ext, "sqlite") == 0)
        return write_db(n, count, path, err, errlen);
    bool json = strcmp(ext, "json") == 0;
    if (!json && strcmp(ext, "csv") != 0) {
        snprintf(err, errlen, "%s: the name must end in .csv, .json or .db", path);
        return CS_EINVAL;
    }
    FILE *f = fopen(path, "w");
    if (!f) {
        snprintf(err, errlen, "%s: cannot write", path);
        return CS_EIO;
    }
    int rc = json ? write_json(n, count, f) : write_csv(n, count, f);
    if (fclose(f) != 0 && !rc)
        rc = CS_EIO;
    if (rc)
        snprintf(err, errlen, "%s: %s", path, cs_strerror(rc));
    return rc;
}
