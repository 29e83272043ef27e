/* The event inside chainscope: the public part (the envelope, decoding,
 * field access) is include/chainscope/event.h; building events from a header
 * and an encoded payload is here, for publishers. */
#ifndef CS_CORE_EVENT_H
#define CS_CORE_EVENT_H

#include <stddef.h>
#include <stdint.h>

#include "chainscope/event.h"
#include "core/value.h"

/* What a publisher fills in. time_ns 0 means "now". */
typedef struct cs_event_hdr {
    uint64_t seq;
    int64_t time_ns;
    const char *origin;
    const char *network;
    const char *type;
    const char *key;
} cs_event_hdr;

/* Builds an event from a header and an encoded payload object (as written by
 * cs_vw). Returns NULL on a bad header or payload (see cs_event_new2 for the
 * reason). Caller owns one reference: release with cs_event_unref. */
cs_event *cs_event_new(const cs_event_hdr *h, const uint8_t *payload, size_t len);
int cs_event_new2(const cs_event_hdr *h, const uint8_t *payload, size_t len, cs_event **out);

#endif
