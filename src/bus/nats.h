/* The NATS bridge (config `nats:`, docs/nats.md): events matching
 * `nats.publish.subjects` leave the bus for NATS, and events from NATS
 * (`nats.subscribe`) enter it, so a deployment spans machines.
 *
 * Subjects are PREFIX.NETWORK.TYPE (cs_nats_subject); the message is the
 * binary event record (docs/protocol.md) or its JSON rendering, with the
 * headers Chainscope-Origin, Chainscope-Seq, Chainscope-Encoding and
 * Nats-Msg-Id = origin:seq (JetStream drops a second message with the same
 * id within the stream's duplicate window).
 *
 * Threads: libnats blocks, so the bridge runs on a thread of its own. The
 * loop only queues event references for export (a bounded buffer: past
 * `buffer` events or `buffer_bytes` the newest are dropped and counted) and
 * answers the thread through a uv_async: barriers before JetStream acks,
 * and the nats.* events. Imports enter the bus through
 * cs_bus_publish_threadsafe.
 *
 * An event crosses the bridge at most once: an origin this process has
 * seen coming from NATS is never published to NATS, and an origin it has
 * published is never taken from NATS (its own messages coming back). */
#ifndef CS_BUS_NATS_H
#define CS_BUS_NATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/event.h"
#include "core/runtime.h"
#include "core/schema.h"

struct cs_cfg;
struct fy_node;

enum cs_nats_encoding { CS_NATS_BINARY, CS_NATS_JSON };

#define CS_NATS_DEFAULT_PREFIX "chainscope"
#define CS_NATS_DEFAULT_BUFFER 100000
#define CS_NATS_DEFAULT_BUFFER_BYTES (64u << 20)
#define CS_NATS_MAX_SUBJECT 512
#define CS_NATS_DEFAULT_SPOOL_MAX (256ull << 20)

typedef struct cs_nats_conf {
    char **servers; /* nats://host:port, tls://...; default nats://127.0.0.1:4222 */
    size_t nservers;
    char *name; /* connection name; default chainscope@NODE */
    /* credentials: the secrets are the names of environment variables */
    char *user, *password_env, *token_env, *nkey, *nkey_seed_env, *creds;
    bool tls;
    char *tls_ca, *tls_cert, *tls_key;
    char *prefix;
    uint64_t connect_timeout_ms, reconnect_wait_ms, max_reconnect_wait_ms;
    /* publish */
    char **pub;
    size_t npub;
    int encoding; /* enum cs_nats_encoding */
    uint64_t buffer, buffer_bytes;
    /* the disk spool past the memory buffer (nats.spool) */
    char *spool_dir;
    uint64_t spool_max;
    /* subscribe: bus filters, mapped to PREFIX.*.FILTER */
    char **sub;
    size_t nsub;
    /* jetstream */
    bool js;
    char *stream;
    char **js_subjects; /* default PREFIX.> */
    size_t njs_subjects;
    bool js_create;
    uint64_t max_age_ms, max_bytes, replicas, duplicates_ms;
    int storage; /* 0 file, 1 memory */
    char *durable;
    uint64_t ack_wait_ms, batch;
} cs_nats_conf;

int cs_nats_conf_parse(struct cs_cfg *c, struct fy_node *n, void **out);
/* A conf with every default (as an empty `nats:` would give), for commands
 * configured by flags. NULL when out of memory; free with cs_nats_conf_free. */
cs_nats_conf *cs_nats_conf_new(void);
void cs_nats_conf_free(void *conf);

/* The component: `chainscope run` starts it when `nats:` is present. */
int cs_nats_start(cs_runtime *rt, void *conf, void **state);
void cs_nats_stop(void *state, void (*done)(void *arg), void *arg);

/* Writes PREFIX.NETWORK.TYPE into out (NUL-terminated). The network is one
 * token: bytes other than A-Z a-z 0-9 - _ are written %XX (upper-case hex),
 * an empty network is %00. Each token of the type is escaped the same way.
 * Returns the length, or CS_ELIMIT when it does not fit in cap. */
int cs_nats_subject(char *out, size_t cap, const char *prefix, const char *network,
                    const char *type);
/* The NATS subject for a bus filter (`p2p.msg.*`, `evm.>`): PREFIX.*.FILTER,
 * the filter's literal tokens escaped as above. Returns the length or
 * CS_ELIMIT / CS_EINVAL (not a valid filter). */
int cs_nats_filter_subject(char *out, size_t cap, const char *prefix, const char *filter);
/* Decodes a message body into an event: a binary record, or, when encoding
 * is "json" (the Chainscope-Encoding header), the JSON rendering. The
 * record is validated in full. Caller owns *out. */
int cs_nats_decode(const void *data, size_t len, const char *encoding, cs_event **out);

/* A blocking NATS connection for the commands that run without a loop
 * (`replay --into nats`, `archive record --nats`): the same subjects,
 * headers, credentials and stream as the bridge. One thread at a time. */
typedef struct cs_nats_link cs_nats_link;

/* Connects with the settings of c (borrowed: it must outlive the link);
 * with c->js, also creates or binds the stream. err says why on failure. */
int cs_nats_link_open(const cs_nats_conf *c, const char *name, cs_nats_link **out, char *err,
                      size_t errlen);
/* Publishes ev as the bridge does. With JetStream the publish is
 * asynchronous and cs_nats_link_flush waits for its ack. CS_ELIMIT: ev can
 * never be sent (too big for the server, subject too long); CS_EIO: the
 * connection failed. */
int cs_nats_link_publish(cs_nats_link *l, const cs_event *ev);
/* Waits until the server has everything published (JetStream: stored and
 * acknowledged). CS_ETIMEDOUT or CS_EIO otherwise. */
int cs_nats_link_flush(cs_nats_link *l, int64_t timeout_ms);
/* Subscribes to a NATS subject (wildcards allowed). With c->js and
 * c->durable: through that durable pull consumer of c->stream, so that a
 * restart resumes after the last acknowledged message; a consumer left with
 * unacknowledged messages is made again from its ack floor, so that they
 * come again first, in order. */
int cs_nats_link_subscribe(cs_nats_link *l, const char *subject);
/* The next event (caller owns it: cs_event_unref), CS_ETIMEDOUT when none
 * came within timeout_ms, CS_EIO when the connection is closed; through a
 * durable consumer, CS_ELIMIT when the batch handed out must be
 * acknowledged (cs_nats_link_ack) before more is fetched. Messages that are
 * not valid events are skipped and counted (bad). */
int cs_nats_link_next(cs_nats_link *l, cs_event **out, int timeout_ms);
/* JetStream: messages handed out by next and not yet acknowledged. */
size_t cs_nats_link_unacked(const cs_nats_link *l);
/* Acknowledges every message handed out so far (JetStream; nothing to do
 * on core NATS). Returns how many acks failed. */
size_t cs_nats_link_ack(cs_nats_link *l);
/* Messages that were not valid events. */
uint64_t cs_nats_link_bad(const cs_nats_link *l);
/* Durable consumer: next never hands out an event (origin:seq) it handed
 * out lately (the last 4 x batch at least), nor one remembered here (what
 * the previous run wrote: an ack cut by a crash makes JetStream deliver it
 * again). Such redeliveries are skipped, acked with the batch and counted. */
void cs_nats_link_remember(cs_nats_link *l, const char *origin, uint64_t seq);
uint64_t cs_nats_link_dups(const cs_nats_link *l);
/* Remembers (as above) the events of the newest frames of the archive
 * segments DIR/PREFIX-*.cseg, at least want of them when there are: what a
 * recorder wrote before it was stopped, perhaps before its ack went out.
 * Returns how many. */
size_t cs_nats_link_remember_archive(cs_nats_link *l, const char *dir, const char *prefix,
                                     size_t want);
/* Closes, after a flush of up to 2 s. Unacknowledged messages are
 * redelivered by JetStream after ack_wait. */
void cs_nats_link_close(cs_nats_link *l);

/* Event types published by the bridge (docs/events.md). */
extern const cs_event_def cs_schema_nats[];

#endif
