/* What `archive record` from a durable consumer wrote before it stopped
 * (bus/nats.h: cs_nats_link_remember_archive). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus/archive.h"
#include "bus/nats.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/log.h"

#define TAIL_FILES 3 /* segments read back at most */

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The newest (by name: time order) PREFIX-*.cseg of dir, up to max; the
 * caller frees each and the array. Returns how many. */
static size_t newest_segments(const char *dir, const char *prefix, char **out, size_t max)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    char **all = NULL;
    size_t n = 0, cap = 0, plen = strlen(prefix);
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < plen + 6 || strncmp(e->d_name, prefix, plen) || e->d_name[plen] != '-' ||
            strcmp(e->d_name + len - 5, ".cseg"))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **na = realloc(all, cap * sizeof *na);
            if (!na)
                break;
            all = na;
        }
        if (!(all[n] = malloc(strlen(dir) + len + 2)))
            break;
        sprintf(all[n++], "%s/%s", dir, e->d_name);
    }
    closedir(d);
    if (n)
        qsort(all, n, sizeof *all, by_name);
    size_t k = n < max ? n : max;
    for (size_t i = 0; i < k; i++)
        out[i] = all[n - 1 - i]; /* newest first */
    for (size_t i = 0; i + k < n; i++)
        free(all[i]);
    free(all);
    return k;
}

/* Remembers the events of frame i of s; returns how many. */
static size_t remember_frame(cs_nats_link *l, const cs_segment *s, size_t i, void *dctx,
                             cs_buf *raw)
{
    const char *why;
    if (cs_segment_frame(s, i, dctx, raw, &why))
        return 0;
    const uint8_t *p = raw->data, *end = p + raw->len, *rec;
    size_t len, n = 0;
    while (cs_seg_item_next(&p, end, &rec, &len) == 1) {
        cs_event *ev;
        if (cs_event_decode(rec, len, &ev))
            continue;
        cs_nats_link_remember(l, ev->origin, ev->seq);
        cs_event_unref(ev);
        n++;
    }
    return n;
}

size_t cs_nats_link_remember_archive(cs_nats_link *l, const char *dir, const char *prefix,
                                     size_t want)
{
    char *files[TAIL_FILES];
    size_t nf = newest_segments(dir, prefix, files, TAIL_FILES), got = 0;
    void *dctx = cs_seg_dctx_new();
    cs_buf raw;
    cs_buf_init(&raw, 0);
    for (size_t f = 0; f < nf; f++) {
        cs_segment s;
        char err[256];
        if (got < want && dctx && cs_segment_open(&s, files[f], err, sizeof err) == 0) {
            for (size_t i = s.nframes; i > 0 && got < want; i--)
                got += remember_frame(l, &s, i - 1, dctx, &raw);
            cs_segment_close(&s);
        }
        free(files[f]);
    }
    cs_buf_free(&raw);
    cs_seg_dctx_free(dctx);
    return got;
}
