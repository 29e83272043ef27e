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
/* Writes "0x" and 2n lowercase digits and a NUL into out (2n + 3 bytes). */
void cs_hex_encode(const uint8_t *p, size_t n, char *out);
/* Parses a quantity ("0x1a", optional prefix, 1..16 digits) into *v. */
int cs_hex_quantity(const char *s, size_t n, uint64_t *v);
/* Parses a quantity of up to 64 digits into a 32-byte big-endian number. */
int cs_hex_quantity256(const char *s, size_t n, uint8_t out[32]);

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
