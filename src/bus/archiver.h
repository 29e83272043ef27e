/* The archiver: event records into segment files (bus/archive.h) in one
 * folder, on a thread of its own, so that compression and disk writes never
 * stall the loop that hands it records.
 *
 * Records go through a queue bounded in bytes (`queue_bytes`): a record
 * that does not fit is dropped, counted (stats.dropped) and logged (at most
 * once per 10 s, with the count so far). The thread packs records into a
 * frame and writes it when it holds `frame_events` events or when its first
 * event is `frame_ms` old, whichever comes first. A segment is closed (index
 * and footer written) and a new one opened when it passes `segment_bytes`,
 * when it is `segment_ms` old and holds events, on cs_archiver_rotate
 * (SIGHUP) and at stop. After each close, and every 10 s, retention deletes
 * the oldest closed segments of the folder (its own prefix only) while they
 * are older than `retain_ms` or the folder's segments pass `retain_bytes`.
 *
 * File names: DIR/PREFIX-YYYYMMDDTHHMMSS.mmmZ-NNNNNN.cseg (UTC opening time,
 * then a counter), so that names sort in time order. */
#ifndef CS_BUS_ARCHIVER_H
#define CS_BUS_ARCHIVER_H

#include <stddef.h>
#include <stdint.h>

typedef struct cs_archiver cs_archiver;

typedef struct cs_archiver_opts {
    const char *dir;        /* created (0750) when missing */
    const char *prefix;     /* NULL: "events" */
    uint32_t frame_events;  /* 0: 8192 */
    uint64_t frame_ms;      /* 0: 1000 */
    uint64_t segment_bytes; /* 0: 256 MiB */
    uint64_t segment_ms;    /* 0: 1 h */
    uint64_t retain_ms;     /* 0: keep for ever */
    uint64_t retain_bytes;  /* 0: no bound */
    uint64_t queue_bytes;   /* 0: 64 MiB */
    int level;              /* zstd level; 0: 3 */
} cs_archiver_opts;

typedef struct cs_archiver_stats {
    uint64_t events;    /* written into frames */
    uint64_t rec_bytes; /* their records' bytes */
    uint64_t bytes;     /* written to disk */
    uint64_t frames, segments;
    uint64_t dropped;                /* at the queue bound, or lost with a failed write */
    uint64_t errors;                 /* failed opens and writes */
    uint64_t deleted, deleted_bytes; /* by retention */
    uint64_t queued_bytes;           /* waiting for the thread now */
} cs_archiver_stats;

/* Creates the folder, opens the first segment and starts the thread.
 * Strings are copied. On error nothing is left running and err says why. */
int cs_archiver_start(const cs_archiver_opts *o, cs_archiver **out, char *err, size_t errlen);
/* Any thread; never blocks on disk. Copies rec. CS_ELIMIT when the queue is
 * full (the record is dropped and counted). */
int cs_archiver_push(cs_archiver *a, const uint8_t *rec, size_t len);
/* Asks the thread to close the segment and open a new one. */
void cs_archiver_rotate(cs_archiver *a);
/* Asks the thread to write the open frame now (tests, and flush points). */
void cs_archiver_sync(cs_archiver *a);
void cs_archiver_stats_get(cs_archiver *a, cs_archiver_stats *st);
/* Writes what is queued, closes the segment cleanly, joins the thread and
 * frees a. st (may be NULL) gets the final figures. */
void cs_archiver_stop(cs_archiver *a, cs_archiver_stats *st);

#endif
