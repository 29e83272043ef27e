/* Tests src/core/subject.c: NATS filter semantics. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "core/subject.h"

static bool m(const char *f, const char *s)
{
    return cs_subject_match(f, strlen(f), s, strlen(s));
}

static bool v(const char *f)
{
    return cs_subject_filter_valid(f, strlen(f));
}

static void test_match(void **state)
{
    (void)state;
    assert_true(m("p2p.msg.*", "p2p.msg.addrv2"));
    assert_false(m("p2p.msg.*", "p2p.msg"));
    assert_false(m("p2p.msg.*", "p2p.msg.addr.extra"));
    assert_true(m("evm.>", "evm.log"));
    assert_true(m("evm.>", "evm.log.decoded"));
    assert_false(m("evm.>", "evm"));
    assert_false(m("evm.>", "evmx.log"));
    assert_true(m(">", "anything.at.all"));
    assert_true(m("*", "one"));
    assert_false(m("*", "one.two"));
    assert_true(m("*.msg.>", "p2p.msg.ping"));
    assert_true(m("node.check", "node.check"));
    assert_false(m("node.check", "node.checks"));
    assert_false(m("node.checks", "node.check"));
    assert_true(m("a.*.c", "a.b.c"));
    assert_false(m("a.*.c", "a.b.d"));
}

static void test_valid(void **state)
{
    (void)state;
    assert_true(v(">"));
    assert_true(v("p2p.msg.*"));
    assert_true(v("evm.>"));
    assert_false(v(""));
    assert_false(v("evm.>.log"));
    assert_false(v("p2p..msg"));
    assert_false(v("p2p.ms*"));
    assert_false(v(".p2p"));
    assert_false(v("p2p."));
    assert_false(v("has space"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_match), cmocka_unit_test(test_valid)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
