/* Tests src/rules/expr_compile.c and expr.c: the rule language as a user writes it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "core/event.h"
#include "rules/expr.h"

static cs_event *ev;

static const uint8_t MAX256[32] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                   0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                   0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

static int setup(void **state)
{
    (void)state;
    cs_vw w;
    cs_vw_init(&w, 0);
    cs_vw_object_begin(&w);
    cs_vw_kv_str(&w, "from", "0xd5180D374b6d1961ba24d0a4dbf26d696fda4cad");
    cs_vw_kv_str(&w, "to", "0x1bb1b73c4f0bda4f67dca266ce6ef42f520fbb98");
    cs_vw_kv_str(&w, "status", "success");
    cs_vw_kv_u64(&w, "status_code", 1);
    cs_vw_kv_u64(&w, "gas_price", 60000000000ull);
    cs_vw_kv_u64(&w, "gas_used", 21000);
    cs_vw_kv_str(&w, "name", "Hello");
    cs_vw_kv_double(&w, "rtt", 0.25);
    cs_vw_kv_str(&w, "bigstr",
                 "115792089237316195423570985008687907853269984665640564039457584007913129639935");
    cs_vw_kv_bytes(
        &w, "owner",
        "\xd5\x18\x0d\x37\x4b\x6d\x19\x61\xba\x24\xd0\xa4\xdb\xf2\x6d\x69\x6f\xda\x4c\xad", 20);
    cs_vw_key(&w, "topics");
    cs_vw_array_begin(&w);
    cs_vw_bytes(&w, "\xdd\xf2\x52\xad", 4);
    cs_vw_cstr(&w, "0xABCDEF");
    cs_vw_array_end(&w);
    cs_vw_key(&w, "args");
    cs_vw_object_begin(&w);
    cs_vw_key(&w, "value");
    cs_vw_big(&w, MAX256, 32, false);
    cs_vw_kv_i64(&w, "delta", -42);
    uint8_t half[32] = {0x80};
    cs_vw_key(&w, "minimum");
    cs_vw_big(&w, half, 32, true); /* -2^255, the least int256 */
    cs_vw_kv_str(&w, "greeting", "hello");
    cs_vw_key(&w, "vals");
    cs_vw_array_begin(&w);
    cs_vw_u64(&w, 5);
    cs_vw_u64(&w, 6);
    cs_vw_array_end(&w);
    cs_vw_object_end(&w);
    cs_vw_key(&w, "msg");
    cs_vw_object_begin(&w);
    cs_vw_key(&w, "addresses");
    cs_vw_array_begin(&w);
    cs_vw_object_begin(&w);
    cs_vw_kv_str(&w, "addr", "10.1.2.3");
    cs_vw_kv_u64(&w, "port", 8333);
    cs_vw_object_end(&w);
    cs_vw_array_end(&w);
    cs_vw_object_end(&w);
    cs_vw_key(&w, "peer");
    cs_vw_object_begin(&w);
    cs_vw_kv_str(&w, "addr", "203.0.113.77:8333");
    cs_vw_kv_str(&w, "addr6", "[2001:db8:1:2::5]:8333");
    cs_vw_object_end(&w);
    cs_vw_object_end(&w);
    assert_int_equal(cs_vw_error(&w), 0);
    cs_event_hdr h = {.seq = 7,
                      .time_ns = 1,
                      .origin = "t",
                      .network = "eth-main",
                      .type = "evm.log",
                      .key = "k"};
    ev = cs_event_new(&h, w.buf.data, w.buf.len);
    assert_non_null(ev);
    cs_vw_free(&w);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    cs_event_unref(ev);
    return 0;
}

static const cs_expr_alias ALIASES[] = {{"gasPrice", "gas_price"}, {"gasUsed", "gas_used"}};
static const char *const STATUS[] = {"failed", "success", NULL};
static const cs_expr_enum ENUMS[] = {{"status_code", STATUS, NULL}};
static const cs_expr_opts OPTS = {
    .arg_root = "args", .aliases = ALIASES, .naliases = 2, .enums = ENUMS, .nenums = 1};

/* Compiles and tests; returns 1, 0 or the evaluation error. */
static int t(const char *src)
{
    cs_expr *e;
    char err[200];
    int rc = cs_expr_compile(src, strlen(src), &OPTS, &e, err, sizeof err);
    if (rc) {
        fprintf(stderr, "compile '%s': %s\n", src, err);
        return -999;
    }
    rc = cs_expr_test(e, ev);
    cs_expr_free(e);
    return rc;
}

#define TRUE_(s) assert_int_equal(t(s), 1)
#define FALSE_(s) assert_int_equal(t(s), 0)

static void test_numbers_exact(void **state)
{
    (void)state;
    TRUE_(
        "value == 115792089237316195423570985008687907853269984665640564039457584007913129639935");
    TRUE_("value == 0xffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff");
    FALSE_(
        "value == 115792089237316195423570985008687907853269984665640564039457584007913129639934");
    TRUE_("value > 115792089237316195423570985008687907853269984665640564039457584007913129639934");
    TRUE_("value - 1 < value");
    TRUE_("bigstr == value"); /* integers that JSON kept as strings */
    TRUE_("delta == -42");
    TRUE_("delta < 0 AND delta > -43");
    TRUE_("minimum == "
          "-57896044618658097711785492504343953926634992332820282019728792003956564819968");
    TRUE_("minimum == -2^255");
    TRUE_("minimum < delta");
    TRUE_("minimum < -0x7fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff");
    TRUE_("255 == 0xff");
    TRUE_("0xFF == 255");
    TRUE_("gasPrice > 50000000000 and gasUsed > 20000");
    TRUE_("gas_price == 0xdf8475800");
    TRUE_("rtt < 0.5 AND rtt > 0.1");
    TRUE_("rtt * 4 == 1");
}

static void test_errors_at_runtime(void **state)
{
    (void)state;
    assert_int_equal(t("1 / 0 == 0"), CS_ERANGE);
    assert_int_equal(t("1 % 0 == 0"), CS_ERANGE);
    assert_int_equal(t("value + 1 > 0"), CS_ERANGE); /* past 2^256-1 */
    assert_int_equal(t("2^256 > 0"), CS_ERANGE);
    assert_int_equal(t("value * 2 > 0"), CS_ERANGE);
    assert_int_equal(t("2 ^ -1 == 0"), CS_ERANGE);
    assert_int_equal(t("name + 1 == 2"), CS_ETYPE);
    /* the error stops the condition: OR does not hide it on the left */
    assert_int_equal(t("1/0 == 1 OR true"), CS_ERANGE);
    /* but short-circuit skips the right side entirely */
    TRUE_("true OR 1/0 == 1");
    FALSE_("false AND 1/0 == 1");
    TRUE_("2^255 - 1 + 2^255 == value"); /* 2^256-1 is fine */
}

static void test_addresses_and_strings(void **state)
{
    (void)state;
    TRUE_("from == \"0xd5180d374b6d1961ba24d0a4dbf26d696fda4cad\"");
    TRUE_("from == '0xD5180D374B6D1961BA24D0A4DBF26D696FDA4CAD'");
    FALSE_("from != \"0xd5180d374b6d1961ba24d0a4dbf26d696fda4cad\"");
    TRUE_("owner == \"0xD5180d374b6d1961ba24d0a4dbf26d696fda4cad\""); /* ABI address as bytes */
    TRUE_("owner == from");
    FALSE_("name == \"hello\""); /* not an address: exact */
    TRUE_("name == \"Hello\"");
    TRUE_("$3 == \"hello\"");
    TRUE_("args.greeting == 'hello'");
    TRUE_("status == \"success\"");
    TRUE_("status_code == \"success\" AND status_code != 'failed'");    /* 1 reads as success */
    TRUE_("status_code == 1 AND status_code > 0 AND status_code != 0"); /* and is still 1 */
    TRUE_("name starts_with \"He\" AND name ends_with \"llo\" AND name contains \"ell\"");
    FALSE_("name contains \"ELL\"");
    TRUE_("to starts_with \"0x1BB1\"");
    TRUE_("topics contains 0xddf252ad");
    TRUE_("topics contains \"0xddf252ad\"");
    TRUE_("topics[1] == \"0xABCDEF\"");
    TRUE_("args contains \"value\"");
    TRUE_("vals contains 6 AND NOT vals contains 7");
}

static void test_paths(void **state)
{
    (void)state;
    TRUE_("msg.addresses[0].port == 8333");
    TRUE_("msg.addresses[0].addr starts_with \"10.\"");
    TRUE_("vals[0] == 5 AND $4[1] == 6");
    TRUE_("$0 == value AND $1 == delta");
    TRUE_("type == \"evm.log\" AND network == \"eth-main\" AND seq == 7");
    TRUE_("missing == null");
    TRUE_("missing != 1");
    FALSE_("missing > 1 OR missing < 1 OR missing == 1");
    FALSE_("missing");
    TRUE_("NOT missing");
    FALSE_("$9 == 1");
    TRUE_("len(vals) == 2 AND len(name) == 5 AND len(missing) == 0");
    TRUE_("lower(name) == \"hello\"");
    TRUE_("subnet(peer.addr, 16) == \"203.0.0.0/16\"");
    TRUE_("subnet(peer.addr6, 32) == \"2001:db8::/32\"");
}

static void test_logic_and_precedence(void **state)
{
    (void)state;
    TRUE_("1 + 2 * 3 == 7");
    TRUE_("(1 + 2) * 3 == 9");
    TRUE_("10 - 2 - 3 == 5");
    TRUE_("2 ^ 3 ^ 2 == 512");
    TRUE_("-2 ^ 2 == -4");
    TRUE_("-7 / 2 == -3 AND -7 % 3 == -1 AND 7 % -3 == 1");
    TRUE_("true OR false AND false");
    FALSE_("(true OR false) AND false");
    TRUE_("NOT false");
    TRUE_("not status == \"failed\"");
    TRUE_("!(delta == 1) && !false");
    FALSE_("NOT (from == '0xd5180d374b6d1961ba24d0a4dbf26d696fda4cad')");
    TRUE_("true || false && false");
    TRUE_("NoT fAlSe AnD tRuE");
}

static void check_error(const char *src, const char *want)
{
    cs_expr *e = NULL;
    char err[200];
    int rc = cs_expr_compile(src, strlen(src), NULL, &e, err, sizeof err);
    assert_int_equal(rc, CS_EPARSE);
    assert_null(e);
    if (strcmp(err, want) != 0)
        fprintf(stderr, "'%s': got '%s' want '%s'\n", src, err, want);
    assert_string_equal(err, want);
}

static void test_parse_errors(void **state)
{
    (void)state;
    check_error("value > ", "1:9: expected a value, found end of input");
    check_error("(value > 1", "1:11: expected ')' to close '(' at column 1, found end of input");
    check_error("value = 1", "1:7: unexpected '=' (compare with '==')");
    check_error("value > 1 1", "1:11: expected an operator or end of input, found '1'");
    check_error("a == 1)", "1:7: unbalanced ')'");
    check_error("", "1:1: empty expression");
    check_error("a < b < c", "1:7: comparisons do not chain; use AND (a < b AND b < c)");
    check_error("x == 'abc", "1:6: unterminated string");
    check_error("x == 0x", "1:6: expected hex digits after 0x");
    check_error(
        "1 == 115792089237316195423570985008687907853269984665640564039457584007913129639936",
        "1:6: number does not fit 256 bits");
    check_error("foo(1)", "1:1: unknown function 'foo' (known: len, lower, subnet)");
    check_error("a ==\n  # 1", "2:3: unexpected character '#'");
    check_error("a[x] == 1", "1:2: expected an array index like [0]");
    check_error("a & b", "1:3: unexpected '&' (logical and is '&&' or AND)");
    char deep[400];
    memset(deep, '(', 200);
    strcpy(deep + 200, "1");
    cs_expr *e;
    char err[200];
    assert_int_equal(cs_expr_compile(deep, strlen(deep), NULL, &e, err, sizeof err), CS_EPARSE);
    assert_non_null(strstr(err, "nests too deeply"));
}

static void test_eval_text(void **state)
{
    (void)state;
    const char *cases[][2] = {
        {"subnet(peer.addr, 16)", "203.0.0.0/16"},
        {"value", "115792089237316195423570985008687907853269984665640564039457584007913129639935"},
        {"delta * 2", "-84"},
        {"owner", "0xd5180d374b6d1961ba24d0a4dbf26d696fda4cad"},
        {"vals", "[5,6]"},
        {"1 < 2", "true"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        cs_expr *e;
        char err[100], out[200];
        assert_int_equal(
            cs_expr_compile(cases[i][0], strlen(cases[i][0]), &OPTS, &e, err, sizeof err), 0);
        int n = cs_expr_eval_text(e, ev, out, sizeof out);
        assert_true(n >= 0);
        assert_string_equal(out, cases[i][1]);
        char tiny[2];
        assert_int_equal(cs_expr_eval_text(e, ev, tiny, sizeof tiny), CS_ELIMIT);
        cs_expr_free(e);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_numbers_exact),
        cmocka_unit_test(test_errors_at_runtime),
        cmocka_unit_test(test_addresses_and_strings),
        cmocka_unit_test(test_paths),
        cmocka_unit_test(test_logic_and_precedence),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_eval_text),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
