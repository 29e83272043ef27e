/* Tests src/antelope/bpjson.c: a valid bp.json, schema violations named by
 * their path, chains.json. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "antelope/bpjson.h"
#include "core/error.h"

static char *slurp(const char *name, size_t *n)
{
    char path[512];
    snprintf(path, sizeof path, "%s/antelope-bp/%s", CS_TEST_DATA, name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char buf[65536];
    *n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[*n] = 0;
    return buf;
}

static bool has_error(const cs_bpjson *b, const char *text)
{
    for (size_t i = 0; i < b->nerrors; i++)
        if (strstr(b->errors[i], text))
            return true;
    return false;
}

static void test_valid(void **st)
{
    (void)st;
    size_t n;
    const char *t = slurp("bp.json", &n);
    cs_bpjson *b = malloc(sizeof *b);
    assert_int_equal(cs_bpjson_parse(t, n, b), 0);
    for (size_t i = 0; i < b->nerrors; i++)
        print_message("%s\n", b->errors[i]);
    assert_int_equal(b->nerrors_total, 0);
    assert_string_equal(b->account, "examplebp1a");
    assert_string_equal(b->candidate, "Example BP");
    assert_int_equal(b->nnodes, 2);
    assert_int_equal(b->nodes[0].types, CS_BPJ_PRODUCER);
    assert_int_equal(b->nodes[1].types, CS_BPJ_QUERY | CS_BPJ_SEED);
    assert_string_equal(b->nodes[1].p2p, "p2p.example.org:9876");
    assert_string_equal(b->nodes[1].api, "http://api.example.org");
    assert_string_equal(b->nodes[1].ssl, "https://api.example.org");
    char names[64];
    cs_bpjson_types_name(b->nodes[1].types, names, sizeof names);
    assert_string_equal(names, "query,seed");
    free(b);
}

static void test_invalid(void **st)
{
    (void)st;
    size_t n;
    const char *t = slurp("bad-bp.json", &n);
    cs_bpjson *b = malloc(sizeof *b);
    assert_int_equal(cs_bpjson_parse(t, n, b), 0);
    assert_int_equal(b->nerrors_total, 4);
    assert_true(has_error(b, "org.email: missing"));
    assert_true(has_error(b, "nodes[0].location: missing"));
    assert_true(has_error(b, "nodes[1].node_type: an item is not producer"));
    assert_true(has_error(b, "p2p_endpoint 'p2p.example.org' is not HOST:PORT"));
    assert_string_equal(b->nodes[1].p2p, "");

    const char *types = "{\"producer_account_name\":\"Bad Name\",\"org\":[],\"nodes\":{}}";
    assert_int_equal(cs_bpjson_parse(types, strlen(types), b), 0);
    assert_true(has_error(b, "producer_account_name: 'Bad Name' is not an Antelope account name"));
    assert_true(has_error(b, "org: is an array, expected an object"));
    assert_true(has_error(b, "nodes: is an object, expected an array"));

    assert_int_equal(cs_bpjson_parse("[1]", 3, b), CS_EPARSE);
    assert_true(has_error(b, "is an array, not an object"));
    assert_int_equal(cs_bpjson_parse("{\"a\":", 5, b), CS_EPARSE);
    assert_true(has_error(b, "not JSON"));
    free(b);
}

static void test_many_errors(void **st)
{
    (void)st;
    /* 100 nodes, each with two violations: all counted, the first kept */
    char text[16384];
    size_t k = (size_t)snprintf(text, sizeof text, "{\"nodes\":[");
    for (int i = 0; i < 100; i++)
        k += (size_t)snprintf(text + k, sizeof text - k, "%s{\"node_type\":\"x\"}", i ? "," : "");
    k += (size_t)snprintf(text + k, sizeof text - k, "]}");
    cs_bpjson *b = malloc(sizeof *b);
    assert_int_equal(cs_bpjson_parse(text, k, b), 0);
    assert_int_equal(b->nodes_total, 100);
    assert_int_equal(b->nnodes, CS_BPJ_MAX_NODES);
    assert_int_equal(b->nerrors, CS_BPJ_MAX_ERRORS);
    assert_int_equal(b->nerrors_total, 2 + 2 * 100); /* account, org; location, node_type */
    free(b);
}

static void test_chains(void **st)
{
    (void)st;
    size_t n;
    const char *t = slurp("chains.json", &n);
    char path[64];
    assert_int_equal(cs_bpjson_chains_pick(
                         t, n, "73e4385a2708e6d7048834fbc1079f2fabb17b3c125b146af438971e90716c4d",
                         path, sizeof path),
                     0);
    assert_string_equal(path, "/jungle.json");
    assert_int_equal(cs_bpjson_chains_pick(t, n, "00", path, sizeof path), CS_ENOTFOUND);
    assert_int_equal(cs_bpjson_chains_pick("{}", 2, "00", path, sizeof path), CS_EPARSE);
    assert_int_equal(
        cs_bpjson_chains_pick(
            t, n, "73e4385a2708e6d7048834fbc1079f2fabb17b3c125b146af438971e90716c4d", path, 4),
        CS_ELIMIT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_many_errors),
        cmocka_unit_test(test_chains),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
