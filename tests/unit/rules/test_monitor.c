/* Tests src/rules/monitor.c and policy.c: what a contract team sees. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/bus.h"
#include "core/error.h"
#include "core/json.h"
#include "core/schema.h"
#include "rules/events.h"
#include "rules/monitor.h"

#define S 1000000000ll
#define TOKEN "0x1bb1b73c4f0bda4f67dca266ce6ef42f520fbb98"
#define TOKEN_MIXED "0x1BB1b73C4f0bda4f67dca266ce6ef42f520fBB98"
#define OTHER "0x2222222222222222222222222222222222222222"
#define ALICE "0xd5180d374b6d1961ba24d0a4dbf26d696fda4cad"
#define BOB "0x00000000000000000000000000000000000000b0"

/* what on_match saw */
typedef struct seen {
    int n, notified;
    char ids[64][200];
    cs_suppress why[64];
    char chans[64][100];
    char json[64][4096];
} seen;

static void on_match(const cs_match *m, void *arg)
{
    seen *s = arg;
    if (s->n >= 64)
        return;
    snprintf(s->ids[s->n], sizeof s->ids[0], "%s", m->id);
    s->why[s->n] = m->suppressed;
    s->chans[s->n][0] = 0;
    for (size_t i = 0; i < m->nchannels; i++) {
        strcat(s->chans[s->n], m->channels[i]);
        strcat(s->chans[s->n], ",");
    }
    cs_buf b;
    cs_buf_init(&b, 0);
    cs_json_value(&b, &m->doc);
    snprintf(s->json[s->n], sizeof s->json[0], "%s", cs_buf_cstr(&b));
    cs_buf_free(&b);
    s->notified += m->notify;
    s->n++;
}

static cs_event *tx(const char *net, uint64_t block, const char *hash, const char *from,
                    const char *to, uint64_t value, const char *status, const char *fn_sig,
                    const char *arg_to, uint64_t arg_amount, int64_t t)
{
    cs_vw w;
    cs_vw_init(&w, 0);
    cs_vw_object_begin(&w);
    cs_vw_kv_str(&w, "hash", hash);
    cs_vw_kv_str(&w, "from", from);
    cs_vw_kv_str(&w, "to", to);
    cs_vw_kv_u64(&w, "value", value);
    cs_vw_kv_u64(&w, "gas_price", 30000000000ull);
    cs_vw_kv_u64(&w, "gas_used", 50000);
    if (status)
        cs_vw_kv_str(&w, "status", status);
    else
        cs_vw_kv_u64(&w, "status", 0); /* the follower's form: 0 failed, 1 success */
    cs_vw_kv_u64(&w, "block_number", block);
    cs_vw_kv_str(&w, "block_hash", "0xbb");
    if (fn_sig) {
        cs_vw_kv_str(&w, "function", "transfer");
        cs_vw_kv_str(&w, "signature", fn_sig);
        cs_vw_key(&w, "args");
        cs_vw_object_begin(&w);
        cs_vw_kv_str(&w, "to", arg_to);
        cs_vw_kv_u64(&w, "amount", arg_amount);
        cs_vw_object_end(&w);
    }
    cs_vw_object_end(&w);
    cs_event_hdr h = {.seq = block,
                      .time_ns = t,
                      .origin = "evm",
                      .network = net,
                      .type = "evm.tx",
                      .key = "node"};
    cs_event *e = cs_event_new(&h, w.buf.data, w.buf.len);
    cs_vw_free(&w);
    assert_non_null(e);
    return e;
}

static cs_event *transfer_log(const char *net, uint64_t block, const char *hash,
                              const char *address, const char *from, const char *to, uint64_t value,
                              int64_t t)
{
    cs_vw w;
    cs_vw_init(&w, 0);
    cs_vw_object_begin(&w);
    cs_vw_kv_str(&w, "address", address);
    cs_vw_kv_u64(&w, "block_number", block);
    cs_vw_kv_str(&w, "block_hash", "0xbb");
    cs_vw_kv_str(&w, "tx_hash", hash);
    cs_vw_kv_u64(&w, "log_index", 0);
    cs_vw_kv_str(&w, "event", "Transfer");
    cs_vw_kv_str(&w, "signature", "Transfer(address,address,uint256)");
    cs_vw_key(&w, "args");
    cs_vw_object_begin(&w);
    cs_vw_kv_str(&w, "from", from);
    cs_vw_kv_str(&w, "to", to);
    cs_vw_kv_u64(&w, "value", value);
    cs_vw_object_end(&w);
    cs_vw_object_end(&w);
    cs_event_hdr h = {.seq = block,
                      .time_ns = t,
                      .origin = "evm",
                      .network = net,
                      .type = "evm.log",
                      .key = "node"};
    cs_event *e = cs_event_new(&h, w.buf.data, w.buf.len);
    cs_vw_free(&w);
    assert_non_null(e);
    return e;
}

static cs_event *simple(const char *type, const char *net, const char *key, const char *k,
                        uint64_t v, int64_t t)
{
    cs_vw w;
    cs_vw_init(&w, 0);
    cs_vw_object_begin(&w);
    cs_vw_kv_u64(&w, k, v);
    cs_vw_object_end(&w);
    cs_event_hdr h = {.time_ns = t, .origin = "src", .network = net, .type = type, .key = key};
    cs_event *e = cs_event_new(&h, w.buf.data, w.buf.len);
    cs_vw_free(&w);
    return e;
}

static void feed(cs_monitor_engine *e, cs_event *ev)
{
    cs_monitor_engine_feed(e, ev);
    cs_event_unref(ev);
}

static char *token_addr[] = {TOKEN_MIXED};
static cs_monitor_sig transfer_big[] = {
    {"Transfer(address indexed from, address indexed to, uint256 value)", "value > 100"}};

static cs_monitor_def transfer_monitor(void)
{
    cs_monitor_def d = {0};
    d.name = "big-transfers";
    d.kind = CS_MONITOR_CONTRACT;
    d.severity = CS_SEV_HIGH;
    d.risk = CS_RISK_FINANCIAL;
    d.addresses = token_addr;
    d.naddresses = 1;
    d.events = transfer_big;
    d.nevents = 1;
    return d;
}

static cs_monitor_engine *engine(const cs_monitor_def *d, size_t n, seen *s)
{
    static const char *high[] = {"pagerduty", "slack"}, *medium[] = {"slack"};
    static const char *const explorers[][2] = {{"eth-main", "https://etherscan.io"}};
    cs_monitor_engine_opts o = {
        .on_match = on_match, .arg = s, .explorers = explorers, .nexplorers = 1};
    o.default_channels[CS_SEV_HIGH] = high;
    o.ndefault_channels[CS_SEV_HIGH] = 2;
    o.default_channels[CS_SEV_MEDIUM] = medium;
    o.ndefault_channels[CS_SEV_MEDIUM] = 1;
    cs_monitor_engine *e;
    char err[256];
    int rc = cs_monitor_engine_new(&o, d, n, &e, err, sizeof err);
    if (rc)
        fprintf(stderr, "%s\n", err);
    assert_int_equal(rc, 0);
    return e;
}

static void test_event_condition_and_addresses(void **state)
{
    (void)state;
    seen *s = calloc(1, sizeof *s);
    cs_monitor_def d = transfer_monitor();
    cs_monitor_engine *e = engine(&d, 1, s);
    /* block 10: a big transfer on the token, a small one, one on another contract */
    feed(e, tx("eth-main", 10, "0xaa01", ALICE, TOKEN, 0, "success", NULL, NULL, 0, 1));
    feed(e, transfer_log("eth-main", 10, "0xaa01", TOKEN, ALICE, BOB, 200, 1));
    feed(e, tx("eth-main", 10, "0xaa02", ALICE, TOKEN, 0, "success", NULL, NULL, 0, 1));
    feed(e, transfer_log("eth-main", 10, "0xaa02", TOKEN, ALICE, BOB, 50, 1));
    feed(e, tx("eth-main", 10, "0xaa03", ALICE, OTHER, 0, "success", NULL, NULL, 0, 1));
    feed(e, transfer_log("eth-main", 10, "0xaa03", OTHER, ALICE, BOB, 5000, 1));
    assert_int_equal(s->n, 0); /* the block is not complete yet */
    feed(e, simple("evm.block", "eth-main", "node", "number", 10, 2));
    assert_int_equal(s->n, 1);
    assert_string_equal(s->ids[0], "big-transfers/eth-main/0xaa01");
    assert_int_equal(s->why[0], CS_SUPPRESS_NONE);
    assert_string_equal(s->chans[0], "pagerduty,slack,"); /* high severity's defaults */
    const char *j = s->json[0];
    assert_non_null(strstr(j, "\"matchReasons\":[{\"type\":\"event\",\"address\":\"" TOKEN "\""));
    assert_non_null(strstr(j, "\"signature\":\"Transfer(address,address,uint256)\""));
    assert_non_null(strstr(j, "\"condition\":\"value > 100\""));
    assert_non_null(
        strstr(j, "\"params\":{\"from\":\"" ALICE "\",\"to\":\"" BOB "\",\"value\":\"200\"}"));
    /* ABI integers are decimal strings: a JavaScript receiver keeps every digit */
    assert_non_null(
        strstr(j, "\"args\":{\"from\":\"" ALICE "\",\"to\":\"" BOB "\",\"value\":\"200\"}"));
    assert_non_null(strstr(j, "\"link\":\"https://etherscan.io/tx/0xaa01\""));
    assert_non_null(strstr(j, "\"matchedAddresses\":[\"" TOKEN "\"]"));
    assert_non_null(strstr(j, "\"severity\":\"high\",\"risk\":\"financial\""));
    assert_non_null(strstr(j, "Params: from=" ALICE " to=" BOB " value=200"));
    cs_monitor_engine_stats st;
    cs_monitor_engine_get_stats(e, &st);
    assert_int_equal(st.txs, 3);
    assert_int_equal(st.pairs, 3);
    assert_int_equal(st.evaluated, 2); /* the OTHER contract's tx never met the monitor */
    cs_monitor_engine_close(e);
    free(s);
}

static void test_functions_tx_condition_or(void **state)
{
    (void)state;
    seen *s = calloc(1, sizeof *s);
    static cs_monitor_sig fns[] = {{"transfer(address to, uint256 amount)", "$1 >= 1000"}};
    static cs_monitor_sig evs[] = {{"Approval(address,address,uint256)", NULL},
                                   {"Transfer", "to == '" BOB "'"}};
    cs_monitor_def d = transfer_monitor();
    d.name = "combo";
    d.events = evs;
    d.nevents = 2;
    d.functions = fns;
    d.nfunctions = 1;
    d.tx_condition = "gasPrice > 20000000000 AND status == \"success\"";
    cs_monitor_def f = transfer_monitor();
    f.name = "failed";
    f.events = NULL;
    f.nevents = 0;
    f.tx_condition = "status == 'failed'";
    f.severity = CS_SEV_MEDIUM;
    cs_monitor_def both[] = {d, f};
    cs_monitor_engine *e = engine(both, 2, s);
    /* a call of transfer(BOB, 5000): function matches; its Transfer event to BOB too */
    feed(e, tx("eth-main", 5, "0x01", ALICE, TOKEN, 0, "success", "transfer(address,uint256)", BOB,
               5000, 1));
    feed(e, transfer_log("eth-main", 5, "0x01", TOKEN, ALICE, BOB, 5000, 1));
    /* transfer(ALICE, 10): neither the function condition nor the event's */
    feed(e, tx("eth-main", 5, "0x02", BOB, TOKEN, 0, "success", "transfer(address,uint256)", ALICE,
               10, 1));
    feed(e, transfer_log("eth-main", 5, "0x02", TOKEN, BOB, ALICE, 10, 1));
    /* a failed transaction to the token, status as the follower writes it (0) */
    feed(e, tx("eth-main", 5, "0x03", BOB, TOKEN, 0, NULL, NULL, NULL, 0, 1));
    cs_monitor_engine_flush(e);
    assert_int_equal(s->n, 2);
    assert_string_equal(s->ids[0], "combo/eth-main/0x01");
    assert_non_null(strstr(s->json[0], "\"type\":\"event\""));
    assert_non_null(strstr(s->json[0], "\"type\":\"function\""));
    assert_non_null(strstr(s->json[0], "{\"type\":\"transaction\",\"condition\":\"gasPrice > "
                                       "20000000000 AND status == \\\"success\\\"\"}"));
    assert_string_equal(s->ids[1], "failed/eth-main/0x03");
    assert_string_equal(s->chans[1], "slack,");
    cs_monitor_engine_close(e);
    free(s);
}

static void test_confirmations_and_reorg(void **state)
{
    (void)state;
    seen *s = calloc(1, sizeof *s);
    cs_monitor_def d = transfer_monitor();
    d.confirmations = 2;
    cs_monitor_engine *e = engine(&d, 1, s);
    feed(e, transfer_log("eth-main", 10, "0x10", TOKEN, ALICE, BOB, 500, 1));
    feed(e, simple("evm.block", "eth-main", "n", "number", 10, 1));
    feed(e, simple("evm.block", "eth-main", "n", "number", 11, 1));
    assert_int_equal(s->n, 0); /* one confirmation: not yet */
    feed(e, simple("evm.block", "eth-main", "n", "number", 12, 1));
    assert_int_equal(s->n, 1);
    /* block 13 gets replaced before it is confirmed */
    feed(e, transfer_log("eth-main", 13, "0x13", TOKEN, ALICE, BOB, 500, 1));
    feed(e, simple("evm.block", "eth-main", "n", "number", 14, 1));
    feed(e, simple("evm.reorg", "eth-main", "n", "common_ancestor", 12, 1));
    feed(e, simple("evm.block", "eth-main", "n", "number", 16, 1));
    assert_int_equal(s->n, 1);
    cs_monitor_engine_stats st;
    cs_monitor_engine_get_stats(e, &st);
    assert_int_equal(st.reorged, 1);
    /* other networks are not watched by a monitor limited to eth-main */
    cs_monitor_engine_close(e);
    free(s);
}

static void test_undecoded_by_topic_and_selector(void **state)
{
    (void)state;
    /* without an ABI the follower gives topics and input only */
    seen *s = calloc(1, sizeof *s);
    static cs_monitor_sig evs[] = {{"Transfer(address,address,uint256)", NULL}};
    static cs_monitor_sig fns[] = {{"transfer(address,uint256)", NULL}};
    cs_monitor_def d = transfer_monitor();
    d.events = evs;
    d.functions = fns;
    d.nfunctions = 1;
    cs_monitor_engine *e = engine(&d, 1, s);
    cs_vw w;
    cs_vw_init(&w, 0);
    cs_vw_object_begin(&w);
    cs_vw_kv_str(&w, "address", TOKEN);
    cs_vw_kv_u64(&w, "block_number", 9);
    cs_vw_kv_str(&w, "tx_hash", "0x09");
    cs_vw_key(&w, "topics");
    cs_vw_array_begin(&w);
    cs_vw_cstr(&w, "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef");
    cs_vw_array_end(&w);
    cs_vw_object_end(&w);
    cs_event_hdr h = {
        .time_ns = 1, .origin = "evm", .network = "eth-main", .type = "evm.log", .key = "k"};
    feed(e, cs_event_new(&h, w.buf.data, w.buf.len));
    cs_vw_reset(&w);
    cs_vw_object_begin(&w);
    cs_vw_kv_str(&w, "hash", "0x0a");
    cs_vw_kv_str(&w, "from", ALICE);
    cs_vw_kv_str(&w, "to", TOKEN);
    cs_vw_kv_u64(&w, "block_number", 9);
    cs_vw_kv_bytes(&w, "input", "\xa9\x05\x9c\xbb\x00\x01", 6); /* transfer(address,uint256) */
    cs_vw_object_end(&w);
    h.type = "evm.tx";
    feed(e, cs_event_new(&h, w.buf.data, w.buf.len));
    cs_vw_free(&w);
    cs_monitor_engine_flush(e);
    assert_int_equal(s->n, 2);
    assert_string_equal(s->ids[0], "big-transfers/eth-main/0x09");
    assert_string_equal(s->ids[1], "big-transfers/eth-main/0x0a");
    assert_non_null(strstr(s->json[1], "\"type\":\"function\""));
    cs_monitor_engine_close(e);
    free(s);
}

static void test_pending_bound(void **state)
{
    (void)state;
    seen *s = calloc(1, sizeof *s);
    cs_monitor_def d = transfer_monitor();
    d.confirmations = 5;
    cs_monitor_engine_opts o = {.on_match = on_match, .arg = s, .max_pending_events = 2};
    cs_monitor_engine *e;
    char err[100];
    assert_int_equal(cs_monitor_engine_new(&o, &d, 1, &e, err, sizeof err), 0);
    feed(e, transfer_log("eth-main", 1, "0x01", TOKEN, ALICE, BOB, 500, 1));
    feed(e, transfer_log("eth-main", 1, "0x02", TOKEN, ALICE, BOB, 500, 1));
    feed(e, transfer_log("eth-main", 1, "0x03", TOKEN, ALICE, BOB, 500, 1)); /* over the bound */
    cs_monitor_engine_flush(e);
    feed(e, transfer_log("eth-main", 2, "0x04", TOKEN, ALICE, BOB, 500, 1)); /* room again */
    cs_monitor_engine_flush(e);
    cs_monitor_engine_stats st;
    cs_monitor_engine_get_stats(e, &st);
    assert_int_equal(st.dropped, 1);
    assert_int_equal(s->n, 3);
    cs_monitor_engine_close(e);
    free(s);
}

static void test_paused_and_networks(void **state)
{
    (void)state;
    seen *s = calloc(1, sizeof *s);
    static char *nets[] = {"eth-main"};
    cs_monitor_def d = transfer_monitor();
    d.networks = nets;
    d.nnetworks = 1;
    d.channels = (char *[]){"ops-webhook"};
    d.nchannels = 1;
    cs_monitor_engine *e = engine(&d, 1, s);
    feed(e, transfer_log("sepolia", 1, "0x01", TOKEN, ALICE, BOB, 500, 1));
    cs_monitor_engine_pause(e, "big-transfers", true);
    feed(e, transfer_log("eth-main", 1, "0x02", TOKEN, ALICE, BOB, 500, 1));
    cs_monitor_engine_flush(e);
    assert_int_equal(s->n, 0);
    cs_monitor_engine_pause(e, "big-transfers", false);
    feed(e, transfer_log("eth-main", 2, "0x03", TOKEN, ALICE, BOB, 500, 1));
    cs_monitor_engine_flush(e);
    assert_int_equal(s->n, 1);
    assert_string_equal(s->chans[0], "ops-webhook,"); /* the monitor's own channels */
    assert_int_equal(cs_monitor_engine_pause(e, "nope", true), CS_ENOTFOUND);
    cs_monitor_engine_close(e);
    free(s);
}

static void run_policy(cs_monitor_def *d, seen *s, const int64_t *times, int n)
{
    cs_monitor_engine *e = engine(d, 1, s);
    for (int i = 0; i < n; i++) {
        char h[16];
        snprintf(h, sizeof h, "0x%02x", i);
        feed(e, transfer_log("eth-main", 100 + (uint64_t)i, h, TOKEN, ALICE, i % 2 ? BOB : ALICE,
                             500, 1000 * S + times[i])); /* 0 is "now" */
    }
    cs_monitor_engine_flush(e);
    cs_monitor_stats st;
    assert_int_equal(cs_monitor_engine_monitor_stats(e, d->name, &st), 0);
    assert_int_equal(st.matches, (uint64_t)n);
    cs_monitor_engine_close(e);
}

static void test_threshold(void **state)
{
    (void)state;
    /* notify on the 3rd match within 60 s */
    seen *s = calloc(1, sizeof *s);
    cs_monitor_def d = transfer_monitor();
    d.policy.threshold = 3;
    d.policy.threshold_window_ns = 60 * S;
    int64_t t[] = {0, 10 * S, 20 * S, 30 * S, 200 * S, 300 * S, 310 * S, 320 * S};
    run_policy(&d, s, t, 8);
    cs_suppress want[] = {CS_SUPPRESS_THRESHOLD, CS_SUPPRESS_THRESHOLD, CS_SUPPRESS_NONE,
                          CS_SUPPRESS_THRESHOLD, CS_SUPPRESS_THRESHOLD, CS_SUPPRESS_THRESHOLD,
                          CS_SUPPRESS_THRESHOLD, CS_SUPPRESS_NONE};
    for (int i = 0; i < 8; i++)
        assert_int_equal(s->why[i], want[i]);
    assert_int_equal(s->notified, 2);
    free(s);
}

static void test_min_interval(void **state)
{
    (void)state;
    seen *s = calloc(1, sizeof *s);
    cs_monitor_def d = transfer_monitor();
    d.policy.min_interval_ns = 60 * S;
    int64_t t[] = {0, 10 * S, 59 * S, 60 * S, 61 * S, 200 * S};
    run_policy(&d, s, t, 6);
    cs_suppress want[] = {CS_SUPPRESS_NONE, CS_SUPPRESS_MIN_INTERVAL, CS_SUPPRESS_MIN_INTERVAL,
                          CS_SUPPRESS_NONE, CS_SUPPRESS_MIN_INTERVAL, CS_SUPPRESS_NONE};
    for (int i = 0; i < 6; i++)
        assert_int_equal(s->why[i], want[i]);
    free(s);
}

static void test_dedup(void **state)
{
    (void)state;
    /* one alert per recipient per hour */
    seen *s = calloc(1, sizeof *s);
    cs_monitor_def d = transfer_monitor();
    d.policy.dedup_key = "args.to";
    d.policy.dedup_window_ns = 3600 * S;
    int64_t t[] = {0, 1 * S, 2 * S, 3 * S, 4000 * S};
    run_policy(&d, s, t, 5);
    /* recipients alternate ALICE, BOB, ALICE, BOB, ALICE */
    cs_suppress want[] = {CS_SUPPRESS_NONE, CS_SUPPRESS_NONE, CS_SUPPRESS_DEDUP, CS_SUPPRESS_DEDUP,
                          CS_SUPPRESS_NONE};
    for (int i = 0; i < 5; i++)
        assert_int_equal(s->why[i], want[i]);
    free(s);
}

struct fired_ctx {
    int *n;
    char *j;
};

static void cb(cs_sub *sub, cs_event *ev, void *arg)
{
    (void)sub;
    struct fired_ctx *x = arg;
    (*x->n)++;
    char err[200];
    if (cs_schema_check(ev, err, sizeof err) != 0)
        fail_msg("alert.fired does not follow its schema: %s", err);
    cs_buf b;
    cs_buf_init(&b, 0);
    cs_json_event(&b, ev);
    snprintf(x->j, 2048, "%s", cs_buf_cstr(&b));
    cs_buf_free(&b);
}

static void test_event_monitor_window_and_bus(void **state)
{
    (void)state;
    seen *s = calloc(1, sizeof *s);
    cs_monitor_def d = {0};
    d.name = "addr-spam";
    d.kind = CS_MONITOR_EVENT;
    d.severity = CS_SEV_MEDIUM;
    d.risk = CS_RISK_SUSPICIOUS;
    d.subjects = (char *[]){"p2p.msg.addr"};
    d.nsubjects = 1;
    d.condition = "count > 0";
    d.window.enabled = true;
    d.window.kind = CS_WINDOW_COUNT;
    d.window.window_ns = 60 * S;
    d.window.threshold = 6;
    d.window.group_by = "key";
    cs_bus *bus;
    assert_int_equal(cs_bus_new(NULL, &bus), 0);
    static const char *medium[] = {"slack"};
    cs_monitor_engine_opts o = {.bus = bus, .on_match = on_match, .arg = s};
    o.default_channels[CS_SEV_MEDIUM] = medium;
    o.ndefault_channels[CS_SEV_MEDIUM] = 1;
    cs_monitor_engine *e;
    char err[200];
    assert_int_equal(cs_monitor_engine_new(&o, &d, 1, &e, err, sizeof err), 0);
    /* a listener for alert.fired */
    int fired = 0;
    char fired_json[2048] = "";
    struct fired_ctx c = {&fired, fired_json};
    const char *f[] = {"alert.fired"};
    cs_sub_opts so = {.filters = f, .nfilters = 1, .cb = cb, .arg = &c};
    cs_sub *sub;
    assert_int_equal(cs_bus_subscribe(bus, &so, &sub), 0);
    cs_publisher pub;
    cs_publisher_init(&pub, bus, "connector", "btc-main");
    for (int i = 0; i < 9; i++) {
        cs_vw *w = cs_publisher_begin(&pub);
        cs_vw_kv_u64(w, "count", 10);
        cs_publisher_emit(&pub, "p2p.msg.addr", NULL, i < 8 ? "peer-1" : "peer-2", NULL);
        cs_bus_drain(bus, 0);
    }
    assert_int_equal(s->n, 1); /* the 7th from peer-1 */
    assert_non_null(
        strstr(s->json[0], "\"window\":{\"kind\":\"count\",\"group\":\"peer-1\",\"count\":7"));
    assert_int_equal(fired, 1);
    assert_non_null(strstr(fired_json, "\"type\":\"alert.fired\""));
    assert_non_null(strstr(fired_json, "\"key\":\"addr-spam\""));
    assert_non_null(strstr(fired_json, "\"channels\":[\"slack\"]"));
    cs_publisher_free(&pub);
    cs_monitor_engine_close(e);
    cs_bus_unsubscribe(sub);
    cs_bus_close(bus);
    free(s);
}

static void test_stale_height_via_tick(void **state)
{
    (void)state;
    seen *s = calloc(1, sizeof *s);
    cs_monitor_def d = {0};
    d.name = "stuck";
    d.kind = CS_MONITOR_EVENT;
    d.severity = CS_SEV_HIGH;
    d.networks = (char *[]){"jouleverse"};
    d.nnetworks = 1;
    d.subjects = (char *[]){"node.check"};
    d.nsubjects = 1;
    d.window.enabled = true;
    d.window.kind = CS_WINDOW_STALE;
    d.window.window_ns = 60 * S;
    d.window.group_by = "key";
    d.window.of = "height";
    cs_monitor_engine *e = engine(&d, 1, s);
    int64_t t0 = 1000 * S;
    feed(e, simple("node.check", "jouleverse", "witness-1", "height", 500, t0));
    feed(e, simple("node.check", "jouleverse", "witness-2", "height", 700, t0));
    feed(e, simple("node.check", "jouleverse", "witness-2", "height", 701, t0 + 30 * S));
    cs_monitor_engine_tick(e, t0 + 59 * S);
    assert_int_equal(s->n, 0);
    cs_monitor_engine_tick(e, t0 + 60 * S);
    assert_int_equal(s->n, 1);
    assert_string_equal(s->ids[0], "stuck/jouleverse/witness-1/1060000000000");
    assert_non_null(strstr(s->json[0], "\"window\":{\"kind\":\"stale\",\"group\":\"witness-1\""));
    cs_monitor_engine_tick(e, t0 + 61 * S); /* once */
    assert_int_equal(s->n, 1);
    cs_monitor_engine_tick(e, t0 + 90 * S); /* witness-2 stopped at 701 at t0+30 */
    assert_int_equal(s->n, 2);
    cs_monitor_engine_close(e);
    free(s);
}

static void test_config_errors(void **state)
{
    (void)state;
    seen s;
    cs_monitor_engine_opts o = {.on_match = on_match, .arg = &s};
    cs_monitor_engine *e;
    char err[256];
    cs_monitor_def d = transfer_monitor();
    static cs_monitor_sig bad[] = {{"Transfer(address,address,uint256)", "value >"}};
    d.events = bad;
    assert_int_equal(cs_monitor_engine_new(&o, &d, 1, &e, err, sizeof err), CS_ECONFIG);
    assert_string_equal(
        err, "monitor big-transfers: condition: 1:8: expected a value, found end of input");
    d = transfer_monitor();
    d.addresses = (char *[]){"0x1234"};
    assert_int_equal(cs_monitor_engine_new(&o, &d, 1, &e, err, sizeof err), CS_ECONFIG);
    assert_string_equal(err,
                        "monitor big-transfers: '0x1234' is not an address (0x and 40 hex digits)");
    cs_monitor_def two[] = {transfer_monitor(), transfer_monitor()};
    assert_int_equal(cs_monitor_engine_new(&o, two, 2, &e, err, sizeof err), CS_ECONFIG);
    assert_string_equal(err, "monitor big-transfers: defined twice");
    char out[100];
    assert_int_equal(cs_monitor_canonical_sig(
                         "event Swap(address indexed sender, (uint a, bytes32[2] b) x, int y)", out,
                         sizeof out) > 0,
                     1);
    assert_string_equal(out, "Swap(address,(uint256,bytes32[2]),int256)");
}

static void test_index_many_monitors(void **state)
{
    (void)state;
    /* 500 monitors on 500 contracts: a tx meets only its own */
    seen *s = calloc(1, sizeof *s);
    cs_monitor_def *d = calloc(500, sizeof *d);
    char(*names)[32] = calloc(500, 32);
    char(*addrs)[43] = calloc(500, 43);
    char **ap = calloc(500, sizeof *ap);
    for (int i = 0; i < 500; i++) {
        d[i] = transfer_monitor();
        snprintf(names[i], 32, "m%d", i);
        snprintf(addrs[i], 43, "0x%040x", i + 1);
        ap[i] = addrs[i];
        d[i].name = names[i];
        d[i].addresses = &ap[i];
    }
    cs_monitor_engine *e = engine(d, 500, s);
    feed(e, transfer_log("eth-main", 1, "0x01", "0x00000000000000000000000000000000000000fa", ALICE,
                         BOB, 500, 1));
    cs_monitor_engine_flush(e);
    assert_int_equal(s->n, 1);
    assert_string_equal(s->ids[0], "m249/eth-main/0x01");
    cs_monitor_engine_stats st;
    cs_monitor_engine_get_stats(e, &st);
    assert_int_equal(st.pairs, 500);
    assert_int_equal(st.evaluated, 1);
    cs_monitor_engine_close(e);
    free(d);
    free(names);
    free(addrs);
    free(ap);
    free(s);
}

static void run_filter(char **argv, int64_t timeout_ns, bool keep_err, bool keep_to, seen *s)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    cs_monitor_def d = transfer_monitor();
    d.filter.argv = argv;
    d.filter.timeout_ns = timeout_ns;
    d.filter.keep_on_error = keep_err;
    d.filter.keep_on_timeout = keep_to;
    cs_monitor_engine_opts o = {.loop = &loop, .on_match = on_match, .arg = s};
    cs_monitor_engine *e;
    char err[200];
    assert_int_equal(cs_monitor_engine_new(&o, &d, 1, &e, err, sizeof err), 0);
    /* 30 matches in one block: two batches, of 25 and 5 */
    for (int i = 0; i < 30; i++) {
        char h[16];
        snprintf(h, sizeof h, "0x%02x", i);
        feed(e, transfer_log("eth-main", 7, h, TOKEN, ALICE, BOB, 500 + (uint64_t)i * 100, 1));
    }
    cs_monitor_engine_flush(e);
    assert_true(cs_monitor_engine_busy(e) <= 2); /* 0 when the program cannot start */
    while (cs_monitor_engine_busy(e))
        uv_run(&loop, UV_RUN_ONCE);
    cs_monitor_engine_close(e);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_custom_filter(void **state)
{
    (void)state;
    /* keeps the transfers above 2000 and adds metadata */
    static char *keep_big[] = {
        "/usr/bin/python3", "-c",
        "import json,sys\n"
        "d=json.load(sys.stdin)\n"
        "ms=[{'id':m['id'],'metadata':{'batch':len(d['matches'])}} for m in d['matches']"
        " if int(m['args']['value'])>2000]\n"
        "print(json.dumps({'matches':ms}))\n",
        NULL};
    seen *s = calloc(1, sizeof *s);
    run_filter(keep_big, 10 * S, false, false, s);
    assert_int_equal(s->n, 30);        /* every match is recorded */
    assert_int_equal(s->notified, 14); /* 2100 ... 3400 */
    int kept_meta = 0;
    for (int i = 0; i < s->n; i++) {
        if (s->why[i] == CS_SUPPRESS_NONE)
            kept_meta += strstr(s->json[i], "\"metadata\":{\"batch\":") != NULL;
        else
            assert_int_equal(s->why[i], CS_SUPPRESS_FILTER);
    }
    assert_int_equal(kept_meta, 14);
    free(s);

    static char *fails[] = {"/bin/false", NULL};
    s = calloc(1, sizeof *s);
    run_filter(fails, 10 * S, false, true, s);
    assert_int_equal(s->n, 30);
    assert_int_equal(s->notified, 0); /* on_error: drop */
    free(s);

    static char *slow[] = {"/bin/sleep", "5", NULL};
    s = calloc(1, sizeof *s);
    run_filter(slow, S / 5, false, true, s);
    assert_int_equal(s->notified, 30); /* on_timeout: keep */
    free(s);

    static char *missing[] = {"/nonexistent/filter", NULL};
    s = calloc(1, sizeof *s);
    run_filter(missing, S, true, false, s);
    assert_int_equal(s->notified, 30); /* cannot start: on_error: keep */
    free(s);
}

int main(void)
{
    cs_schema_register(cs_schema_monitors);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_event_condition_and_addresses),
        cmocka_unit_test(test_functions_tx_condition_or),
        cmocka_unit_test(test_confirmations_and_reorg),
        cmocka_unit_test(test_undecoded_by_topic_and_selector),
        cmocka_unit_test(test_pending_bound),
        cmocka_unit_test(test_paused_and_networks),
        cmocka_unit_test(test_threshold),
        cmocka_unit_test(test_min_interval),
        cmocka_unit_test(test_dedup),
        cmocka_unit_test(test_event_monitor_window_and_bus),
        cmocka_unit_test(test_stale_height_via_tick),
        cmocka_unit_test(test_config_errors),
        cmocka_unit_test(test_index_many_monitors),
        cmocka_unit_test(test_custom_filter),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
