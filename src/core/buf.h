/* A growable byte buffer with a hard bound.
 *
 * cs_buf owns its memory; cs_buf_free releases it. Appends that would pass
 * `max` (0: no bound beyond size_t) fail with CS_ELIMIT and leave the buffer
 * unchanged, so a caller can decide what happens at the bound. */
#ifndef CS_CORE_BUF_H
#define CS_CORE_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct cs_buf {
    uint8_t *data;
    size_t len;
    size_t cap;
    size_t max;
} cs_buf;

void cs_buf_init(cs_buf *b, size_t max);
void cs_buf_free(cs_buf *b);
/* Makes room for `extra` more bytes. */
int cs_buf_reserve(cs_buf *b, size_t extra);
int cs_buf_append(cs_buf *b, const void *p, size_t n);
int cs_buf_append_str(cs_buf *b, const char *s);
int cs_buf_printf(cs_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int cs_buf_putc(cs_buf *b, char c);
/* Drops the first n bytes. */
void cs_buf_consume(cs_buf *b, size_t n);
/* Returns a NUL-terminated view of the contents (the NUL is not counted). */
const char *cs_buf_cstr(cs_buf *b);
/* Gives the memory to the caller (free with free()) and empties the buffer. */
uint8_t *cs_buf_steal(cs_buf *b, size_t *len);

#endif
