/* The fast field writer of src/evm/chain.c: it writes the value encoding
 * (core/value.h, docs/protocol.md "Value encoding") straight into a cs_vw's
 * buffer after one bounds check per event, instead of one checked append
 * per key and per value. The bytes are exactly those the cs_vw_* calls
 * write (cs_vw_big's shortest form included), so a payload may mix both.
 *
 * Usage:
 *   uint8_t *q = fw_begin(w, max_bytes);      (NULL: the writer failed)
 *   q = FW_KEY(q, "index"); q = fw_uint(q, 7); ...
 *   fw_commit(w, q, items);                   (items: key/value pairs)
 * Between fw_begin and fw_commit nothing else may write to w; leaving
 * without fw_commit discards what was written. */
#ifndef CS_EVM_CHAIN_FW_H
#define CS_EVM_CHAIN_FW_H

#include <stdint.h>
#include <string.h>

#include "core/value.h"

/* Room for max more bytes; returns where to write, or NULL (w's error
 * set) at the writer's bound. */
static inline uint8_t *fw_begin(cs_vw *w, size_t max)
{
    if (w->err)
        return NULL;
    if (w->buf.cap - w->buf.len <= max) {
        int rc = cs_buf_reserve(&w->buf, max);
        if (rc) {
            w->err = rc;
            return NULL;
        }
    }
    return w->buf.data + w->buf.len;
}

/* Ends a fast write at q, counting `items` in the innermost container. */
static inline void fw_commit(cs_vw *w, uint8_t *q, uint32_t items)
{
    w->buf.len = (size_t)(q - w->buf.data);
    if (w->depth)
        w->count[w->depth - 1] += items;
}

static inline uint8_t *fw_varint(uint8_t *q, uint64_t v)
{
    while (v >= 0x80) {
        *q++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *q++ = (uint8_t)v;
    return q;
}

/* A key (< 128 bytes: its length is one varint byte). */
static inline uint8_t *fw_key(uint8_t *q, const char *k, size_t n)
{
    *q++ = (uint8_t)n;
    memcpy(q, k, n);
    return q + n;
}
#define FW_KEY(q, lit) fw_key(q, lit, sizeof(lit) - 1)

static inline uint8_t *fw_uint(uint8_t *q, uint64_t v)
{
    *q++ = CS_VT_UINT;
    return fw_varint(q, v);
}

static inline uint8_t *fw_bool(uint8_t *q, bool v)
{
    *q++ = v ? CS_VT_TRUE : CS_VT_FALSE;
    return q;
}

/* A string of n < 128 bytes (one varint byte). */
static inline uint8_t *fw_str(uint8_t *q, const void *s, size_t n)
{
    *q++ = CS_VT_STR;
    *q++ = (uint8_t)n;
    memcpy(q, s, n);
    return q + n;
}

/* A non-negative 256-bit number (32 big-endian bytes) in the shortest form,
 * as cs_vw_big(w, be, 32, false) writes it: at most 34 bytes. */
static inline uint8_t *fw_big(uint8_t *q, const uint8_t be[32])
{
    size_t z = 0;
    while (z < 32 && be[z] == 0)
        z++;
    if (z >= 24) {
        uint64_t u = 0;
        for (size_t i = z; i < 32; i++)
            u = (u << 8) | be[i];
        return fw_uint(q, u);
    }
    *q++ = CS_VT_BIG;
    *q++ = (uint8_t)(32 - z);
    memcpy(q, be + z, 32 - z);
    return q + 32 - z;
}

/* Opens an array at q (its header is 9 bytes); fw_close writes its body
 * length and item count. */
static inline uint8_t *fw_open(uint8_t *q, uint8_t tag, uint8_t **hdr)
{
    *hdr = q;
    *q = tag;
    return q + 9;
}
static inline uint8_t *fw_close(uint8_t *q, uint8_t *hdr, uint32_t count)
{
    uint32_t body = (uint32_t)(q - (hdr + 5));
    for (int i = 0; i < 4; i++) {
        hdr[1 + i] = (uint8_t)(body >> (8 * i));
        hdr[5 + i] = (uint8_t)(count >> (8 * i));
    }
    return q;
}

#endif
