/* A fast, allocation-light JSON reader for responses from servers (JSON-RPC
 * above all): one pass turns the text into a flat tape of tokens that point
 * into the text; nothing is copied or converted until a caller asks for a
 * value. Numbers and hex quantities are converted exactly on demand (64-bit
 * and 256-bit), never through a double.
 *
 * The text is checked as it is read: RFC 8259 grammar (strings without raw
 * control characters and with valid escapes, number syntax, nothing after
 * the value). UTF-8 of string contents is checked when a string is
 * extracted (cs_jsonr_str); tokens flag strings holding non-ASCII bytes.
 *
 * Bounds: the text is at most CS_JSONR_MAX_TEXT bytes, containers nest at
 * most max_depth levels, the tape holds at most max_tokens tokens; past a
 * bound the parse fails with CS_ELIMIT. The tape is reused between parses.
 *
 * The text must stay valid and unchanged while the tape is used. */
#ifndef CS_NET_JSONR_H
#define CS_NET_JSONR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/value.h"

#define CS_JSONR_MAX_TEXT 0xfffffff0u /* offsets are 32-bit */
#define CS_JSONR_DEFAULT_DEPTH 64

enum cs_jtype {
    CS_JT_NULL,
    CS_JT_FALSE,
    CS_JT_TRUE,
    CS_JT_NUM,
    CS_JT_STR,
    CS_JT_ARR,
    CS_JT_OBJ,
};

enum {
    CS_JF_ESC = 1,  /* STR: holds escapes (extract with cs_jsonr_str) */
    CS_JF_HIGH = 2, /* STR: holds bytes >= 0x80 */
};

/* One token. Tokens of a container follow it on the tape: for an object,
 * key (a STR token) then value, for each member. */
typedef struct cs_jtok {
    uint8_t type;  /* enum cs_jtype */
    uint8_t flags; /* CS_JF_* */
    uint32_t off;  /* STR: first byte inside the quotes; others: first byte */
    uint32_t len;  /* STR: bytes inside the quotes; NUM: text length;
                      ARR: items; OBJ: members */
    uint32_t end;  /* index of the token after this value and its contents */
} cs_jtok;

typedef struct cs_jsonr {
    const char *text; /* borrowed: the last parsed text */
    size_t n;
    cs_jtok *tok; /* owned */
    uint32_t ntok, cap;
    uint32_t max_tokens;
    uint32_t max_depth;
    size_t err_off; /* where a parse failed */
    char err[96];   /* why it failed */
} cs_jsonr;

/* max_tokens 0: no bound but the text size; max_depth 0: the default. */
void cs_jsonr_init(cs_jsonr *r, uint32_t max_tokens, uint32_t max_depth);
void cs_jsonr_free(cs_jsonr *r);

/* Parses text[0..n) into the tape; the root is token 0. Errors: CS_EPARSE
 * (r->err and r->err_off say what and where), CS_ELIMIT, CS_ENOMEM. */
int cs_jsonr_parse(cs_jsonr *r, const char *text, size_t n);

static inline const cs_jtok *cs_jsonr_at(const cs_jsonr *r, uint32_t i)
{
    return &r->tok[i];
}
/* A pointer to a token's text (STR: inside the quotes). */
static inline const char *cs_jsonr_ptr(const cs_jsonr *r, uint32_t i)
{
    return r->text + r->tok[i].off;
}

/* Member `key` of object obj: the value's index, or 0 when absent or obj is
 * not an object (token 0 is the root and never a member). */
uint32_t cs_jsonr_get(const cs_jsonr *r, uint32_t obj, const char *key);
/* Item `index` of array arr, or 0. */
uint32_t cs_jsonr_index(const cs_jsonr *r, uint32_t arr, uint32_t index);

/* Iteration: first child (for an object, the first key; the value is
 * key + 1) and next sibling (for objects, step from key to key). Returns 0
 * at the end. */
static inline uint32_t cs_jsonr_first(const cs_jsonr *r, uint32_t c)
{
    return r->tok[c].len ? c + 1 : 0;
}
static inline uint32_t cs_jsonr_next_item(const cs_jsonr *r, uint32_t c, uint32_t item)
{
    uint32_t nx = r->tok[item].end;
    return nx < r->tok[c].end ? nx : 0;
}
static inline uint32_t cs_jsonr_next_key(const cs_jsonr *r, uint32_t c, uint32_t key)
{
    uint32_t nx = r->tok[key + 1].end;
    return nx < r->tok[c].end ? nx : 0;
}

/* Is token i a string equal to s (escape-free comparison)? */
bool cs_jsonr_eq(const cs_jsonr *r, uint32_t i, const char *s);

/* Value extraction. Each returns CS_ETYPE when the token has another type.
 *  u64:    a JSON number (non-negative integer) or a hex quantity string
 *          ("0x1a"); CS_ERANGE past 64 bits.
 *  u256:   the same up to 256 bits, as 32 big-endian bytes.
 *  hex:    a "0x" data string into out (cap bytes); CS_EPARSE for odd
 *          length or a bad digit.
 *  str:    the unescaped, UTF-8 checked string appended to out. */
int cs_jsonr_u64(const cs_jsonr *r, uint32_t i, uint64_t *v);
int cs_jsonr_u256(const cs_jsonr *r, uint32_t i, uint8_t out[32]);
int cs_jsonr_hex(const cs_jsonr *r, uint32_t i, uint8_t *out, size_t cap, size_t *len);
int cs_jsonr_str(const cs_jsonr *r, uint32_t i, cs_buf *out);
/* Copies the raw text inside the quotes of string token i into out (len
 * bytes, NUL-terminated, cut at the bound); "" when i is 0 or not a
 * string. For short fields (names, versions, hashes) read as they are. */
void cs_jsonr_copy(const cs_jsonr *r, uint32_t i, char *out, size_t len);
/* A number token as a double (verificationprogress); CS_ETYPE otherwise. */
int cs_jsonr_double(const cs_jsonr *r, uint32_t i, double *v);
/* Writes token i and everything in it into a value writer: integers exact
 * (up to 256 bits; larger ones and numbers with a fraction or an exponent
 * as doubles), strings unescaped and UTF-8 checked. Errors from the writer
 * or CS_EPARSE for a bad string. */
int cs_jsonr_value(const cs_jsonr *r, uint32_t i, cs_vw *w);

/* Framing of a stream of JSON texts (geth's IPC socket sends one object or
 * array after another, with no delimiter of its own): the length, from
 * p, of the first complete object or array in p[0..n) after *skip bytes of
 * leading whitespace, or 0 while it is incomplete. Only brackets and
 * strings are followed here; the text is checked when it is parsed. */
size_t cs_jsonr_frame(const char *p, size_t n, size_t *skip);

#endif
