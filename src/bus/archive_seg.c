/* Archive segments: the writer and the reader of the format in archive.h. */
#include "bus/archive.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "core/error.h"
#include "core/event.h"
#include "core/value.h"

/* ---- little-endian helpers and CRC-32C ----------------------------------------- */

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
    return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

static uint32_t crc_table[8][256];

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? (c >> 1) ^ 0x82f63b78u : c >> 1;
        crc_table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            crc_table[t][i] = (crc_table[t - 1][i] >> 8) ^ crc_table[0][crc_table[t - 1][i] & 0xff];
}

/* Slicing by 8: a table per byte position of a 64-bit word. */
uint32_t cs_crc32c(uint32_t crc, const void *data, size_t n)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, crc_init);
    const uint8_t *p = data;
    crc = ~crc;
    while (n >= 8) {
        uint32_t lo = get32(p) ^ crc, hi = get32(p + 4);
        crc = crc_table[7][lo & 0xff] ^ crc_table[6][(lo >> 8) & 0xff] ^
              crc_table[5][(lo >> 16) & 0xff] ^ crc_table[4][lo >> 24] ^ crc_table[3][hi & 0xff] ^
              crc_table[2][(hi >> 8) & 0xff] ^ crc_table[1][(hi >> 16) & 0xff] ^
              crc_table[0][hi >> 24];
        p += 8;
        n -= 8;
    }
    while (n--)
        crc = (crc >> 8) ^ crc_table[0][(crc ^ *p++) & 0xff];
    return ~crc;
}

/* ---- record heads ----------------------------------------------------------------- */

static int get_str(const uint8_t **p, const uint8_t *end, const char **s, size_t *len)
{
    uint64_t n;
    if (cs_varint_get(p, end, &n) || n > (uint64_t)(end - *p))
        return CS_EPARSE;
    *s = (const char *)*p;
    *len = (size_t)n;
    *p += n;
    return 0;
}

int cs_seg_record_head(const uint8_t *rec, size_t len, uint64_t *seq, int64_t *time_ns,
                       const char **type, size_t *type_len)
{
    const uint8_t *p = rec, *end = rec + len;
    const char *s;
    size_t sl;
    if (len < 1 || *p++ != CS_EVENT_VERSION || cs_varint_get(&p, end, seq) || end - p < 8)
        return CS_EPARSE;
    *time_ns = (int64_t)get64(p);
    p += 8;
    if (get_str(&p, end, &s, &sl) || get_str(&p, end, &s, &sl) ||
        get_str(&p, end, type, type_len) || *type_len == 0)
        return CS_EPARSE;
    return 0;
}

/* ---- writer ------------------------------------------------------------------------- */

static int write_all(int fd, const void *data, size_t n)
{
    const uint8_t *p = data;
    while (n) {
        ssize_t k = write(fd, p, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return CS_EIO;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

int cs_seg_writer_open(cs_seg_writer *w, const char *path, int level)
{
    memset(w, 0, sizeof *w);
    w->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    if (w->fd < 0)
        return errno == EEXIST ? CS_EEXIST : CS_EIO;
    w->level = level;
    cs_buf_init(&w->raw, 0);
    cs_buf_init(&w->z, 0);
    w->cctx = ZSTD_createCCtx();
    uint8_t h[CS_SEG_HEADER];
    memcpy(h, CS_SEG_MAGIC, 8);
    put32(h + 8, CS_SEG_VERSION);
    put32(h + 12, 0);
    int rc = w->cctx ? write_all(w->fd, h, sizeof h) : CS_ENOMEM;
    if (rc) {
        cs_seg_writer_abandon(w);
        return rc;
    }
    w->off = sizeof h;
    w->seg_tmin = INT64_MAX;
    w->seg_tmax = INT64_MIN;
    return 0;
}

static uint64_t hash_str(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)s[i]) * 1099511628211ull;
    return h;
}

/* Counts one event of type t in the segment's table (grown at 1/2 full). */
static void count_type(cs_seg_writer *w, const char *t, size_t tl)
{
    if (w->ntypes * 2 >= w->captypes) {
        if (w->ntypes >= CS_SEG_MAX_TYPES) {
            /* maybe known already */
        } else {
            size_t cap = w->captypes ? w->captypes * 2 : 64;
            cs_seg_type *nt = calloc(cap, sizeof *nt);
            if (!nt) {
                w->other++;
                return;
            }
            for (size_t i = 0; i < w->captypes; i++)
                if (w->types[i].name) {
                    size_t j = hash_str(w->types[i].name, strlen(w->types[i].name)) & (cap - 1);
                    while (nt[j].name)
                        j = (j + 1) & (cap - 1);
                    nt[j] = w->types[i];
                }
            free(w->types);
            w->types = nt;
            w->captypes = cap;
        }
    }
    size_t j = hash_str(t, tl) & (w->captypes - 1);
    while (w->types[j].name) {
        if (strncmp(w->types[j].name, t, tl) == 0 && w->types[j].name[tl] == 0) {
            w->types[j].count++;
            return;
        }
        j = (j + 1) & (w->captypes - 1);
    }
    if (w->ntypes >= CS_SEG_MAX_TYPES || !(w->types[j].name = strndup(t, tl))) {
        w->other++;
        return;
    }
    w->types[j].count = 1;
    w->ntypes++;
}

int cs_seg_writer_add(cs_seg_writer *w, const uint8_t *rec, size_t len)
{
    uint64_t seq;
    int64_t t;
    const char *type;
    size_t tl;
    if (len > CS_EVENT_MAX_SIZE || cs_seg_record_head(rec, len, &seq, &t, &type, &tl))
        return CS_EPARSE;
    int rc;
    if (w->raw.len + len + 10 > CS_SEG_MAX_RAW && (rc = cs_seg_writer_flush(w)))
        return rc;
    uint8_t v[10];
    size_t vl = cs_varint_put(v, len);
    if (cs_buf_reserve(&w->raw, vl + len))
        return CS_ENOMEM;
    memcpy(w->raw.data + w->raw.len, v, vl);
    memcpy(w->raw.data + w->raw.len + vl, rec, len);
    w->raw.len += vl + len;
    if (w->n == 0 || t < w->tmin)
        w->tmin = t;
    if (w->n == 0 || t > w->tmax)
        w->tmax = t;
    w->n++;
    count_type(w, type, tl);
    w->rec_bytes += len;
    return 0;
}

static void block_header(uint8_t h[CS_SEG_BLOCK_HEADER], uint32_t kind, uint32_t body_len,
                         uint32_t raw_len, uint32_t count, int64_t tmin, int64_t tmax,
                         const uint8_t *body)
{
    put32(h, kind);
    put32(h + 4, body_len);
    put32(h + 8, raw_len);
    put32(h + 12, count);
    put64(h + 16, (uint64_t)tmin);
    put64(h + 24, (uint64_t)tmax);
    put32(h + 32, cs_crc32c(0, body, body_len));
    put32(h + 36, cs_crc32c(0, h, 36));
}

int cs_seg_writer_flush(cs_seg_writer *w)
{
    if (w->n == 0)
        return 0;
    size_t bound = ZSTD_compressBound(w->raw.len);
    w->z.len = 0;
    if (cs_buf_reserve(&w->z, CS_SEG_BLOCK_HEADER + bound))
        return CS_ENOMEM;
    if (w->nidx == w->capidx) {
        size_t cap = w->capidx ? w->capidx * 2 : 64;
        cs_seg_entry *ni = realloc(w->idx, cap * sizeof *ni);
        if (!ni)
            return CS_ENOMEM;
        w->idx = ni;
        w->capidx = cap;
    }
    size_t zl = ZSTD_compressCCtx(w->cctx, w->z.data + CS_SEG_BLOCK_HEADER, bound, w->raw.data,
                                  w->raw.len, w->level);
    if (ZSTD_isError(zl))
        return CS_ENOMEM;
    block_header(w->z.data, CS_SEG_KIND_FRAME, (uint32_t)zl, (uint32_t)w->raw.len, w->n, w->tmin,
                 w->tmax, w->z.data + CS_SEG_BLOCK_HEADER);
    int rc = write_all(w->fd, w->z.data, CS_SEG_BLOCK_HEADER + zl);
    if (rc)
        return rc;
    w->idx[w->nidx++] = (cs_seg_entry){.offset = w->off,
                                       .count = w->n,
                                       .body_len = (uint32_t)zl,
                                       .tmin = w->tmin,
                                       .tmax = w->tmax};
    w->off += CS_SEG_BLOCK_HEADER + zl;
    w->events += w->n;
    if (w->tmin < w->seg_tmin)
        w->seg_tmin = w->tmin;
    if (w->tmax > w->seg_tmax)
        w->seg_tmax = w->tmax;
    w->n = 0;
    w->raw.len = 0;
    return 0;
}

static void writer_free(cs_seg_writer *w)
{
    if (w->fd >= 0)
        close(w->fd);
    w->fd = -1;
    cs_buf_free(&w->raw);
    cs_buf_free(&w->z);
    ZSTD_freeCCtx(w->cctx);
    w->cctx = NULL;
    free(w->idx);
    w->idx = NULL;
    for (size_t i = 0; i < w->captypes; i++)
        free(w->types[i].name);
    free(w->types);
    w->types = NULL;
    w->captypes = w->ntypes = 0;
}

void cs_seg_writer_abandon(cs_seg_writer *w)
{
    writer_free(w);
}

/* Index body: the frames (32 bytes each), then the type counts. */
static int write_index(cs_seg_writer *w)
{
    cs_buf b;
    cs_buf_init(&b, 0);
    uint8_t e[32], v[10];
    int rc = cs_buf_reserve(&b, CS_SEG_BLOCK_HEADER + 32 * w->nidx + 16);
    if (!rc) {
        b.len = CS_SEG_BLOCK_HEADER;
        for (size_t i = 0; i < w->nidx && !rc; i++) {
            put64(e, w->idx[i].offset);
            put32(e + 8, w->idx[i].count);
            put32(e + 12, w->idx[i].body_len);
            put64(e + 16, (uint64_t)w->idx[i].tmin);
            put64(e + 24, (uint64_t)w->idx[i].tmax);
            rc = cs_buf_append(&b, e, 32);
        }
    }
    uint32_t nt = (uint32_t)w->ntypes + (w->other ? 1 : 0);
    put32(e, nt);
    if (!rc)
        rc = cs_buf_append(&b, e, 4);
    for (size_t i = 0; i < w->captypes + (w->other ? 1 : 0) && !rc; i++) {
        const char *name = i < w->captypes ? w->types[i].name : ">";
        uint64_t count = i < w->captypes ? w->types[i].count : w->other;
        if (!name)
            continue;
        size_t nl = strlen(name);
        size_t vl = cs_varint_put(v, nl);
        put64(e, count);
        if (!(rc = cs_buf_append(&b, v, vl)) && !(rc = cs_buf_append(&b, name, nl)))
            rc = cs_buf_append(&b, e, 8);
    }
    if (!rc) {
        uint32_t body = (uint32_t)(b.len - CS_SEG_BLOCK_HEADER);
        bool any = w->nidx > 0;
        block_header(b.data, CS_SEG_KIND_INDEX, body, body, (uint32_t)w->nidx,
                     any ? w->seg_tmin : 0, any ? w->seg_tmax : 0, b.data + CS_SEG_BLOCK_HEADER);
        uint8_t f[CS_SEG_FOOTER];
        put64(f, w->off);
        memcpy(f + 8, CS_SEG_END_MAGIC, 8);
        rc = cs_buf_append(&b, f, sizeof f);
    }
    if (!rc)
        rc = write_all(w->fd, b.data, b.len);
    if (!rc)
        w->off += b.len;
    cs_buf_free(&b);
    return rc;
}

int cs_seg_writer_close(cs_seg_writer *w)
{
    int rc = cs_seg_writer_flush(w);
    if (!rc)
        rc = write_index(w);
    if (!rc && close(w->fd) != 0)
        rc = CS_EIO;
    else if (rc)
        close(w->fd);
    w->fd = -1;
    writer_free(w);
    return rc;
}

/* ---- reader ------------------------------------------------------------------------- */

int cs_seg_block_at(const uint8_t *p, size_t n, size_t off, cs_seg_block *b, const char **why)
{
    *why = NULL;
    if (off > n || n - off < CS_SEG_BLOCK_HEADER) {
        *why = "the bytes end inside a block header";
        return CS_ETRUNC;
    }
    const uint8_t *h = p + off;
    b->kind = get32(h);
    b->offset = off;
    b->body_len = get32(h + 4);
    b->raw_len = get32(h + 8);
    b->count = get32(h + 12);
    b->tmin = (int64_t)get64(h + 16);
    b->tmax = (int64_t)get64(h + 24);
    b->body = h + CS_SEG_BLOCK_HEADER;
    if (b->kind != CS_SEG_KIND_FRAME && b->kind != CS_SEG_KIND_INDEX)
        *why = "unknown block kind";
    else if (get32(h + 36) != cs_crc32c(0, h, 36))
        *why = "block header CRC mismatch";
    else if (b->body_len > CS_SEG_MAX_BODY || b->raw_len > CS_SEG_MAX_RAW)
        *why = "block larger than the format allows";
    else if (b->kind == CS_SEG_KIND_FRAME && (b->count == 0 || b->tmin > b->tmax))
        *why = "frame with no events or a reversed time span";
    if (*why)
        return CS_EPARSE;
    if (n - off - CS_SEG_BLOCK_HEADER < b->body_len) {
        *why = "the bytes end inside a block body";
        return CS_ETRUNC;
    }
    if (get32(h + 32) != cs_crc32c(0, b->body, b->body_len)) {
        *why = "block body CRC mismatch";
        return CS_EPARSE;
    }
    return 0;
}

static int add_frame(cs_segment *s, size_t *cap, const cs_seg_entry *e)
{
    if (s->nframes == *cap) {
        size_t nc = *cap ? *cap * 2 : 64;
        cs_seg_entry *nf = realloc(s->frames, nc * sizeof *nf);
        if (!nf)
            return CS_ENOMEM;
        s->frames = nf;
        *cap = nc;
    }
    s->frames[s->nframes++] = *e;
    s->events += e->count;
    return 0;
}

/* The index block b (at offset io). With adopt, its entries become the
 * frames, checked to tile the bytes from the header to the index; else
 * they are checked against the frames a scan found. */
static int read_index(cs_segment *s, const cs_seg_block *b, size_t io, bool adopt, const char **why)
{
    const uint8_t *p = b->body, *end = p + b->body_len;
    *why = "index does not match the frames";
    if ((!adopt && b->count != s->nframes) || (size_t)(end - p) < 32ull * b->count + 4)
        return CS_EPARSE;
    if (adopt && !(s->frames = calloc(b->count ? b->count : 1, sizeof *s->frames)))
        return CS_ENOMEM;
    uint64_t next = CS_SEG_HEADER;
    for (size_t i = 0; i < b->count; i++, p += 32) {
        cs_seg_entry e = {.offset = get64(p),
                          .count = get32(p + 8),
                          .body_len = get32(p + 12),
                          .tmin = (int64_t)get64(p + 16),
                          .tmax = (int64_t)get64(p + 24)};
        if (adopt) {
            if (e.offset != next || e.count == 0 || e.tmin > e.tmax ||
                e.body_len > CS_SEG_MAX_BODY || e.offset + CS_SEG_BLOCK_HEADER + e.body_len > io)
                return CS_EPARSE;
            next = e.offset + CS_SEG_BLOCK_HEADER + e.body_len;
            s->frames[s->nframes++] = e;
            s->events += e.count;
            continue;
        }
        const cs_seg_entry *f = &s->frames[i];
        if (e.offset != f->offset || e.count != f->count || e.body_len != f->body_len ||
            e.tmin != f->tmin || e.tmax != f->tmax)
            return CS_EPARSE;
    }
    if (adopt && next != io)
        return CS_EPARSE;
    uint32_t nt = get32(p);
    p += 4;
    *why = "bad type table in the index";
    if (nt > CS_SEG_MAX_TYPES + 1)
        return CS_EPARSE;
    s->types = calloc(nt ? nt : 1, sizeof *s->types);
    if (!s->types)
        return CS_ENOMEM;
    for (uint32_t i = 0; i < nt; i++) {
        const char *name;
        size_t nl;
        if (get_str(&p, end, &name, &nl) || nl == 0 || nl > CS_EVENT_MAX_TYPE || end - p < 8)
            return CS_EPARSE;
        if (!(s->types[i].name = strndup(name, nl)))
            return CS_ENOMEM;
        s->types[i].count = get64(p);
        p += 8;
        s->ntypes++;
    }
    if (p != end)
        return CS_EPARSE;
    *why = NULL;
    return 0;
}

/* A segment closed cleanly: the footer names the index, whose entries give
 * the frames without reading their headers or bodies (each frame's CRCs are
 * checked when it is read). Returns 1 when adopted, 0 to scan instead. */
static int try_index(cs_segment *s)
{
    const uint8_t *p = s->p;
    size_t n = s->size;
    if (n < CS_SEG_HEADER + CS_SEG_BLOCK_HEADER + CS_SEG_FOOTER ||
        memcmp(p + n - 8, CS_SEG_END_MAGIC, 8) != 0)
        return 0;
    uint64_t io = get64(p + n - CS_SEG_FOOTER);
    cs_seg_block b;
    const char *why;
    if (io < CS_SEG_HEADER || io > n - CS_SEG_FOOTER - CS_SEG_BLOCK_HEADER ||
        cs_seg_block_at(p, n - CS_SEG_FOOTER, (size_t)io, &b, &why) ||
        b.kind != CS_SEG_KIND_INDEX || io + CS_SEG_BLOCK_HEADER + b.body_len != n - CS_SEG_FOOTER)
        return 0;
    int rc = read_index(s, &b, (size_t)io, true, &why);
    if (rc) {
        free(s->frames);
        for (size_t i = 0; i < s->ntypes; i++)
            free(s->types[i].name);
        free(s->types);
        s->frames = NULL;
        s->types = NULL;
        s->nframes = s->ntypes = 0;
        s->events = 0;
        return rc == CS_ENOMEM ? rc : 0;
    }
    s->indexed = true;
    s->end = (size_t)io;
    snprintf(s->why, sizeof s->why, "closed cleanly, index at byte %llu", (unsigned long long)io);
    return 1;
}

/* A clean segment is read from its index; any other is scanned from the
 * header on, block by block: every complete frame is readable. */
int cs_segment_load(cs_segment *s, const uint8_t *p, size_t n)
{
    memset(s, 0, sizeof *s);
    s->p = p;
    s->size = n;
    if (n < CS_SEG_HEADER || memcmp(p, CS_SEG_MAGIC, 8) != 0 || get32(p + 8) != CS_SEG_VERSION)
        return CS_EPARSE;
    int ir = try_index(s);
    if (ir)
        return ir < 0 ? ir : 0;
    size_t off = CS_SEG_HEADER, cap = 0;
    s->end = off;
    for (;;) {
        if (off == n) {
            s->end_rc = CS_ETRUNC;
            snprintf(s->why, sizeof s->why,
                     "cut after its last complete frame at byte %zu (no index: not closed "
                     "cleanly)",
                     off);
            return 0;
        }
        cs_seg_block b;
        const char *why;
        int rc = cs_seg_block_at(p, n, off, &b, &why);
        if (rc) {
            s->end_rc = rc;
            snprintf(s->why, sizeof s->why, "%s at byte %zu of %zu; readable up to byte %zu", why,
                     off, n, s->end);
            return 0;
        }
        if (b.kind == CS_SEG_KIND_INDEX) {
            size_t iend = off + CS_SEG_BLOCK_HEADER + b.body_len;
            if (n - iend != CS_SEG_FOOTER || get64(p + iend) != off ||
                memcmp(p + iend + 8, CS_SEG_END_MAGIC, 8) != 0) {
                s->end_rc = CS_EPARSE;
                snprintf(s->why, sizeof s->why,
                         "index at byte %zu without a matching footer; readable up to byte %zu",
                         off, s->end);
                return 0;
            }
            if ((rc = read_index(s, &b, off, false, &why))) {
                if (rc == CS_ENOMEM)
                    return rc;
                s->end_rc = CS_EPARSE;
                snprintf(s->why, sizeof s->why, "%s at byte %zu; readable up to byte %zu", why, off,
                         s->end);
                return 0;
            }
            s->indexed = true;
            snprintf(s->why, sizeof s->why, "closed cleanly, index at byte %zu", off);
            return 0;
        }
        cs_seg_entry e = {.offset = off,
                          .count = b.count,
                          .body_len = b.body_len,
                          .tmin = b.tmin,
                          .tmax = b.tmax};
        if ((rc = add_frame(s, &cap, &e)))
            return rc;
        off += CS_SEG_BLOCK_HEADER + b.body_len;
        s->end = off;
    }
}

int cs_segment_open(cs_segment *s, const char *path, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return CS_EIO;
    }
    void *map = NULL;
    if (st.st_size > 0) {
        map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            snprintf(err, errlen, "%s: %s", path, strerror(errno));
            close(fd);
            return CS_EIO;
        }
    }
    close(fd);
    int rc = cs_segment_load(s, map ? map : (const uint8_t *)"", (size_t)st.st_size);
    s->map = map;
    if (rc) {
        snprintf(err, errlen, "%s: %s", path,
                 rc == CS_EPARSE ? "not an archive segment (bad header)" : cs_strerror(rc));
        cs_segment_close(s);
    }
    return rc;
}

void cs_segment_close(cs_segment *s)
{
    if (s->map)
        munmap(s->map, s->size);
    free(s->frames);
    for (size_t i = 0; i < s->ntypes; i++)
        free(s->types[i].name);
    free(s->types);
    memset(s, 0, sizeof *s);
}

int cs_seg_item_next(const uint8_t **p, const uint8_t *end, const uint8_t **rec, size_t *len)
{
    if (*p == end)
        return 0;
    uint64_t n;
    if (cs_varint_get(p, end, &n) || n == 0 || n > CS_EVENT_MAX_SIZE || n > (uint64_t)(end - *p))
        return CS_EPARSE;
    *rec = *p;
    *len = (size_t)n;
    *p += n;
    return 1;
}

int cs_segment_frame(const cs_segment *s, size_t i, void *dctx, cs_buf *out, const char **why)
{
    const cs_seg_entry *f = &s->frames[i];
    cs_seg_block b;
    if (cs_seg_block_at(s->p, s->end, (size_t)f->offset, &b, why))
        return CS_EPARSE;
    if (b.kind != CS_SEG_KIND_FRAME || b.count != f->count || b.body_len != f->body_len ||
        b.tmin != f->tmin || b.tmax != f->tmax) {
        *why = "frame header does not match the index";
        return CS_EPARSE;
    }
    const uint8_t *body = b.body;
    uint32_t raw = b.raw_len;
    *why = "bad zstd frame";
    if (ZSTD_findFrameCompressedSize(body, f->body_len) != f->body_len ||
        ZSTD_getFrameContentSize(body, f->body_len) != raw)
        return CS_EPARSE;
    out->len = 0;
    if (cs_buf_reserve(out, raw ? raw : 1)) {
        *why = "out of memory";
        return CS_ENOMEM;
    }
    size_t got = ZSTD_decompressDCtx(dctx, out->data, raw, body, f->body_len);
    if (ZSTD_isError(got) || got != raw)
        return CS_EPARSE;
    out->len = raw;
    const uint8_t *p = out->data, *end = p + raw, *rec;
    size_t len, n = 0;
    int rc;
    while ((rc = cs_seg_item_next(&p, end, &rec, &len)) == 1)
        n++;
    *why = "frame content does not hold its count of records";
    if (rc < 0 || n != f->count)
        return CS_EPARSE;
    *why = NULL;
    return 0;
}

void *cs_seg_dctx_new(void)
{
    return ZSTD_createDCtx();
}

void cs_seg_dctx_free(void *dctx)
{
    ZSTD_freeDCtx(dctx);
}
