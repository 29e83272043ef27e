/* What the dashboard's pages show, built from the events its subscription
 * receives (components meet only on the stream): the process and its event
 * rates, connector peers, crawl results, EVM follower heads per network,
 * alerts, audit results. Each view renders as the JSON of one API
 * (docs/dashboard.md). Every view is bounded (CS_WEB_MAX_*): past a bound
 * new keys are not added and the view says it is truncated. */
#ifndef CS_WEB_STATE_H
#define CS_WEB_STATE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/event.h"

#define CS_WEB_MAX_PEERS 20000
#define CS_WEB_MAX_CRAWL 50000
#define CS_WEB_MAX_KEYS 1024    /* types, commands, monitors, networks, audit nodes */
#define CS_WEB_RATE_SECONDS 300 /* events per second kept for the overview */
#define CS_WEB_RTT_SAMPLES 600
#define CS_WEB_ALERTS 200

typedef struct cs_web_state cs_web_state;

/* sla: the availability target in percent the audit page draws. */
int cs_web_state_new(double sla, cs_web_state **out);
void cs_web_state_free(cs_web_state *s);
/* Takes what the views need from ev (borrowed). now_ns: the wall clock. */
void cs_web_state_event(cs_web_state *s, const cs_event *ev, int64_t now_ns);

/* Calls fn for every audited node: whether its last sweep passed, its
 * availability this month in percent, and the sweeps counted. */
void cs_web_state_each_node(cs_web_state *s,
                            void (*fn)(const char *node, bool up, double availability,
                                       uint64_t sweeps, void *arg),
                            void *arg);

/* Each appends its view's JSON object to out. */
int cs_web_state_overview(cs_web_state *s, cs_buf *out, int64_t now_ns);
int cs_web_state_peers(cs_web_state *s, cs_buf *out);
int cs_web_state_crawl(cs_web_state *s, cs_buf *out);
int cs_web_state_evm(cs_web_state *s, cs_buf *out, int64_t now_ns);
int cs_web_state_alerts(cs_web_state *s, cs_buf *out);
int cs_web_state_audit(cs_web_state *s, cs_buf *out);

#endif
