/* Tests src/audit/report.c and report_sla.c: golden files of each format
 * on a fixed ledger (tests/data/audit/golden_*). Set CS_UPDATE_GOLDEN=1 to
 * rewrite them after an intended change, then review the diff. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "audit/ledger.h"
#include "audit/report.h"
#include "core/error.h"

static cs_audit_node nodes[5];
static cs_audit_network net;
static cs_audit_config cfg;
static cs_ledger *ledger;
static int64_t jan, sweep_t;

static void node(cs_audit_node *n, const char *name, int role, const char *owner, const char *since,
                 const char *enode)
{
    memset(n, 0, sizeof *n);
    n->name = (char *)name;
    n->role = role;
    n->owner = (char *)owner;
    n->since = (char *)since;
    n->enode = (char *)enode;
}

static void add(int64_t t, const char *nd, const char *check, int state, double v,
                const char *detail)
{
    cs_audit_result r = {.time = t,
                         .network = "jouleverse",
                         .node = nd,
                         .check = check,
                         .state = state,
                         .has_value = v >= 0,
                         .value = v,
                         .detail = detail};
    assert_int_equal(cs_ledger_add(ledger, &r), 0);
}

static int setup(void **st)
{
    cs_audit_config_init(&cfg);
    node(&nodes[0], "miner-a", CS_ROLE_MINER, "evan.j", "2023-10-18",
         "enode://aa@203.0.113.10:30303");
    node(&nodes[1], "miner-b", CS_ROLE_MINER, "比尔盖", "2023-10-28",
         "enode://bb@203.0.113.11:30303");
    node(&nodes[2], "witness-a", CS_ROLE_WITNESS, "Jeff", "2023-10-18", NULL);
    nodes[2].address = "198.51.100.2";
    node(&nodes[3], "witness-b", CS_ROLE_WITNESS, "Angel", "2023-10-26",
         "enode://cc@198.51.100.3:30303");
    node(&nodes[4], "witness-c", CS_ROLE_WITNESS, NULL, "2024-01-15",
         "enode://dd@[2001:db8:1::5]:30303");
    nodes[1].role_label = "miner";
    memset(&net, 0, sizeof net);
    net.name = "jouleverse";
    net.kind = CS_AUDIT_EVM;
    net.nodes = nodes;
    net.nnodes = 5;
    cfg.nets = &net;
    cfg.nnets = 1;

    assert_int_equal(cs_ledger_open(":memory:", &ledger), 0);
    int64_t end;
    cs_month_range(2024, 1, &jan, &end, NULL);
    /* 743 earlier hourly sweeps of `available`: witness-b failed 10 of them. */
    for (int h = 0; h < 743; h++) {
        int64_t t = jan + h * 3600 + 7;
        for (int i = 0; i < 5; i++)
            add(t, nodes[i].name, CS_AUDIT_AVAILABLE,
                (i == 3 && h < 10)  ? CS_AUDIT_FAIL
                : (i == 4 && h < 3) ? CS_AUDIT_UNKNOWN
                                    : CS_AUDIT_OK,
                -1, NULL);
    }
    /* The last sweep, 2024-01-31 23:00:07 UTC. */
    sweep_t = jan + 743 * 3600 + 7;
    int64_t t = sweep_t;
    add(t, CS_AUDIT_CHAIN_NODE, "height", CS_AUDIT_OK, 1234567, "best head 1234567 (witness-a)");
    add(t, CS_AUDIT_CHAIN_NODE, "head_age", CS_AUDIT_OK, 4, "head 4 s old (limit 60 s)");
    add(t, CS_AUDIT_CHAIN_NODE, "advancing", CS_AUDIT_OK, 720, "720 blocks since the last sweep");
    add(t, "miner-a", "connected", CS_AUDIT_OK, -1, "in admin_peers");
    add(t, "miner-a", "enode_ip", CS_AUDIT_OK, -1, "203.0.113.10");
    add(t, "miner-a", "sealing", CS_AUDIT_OK, 0.5, "32 of 64 blocks, last 3 s ago");
    add(t, "miner-a", CS_AUDIT_AVAILABLE, CS_AUDIT_OK, -1, NULL);
    add(t, "miner-b", "connected", CS_AUDIT_OK, -1, "in admin_peers");
    add(t, "miner-b", "enode_ip", CS_AUDIT_FAIL, -1, "seen at 192.0.2.99, registered 203.0.113.11");
    add(t, "miner-b", "sealing", CS_AUDIT_FAIL, 0, "0 of 64 blocks, last 3605 s ago (limit 600 s)");
    add(t, "miner-b", CS_AUDIT_AVAILABLE, CS_AUDIT_FAIL, -1, NULL);
    add(t, "witness-a", "rpc", CS_AUDIT_OK, 1234567, "geth/v1.13.5");
    add(t, "witness-a", "lag", CS_AUDIT_OK, 0, "0 blocks, 0 s behind");
    add(t, "witness-a", "peers", CS_AUDIT_OK, 4, "4 peers");
    add(t, "witness-a", CS_AUDIT_AVAILABLE, CS_AUDIT_OK, -1, NULL);
    add(t, "witness-b", "connected", CS_AUDIT_OK, -1, "in admin_peers");
    add(t, "witness-b", "rpc", CS_AUDIT_OK, 1234000, "geth/v1.13.5");
    add(t, "witness-b", "lag", CS_AUDIT_FAIL, 567, "567 blocks, 2835 s behind (limit 5 blocks)");
    add(t, "witness-b", "peers", CS_AUDIT_OK, 2, "2 peers");
    add(t, "witness-b", CS_AUDIT_AVAILABLE, CS_AUDIT_FAIL, -1, NULL);
    add(t, "witness-c", "connected", CS_AUDIT_FAIL, -1, "not in admin_peers");
    add(t, "witness-c", "action.add_peer", CS_AUDIT_OK, -1,
        "admin_addPeer enode://dd@[2001:db8:1::5]:30303 sent");
    add(t, "witness-c", "rpc", CS_AUDIT_UNKNOWN, -1, "auditor's own node unreachable");
    add(t, "witness-c", CS_AUDIT_AVAILABLE, CS_AUDIT_FAIL, -1, NULL);
    assert_int_equal(cs_ledger_flush(ledger), 0);
    return 0;
}

/* Where an IPv4 or IPv6 address starts in s, or NULL: four dot-separated
 * groups of digits, or hex groups with "::" or at least seven colons. */
static const char *find_ip(const char *s)
{
    for (const char *p = s; *p; p++) {
        int groups = 0;
        const char *q = p;
        while (groups < 4) {
            int d = 0;
            while (d < 4 && q[d] >= '0' && q[d] <= '9')
                d++;
            if (d == 0 || d > 3)
                break;
            q += d;
            groups++;
            if (groups < 4 && *q++ != '.')
                break;
        }
        if (groups == 4)
            return p;
        size_t colons = 0;
        int dbl = 0;
        for (q = p; (*q >= '0' && *q <= '9') || (*q >= 'a' && *q <= 'f') || *q == ':'; q++) {
            colons += *q == ':';
            dbl |= q[0] == ':' && q[1] == ':';
        }
        if (colons >= 2 && (dbl || colons >= 7) && q > p + 2)
            return p;
    }
    return NULL;
}

/* 9.14: with mask_ips no address is left anywhere in any format: the
 * address column, the enode_ip details ("seen at 192.0.2.99, registered
 * ..."), the admin_addPeer notice's enode URL, IPv6 in brackets. */
static void test_mask_every_format(void **st)
{
    for (int fmt = CS_REPORT_TEXT; fmt <= CS_REPORT_JSON; fmt++) {
        cs_buf b;
        cs_buf_init(&b, 0);
        cs_report_opts o = {.format = fmt, .mask_ips = true};
        assert_int_equal(cs_report_daily(ledger, &cfg, &o, &b, NULL), 0);
        const char *s = cs_buf_cstr(&b);
        const char *ip = find_ip(s);
        if (ip)
            fail_msg("format %d shows an address: ...%.40s", fmt, ip);
        assert_non_null(strstr(s, "seen at 192.0.x.x, registered 203.0.x.x"));
        assert_non_null(strstr(s, "enode://dd@[2001:db8:x:x]:30303"));
        cs_buf_free(&b);
        /* Without the option the details are as recorded. */
        cs_buf_init(&b, 0);
        o.mask_ips = false;
        assert_int_equal(cs_report_daily(ledger, &cfg, &o, &b, NULL), 0);
        assert_non_null(strstr(cs_buf_cstr(&b), "seen at 192.0.2.99, registered 203.0.113.11"));
        cs_buf_free(&b);
    }
    char m[64];
    cs_audit_mask_text("at 12:00:07, v1.13.5 and ::1 and ::ffff:10.1.2.3.", m, sizeof m);
    assert_string_equal(m, "at 12:00:07, v1.13.5 and x:x:x:x and x:x:x:x.");
}

/* 9.16: a pending miner ("miner*") is listed but not counted in the size
 * line (text, JSON), as the Jouleverse audit does. */
static void test_pending_not_counted(void **st)
{
    nodes[1].role_label = "miner*";
    cs_buf b;
    cs_buf_init(&b, 0);
    cs_report_opts o = {.format = CS_REPORT_TEXT};
    assert_int_equal(cs_report_daily(ledger, &cfg, &o, &b, NULL), 0);
    assert_non_null(
        strstr(cs_buf_cstr(&b), "size:   4 nodes (+1 pending): 2 up, 2 down, 0 unknown"));
    assert_non_null(strstr(cs_buf_cstr(&b), "miner-b    miner*"));
    cs_buf_free(&b);
    cs_buf_init(&b, 0);
    o.format = CS_REPORT_JSON;
    assert_int_equal(cs_report_daily(ledger, &cfg, &o, &b, NULL), 0);
    assert_non_null(strstr(cs_buf_cstr(&b), "\"size\":{\"nodes\":4,\"pending\":1,"));
    cs_buf_free(&b);
    nodes[1].role_label = "miner";
}

/* 9.16: the glyphs operators of the Jouleverse audit know, beside the words,
 * only when asked for. */
static void test_glyphs(void **st)
{
    cs_buf b;
    cs_buf_init(&b, 0);
    cs_report_opts o = {.format = CS_REPORT_TEXT, .glyphs = true};
    assert_int_equal(cs_report_daily(ledger, &cfg, &o, &b, NULL), 0);
    const char *s = cs_buf_cstr(&b);
    assert_non_null(strstr(s, "status: 🟡 DEGRADED"));
    const char *row = strstr(s, "\nminer-a ");
    assert_non_null(row);
    assert_non_null(strstr(row, "🟩 yes"));
    assert_true(strstr(row, "✅ sealing 50%") < strchr(row + 1, '\n'));
    row = strstr(s, "\nminer-b ");
    assert_true(strstr(row, "❌ sealing 0%") < strchr(row + 1, '\n'));
    row = strstr(s, "\nwitness-c ");
    assert_true(strstr(row, "🟥 no") < strchr(row + 1, '\n'));
    cs_buf_free(&b);
    cs_buf_init(&b, 0);
    o.glyphs = false;
    assert_int_equal(cs_report_daily(ledger, &cfg, &o, &b, NULL), 0);
    assert_null(strstr(cs_buf_cstr(&b), "🟩"));
    assert_null(strstr(cs_buf_cstr(&b), "✅"));
    cs_buf_free(&b);
}

/* 9.16: the mail subject names the networks and counts the problems. */
static void test_subject(void **st)
{
    char subj[160];
    cs_report_subject(&cfg, "2024-01-31", 3, subj, sizeof subj);
    assert_string_equal(subj, "chainscope audit 2024-01-31 jouleverse: 3 problems");
    cs_report_subject(&cfg, "2024-01-31", 1, subj, sizeof subj);
    assert_string_equal(subj, "chainscope audit 2024-01-31 jouleverse: 1 problem");
    cs_report_subject(&cfg, "2024-01-31", 0, subj, sizeof subj);
    assert_string_equal(subj, "chainscope audit 2024-01-31 jouleverse: all well");
    char small[49]; /* exactly what the subject below needs */
    cs_report_subject(&cfg, "2024-01-31", 12, small, sizeof small);
    assert_string_equal(small, "chainscope audit 2024-01-31 +1 more: 12 problems");
}

/* 9.16: the SLA JSON says `needed`, as the text table and docs do. */
static void test_sla_json_needed(void **st)
{
    cs_buf b;
    cs_buf_init(&b, 0);
    cs_report_opts o = {.format = CS_REPORT_JSON};
    assert_int_equal(cs_report_sla(ledger, &cfg, 2024, 1, &o, &b, NULL), 0);
    assert_non_null(strstr(cs_buf_cstr(&b), "\"needed\":737"));
    assert_null(strstr(cs_buf_cstr(&b), "\"required\""));
    cs_buf_free(&b);
}

static int teardown(void **st)
{
    cs_ledger_close(ledger);
    return 0;
}

static void golden(const char *name, cs_buf *got)
{
    char path[512];
    snprintf(path, sizeof path, "%s/audit/%s", CS_TEST_DATA, name);
    const char *upd = getenv("CS_UPDATE_GOLDEN");
    if (upd && *upd == '1') {
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        fwrite(got->data, 1, got->len, f);
        fclose(f);
        return;
    }
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("missing golden file %s (run with CS_UPDATE_GOLDEN=1)", path);
    static char want[1 << 20];
    size_t n = fread(want, 1, sizeof want - 1, f);
    fclose(f);
    want[n] = 0;
    if (n != got->len || memcmp(want, got->data, n) != 0) {
        fprintf(stderr, "---- got (%s) ----\n%s\n", name, cs_buf_cstr(got));
        fail_msg("%s differs from the golden file", name);
    }
}

static void test_daily_formats(void **st)
{
    static const struct {
        int fmt;
        const char *file;
    } f[] = {{CS_REPORT_TEXT, "golden_daily.txt"},
             {CS_REPORT_MD, "golden_daily.md"},
             {CS_REPORT_HTML, "golden_daily.html"},
             {CS_REPORT_JSON, "golden_daily.json"}};
    for (size_t i = 0; i < 4; i++) {
        cs_buf b;
        cs_buf_init(&b, 0);
        unsigned problems = 99;
        cs_report_opts o = {.format = f[i].fmt, .mask_ips = i == 0};
        assert_int_equal(cs_report_daily(ledger, &cfg, &o, &b, &problems), 0);
        assert_int_equal(problems, 3); /* miner-b, witness-b, witness-c down */
        const char *s = cs_buf_cstr(&b);
        golden(f[i].file, &b);
        /* What an operator must see in every format. */
        assert_non_null(strstr(s, "miner-b"));
        assert_non_null(strstr(s, "0 of 64 blocks, last 3605 s ago"));
        assert_non_null(strstr(s, "567 blocks, 2835 s behind"));
        assert_non_null(strstr(s, "not in admin_peers"));
        assert_non_null(strstr(s, "1234567"));
        if (i == 0) {
            assert_null(strstr(s, "203.0.113.10"));
            assert_non_null(strstr(s, "203.0.x.x"));
        } else {
            assert_non_null(strstr(s, "203.0.113.10"));
        }
        cs_buf_free(&b);
    }
}

static void test_sla_formats(void **st)
{
    static const struct {
        int fmt;
        const char *file;
    } f[] = {{CS_REPORT_TEXT, "golden_sla.txt"},
             {CS_REPORT_MD, "golden_sla.md"},
             {CS_REPORT_HTML, "golden_sla.html"},
             {CS_REPORT_JSON, "golden_sla.json"}};
    for (size_t i = 0; i < 4; i++) {
        cs_buf b;
        cs_buf_init(&b, 0);
        cs_report_opts o = {.format = f[i].fmt};
        unsigned failing = 0;
        assert_int_equal(cs_report_sla(ledger, &cfg, 2024, 1, &o, &b, &failing), 0);
        const char *s = cs_buf_cstr(&b);
        golden(f[i].file, &b);
        assert_int_equal(failing, 1); /* witness-b */
        if (f[i].fmt == CS_REPORT_HTML)
            assert_non_null(strstr(s, "<svg"));
        cs_buf_free(&b);
    }
    /* Without the inventory the ledger's nodes are listed, at 99 %. */
    cs_buf b;
    cs_buf_init(&b, 0);
    cs_report_opts o = {.format = CS_REPORT_TEXT};
    assert_int_equal(cs_report_sla(ledger, NULL, 2024, 1, &o, &b, NULL), 0);
    assert_non_null(strstr(cs_buf_cstr(&b), "witness-b"));
    assert_non_null(strstr(cs_buf_cstr(&b), "98.52%"));
    cs_buf_free(&b);
    cs_buf_init(&b, 0);
    assert_int_equal(cs_report_sla(ledger, NULL, 2024, 13, &o, &b, NULL), CS_EINVAL);
    cs_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_daily_formats),
        cmocka_unit_test(test_sla_formats),
        cmocka_unit_test(test_mask_every_format),
        cmocka_unit_test(test_pending_not_counted),
        cmocka_unit_test(test_glyphs),
        cmocka_unit_test(test_subject),
        cmocka_unit_test(test_sla_json_needed),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
