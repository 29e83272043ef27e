/* The publisher's disk spool (nats_int.h: cs_nats_spool; docs/nats.md,
 * "The disk spool").
 *
 * Files DIR/nats-NNNNNNNNNNNNNNNN.spool, numbered in the order they were
 * written: an 8-byte magic, then records, each a u32 length and a u32
 * CRC-32C of the record (little-endian), then the event record
 * (docs/protocol.md). Records are appended and never changed; a file is
 * deleted once every record in it was sent. DIR/nats-spool.pos holds
 * "FILE OFFSET" of the first record not yet sent (a restart resumes there;
 * without it, a resent record is dropped by JetStream by its Nats-Msg-Id).
 * A record cut by a crash ends its file: the newest file is cut back to its
 * last whole record when the spool is opened. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bus/archive.h"
#include "bus/nats_int.h"
#include "core/error.h"
#include "core/log.h"

#define MAGIC "CSNSPOOL"
#define HDR 8
#define REC_HDR 8
#define FILE_MIN (4u << 10)
#define FILE_MAX (16u << 20)
#define MAX_RECORD (64u << 20)

static void path_of(const cs_nats_spool *sp, uint64_t no, char *out, size_t n)
{
    snprintf(out, n, "%s/nats-%016" PRIu64 ".spool", sp->dir, no);
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Walks the records of fd from off: counts them, and returns the offset
 * after the last whole one. */
static uint64_t walk(int fd, uint64_t off, uint64_t size, uint64_t *count, cs_buf *b)
{
    uint8_t h[REC_HDR];
    while (off + REC_HDR <= size) {
        if (pread(fd, h, REC_HDR, (off_t)off) != REC_HDR)
            break;
        uint32_t len = get32(h);
        if (len == 0 || len > MAX_RECORD || off + REC_HDR + len > size)
            break;
        b->len = 0;
        if (cs_buf_reserve(b, len) ||
            pread(fd, b->data, len, (off_t)(off + REC_HDR)) != (ssize_t)len ||
            cs_crc32c(0, b->data, len) != get32(h + 4))
            break;
        off += REC_HDR + len;
        (*count)++;
    }
    return off;
}

static void save_pos(cs_nats_spool *sp)
{
    char path[4200], tmp[4220], line[64];
    snprintf(path, sizeof path, "%s/nats-spool.pos", sp->dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int n = snprintf(line, sizeof line, "%" PRIu64 " %" PRIu64 "\n", sp->head_no, sp->head_off);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0)
        return;
    bool ok = write(fd, line, (size_t)n) == n;
    close(fd);
    if (ok)
        rename(tmp, path);
}

static int open_tail(cs_nats_spool *sp, uint64_t no, char *why, size_t whylen)
{
    char path[4200];
    path_of(sp, no, path, sizeof path);
    int fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd < 0) {
        snprintf(why, whylen, "nats.spool: %s: %s", path, strerror(errno));
        return CS_EIO;
    }
    struct stat st;
    if (fstat(fd, &st) == 0 && st.st_size == 0) {
        if (write(fd, MAGIC, HDR) != HDR) {
            snprintf(why, whylen, "nats.spool: %s: %s", path, strerror(errno));
            close(fd);
            return CS_EIO;
        }
        sp->bytes += HDR;
        st.st_size = HDR;
    }
    if (sp->tail_fd >= 0)
        close(sp->tail_fd);
    sp->tail_fd = fd;
    sp->tail_no = no;
    sp->tail_size = (uint64_t)st.st_size;
    return 0;
}

static int by_number(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The numbers of the spool files of dir, sorted; the caller frees them. */
static size_t list_files(const char *dir, uint64_t **out)
{
    *out = NULL;
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    uint64_t *v = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        unsigned long long no;
        char tail[8];
        if (sscanf(e->d_name, "nats-%16llu.%7s", &no, tail) != 2 || strcmp(tail, "spool"))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            uint64_t *nv = realloc(v, cap * sizeof *nv);
            if (!nv)
                break;
            v = nv;
        }
        v[n++] = no;
    }
    closedir(d);
    if (n)
        qsort(v, n, sizeof *v, by_number);
    *out = v;
    return n;
}

int cs_nats_spool_open(cs_nats_spool *sp, const char *dir, uint64_t max, char *why, size_t whylen)
{
    memset(sp, 0, sizeof *sp);
    sp->tail_fd = sp->head_fd = -1;
    sp->max = max;
    sp->file_max = max / 8 < FILE_MIN ? FILE_MIN : max / 8 > FILE_MAX ? FILE_MAX : max / 8;
    cs_buf_init(&sp->rd, 0);
    cs_buf_init(&sp->wr, 0);
    if (!(sp->dir = strdup(dir)))
        return CS_ENOMEM;
    if (mkdir(dir, 0750) && errno != EEXIST) {
        snprintf(why, whylen, "nats.spool.dir: %s: %s", dir, strerror(errno));
        cs_nats_spool_close(sp);
        return CS_EIO;
    }
    char path[4200];
    uint64_t pos_no = 0, pos_off = 0;
    snprintf(path, sizeof path, "%s/nats-spool.pos", dir);
    FILE *f = fopen(path, "r");
    if (f) {
        if (fscanf(f, "%" SCNu64 " %" SCNu64, &pos_no, &pos_off) != 2)
            pos_no = pos_off = 0;
        fclose(f);
    }
    uint64_t *nos;
    size_t n = list_files(dir, &nos);
    sp->head_no = sp->tail_no = pos_no ? pos_no : 1; /* numbers only grow */
    sp->head_off = HDR;
    for (size_t i = 0; i < n; i++) {
        path_of(sp, nos[i], path, sizeof path);
        if (nos[i] < pos_no) {
            unlink(path); /* sent in full before the stop */
            continue;
        }
        int fd = open(path, O_RDWR | O_CLOEXEC);
        struct stat st;
        if (fd < 0 || fstat(fd, &st)) {
            if (fd >= 0)
                close(fd);
            continue;
        }
        bool first = sp->events == 0 && sp->bytes == 0;
        uint64_t from = nos[i] == pos_no && pos_off >= HDR ? pos_off : HDR;
        uint64_t end = walk(fd, from, (uint64_t)st.st_size, &sp->events, &sp->rd);
        if (i + 1 == n && end < (uint64_t)st.st_size && ftruncate(fd, (off_t)end) == 0) {
            CS_WARN("nats", "%s: cut back to its last whole record (byte %" PRIu64 ")", path, end);
            st.st_size = (off_t)end;
        }
        close(fd);
        if (first) {
            sp->head_no = nos[i];
            sp->head_off = from;
        }
        sp->bytes += (uint64_t)st.st_size;
        if (nos[i] > sp->tail_no || first)
            sp->tail_no = nos[i];
    }
    free(nos);
    int rc = open_tail(sp, sp->tail_no, why, whylen);
    if (rc) {
        cs_nats_spool_close(sp);
        return rc;
    }
    if (sp->events)
        CS_INFO("nats", "spool %s: %" PRIu64 " events (%" PRIu64 " bytes) to send first", dir,
                sp->events, sp->bytes);
    return 0;
}

/* Writes the records gathered in sp->wr to the tail file. A partial write
 * ends the file (the next records go to a new one); *partial gets the
 * bytes it left there. */
static int write_out(cs_nats_spool *sp, uint64_t *partial)
{
    *partial = 0;
    if (!sp->wr.len)
        return 0;
    ssize_t w = write(sp->tail_fd, sp->wr.data, sp->wr.len);
    size_t len = sp->wr.len;
    sp->wr.len = 0;
    if (w == (ssize_t)len) {
        sp->tail_size += len;
        return 0;
    }
    CS_WARN("nats", "spool: write failed: %s", w < 0 ? strerror(errno) : "short write");
    *partial = w > 0 ? (uint64_t)w : 0;
    char why[256];
    open_tail(sp, sp->tail_no + 1, why, sizeof why);
    return CS_EIO;
}

size_t cs_nats_spool_append(cs_nats_spool *sp, cs_event *const *evs, size_t n)
{
    size_t done = 0, written = 0;
    uint64_t events_ok = sp->events, bytes_ok = sp->bytes, partial = 0;
    uint8_t h[REC_HDR];
    sp->wr.len = 0;
    for (; done < n; done++) {
        const cs_event *ev = evs[done];
        uint64_t need = REC_HDR + ev->wire_len;
        uint64_t size = sp->tail_size + sp->wr.len;
        bool roll = size + need > sp->file_max && size > HDR;
        if (sp->bytes + need + (roll ? HDR : 0) > sp->max)
            break;
        if (roll) {
            char why[256];
            if (write_out(sp, &partial))
                goto failed;
            written = done;
            events_ok = sp->events;
            bytes_ok = sp->bytes;
            if (fsync(sp->tail_fd) || open_tail(sp, sp->tail_no + 1, why, sizeof why))
                goto failed;
            bytes_ok = sp->bytes; /* with the new file's header */
        }
        put32(h, (uint32_t)ev->wire_len);
        put32(h + 4, cs_crc32c(0, ev->wire, ev->wire_len));
        size_t mark = sp->wr.len;
        if (cs_buf_append(&sp->wr, h, REC_HDR) || cs_buf_append(&sp->wr, ev->wire, ev->wire_len)) {
            sp->wr.len = mark; /* out of memory: the rest stays in the buffer */
            break;
        }
        sp->bytes += need;
        sp->events++;
    }
    if (write_out(sp, &partial))
        goto failed;
    if (done && fsync(sp->tail_fd))
        CS_WARN("nats", "spool: fsync failed: %s", strerror(errno));
    return done;
failed:
    /* what did not reach the file is not in the spool */
    sp->events = events_ok;
    sp->bytes = bytes_ok + partial;
    return written;
}

/* The head file open for reading at head_off; finished files deleted. */
static int open_head(cs_nats_spool *sp)
{
    char path[4200];
    for (;;) {
        if (sp->head_fd < 0) {
            path_of(sp, sp->head_no, path, sizeof path);
            if ((sp->head_fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
                return CS_EIO;
        }
        struct stat st;
        if (fstat(sp->head_fd, &st))
            return CS_EIO;
        if (sp->head_off < (uint64_t)st.st_size || sp->head_no >= sp->tail_no)
            return 0;
        /* every record of it was sent */
        close(sp->head_fd);
        sp->head_fd = -1;
        path_of(sp, sp->head_no, path, sizeof path);
        unlink(path);
        sp->bytes -= (uint64_t)st.st_size;
        sp->head_no++;
        sp->head_off = HDR;
    }
}

/* Reads the record at off of the head file into out (NULL when it does
 * not decode): 1, 0 at the end of the file, -1 when it is damaged. */
static int read_at(cs_nats_spool *sp, uint64_t *off, cs_event **out)
{
    uint8_t h[REC_HDR];
    *out = NULL;
    ssize_t got = pread(sp->head_fd, h, REC_HDR, (off_t)*off);
    if (got == 0)
        return 0;
    if (got != REC_HDR)
        return -1;
    uint32_t len = get32(h);
    sp->rd.len = 0;
    if (len == 0 || len > MAX_RECORD || cs_buf_reserve(&sp->rd, len) ||
        pread(sp->head_fd, sp->rd.data, len, (off_t)(*off + REC_HDR)) != (ssize_t)len ||
        cs_crc32c(0, sp->rd.data, len) != get32(h + 4))
        return -1;
    *off += REC_HDR + len;
    if (cs_event_decode(sp->rd.data, len, out))
        *out = NULL;
    return 1;
}

size_t cs_nats_spool_peek(cs_nats_spool *sp, cs_event **out, size_t max)
{
    size_t n = 0;
    for (int tries = 0; n == 0 && sp->events && tries < 2; tries++) {
        if (open_head(sp))
            return 0;
        uint64_t off = sp->head_off;
        int r = 1;
        while (n < max && n < sp->events && (r = read_at(sp, &off, &out[n])) == 1)
            n++;
        sp->peek_off = off;
        if (n || r != -1)
            break;
        /* damaged at the head: the rest of this file is lost */
        CS_WARN("nats",
                "spool file %016" PRIu64 " is damaged at byte %" PRIu64
                "; the rest of it is skipped",
                sp->head_no, sp->head_off);
        if (sp->head_no >= sp->tail_no) {
            sp->events = 0;
            break;
        }
        struct stat st;
        if (fstat(sp->head_fd, &st) == 0)
            sp->head_off = (uint64_t)st.st_size; /* open_head moves on */
    }
    return n;
}

void cs_nats_spool_consume(cs_nats_spool *sp, size_t n)
{
    sp->head_off = sp->peek_off;
    sp->events -= n;
    if (!sp->events) {
        open_head(sp); /* deletes what is sent in full */
        /* the last file is sent too: emptied to its header, to be reused */
        if (sp->head_no == sp->tail_no && ftruncate(sp->tail_fd, HDR) == 0) {
            sp->bytes -= sp->tail_size - HDR;
            sp->tail_size = sp->head_off = HDR;
        }
    }
    save_pos(sp);
}

void cs_nats_spool_close(cs_nats_spool *sp)
{
    if (sp->tail_fd >= 0) {
        fsync(sp->tail_fd);
        close(sp->tail_fd);
    }
    if (sp->head_fd >= 0)
        close(sp->head_fd);
    if (sp->dir)
        save_pos(sp);
    sp->tail_fd = sp->head_fd = -1;
    cs_buf_free(&sp->rd);
    cs_buf_free(&sp->wr);
    free(sp->dir);
    sp->dir = NULL;
}
