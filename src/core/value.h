/* Typed values in chainscope's binary encoding.
 *
 * Every event payload is one value (an object) in this encoding; the same
 * bytes travel in memory, over the log server, over NATS and into archives,
 * so a value is encoded once and never re-encoded on its way. The encoding is
 * specified in docs/protocol.md ("Value encoding"):
 *
 *   0x00 null   0x01 false   0x02 true
 *   0x03 uint   varint (LEB128) u64
 *   0x04 nint   varint n, the value is -1 - n (the int64 range)
 *   0x05 big    u8 len (1..32), big-endian magnitude, non-negative
 *   0x06 nbig   u8 len (1..32), big-endian magnitude of a negative number
 *   0x07 double 8 bytes, IEEE 754 little-endian
 *   0x08 str    varint len, UTF-8 bytes
 *   0x09 bytes  varint len, raw bytes
 *   0x0a array  u32 LE body length, u32 LE count, items
 *   0x0b object u32 LE body length, u32 LE count, (varint keylen, key, value)*
 *
 * Writers (cs_vw) build values; readers (cs_val) are views into the bytes
 * and never allocate. */
#ifndef CS_CORE_VALUE_H
#define CS_CORE_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chainscope/value.h" /* the reader: cs_val and cs_val_* */
#include "core/buf.h"

enum cs_vtag {
    CS_VT_NULL = 0x00,
    CS_VT_FALSE = 0x01,
    CS_VT_TRUE = 0x02,
    CS_VT_UINT = 0x03,
    CS_VT_NINT = 0x04,
    CS_VT_BIG = 0x05,
    CS_VT_NBIG = 0x06,
    CS_VT_DOUBLE = 0x07,
    CS_VT_STR = 0x08,
    CS_VT_BYTES = 0x09,
    CS_VT_ARRAY = 0x0a,
    CS_VT_OBJECT = 0x0b,
};

/* ---- writing ---------------------------------------------------------- */

/* A value writer. Errors are sticky: after the first failure every call is a
 * no-op and cs_vw_error() returns the first error. */
typedef struct cs_vw {
    cs_buf buf;
    int err;
    int depth;
    size_t open[CS_VALUE_MAX_DEPTH];    /* offset of each open container's length */
    uint32_t count[CS_VALUE_MAX_DEPTH]; /* items so far in each open container */
} cs_vw;

/* max: bound on the encoded size in bytes (0: no bound). */
void cs_vw_init(cs_vw *w, size_t max);
void cs_vw_free(cs_vw *w);
/* Empties the writer for reuse, keeping its memory. */
void cs_vw_reset(cs_vw *w);
int cs_vw_error(const cs_vw *w);

void cs_vw_null(cs_vw *w);
void cs_vw_bool(cs_vw *w, bool v);
void cs_vw_u64(cs_vw *w, uint64_t v);
void cs_vw_i64(cs_vw *w, int64_t v);
/* A big integer: `be` is a big-endian magnitude of `n` bytes (n <= 32;
 * leading zeros are stripped), negative if `neg`. Small values are written
 * as uint/nint so that equal numbers have one encoding. */
void cs_vw_big(cs_vw *w, const uint8_t *be, size_t n, bool neg);
void cs_vw_double(cs_vw *w, double v);
void cs_vw_str(cs_vw *w, const char *s, size_t n);
void cs_vw_cstr(cs_vw *w, const char *s);
void cs_vw_bytes(cs_vw *w, const void *p, size_t n);
void cs_vw_array_begin(cs_vw *w);
void cs_vw_array_end(cs_vw *w);
void cs_vw_object_begin(cs_vw *w);
void cs_vw_object_end(cs_vw *w);
/* Inside an object: the key of the next value. */
void cs_vw_key(cs_vw *w, const char *k);
void cs_vw_keyn(cs_vw *w, const char *k, size_t n);
/* Copies an already encoded value (validated by the caller). */
void cs_vw_raw(cs_vw *w, const uint8_t *p, size_t n);

/* Shorthands for a key followed by a value. */
void cs_vw_kv_u64(cs_vw *w, const char *k, uint64_t v);
void cs_vw_kv_i64(cs_vw *w, const char *k, int64_t v);
void cs_vw_kv_bool(cs_vw *w, const char *k, bool v);
void cs_vw_kv_double(cs_vw *w, const char *k, double v);
void cs_vw_kv_str(cs_vw *w, const char *k, const char *s);
void cs_vw_kv_strn(cs_vw *w, const char *k, const char *s, size_t n);
void cs_vw_kv_bytes(cs_vw *w, const char *k, const void *p, size_t n);

/* ---- reading: cs_val, cs_val_read, cs_val_path, ... in chainscope/value.h */

/* Encodes/decodes an unsigned LEB128 varint. */
size_t cs_varint_put(uint8_t *dst, uint64_t v);
int cs_varint_get(const uint8_t **p, const uint8_t *end, uint64_t *v);

#endif
