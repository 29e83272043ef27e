/* Tests src/evm/chain.c: a block, transactions and receipts (as a node
 * returns them) become evm.block, evm.tx and evm.log events that match the
 * schema, with exact quantities, decoded args, and errors naming the block
 * and transaction. */
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
#include "evm/chain.h"

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_events),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
