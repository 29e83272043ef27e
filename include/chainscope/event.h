/* chainscope events: decoding the records a log server delivers
 * (cs_client_next in chainscope/client.h) and reading their fields.
 *
 * An event is immutable and reference counted. Its binary record (`wire`) is
 * what travels between processes and into archives, byte for byte; the
 * envelope fields point into a copy of it and are NUL-terminated; the payload
 * is an object read with chainscope/value.h.
 *
 * Record format (version 1), specified in docs/protocol.md:
 *   u8      record version (1)
 *   varint  seq
 *   8 bytes time in nanoseconds since the Unix epoch, signed, little-endian
 *   varint len + bytes: origin, network, type, key (UTF-8)
 *   value   payload, an object
 *
 *   cs_event *ev;
 *   if (cs_event_decode(rec, len, &ev) == 0) {
 *       printf("%s %s\n", ev->type, ev->key);
 *       cs_event_unref(ev);
 *   }
 *
 * This header is C11 (it uses <stdatomic.h>). */
#ifndef CHAINSCOPE_EVENT_H
#define CHAINSCOPE_EVENT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "chainscope/value.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CS_EVENT_VERSION 1
#define CS_EVENT_MAX_SIZE (16u << 20) /* largest record accepted anywhere */
#define CS_EVENT_MAX_TYPE 128         /* bytes in a type (subject) */
#define CS_EVENT_MAX_NAME 255         /* bytes in origin, network and key */

typedef struct cs_event {
    atomic_uint refs;
    uint64_t seq;
    int64_t time_ns;
    const char *origin;
    const char *network;
    const char *type;
    const char *key;
    cs_val payload; /* an object; views into wire */
    size_t wire_len;
    const uint8_t *wire; /* the record */
    /* storage follows: the record, then the NUL-terminated strings */
} cs_event;

/* Decodes and fully validates a record. On success *out holds one reference
 * the caller releases with cs_event_unref. */
int cs_event_decode(const uint8_t *p, size_t n, cs_event **out);

/* Checks a record without building an event (used by servers that forward
 * records unchanged). On success, if type is not NULL, *type and *type_len
 * point at the type inside p. */
int cs_event_check(const uint8_t *p, size_t n, const char **type, size_t *type_len);

static inline cs_event *cs_event_ref(cs_event *e)
{
    atomic_fetch_add_explicit(&e->refs, 1, memory_order_relaxed);
    return e;
}
void cs_event_unref(cs_event *e);

/* Field access by dotted name, the way rules, templates and filters name
 * fields: `seq`, `time`, `origin`, `network`, `type`, `key` are the envelope;
 * anything else is a path into the payload (`peer.addr`,
 * `addresses[0].port`), with or without a leading `payload.`. Envelope strings come back as STR
 * views, seq and time as INT. Returns CS_ENOTFOUND for a missing field. */
int cs_event_field(const cs_event *e, const char *path, size_t len, cs_val *out);

/* Wall-clock time in nanoseconds. */
int64_t cs_now_ns(void);

#ifdef __cplusplus
}
#endif
#endif
