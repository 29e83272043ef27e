#include "abi/keccak.h"

#include <nettle/sha3.h>
#include <string.h>

/* Lanes are little-endian 64-bit words (Keccak reference, section 1.1). */
void cs_keccak256_init(cs_keccak *k)
{
    memset(k, 0, sizeof *k);
}

static inline void xor_byte(cs_keccak *k, size_t i, uint8_t b)
{
    k->a[i >> 3] ^= (uint64_t)b << (8 * (i & 7));
}

static void permute(cs_keccak *k)
{
    struct sha3_state st;
    memcpy(st.a, k->a, sizeof st.a);
    sha3_permute(&st);
    memcpy(k->a, st.a, sizeof st.a);
}

void cs_keccak256_update(cs_keccak *k, const void *data, size_t n)
{
    const uint8_t *p = data;
    /* Finish a partial block byte by byte. */
    while (n && (k->pos & 7)) {
        xor_byte(k, k->pos++, *p++);
        n--;
        if (k->pos == CS_KECCAK256_RATE) {
            permute(k);
            k->pos = 0;
        }
    }
    /* Whole lanes. */
    while (n >= 8) {
        uint64_t lane = 0;
        for (int i = 7; i >= 0; i--)
            lane = (lane << 8) | p[i];
        k->a[k->pos >> 3] ^= lane;
        k->pos += 8;
        p += 8;
        n -= 8;
        if (k->pos == CS_KECCAK256_RATE) {
            permute(k);
            k->pos = 0;
        }
    }
    while (n--) {
        xor_byte(k, k->pos++, *p++);
        /* pos cannot reach the rate here: fewer than 8 bytes remain and the
         * rate is a multiple of 8. */
    }
}

void cs_keccak256_final(cs_keccak *k, uint8_t out[32])
{
    /* Keccak pad10*1 with the 0x01 domain byte. */
    xor_byte(k, k->pos, 0x01);
    xor_byte(k, CS_KECCAK256_RATE - 1, 0x80);
    permute(k);
    for (int i = 0; i < 32; i++)
        out[i] = (uint8_t)(k->a[i >> 3] >> (8 * (i & 7)));
    k->pos = 0;
}

void cs_keccak256(const void *p, size_t n, uint8_t out[32])
{
    cs_keccak k;
    cs_keccak256_init(&k);
    cs_keccak256_update(&k, p, n);
    cs_keccak256_final(&k, out);
}
