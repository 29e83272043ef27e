/* The archiver's thread, queue, rotation and retention (see archiver.h). */
#include "bus/archiver.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bus/archive.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/event.h"
#include "core/log.h"

#define RETENTION_EVERY_MS 10000
#define DROP_LOG_EVERY_MS 10000
#define MAX_PATH 4096

struct cs_archiver {
    cs_archiver_opts o;
    char *dir, *prefix;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    cs_buf in;   /* u32 LE length + record, appended by cs_archiver_push */
    cs_buf work; /* the batch the thread is writing */
    bool stop, rotate, sync;
    uint64_t last_drop_log_ms, dropped_at_log;
    cs_archiver_stats st; /* under mu */
    /* thread only */
    cs_seg_writer w;
    bool open;
    char path[MAX_PATH];
    uint64_t seg_opened_ms, frame_started_ms, last_retention_ms, last_open_fail_ms;
    unsigned counter;
};

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void count(cs_archiver *a, uint64_t *field, uint64_t n)
{
    pthread_mutex_lock(&a->mu);
    *field += n;
    pthread_mutex_unlock(&a->mu);
}

/* ---- segments ------------------------------------------------------------------ */

static int open_segment(cs_archiver *a)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    for (int tries = 0; tries < 100; tries++) {
        snprintf(a->path, sizeof a->path, "%s/%s-%04d%02d%02dT%02d%02d%02d.%03ldZ-%06u%s", a->dir,
                 a->prefix, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                 tm.tm_sec, ts.tv_nsec / 1000000, ++a->counter % 1000000, CS_SEG_EXT);
        int rc = cs_seg_writer_open(&a->w, a->path, a->o.level);
        if (rc == CS_EEXIST)
            continue;
        if (rc) {
            uint64_t now = mono_ms();
            if (now - a->last_open_fail_ms >= DROP_LOG_EVERY_MS || !a->last_open_fail_ms)
                CS_ERROR("archive", "cannot create %s: %s", a->path, strerror(errno));
            a->last_open_fail_ms = now;
            count(a, &a->st.errors, 1);
            return rc;
        }
        a->open = true;
        a->seg_opened_ms = mono_ms();
        count(a, &a->st.segments, 1);
        count(a, &a->st.bytes, CS_SEG_HEADER);
        CS_DEBUG("archive", "opened %s", a->path);
        return 0;
    }
    return CS_EEXIST;
}

/* A failed write leaves the segment as a crash would: readable up to its
 * last complete frame. The frame's events are counted as dropped. */
static void write_failed(cs_archiver *a, int rc)
{
    CS_ERROR("archive", "%s: write failed (%s); the segment ends at its last complete frame",
             a->path, cs_strerror(rc));
    pthread_mutex_lock(&a->mu);
    a->st.errors++;
    a->st.dropped += a->w.n;
    pthread_mutex_unlock(&a->mu);
    cs_seg_writer_abandon(&a->w);
    a->open = false;
}

static void flush_frame(cs_archiver *a)
{
    if (!a->open || a->w.n == 0)
        return;
    uint64_t before = a->w.off, n = a->w.n, rb = a->w.rec_bytes;
    int rc = cs_seg_writer_flush(&a->w);
    if (rc) {
        write_failed(a, rc);
        return;
    }
    (void)rb;
    pthread_mutex_lock(&a->mu);
    a->st.events += n;
    a->st.frames++;
    a->st.bytes += a->w.off - before;
    pthread_mutex_unlock(&a->mu);
}

static void retention(cs_archiver *a);

static void close_segment(cs_archiver *a)
{
    if (!a->open)
        return;
    flush_frame(a);
    if (!a->open)
        return;
    uint64_t before = a->w.off, n = a->w.n;
    uint64_t events = a->w.events;
    int rc = cs_seg_writer_close(&a->w);
    a->open = false;
    if (rc) {
        CS_ERROR("archive", "%s: closing failed (%s); readable up to its last frame", a->path,
                 cs_strerror(rc));
        pthread_mutex_lock(&a->mu);
        a->st.errors++;
        a->st.dropped += n;
        pthread_mutex_unlock(&a->mu);
    } else {
        struct stat sb;
        if (stat(a->path, &sb) == 0 && (uint64_t)sb.st_size > before)
            count(a, &a->st.bytes, (uint64_t)sb.st_size - before);
        CS_DEBUG("archive", "closed %s (%llu events)", a->path, (unsigned long long)events);
    }
    retention(a);
}

/* ---- retention -------------------------------------------------------------------- */

typedef struct seg_file {
    char *name;
    uint64_t size;
    int64_t mtime;
} seg_file;

static int by_name(const void *x, const void *y)
{
    return strcmp(((const seg_file *)x)->name, ((const seg_file *)y)->name);
}

static bool ours(const cs_archiver *a, const char *name)
{
    size_t pl = strlen(a->prefix), nl = strlen(name), el = strlen(CS_SEG_EXT);
    return nl > pl + 1 + el && strncmp(name, a->prefix, pl) == 0 && name[pl] == '-' &&
           strcmp(name + nl - el, CS_SEG_EXT) == 0;
}

/* Deletes the oldest closed segments (by name: names sort in time order)
 * while they are past retain_ms or the total passes retain_bytes. The open
 * segment counts in the total but is never deleted. */
static void retention(cs_archiver *a)
{
    a->last_retention_ms = mono_ms();
    if (!a->o.retain_ms && !a->o.retain_bytes)
        return;
    DIR *d = opendir(a->dir);
    if (!d)
        return;
    seg_file *v = NULL;
    size_t n = 0, cap = 0;
    uint64_t total = 0;
    const char *cur = a->open ? strrchr(a->path, '/') + 1 : NULL;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!ours(a, de->d_name))
            continue;
        char p[MAX_PATH];
        struct stat sb;
        snprintf(p, sizeof p, "%s/%s", a->dir, de->d_name);
        if (stat(p, &sb) != 0 || !S_ISREG(sb.st_mode))
            continue;
        total += (uint64_t)sb.st_size;
        if (cur && strcmp(cur, de->d_name) == 0)
            continue;
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 64;
            seg_file *nv = realloc(v, nc * sizeof *nv);
            if (!nv)
                break;
            v = nv;
            cap = nc;
        }
        v[n].name = strdup(de->d_name);
        if (!v[n].name)
            break;
        v[n].size = (uint64_t)sb.st_size;
        v[n].mtime = (int64_t)sb.st_mtime;
        n++;
    }
    closedir(d);
    if (n)
        qsort(v, n, sizeof *v, by_name);
    int64_t now = (int64_t)time(NULL);
    for (size_t i = 0; i < n; i++) {
        bool old = a->o.retain_ms && (now - v[i].mtime) * 1000 >= (int64_t)a->o.retain_ms;
        bool big = a->o.retain_bytes && total > a->o.retain_bytes;
        if (!old && !big)
            break;
        char p[MAX_PATH];
        snprintf(p, sizeof p, "%s/%s", a->dir, v[i].name);
        if (unlink(p) == 0) {
            total -= v[i].size;
            pthread_mutex_lock(&a->mu);
            a->st.deleted++;
            a->st.deleted_bytes += v[i].size;
            pthread_mutex_unlock(&a->mu);
            CS_INFO("archive", "retention: deleted %s (%llu bytes, %s)", p,
                    (unsigned long long)v[i].size,
                    old ? "past archive.retain" : "over archive.retain_size");
        }
    }
    for (size_t i = 0; i < n; i++)
        free(v[i].name);
    free(v);
}

/* ---- the thread -------------------------------------------------------------------- */

/* After a frame is written: a new segment once this one passed its size. */
static void rotate_if_full(cs_archiver *a)
{
    if (a->open && a->w.off >= a->o.segment_bytes) {
        close_segment(a);
        open_segment(a);
    }
}

static void write_batch(cs_archiver *a, const cs_buf *b)
{
    size_t off = 0;
    uint64_t lost = 0;
    while (off + 4 <= b->len) {
        const uint8_t *p = b->data + off;
        uint32_t len =
            (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
        off += 4 + len;
        if (!a->open) {
            uint64_t now = mono_ms();
            if (a->last_open_fail_ms && now - a->last_open_fail_ms < 1000) {
                lost++;
                continue;
            }
            if (open_segment(a)) {
                lost++;
                continue;
            }
        }
        if (a->w.n == 0)
            a->frame_started_ms = mono_ms();
        int rc = cs_seg_writer_add(&a->w, p + 4, len);
        if (rc == CS_EPARSE) {
            lost++;
            continue;
        }
        if (rc) {
            write_failed(a, rc);
            lost++;
            continue;
        }
        if (a->w.n >= a->o.frame_events) {
            flush_frame(a);
            rotate_if_full(a);
        }
    }
    if (lost)
        count(a, &a->st.dropped, lost);
}

static uint64_t next_deadline(const cs_archiver *a, uint64_t now)
{
    uint64_t d = a->last_retention_ms + RETENTION_EVERY_MS;
    if (a->open && a->w.n && a->frame_started_ms + a->o.frame_ms < d)
        d = a->frame_started_ms + a->o.frame_ms;
    if (a->open && a->w.events + a->w.n && a->seg_opened_ms + a->o.segment_ms < d)
        d = a->seg_opened_ms + a->o.segment_ms;
    return d > now ? d : now;
}

static void *run(void *arg)
{
    cs_archiver *a = arg;
    pthread_mutex_lock(&a->mu);
    for (;;) {
        while (!a->in.len && !a->stop && !a->rotate && !a->sync) {
            uint64_t now = mono_ms(), d = next_deadline(a, now);
            if (d <= now)
                break;
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            uint64_t ns = (uint64_t)ts.tv_nsec + (d - now) * 1000000ull;
            ts.tv_sec += (time_t)(ns / 1000000000ull);
            ts.tv_nsec = (long)(ns % 1000000000ull);
            pthread_cond_timedwait(&a->cv, &a->mu, &ts);
        }
        cs_buf t = a->in;
        a->in = a->work;
        a->work = t;
        a->st.queued_bytes = a->in.len;
        bool stop = a->stop, rotate = a->rotate, sync = a->sync;
        a->rotate = a->sync = false;
        pthread_mutex_unlock(&a->mu);

        write_batch(a, &a->work);
        a->work.len = 0;
        uint64_t now = mono_ms();
        if (sync || (a->open && a->w.n && now - a->frame_started_ms >= a->o.frame_ms)) {
            flush_frame(a);
            rotate_if_full(a);
        }
        if (rotate ||
            (a->open && a->w.events + a->w.n && now - a->seg_opened_ms >= a->o.segment_ms)) {
            close_segment(a);
            open_segment(a);
        }
        if (now - a->last_retention_ms >= RETENTION_EVERY_MS)
            retention(a);
        pthread_mutex_lock(&a->mu);
        if (stop && !a->in.len)
            break;
    }
    pthread_mutex_unlock(&a->mu);
    close_segment(a);
    return NULL;
}

/* ---- API ------------------------------------------------------------------------------ */

static int make_dirs(const char *dir)
{
    char p[MAX_PATH];
    snprintf(p, sizeof p, "%s", dir);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = 0;
        if (mkdir(p, 0750) != 0 && errno != EEXIST)
            return -1;
        *s = '/';
    }
    if (mkdir(p, 0750) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

int cs_archiver_start(const cs_archiver_opts *o, cs_archiver **out, char *err, size_t errlen)
{
    if (!o->dir || !*o->dir) {
        snprintf(err, errlen, "archive: no folder");
        return CS_EINVAL;
    }
    if (make_dirs(o->dir)) {
        snprintf(err, errlen, "archive: cannot create %s: %s", o->dir, strerror(errno));
        return CS_EIO;
    }
    cs_archiver *a = calloc(1, sizeof *a);
    if (!a)
        return CS_ENOMEM;
    a->o = *o;
    if (!a->o.frame_events)
        a->o.frame_events = 8192;
    if (!a->o.frame_ms)
        a->o.frame_ms = 1000;
    if (!a->o.segment_bytes)
        a->o.segment_bytes = 256u << 20;
    if (!a->o.segment_ms)
        a->o.segment_ms = 3600 * 1000;
    if (!a->o.queue_bytes)
        a->o.queue_bytes = 64u << 20;
    if (!a->o.level)
        a->o.level = 3;
    a->dir = strdup(o->dir);
    a->prefix = strdup(o->prefix ? o->prefix : "events");
    cs_buf_init(&a->in, 0);
    cs_buf_init(&a->work, 0);
    pthread_mutex_init(&a->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&a->cv, &ca);
    pthread_condattr_destroy(&ca);
    a->last_retention_ms = mono_ms();
    int rc = a->dir && a->prefix ? open_segment(a) : CS_ENOMEM;
    if (rc) {
        snprintf(err, errlen, "archive: cannot create a segment in %s: %s", o->dir,
                 rc == CS_EIO ? strerror(errno) : cs_strerror(rc));
    } else {
        retention(a);
        if (pthread_create(&a->thread, NULL, run, a) != 0) {
            snprintf(err, errlen, "archive: cannot start its thread");
            cs_seg_writer_close(&a->w);
            rc = CS_ENOMEM;
        }
    }
    if (rc) {
        pthread_mutex_destroy(&a->mu);
        pthread_cond_destroy(&a->cv);
        free(a->dir);
        free(a->prefix);
        free(a);
        return rc;
    }
    *out = a;
    return 0;
}

int cs_archiver_push(cs_archiver *a, const uint8_t *rec, size_t len)
{
    pthread_mutex_lock(&a->mu);
    if (a->in.len + 4 + len > a->o.queue_bytes || cs_buf_reserve(&a->in, 4 + len)) {
        a->st.dropped++;
        uint64_t now = mono_ms();
        if (!a->last_drop_log_ms || now - a->last_drop_log_ms >= DROP_LOG_EVERY_MS) {
            CS_WARN("archive",
                    "queue full (%llu bytes waiting for the disk): events are dropped "
                    "(%llu so far)",
                    (unsigned long long)a->in.len, (unsigned long long)a->st.dropped);
            a->last_drop_log_ms = now;
        }
        pthread_mutex_unlock(&a->mu);
        return CS_ELIMIT;
    }
    bool wake = a->in.len == 0;
    uint8_t *p = a->in.data + a->in.len;
    p[0] = (uint8_t)len;
    p[1] = (uint8_t)(len >> 8);
    p[2] = (uint8_t)(len >> 16);
    p[3] = (uint8_t)(len >> 24);
    memcpy(p + 4, rec, len);
    a->in.len += 4 + len;
    a->st.queued_bytes = a->in.len;
    pthread_mutex_unlock(&a->mu);
    if (wake)
        pthread_cond_signal(&a->cv);
    return 0;
}

static void ask(cs_archiver *a, bool *flag)
{
    pthread_mutex_lock(&a->mu);
    *flag = true;
    pthread_mutex_unlock(&a->mu);
    pthread_cond_signal(&a->cv);
}

void cs_archiver_rotate(cs_archiver *a)
{
    ask(a, &a->rotate);
}

void cs_archiver_sync(cs_archiver *a)
{
    ask(a, &a->sync);
}

void cs_archiver_stats_get(cs_archiver *a, cs_archiver_stats *st)
{
    pthread_mutex_lock(&a->mu);
    *st = a->st;
    pthread_mutex_unlock(&a->mu);
}

void cs_archiver_stop(cs_archiver *a, cs_archiver_stats *st)
{
    ask(a, &a->stop);
    pthread_join(a->thread, NULL);
    if (st)
        *st = a->st;
    CS_INFO("archive", "closed: %llu events in %llu segments, %llu dropped",
            (unsigned long long)a->st.events, (unsigned long long)a->st.segments,
            (unsigned long long)a->st.dropped);
    cs_buf_free(&a->in);
    cs_buf_free(&a->work);
    pthread_mutex_destroy(&a->mu);
    pthread_cond_destroy(&a->cv);
    free(a->dir);
    free(a->prefix);
    free(a);
}
