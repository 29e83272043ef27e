/* Shared by the wire codec's own files only (wire.c, msg_*.c). */
#ifndef CS_BTC_WIRE_INT_H
#define CS_BTC_WIRE_INT_H

/* SHA-256 through OpenSSL's low-level API: measured at half the per-call
 * cost of EVP for the small payloads that dominate P2P traffic (106 ns vs
 * 228 ns for SHA-256d of a ping, same SHA-NI code for bulk), see
 * bench/bench_btc_decode.c. EVP stays for SHA3-256. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <string.h>

#include "btc/wire.h"
#include "core/error.h"
#include "core/hex.h"

#define CS_WIRE_MAX_SIZE 0x02000000u /* largest CompactSize a length may be */

struct cs_wire_ctx {
    EVP_MD *sha256; /* fetched once */
    EVP_MD *sha3;   /* SHA3-256, for TorV3 checksums */
    EVP_MD_CTX *md; /* reused for every hash */
};

/* A bounds-checked reader over one payload. */
typedef struct cs_rd {
    const uint8_t *p;
    const uint8_t *end;
    const char *cmd; /* command name, for reasons */
    cs_wire_err *err;
} cs_rd;

/* Fills err with a reason and returns code. */
int cs_wire_fail(cs_wire_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static inline size_t rd_left(const cs_rd *r)
{
    return (size_t)(r->end - r->p);
}

int cs_rd_trunc(cs_rd *r, const char *what);

static inline int rd_need(cs_rd *r, size_t n, const char *what)
{
    if ((size_t)(r->end - r->p) < n)
        return cs_rd_trunc(r, what);
    return 0;
}

static inline uint16_t ld16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}
static inline uint32_t ld32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v; /* little-endian hosts only (x86-64, aarch64) */
}
static inline uint64_t ld64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static inline int rd_u8(cs_rd *r, uint8_t *v, const char *what)
{
    int rc = rd_need(r, 1, what);
    if (rc)
        return rc;
    *v = *r->p++;
    return 0;
}
static inline int rd_u32(cs_rd *r, uint32_t *v, const char *what)
{
    int rc = rd_need(r, 4, what);
    if (rc)
        return rc;
    *v = ld32(r->p);
    r->p += 4;
    return 0;
}
static inline int rd_u64(cs_rd *r, uint64_t *v, const char *what)
{
    int rc = rd_need(r, 8, what);
    if (rc)
        return rc;
    *v = ld64(r->p);
    r->p += 8;
    return 0;
}
static inline int rd_u16be(cs_rd *r, uint16_t *v, const char *what)
{
    int rc = rd_need(r, 2, what);
    if (rc)
        return rc;
    *v = (uint16_t)((r->p[0] << 8) | r->p[1]);
    r->p += 2;
    return 0;
}
static inline int rd_skip(cs_rd *r, size_t n, const uint8_t **at, const char *what)
{
    int rc = rd_need(r, n, what);
    if (rc)
        return rc;
    if (at)
        *at = r->p;
    r->p += n;
    return 0;
}

/* Reads a CompactSize; rejects non-canonical encodings and values above
 * `max` (the count or length limit that applies). On failure *v is 0. */
int cs_rd_compact_slow(cs_rd *r, uint64_t *v, uint64_t max, const char *what);
static inline int rd_compact(cs_rd *r, uint64_t *v, uint64_t max, const char *what)
{
    if (r->p < r->end && *r->p < 0xfd && *r->p <= max) {
        *v = *r->p++;
        return 0;
    }
    return cs_rd_compact_slow(r, v, max, what);
}

/* Payload decoders (msg_*.c). Each reads the whole payload from r and writes
 * fields into w. */
int cs_msg_tx(cs_wire_ctx *ctx, cs_rd *r, const uint8_t *hash, cs_vw *w);
int cs_msg_block(cs_wire_ctx *ctx, cs_rd *r, cs_vw *w);
int cs_msg_cmpctblock(cs_wire_ctx *ctx, cs_rd *r, cs_vw *w);
int cs_msg_headers(cs_wire_ctx *ctx, cs_rd *r, cs_vw *w);
/* Reads one transaction without writing fields (blocks, cmpctblock). */
int cs_tx_skip(cs_rd *r);
/* Writes the fields of an 80-byte block header (hash included). */
void cs_msg_header_fields(cs_wire_ctx *ctx, const uint8_t *h, cs_vw *w);

/* Writes a display-order hash as a string value under key k. */
void cs_vw_kv_hash(cs_vw *w, const char *k, const uint8_t h[32]);
/* Writes a BIP155 address as text ("1.2.3.4", "[..]" not used, "x.onion",
 * "x.b32.i2p", CJDNS as IPv6). Returns false for an unknown network. */
bool cs_wire_addrv2_str(cs_wire_ctx *ctx, uint8_t net, const uint8_t *a, size_t len, char *buf,
                        size_t buflen);
/* Writes a string that may not be UTF-8: as str if it is, else as bytes. */
void cs_vw_kv_text(cs_vw *w, const char *k, const uint8_t *s, size_t n);

/* ---- the fast field writer ----------------------------------------------
 * Decoding writes many small fields per entry (an addr message has 100
 * entries of 4 fields). These helpers write the value encoding
 * (core/value.h, docs/protocol.md "Value encoding") straight into the
 * writer's buffer after one bounds check per entry, instead of one checked
 * append per key and value. Usage:
 *   uint8_t *q = fw_begin(w, max_bytes);   (NULL: the writer failed)
 *   q = fw_obj(q, &o); q = FW_KEY(q, "port"); q = fw_uint(q, 8333); ...
 *   q = fw_obj_end(q, o, 1); fw_commit(w, q);
 * fw_commit counts one item in the innermost open container per call. */

static inline uint8_t *fw_begin(cs_vw *w, size_t max)
{
    if (w->err)
        return NULL;
    if (w->buf.cap - w->buf.len < max) {
        int rc = cs_buf_reserve(&w->buf, max);
        if (rc) {
            w->err = rc;
            return NULL;
        }
    }
    return w->buf.data + w->buf.len;
}
static inline void fw_commit(cs_vw *w, uint8_t *q)
{
    w->buf.len = (size_t)(q - w->buf.data);
    if (w->depth)
        w->count[w->depth - 1]++;
}
/* Ends a fast write without counting an item: for the entries of an
 * array opened with fw_open_at, which the caller counts itself. */
static inline void fw_set(cs_vw *w, uint8_t *q)
{
    w->buf.len = (size_t)(q - w->buf.data);
}
/* Counts n items (key/value pairs written with fw_*) in the innermost open
 * container. */
static inline void fw_count(cs_vw *w, uint32_t n)
{
    if (w->depth)
        w->count[w->depth - 1] += n;
}
static inline uint8_t *fw_key(uint8_t *q, const char *k, size_t n)
{
    *q++ = (uint8_t)n; /* keys here are < 128 bytes: one varint byte */
    memcpy(q, k, n);
    return q + n;
}
#define FW_KEY(q, lit) fw_key(q, lit, sizeof(lit) - 1)
static inline uint8_t *fw_varint(uint8_t *q, uint64_t v)
{
    while (v >= 0x80) {
        *q++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *q++ = (uint8_t)v;
    return q;
}
static inline uint8_t *fw_uint(uint8_t *q, uint64_t v)
{
    *q++ = 0x03;
    return fw_varint(q, v);
}
static inline uint8_t *fw_int(uint8_t *q, int64_t v)
{
    if (v >= 0)
        return fw_uint(q, (uint64_t)v);
    *q++ = 0x04;
    return fw_varint(q, (uint64_t)(-(v + 1)));
}
static inline uint8_t *fw_str(uint8_t *q, const void *s, size_t n)
{
    *q++ = 0x08;
    q = fw_varint(q, n);
    memcpy(q, s, n);
    return q + n;
}
static inline uint8_t *fw_bytes(uint8_t *q, const void *s, size_t n)
{
    *q++ = 0x09;
    q = fw_varint(q, n);
    memcpy(q, s, n);
    return q + n;
}
/* A 32-byte hash as 64 hex digits in display (reversed) order. */
static inline uint8_t *fw_hash(uint8_t *q, const uint8_t *h)
{
    *q++ = 0x08;
    *q++ = 64;
    cs_hex_rev32(q, h);
    return q + 64;
}
/* Opens an object or array at q; *hdr remembers where. */
static inline uint8_t *fw_open(uint8_t *q, uint8_t tag, uint8_t **hdr)
{
    *hdr = q;
    *q = tag;
    return q + 9;
}
static inline uint8_t *fw_close(uint8_t *q, uint8_t *hdr, uint32_t count)
{
    uint32_t body = (uint32_t)(q - (hdr + 5));
    memcpy(hdr + 1, &body, 4);
    memcpy(hdr + 5, &count, 4);
    return q;
}
/* Opens an array or object whose items are written with fw_* across
 * several fw_begin calls (the buffer may move between them, so its place is
 * kept as an offset); fw_close_at writes its length and item count. */
static inline uint8_t *fw_open_at(cs_vw *w, uint8_t *q, uint8_t tag, size_t *at)
{
    *at = (size_t)(q - w->buf.data);
    *q = tag;
    return q + 9;
}
static inline void fw_close_at(cs_vw *w, size_t at, uint32_t count)
{
    fw_close(w->buf.data + w->buf.len, w->buf.data + at, count);
}
/* A key and an unsigned number as one fast write (keys < 128 bytes). */
static inline void fw_kv_uint(cs_vw *w, const char *k, size_t kl, uint64_t v)
{
    uint8_t *q = fw_begin(w, kl + 12);
    if (q)
        fw_commit(w, fw_uint(fw_key(q, k, kl), v));
}
#define FW_KV_UINT(w, lit, v) fw_kv_uint(w, lit, sizeof(lit) - 1, v)
/* Writes `count` then the key of an array and opens it: the start of every
 * list message (addr, inv). Returns false if the writer failed. */
static inline bool fw_list_open(cs_vw *w, uint64_t count, const char *k, size_t kl, size_t *at)
{
    uint8_t *q = fw_begin(w, 32 + kl);
    if (!q)
        return false;
    q = FW_KEY(q, "count");
    q = fw_uint(q, count);
    q = fw_open_at(w, fw_key(q, k, kl), CS_VT_ARRAY, at);
    fw_set(w, q);
    fw_count(w, 2);
    return true;
}
/* Dotted-quad text of 4 bytes into q (no NUL); returns the end. */
uint8_t *cs_fw_ipv4(uint8_t *q, const uint8_t *a);
/* Text of a 16-byte address (IPv4-mapped as a dotted quad) into q. */
uint8_t *cs_fw_ip16(uint8_t *q, const uint8_t *ip);
#endif
