/* Following a growing log file across rotation and truncation, or reading a
 * FIFO, in bounded steps (btclog_follow.c). Not a libuv handle: the caller
 * calls cs_follow_step from its own timer. */
#ifndef CS_BTC_BTCLOG_FOLLOW_H
#define CS_BTC_BTCLOG_FOLLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define CS_FOLLOW_CHUNK (256u << 10)   /* bytes read per step at most */
#define CS_FOLLOW_MAX_LINE (64u << 10) /* longer lines are cut (counted) */
#define CS_FOLLOW_COPY_MAX (64u << 20) /* bytes read from PATH.1 after a copytruncate */

typedef struct cs_follow_cbs {
    void *arg;
    /* One line without its newline; s is borrowed until the call returns. */
    void (*on_line)(void *arg, const char *s, size_t n);
    /* The reader reached the end of what is there (may be NULL). */
    void (*on_idle)(void *arg);
    /* The file was replaced ("rotate") or truncated ("truncate") (may be NULL). */
    void (*on_reopen)(void *arg, const char *why);
} cs_follow_cbs;

typedef struct cs_follow {
    char *path;
    int fd;
    bool fifo, skip_existing;
    dev_t dev;
    ino_t ino;
    uint64_t off, last_size;
    uint8_t tail[32]; /* the bytes just before off */
    size_t tail_n;
    char *buf; /* an incomplete line, then the chunk being read */
    size_t len, cap;
    cs_follow_cbs cbs;
    uint64_t bytes, reopens, cut;
    uint64_t recovered; /* bytes read from the copy of a copytruncate (PATH.1) */
} cs_follow;

/* from_start false: a file that exists now is read from its end (what
 * follows); files that appear later are read whole. Frees with
 * cs_follow_free. */
int cs_follow_init(cs_follow *f, const char *path, bool from_start, const cs_follow_cbs *cbs);
void cs_follow_free(cs_follow *f);
/* Reads up to budget bytes (at most CS_FOLLOW_CHUNK) and hands out their
 * lines. Returns 1 when more may be waiting (step again soon), 0 at the end,
 * CS_ENOTFOUND while the path does not exist, another error on a read
 * failure (the step is retried later). */
int cs_follow_step(cs_follow *f, size_t budget);

#endif
