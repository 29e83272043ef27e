#include "core/buf.h"
#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cs_buf_init(cs_buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

void cs_buf_free(cs_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

int cs_buf_reserve(cs_buf *b, size_t extra)
{
    if (extra > SIZE_MAX - b->len - 1)
        return CS_ELIMIT;
    size_t need = b->len + extra + 1; /* room for a NUL from cs_buf_cstr */
    if (b->max && need > b->max + 1)
        return CS_ELIMIT;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    if (b->max && cap > b->max + 1)
        cap = b->max + 1;
    uint8_t *p = realloc(b->data, cap);
    if (!p)
        return CS_ENOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

int cs_buf_append(cs_buf *b, const void *p, size_t n)
{
    int rc = cs_buf_reserve(b, n);
    if (rc)
        return rc;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

int cs_buf_append_str(cs_buf *b, const char *s)
{
    return cs_buf_append(b, s, strlen(s));
}

int cs_buf_putc(cs_buf *b, char c)
{
    if (b->len + 1 < b->cap) {
        b->data[b->len++] = (uint8_t)c;
        return 0;
    }
    return cs_buf_append(b, &c, 1);
}

int cs_buf_printf(cs_buf *b, const char *fmt, ...)
{
    va_list ap;
    char small[256];
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return CS_EINVAL;
    if ((size_t)n < sizeof small)
        return cs_buf_append(b, small, (size_t)n);
    int rc = cs_buf_reserve(b, (size_t)n);
    if (rc)
        return rc;
    va_start(ap, fmt);
    vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

void cs_buf_consume(cs_buf *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}

const char *cs_buf_cstr(cs_buf *b)
{
    if (cs_buf_reserve(b, 0) != 0 || !b->data)
        return "";
    b->data[b->len] = 0;
    return (const char *)b->data;
}

uint8_t *cs_buf_steal(cs_buf *b, size_t *len)
{
    uint8_t *p = b->data;
    if (len)
        *len = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}
