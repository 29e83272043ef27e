#include "core/hex.h"
#include "core/error.h"

#include <string.h>

/* Maps an ASCII byte to its digit value, 0xff for non-digits. */
static const uint8_t hexval[256] = {
    ['0'] = 1,  ['1'] = 2,  ['2'] = 3,  ['3'] = 4,  ['4'] = 5,  ['5'] = 6,  ['6'] = 7,  ['7'] = 8,
    ['8'] = 9,  ['9'] = 10, ['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16,
    ['A'] = 11, ['B'] = 12, ['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16,
}; /* value + 1; 0 means "not a digit" */

static inline size_t skip_prefix(const char *s, size_t n)
{
    return (n >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) ? 2 : 0;
}

int cs_hex_decode(const char *s, size_t n, uint8_t *out, size_t cap, size_t *outlen)
{
    size_t i = skip_prefix(s, n);
    size_t digits = n - i;
    if (digits & 1)
        return CS_EPARSE;
    if (digits / 2 > cap)
        return CS_ELIMIT;
    const uint8_t *u = (const uint8_t *)s + i;
    for (size_t k = 0; k < digits / 2; k++) {
        uint8_t hi = hexval[u[2 * k]], lo = hexval[u[2 * k + 1]];
        if (!hi || !lo)
            return CS_EPARSE;
        out[k] = (uint8_t)(((hi - 1) << 4) | (lo - 1));
    }
    *outlen = digits / 2;
    return 0;
}

void cs_hex_encode(const uint8_t *p, size_t n, char *out)
{
    static const char d[] = "0123456789abcdef";
    *out++ = '0';
    *out++ = 'x';
    for (size_t i = 0; i < n; i++) {
        *out++ = d[p[i] >> 4];
        *out++ = d[p[i] & 15];
    }
    *out = 0;
}

int cs_hex_quantity(const char *s, size_t n, uint64_t *v)
{
    size_t i = skip_prefix(s, n);
    if (i == n || n - i > 16)
        return i == n ? CS_EPARSE : CS_ERANGE;
    uint64_t r = 0;
    for (; i < n; i++) {
        uint8_t d = hexval[(uint8_t)s[i]];
        if (!d)
            return CS_EPARSE;
        r = (r << 4) | (uint64_t)(d - 1);
    }
    *v = r;
    return 0;
}

int cs_hex_quantity256(const char *s, size_t n, uint8_t out[32])
{
    size_t i = skip_prefix(s, n);
    size_t digits = n - i;
    if (digits == 0)
        return CS_EPARSE;
    if (digits > 64)
        return CS_ERANGE;
    memset(out, 0, 32);
    /* Fill from the least significant nibble. */
    for (size_t k = 0; k < digits; k++) {
        uint8_t d = hexval[(uint8_t)s[n - 1 - k]];
        if (!d)
            return CS_EPARSE;
        out[31 - k / 2] |= (uint8_t)((d - 1) << ((k & 1) * 4));
    }
    return 0;
}
