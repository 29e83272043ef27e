/* The live feed: every event the dashboard's subscription receives, in the
 * one JSON rendering (core/json.h), to browsers over Server-Sent Events
 * (GET /api/events) and WebSocket (GET /api/ws), each client with its own
 * subject filters.
 *
 * Bounds: each client has `client_buffer` bytes of output (what the kernel
 * has not taken plus what waits for this loop turn); an event that would go
 * past it cuts the client off (chainscope_web_clients_cut_total), so a slow
 * browser never holds the loop or the bus. At most max_clients clients (503
 * beyond). A ring of the last `ring` events (and at most ring_bytes bytes)
 * lets an SSE client resume with Last-Event-ID. */
#ifndef CS_WEB_FEED_H
#define CS_WEB_FEED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "core/event.h"
#include "core/metrics.h"
#include "net/http_server.h"

#define CS_WEB_MAX_FILTERS 16

typedef struct cs_web_feed cs_web_feed;

typedef struct cs_web_feed_opts {
    size_t ring;          /* events kept for resume; 0: 1024 */
    size_t ring_bytes;    /* 0: 8 MiB */
    size_t client_buffer; /* bytes per client; 0: 1 MiB */
    size_t max_clients;   /* 0: 200 */
    bool mask_ips;
    uint64_t mask_key;
    cs_metrics *metrics; /* may be NULL */
} cs_web_feed_opts;

int cs_web_feed_new(uv_loop_t *loop, const cs_web_feed_opts *o, cs_web_feed **out);
/* Closes every client; frees in close callbacks (the loop must run), then
 * calls done(arg) (may be NULL). */
void cs_web_feed_close(cs_web_feed *f, void (*done)(void *arg), void *arg);
/* Hands ev (borrowed) to the ring and to every client whose filters match. */
void cs_web_feed_event(cs_web_feed *f, const cs_event *ev);
/* The HTTP handlers of GET /api/events and GET /api/ws; arg is the feed. */
void cs_web_feed_sse(const cs_http_req *req, void *arg);
void cs_web_feed_ws(const cs_http_req *req, void *arg);
size_t cs_web_feed_clients(const cs_web_feed *f);
uint64_t cs_web_feed_cut(const cs_web_feed *f);

/* Decodes the filter=S parameters of a query into out (strdup'ed, free
 * each); returns how many, or CS_EINVAL for a bad filter, CS_ELIMIT past
 * max. */
int cs_web_query_filters(const char *query, char **out, size_t max);

/* URL-decodes s[0..n) ('+' a space, %XX a byte) into a new string the
 * caller frees; NULL on a bad escape or no memory. */
char *cs_web_url_decode(const char *s, size_t n);

#endif
