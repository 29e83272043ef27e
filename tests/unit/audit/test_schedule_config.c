/* Tests src/audit/schedule.c (when sweeps run) and src/audit/config_audit.c
 * (the `audit:` section, errors with file:line:col). */
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
#include "audit/audit_config.h"
#include "audit/schedule.h"
#include "config/config.h"
#include "core/error.h"

#define T0 1706742007 /* 2024-01-31 23:00:07 UTC, a Wednesday */

static void test_every(void **st)
{
    cs_sched s;
    char err[256];
    assert_int_equal(cs_sched_parse("every 1h", &s, err, sizeof err), 0);
    assert_int_equal(s.every, 3600);
    assert_int_equal(cs_sched_next(&s, T0), 1706745600); /* 2024-02-01 00:00:00 */
    assert_int_equal(cs_sched_parse("every 30m", &s, err, sizeof err), 0);
    assert_int_equal(cs_sched_next(&s, T0), T0 - 7 + 1800);
    assert_int_equal(cs_sched_parse("every 2 h", &s, err, sizeof err), CS_EPARSE);
    assert_int_equal(cs_sched_parse("every 0s", &s, err, sizeof err), CS_EPARSE);
    assert_non_null(strstr(err, "every N"));
}

static void test_cron(void **st)
{
    cs_sched s;
    char err[256];
    assert_int_equal(cs_sched_parse("@hourly", &s, err, sizeof err), 0);
    assert_int_equal(cs_sched_next(&s, T0), 1706745600);
    assert_int_equal(cs_sched_parse("@daily", &s, err, sizeof err), 0);
    assert_int_equal(cs_sched_next(&s, T0), 1706745600);
    /* 08:30 on weekdays: Thursday 2024-02-01 08:30. */
    assert_int_equal(cs_sched_parse("30 8 * * 1-5", &s, err, sizeof err), 0);
    assert_int_equal(cs_sched_next(&s, T0), 1706745600 + 8 * 3600 + 1800);
    /* Every 15 minutes: 23:15. */
    assert_int_equal(cs_sched_parse("*/15 * * * *", &s, err, sizeof err), 0);
    assert_int_equal(cs_sched_next(&s, T0), T0 - 7 + 900);
    /* Monthly on the 1st at midnight; Sunday as 7. */
    assert_int_equal(cs_sched_parse("@monthly", &s, err, sizeof err), 0);
    assert_int_equal(cs_sched_next(&s, T0), 1706745600);
    assert_int_equal(cs_sched_parse("0 0 * * 7", &s, err, sizeof err), 0);
    assert_int_equal(cs_sched_next(&s, T0), 1706745600 + 3 * 86400); /* Sun 2024-02-04 */
    /* Never: February 31st. */
    assert_int_equal(cs_sched_parse("0 0 31 2 *", &s, err, sizeof err), 0);
    assert_int_equal(cs_sched_next(&s, T0), -1);
    assert_int_equal(cs_sched_parse("61 * * * *", &s, err, sizeof err), CS_EPARSE);
    assert_non_null(strstr(err, "minute"));
    assert_int_equal(cs_sched_parse("* * *", &s, err, sizeof err), CS_EPARSE);
    assert_int_equal(cs_sched_parse("x * * * *", &s, err, sizeof err), CS_EPARSE);
}

static const cs_cfg_section sections[] = {
    {"audit", "node audit", cs_audit_config_parse, cs_audit_config_section_free},
};

static int load(const char *yaml, cs_config **cfg, char *err, size_t errlen)
{
    char path[] = "/tmp/cs-audit-cfg-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, yaml, strlen(yaml)), (ssize_t)strlen(yaml));
    close(fd);
    int rc = cs_config_load(path, sections, 1, cfg, err, errlen);
    unlink(path);
    return rc;
}

static const char good[] =
    "audit:\n"
    "  db: /tmp/x.db\n"
    "  schedule: every 30m\n"
    "  sla:\n"
    "    witness: 99.5\n"
    "  report:\n"
    "    format: html\n"
    "    channels: [ops-mail, chat]\n"
    "  networks:\n"
    "    - name: jouleverse\n"
    "      kind: evm\n"
    "      auditor: w1\n"
    "      add_missing_peers: true\n"
    "      seal_within: 5m\n"
    "      nodes:\n"
    "        - {name: w1, role: witness, rpc: 'http://127.0.0.1:8501', since: 2023-10-26}\n"
    "        - name: m1\n"
    "          role: miner\n"
    "          label: 'miner*'\n"
    "          enode: enode://abcd@203.0.113.7:30311\n"
    "          checks: [connected, enode_ip]\n"
    "        - {name: m2, role: miner, signer: '0xab', enode: 'enode://ef@198.51.100.4:1'}\n"
    "    - name: eos\n"
    "      kind: antelope\n"
    "      chain_id: aca3\n"
    "      observe: 10s\n"
    "      sample: 500ms\n"
    "      nodes:\n"
    "        - {name: bp, role: producer, account: bpacc, rpc: 'http://127.0.0.1:8888'}\n";

static void test_config_good(void **st)
{
    cs_config *cfg;
    char err[1024];
    assert_int_equal(load(good, &cfg, err, sizeof err), 0);
    const cs_audit_config *a = cs_config_section(cfg, "audit");
    assert_non_null(a);
    assert_string_equal(a->db, "/tmp/x.db");
    assert_int_equal(a->sla_interval, 1800);
    assert_int_equal(a->sla_bp[CS_ROLE_WITNESS], 9950);
    assert_int_equal(a->sla_bp[CS_ROLE_MINER], 9900);
    assert_string_equal(a->report_format, "html");
    assert_int_equal(a->nreport_channels, 2);
    assert_int_equal(a->nnets, 2);
    const cs_audit_network *n = &a->nets[0];
    assert_int_equal(n->kind, CS_AUDIT_EVM);
    assert_true(n->add_missing_peers);
    assert_int_equal(n->lim.seal_within, 300);
    assert_int_equal(n->nnodes, 3);
    const cs_audit_node *w1 = cs_audit_find_node(n, "w1"), *m1 = cs_audit_find_node(n, "m1"),
                        *m2 = cs_audit_find_node(n, "m2");
    /* Which checks apply: by endpoints and role, or the explicit list. */
    assert_true(cs_audit_node_has_check(n, w1, "rpc"));
    assert_false(cs_audit_node_has_check(n, w1, "connected")); /* the auditor itself */
    assert_true(cs_audit_node_has_check(n, m1, "connected"));
    assert_false(cs_audit_node_has_check(n, m1, "sealing"));
    assert_false(cs_audit_node_has_check(n, m1, "rpc"));
    assert_true(cs_audit_node_has_check(n, m2, "sealing"));
    assert_true(cs_audit_node_has_check(n, m2, "enode_ip"));
    assert_false(cs_audit_node_has_check(n, m2, "lag"));
    char ip[64];
    cs_audit_node_ip(m1, ip, sizeof ip);
    assert_string_equal(ip, "203.0.113.7");
    assert_int_equal(m1->line, 17);
    const cs_audit_network *e = &a->nets[1];
    assert_int_equal(e->lim.observe_ms, 10000);
    assert_int_equal(e->lim.sample_ms, 500);
    assert_true(cs_audit_node_has_check(e, &e->nodes[0], "producing"));
    assert_true(cs_audit_node_has_check(e, &e->nodes[0], "chain_id"));
    cs_audit_limits L = cs_audit_limits_effective(&e->lim, e->kind);
    assert_int_equal(L.head_max_age, 30);
    cs_config_free(cfg);
}

static void expect_error(const char *yaml, const char *where, const char *what)
{
    cs_config *cfg;
    char err[1024] = "";
    assert_int_equal(load(yaml, &cfg, err, sizeof err), CS_ECONFIG);
    if (!strstr(err, where) || !strstr(err, what))
        fail_msg("error \"%s\" lacks \"%s\" or \"%s\"", err, where, what);
}

static void test_config_errors(void **st)
{
    expect_error("audit:\n  networks:\n    - name: n\n      kind: cosmos\n      nodes: []\n",
                 ":4:13:", "kind");
    expect_error("audit:\n  networks:\n    - name: n\n      kind: evm\n      nodes:\n"
                 "        - {name: a, role: boss}\n",
                 ":6:", "role");
    expect_error("audit:\n  networks:\n    - name: n\n      kind: evm\n      nodes:\n"
                 "        - {name: a, role: rpc, checks: [sealing, tip_age]}\n",
                 ":6:", "no check \"tip_age\" for evm");
    expect_error("audit:\n  networks:\n    - name: n\n      kind: evm\n      auditor: zed\n"
                 "      nodes:\n        - {name: a, role: rpc}\n",
                 ":5:16:", "\"zed\" is not a node");
    expect_error("audit:\n  schedule: '99 * * * *'\n  networks: []\n", ":2:1",
                 "minute: 99-99 is outside 0-59");
    expect_error("audit:\n  networks:\n    - name: n\n      kind: evm\n      nodes:\n"
                 "        - {name: a, role: rpc, rpc: 'ftp://x'}\n",
                 ":6:", "http:// or https://");
    expect_error("audit:\n  networks:\n    - name: n\n      kind: evm\n      nodes:\n"
                 "        - {name: a, role: rpc}\n        - {name: a, role: rpc}\n",
                 ":7:", "audit.networks[0].nodes[1].name: \"a\" is already the name of "
                 "audit.networks[0].nodes[0]");
    expect_error("audit:\n  networks:\n    - name: n\n      kind: evm\n      timeout: 1ms\n"
                 "      nodes: []\n",
                 ":5:16:", "audit.networks[0].timeout");
    expect_error("audit:\n  colour: red\n  networks: []\n", ":2:3:", "colour");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every),
        cmocka_unit_test(test_cron),
        cmocka_unit_test(test_config_good),
        cmocka_unit_test(test_config_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
