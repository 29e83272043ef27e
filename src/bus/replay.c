/* Reading segment files back in order (see replay.h). */
#include "bus/replay.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bus/archive.h"
#include "core/buf.h"
#include "core/date.h"
#include "core/error.h"
#include "core/event.h"
#include "core/log.h"
#include "core/subject.h"
#include "core/value.h"

#define MARK_LEN (sizeof CS_REPLAY_MARK - 1)

struct cs_replay {
    cs_replay_opts o;
    char **files;
    size_t nfiles, fi;
    char **filters;
    cs_segment seg;
    bool seg_open;
    size_t frame;
    cs_buf raw;
    const uint8_t *p, *end; /* items left in the decompressed frame */
    void *dctx;
    cs_buf out;
    cs_replay_stats st;
    bool all; /* one of the filters is ">" */
};

bool cs_origin_replayed(const char *origin)
{
    size_t n = origin ? strlen(origin) : 0;
    return n >= MARK_LEN && memcmp(origin + n - MARK_LEN, CS_REPLAY_MARK, MARK_LEN) == 0;
}

/* ---- times ------------------------------------------------------------------------ */

static int digits(const char **s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if ((*s)[i] < '0' || (*s)[i] > '9')
            return CS_EPARSE;
        v = v * 10 + ((*s)[i] - '0');
    }
    *s += n;
    *out = v;
    return 0;
}

int cs_replay_parse_time(const char *s, int64_t *ns)
{
    if (!s || !*s)
        return CS_EPARSE;
    if (strlen(s) >= 10 && s[4] == '-') {
        int y, mo, d, h = 0, mi = 0, se = 0;
        const char *p = s;
        if (digits(&p, 4, &y) || *p++ != '-' || digits(&p, 2, &mo) || *p++ != '-' ||
            digits(&p, 2, &d) || mo < 1 || mo > 12 || d < 1 || d > 31)
            return CS_EPARSE;
        int64_t frac = 0, off = 0;
        if (*p == 'T' || *p == 't' || *p == ' ') {
            p++;
            if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &mi) || *p++ != ':' ||
                digits(&p, 2, &se) || h > 23 || mi > 59 || se > 60)
                return CS_EPARSE;
            if (*p == '.') {
                p++;
                int64_t scale = 100000000;
                if (*p < '0' || *p > '9')
                    return CS_EPARSE;
                for (; *p >= '0' && *p <= '9'; p++, scale /= 10)
                    frac += scale * (*p - '0');
            }
            if (*p == 'Z' || *p == 'z') {
                p++;
            } else if (*p == '+' || *p == '-') {
                int sign = *p++ == '-' ? -1 : 1, oh, om;
                if (digits(&p, 2, &oh) || *p++ != ':' || digits(&p, 2, &om))
                    return CS_EPARSE;
                off = sign * (oh * 3600 + om * 60);
            } else {
                return CS_EPARSE;
            }
        }
        if (*p)
            return CS_EPARSE;
        int64_t secs = cs_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - off;
        *ns = secs * 1000000000 + frac;
        return 0;
    }
    char *end;
    double v = strtod(s, &end);
    if (*end || v < -9e9 || v > 9e9)
        return CS_EPARSE;
    *ns = (int64_t)(v * 1e9);
    return 0;
}

/* ---- files ------------------------------------------------------------------------ */

static int add_file(cs_replay *r, size_t *cap, const char *path)
{
    if (r->nfiles == *cap) {
        size_t nc = *cap ? *cap * 2 : 16;
        char **nf = realloc(r->files, nc * sizeof *nf);
        if (!nf)
            return CS_ENOMEM;
        r->files = nf;
        *cap = nc;
    }
    if (!(r->files[r->nfiles] = strdup(path)))
        return CS_ENOMEM;
    r->nfiles++;
    return 0;
}

static int by_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int add_dir(cs_replay *r, size_t *cap, const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return CS_EIO;
    size_t first = r->nfiles, el = strlen(CS_SEG_EXT);
    struct dirent *de;
    int rc = 0;
    while (!rc && (de = readdir(d))) {
        size_t nl = strlen(de->d_name);
        if (nl <= el || strcmp(de->d_name + nl - el, CS_SEG_EXT) != 0)
            continue;
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        rc = add_file(r, cap, p);
    }
    closedir(d);
    qsort(r->files + first, r->nfiles - first, sizeof *r->files, by_str);
    return rc;
}

int cs_replay_open(const cs_replay_opts *o, cs_replay **out, char *err, size_t errlen)
{
    cs_replay *r = calloc(1, sizeof *r);
    if (!r)
        return CS_ENOMEM;
    r->o = *o;
    r->o.paths = NULL;
    size_t cap = 0;
    int rc = 0;
    for (size_t i = 0; i < o->npaths && !rc; i++) {
        struct stat sb;
        if (stat(o->paths[i], &sb) != 0) {
            snprintf(err, errlen, "%s: no such file or folder", o->paths[i]);
            rc = CS_EIO;
        } else {
            rc = S_ISDIR(sb.st_mode) ? add_dir(r, &cap, o->paths[i])
                                     : add_file(r, &cap, o->paths[i]);
            if (rc)
                snprintf(err, errlen, "%s: cannot list it", o->paths[i]);
        }
    }
    if (!rc && o->nfilters) {
        r->filters = calloc(o->nfilters, sizeof *r->filters);
        for (size_t i = 0; r->filters && i < o->nfilters && !rc; i++)
            if (!(r->filters[i] = strdup(o->filters[i])))
                rc = CS_ENOMEM;
        if (!r->filters)
            rc = CS_ENOMEM;
        r->o.filters = (const char *const *)r->filters;
        for (size_t i = 0; i < o->nfilters; i++)
            if (strcmp(o->filters[i], ">") == 0)
                r->all = true;
    }
    if (!rc && !(r->dctx = cs_seg_dctx_new()))
        rc = CS_ENOMEM;
    cs_buf_init(&r->raw, 0);
    cs_buf_init(&r->out, 0);
    if (rc) {
        if (rc == CS_ENOMEM)
            snprintf(err, errlen, "out of memory");
        cs_replay_close(r);
        return rc;
    }
    *out = r;
    return 0;
}

void cs_replay_close(cs_replay *r)
{
    if (!r)
        return;
    if (r->seg_open)
        cs_segment_close(&r->seg);
    for (size_t i = 0; i < r->nfiles; i++)
        free(r->files[i]);
    free(r->files);
    for (size_t i = 0; r->filters && i < r->o.nfilters; i++)
        free(r->filters[i]);
    free(r->filters);
    cs_seg_dctx_free(r->dctx);
    cs_buf_free(&r->raw);
    cs_buf_free(&r->out);
    free(r);
}

size_t cs_replay_nfiles(const cs_replay *r)
{
    return r->nfiles;
}

const char *cs_replay_file(const cs_replay *r, size_t i)
{
    return r->files[i];
}

void cs_replay_stats_get(const cs_replay *r, cs_replay_stats *st)
{
    *st = r->st;
}

/* ---- the mark ------------------------------------------------------------------------ */

int cs_replay_mark(const uint8_t *rec, size_t len, cs_buf *out)
{
    const uint8_t *p = rec, *end = rec + len;
    uint64_t seq, olen;
    if (len < 1 || *p++ != CS_EVENT_VERSION || cs_varint_get(&p, end, &seq) || end - p < 8)
        return CS_EPARSE;
    p += 8;
    size_t head = (size_t)(p - rec);
    if (cs_varint_get(&p, end, &olen) || olen > (uint64_t)(end - p) || olen > CS_EVENT_MAX_NAME)
        return CS_EPARSE;
    const uint8_t *origin = p;
    p += olen;
    out->len = 0;
    size_t keep = (size_t)olen;
    bool marked =
        keep >= MARK_LEN && memcmp(origin + keep - MARK_LEN, CS_REPLAY_MARK, MARK_LEN) == 0;
    if (!marked)
        while (keep + MARK_LEN > CS_EVENT_MAX_NAME ||
               (keep < olen && (origin[keep] & 0xc0) == 0x80))
            keep--;
    uint8_t v[10];
    size_t nl = keep + (marked ? 0 : MARK_LEN);
    size_t vl = cs_varint_put(v, nl);
    if (cs_buf_reserve(out, len + MARK_LEN + 10))
        return CS_ENOMEM;
    uint8_t *o = out->data;
    memcpy(o, rec, head);
    o += head;
    memcpy(o, v, vl);
    o += vl;
    memcpy(o, origin, keep);
    o += keep;
    if (!marked) {
        memcpy(o, CS_REPLAY_MARK, MARK_LEN);
        o += MARK_LEN;
    }
    memcpy(o, p, (size_t)(end - p));
    o += end - p;
    out->len = (size_t)(o - out->data);
    return 0;
}

/* ---- reading ---------------------------------------------------------------------------- */

static bool wanted(const cs_replay *r, const char *type, size_t tl)
{
    if (!r->o.nfilters || r->all)
        return true;
    for (size_t i = 0; i < r->o.nfilters; i++)
        if (cs_subject_match(r->o.filters[i], strlen(r->o.filters[i]), type, tl))
            return true;
    return false;
}

/* Opens the next file with a frame left; 0 at the end of the list. */
static int next_file(cs_replay *r)
{
    while (r->fi < r->nfiles) {
        const char *path = r->files[r->fi++];
        char err[512];
        if (cs_segment_open(&r->seg, path, err, sizeof err)) {
            CS_WARN("replay", "%s; skipped", err);
            r->st.damaged++;
            continue;
        }
        r->st.files++;
        if (!r->seg.indexed) {
            CS_WARN("replay", "%s: %s", path, r->seg.why);
            if (r->seg.end_rc == CS_EPARSE)
                r->st.damaged++;
        }
        r->seg_open = true;
        r->frame = 0;
        return 1;
    }
    return 0;
}

/* Decompresses the next frame whose span meets the range; 0 at the end. */
static int next_frame(cs_replay *r)
{
    for (;;) {
        if (!r->seg_open && !next_file(r))
            return 0;
        while (r->frame < r->seg.nframes) {
            size_t i = r->frame++;
            const cs_seg_entry *f = &r->seg.frames[i];
            if (f->tmax < r->o.from_ns || f->tmin > r->o.to_ns) {
                r->st.frames_skipped++;
                continue;
            }
            const char *why;
            if (cs_segment_frame(&r->seg, i, r->dctx, &r->raw, &why)) {
                CS_WARN("replay", "%s: frame at byte %llu: %s; skipped", r->files[r->fi - 1],
                        (unsigned long long)f->offset, why);
                r->st.damaged++;
                continue;
            }
            r->st.frames++;
            r->p = r->raw.data;
            r->end = r->raw.data + r->raw.len;
            return 1;
        }
        cs_segment_close(&r->seg);
        r->seg_open = false;
    }
}

int cs_replay_next(cs_replay *r, const uint8_t **rec, size_t *len, int64_t *time_ns)
{
    for (;;) {
        const uint8_t *item;
        size_t il;
        if (!r->p || cs_seg_item_next(&r->p, r->end, &item, &il) != 1) {
            r->p = NULL;
            if (!next_frame(r))
                return 0;
            continue;
        }
        uint64_t seq;
        const char *type;
        size_t tl;
        if (cs_seg_record_head(item, il, &seq, time_ns, &type, &tl)) {
            r->st.damaged++;
            continue;
        }
        if (*time_ns < r->o.from_ns || *time_ns > r->o.to_ns || !wanted(r, type, tl)) {
            r->st.filtered++;
            continue;
        }
        r->st.events++;
        if (!r->o.mark) {
            *rec = item;
            *len = il;
            return 1;
        }
        if (cs_replay_mark(item, il, &r->out)) {
            r->st.damaged++;
            continue;
        }
        *rec = r->out.data;
        *len = r->out.len;
        return 1;
    }
}
