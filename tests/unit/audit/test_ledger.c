/* Tests src/audit/ledger.c and the SLA verdict in src/audit/audit.c on a
 * generated month of hourly results, at the edges of a 99 % threshold. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit/audit.h"
#include "audit/ledger.h"
#include "core/error.h"

/* January 2024: 31 days, 744 hourly checks. */
static int64_t jan_start, jan_end;

/* Writes 744 hourly results for node: `fail` failures in the first hours
 * of day 3, `unknown` unknowns on day 10, the rest ok. */
static void fill(cs_ledger *l, const char *node, int fail, int unknown)
{
    for (int h = 0; h < 744; h++) {
        int state = CS_AUDIT_OK;
        if (h >= 48 && h < 48 + fail)
            state = CS_AUDIT_FAIL;
        else if (h >= 216 && h < 216 + unknown)
            state = CS_AUDIT_UNKNOWN;
        cs_audit_result r = {.time = jan_start + (int64_t)h * 3600 + 7,
                             .network = "jouleverse",
                             .node = node,
                             .check = CS_AUDIT_AVAILABLE,
                             .state = state,
                             .has_value = true,
                             .value = h,
                             .detail = state == CS_AUDIT_FAIL ? "rpc: connection refused" : NULL};
        assert_int_equal(cs_ledger_add(l, &r), 0);
    }
}

static void test_month_range(void **st)
{
    int64_t a, b;
    int nd;
    assert_int_equal(cs_month_range(2024, 1, &a, &b, &nd), 0);
    assert_int_equal(a, 1704067200); /* 2024-01-01T00:00:00Z */
    assert_int_equal(nd, 31);
    assert_int_equal(b - a, 744 * 3600);
    assert_int_equal(cs_month_range(2024, 2, &a, &b, &nd), 0);
    assert_int_equal(nd, 29);
    assert_int_equal(cs_month_range(2023, 2, &a, &b, &nd), 0);
    assert_int_equal(nd, 28);
    assert_int_equal(cs_month_range(2023, 12, &a, &b, &nd), 0);
    assert_int_equal(b, 1704067200);
    int y, m;
    assert_int_equal(cs_month_parse("2024-01", &y, &m), 0);
    assert_int_equal(y * 100 + m, 202401);
    assert_int_equal(cs_month_parse("2024-13", &y, &m), CS_EINVAL);
    assert_int_equal(cs_month_parse("2024-1", &y, &m), CS_EINVAL);
    assert_int_equal(cs_month_parse("2024-01x", &y, &m), CS_EINVAL);
}

static void test_sla_edges(void **st)
{
    uint64_t req;
    assert_true(cs_audit_sla_pass(737, 7, 9900, &req));
    assert_int_equal(req, 737);
    assert_false(cs_audit_sla_pass(736, 8, 9900, &req));
    assert_int_equal(req, 737);
    assert_false(cs_audit_sla_pass(0, 0, 9900, &req));
    assert_true(cs_audit_sla_pass(10, 0, 10000, NULL));
    assert_false(cs_audit_sla_pass(9, 1, 10000, NULL));
}

static void test_month_availability(void **st)
{
    char path[] = "/tmp/cs-ledger-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    cs_ledger *l;
    assert_int_equal(cs_ledger_open(path, &l), 0);
    fill(l, "alice", 7, 0); /* 737 of 744: passes */
    fill(l, "bob", 8, 0);   /* 736 of 744: fails */
    fill(l, "carol", 6, 8); /* 730 of 736 counted, 8 unknown left out: passes */
    assert_int_equal(cs_ledger_flush(l), 0);
    cs_ledger_close(l);

    /* A reopened ledger keeps everything. */
    assert_int_equal(cs_ledger_open(path, &l), 0);
    cs_avail a;
    assert_int_equal(
        cs_ledger_avail(l, "jouleverse", "alice", CS_AUDIT_AVAILABLE, jan_start, jan_end, &a), 0);
    assert_int_equal(a.ok, 737);
    assert_int_equal(a.fail, 7);
    assert_int_equal(a.unknown, 0);
    assert_true(cs_audit_sla_pass(a.ok, a.fail, 9900, NULL));
    assert_true(cs_avail_percent(&a) > 99.05 && cs_avail_percent(&a) < 99.06);

    assert_int_equal(
        cs_ledger_avail(l, "jouleverse", "bob", CS_AUDIT_AVAILABLE, jan_start, jan_end, &a), 0);
    assert_int_equal(a.ok, 736);
    assert_int_equal(a.fail, 8);
    assert_false(cs_audit_sla_pass(a.ok, a.fail, 9900, NULL));
    assert_true(cs_avail_percent(&a) > 98.92 && cs_avail_percent(&a) < 98.93);

    assert_int_equal(
        cs_ledger_avail(l, "jouleverse", "carol", CS_AUDIT_AVAILABLE, jan_start, jan_end, &a), 0);
    assert_int_equal(a.ok, 730);
    assert_int_equal(a.fail, 6);
    assert_int_equal(a.unknown, 8);
    assert_true(cs_audit_sla_pass(a.ok, a.fail, 9900, NULL));
    /* Counting unknown as failure would have failed carol: 730 of 744. */
    assert_false(cs_audit_sla_pass(a.ok, a.fail + a.unknown, 9900, NULL));

    /* Per day: bob's failures are all on January 3rd, carol's unknowns on
     * the 10th; every other day has 24 ok. */
    cs_avail days[31];
    assert_int_equal(
        cs_ledger_avail_days(l, "jouleverse", "bob", CS_AUDIT_AVAILABLE, jan_start, 31, days), 0);
    assert_int_equal(days[2].fail, 8);
    assert_int_equal(days[2].ok, 16);
    for (int d = 0; d < 31; d++)
        if (d != 2)
            assert_int_equal(days[d].ok, 24);
    assert_int_equal(
        cs_ledger_avail_days(l, "jouleverse", "carol", CS_AUDIT_AVAILABLE, jan_start, 31, days), 0);
    assert_int_equal(days[9].unknown, 8);
    assert_int_equal(days[9].ok, 16);

    /* Outside the month: nothing. */
    assert_int_equal(cs_ledger_avail(l, "jouleverse", "alice", CS_AUDIT_AVAILABLE, jan_end,
                                     jan_end + 86400 * 29, &a),
                     0);
    assert_int_equal(a.ok + a.fail + a.unknown, 0);

    /* Last result, last sweep, state since. */
    cs_ledger_row row;
    assert_int_equal(cs_ledger_last(l, "jouleverse", "bob", CS_AUDIT_AVAILABLE, 0, &row), 0);
    assert_int_equal(row.r.time, jan_start + 743 * 3600 + 7);
    assert_string_equal(row.r.node, "bob");
    assert_int_equal(row.r.state, CS_AUDIT_OK);
    assert_true(row.r.has_value);
    cs_ledger_row_free(&row);
    assert_int_equal(
        cs_ledger_last(l, "jouleverse", "bob", CS_AUDIT_AVAILABLE, jan_start + 49 * 3600, &row), 0);
    assert_int_equal(row.r.state, CS_AUDIT_FAIL);
    assert_string_equal(row.r.detail, "rpc: connection refused");
    cs_ledger_row_free(&row);
    assert_int_equal(cs_ledger_last(l, "jouleverse", "dave", CS_AUDIT_AVAILABLE, 0, &row),
                     CS_ENOTFOUND);
    int64_t t;
    assert_int_equal(cs_ledger_last_sweep(l, "jouleverse", &t), 0);
    assert_int_equal(t, jan_start + 743 * 3600 + 7);
    assert_int_equal(cs_ledger_last_sweep(l, "nowhere", &t), CS_ENOTFOUND);
    assert_int_equal(cs_ledger_state_since(l, "jouleverse", "bob", CS_AUDIT_AVAILABLE, &t), 0);
    assert_int_equal(t, jan_start + 56 * 3600 + 7); /* first ok after the failures */
    /* carol's unknowns do not end her ok run that began after day 3. */
    assert_int_equal(cs_ledger_state_since(l, "jouleverse", "carol", CS_AUDIT_AVAILABLE, &t), 0);
    assert_int_equal(t, jan_start + 54 * 3600 + 7);
    cs_ledger_close(l);
    unlink(path);
    char aux[64];
    snprintf(aux, sizeof aux, "%s-wal", path);
    unlink(aux);
    snprintf(aux, sizeof aux, "%s-shm", path);
    unlink(aux);
}

static int count_rows(const cs_audit_result *r, void *arg)
{
    (*(int *)arg)++;
    return 0;
}

static void test_sweep_rows(void **st)
{
    cs_ledger *l;
    assert_int_equal(cs_ledger_open(":memory:", &l), 0);
    const char *checks[] = {"rpc", "lag", "peers"};
    for (int i = 0; i < 3; i++) {
        cs_audit_result r = {.time = 100, .network = "n", .node = "a", .check = checks[i]};
        assert_int_equal(cs_ledger_add(l, &r), 0);
        r.time = 200;
        assert_int_equal(cs_ledger_add(l, &r), 0);
    }
    cs_audit_result bad = {.time = 1, .network = "n", .node = "a", .check = "x", .state = 7};
    assert_int_equal(cs_ledger_add(l, &bad), CS_EINVAL);
    int n = 0;
    assert_int_equal(cs_ledger_sweep(l, "n", 200, count_rows, &n), 0);
    assert_int_equal(n, 3);
    cs_ledger_close(l);
}

int main(void)
{
    cs_month_range(2024, 1, &jan_start, &jan_end, NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_month_range),
        cmocka_unit_test(test_sla_edges),
        cmocka_unit_test(test_month_availability),
        cmocka_unit_test(test_sweep_rows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
