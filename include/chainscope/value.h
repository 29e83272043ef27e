/* Reading chainscope values: the payload of every event is one value (an
 * object) in chainscope's binary encoding (docs/protocol.md, "Value
 * encoding"). A cs_val is a view into the encoded bytes: reading never
 * allocates and never reads outside the bytes it is given; it is valid while
 * those bytes are (for an event's payload: until cs_event_unref).
 *
 *   cs_val v;
 *   if (cs_val_path(&ev->payload, "peer.addr", 9, &v) == 0 && v.kind == CS_VAL_STR)
 *       printf("%.*s\n", (int)v.n, (const char *)v.p);
 *
 * Functions return 0 or a negative error code (chainscope/error.h). */
#ifndef CHAINSCOPE_VALUE_H
#define CHAINSCOPE_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CS_VALUE_MAX_DEPTH 32

typedef enum cs_vkind {
    CS_VAL_NULL,
    CS_VAL_BOOL,
    CS_VAL_INT, /* fits in 64 bits: u (non-negative) or i (negative) */
    CS_VAL_BIG, /* up to 256 bits: big/n with neg */
    CS_VAL_DOUBLE,
    CS_VAL_STR,
    CS_VAL_BYTES,
    CS_VAL_ARRAY,
    CS_VAL_OBJECT,
} cs_vkind;

/* A view of one encoded value. Borrowed: valid while the bytes are. */
typedef struct cs_val {
    cs_vkind kind;
    bool neg;           /* INT and BIG: the number is negative */
    bool b;             /* BOOL */
    uint64_t u;         /* INT, non-negative */
    int64_t i;          /* INT, negative */
    double d;           /* DOUBLE */
    const uint8_t *p;   /* STR, BYTES, BIG: the bytes; ARRAY, OBJECT: first item */
    size_t n;           /* length of p; ARRAY, OBJECT: body bytes after the count */
    uint32_t count;     /* ARRAY, OBJECT: number of items */
    const uint8_t *raw; /* the whole encoded value */
    size_t raw_len;
} cs_val;

/* Reads the value at p[0..n): its tag and, for containers, its header.
 * Never reads outside p[0..n); nested items are checked as they are read.
 * *used (may be NULL) gets the encoded length. */
int cs_val_read(const uint8_t *p, size_t n, cs_val *out, size_t *used);
/* Checks the whole structure of the value filling exactly p[0..n): tags,
 * lengths, counts, depth (CS_VALUE_MAX_DEPTH), minimal big integers, UTF-8
 * of strings and keys. */
int cs_val_validate(const uint8_t *p, size_t n);
/* Whether s[0..n) is well-formed UTF-8 (RFC 3629: shortest forms, no
 * surrogates, nothing past U+10FFFF). Eight ASCII bytes at a time where it
 * can. */
bool cs_utf8_valid(const uint8_t *s, size_t n);

/* Iterates an array or object. For arrays key is NULL. Returns 1 while an
 * item was produced, 0 at the end, negative on malformed input. */
typedef struct cs_val_iter {
    const uint8_t *p;
    const uint8_t *end;
    uint32_t left;
    bool object;
} cs_val_iter;
void cs_val_iter_init(cs_val_iter *it, const cs_val *container);
int cs_val_next(cs_val_iter *it, const char **key, size_t *keylen, cs_val *item);

/* Looks up a member of an object by key. */
int cs_val_get(const cs_val *obj, const char *key, size_t keylen, cs_val *out);
/* Looks up the index-th item of an array. */
int cs_val_index(const cs_val *arr, uint32_t index, cs_val *out);
/* Follows a dotted path with array indexes: `addresses[0].port`,
 * `args.value`. Returns CS_ENOTFOUND when a step is missing. */
int cs_val_path(const cs_val *root, const char *path, size_t pathlen, cs_val *out);

/* Compares a string value (STR) with a C string. */
bool cs_val_str_eq(const cs_val *v, const char *s);

#ifdef __cplusplus
}
#endif
#endif
