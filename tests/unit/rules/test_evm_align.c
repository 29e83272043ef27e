/* The EVM follower's events as the monitors read them: a block, its
 * transactions and receipts (as a node returns them) go through
 * src/evm/chain.c onto a bus, in the follower's order, into the monitor
 * engine. Every field name of rules/evm_fields.h is in the follower's
 * schema; `status` reads as "success"/"failed" (and as 1/0); evm.block closes
 * its block; evm.reorg's common_ancestor drops replaced blocks; a monitor's
 * own ABI decodes what the follower left undecoded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/bus.h"
#include "core/error.h"
#include "core/schema.h"
#include "evm/events.h"
#include "rules/events.h"
#include "evm/chain.h"
#include "rules/evm_fields.h"
#include "rules/monitor.h"

#define BH "0xb0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0"
#define PH "0xaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define TX1 "0x7171717171717171717171717171717171717171717171717171717171717171"
#define TX2 "0x7272727272727272727272727272727272727272727272727272727272727272"
#define TX3 "0x7373737373737373737373737373737373737373737373737373737373737373"
#define TOKEN "0x7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e"
#define ME "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266"
#define ME32 "000000000000000000000000f39fd6e51aad88f6f4ce6ab8827279cfffb92266"
#define ONE32 "0000000000000000000000000000000000000000000000000000000000000001"
#define TRANSFER_T0 "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
#define Z60 "000000000000000000000000000000000000000000000000000000000000"

static const char *abi_json =
    "[{\"type\":\"event\",\"name\":\"Transfer\",\"inputs\":[{\"name\":\"from\",\"type\":"
    "\"address\",\"indexed\":true},{\"name\":\"to\",\"type\":\"address\",\"indexed\":true},"
    "{\"name\":\"value\",\"type\":\"uint256\"}]},{\"type\":\"function\",\"name\":\"transfer\","
    "\"inputs\":[{\"name\":\"to\",\"type\":\"address\"},{\"name\":\"value\",\"type\":"
    "\"uint256\"}]}]";

/* transfer(0x..01, v) for v of 4 hex digits */
#define CALL(v) "0xa9059cbb" ONE32 Z60 v

/* Block 16: tx1 transfers 5000 (EIP-1559 fields), tx2 999, tx3 reverts. */
static const char *block_json =
    "{\"number\":\"0x10\",\"hash\":\"" BH "\",\"parentHash\":\"" PH "\",\"timestamp\":\"0x65\","
    "\"transactions\":["
    "{\"hash\":\"" TX1 "\",\"from\":\"" ME "\",\"to\":\"" TOKEN "\",\"value\":\"0x0\","
    "\"nonce\":\"0x1\",\"gas\":\"0x30000\",\"gasPrice\":\"0x3b9aca00\",\"maxFeePerGas\":\"0x64\","
    "\"maxPriorityFeePerGas\":\"0x2\",\"input\":\"" CALL(
        "1388") "\"},"
                "{\"hash\":\"" TX2 "\",\"from\":\"" ME "\",\"to\":\"" TOKEN "\",\"value\":\"0x5\","
                "\"nonce\":\"0x2\",\"gas\":\"0x30000\",\"gasPrice\":\"0x3b9aca00\","
                "\"input\":\"" CALL(
                    "03e7") "\"},"
                            "{\"hash\":\"" TX3 "\",\"from\":\"" ME "\",\"to\":\"" TOKEN
                            "\",\"value\":\"0x0\","
                            "\"nonce\":\"0x3\",\"gas\":\"0x30000\",\"gasPrice\":\"0x3b9aca00\","
                            "\"input\":\"" CALL("1b58") "\"}]}";

#define LOG(tx, idx, v)                                                                            \
    "{\"address\":\"" TOKEN "\",\"topics\":[\"" TRANSFER_T0 "\",\"0x" ME32 "\",\"0x" ONE32         \
    "\"],\"data\":\"0x" Z60 v "\",\"logIndex\":\"" idx "\",\"transactionHash\":\"" tx "\"}"

static const char *receipts_json =
    "[{\"transactionHash\":\"" TX1 "\",\"transactionIndex\":\"0x0\",\"from\":\"" ME "\","
    "\"to\":\"" TOKEN "\",\"status\":\"0x1\",\"gasUsed\":\"0x9000\",\"type\":\"0x2\","
    "\"logs\":[" LOG(
        TX1, "0x0",
        "1388") "]},"
                "{\"transactionHash\":\"" TX2 "\",\"transactionIndex\":\"0x1\",\"from\":\"" ME "\","
                "\"to\":\"" TOKEN "\",\"status\":\"0x1\",\"gasUsed\":\"0x9001\","
                "\"logs\":[" LOG(
                    TX2, "0x1",
                    "03e7") "]},"
                            "{\"transactionHash\":\"" TX3
                            "\",\"transactionIndex\":\"0x2\",\"from\":\"" ME "\","
                            "\"to\":\"" TOKEN
                            "\",\"status\":\"0x0\",\"gasUsed\":\"0x5208\",\"logs\":[]}]";

/* ---- what the engine reports -------------------------------------------- */

typedef struct seen {
    char ids[16][160];
    char json[16][4096];
    size_t n;
} seen;

static void on_match(const cs_match *m, void *arg)
{
    seen *s = arg;
    if (s->n == 16)
        return;
    snprintf(s->ids[s->n], sizeof s->ids[0], "%s", m->id);
    cs_val v = {0};
    s->json[s->n][0] = 0;
    if (cs_val_get(&m->doc, "matchReasonsFormatted", 21, &v) == 0)
        snprintf(s->json[s->n], sizeof s->json[0], "%.*s", (int)v.n, (const char *)v.p);
    s->n++;
}

static bool has(const seen *s, const char *id)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->ids[i], id) == 0)
            return true;
    return false;
}

/* ---- the follower's side ------------------------------------------------- */

static cs_abi *token_abi(void)
{
    cs_abi *abi;
    char err[256];
    assert_int_equal(cs_abi_parse(abi_json, strlen(abi_json), "t", &abi, err, sizeof err), 0);
    return abi;
}

/* Publishes block 16 as the follower does: its transactions with their
 * logs, then evm.block. with_abi: the follower knows the token's ABI. */
static void publish_block(cs_bus *bus, bool with_abi)
{
    cs_publisher pub;
    cs_publisher_init(&pub, bus, "evm@test", "eth-main");
    cs_evm_abis *abis = NULL;
    if (with_abi) {
        assert_int_equal(cs_evm_abis_new(&abis), 0);
        uint8_t token[20];
        memset(token, 0x7e, 20);
        assert_int_equal(cs_evm_abis_add(abis, token, token_abi()), 0);
    }
    cs_jsonr b, r;
    cs_jsonr_init(&b, 0, 0);
    cs_jsonr_init(&r, 0, 0);
    assert_int_equal(cs_jsonr_parse(&b, block_json, strlen(block_json)), 0);
    assert_int_equal(cs_jsonr_parse(&r, receipts_json, strlen(receipts_json)), 0);
    cs_evm_blockref ref;
    char parent[67], err[512];
    assert_int_equal(cs_evm_read_block(&b, 0, &ref, parent, err, sizeof err), 0);
    cs_buf scratch;
    cs_buf_init(&scratch, CS_EVENT_MAX_SIZE);
    cs_evm_counts c = {0};
    uint32_t txs = cs_jsonr_get(&b, 0, "transactions");
    uint32_t rc = cs_jsonr_first(&r, 0);
    for (uint32_t tx = cs_jsonr_first(&b, txs); tx; tx = cs_jsonr_next_item(&b, txs, tx)) {
        if (cs_evm_emit_receipt(&pub, &r, rc, &b, tx, &ref, abis, &scratch, &c, err, sizeof err))
            fail_msg("%s", err);
        rc = cs_jsonr_next_item(&r, 0, rc);
    }
    assert_int_equal(cs_evm_emit_block(&pub, &b, 0, "eth-main", &ref, parent, err, sizeof err), 0);
    assert_int_equal(c.txs, 3);
    assert_int_equal(c.logs, 2);
    cs_buf_free(&scratch);
    cs_jsonr_free(&b);
    cs_jsonr_free(&r);
    cs_evm_abis_free(abis);
    cs_publisher_free(&pub);
}

/* ---- the names ---------------------------------------------------------- */

static void has_field(const char *type, const char *name)
{
    const cs_event_def *d = cs_schema_find(type);
    assert_non_null(d);
    for (const cs_field_def *f = d->fields; f->name; f++)
        if (strcmp(f->name, name) == 0)
            return;
    fail_msg("%s has no field %s (rules/evm_fields.h)", type, name);
}

static void test_names_are_the_schema(void **st)
{
    (void)st;
    const char *logf[] = {CS_EVF_LOG_ADDRESS, CS_EVF_LOG_TOPICS,   CS_EVF_LOG_TX_HASH,
                          CS_EVF_LOG_INDEX,   CS_EVF_LOG_EVENT,    CS_EVF_LOG_SIGNATURE,
                          CS_EVF_ARGS,        CS_EVF_BLOCK_NUMBER, CS_EVF_BLOCK_HASH};
    for (size_t i = 0; i < sizeof logf / sizeof *logf; i++)
        has_field(CS_EVT_LOG, logf[i]);
    const char *txf[] = {CS_EVF_TX_HASH,      CS_EVF_TX_FROM,     CS_EVF_TX_TO,
                         CS_EVF_TX_VALUE,     CS_EVF_TX_FUNCTION, CS_EVF_TX_SIGNATURE,
                         CS_EVF_TX_INPUT,     CS_EVF_TX_STATUS,   CS_EVF_ARGS,
                         CS_EVF_BLOCK_NUMBER, CS_EVF_BLOCK_HASH,  "nonce"};
    for (size_t i = 0; i < sizeof txf / sizeof *txf; i++)
        has_field(CS_EVT_TX, txf[i]);
    static const cs_expr_alias aliases[] = {CS_EVM_TX_ALIASES};
    for (size_t i = 0; i < sizeof aliases / sizeof *aliases; i++)
        has_field(CS_EVT_TX, aliases[i].path);
    has_field(CS_EVT_BLOCK, CS_EVF_NUMBER);
    has_field(CS_EVT_BLOCK, CS_EVF_HASH);
    has_field(CS_EVT_REORG, CS_EVF_REORG_ANCESTOR);
    assert_string_equal(cs_evm_tx_enums[0].type, CS_EVT_TX);
}

/* ---- the engine on the follower's events --------------------------------- */

static cs_monitor_engine *engine(cs_bus *bus, cs_monitor_def *d, size_t n, seen *s)
{
    cs_monitor_engine_opts o = {.bus = bus, .on_match = on_match, .arg = s};
    cs_monitor_engine *e;
    char err[512];
    if (cs_monitor_engine_new(&o, d, n, &e, err, sizeof err))
        fail_msg("%s", err);
    return e;
}

static char *token_addr[] = {"0x7E7E7E7E7E7E7E7E7E7E7E7E7E7E7E7E7E7E7E7E"};
static cs_monitor_sig transfer_big[] = {
    {"Transfer(address indexed from, address indexed to, uint256 value)", "value > 1000"}};

static cs_monitor_def contract(const char *name, const char *txcond)
{
    cs_monitor_def d = {.name = (char *)name,
                        .kind = CS_MONITOR_CONTRACT,
                        .addresses = token_addr,
                        .naddresses = 1,
                        .tx_condition = (char *)txcond};
    return d;
}

static void test_follower_events_into_monitors(void **st)
{
    (void)st;
    cs_bus *bus;
    assert_int_equal(cs_bus_new(NULL, &bus), 0);
    seen *s = calloc(1, sizeof *s);
    cs_monitor_def d[8];
    size_t n = 0;
    d[n] = contract("big", NULL);
    d[n].events = transfer_big;
    d[n++].nevents = 1;
    d[n++] = contract("failed", "status == \"failed\" AND status == 0");
    d[n++] = contract("success", "status == 'success' AND status == 1 AND status != \"failed\"");
    /* Defender's names and the event's own, all from tx1 */
    d[n++] = contract("fields", "gasPrice == 1000000000 AND gas_price == 1000000000 AND "
                                "maxFeePerGas == 100 AND maxPriorityFeePerGas == 2 AND "
                                "gasLimit == 0x30000 AND gas == 0x30000 AND gasUsed == 0x9000 AND "
                                "nonce == 1 AND blockNumber == 16 AND blockHash == \"" BH "\" AND "
                                "from == \"" ME "\" AND to == \"" TOKEN "\"");
    /* in a transaction condition `value` is the wei sent; the call's argument
     * is args.value or $1 */
    d[n++] = contract("wei", "value == 5 AND args.value == 999 AND $1 == 999");
    cs_monitor_sig fn[] = {{"transfer(address,uint256)", "value > 6000 AND status == 'failed'"}};
    d[n] = contract("call", NULL);
    d[n].functions = fn;
    d[n++].nfunctions = 1;
    cs_monitor_engine *e = engine(bus, d, n, s);
    publish_block(bus, true);
    cs_bus_drain(bus, 0);
    /* evm.block came last and closed block 16: evaluated without a flush */
    assert_int_equal(s->n, 7);
    assert_true(has(s, "big/eth-main/" TX1));
    assert_true(has(s, "failed/eth-main/" TX3));
    assert_true(has(s, "success/eth-main/" TX1));
    assert_true(has(s, "success/eth-main/" TX2));
    assert_true(has(s, "fields/eth-main/" TX1));
    assert_true(has(s, "wei/eth-main/" TX2));
    assert_true(has(s, "call/eth-main/" TX3));
    cs_monitor_engine_flush(e);
    assert_int_equal(s->n, 7); /* nothing was left pending */
    cs_monitor_engine_close(e);
    cs_bus_close(bus);
    free(s);
}

static void test_call_condition_on_failed_tx(void **st)
{
    (void)st;
    cs_bus *bus;
    assert_int_equal(cs_bus_new(NULL, &bus), 0);
    seen *s = calloc(1, sizeof *s);
    cs_monitor_sig fn[] = {{"transfer(address,uint256)", "value > 6000 AND status == 'failed'"}};
    cs_monitor_def d = contract("call", NULL);
    d.functions = fn;
    d.nfunctions = 1;
    cs_monitor_engine *e = engine(bus, &d, 1, s);
    publish_block(bus, true);
    cs_bus_drain(bus, 0);
    assert_int_equal(s->n, 1);
    assert_string_equal(s->ids[0], "call/eth-main/" TX3);
    assert_non_null(strstr(s->json[0], "Type: function"));
    cs_monitor_engine_close(e);
    cs_bus_close(bus);
    free(s);
}

/* The follower has no ABI for the token; the monitor has. */
static void test_monitor_abi_decodes(void **st)
{
    (void)st;
    char path[] = "/tmp/cs-align-abi-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, abi_json, strlen(abi_json)), (ssize_t)strlen(abi_json));
    close(fd);
    cs_bus *bus;
    assert_int_equal(cs_bus_new(NULL, &bus), 0);
    seen *s = calloc(1, sizeof *s);
    cs_monitor_def d[3];
    d[0] = contract("big", NULL);
    d[0].events = transfer_big;
    d[0].nevents = 1;
    d[0].abi = path;
    d[1] = d[0];
    d[1].name = "big-no-abi"; /* finds Transfer by topic0, but no `value` to compare */
    d[1].abi = NULL;
    cs_monitor_sig fn[] = {{"transfer(address to, uint256 value)",
                            "to == \"0x0000000000000000000000000000000000000001\" AND "
                            "value > 6000"}};
    d[2] = contract("call", NULL);
    d[2].functions = fn;
    d[2].nfunctions = 1;
    d[2].abi = path;
    cs_monitor_engine *e = engine(bus, d, 3, s);
    publish_block(bus, false);
    cs_bus_drain(bus, 0);
    assert_int_equal(s->n, 2);
    assert_true(has(s, "big/eth-main/" TX1));
    assert_non_null(strstr(s->json[0], "Params: from=" ME " to=0x"));
    assert_non_null(strstr(s->json[0], "value=5000"));
    assert_true(has(s, "call/eth-main/" TX3));
    cs_monitor_engine_close(e);
    /* a bad ABI file is a config error naming the monitor */
    d[0].abi = "/nonexistent/abi.json";
    cs_monitor_engine_opts o = {0};
    char err[512];
    assert_int_equal(cs_monitor_engine_new(&o, d, 1, &e, err, sizeof err), CS_ECONFIG);
    assert_non_null(strstr(err, "monitor big: abi:"));
    cs_bus_close(bus);
    unlink(path);
    free(s);
}

static cs_event *reorg_event(uint64_t ancestor, uint64_t old_head)
{
    cs_vw w;
    cs_vw_init(&w, 0);
    cs_vw_object_begin(&w);
    cs_vw_kv_u64(&w, "depth", old_head - ancestor);
    cs_vw_kv_u64(&w, "common_ancestor", ancestor);
    cs_vw_kv_u64(&w, "old_head", old_head);
    cs_vw_key(&w, "old_hashes");
    cs_vw_array_begin(&w);
    cs_vw_cstr(&w, BH);
    cs_vw_array_end(&w);
    cs_vw_key(&w, "new_hashes");
    cs_vw_array_begin(&w);
    cs_vw_cstr(&w, PH);
    cs_vw_array_end(&w);
    cs_vw_object_end(&w);
    cs_event_hdr h = {
        .origin = "evm@test", .network = "eth-main", .type = "evm.reorg", .key = "eth-main"};
    cs_event *ev = cs_event_new(&h, w.buf.data, w.buf.len);
    cs_vw_free(&w);
    assert_non_null(ev);
    char err[256];
    if (cs_schema_check(ev, err, sizeof err))
        fail_msg("%s", err);
    return ev;
}

static cs_event *block_event(uint64_t n)
{
    cs_vw w;
    cs_vw_init(&w, 0);
    cs_vw_object_begin(&w);
    cs_vw_kv_u64(&w, "number", n);
    cs_vw_kv_str(&w, "hash", PH);
    cs_vw_object_end(&w);
    cs_event_hdr h = {
        .origin = "evm@test", .network = "eth-main", .type = "evm.block", .key = "eth-main"};
    cs_event *ev = cs_event_new(&h, w.buf.data, w.buf.len);
    cs_vw_free(&w);
    return ev;
}

/* evm.reorg as the follower publishes it drops the replaced pending block. */
static void test_reorg_drops_replaced_blocks(void **st)
{
    (void)st;
    for (int reorg = 0; reorg < 2; reorg++) {
        cs_bus *bus;
        assert_int_equal(cs_bus_new(NULL, &bus), 0);
        seen *s = calloc(1, sizeof *s);
        cs_monitor_def d = contract("big", NULL);
        d.events = transfer_big;
        d.nevents = 1;
        d.confirmations = 1;
        cs_monitor_engine *e = engine(bus, &d, 1, s);
        publish_block(bus, true);
        cs_bus_drain(bus, 0);
        assert_int_equal(s->n, 0); /* one confirmation to wait for */
        cs_event *ev;
        if (reorg) {
            cs_monitor_engine_feed(e, ev = reorg_event(15, 16));
            cs_event_unref(ev);
        }
        cs_monitor_engine_feed(e, ev = block_event(17));
        cs_event_unref(ev);
        assert_int_equal(s->n, reorg ? 0 : 1);
        cs_monitor_engine_stats es;
        cs_monitor_engine_get_stats(e, &es);
        assert_int_equal(es.reorged, reorg ? 1 : 0);
        cs_monitor_engine_close(e);
        cs_bus_close(bus);
        free(s);
    }
}

int main(void)
{
    cs_schema_register(cs_schema_evm);
    cs_schema_register(cs_schema_monitors);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names_are_the_schema),
        cmocka_unit_test(test_follower_events_into_monitors),
        cmocka_unit_test(test_call_condition_on_failed_tx),
        cmocka_unit_test(test_monitor_abi_decodes),
        cmocka_unit_test(test_reorg_drops_replaced_blocks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
