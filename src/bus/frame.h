/* Framing of the log server protocol (docs/protocol.md, "Log server").
 *
 *   u32 LE  length of what follows (type byte + body), 1 .. CS_FRAME_MAX
 *   u8      frame type
 *   body
 *
 * Frame types and bodies:
 *   HELLO   c->s  u8 version (1), str client name, str token (may be empty)
 *   WELCOME s->c  u8 version (1), str server name
 *   SUB     c->s  str subject filter
 *   UNSUB   c->s  str subject filter
 *   PUB     c->s  an event record (core/event.h)
 *   EVENT   s->c  an event record
 *   PING    both  u64 LE cookie
 *   PONG    both  u64 LE cookie (the PING's)
 *   ERROR   s->c  str reason; the server closes the connection after it
 * where str is a varint length and UTF-8 bytes. HELLO must come first. */
#ifndef CS_BUS_FRAME_H
#define CS_BUS_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/event.h"

enum cs_frame_type {
    CS_FRAME_HELLO = 1,
    CS_FRAME_WELCOME = 2,
    CS_FRAME_SUB = 3,
    CS_FRAME_UNSUB = 4,
    CS_FRAME_PUB = 5,
    CS_FRAME_EVENT = 6,
    CS_FRAME_PING = 7,
    CS_FRAME_PONG = 8,
    CS_FRAME_ERROR = 9,
};

#define CS_FRAME_VERSION 1
#define CS_FRAME_HEADER 5
#define CS_FRAME_MAX (CS_EVENT_MAX_SIZE + 1)
#define CS_FRAME_MAX_STR 1024 /* names, tokens, filters, reasons */

/* Looks at buffered bytes p[0..n). Returns 1 and fills type/body/body_len/
 * frame_len when a whole frame is there, 0 when more bytes are needed, or a
 * negative error for a frame that can never be valid (bad length, unknown
 * type). */
int cs_frame_peek(const uint8_t *p, size_t n, uint8_t *type, const uint8_t **body, size_t *body_len,
                  size_t *frame_len);

/* Writes a frame header for a body of body_len bytes into hdr. */
void cs_frame_header(uint8_t hdr[CS_FRAME_HEADER], uint8_t type, size_t body_len);

/* Appends whole frames to a buffer. */
int cs_frame_put(cs_buf *b, uint8_t type, const void *body, size_t len);
int cs_frame_put_str(cs_buf *b, uint8_t type, const char *s);
int cs_frame_put_hello(cs_buf *b, const char *name, const char *token);
int cs_frame_put_u64(cs_buf *b, uint8_t type, uint64_t v);

/* Reads a str from a body; *s points into the body (not NUL-terminated). */
int cs_frame_get_str(const uint8_t **p, const uint8_t *end, const char **s, size_t *len);

const char *cs_frame_type_name(uint8_t type);

#endif
