/* Tests src/net/jsonr.c: grammar, bounds, navigation and exact values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "core/error.h"
#include "core/json.h"
#include "net/jsonr.h"

static int parse(cs_jsonr *r, const char *s)
{
    return cs_jsonr_parse(r, s, strlen(s));
}

static void test_valid(void **st)
{
    (void)st;
    cs_jsonr r;
    cs_jsonr_init(&r, 0, 0);
    const char *ok[] = {
        "0",
        "-0.5e+3",
        "\"\"",
        "true",
        "null",
        " [ ] ",
        "{}",
        "[1,[2,[3]],{\"a\":{}}]",
        "{\"a\":\"\\u00e9\\ud83e\\udd8a\\n\",\"b\":[true,false,null]}",
        "\"h\xc3\xa9\"",
        "\"0123456789abcdef0123456789abcdef\\\\\"",
    };
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
        if (parse(&r, ok[i]))
            fail_msg("'%s' refused: %s", ok[i], r.err);
    cs_jsonr_free(&r);
}

static void test_invalid(void **st)
{
    (void)st;
    cs_jsonr r;
    cs_jsonr_init(&r, 0, 0);
    const char *bad[] = {
        "",
        "[1,]",
        "{\"a\":1,}",
        "01",
        "1.",
        "-",
        "+1",
        "[1 2]",
        "{\"a\" 1}",
        "{1:2}",
        "\"a\x01\"",
        "\"\\x\"",
        "\"\\u12g4\"",
        "tru",
        "nul",
        "[",
        "{\"a\":",
        "\"abc",
        "1 2",
        "[]]",
        "\"0123456789abcdef0123456789abcdef",
        "NaN",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (parse(&r, bad[i]) != CS_EPARSE)
            fail_msg("'%s' accepted", bad[i]);
    assert_int_equal(parse(&r, "[1,]"), CS_EPARSE);
    assert_non_null(strstr(r.err, "byte 3"));
    cs_jsonr_free(&r);

    /* Depth and token bounds. */
    cs_jsonr_init(&r, 10, 4);
    assert_int_equal(parse(&r, "[[[[[1]]]]]"), CS_ELIMIT);
    assert_int_equal(parse(&r, "[[[[1]]]]"), 0);
    assert_int_equal(parse(&r, "[1,2,3,4,5,6,7,8,9,10]"), CS_ELIMIT);
    cs_jsonr_free(&r);
}

static void test_values(void **st)
{
    (void)st;
    cs_jsonr r;
    cs_jsonr_init(&r, 0, 0);
    const char *doc =
        "{\"jsonrpc\":\"2.0\",\"id\":18446744073709551615,\"result\":{"
        "\"number\":\"0x1b4\",\"big\":\"0xffffffffffffffffffffffffffffffffffffffffffff"
        "ffffffffffffffffffff\",\"data\":\"0xdeadBEEF\",\"odd\":\"0xabc\","
        "\"s\":\"a\\\"b\\u00e9\",\"arr\":[10,20,30],\"neg\":-5,\"frac\":1.5,"
        "\"huge\":123456789012345678901234567890}}";
    assert_int_equal(parse(&r, doc), 0);
    uint64_t v;
    uint32_t id = cs_jsonr_get(&r, 0, "id");
    assert_int_equal(cs_jsonr_u64(&r, id, &v), 0);
    assert_true(v == UINT64_MAX);
    uint32_t res = cs_jsonr_get(&r, 0, "result");
    assert_int_equal(cs_jsonr_at(&r, res)->type, CS_JT_OBJ);
    assert_int_equal(cs_jsonr_get(&r, res, "missing"), 0);
    assert_int_equal(cs_jsonr_u64(&r, cs_jsonr_get(&r, res, "number"), &v), 0);
    assert_int_equal(v, 0x1b4);
    assert_int_equal(cs_jsonr_u64(&r, cs_jsonr_get(&r, res, "big"), &v), CS_ERANGE);
    uint8_t be[32];
    assert_int_equal(cs_jsonr_u256(&r, cs_jsonr_get(&r, res, "big"), be), 0);
    assert_int_equal(be[0], 0xff);
    assert_int_equal(be[31], 0xff);
    assert_int_equal(cs_jsonr_u256(&r, cs_jsonr_get(&r, res, "huge"), be), 0);
    uint8_t d[8];
    size_t dl;
    assert_int_equal(cs_jsonr_hex(&r, cs_jsonr_get(&r, res, "data"), d, sizeof d, &dl), 0);
    assert_int_equal(dl, 4);
    assert_int_equal(d[1], 0xad);
    assert_int_equal(d[3], 0xef);
    assert_int_equal(cs_jsonr_hex(&r, cs_jsonr_get(&r, res, "odd"), d, sizeof d, &dl), CS_EPARSE);
    cs_buf b;
    cs_buf_init(&b, 0);
    assert_int_equal(cs_jsonr_str(&r, cs_jsonr_get(&r, res, "s"), &b), 0);
    assert_int_equal(b.len, 5);
    assert_memory_equal(b.data, "a\"b\xc3\xa9", 5);
    uint32_t arr = cs_jsonr_get(&r, res, "arr");
    assert_int_equal(cs_jsonr_at(&r, arr)->len, 3);
    assert_int_equal(cs_jsonr_u64(&r, cs_jsonr_index(&r, arr, 2), &v), 0);
    assert_int_equal(v, 30);
    assert_int_equal(cs_jsonr_index(&r, arr, 3), 0);
    assert_int_equal(cs_jsonr_u64(&r, cs_jsonr_get(&r, res, "neg"), &v), CS_ETYPE);

    /* The whole result as a value: exact integers, doubles, strings. */
    cs_vw w;
    cs_vw_init(&w, 0);
    assert_int_equal(cs_jsonr_value(&r, res, &w), 0);
    cs_val root;
    assert_int_equal(cs_val_read(w.buf.data, w.buf.len, &root, NULL), 0);
    b.len = 0;
    assert_int_equal(cs_json_value(&b, &root), 0);
    assert_non_null(strstr(cs_buf_cstr(&b), "\"huge\":\"123456789012345678901234567890\""));
    assert_non_null(strstr(cs_buf_cstr(&b), "\"neg\":-5,\"frac\":1.5"));
    cs_vw_free(&w);
    cs_buf_free(&b);

    /* Bad UTF-8 and lone surrogates are refused on extraction. */
    assert_int_equal(parse(&r, "[\"\xff\", \"\\udc00\", \"\\ud800x\"]"), 0);
    cs_buf_init(&b, 0);
    for (uint32_t i = 0; i < 3; i++)
        assert_int_equal(cs_jsonr_str(&r, cs_jsonr_index(&r, 0, i), &b), CS_EPARSE);
    cs_buf_free(&b);
    cs_jsonr_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
