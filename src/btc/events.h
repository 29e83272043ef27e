/* The contract of the Bitcoin connector and crawler events (p2p.*): the schema table that names
 * their types and fields (docs/events.md), next to what publishes them. cli/components.c registers
 * it (cs_schema_register); sinks may include this header. */
#ifndef CS_BTC_EVENTS_H
#define CS_BTC_EVENTS_H

#include "core/schema.h"

extern const cs_event_def cs_schema_btc[];
/* The Bitcoin Core RPC extractor (bitcoind.*) and the fork watch (chain.*). */
extern const cs_event_def cs_schema_bitcoind[];
/* bitcoind.log.* and bitcoind.p2p.* (btclog_kinds.c) */
extern const cs_event_def cs_schema_btclog[];

#endif
