/* Keccak-256, the hash Ethereum uses (the original Keccak padding 0x01, not
 * FIPS 202 SHA3-256's 0x06), built on nettle's Keccak-f[1600] permutation. */
#ifndef CS_ABI_KECCAK_H
#define CS_ABI_KECCAK_H

#include <stddef.h>
#include <stdint.h>

#define CS_KECCAK256_RATE 136 /* bytes absorbed per permutation */

/* Incremental hashing: init, update any number of times, final. The state
 * is plain data (no allocation); final leaves it unusable until init. */
typedef struct cs_keccak {
    uint64_t a[25];
    size_t pos; /* bytes absorbed into the current block */
} cs_keccak;

void cs_keccak256_init(cs_keccak *k);
void cs_keccak256_update(cs_keccak *k, const void *p, size_t n);
void cs_keccak256_final(cs_keccak *k, uint8_t out[32]);

/* One-shot: out = Keccak-256(p[0..n)). */
void cs_keccak256(const void *p, size_t n, uint8_t out[32]);

#endif
