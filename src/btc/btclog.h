/* The inside view of a Bitcoin Core node: its debug.log turned into events
 * (bitcoind.log.<kind>) and its own P2P connection to us (-addnode to a
 * listener of ours, pinged at a fixed interval: p2p.ping.rtt with field
 * node). docs/btc.md "Inside the node: debug.log and the node's own P2P
 * connection".
 *
 * The config keys live in the node entries of the `bitcoind:` section
 * (`log`, `log_from`, `p2p_listen`, `p2p_ping_interval`,
 * `p2p_rates_interval`);
 * cs_btclog_node_parse reads them from one entry, so that the section's
 * parser calls it once per node. Loop thread only. */
#ifndef CS_BTC_BTCLOG_H
#define CS_BTC_BTCLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "core/runtime.h"

/* What this component needs of one node entry. Strings are owned
 * (cs_btclog_node_free). */
typedef struct cs_btclog_node {
    char *name;                     /* the entry's name: the events' key and field node */
    char *network;                  /* event network; NULL: "btc-main" */
    char *log;                      /* debug.log path or FIFO; NULL: no log extractor */
    bool log_from_start;            /* log_from: start (default end: only what follows) */
    char *p2p_listen;               /* "host:port" the node's -addnode reaches; NULL: none */
    uint64_t p2p_ping_interval_ms;  /* default 10 s */
    uint64_t p2p_rates_interval_ms; /* bitcoind.p2p.rates every; default 60 s */
} cs_btclog_node;

/* The node-entry keys read here, NULL-terminated: the section's parser adds
 * them to the keys it allows. */
extern const char *const cs_btclog_node_keys[];

/* Reads this component's keys from node entry `map` (at `path`, such as
 * "bitcoind.nodes[0]") into *out (zeroed by the caller): name (required)
 * and network too, as copies of its own. Unknown keys are left to the
 * caller's cs_cfg_expect_map (with cs_btclog_node_keys among the allowed). */
int cs_btclog_node_parse(cs_cfg *c, struct fy_node *map, const char *path, cs_btclog_node *out);
/* Frees the strings of *n (not n itself), name and network included. */
void cs_btclog_node_free(cs_btclog_node *n);

typedef struct cs_btclog cs_btclog;

/* Starts a log follower for each node with `log` and a P2P listener for each
 * with `p2p_listen`. nodes is borrowed until cs_btclog_stop's done runs.
 * Returns 0 (with *out; nothing to do still gives an object) or an error
 * with nothing left open (a listener that cannot bind is an error; a log
 * file that does not exist yet is waited for). */
int cs_btclog_start(cs_runtime *rt, const cs_btclog_node *nodes, size_t nnodes, cs_btclog **out);
/* Closes everything; done(arg) runs once all memory is freed. */
void cs_btclog_stop(cs_btclog *b, void (*done)(void *arg), void *arg);
/* The port the listener of nodes[i] is bound to (0: none); for tests. */
uint16_t cs_btclog_p2p_port(const cs_btclog *b, size_t i);

/* ---- the line parser (btclog_parse.c) ---------------------------------- */

/* One debug.log entry split into Core's prefixes (logging.cpp
 * FormatLogStrInPlace: time, [thread], [file:line] [function], [category]
 * or [category:level] or [level]) and its message. Pointers borrow the
 * parsed text; lengths 0 where a prefix is absent. */
typedef struct cs_btclog_line {
    const char *time;
    size_t time_len;
    int64_t time_us; /* microseconds since 1970; valid when time_len */
    const char *thread;
    size_t thread_len;
    const char *source; /* "file.cpp:123" */
    size_t source_len;
    const char *function;
    size_t function_len;
    const char *category; /* "net"; a bare level ("warning") leaves it empty */
    size_t category_len;
    const char *level; /* "debug", "trace", "info", "warning", "error" */
    size_t level_len;
    const char *msg;
    size_t msg_len;
    bool utf8; /* the whole entry is UTF-8 */
} cs_btclog_line;

/* Whether text starts with Core's timestamp ("2024-05-01T12:00:00Z" or with
 * .ffffff micros): the start of an entry once timestamps are on. */
bool cs_btclog_starts_entry(const char *s, size_t n);
/* Splits one entry (without its final newline; may hold more lines). */
void cs_btclog_split(const char *s, size_t n, cs_btclog_line *out);

/* The kinds of the table (btclog_kinds.c): how many, and the name of one
 * (its event is bitcoind.log.<name>; cs_schema_btclog[kind] describes it). */
size_t cs_btclog_kinds(void);
const char *cs_btclog_kind_name(size_t kind);

struct cs_vw;
/* Matches a message against the table. On a match returns the kind's index
 * and writes the captured fields (as the schema types them) into w, which
 * must have an object open; returns -1 (w untouched) when no row matches. */
int cs_btclog_match(const char *msg, size_t n, struct cs_vw *w);

/* An entry's event payload: node, the prefixes present (log_time, thread,
 * source, function, category) and the matched kind's fields, into w (an
 * object open). Returns the kind, or -1 when none matches (then w holds
 * only the common fields: discard it). */
int cs_btclog_payload(const cs_btclog_line *l, const char *node, struct cs_vw *w);

#endif
