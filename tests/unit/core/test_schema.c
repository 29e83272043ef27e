/* Tests src/core/schema.c: the registry knows the core's events and, once
 * registered, a component's; registering twice is a no-op; it is bounded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "core/error.h"
#include "core/schema.h"

static const cs_field_def f_one[] = {
    {"n", "u64", false, "a number"},
    {NULL, NULL, false, NULL},
};

static const cs_event_def g_test[] = {
    {"test.one", "test", "one event", f_one},
    {"test.fam.*", "test", "a family", f_one},
    {NULL, NULL, NULL, NULL},
};

static size_t groups(void)
{
    size_t n = 0;
    while (cs_schema_group(n))
        n++;
    return n;
}

static void test_registry(void **state)
{
    (void)state;
    /* Only the core's own group until a component registers. */
    assert_int_equal(groups(), 1);
    assert_ptr_equal(cs_schema_group(0), cs_schema_core);
    assert_non_null(cs_schema_find("chainscope.started"));
    assert_null(cs_schema_find("test.one"));
    assert_null(cs_schema_find("evm.block"));

    assert_int_equal(cs_schema_register(g_test), 0);
    assert_int_equal(cs_schema_register(g_test), 0);
    assert_int_equal(groups(), 2);
    assert_string_equal(cs_schema_find("test.one")->doc, "one event");
    assert_string_equal(cs_schema_find("test.fam.x")->type, "test.fam.*");
    assert_int_equal(cs_schema_register(NULL), CS_EINVAL);
}

static void test_bound(void **state)
{
    (void)state;
    /* Distinct one-entry groups until the registry is full. */
    static cs_event_def many[CS_SCHEMA_MAX_GROUPS][2];
    size_t have = groups(), i;
    for (i = 0; have + i < CS_SCHEMA_MAX_GROUPS; i++)
        assert_int_equal(cs_schema_register(many[i]), 0);
    assert_int_equal(groups(), CS_SCHEMA_MAX_GROUPS);
    assert_int_equal(cs_schema_register(many[i]), CS_ELIMIT);
    assert_int_equal(groups(), CS_SCHEMA_MAX_GROUPS);
    /* The earlier groups still answer. */
    assert_non_null(cs_schema_find("test.one"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_registry),
                                       cmocka_unit_test(test_bound)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
