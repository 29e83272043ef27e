/* The Solidity contract ABI: JSON ABI files, canonical signatures, function
 * selectors and event topics, and decoding of calldata and logs into
 * chainscope values (core/value.h).
 *
 * Decoded values (docs/abi.md):
 *   uintN, intN      exact integers (uint/nint up to 64 bits, big beyond);
 *                    with CS_ABI_INTS_AS_STRINGS, decimal strings instead
 *   address          "0x" + 40 lowercase hex digits (a string)
 *   bool             bool
 *   bytesN, bytes    bytes (JSON renders them "0x" hex); function: bytes24
 *   string           string (must be valid UTF-8)
 *   T[], T[k]        arrays
 *   tuples           objects keyed by component name (an unnamed component
 *                    is keyed by its position, "0", "1", ...), in ABI order
 *   indexed string, bytes, arrays and tuples of a log: the 32-byte topic
 *                    (Keccak-256 of their encoding), as bytes
 *
 * Every read is bounds checked against the input; decoding a malformed log
 * or call fails with a message naming the event or function, the argument
 * and the byte offset. Work and output are bounded by the input size and the
 * writer's bound. */
#ifndef CS_ABI_ABI_H
#define CS_ABI_ABI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/value.h"

#define CS_ABI_MAX_DEPTH 16          /* nesting of arrays and tuples in one type */
#define CS_ABI_MAX_STATIC (1u << 20) /* bytes a static type may take in a head */
#define CS_ABI_MAX_FILE (16u << 20)  /* bytes of a JSON ABI file */

enum cs_abi_kind {
    CS_ABI_UINT,
    CS_ABI_INT,
    CS_ABI_ADDRESS,
    CS_ABI_BOOL,
    CS_ABI_FBYTES,   /* bytes1..bytes32 */
    CS_ABI_FUNCTION, /* address + selector, 24 bytes */
    CS_ABI_BYTES,
    CS_ABI_STRING,
    CS_ABI_ARRAY,  /* T[] */
    CS_ABI_FARRAY, /* T[k] */
    CS_ABI_TUPLE,
};

typedef struct cs_abi_param cs_abi_param;

typedef struct cs_abi_type {
    enum cs_abi_kind kind;
    uint16_t size;            /* UINT/INT: bits; FBYTES: bytes */
    bool dynamic;             /* encoded in the tail, behind an offset */
    uint32_t len;             /* FARRAY: element count */
    uint32_t head;            /* bytes in a head: 32 if dynamic, else the static size */
    struct cs_abi_type *elem; /* ARRAY, FARRAY: owned */
    cs_abi_param *comps;      /* TUPLE: owned */
    uint32_t ncomps;
} cs_abi_type;

struct cs_abi_param {
    char *name; /* owned; "" when unnamed */
    char *key;  /* owned; the output key: the name, or the position */
    uint16_t key_len;
    bool indexed;
    cs_abi_type type;
};

typedef struct cs_abi_event {
    char *name;      /* owned */
    char *signature; /* owned: canonical, e.g. Transfer(address,address,uint256) */
    uint8_t topic0[32];
    bool anonymous;
    cs_abi_param *inputs; /* owned */
    uint32_t ninputs;
    uint32_t nindexed;
} cs_abi_event;

typedef struct cs_abi_func {
    char *name;
    char *signature;
    uint8_t selector[4];
    cs_abi_param *inputs;
    uint32_t ninputs;
    cs_abi_param *outputs;
    uint32_t noutputs;
} cs_abi_func;

typedef struct cs_abi cs_abi;

/* Loads a JSON ABI: an array of entries, or an object with an "abi" array
 * (compiler artifacts). Unknown entry types are skipped; constructor,
 * fallback, receive and error entries are not decoded. On failure returns
 * CS_EPARSE/CS_EIO/... and writes into err a message naming the file, the
 * entry and the parameter. On success *out is owned by the caller: free with
 * cs_abi_free. */
int cs_abi_load_file(const char *path, cs_abi **out, char *err, size_t errlen);
/* The same from text; `origin` names it in messages (a file name). */
int cs_abi_parse(const char *json, size_t n, const char *origin, cs_abi **out, char *err,
                 size_t errlen);
void cs_abi_free(cs_abi *abi);

size_t cs_abi_nevents(const cs_abi *abi);
const cs_abi_event *cs_abi_event_at(const cs_abi *abi, size_t i);
size_t cs_abi_nfuncs(const cs_abi *abi);
const cs_abi_func *cs_abi_func_at(const cs_abi *abi, size_t i);
/* Lookups; NULL when absent. Borrowed: valid while abi is. */
const cs_abi_event *cs_abi_find_event(const cs_abi *abi, const uint8_t topic0[32]);
const cs_abi_event *cs_abi_find_event_name(const cs_abi *abi, const char *name);
const cs_abi_func *cs_abi_find_func(const cs_abi *abi, const uint8_t selector[4]);

/* Canonicalizes a human-readable signature, such as
 *   "event Transfer(address indexed from, address indexed to, uint value)"
 *   "swap((uint a, bytes32 b)[] orders, uint deadline) external"
 * into "Transfer(address,address,uint256)". out receives the NUL-terminated
 * text (outcap bytes). Errors: CS_EPARSE with a message in err. */
int cs_abi_canonical(const char *sig, char *out, size_t outcap, char *err, size_t errlen);

/* Decoding flags. */
enum {
    CS_ABI_INTS_AS_STRINGS = 1, /* integers as decimal strings (for JSON output) */
};

/* Decodes a log with the ABI's events: by topic0, or for no match by the
 * anonymous events whose indexed count fits. Writes the decoded arguments as
 * one object value into w, preceded by `key` when key is not NULL (inside an
 * object). *ev (may be NULL) gets the event. On failure w is left exactly as
 * it was (the key is not written either), err holds the
 * reason and the return is CS_ENOTFOUND (no event matches), CS_ETRUNC (data
 * shorter than the ABI says), CS_EPARSE (bad offsets, bad UTF-8, topic count)
 * or a writer error. */
int cs_abi_decode_log(const cs_abi *abi, const uint8_t (*topics)[32], size_t ntopics,
                      const uint8_t *data, size_t len, unsigned flags, cs_vw *w, const char *key,
                      const cs_abi_event **ev, char *err, size_t errlen);
/* Decodes a log as a given event. */
int cs_abi_decode_event(const cs_abi_event *ev, const uint8_t (*topics)[32], size_t ntopics,
                        const uint8_t *data, size_t len, unsigned flags, cs_vw *w, const char *key,
                        char *err, size_t errlen);
/* Decodes calldata (selector + arguments) with the ABI's functions; writes
 * the arguments object. *fn (may be NULL) gets the function. */
int cs_abi_decode_call(const cs_abi *abi, const uint8_t *data, size_t len, unsigned flags, cs_vw *w,
                       const char *key, const cs_abi_func **fn, char *err, size_t errlen);
/* Decodes an encoded tuple of params (e.g. return data) into an object;
 * `what` names it in messages. */
int cs_abi_decode_params(const cs_abi_param *ps, uint32_t n, const uint8_t *data, size_t len,
                         unsigned flags, const char *what, cs_vw *w, const char *key, char *err,
                         size_t errlen);

#endif
