#include "core/hex.h"
#include "core/error.h"

#include <string.h>

/* Maps an ASCII byte to its digit value + 1; 0 means "not a digit". */
const uint8_t cs_hex_values[256] = {
    ['0'] = 1,  ['1'] = 2,  ['2'] = 3,  ['3'] = 4,  ['4'] = 5,  ['5'] = 6,  ['6'] = 7,  ['7'] = 8,
    ['8'] = 9,  ['9'] = 10, ['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16,
    ['A'] = 11, ['B'] = 12, ['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16,
};

static inline size_t skip_prefix(const char *s, size_t n)
{
    return (n >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) ? 2 : 0;
}

#if defined(__SSE2__)
#include <emmintrin.h>
/* The values of the 16 hex digits at s in *v; false if one is not a digit.
 * Digits are checked on the raw bytes, letters on the bytes | 0x20 (which
 * maps exactly 'A'..'F' onto 'a'..'f'). */
static inline bool digits16(const uint8_t *s, __m128i *v)
{
    __m128i raw = _mm_loadu_si128((const __m128i *)s);
    __m128i x = _mm_or_si128(raw, _mm_set1_epi8(0x20));
    __m128i d = _mm_sub_epi8(raw, _mm_set1_epi8('0'));
    __m128i isd = _mm_cmpeq_epi8(_mm_min_epu8(d, _mm_set1_epi8(9)), d);
    __m128i a = _mm_sub_epi8(x, _mm_set1_epi8('a'));
    __m128i isa = _mm_cmpeq_epi8(_mm_min_epu8(a, _mm_set1_epi8(5)), a);
    /* the low nibble, plus 9 for 'a'..'f' */
    *v = _mm_add_epi8(_mm_and_si128(x, _mm_set1_epi8(0x0f)),
                      _mm_and_si128(_mm_cmpgt_epi8(x, _mm_set1_epi8('9')), _mm_set1_epi8(9)));
    return _mm_movemask_epi8(_mm_or_si128(isd, isa)) == 0xffff;
}
#endif

/* 32 digits (16 bytes) at a time with SSE2, then one byte at a time. */
int cs_hex_decode_n(const char *s, size_t n, uint8_t *out)
{
    const uint8_t *u = (const uint8_t *)s;
    size_t k = 0;
#if defined(__SSE2__)
    const __m128i lowbyte = _mm_set1_epi16(0x00ff);
    for (; k + 16 <= n; k += 16) {
        __m128i a, b;
        if (!digits16(u + 2 * k, &a) || !digits16(u + 2 * k + 16, &b))
            return CS_EPARSE;
        /* each 16-bit lane holds (high digit, low digit): make it one byte */
        a = _mm_or_si128(_mm_slli_epi16(_mm_and_si128(a, lowbyte), 4), _mm_srli_epi16(a, 8));
        b = _mm_or_si128(_mm_slli_epi16(_mm_and_si128(b, lowbyte), 4), _mm_srli_epi16(b, 8));
        _mm_storeu_si128((__m128i *)(out + k), _mm_packus_epi16(a, b));
    }
#endif
    for (; k < n; k++) {
        uint8_t hi = cs_hex_values[u[2 * k]], lo = cs_hex_values[u[2 * k + 1]];
        if (!hi || !lo)
            return CS_EPARSE;
        out[k] = (uint8_t)(((hi - 1) << 4) | (lo - 1));
    }
    return 0;
}

int cs_hex_decode(const char *s, size_t n, uint8_t *out, size_t cap, size_t *outlen)
{
    size_t i = skip_prefix(s, n);
    size_t digits = n - i;
    if (digits & 1)
        return CS_EPARSE;
    if (digits / 2 > cap)
        return CS_ELIMIT;
    int rc = cs_hex_decode_n(s + i, digits / 2, out);
    if (rc)
        return rc;
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
        uint8_t d = cs_hex_values[(uint8_t)s[i]];
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
        uint8_t d = cs_hex_values[(uint8_t)s[n - 1 - k]];
        if (!d)
            return CS_EPARSE;
        out[31 - k / 2] |= (uint8_t)((d - 1) << ((k & 1) * 4));
    }
    return 0;
}

/* ---- fast encoders (the Bitcoin wire decoder writes hashes and addresses) */

#define H16(x)                                                                                     \
#x "0" #x "1" #x "2" #x "3" #x "4" #x "5" #x "6" #x "7" #x "8" #x "9" #x "a" #x "b" #x "c" #x  \
       "d" #x "e" #x "f"
const char cs_hex_pairs[513] = H16(0) H16(1) H16(2) H16(3) H16(4) H16(5) H16(6) H16(7) H16(8) H16(9)
    H16(a) H16(b) H16(c) H16(d) H16(e) H16(f);

#if defined(__SSE2__)
#include <tmmintrin.h>
/* 16 bytes into 32 hex digits with SSE2: split nibbles, map 0-9 to '0'-'9'
 * and 10-15 to 'a'-'f', interleave high and low nibbles. */
static inline void hex16(uint8_t *out, __m128i x)
{
    const __m128i m = _mm_set1_epi8(0x0f);
    __m128i hi = _mm_and_si128(_mm_srli_epi16(x, 4), m);
    __m128i lo = _mm_and_si128(x, m);
    const __m128i nine = _mm_set1_epi8(9), zero = _mm_set1_epi8('0'),
                  gap = _mm_set1_epi8('a' - '0' - 10);
    hi = _mm_add_epi8(_mm_add_epi8(hi, zero), _mm_and_si128(_mm_cmpgt_epi8(hi, nine), gap));
    lo = _mm_add_epi8(_mm_add_epi8(lo, zero), _mm_and_si128(_mm_cmpgt_epi8(lo, nine), gap));
    _mm_storeu_si128((__m128i *)out, _mm_unpacklo_epi8(hi, lo));
    _mm_storeu_si128((__m128i *)(out + 16), _mm_unpackhi_epi8(hi, lo));
}
#endif

#if defined(__SSE2__)
/* Reverses the 16 bytes of x in registers (SSE2 has no byte shuffle): swap
 * the 64-bit halves and reverse the 16-bit words inside them, then swap the
 * two bytes of every word. Building the vector from two bswapped 64-bit
 * integers instead goes through the stack, and the 16-byte load after two
 * 8-byte stores cannot be forwarded: that stall cost more than the rest. */
static inline __m128i rev16(__m128i x)
{
    x = _mm_shuffle_epi32(x, _MM_SHUFFLE(1, 0, 3, 2));
    x = _mm_shufflelo_epi16(x, _MM_SHUFFLE(0, 1, 2, 3));
    x = _mm_shufflehi_epi16(x, _MM_SHUFFLE(0, 1, 2, 3));
    return _mm_or_si128(_mm_slli_epi16(x, 8), _mm_srli_epi16(x, 8));
}

/* With SSSE3 one byte shuffle reverses the bytes and a table lookup maps
 * nibbles to digits; chosen at load time when the CPU has it (every x86-64
 * CPU of the last 15 years), SSE2 otherwise. */
__attribute__((target("ssse3"))) static void hex_rev32_ssse3(uint8_t *out, const uint8_t *h)
{
    const __m128i rev = _mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m128i digits = _mm_setr_epi8('0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'a', 'b',
                                         'c', 'd', 'e', 'f');
    const __m128i m = _mm_set1_epi8(0x0f);
    for (int half = 0; half < 2; half++) {
        __m128i x = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(h + 16 - 16 * half)), rev);
        __m128i hi = _mm_shuffle_epi8(digits, _mm_and_si128(_mm_srli_epi16(x, 4), m));
        __m128i lo = _mm_shuffle_epi8(digits, _mm_and_si128(x, m));
        _mm_storeu_si128((__m128i *)(out + 32 * half), _mm_unpacklo_epi8(hi, lo));
        _mm_storeu_si128((__m128i *)(out + 32 * half + 16), _mm_unpackhi_epi8(hi, lo));
    }
}

static void hex_rev32_sse2(uint8_t *out, const uint8_t *h)
{
    hex16(out, rev16(_mm_loadu_si128((const __m128i *)(h + 16))));
    hex16(out + 32, rev16(_mm_loadu_si128((const __m128i *)h)));
}

static void (*hex_rev32)(uint8_t *, const uint8_t *) = hex_rev32_sse2;

__attribute__((constructor)) static void hex_pick(void)
{
    __builtin_cpu_init();
    if (__builtin_cpu_supports("ssse3"))
        hex_rev32 = hex_rev32_ssse3;
}

void cs_hex_rev32(uint8_t *out, const uint8_t *h)
{
    hex_rev32(out, h);
}
#else
void cs_hex_rev32(uint8_t *out, const uint8_t *h)
{
    for (int i = 0; i < 32; i++)
        memcpy(out + 2 * i, cs_hex_pairs + 2 * h[31 - i], 2);
}
#endif

static const char b32a[] = "abcdefghijklmnopqrstuvwxyz234567";

size_t cs_base32(const uint8_t *p, size_t n, char *out)
{
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        acc = (acc << 8) | p[i];
        bits += 8;
        while (bits >= 5) {
            out[o++] = b32a[(acc >> (bits - 5)) & 31];
            bits -= 5;
        }
    }
    if (bits > 0)
        out[o++] = b32a[(acc << (5 - bits)) & 31];
    out[o] = 0;
    return o;
}

int cs_base32_decode(const char *s, size_t n, uint8_t *out, size_t max)
{
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int v;
        if (c >= 'a' && c <= 'z')
            v = c - 'a';
        else if (c >= 'A' && c <= 'Z')
            v = c - 'A';
        else if (c >= '2' && c <= '7')
            v = c - '2' + 26;
        else
            return CS_EINVAL;
        acc = (acc << 5) | (uint32_t)v;
        bits += 5;
        if (bits >= 8) {
            if (o >= max)
                return CS_ERANGE;
            out[o++] = (uint8_t)(acc >> (bits - 8));
            bits -= 8;
        }
    }
    return (int)o;
}
