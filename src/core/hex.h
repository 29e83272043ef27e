/* Hex text as Ethereum JSON-RPC writes it (and as every CLI reads it): "0x"-prefixed data (an even
 * number of digits) and quantities (no leading zeros, "0x0" for zero). */
#ifndef CS_CORE_HEX_H
#define CS_CORE_HEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Decodes s[0..n) (optional 0x prefix) into out (cap bytes). Errors:
 * CS_EPARSE for a non-hex digit or an odd number of digits, CS_ELIMIT when
 * the bytes do not fit in cap. *outlen gets the byte count. */
int cs_hex_decode(const char *s, size_t n, uint8_t *out, size_t cap, size_t *outlen);
/* Decodes exactly n bytes from the 2n digits at s (no prefix), 16 bytes at
 * a time where the CPU has SSE2. CS_EPARSE on a non-hex digit (out may then
 * hold some bytes). */
int cs_hex_decode_n(const char *s, size_t n, uint8_t *out);
/* Each ASCII byte's digit value + 1, 0 for a byte that is not a hex digit
 * (for loops that read digits one by one). */
extern const uint8_t cs_hex_values[256];
/* Writes "0x" and 2n lowercase digits and a NUL into out (2n + 3 bytes). */
void cs_hex_encode(const uint8_t *p, size_t n, char *out);
/* Parses a quantity ("0x1a", optional prefix, 1..16 digits) into *v. */
int cs_hex_quantity(const char *s, size_t n, uint64_t *v);
/* Parses a quantity of up to 64 digits into a 32-byte big-endian number. */
int cs_hex_quantity256(const char *s, size_t n, uint8_t out[32]);

/* The 256 byte values as two lowercase hex digits each ("000102...ff"). */
extern const char cs_hex_pairs[513];
/* Writes 64 hex digits (no prefix, no NUL) of the 32 bytes at h in reversed
 * order: a Bitcoin hash in display order. SSSE3 or SSE2 where the CPU has
 * them (picked at load time). */
void cs_hex_rev32(uint8_t *out, const uint8_t *h);

/* Base32 (RFC 4648 alphabet, lowercase, no padding): writes
 * ceil(8n/5) digits and a NUL into out; returns the digit count. */
size_t cs_base32(const uint8_t *p, size_t n, char *out);
/* Decodes base32 (either case, no padding) into out; returns the byte
 * count, CS_EINVAL for a character outside the alphabet, CS_ERANGE when it
 * does not fit in max bytes. */
int cs_base32_decode(const char *s, size_t n, uint8_t *out, size_t max);

/* Digit value of c, or -1. */
static inline int cs_hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)(c | 0x20);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

#endif
