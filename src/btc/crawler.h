/* The crawler: maps the reachable network from seed nodes.
 *
 * It connects to each known node (at most `concurrency` at once), performs
 * the handshake, records the node's version fields and ping RTT, asks for
 * addresses (getaddr) and queues every new IPv4/IPv6 address it hears of.
 * Tor, I2P and CJDNS addresses are recorded but not contacted. DNS seeds
 * and host names are resolved with uv_getaddrinfo (never blocking the
 * loop). A single timer sweeps in-flight nodes for the getaddr deadline.
 * Loop thread only. */
#ifndef CS_BTC_CRAWLER_H
#define CS_BTC_CRAWLER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "btc/connector.h"

typedef struct cs_crawler cs_crawler;

typedef struct cs_crawl_opts {
    const cs_wire_net *net;   /* NULL: main */
    size_t concurrency;       /* connections at once: default 32 */
    uint64_t timeout_ms;      /* connect and handshake, each: default 10 s */
    uint64_t getaddr_wait_ms; /* how long to wait for addresses: default 10 s */
    size_t max_nodes;         /* nodes remembered: default 100000 */
    bool allow_private;       /* contact private/loopback addresses learned from peers
                                 (on by itself when a seed is one) */
    const char *user_agent;   /* borrowed */
    bool progress;            /* a progress line on stderr every second */
    cs_bus *bus;              /* NULL: no events; else crawl.node per node, crawl.done */
} cs_crawl_opts;

/* What the crawl learned about one node. */
typedef struct cs_crawl_node {
    char addr[64]; /* IP text, or .onion / .b32.i2p name */
    uint16_t port;
    const char *network; /* "ipv4", "ipv6", "torv3", "i2p", "cjdns", ... */
    bool tried, reachable;
    char failure[64]; /* why not reachable ("refused", "timeout", ...) */
    int32_t version;
    uint64_t services;
    char user_agent[CS_WIRE_MAX_USER_AGENT + 1];
    int32_t start_height;
    double rtt_ms;                 /* < 0: not measured */
    uint64_t addresses;            /* addresses it returned */
    int64_t first_seen, last_seen; /* Unix seconds: first heard of, last contact */
} cs_crawl_node;

typedef struct cs_crawl_summary {
    size_t known, tried, reachable, failed, not_contacted;
    double seconds;
} cs_crawl_summary;

/* Creates a crawler; add seeds, then start. done(arg) runs on the loop when
 * the crawl has finished (every queue empty). */
int cs_crawler_new(uv_loop_t *loop, const cs_crawl_opts *opts, cs_crawler **out);
/* A seed "host:port" (numeric or a name to resolve) or a DNS seed name
 * (port: the network's). Before cs_crawler_start. */
int cs_crawler_add_seed(cs_crawler *cr, const char *hostport);
int cs_crawler_add_dns_seed(cs_crawler *cr, const char *name);
int cs_crawler_start(cs_crawler *cr, void (*done)(void *arg), void *arg);
/* Stops early (in-flight connections are closed); done still runs. */
void cs_crawler_stop(cs_crawler *cr);
/* Results: valid until cs_crawler_free. */
size_t cs_crawler_nodes(const cs_crawler *cr, const cs_crawl_node **out);
void cs_crawler_summary(const cs_crawler *cr, cs_crawl_summary *out);
/* Frees the crawler after its loop work has ended (after done ran). The
 * connector's handles close asynchronously: run the loop once more. */
void cs_crawler_free(cs_crawler *cr);

/* Writes the results: format by extension, .csv, .json or .db (SQLite). */
int cs_crawler_write(const cs_crawler *cr, const char *path, char *err, size_t errlen);

#endif
