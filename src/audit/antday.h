/* Per-day Antelope accounting for the audit, from the event stream.
 *
 * Under `chainscope run`, the audit subscribes to the follower's events
 * (antelope.block, .slot.missed, .round, .schedule, .fork,
 * .double_production) of its `kind: antelope` networks (matched by network
 * name) and adds them up per UTC day in the audit database, beside the
 * ledger:
 *
 *   ant_day_producer(day, network, producer, produced, missed, rounds,
 *                    rounds_missed, doubles, last_block, last_time)
 *   ant_day_network(day, network, blocks, block_time_sum, block_time_n,
 *                   lib_lag_sum, lib_lag_max, schedule_changes, forks,
 *                   schedule_version)
 *
 * day is the Unix day (seconds / 86400) of the slot time the event is
 * about; times are Unix ms. Counts are kept in memory and written in one
 * transaction per second on a worker thread (uv_queue_work), never on the
 * loop, one write at a time. At most CS_ANTDAY_MAX_ROWS rows wait between two
 * writes; an event past that bound is dropped and counted (logged once per
 * write). A replaced block (`replaces`, after a fork) is not counted again;
 * a block for a slot published as missed (late, at the head) takes the
 * miss back.
 * The daily report (report_antelope.c) reads these tables. */
#ifndef CS_AUDIT_ANTDAY_H
#define CS_AUDIT_ANTDAY_H

#include <stdint.h>
#include <uv.h>

#include "audit/audit.h"
#include "core/bus.h"

#define CS_ANTDAY_MAX_ROWS 4096
#define CS_ANTDAY_FLUSH_MS 1000

typedef struct cs_antday cs_antday;

/* The tables, for whoever opens the database first (idempotent SQL). */
extern const char cs_antday_schema[];

/* Opens db (the audit ledger's file), creates the tables and subscribes to
 * the Antelope events of cfg's antelope networks; cfg is read here and on
 * cs_antday_networks only (its names are copied). With no antelope network
 * *out is NULL and nothing is opened. Caller closes with cs_antday_close. */
int cs_antday_open(uv_loop_t *loop, cs_bus *bus, const cs_audit_config *cfg, const char *db,
                   cs_antday **out);
/* After a reload: the networks to account (names copied). */
int cs_antday_networks(cs_antday *a, const cs_audit_config *cfg);
/* Events dropped at the bound so far. */
uint64_t cs_antday_dropped(const cs_antday *a);
/* Writes what is pending, then closes; done(arg) runs after the last write
 * (a may be NULL: done runs at once). */
void cs_antday_close(cs_antday *a, void (*done)(void *arg), void *arg);

#endif
