/* A horde's shards over NATS request/reply (docs/btc.md, "A horde over
 * NATS"): connectors on other hosts behind one control endpoint.
 *
 * Each member is one connector (`chainscope connector --shard I/N`) and a
 * relay beside it (`chainscope horde member`): the relay answers NATS
 * requests on PREFIX.horde.NAME.I by passing each request frame, as it
 * is, to the connector's control socket and replying with its RESULT
 * frame. The front end (`chainscope horde --nats`) runs one proxy per
 * member: a local control socket whose frames go out as those requests,
 * so the horde itself (horde.h) drives its members exactly as it drives
 * local shards.
 *
 * Restarts: the relay counts its connections to the connector (its epoch)
 * and, each time it connects again (the connector was restarted),
 * publishes the new epoch on PREFIX.horde.NAME.I.up and puts it in every
 * reply's Chainscope-Epoch header; the proxy calls `restarted` when the
 * epoch changes, so the horde registers its messages again.
 *
 * A member that does not answer (no relay subscribed, NATS down, the
 * timeout passed) gets a RESULT with status CS_ECLOSED (-10012, as a horde says of a shard not
 * connected) and the reason, never a hang. Each relay and proxy has its own thread and its own NATS
 * connection; they never touch the loop. */
#ifndef CS_BTC_HORDE_NATS_H
#define CS_BTC_HORDE_NATS_H

#include <stddef.h>
#include <stdint.h>

#include "bus/nats.h"

#define CS_HORDE_SUBJECT_MAX 256

/* PREFIX.horde.NAME.INDEX into out; -1 when it does not fit or NAME is
 * not a NATS token (letters, digits, '-', '_'). */
int cs_horde_nats_subject(char *out, size_t cap, const char *prefix, const char *name,
                          size_t index);

typedef struct cs_horde_relay cs_horde_relay;

/* Called from the proxy's thread when the member's epoch changed. */
typedef void (*cs_horde_restarted_fn)(void *arg, size_t index);

typedef struct cs_horde_proxy_opts {
    const cs_nats_conf *nats; /* borrowed until cs_horde_relay_stop */
    const char *subject;      /* the member's request subject; copied */
    const char *path;         /* the local control socket (mode 0600); copied */
    size_t index;
    uint32_t timeout_ms; /* a member's answer; 0: 10 s */
    cs_horde_restarted_fn restarted;
    void *arg;
} cs_horde_proxy_opts;

/* Front end: listens on opts->path (one client at a time: the horde) and
 * starts the proxy's thread. why says what failed. */
int cs_horde_proxy_start(const cs_horde_proxy_opts *opts, cs_horde_relay **out, char *why,
                         size_t whylen);

typedef struct cs_horde_member_opts {
    const cs_nats_conf *nats;
    const char *subject;   /* copied */
    const char *connector; /* the connector's control socket; copied */
    uint32_t timeout_ms;   /* the connector's answer; 0: 10 s */
} cs_horde_member_opts;

/* Member: subscribes to opts->subject and starts the relay's thread. */
int cs_horde_member_start(const cs_horde_member_opts *opts, cs_horde_relay **out, char *why,
                          size_t whylen);

/* Requests relayed so far, and those answered with an error by the relay
 * itself (member or connector unreachable). */
uint64_t cs_horde_relay_count(const cs_horde_relay *r, uint64_t *failed);

/* Stops the thread, closes the socket and the NATS connection, frees. */
void cs_horde_relay_stop(cs_horde_relay *r);

#endif
