/* Reading archives back: the records of segment files (bus/archive.h) in
 * order, within a time range and matching subject filters, optionally
 * marked as replayed.
 *
 * The replay mark: a replayed record keeps its seq, time, network, type, key
 * and payload, and its origin gains the suffix CS_REPLAY_MARK
 * ("connector@host-a" becomes "connector@host-a+replay"; an origin that
 * already ends with it is left alone; one that would pass 255 bytes is cut
 * at a character boundary first). Alerts of the monitors carry
 * `replayed: true` when the event they matched was replayed, and the
 * notifier skips those unless `replay.notify` is true (docs/archive.md). */
#ifndef CS_BUS_REPLAY_H
#define CS_BUS_REPLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CS_REPLAY_MARK "+replay"

/* True when an origin carries the replay mark. */
bool cs_origin_replayed(const char *origin);

/* Parses a time for --from/--to and replay.from/to: RFC 3339
 * ("2026-12-02T18:00:00Z", fractions and +hh:mm offsets allowed), a date
 * ("2026-12-02", its midnight UTC), or seconds since the Unix epoch
 * ("1764698400.5"). Returns 0 or CS_EPARSE. */
int cs_replay_parse_time(const char *s, int64_t *ns);

typedef struct cs_replay_opts {
    const char *const *paths; /* segment files, or folders (their .cseg files, by name) */
    size_t npaths;
    int64_t from_ns, to_ns;     /* inclusive; INT64_MIN / INT64_MAX: unbounded */
    const char *const *filters; /* NULL or none: everything */
    size_t nfilters;
    bool mark; /* add the replay mark */
} cs_replay_opts;

typedef struct cs_replay_stats {
    uint64_t files, frames, frames_skipped, events, filtered, damaged;
} cs_replay_stats;

typedef struct cs_replay cs_replay;

/* Lists the files (folders expanded). Strings are copied. err says why on
 * failure (a path that does not exist). */
int cs_replay_open(const cs_replay_opts *o, cs_replay **out, char *err, size_t errlen);
/* The next record: 1 with *rec and *len (borrowed until the next call) and its
 * time, 0 at the end. A damaged segment or frame is logged, counted
 * (stats.damaged) and skipped. */
int cs_replay_next(cs_replay *r, const uint8_t **rec, size_t *len, int64_t *time_ns);
/* The files to read, folders expanded (borrowed from r). */
size_t cs_replay_nfiles(const cs_replay *r);
const char *cs_replay_file(const cs_replay *r, size_t i);
void cs_replay_stats_get(const cs_replay *r, cs_replay_stats *st);
void cs_replay_close(cs_replay *r);

/* Writes rec with the replay mark into out (replacing its contents).
 * CS_EPARSE for a bad record head. */
struct cs_buf;
int cs_replay_mark(const uint8_t *rec, size_t len, struct cs_buf *out);

#endif
