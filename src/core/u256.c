#include "core/u256.h"
#include "core/hex.h"

#include <string.h>

bool cs_u256_is_zero(const cs_u256 *a)
{
    return (a->w[0] | a->w[1] | a->w[2] | a->w[3]) == 0;
}

int cs_u256_cmp(const cs_u256 *a, const cs_u256 *b)
{
    for (int i = 3; i >= 0; i--)
        if (a->w[i] != b->w[i])
            return a->w[i] < b->w[i] ? -1 : 1;
    return 0;
}

int cs_u256_scmp(const cs_u256 *a, const cs_u256 *b)
{
    bool na = a->w[3] >> 63, nb = b->w[3] >> 63;
    if (na != nb)
        return na ? -1 : 1;
    return cs_u256_cmp(a, b);
}

bool cs_u256_add(cs_u256 *r, const cs_u256 *a, const cs_u256 *b)
{
    unsigned __int128 c = 0;
    for (int i = 0; i < 4; i++) {
        c += (unsigned __int128)a->w[i] + b->w[i];
        r->w[i] = (uint64_t)c;
        c >>= 64;
    }
    return c != 0;
}

bool cs_u256_sub(cs_u256 *r, const cs_u256 *a, const cs_u256 *b)
{
    uint64_t borrow = 0;
    for (int i = 0; i < 4; i++) {
        uint64_t x = a->w[i], y = b->w[i];
        uint64_t d = x - y - borrow;
        borrow = (x < y) || (x == y && borrow) ? 1 : 0;
        r->w[i] = d;
    }
    return borrow != 0;
}

bool cs_u256_mul(cs_u256 *r, const cs_u256 *a, const cs_u256 *b)
{
    uint64_t t[8] = {0};
    for (int i = 0; i < 4; i++) {
        unsigned __int128 carry = 0;
        for (int j = 0; j < 4; j++) {
            unsigned __int128 cur = (unsigned __int128)a->w[i] * b->w[j] + t[i + j] + carry;
            t[i + j] = (uint64_t)cur;
            carry = cur >> 64;
        }
        t[i + 4] = (uint64_t)carry;
    }
    memcpy(r->w, t, sizeof r->w);
    return (t[4] | t[5] | t[6] | t[7]) != 0;
}

unsigned cs_u256_bits(const cs_u256 *a)
{
    for (int i = 3; i >= 0; i--)
        if (a->w[i])
            return (unsigned)(i * 64 + 64 - __builtin_clzll(a->w[i]));
    return 0;
}

static void shl1(cs_u256 *a)
{
    for (int i = 3; i > 0; i--)
        a->w[i] = (a->w[i] << 1) | (a->w[i - 1] >> 63);
    a->w[0] <<= 1;
}

bool cs_u256_divmod(const cs_u256 *a, const cs_u256 *b, cs_u256 *q, cs_u256 *m)
{
    if (cs_u256_is_zero(b))
        return false;
    cs_u256 quo = {{0}}, rem = {{0}};
    if (a->w[1] == 0 && a->w[2] == 0 && a->w[3] == 0 && b->w[1] == 0 && b->w[2] == 0 &&
        b->w[3] == 0) {
        quo.w[0] = a->w[0] / b->w[0];
        rem.w[0] = a->w[0] % b->w[0];
    } else {
        for (int i = (int)cs_u256_bits(a) - 1; i >= 0; i--) {
            shl1(&rem);
            rem.w[0] |= (a->w[i / 64] >> (i % 64)) & 1;
            if (cs_u256_cmp(&rem, b) >= 0) {
                cs_u256_sub(&rem, &rem, b);
                quo.w[i / 64] |= 1ull << (i % 64);
            }
        }
    }
    if (q)
        *q = quo;
    if (m)
        *m = rem;
    return true;
}

void cs_u256_neg(cs_u256 *r, const cs_u256 *a)
{
    cs_u256 zero = {{0}};
    cs_u256_sub(r, &zero, a);
}

void cs_u256_from_be(cs_u256 *r, const uint8_t *be, size_t n)
{
    memset(r, 0, sizeof *r);
    if (n > 32) {
        be += n - 32;
        n = 32;
    }
    for (size_t i = 0; i < n; i++) {
        size_t bit = (n - 1 - i) * 8;
        r->w[bit / 64] |= (uint64_t)be[i] << (bit % 64);
    }
}

void cs_u256_to_be(const cs_u256 *a, uint8_t out[32])
{
    for (int i = 0; i < 32; i++) {
        int bit = (31 - i) * 8;
        out[i] = (uint8_t)(a->w[bit / 64] >> (bit % 64));
    }
}

bool cs_u256_from_dec(cs_u256 *r, const char *s, size_t n)
{
    cs_u256 acc = {{0}}, ten = cs_u256_from_u64(10);
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        cs_u256 d = cs_u256_from_u64((uint64_t)(s[i] - '0'));
        if (cs_u256_mul(&acc, &acc, &ten) || cs_u256_add(&acc, &acc, &d))
            return false;
    }
    *r = acc;
    return true;
}

bool cs_u256_from_hex(cs_u256 *r, const char *s, size_t n)
{
    if (n >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        s += 2;
        n -= 2;
    }
    if (n == 0)
        return false;
    while (n > 1 && *s == '0') {
        s++;
        n--;
    }
    if (n > 64)
        return false;
    cs_u256 acc = {{0}};
    for (size_t i = 0; i < n; i++) {
        int d = cs_hex_digit(s[i]);
        if (d < 0)
            return false;
        unsigned v = (unsigned)d;
        size_t bit = (n - 1 - i) * 4;
        acc.w[bit / 64] |= (uint64_t)v << (bit % 64);
    }
    *r = acc;
    return true;
}

size_t cs_u256_to_dec(const cs_u256 *a, char out[79])
{
    char tmp[79] = {0};
    size_t n = 0;
    cs_u256 x = *a;
    /* Divide by 10^19 at a time: one 64-bit chunk of digits per step. */
    const uint64_t chunk = 10000000000000000000ull;
    do {
        unsigned __int128 rem = 0;
        for (int i = 3; i >= 0; i--) {
            unsigned __int128 cur = (rem << 64) | x.w[i];
            x.w[i] = (uint64_t)(cur / chunk);
            rem = cur % chunk;
        }
        uint64_t r = (uint64_t)rem;
        bool last = cs_u256_is_zero(&x);
        for (int d = 0; d < 19 && (!last || r || d == 0); d++) {
            tmp[n++] = (char)('0' + r % 10);
            r /= 10;
        }
    } while (!cs_u256_is_zero(&x));
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    out[n] = 0;
    return n;
}
