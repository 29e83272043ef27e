/* WebSocket framing (ws.h). */
#include "web/ws.h"

#include <openssl/evp.h>
#include <string.h>

#include "core/error.h"

/* RFC 6455 1.3: the GUID appended to the key. */
static const char GUID[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

static bool b64_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/';
}

int cs_ws_accept_key(const char *key, char out[29])
{
    /* 16 bytes in base64: 22 characters and "==" (4.1: the key's form). */
    if (!key || strlen(key) != 24 || key[22] != '=' || key[23] != '=')
        return CS_EINVAL;
    for (int i = 0; i < 22; i++)
        if (!b64_char(key[i]))
            return CS_EINVAL;
    char joined[24 + sizeof GUID];
    memcpy(joined, key, 24);
    memcpy(joined + 24, GUID, sizeof GUID);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (!EVP_Digest(joined, 24 + sizeof GUID - 1, md, &mdlen, EVP_sha1(), NULL) || mdlen != 20)
        return CS_EINVAL;
    if (EVP_EncodeBlock((unsigned char *)out, md, 20) != 28)
        return CS_EINVAL;
    out[28] = 0;
    return 0;
}

ssize_t cs_ws_parse(uint8_t *p, size_t n, size_t max_payload, cs_ws_frame *f)
{
    if (n < 2)
        return 0;
    uint8_t b0 = p[0], b1 = p[1];
    if (b0 & 0x70)
        return CS_EPARSE; /* RSV1-3 without an extension (5.2) */
    uint8_t op = b0 & 0x0f;
    bool control = op & 0x8;
    if (op != CS_WS_CONT && op != CS_WS_TEXT && op != CS_WS_BINARY && op != CS_WS_CLOSE &&
        op != CS_WS_PING && op != CS_WS_PONG)
        return CS_EPARSE;
    if (!(b1 & 0x80))
        return CS_EPARSE; /* every client frame is masked (5.1) */
    uint64_t len = b1 & 0x7f;
    size_t off = 2;
    if (len == 126) {
        if (n < 4)
            return 0;
        len = (uint64_t)p[2] << 8 | p[3];
        off = 4;
    } else if (len == 127) {
        if (n < 10)
            return 0;
        len = 0;
        for (int i = 0; i < 8; i++)
            len = len << 8 | p[2 + i];
        if (len >> 63)
            return CS_EPARSE;
        off = 10;
    }
    if (control && (len > 125 || !(b0 & 0x80)))
        return CS_EPARSE; /* 5.5 */
    if (len > max_payload)
        return CS_ELIMIT;
    if (n < off + 4)
        return 0;
    const uint8_t *mask = p + off;
    off += 4;
    if (n - off < len)
        return 0;
    uint8_t *pl = p + off;
    for (size_t i = 0; i < len; i++)
        pl[i] ^= mask[i & 3];
    f->fin = b0 & 0x80;
    f->opcode = op;
    f->payload = pl;
    f->len = (size_t)len;
    return (ssize_t)(off + len);
}

size_t cs_ws_header(uint8_t out[10], uint8_t opcode, size_t len)
{
    out[0] = (uint8_t)(0x80 | (opcode & 0x0f));
    if (len < 126) {
        out[1] = (uint8_t)len;
        return 2;
    }
    if (len <= 0xffff) {
        out[1] = 126;
        out[2] = (uint8_t)(len >> 8);
        out[3] = (uint8_t)len;
        return 4;
    }
    out[1] = 127;
    for (int i = 0; i < 8; i++)
        out[2 + i] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
    return 10;
}
