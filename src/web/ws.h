/* WebSocket framing (RFC 6455) for the live feed: the opening handshake's
 * accept key, and frames in both directions. Pure functions on bytes, so the
 * parser can be fuzzed on its own. */
#ifndef CS_WEB_WS_H
#define CS_WEB_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum {
    CS_WS_CONT = 0x0,
    CS_WS_TEXT = 0x1,
    CS_WS_BINARY = 0x2,
    CS_WS_CLOSE = 0x8,
    CS_WS_PING = 0x9,
    CS_WS_PONG = 0xa,
};

typedef struct cs_ws_frame {
    bool fin;
    uint8_t opcode;
    const uint8_t *payload; /* unmasked, inside the parsed bytes */
    size_t len;
} cs_ws_frame;

/* Sec-WebSocket-Accept for a client's Sec-WebSocket-Key (RFC 6455 4.2.2:
 * base64 of SHA-1 of the key and the protocol's GUID): 28 characters and a
 * NUL into out. Returns 0, or CS_EINVAL for a key that is not 24 base64
 * characters (16 bytes). */
int cs_ws_accept_key(const char *key, char out[29]);

/* Parses one frame a client sent at p[0..n), unmasking its payload in
 * place. Returns the frame's length (> 0), 0 when more bytes are needed, or
 * a negative error: CS_EPARSE for a frame a client must not send (unmasked
 * (RFC 6455 5.1), reserved bits or opcodes, a control frame fragmented or
 * over 125 bytes (5.5)), CS_ELIMIT for a payload over max_payload. */
ssize_t cs_ws_parse(uint8_t *p, size_t n, size_t max_payload, cs_ws_frame *f);

/* Writes the header of an unmasked, final server frame of len payload bytes
 * into out (at most 10 bytes); returns its length. */
size_t cs_ws_header(uint8_t out[10], uint8_t opcode, size_t len);

#endif
