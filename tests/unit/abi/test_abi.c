/* Tests src/abi/keccak.c, src/abi/abi.c and abi_decode.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "core/json.h"
#include "core/value.h"
#include "abi/abi.h"
#include "core/hex.h"
#include "abi/keccak.h"

static void hexeq(const uint8_t *h, size_t n, const char *want)
{
    char got[200];
    cs_hex_encode(h, n, got);
    assert_string_equal(got, want);
}

/* Vectors: the Keccak team's empty-string and "abc" digests, and digests
 * around the 136-byte rate from a second implementation (ethers). */
static void test_keccak_vectors(void **st)
{
    (void)st;
    uint8_t h[32];
    cs_keccak256("", 0, h);
    hexeq(h, 32, "0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470");
    cs_keccak256("abc", 3, h);
    hexeq(h, 32, "0x4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45");
    cs_keccak256("The quick brown fox jumps over the lazy dog", 43, h);
    hexeq(h, 32, "0x4d741b6f1eb29cb2a9b9911c82f56fa8d73b04959d3d9d222895df6c0b28aa15");
    static const struct {
        size_t n;
        const char *hex;
    } v[] = {
        {135, "0x34367dc248bbd832f4e3e69dfaac2f92638bd0bbd18f2912ba4ef454919cf446"},
        {136, "0xa6c4d403279fe3e0af03729caada8374b5ca54d8065329a3ebcaeb4b60aa386e"},
        {137, "0xd869f639c7046b4929fc92a4d988a8b22c55fbadb802c0c66ebcd484f1915f39"},
        {272, "0xcf7fcd4f705ee749930d19ca84561a9bf62516bd90a471545fa2f49fdc7e63c8"},
        {1000, "0xb6a4ac1f51884d71f30fa397a5e155de3099e11fc0edef5d08b646e621e19de9"},
    };
    uint8_t a[1000];
    memset(a, 'a', sizeof a);
    for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
        cs_keccak256(a, v[i].n, h);
        hexeq(h, 32, v[i].hex);
        /* The same message fed in uneven pieces. */
        cs_keccak k;
        cs_keccak256_init(&k);
        size_t off = 0, step = 1;
        while (off < v[i].n) {
            size_t m = step < v[i].n - off ? step : v[i].n - off;
            cs_keccak256_update(&k, a + off, m);
            off += m;
            step = step * 3 + 1;
        }
        cs_keccak256_final(&k, h);
        hexeq(h, 32, v[i].hex);
    }
}

static void test_hex(void **st)
{
    (void)st;
    uint8_t b[8];
    size_t n;
    assert_int_equal(cs_hex_decode("0xA0ff", 6, b, sizeof b, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(b[0], 0xa0);
    assert_int_equal(cs_hex_decode("0xabc", 5, b, sizeof b, &n), CS_EPARSE);
    assert_int_equal(cs_hex_decode("0xzz", 4, b, sizeof b, &n), CS_EPARSE);
    assert_int_equal(cs_hex_decode("0x112233445566778899", 20, b, sizeof b, &n), CS_ELIMIT);
    uint64_t q;
    assert_int_equal(cs_hex_quantity("0x1a", 4, &q), 0);
    assert_int_equal(q, 26);
    assert_int_equal(cs_hex_quantity("0x", 2, &q), CS_EPARSE);
    assert_int_equal(cs_hex_quantity("0x10000000000000000", 19, &q), CS_ERANGE);
    uint8_t big[32];
    assert_int_equal(cs_hex_quantity256("0x1fff", 6, big), 0);
    assert_int_equal(big[30], 0x1f);
    assert_int_equal(big[31], 0xff);
}

static void test_canonical(void **st)
{
    (void)st;
    char out[256], err[256];
    assert_int_equal(cs_abi_canonical("event Transfer(address indexed from, address indexed "
                                      "to, uint value)",
                                      out, sizeof out, err, sizeof err),
                     0);
    assert_string_equal(out, "Transfer(address,address,uint256)");
    assert_int_equal(cs_abi_canonical("function f(tuple(uint a, bytes32[] b)[2][] x, string "
                                      "memory s, int) external view returns (uint)",
                                      out, sizeof out, err, sizeof err),
                     0);
    assert_string_equal(out, "f((uint256,bytes32[])[2][],string,int256)");
    assert_int_equal(cs_abi_canonical("f(uint7)", out, sizeof out, err, sizeof err), CS_EPARSE);
    assert_non_null(strstr(err, "uint7"));
    assert_int_equal(cs_abi_canonical("f(uint256", out, sizeof out, err, sizeof err), CS_EPARSE);
    assert_int_equal(cs_abi_canonical("f(fixed128x18)", out, sizeof out, err, sizeof err),
                     CS_EUNSUPPORTED);
}

static const char *abi_json =
    "[{\"type\":\"event\",\"name\":\"Transfer\",\"inputs\":["
    "{\"name\":\"from\",\"type\":\"address\",\"indexed\":true},"
    "{\"name\":\"to\",\"type\":\"address\",\"indexed\":true},"
    "{\"name\":\"value\",\"type\":\"uint256\"}]},"
    "{\"type\":\"event\",\"name\":\"Note\",\"inputs\":["
    "{\"name\":\"label\",\"type\":\"string\"},"
    "{\"name\":\"ids\",\"type\":\"bytes32[]\"},"
    "{\"name\":\"delta\",\"type\":\"int256\"},"
    "{\"name\":\"pair\",\"type\":\"tuple\",\"components\":["
    "{\"name\":\"a\",\"type\":\"uint8\"},{\"name\":\"\",\"type\":\"bool\"}]}]},"
    "{\"type\":\"function\",\"name\":\"transfer\",\"inputs\":["
    "{\"name\":\"to\",\"type\":\"address\"},{\"name\":\"amount\",\"type\":\"uint256\"}],"
    "\"outputs\":[{\"name\":\"\",\"type\":\"bool\"}]}]";

static void word_u64(uint8_t *w, uint64_t v)
{
    memset(w, 0, 32);
    for (int i = 0; i < 8; i++)
        w[31 - i] = (uint8_t)(v >> (8 * i));
}

static void test_decode_transfer(void **st)
{
    (void)st;
    cs_abi *abi;
    char err[512];
    assert_int_equal(cs_abi_parse(abi_json, strlen(abi_json), "t.json", &abi, err, sizeof err), 0);
    assert_int_equal(cs_abi_nevents(abi), 2);
    uint8_t topics[3][32];
    size_t n;
    cs_hex_decode("ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef", 64, topics[0],
                  32, &n);
    memset(topics[1], 0, 32);
    memset(topics[1] + 12, 0xab, 20);
    memset(topics[2], 0, 32);
    topics[2][31] = 0x02;
    uint8_t data[32];
    memset(data, 0xff, 32); /* 2^256 - 1 */

    cs_vw w;
    cs_vw_init(&w, 0);
    cs_vw_object_begin(&w);
    cs_vw_kv_str(&w, "event", "x");
    const cs_abi_event *ev = NULL;
    assert_int_equal(cs_abi_decode_log(abi, (const uint8_t(*)[32])topics, 3, data, 32, 0, &w,
                                       "args", &ev, err, sizeof err),
                     0);
    assert_string_equal(ev->name, "Transfer");
    cs_vw_object_end(&w);
    assert_int_equal(cs_vw_error(&w), 0);
    assert_int_equal(cs_val_validate(w.buf.data, w.buf.len), 0);
    cs_val root, v;
    assert_int_equal(cs_val_read(w.buf.data, w.buf.len, &root, NULL), 0);
    assert_int_equal(cs_val_path(&root, "args.from", 9, &v), 0);
    assert_true(cs_val_str_eq(&v, "0xabababababababababababababababababababab"));
    assert_int_equal(cs_val_path(&root, "args.to", 7, &v), 0);
    assert_true(cs_val_str_eq(&v, "0x0000000000000000000000000000000000000002"));
    assert_int_equal(cs_val_path(&root, "args.value", 10, &v), 0);
    assert_int_equal(v.kind, CS_VAL_BIG);
    assert_int_equal(v.n, 32);

    /* Short data: an error naming the event, argument and sizes; the
     * writer is as it was. */
    size_t before = w.buf.len;
    cs_vw_object_begin(&w);
    size_t mid = w.buf.len;
    assert_int_equal(cs_abi_decode_log(abi, (const uint8_t(*)[32])topics, 3, data, 31, 0, &w,
                                       "args", NULL, err, sizeof err),
                     CS_ETRUNC);
    assert_int_equal(w.buf.len, mid);
    assert_non_null(strstr(err, "event Transfer"));
    assert_non_null(strstr(err, "argument value"));
    assert_non_null(strstr(err, "31 bytes"));
    cs_vw_object_end(&w);
    assert_int_equal(cs_vw_error(&w), 0);
    (void)before;

    /* Wrong topic count. */
    assert_int_equal(cs_abi_decode_log(abi, (const uint8_t(*)[32])topics, 2, data, 32, 0, &w,
                                       "args", NULL, err, sizeof err),
                     CS_EPARSE);
    assert_non_null(strstr(err, "2 topics"));
    /* Unknown topic0. */
    topics[0][0] ^= 1;
    assert_int_equal(cs_abi_decode_log(abi, (const uint8_t(*)[32])topics, 3, data, 32, 0, &w,
                                       "args", NULL, err, sizeof err),
                     CS_ENOTFOUND);
    cs_vw_free(&w);
    cs_abi_free(abi);
}

/* Note(string label, bytes32[] ids, int256 delta, (uint8 a, bool) pair),
 * hand-encoded. */
static size_t encode_note(uint8_t *d)
{
    size_t o = 0;
    word_u64(d + o, 6 * 32); /* label offset: after the 6-word head */
    o += 32;
    word_u64(d + o, 8 * 32); /* ids offset */
    o += 32;
    memset(d + o, 0xff, 32); /* delta = -1 */
    d[o + 31] = 0xfe;        /* -2 */
    o += 32;
    word_u64(d + o, 300); /* pair.a: uint8 takes the low byte: 44 */
    o += 32;
    word_u64(d + o, 1); /* pair.1 */
    o += 32;
    word_u64(d + o, 0); /* a word no head slot points at */
    o += 32;
    word_u64(d + o, 5); /* label length */
    o += 32;
    memset(d + o, 0, 32);
    memcpy(d + o, "h\xc3\xa9llo", 6); /* only the first 5 bytes count */
    o += 32;
    word_u64(d + o, 2); /* ids length */
    o += 32;
    memset(d + o, 0x11, 32);
    o += 32;
    memset(d + o, 0x22, 32);
    o += 32;
    return o;
}

static void test_decode_dynamic(void **st)
{
    (void)st;
    cs_abi *abi;
    char err[512];
    assert_int_equal(cs_abi_parse(abi_json, strlen(abi_json), "t.json", &abi, err, sizeof err), 0);
    const cs_abi_event *ev = cs_abi_find_event_name(abi, "Note");
    assert_non_null(ev);
    assert_string_equal(ev->signature, "Note(string,bytes32[],int256,(uint8,bool))");
    uint8_t d[32 * 12];
    size_t n = encode_note(d);
    cs_vw w;
    cs_vw_init(&w, 0);
    assert_int_equal(cs_abi_decode_event(ev, (const uint8_t(*)[32])ev->topic0, 1, d, n, 0, &w, NULL,
                                         err, sizeof err),
                     0);
    cs_buf j;
    cs_buf_init(&j, 0);
    cs_val root;
    assert_int_equal(cs_val_read(w.buf.data, w.buf.len, &root, NULL), 0);
    assert_int_equal(cs_json_value(&j, &root), 0);
    assert_string_equal(cs_buf_cstr(&j),
                        "{\"label\":\"h\xc3\xa9ll\",\"ids\":[\"0x1111111111111111111111111111111111"
                        "111111111111111111111111111111\",\"0x22222222222222222222222222222222222"
                        "22222222222222222222222222222\"],\"delta\":-2,\"pair\":{\"a\":44,\"1\":"
                        "true}}");
    /* Integers as strings, for JSON output. */
    cs_vw_reset(&w);
    j.len = 0;
    assert_int_equal(cs_abi_decode_event(ev, (const uint8_t(*)[32])ev->topic0, 1, d, n,
                                         CS_ABI_INTS_AS_STRINGS, &w, NULL, err, sizeof err),
                     0);
    assert_int_equal(cs_val_read(w.buf.data, w.buf.len, &root, NULL), 0);
    cs_val v;
    assert_int_equal(cs_val_path(&root, "delta", 5, &v), 0);
    assert_true(cs_val_str_eq(&v, "-2"));
    assert_int_equal(cs_val_path(&root, "pair.a", 6, &v), 0);
    assert_true(cs_val_str_eq(&v, "44"));

    /* Invalid UTF-8 in the string. */
    uint8_t bad[sizeof d];
    memcpy(bad, d, n);
    bad[7 * 32] = 0xff;
    cs_vw_reset(&w);
    assert_int_equal(cs_abi_decode_event(ev, (const uint8_t(*)[32])ev->topic0, 1, bad, n, 0, &w,
                                         NULL, err, sizeof err),
                     CS_EPARSE);
    assert_non_null(strstr(err, "argument label"));
    assert_non_null(strstr(err, "UTF-8"));
    assert_int_equal(w.buf.len, 0);

    /* An offset past the end. */
    memcpy(bad, d, n);
    word_u64(bad + 32, 4096);
    assert_int_equal(cs_abi_decode_event(ev, (const uint8_t(*)[32])ev->topic0, 1, bad, n, 0, &w,
                                         NULL, err, sizeof err),
                     CS_EPARSE);
    assert_non_null(strstr(err, "argument ids"));
    /* An array length far beyond the data: refused before any work. */
    memcpy(bad, d, n);
    word_u64(bad + 8 * 32, 1ull << 40);
    assert_int_equal(cs_abi_decode_event(ev, (const uint8_t(*)[32])ev->topic0, 1, bad, n, 0, &w,
                                         NULL, err, sizeof err),
                     CS_EPARSE);
    memcpy(bad, d, n);
    word_u64(bad + 8 * 32, 3);
    assert_int_equal(cs_abi_decode_event(ev, (const uint8_t(*)[32])ev->topic0, 1, bad, n, 0, &w,
                                         NULL, err, sizeof err),
                     CS_ETRUNC);
    assert_non_null(strstr(err, "array of 3 elements"));
    /* Truncated at every length: never a crash, always an error. */
    for (size_t k = 0; k < n - 64; k++)
        assert_true(cs_abi_decode_event(ev, (const uint8_t(*)[32])ev->topic0, 1, d, k, 0, &w, NULL,
                                        err, sizeof err) < 0);
    cs_buf_free(&j);
    cs_vw_free(&w);
    cs_abi_free(abi);
}

static void test_decode_call(void **st)
{
    (void)st;
    cs_abi *abi;
    char err[512];
    assert_int_equal(cs_abi_parse(abi_json, strlen(abi_json), "t.json", &abi, err, sizeof err), 0);
    uint8_t d[4 + 64];
    memcpy(d, "\xa9\x05\x9c\xbb", 4);
    memset(d + 4, 0, 32);
    d[4 + 31] = 0x01;
    word_u64(d + 36, 1000);
    cs_vw w;
    cs_vw_init(&w, 0);
    const cs_abi_func *fn;
    assert_int_equal(cs_abi_decode_call(abi, d, sizeof d, 0, &w, NULL, &fn, err, sizeof err), 0);
    assert_string_equal(fn->signature, "transfer(address,uint256)");
    cs_val root, v;
    assert_int_equal(cs_val_read(w.buf.data, w.buf.len, &root, NULL), 0);
    assert_int_equal(cs_val_path(&root, "amount", 6, &v), 0);
    assert_int_equal(v.u, 1000);
    assert_int_equal(cs_abi_decode_call(abi, d, 3, 0, &w, NULL, &fn, err, sizeof err), CS_ETRUNC);
    assert_int_equal(cs_abi_decode_call(abi, d, 40, 0, &w, NULL, &fn, err, sizeof err), CS_ETRUNC);
    assert_non_null(strstr(err, "function transfer: argument amount"));
    cs_vw_free(&w);
    cs_abi_free(abi);
}

static void test_bad_abi(void **st)
{
    (void)st;
    cs_abi *abi;
    char err[512];
    static const struct {
        const char *json, *want;
    } cases[] = {
        {"{\"x\":1}", "array of entries"},
        {"[{\"type\":\"event\",\"name\":\"E\",\"inputs\":[{\"name\":\"a\",\"type\":\"uint7\"}]}]",
         "entry 0 (event E): input 0 ('a'): unknown type 'uint7'"},
        {"[1, {\"type\":\"event\",\"inputs\":[]}]", "entry 0"},
        {"[{\"type\":\"event\",\"name\":\"E\",\"inputs\":[{\"name\":\"t\",\"type\":\"tuple\"}]}]",
         "without \"components\""},
        {"[{\"type\":\"event\",\"name\":\"E\",\"inputs\":[{\"name\":\"a\",\"type\":\"uint8[0]\"}]}"
         "]",
         "bad type"},
        {"[{\"type\":\"event\",\"name\":\"E\",\"inputs\":[{\"name\":\"a\",\"type\":\"uint8["
         "99999999]"
         "\"}]}]",
         "too large"},
        {"[{\"type\":\"event\",\"name\":\"E\",\"inputs\":[{\"name\":\"a\",\"type\":\"uint8\","
         "\"indexed\":true},{\"name\":\"b\",\"type\":\"uint8\",\"indexed\":true},{\"name\":\"c\","
         "\"type\":\"uint8\",\"indexed\":true},{\"name\":\"d\",\"type\":\"uint8\",\"indexed\":true}"
         "]}]",
         "4 indexed"},
        {"[{\"type\":\"event\"", "x.json:1:"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int rc =
            cs_abi_parse(cases[i].json, strlen(cases[i].json), "x.json", &abi, err, sizeof err);
        assert_true(rc < 0);
        if (!strstr(err, cases[i].want))
            fail_msg("case %zu: '%s' lacks '%s'", i, err, cases[i].want);
        assert_non_null(strstr(err, "x.json"));
    }
    assert_int_equal(cs_abi_load_file("/nonexistent/abi.json", &abi, err, sizeof err), CS_EIO);
    assert_non_null(strstr(err, "/nonexistent/abi.json"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keccak_vectors), cmocka_unit_test(test_hex),
        cmocka_unit_test(test_canonical),      cmocka_unit_test(test_decode_transfer),
        cmocka_unit_test(test_decode_dynamic), cmocka_unit_test(test_decode_call),
        cmocka_unit_test(test_bad_abi),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
