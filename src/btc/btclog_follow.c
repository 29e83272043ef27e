/* Following a log file the way `tail -F` does, in bounded steps: a
 * rotation (the path names a new file: rename and create, or Core's reopen
 * on SIGHUP), a truncation (copytruncate: the file shrank, or the bytes
 * before our offset changed) and a FIFO. Each step reads at most `budget`
 * bytes, so a 1 GB log is read over many loop turns, never in one. */
#include "btc/btclog_follow.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"

int cs_follow_init(cs_follow *f, const char *path, bool from_start, const cs_follow_cbs *cbs)
{
    memset(f, 0, sizeof *f);
    f->fd = -1;
    f->path = strdup(path);
    f->cbs = *cbs;
    f->skip_existing = !from_start;
    f->cap = CS_FOLLOW_MAX_LINE + CS_FOLLOW_CHUNK;
    f->buf = malloc(f->cap);
    if (!f->path || !f->buf) {
        free(f->path);
        free(f->buf);
        return CS_ENOMEM;
    }
    return 0;
}

void cs_follow_free(cs_follow *f)
{
    if (f->fd >= 0)
        close(f->fd);
    f->fd = -1;
    free(f->path);
    free(f->buf);
    f->path = NULL;
    f->buf = NULL;
}

/* Hands every complete line of buf to on_line; keeps the incomplete end.
 * A line longer than CS_FOLLOW_MAX_LINE is cut in pieces of that size
 * (counted), each handed out as a line. */
static void lines(cs_follow *f)
{
    size_t at = 0;
    while (at < f->len) {
        char *nl = memchr(f->buf + at, '\n', f->len - at);
        if (!nl || (size_t)(nl - (f->buf + at)) > CS_FOLLOW_MAX_LINE) {
            if (!nl && f->len - at < CS_FOLLOW_MAX_LINE)
                break;
            f->cut++;
            f->cbs.on_line(f->cbs.arg, f->buf + at, CS_FOLLOW_MAX_LINE);
            at += CS_FOLLOW_MAX_LINE;
            continue;
        }
        f->cbs.on_line(f->cbs.arg, f->buf + at, (size_t)(nl - (f->buf + at)));
        at = (size_t)(nl - f->buf) + 1;
    }
    memmove(f->buf, f->buf + at, f->len - at);
    f->len -= at;
}

/* The end of a file without its final newline is a line too (a rotated
 * file, a truncated one, a FIFO whose writer left). */
static void flush_partial(cs_follow *f)
{
    if (f->len) {
        f->cbs.on_line(f->cbs.arg, f->buf, f->len);
        f->len = 0;
    }
}

static void reopened(cs_follow *f, const char *why)
{
    f->reopens++;
    if (f->cbs.on_reopen)
        f->cbs.on_reopen(f->cbs.arg, why);
}

static int open_path(cs_follow *f)
{
    struct stat st;
    if (stat(f->path, &st) != 0)
        return CS_ENOTFOUND;
    int fd = open(f->path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return CS_EIO;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return CS_EIO;
    }
    f->fd = fd;
    f->fifo = S_ISFIFO(st.st_mode);
    f->dev = st.st_dev;
    f->ino = st.st_ino;
    f->off = 0;
    f->tail_n = 0;
    f->last_size = 0;
    if (!f->fifo && f->skip_existing) {
        f->off = (uint64_t)st.st_size;
        f->tail_n = f->off < sizeof f->tail ? (size_t)f->off : sizeof f->tail;
        if (f->tail_n &&
            pread(fd, f->tail, f->tail_n, (off_t)(f->off - f->tail_n)) != (ssize_t)f->tail_n)
            f->tail_n = 0;
        f->last_size = f->off;
    }
    f->skip_existing = false;
    return 0;
}

/* Remembers the bytes before the new offset, to see a truncation that the
 * writer has already outgrown. */
static void keep_tail(cs_follow *f, const char *p, size_t n)
{
    size_t keep = sizeof f->tail;
    if (n >= keep) {
        memcpy(f->tail, p + n - keep, keep);
        f->tail_n = keep;
        return;
    }
    size_t old = f->tail_n + n > keep ? keep - n : f->tail_n;
    memmove(f->tail, f->tail + f->tail_n - old, old);
    memcpy(f->tail + old, p, n);
    f->tail_n = old + n;
}

static bool truncated(cs_follow *f, uint64_t size)
{
    if (size < f->off)
        return true;
    if (size == f->last_size || f->tail_n == 0)
        return false;
    uint8_t t[sizeof f->tail];
    ssize_t r = pread(f->fd, t, f->tail_n, (off_t)(f->off - f->tail_n));
    return r != (ssize_t)f->tail_n || memcmp(t, f->tail, f->tail_n) != 0;
}

/* copytruncate: the writer's lines between our last read and the
 * truncation are in the copy, logrotate's PATH.1. When that file holds our
 * last bytes at our offset, what follows them there is read first. */
static void read_copy(cs_follow *f)
{
    size_t pl = strlen(f->path);
    char *copy = malloc(pl + 3);
    if (!copy)
        return;
    memcpy(copy, f->path, pl);
    memcpy(copy + pl, ".1", 3);
    int fd = open(copy, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    free(copy);
    if (fd < 0)
        return;
    struct stat st;
    uint8_t t[sizeof f->tail];
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size > f->off &&
        (uint64_t)st.st_size - f->off <= CS_FOLLOW_COPY_MAX &&
        pread(fd, t, f->tail_n, (off_t)(f->off - f->tail_n)) == (ssize_t)f->tail_n &&
        memcmp(t, f->tail, f->tail_n) == 0) {
        uint64_t at = f->off;
        while (at < (uint64_t)st.st_size) {
            size_t want = (uint64_t)st.st_size - at < CS_FOLLOW_CHUNK
                              ? (size_t)((uint64_t)st.st_size - at)
                              : CS_FOLLOW_CHUNK;
            ssize_t r = pread(fd, f->buf + f->len, want, (off_t)at);
            if (r <= 0)
                break;
            at += (uint64_t)r;
            f->bytes += (uint64_t)r;
            f->len += (size_t)r;
            lines(f);
        }
        f->recovered += at - f->off;
    }
    close(fd);
}

static int step_fifo(cs_follow *f, size_t budget)
{
    ssize_t r = read(f->fd, f->buf + f->len, budget);
    if (r > 0) {
        f->bytes += (uint64_t)r;
        f->len += (size_t)r;
        lines(f);
        return (size_t)r == budget;
    }
    if (r == 0)
        flush_partial(f); /* no writer now; a new one may open it */
    if (f->cbs.on_idle)
        f->cbs.on_idle(f->cbs.arg);
    return 0;
}

/* Whether the path now names another non-empty file than ours. */
static bool rotated(cs_follow *f)
{
    struct stat st;
    if (stat(f->path, &st) != 0)
        return false; /* renamed away, no new one yet: keep reading ours */
    if (st.st_dev == f->dev && st.st_ino == f->ino)
        return false;
    /* an empty new file may still be waiting while the writer fills the
     * old one (logrotate's create before the SIGHUP) */
    return st.st_size > 0 || S_ISFIFO(st.st_mode);
}

int cs_follow_step(cs_follow *f, size_t budget)
{
    if (budget > CS_FOLLOW_CHUNK)
        budget = CS_FOLLOW_CHUNK;
    if (f->fd < 0) {
        int rc = open_path(f);
        if (rc)
            return rc;
    }
    if (f->fifo)
        return step_fifo(f, budget);
    struct stat st;
    if (fstat(f->fd, &st) != 0)
        return CS_EIO;
    uint64_t size = (uint64_t)st.st_size;
    if (truncated(f, size)) {
        if (f->tail_n)
            read_copy(f);
        flush_partial(f);
        f->off = 0;
        f->tail_n = 0;
        reopened(f, "truncate");
    }
    f->last_size = size;
    if (size > f->off) {
        size_t want = size - f->off < budget ? (size_t)(size - f->off) : budget;
        ssize_t r = pread(f->fd, f->buf + f->len, want, (off_t)f->off);
        if (r < 0)
            return errno == EINTR ? 1 : CS_EIO;
        keep_tail(f, f->buf + f->len, (size_t)r);
        f->off += (uint64_t)r;
        f->bytes += (uint64_t)r;
        f->len += (size_t)r;
        lines(f);
        return r > 0; /* again: more, or the end and a look at the path */
    }
    /* at the end of our file: has the path moved on? */
    if (rotated(f)) {
        /* the writer may have added to ours before it moved on */
        if (fstat(f->fd, &st) == 0 && (uint64_t)st.st_size > f->off)
            return 1;
        flush_partial(f);
        close(f->fd);
        f->fd = -1;
        reopened(f, "rotate");
        if (open_path(f) == 0)
            return 1;
        return 0;
    }
    if (f->cbs.on_idle)
        f->cbs.on_idle(f->cbs.arg);
    return 0;
}
