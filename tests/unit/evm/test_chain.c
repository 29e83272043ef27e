/* Tests src/evm/chain.c: a block, transactions and receipts (as a node
 * returns them) become evm.block, evm.tx and evm.log events that match the
 * schema, with exact quantities, decoded args, and errors naming the block
 * and transaction; the fast field writer writes what cs_vw writes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "core/bus.h"
#include "core/error.h"
#include "core/schema.h"
#include "evm/events.h"
#include "evm/chain.h"
#include "evm/chain_fw.h"

#define BH "0xb0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0"
#define TX1 "0x7171717171717171717171717171717171717171717171717171717171717171"
#define TX2 "0x7272727272727272727272727272727272727272727272727272727272727272"
#define TOKEN "0x7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e"
#define ME "0xF39FD6E51AAD88F6F4CE6AB8827279CFFFB92266"

static const char *block_json =
    "{\"number\":\"0x10\",\"hash\":\"" BH "\",\"parentHash\":\"0x"
    "aa"
    "aaaaaaaaaaaaaaaaaaaaaaaaaa"
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"timestamp\":\"0x65\",\"miner\":\"" TOKEN "\","
    "\"gasUsed\":\"0x1\",\"gasLimit\":\"0x1c9c380\",\"baseFeePerGas\":\"0x7\",\"transactions\":["
    "{\"hash\":\"" TX1 "\",\"from\":\"" ME "\",\"to\":\"" TOKEN "\",\"value\":\"0xde0b6b3a7640000"
    "0000\",\"nonce\":\"0x1\",\"gas\":\"0x30000\",\"input\":\"0xa9059cbb0000000000000000000000000"
    "000000000000000000000000000000000000001ffffffffffffffffffffffffffffffffffffffffffffffffffff"
    "ffffffffffff\"},"
    "{\"hash\":\"" TX2 "\",\"from\":\"" ME "\",\"to\":null,\"value\":\"0x0\",\"input\":\"0x60\"}]}";

static const char *receipts_json =
    "[{\"transactionHash\":\"" TX1 "\",\"transactionIndex\":\"0x0\",\"blockHash\":\"" BH "\","
    "\"blockNumber\":\"0x10\",\"from\":\"" ME "\",\"to\":\"" TOKEN "\",\"status\":\"0x1\","
    "\"gasUsed\":\"0x9000\",\"cumulativeGasUsed\":\"0x9000\",\"effectiveGasPrice\":\"0x3b9aca00\","
    "\"type\":\"0x2\",\"logs\":[{\"address\":\"" TOKEN "\",\"topics\":["
    "\"0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef\","
    "\"0x000000000000000000000000f39fd6e51aad88f6f4ce6ab8827279cfffb92266\","
    "\"0x0000000000000000000000000000000000000000000000000000000000000001\"],\"data\":\"0xffffff"
    "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffff\",\"logIndex\":\"0x3\","
    "\"transactionHash\":\"" TX1 "\",\"blockHash\":\"" BH "\",\"removed\":false}]},"
    "{\"transactionHash\":\"" TX2 "\",\"transactionIndex\":\"0x1\",\"from\":\"" ME "\",\"to\":null,"
    "\"contractAddress\":\"0x5fbdb2315678afecb367f032d93f642f64180aa3\",\"status\":\"0x0\","
    "\"gasUsed\":\"0x5208\",\"logs\":[]}]";

static const char *abi_json =
    "[{\"type\":\"event\",\"name\":\"Transfer\",\"inputs\":[{\"name\":\"from\",\"type\":"
    "\"address\",\"indexed\":true},{\"name\":\"to\",\"type\":\"address\",\"indexed\":true},"
    "{\"name\":\"value\",\"type\":\"uint256\"}]},{\"type\":\"function\",\"name\":\"transfer\","
    "\"inputs\":[{\"name\":\"to\",\"type\":\"address\"},{\"name\":\"value\",\"type\":"
    "\"uint256\"}]}]";

static cs_event *evs[16];
static size_t nev;

static void collect(cs_sub *sub, cs_event *ev, void *arg)
{
    (void)sub;
    (void)arg;
    if (nev < 16)
        evs[nev++] = cs_event_ref(ev);
}

static void field(const cs_event *e, const char *path, cs_val *v)
{
    if (cs_event_field(e, path, strlen(path), v))
        fail_msg("%s: no field %s", e->type, path);
}

static void test_events(void **st)
{
    (void)st;
    cs_bus *bus;
    assert_int_equal(cs_bus_new(NULL, &bus), 0);
    cs_sub *sub;
    cs_sub_opts so = {.cb = collect};
    assert_int_equal(cs_bus_subscribe(bus, &so, &sub), 0);
    cs_publisher pub;
    cs_publisher_init(&pub, bus, "test", "net");
    cs_evm_abis *abis;
    cs_abi *abi;
    char err[512];
    assert_int_equal(cs_evm_abis_new(&abis), 0);
    assert_int_equal(cs_abi_parse(abi_json, strlen(abi_json), "t", &abi, err, sizeof err), 0);
    uint8_t token[20];
    memset(token, 0x7e, 20);
    assert_int_equal(cs_evm_abis_add(abis, token, abi), 0);

    cs_jsonr b, r;
    cs_jsonr_init(&b, 0, 0);
    cs_jsonr_init(&r, 0, 0);
    assert_int_equal(cs_jsonr_parse(&b, block_json, strlen(block_json)), 0);
    assert_int_equal(cs_jsonr_parse(&r, receipts_json, strlen(receipts_json)), 0);
    cs_evm_blockref ref;
    char parent[67];
    assert_int_equal(cs_evm_read_block(&b, 0, &ref, parent, err, sizeof err), 0);
    assert_int_equal(ref.number, 16);
    assert_string_equal(ref.hash, BH);
    cs_buf scratch;
    cs_buf_init(&scratch, 1u << 20);
    cs_evm_counts c = {0};
    uint32_t txs = cs_jsonr_get(&b, 0, "transactions");
    uint32_t tx = cs_jsonr_first(&b, txs), rc = cs_jsonr_first(&r, 0);
    assert_int_equal(
        cs_evm_emit_receipt(&pub, &r, rc, &b, tx, &ref, abis, &scratch, &c, err, sizeof err), 0);
    tx = cs_jsonr_next_item(&b, txs, tx);
    rc = cs_jsonr_next_item(&r, 0, rc);
    assert_int_equal(
        cs_evm_emit_receipt(&pub, &r, rc, &b, tx, &ref, abis, &scratch, &c, err, sizeof err), 0);
    /* evm.block last, as the follower publishes it: it closes the block */
    assert_int_equal(cs_evm_emit_block(&pub, &b, 0, "node", &ref, parent, err, sizeof err), 0);
    assert_int_equal(c.txs, 2);
    assert_int_equal(c.logs, 1);
    assert_int_equal(c.decoded_logs, 1);
    cs_bus_drain(bus, 0);
    assert_int_equal(nev, 4);
    for (size_t i = 0; i < nev; i++)
        if (cs_schema_check(evs[i], err, sizeof err))
            fail_msg("event %zu: %s", i, err);
    cs_val v;
    assert_string_equal(evs[3]->type, "evm.block");
    field(evs[3], "base_fee", &v);
    assert_int_equal(v.u, 7);
    field(evs[3], "number", &v);
    assert_int_equal(v.u, 16);
    assert_string_equal(evs[0]->type, "evm.tx");
    field(evs[0], "from", &v); /* lowercased */
    assert_true(cs_val_str_eq(&v, "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266"));
    field(evs[0], "value", &v); /* 0xde0b6b3a76400000000: beyond 64 bits, exact */
    assert_int_equal(v.kind, CS_VAL_BIG);
    field(evs[0], "function", &v);
    assert_true(cs_val_str_eq(&v, "transfer"));
    field(evs[0], "args.value", &v);
    assert_int_equal(v.kind, CS_VAL_BIG);
    assert_string_equal(evs[1]->type, "evm.log");
    assert_string_equal(evs[1]->key, TOKEN);
    field(evs[1], "args.to", &v);
    assert_true(cs_val_str_eq(&v, "0x0000000000000000000000000000000000000001"));
    field(evs[1], "log_index", &v);
    assert_int_equal(v.u, 3);
    field(evs[1], "topics[0]", &v);
    assert_true(
        cs_val_str_eq(&v, "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"));
    assert_string_equal(evs[2]->type, "evm.tx");
    field(evs[2], "contract_address", &v);
    field(evs[2], "status", &v);
    assert_int_equal(v.u, 0);

    /* A receipt that is not the transaction's: an error naming both. */
    tx = cs_jsonr_first(&b, txs);
    assert_int_equal(
        cs_evm_emit_receipt(&pub, &r, rc, &b, tx, &ref, abis, &scratch, &c, err, sizeof err),
        CS_EPARSE);
    assert_non_null(strstr(err, "block 16 tx " TX2));
    assert_non_null(strstr(err, "does not match transaction " TX1));

    for (size_t i = 0; i < nev; i++)
        cs_event_unref(evs[i]);
    cs_buf_free(&scratch);
    cs_jsonr_free(&b);
    cs_jsonr_free(&r);
    cs_evm_abis_free(abis);
    cs_publisher_free(&pub);
    cs_bus_close(bus);
}

/* The fast writer writes what cs_vw writes, byte for byte. */
static void test_fast_writer(void **st)
{
    (void)st;
    static const uint8_t cases[][32] = {
        {0},
        {[31] = 1},
        {[24] = 0x80},             /* 64 bits, top bit set */
        {[23] = 1},                /* 65 bits: a big */
        {[0] = 0xff, [31] = 0xff}, /* 256 bits */
        {[5] = 0x12, [6] = 0x34, [30] = 0x56},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cs_vw a, b;
        cs_vw_init(&a, 0);
        cs_vw_init(&b, 0);
        cs_vw_object_begin(&a);
        cs_vw_key(&a, "v");
        cs_vw_big(&a, cases[i], 32, false);
        cs_vw_kv_strn(&a, "s", "0xab", 4);
        cs_vw_kv_bool(&a, "t", true);
        cs_vw_kv_u64(&a, "u", 300);
        cs_vw_object_end(&a);
        cs_vw_object_begin(&b);
        uint8_t *q = fw_begin(&b, 128);
        assert_non_null(q);
        q = fw_big(FW_KEY(q, "v"), cases[i]);
        q = fw_str(FW_KEY(q, "s"), "0xab", 4);
        q = fw_bool(FW_KEY(q, "t"), true);
        q = fw_uint(FW_KEY(q, "u"), 300);
        fw_commit(&b, q, 4);
        cs_vw_object_end(&b);
        assert_int_equal(cs_vw_error(&a), 0);
        assert_int_equal(cs_vw_error(&b), 0);
        assert_int_equal(a.buf.len, b.buf.len);
        assert_memory_equal(a.buf.data, b.buf.data, a.buf.len);
        cs_vw_free(&a);
        cs_vw_free(&b);
    }
}

/* Log data of every size decodes to the same bytes: empty, a tail shorter
 * than 16 bytes, upper-case digits, and data too large to decode in place
 * (through scratch). Topics come out lowercased. */
static void test_log_data(void **st)
{
    (void)st;
    static const size_t sizes[] = {0, 1, 15, 16, 33, 100, 70000};
    enum { NS = sizeof sizes / sizeof sizes[0] };
    cs_buf j;
    cs_buf_init(&j, 0);
    cs_buf_printf(&j,
                  "{\"transactionHash\":\"%s\",\"transactionIndex\":\"0x0\",\"from\":\"%s\","
                  "\"to\":\"%s\",\"gasUsed\":\"0x1\",\"logs\":[",
                  TX1, ME, TOKEN);
    for (size_t i = 0; i < NS; i++) {
        cs_buf_printf(&j, "%s{\"address\":\"%s\",\"topics\":[\"0x%s%s\"],\"data\":\"0x",
                      i ? "," : "", ME, "DDF252AD1BE2C89B69C2B068FC378DAA",
                      "952ba7f163c4a11628f55a4df523b3ef");
        for (size_t k = 0; k < sizes[i]; k++)
            cs_buf_printf(&j, "%02X", (unsigned)(k * 7 + i) & 0xff);
        cs_buf_printf(&j, "\",\"logIndex\":\"0x%zx\"}", i);
    }
    cs_buf_append_str(&j, "]}");

    cs_bus *bus;
    assert_int_equal(cs_bus_new(NULL, &bus), 0);
    cs_sub *sub;
    cs_sub_opts so = {.cb = collect};
    assert_int_equal(cs_bus_subscribe(bus, &so, &sub), 0);
    cs_publisher pub;
    cs_publisher_init(&pub, bus, "test", "net");
    cs_jsonr r;
    cs_jsonr_init(&r, 0, 0);
    assert_int_equal(cs_jsonr_parse(&r, (const char *)j.data, j.len), 0);
    cs_evm_blockref ref = {.number = 16};
    cs_buf scratch;
    cs_buf_init(&scratch, 1u << 20);
    cs_evm_counts c = {0};
    char err[256];
    nev = 0;
    assert_int_equal(
        cs_evm_emit_receipt(&pub, &r, 0, NULL, 0, &ref, NULL, &scratch, &c, err, sizeof err), 0);
    assert_int_equal(c.logs, NS);
    cs_bus_drain(bus, 0);
    assert_int_equal(nev, 1 + NS);
    for (size_t i = 0; i < NS; i++) {
        const cs_event *e = evs[1 + i];
        if (cs_schema_check(e, err, sizeof err))
            fail_msg("log %zu: %s", i, err);
        cs_val v;
        field(e, "data", &v);
        assert_int_equal(v.kind, CS_VAL_BYTES);
        assert_int_equal(v.n, sizes[i]);
        for (size_t k = 0; k < sizes[i]; k++)
            if (v.p[k] != ((k * 7 + i) & 0xff))
                fail_msg("log %zu: byte %zu is %02x", i, k, v.p[k]);
        field(e, "topics[0]", &v);
        assert_true(cs_val_str_eq(
            &v, "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"));
        field(e, "address", &v);
        assert_true(cs_val_str_eq(&v, "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266"));
        field(e, "log_index", &v);
        assert_int_equal(v.u, i);
    }

    /* A bad digit anywhere in the data: the log's error, no event. */
    for (size_t at = 0; at < 40; at += 13) {
        cs_buf bad;
        cs_buf_init(&bad, 0);
        cs_buf_printf(&bad,
                      "{\"transactionHash\":\"%s\",\"transactionIndex\":\"0x0\",\"from\":\"%s\","
                      "\"gasUsed\":\"0x1\",\"logs\":[{\"address\":\"%s\",\"topics\":[],"
                      "\"data\":\"0x",
                      TX1, ME, TOKEN);
        for (size_t k = 0; k < 40; k++)
            cs_buf_append_str(&bad, k == at ? "0g" : "0a");
        cs_buf_append_str(&bad, "\"}]}");
        assert_int_equal(cs_jsonr_parse(&r, (const char *)bad.data, bad.len), 0);
        c = (cs_evm_counts){0};
        assert_int_equal(
            cs_evm_emit_receipt(&pub, &r, 0, NULL, 0, &ref, NULL, &scratch, &c, err, sizeof err),
            CS_EPARSE);
        assert_non_null(strstr(err, "log data: not 0x hex"));
        assert_int_equal(c.txs, 1);
        assert_int_equal(c.logs, 0);
        cs_buf_free(&bad);
    }

    for (size_t i = 0; i < nev; i++)
        cs_event_unref(evs[i]);
    nev = 0;
    cs_buf_free(&scratch);
    cs_jsonr_free(&r);
    cs_buf_free(&j);
    cs_publisher_free(&pub);
    cs_bus_close(bus);
}

int main(void)
{
    cs_schema_register(cs_schema_evm);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_events),
        cmocka_unit_test(test_fast_writer),
        cmocka_unit_test(test_log_data),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
