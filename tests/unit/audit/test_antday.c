/* Tests src/audit/antday.c and report_antelope.c: Antelope events on a bus
 * become per-day rows in the audit database (a fork's replacement not
 * counted twice, days cut at UTC midnight by slot time, other networks
 * left out), and the network report renders them in every format. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "audit/antday.h"
#include "audit/ledger.h"
#include "audit/report.h"
#include "core/bus.h"
#include "core/date.h"
#include "core/error.h"

static const int64_t DAY = 19753; /* 2024-01-31 */
#define MS(day, sec) (((int64_t)(day)*86400 + (sec)) * 1000)

static cs_publisher pub;

static void block(const char *net, uint64_t num, const char *prod, int64_t ms, uint64_t lib,
                  const char *replaces)
{
    cs_vw *w = cs_publisher_begin(&pub);
    cs_vw_kv_u64(w, "num", num);
    cs_vw_kv_str(w, "producer", prod);
    cs_vw_kv_u64(w, "timestamp", (uint64_t)ms);
    cs_vw_kv_u64(w, "lib", lib);
    if (replaces)
        cs_vw_kv_str(w, "replaces", replaces);
    assert_int_equal(cs_publisher_emit(&pub, "antelope.block", net, prod, NULL), 0);
}

static void missed(const char *prod, int64_t ms)
{
    cs_vw *w = cs_publisher_begin(&pub);
    cs_vw_kv_str(w, "producer", prod);
    cs_vw_kv_u64(w, "slot_time", (uint64_t)ms);
    assert_int_equal(cs_publisher_emit(&pub, "antelope.slot.missed", "eos", prod, NULL), 0);
}

static void schedule(uint64_t version)
{
    cs_vw *w = cs_publisher_begin(&pub);
    cs_vw_kv_str(w, "kind", "active");
    cs_vw_kv_u64(w, "version", version);
    assert_int_equal(cs_publisher_emit(&pub, "antelope.schedule", "eos", "eos", NULL), 0);
}

static void round_ev(int64_t start)
{
    cs_vw *w = cs_publisher_begin(&pub);
    cs_vw_kv_u64(w, "start", (uint64_t)start);
    cs_vw_key(w, "producers");
    cs_vw_array_begin(w);
    const char *names[] = {"bpaa", "a<b"};
    for (int i = 0; i < 2; i++) {
        cs_vw_object_begin(w);
        cs_vw_kv_str(w, "producer", names[i]);
        cs_vw_kv_bool(w, "round_missed", i == 1);
        cs_vw_object_end(w);
    }
    cs_vw_array_end(w);
    assert_int_equal(cs_publisher_emit(&pub, "antelope.round", "eos", "eos", NULL), 0);
}

/* A result of DAY 01:00 in the ledger; value < 0: none. */
static void bp_result(cs_ledger *l, const char *node, const char *check, int state, double value,
                      const char *detail)
{
    cs_audit_result r = {.time = MS(DAY, 3600) / 1000,
                         .network = "eos",
                         .node = node,
                         .check = check,
                         .state = state,
                         .has_value = value >= 0,
                         .value = value,
                         .detail = detail};
    assert_int_equal(cs_ledger_add(l, &r), 0);
}

static void closed(void *arg)
{
    *(int *)arg = 1;
}

static char *report(cs_ledger *l, const cs_audit_config *cfg, int format, int64_t day)
{
    cs_buf out;
    cs_buf_init(&out, 0);
    cs_report_opts o = {.format = format, .day = day * 86400};
    assert_int_equal(cs_report_daily(l, cfg, &o, &out, NULL), 0);
    char *s = strdup(cs_buf_cstr(&out));
    cs_buf_free(&out);
    return s;
}

static void test_accounting_and_report(void **st)
{
    (void)st;
    char path[] = "/tmp/cs-antday-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    cs_audit_node node = {.name = "eos-api", .role = CS_ROLE_RPC};
    cs_audit_network nets[2] = {
        {.name = "eos", .kind = CS_AUDIT_ANTELOPE, .nodes = &node, .nnodes = 1},
        {.name = "geth", .kind = CS_AUDIT_EVM, .nodes = &node, .nnodes = 1}};
    cs_audit_config cfg;
    cs_audit_config_init(&cfg);
    cfg.nets = nets;
    cfg.nnets = 2;

    uv_loop_t loop;
    uv_loop_init(&loop);
    cs_bus *bus;
    assert_int_equal(cs_bus_new(&loop, &bus), 0);
    cs_antday *a;
    assert_int_equal(cs_antday_open(&loop, bus, &cfg, path, &a), 0);
    assert_non_null(a);
    cs_publisher_init(&pub, bus, "test", NULL);

    /* three blocks before midnight, one after; a replacement of block 3 */
    block("eos", 10, "bpaa", MS(DAY, 86398), 0, NULL);
    block("eos", 11, "bpaa", MS(DAY, 86398) + 500, 8, NULL);
    block("eos", 12, "a<b", MS(DAY, 86399) + 500, 8, NULL); /* 1 s after: a missed slot */
    block("eos", 12, "a<b", MS(DAY, 86399) + 500, 9, "12ff");
    block("eos", 13, "a<b", MS(DAY + 1, 0), 9, NULL);
    block("geth", 14, "bpaa", MS(DAY, 100), 0, NULL);  /* not an antelope network */
    block("other", 15, "bpaa", MS(DAY, 100), 0, NULL); /* not audited */
    missed("a<b", MS(DAY, 86399));
    /* a slot published as missed at the head, and its block comes late */
    missed("a<b", MS(DAY + 1, 0) + 500);
    block("eos", 14, "a<b", MS(DAY + 1, 0) + 500, 9, NULL);
    round_ev(MS(DAY, 86000));
    schedule(4); /* the first one read: no change */
    schedule(5);
    schedule(5);
    cs_vw *w = cs_publisher_begin(&pub);
    cs_vw_kv_u64(w, "num", 12);
    assert_int_equal(cs_publisher_emit(&pub, "antelope.fork", "eos", "eos", NULL), 0);
    w = cs_publisher_begin(&pub);
    cs_vw_kv_str(w, "account", "bpaa");
    cs_vw_kv_u64(w, "round_start", (uint64_t)MS(DAY, 86000));
    assert_int_equal(cs_publisher_emit(&pub, "antelope.double_production", "eos", "bpaa", NULL), 0);
    cs_bus_drain(bus, 0);
    int done = 0;
    cs_antday_close(a, closed, &done);
    while (!done && uv_run(&loop, UV_RUN_ONCE))
        ;
    assert_true(done);
    assert_int_equal(cs_antday_dropped(NULL), 0);

    cs_ledger *l;
    assert_int_equal(cs_ledger_open(path, &l), 0);
    /* bp checks' results, as check_antelope_bp writes them: one with an
     * address, days to expiry with a decimal, the producer table's
     * pseudo-node (no producer) */
    bp_result(l, "bpaa", "bp_p2p", CS_AUDIT_FAIL, -1, "198.51.100.7:9876: refused");
    bp_result(l, "bpaa", "bp_cert", CS_AUDIT_FAIL, 4.9, "expires in 4.9 days");
    bp_result(l, "@producers", "bp_rank", CS_AUDIT_UNKNOWN, -1, "get_producers: timeout");
    assert_int_equal(cs_ledger_flush(l), 0);
    char *j = report(l, &cfg, CS_REPORT_JSON, DAY);
    if (getenv("CS_TEST_SHOW"))
        fputs(j, stderr);
    /* 2024-01-31: blocks 10, 11, 12; intervals 500 and 1000 ms; LIB lag 0, 3, 4 */
    assert_non_null(strstr(j, "\"day\":\"2024-01-31\",\"blocks\":3,\"block_time_ms\":750,"));
    assert_non_null(strstr(j, "\"lib_lag\":{\"mean\":2.33,\"max\":4}"));
    assert_non_null(strstr(j, "{\"producer\":\"a<b\",\"rank\":null,\"votes\":null,"
                              "\"standby\":false,\"produced\":1,\"missed\":1,\"rounds\":1,"
                              "\"rounds_missed\":1,\"double_productions\":0,\"last_block\":12"));
    assert_non_null(strstr(j, "{\"producer\":\"bpaa\",\"rank\":null,\"votes\":null,"
                              "\"standby\":false,\"produced\":2,\"missed\":0,\"rounds\":1,"
                              "\"rounds_missed\":0,\"double_productions\":1,\"last_block\":11"));
    /* one section: the evm network has none, the blocks of geth and other are not counted */
    const char *sec = strstr(j, "\"antelope\":");
    assert_non_null(sec);
    assert_null(strstr(sec + 1, "\"antelope\":"));
    assert_non_null(strstr(j, "{\"network\":\"geth\",\"kind\":\"evm\",\"status\":\"none\"}"));
    assert_non_null(strstr(j, "\"bp_p2p\":{\"state\":\"fail\",\"detail\":\"198.51.100.7:9876"));
    free(j);
    cs_buf mb;
    cs_buf_init(&mb, 0);
    cs_report_opts mo = {.format = CS_REPORT_JSON, .day = DAY * 86400, .mask_ips = true};
    assert_int_equal(cs_report_daily(l, &cfg, &mo, &mb, NULL), 0);
    assert_non_null(strstr(cs_buf_cstr(&mb), "\"detail\":\"198.51.x.x:9876: refused\""));
    assert_null(strstr(cs_buf_cstr(&mb), "198.51.100.7"));
    cs_buf_free(&mb);
    /* 2024-02-01: blocks 13 and 14 (the interval from block 12 counts on
     * this day); 14 came after its slot was published as missed: not missed */
    j = report(l, &cfg, CS_REPORT_JSON, DAY + 1);
    assert_non_null(strstr(j, "\"blocks\":2,\"block_time_ms\":500"));
    assert_non_null(strstr(j, "\"produced\":2,\"missed\":0,\"rounds\":0"));
    free(j);
    /* today: the fork and the schedule change, by the events' time */
    int64_t today = (int64_t)time(NULL) / 86400;
    j = report(l, &cfg, CS_REPORT_JSON, today);
    assert_non_null(strstr(j, "\"schedule_changes\":1,\"schedule_version\":5,\"forks\":1"));
    free(j);
    char *t = report(l, &cfg, CS_REPORT_TEXT, DAY);
    if (getenv("CS_TEST_SHOW"))
        fputs(t, stderr);
    assert_non_null(strstr(t, "network report 2024-01-31:\n  blocks: 3, mean block time 750 ms\n"
                              "  LIB lag: mean 2.3, max 4 blocks\n"));
    assert_non_null(strstr(t, "bpaa: double production in 1 round\n"));
    const char *row = strstr(t, "\nbpaa ");
    assert_non_null(row);
    assert_non_null(strstr(row, "  p2p fail  "));
    assert_non_null(strstr(row, " 4.9\n")); /* days to expiry as the check wrote them */
    assert_null(strstr(t, "@producers"));
    assert_non_null(strstr(t, "\na<b   "));
    free(t);
    char *h = report(l, &cfg, CS_REPORT_HTML, DAY);
    assert_non_null(strstr(h, ">a&lt;b</text>"));
    assert_non_null(strstr(h, "<title>1 missed</title>"));
    assert_null(strstr(h, "a<b"));
    assert_null(strstr(h, "<script"));
    free(h);
    t = report(l, &cfg, CS_REPORT_TEXT, DAY - 30);
    assert_non_null(
        strstr(t, "network report 2024-01-01:\n  blocks: 0, mean block time \xe2\x80\x94"));
    assert_non_null(strstr(t, "no producer data"));
    free(t);
    cs_ledger_close(l);
    cs_publisher_free(&pub);
    cs_bus_close(bus);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    unlink(path);
    char side[64];
    snprintf(side, sizeof side, "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", path);
    unlink(side);
}

/* Without an antelope network nothing is opened. */
static void test_no_antelope(void **st)
{
    (void)st;
    cs_audit_network net = {.name = "geth", .kind = CS_AUDIT_EVM};
    cs_audit_config cfg;
    cs_audit_config_init(&cfg);
    cfg.nets = &net;
    cfg.nnets = 1;
    cs_antday *a = (cs_antday *)1;
    assert_int_equal(cs_antday_open(NULL, NULL, &cfg, "/nonexistent/x.db", &a), 0);
    assert_null(a);
    int done = 0;
    cs_antday_close(NULL, closed, &done);
    assert_true(done);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accounting_and_report),
        cmocka_unit_test(test_no_antelope),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
