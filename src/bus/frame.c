#include "bus/frame.h"
#include "core/error.h"

#include <string.h>

int cs_frame_peek(const uint8_t *p, size_t n, uint8_t *type, const uint8_t **body, size_t *body_len,
                  size_t *frame_len)
{
    if (n < 4)
        return 0;
    uint32_t len =
        (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    if (len == 0 || len > CS_FRAME_MAX)
        return CS_EPROTO;
    if (n < 5)
        return 0;
    if (p[4] < CS_FRAME_HELLO || p[4] > CS_FRAME_ERROR)
        return CS_EPROTO;
    if (n < 4 + (size_t)len)
        return 0;
    *type = p[4];
    *body = p + 5;
    *body_len = len - 1;
    *frame_len = 4 + (size_t)len;
    return 1;
}

void cs_frame_header(uint8_t hdr[CS_FRAME_HEADER], uint8_t type, size_t body_len)
{
    uint32_t len = (uint32_t)body_len + 1;
    hdr[0] = (uint8_t)len;
    hdr[1] = (uint8_t)(len >> 8);
    hdr[2] = (uint8_t)(len >> 16);
    hdr[3] = (uint8_t)(len >> 24);
    hdr[4] = type;
}

int cs_frame_put(cs_buf *b, uint8_t type, const void *body, size_t len)
{
    uint8_t hdr[CS_FRAME_HEADER];
    if (len + 1 > CS_FRAME_MAX)
        return CS_ELIMIT;
    int rc = cs_buf_reserve(b, CS_FRAME_HEADER + len);
    if (rc)
        return rc;
    cs_frame_header(hdr, type, len);
    cs_buf_append(b, hdr, sizeof hdr);
    return cs_buf_append(b, body, len);
}

static size_t put_str(uint8_t *dst, const char *s, size_t n)
{
    size_t k = cs_varint_put(dst, n);
    memcpy(dst + k, s, n);
    return k + n;
}

int cs_frame_put_str(cs_buf *b, uint8_t type, const char *s)
{
    uint8_t tmp[CS_FRAME_MAX_STR + 16];
    size_t n = strlen(s);
    if (n > CS_FRAME_MAX_STR)
        return CS_ELIMIT;
    return cs_frame_put(b, type, tmp, put_str(tmp, s, n));
}

int cs_frame_put_hello(cs_buf *b, const char *name, const char *token)
{
    uint8_t tmp[2 * CS_FRAME_MAX_STR + 32];
    size_t nl = strlen(name), tl = token ? strlen(token) : 0;
    if (nl > CS_FRAME_MAX_STR || tl > CS_FRAME_MAX_STR)
        return CS_ELIMIT;
    size_t off = 0;
    tmp[off++] = CS_FRAME_VERSION;
    off += put_str(tmp + off, name, nl);
    off += put_str(tmp + off, token ? token : "", tl);
    return cs_frame_put(b, CS_FRAME_HELLO, tmp, off);
}

int cs_frame_put_u64(cs_buf *b, uint8_t type, uint64_t v)
{
    uint8_t tmp[8];
    for (int i = 0; i < 8; i++)
        tmp[i] = (uint8_t)(v >> (8 * i));
    return cs_frame_put(b, type, tmp, 8);
}

int cs_frame_get_str(const uint8_t **p, const uint8_t *end, const char **s, size_t *len)
{
    uint64_t n;
    int rc = cs_varint_get(p, end, &n);
    if (rc)
        return rc;
    if (n > CS_FRAME_MAX_STR)
        return CS_ELIMIT;
    if ((uint64_t)(end - *p) < n)
        return CS_ETRUNC;
    *s = (const char *)*p;
    *len = (size_t)n;
    *p += n;
    return 0;
}

const char *cs_frame_type_name(uint8_t type)
{
    static const char *names[] = {"?",   "HELLO", "WELCOME", "SUB",  "UNSUB",
                                  "PUB", "EVENT", "PING",    "PONG", "ERROR"};
    return type <= CS_FRAME_ERROR ? names[type] : "?";
}
