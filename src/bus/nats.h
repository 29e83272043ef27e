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

/* Event types published by the bridge (docs/events.md). */
extern const cs_event_def cs_schema_nats[];

#endif
