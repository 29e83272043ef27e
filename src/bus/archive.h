/* Archive segments: event records in zstd-compressed frames, with an index
 * (docs/protocol.md, "Archive segments", specifies the bytes).
 *
 *   segment header   16 bytes: "CSARCHV1", u32 LE version 1, u32 LE flags 0
 *   block*           40-byte header + body: FRAM (events) ... INDX (index)
 *   footer           16 bytes: u64 LE offset of the INDX block, "CSARCEND"
 *
 * A block header holds its kind, body length, raw length, count, the time
 * span of its events and a CRC-32C of its body and of itself, so a reader
 * skips frames by time without decompressing them, and a segment cut by a
 * crash reads up to its last complete frame (the index and footer are only
 * written by a clean close).
 *
 * The writer is used by one thread at a time; the reader works on bytes in
 * memory (a mapped file, or a fuzzer's input). */
#ifndef CS_BUS_ARCHIVE_H
#define CS_BUS_ARCHIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

#define CS_SEG_MAGIC "CSARCHV1"
#define CS_SEG_END_MAGIC "CSARCEND"
#define CS_SEG_VERSION 1
#define CS_SEG_HEADER 16
#define CS_SEG_BLOCK_HEADER 40
#define CS_SEG_FOOTER 16
#define CS_SEG_KIND_FRAME 0x4d415246u /* "FRAM" read as u32 LE */
#define CS_SEG_KIND_INDEX 0x58444e49u /* "INDX" */
#define CS_SEG_MAX_RAW (64u << 20)    /* bytes of a frame's content, decompressed */
#define CS_SEG_MAX_BODY (72u << 20)   /* bytes of a block's body on disk */
#define CS_SEG_MAX_TYPES 4096         /* distinct types counted per segment */
#define CS_SEG_EXT ".cseg"

/* CRC-32C (Castagnoli, reflected, as in iSCSI): start with crc 0. */
uint32_t cs_crc32c(uint32_t crc, const void *p, size_t n);

/* Reads the time and type of a record without validating the rest. Returns 0
 * or CS_EPARSE. *type points into rec. */
int cs_seg_record_head(const uint8_t *rec, size_t len, uint64_t *seq, int64_t *time_ns,
                       const char **type, size_t *type_len);

/* ---- writer ---------------------------------------------------------------- */

typedef struct cs_seg_entry {
    uint64_t offset; /* of the frame's block header */
    uint32_t count, body_len;
    int64_t tmin, tmax;
} cs_seg_entry;

typedef struct cs_seg_type {
    char *name;
    uint64_t count;
} cs_seg_type;

typedef struct cs_seg_writer {
    int fd;
    int level;    /* zstd level */
    uint64_t off; /* bytes written so far */
    cs_buf raw;   /* the open frame's content */
    uint32_t n;   /* events in the open frame */
    int64_t tmin, tmax;
    cs_buf z;          /* compressed frame */
    void *cctx;        /* ZSTD_CCtx */
    cs_seg_entry *idx; /* one per written frame */
    size_t nidx, capidx;
    cs_seg_type *types; /* open addressing, captypes slots */
    size_t ntypes, captypes;
    uint64_t other;     /* events past CS_SEG_MAX_TYPES distinct types */
    uint64_t events;    /* written into frames, this segment */
    uint64_t rec_bytes; /* sum of their record sizes */
    int64_t seg_tmin, seg_tmax;
} cs_seg_writer;

/* Creates path (it must not exist; mode 0640) and writes the header. level
 * is the zstd level (1..19). On error nothing is left open (the file may
 * exist if the header could not be written). */
int cs_seg_writer_open(cs_seg_writer *w, const char *path, int level);
/* Adds a record to the open frame (flushing first when the frame's content
 * would pass CS_SEG_MAX_RAW). CS_EPARSE for a record whose head is bad. */
int cs_seg_writer_add(cs_seg_writer *w, const uint8_t *rec, size_t len);
/* Compresses the open frame and writes it as one block (nothing when it is
 * empty). CS_EIO on a write error (the segment should then be abandoned). */
int cs_seg_writer_flush(cs_seg_writer *w);
/* Flushes, writes the index and footer, closes the file and frees w.
 * Returns the first error; w is freed whatever happens. */
int cs_seg_writer_close(cs_seg_writer *w);
/* Closes the file as it is (no flush, no index: what a crash leaves) and
 * frees w. */
void cs_seg_writer_abandon(cs_seg_writer *w);

/* ---- reader ---------------------------------------------------------------- */

typedef struct cs_seg_block {
    uint32_t kind;
    uint64_t offset; /* of the header */
    uint32_t body_len, raw_len, count;
    int64_t tmin, tmax;
    const uint8_t *body;
} cs_seg_block;

/* The block at off in p[0..n). Returns 0; CS_ETRUNC when the bytes end
 * inside it; CS_EPARSE for a bad kind, length or CRC (why says which). */
int cs_seg_block_at(const uint8_t *p, size_t n, size_t off, cs_seg_block *b, const char **why);

/* A segment opened for reading: its frames, from the index when the segment
 * was closed cleanly, else from a scan of the block headers. */
typedef struct cs_segment {
    const uint8_t *p;
    size_t size;
    void *map; /* when opened from a file */
    cs_seg_entry *frames;
    size_t nframes;
    cs_seg_type *types; /* from the index; NULL without one */
    size_t ntypes;
    bool indexed;    /* closed cleanly: index and footer are there and agree */
    size_t end;      /* readable blocks end here */
    int end_rc;      /* 0: clean end; CS_ETRUNC: cut; CS_EPARSE: corrupt */
    char why[160];   /* how the segment ends, for people */
    uint64_t events; /* sum of the frames' counts */
} cs_segment;

/* Reads a segment from memory (borrowed: must outlive s). CS_EPARSE when
 * not even the segment header is right; a cut or damaged tail is not an
 * error (see end_rc). Free with cs_segment_close. */
int cs_segment_load(cs_segment *s, const uint8_t *p, size_t n);
/* The same from a file (mapped read-only). err says why on failure. */
int cs_segment_open(cs_segment *s, const char *path, char *err, size_t errlen);
void cs_segment_close(cs_segment *s);

/* Decompresses frame i into out (replacing its contents) and checks that it
 * holds exactly count length-prefixed items. dctx is a ZSTD_DCtx (reused by
 * callers that read many frames). */
int cs_segment_frame(const cs_segment *s, size_t i, void *dctx, cs_buf *out, const char **why);
/* Next item of decompressed frame content: 1 with rec/len, 0 at the end,
 * CS_EPARSE on a bad length. */
int cs_seg_item_next(const uint8_t **p, const uint8_t *end, const uint8_t **rec, size_t *len);

void *cs_seg_dctx_new(void);
void cs_seg_dctx_free(void *dctx);

#endif
