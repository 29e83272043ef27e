/* Fuzzes the archive segment reader (bus/archive.h): the block scan, the
 * index, frame decompression and the records inside, and the replay mark
 * on every record found. Invariants: frames lie inside the bytes, in order,
 * and a frame that decodes holds exactly its count of records. */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "bus/archive.h"
#include "bus/replay.h"
#include "core/event.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cs_segment s;
    if (cs_segment_load(&s, data, size) != 0)
        return 0;
    assert(s.end <= size);
    void *d = cs_seg_dctx_new();
    cs_buf raw, marked;
    cs_buf_init(&raw, 0);
    cs_buf_init(&marked, 0);
    uint64_t prev_end = CS_SEG_HEADER;
    for (size_t i = 0; i < s.nframes; i++) {
        const cs_seg_entry *f = &s.frames[i];
        assert(f->offset == prev_end);
        prev_end = f->offset + CS_SEG_BLOCK_HEADER + f->body_len;
        assert(prev_end <= s.end);
        const char *why;
        if (cs_segment_frame(&s, i, d, &raw, &why) != 0)
            continue;
        const uint8_t *p = raw.data, *end = p + raw.len, *rec;
        size_t len, n = 0;
        while (cs_seg_item_next(&p, end, &rec, &len) == 1) {
            n++;
            cs_event *ev;
            if (cs_event_decode(rec, len, &ev) == 0) {
                if (cs_replay_mark(rec, len, &marked) == 0) {
                    cs_event *m;
                    assert(cs_event_decode(marked.data, marked.len, &m) == 0);
                    assert(m->seq == ev->seq && m->time_ns == ev->time_ns);
                    assert(cs_origin_replayed(m->origin));
                    cs_event_unref(m);
                }
                cs_event_unref(ev);
            }
        }
        assert(n == f->count);
    }
    cs_buf_free(&raw);
    cs_buf_free(&marked);
    cs_seg_dctx_free(d);
    cs_segment_close(&s);
    return 0;
}
