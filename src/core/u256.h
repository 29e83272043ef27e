/* 256-bit unsigned integers, for exact Ethereum quantities and for the rule
 * language. Four 64-bit limbs, least significant first. Operations wrap
 * modulo 2^256 unless they say otherwise. */
#ifndef CS_CORE_U256_H
#define CS_CORE_U256_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct cs_u256 {
    uint64_t w[4];
} cs_u256;

static inline cs_u256 cs_u256_from_u64(uint64_t v)
{
    cs_u256 r = {{v, 0, 0, 0}};
    return r;
}

bool cs_u256_is_zero(const cs_u256 *a);
int cs_u256_cmp(const cs_u256 *a, const cs_u256 *b);
/* Signed comparison in two's complement (int256). */
int cs_u256_scmp(const cs_u256 *a, const cs_u256 *b);
/* Returns true on carry/borrow/overflow. */
bool cs_u256_add(cs_u256 *r, const cs_u256 *a, const cs_u256 *b);
bool cs_u256_sub(cs_u256 *r, const cs_u256 *a, const cs_u256 *b);
bool cs_u256_mul(cs_u256 *r, const cs_u256 *a, const cs_u256 *b);
/* Division and remainder; returns false when b is zero. q or m may be NULL. */
bool cs_u256_divmod(const cs_u256 *a, const cs_u256 *b, cs_u256 *q, cs_u256 *m);
void cs_u256_neg(cs_u256 *r, const cs_u256 *a);
unsigned cs_u256_bits(const cs_u256 *a);

/* Big-endian bytes (n <= 32) in and out. */
void cs_u256_from_be(cs_u256 *r, const uint8_t *be, size_t n);
void cs_u256_to_be(const cs_u256 *a, uint8_t out[32]);
/* Decimal text (digits only) and 0x-prefixed hex; false on bad text or
 * overflow. */
bool cs_u256_from_dec(cs_u256 *r, const char *s, size_t n);
bool cs_u256_from_hex(cs_u256 *r, const char *s, size_t n);
/* Writes decimal digits and a NUL; out needs 79 bytes. Returns the length. */
size_t cs_u256_to_dec(const cs_u256 *a, char out[79]);

#endif
