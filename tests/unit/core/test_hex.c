/* Tests src/core/hex.c: decoding (the SSE2 path and the byte loop),
 * the reversed hash encoder, base32. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "core/hex.h"

static void test_decode_every_length(void **state)
{
    (void)state;
    uint8_t in[100], out[100];
    char text[2 * sizeof in + 3];
    for (size_t i = 0; i < sizeof in; i++)
        in[i] = (uint8_t)(i * 37 + 11);
    for (size_t n = 0; n <= sizeof in; n++) {
        cs_hex_encode(in, n, text);
        size_t got = 0;
        assert_int_equal(cs_hex_decode(text, 2 * n + 2, out, n, &got), 0);
        assert_int_equal(got, n);
        assert_memory_equal(out, in, n);
        /* Upper case too, and without the prefix. */
        for (size_t k = 2; k < 2 * n + 2; k++)
            if (text[k] >= 'a')
                text[k] = (char)(text[k] - 32);
        assert_int_equal(cs_hex_decode(text + 2, 2 * n, out, n, &got), 0);
        assert_memory_equal(out, in, n);
        if (n)
            assert_int_equal(cs_hex_decode(text, 2 * n + 2, out, n - 1, &got), CS_ELIMIT);
    }
}

static void test_decode_refuses_non_digits(void **state)
{
    (void)state;
    /* A bad byte at every position of 40 bytes (both SIMD blocks and the
     * tail); 0x10..0x19 and 0x01..0x06 become digits or letters under
     * | 0x20, so they must be refused on their own. */
    const char bad[] = {'g', 'G', ' ', 'x', 0x10, 0x19, 0x01, 0x06, '/', ':', '@', '`'};
    char text[80];
    uint8_t out[40];
    size_t got;
    for (size_t pos = 0; pos < sizeof text; pos++)
        for (size_t b = 0; b < sizeof bad; b++) {
            memset(text, 'a', sizeof text);
            text[pos] = bad[b];
            assert_int_equal(cs_hex_decode(text, sizeof text, out, sizeof out, &got), CS_EPARSE);
            assert_int_equal(cs_hex_decode_n(text, sizeof out, out), CS_EPARSE);
        }
    assert_int_equal(cs_hex_decode("0xabc", 5, out, sizeof out, &got), CS_EPARSE);
}

static void test_rev32(void **state)
{
    (void)state;
    uint8_t h[32];
    for (int i = 0; i < 32; i++)
        h[i] = (uint8_t)(i * 9 + 200);
    char got[64], want[65];
    cs_hex_rev32((uint8_t *)got, h);
    for (int i = 0; i < 32; i++)
        snprintf(want + 2 * i, 3, "%02x", h[31 - i]);
    assert_memory_equal(got, want, 64);
    assert_memory_equal(cs_hex_pairs + 2 * 0xa7, "a7", 2);
}

static void test_base32(void **state)
{
    (void)state;
    /* RFC 4648 section 10, lower case, no padding. */
    const char *vec[][2] = {{"", ""},
                            {"f", "my"},
                            {"fo", "mzxq"},
                            {"foo", "mzxw6"},
                            {"foob", "mzxw6yq"},
                            {"fooba", "mzxw6ytb"},
                            {"foobar", "mzxw6ytboi"}};
    char out[32];
    uint8_t back[16];
    for (size_t i = 0; i < sizeof vec / sizeof *vec; i++) {
        size_t n = strlen(vec[i][0]);
        assert_int_equal(cs_base32((const uint8_t *)vec[i][0], n, out), strlen(vec[i][1]));
        assert_string_equal(out, vec[i][1]);
        assert_int_equal(cs_base32_decode(vec[i][1], strlen(vec[i][1]), back, sizeof back), n);
        assert_memory_equal(back, vec[i][0], n);
    }
    assert_int_equal(cs_base32_decode("MZXW6", 5, back, sizeof back), 3);
    assert_int_equal(cs_base32_decode("mzx1", 4, back, sizeof back), CS_EINVAL);
    assert_int_equal(cs_base32_decode("mzxw6ytboi", 10, back, 5), CS_ERANGE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_every_length),
        cmocka_unit_test(test_decode_refuses_non_digits),
        cmocka_unit_test(test_rev32),
        cmocka_unit_test(test_base32),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
