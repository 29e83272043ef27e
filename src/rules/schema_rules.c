/* The events the monitors publish, registered by cli/components.c (rules/events.h). */
#include "core/schema.h"
#include "rules/events.h"

static const cs_field_def f_alert[] = {
    {"id", "string", false,
     "the match's stable id: monitor/network/tx-hash (contract monitors), "
     "monitor/network/origin/seq/time (event monitors); the outbox's idempotency keys derive from "
     "it"},
    {"monitor", "object", false,
     "name, kind (contract or event), severity, risk, network, and addresses + confirmBlocks + "
     "abi (contract) or subjects (event)"},
    {"network", "string", false, "the network of the match"},
    {"severity", "string", false, "high, medium or low"},
    {"risk", "string", false,
     "none, governance, access-control, suspicious, financial or technical"},
    {"time", "i64", false, "time of the matched event, ns since the epoch"},
    {"block", "object", true, "contract monitors: number, hash"},
    {"blockHash", "any", true, "contract monitors: the block hash (Defender's name)"},
    {"transaction", "object", true,
     "contract monitors: the evm.tx payload's fields, and link (explorer URL) when configured"},
    {"matchReasons", "array", false,
     "why it matched: {type: event|function|transaction|window, address, signature, name, "
     "condition, args[], params{}}"},
    {"matchReasonsFormatted", "string", false, "the reasons as text, for messages"},
    {"matchedAddresses", "array", true, "contract monitors: the watched addresses involved"},
    {"args", "object", true, "the first matched event's or function's decoded arguments"},
    {"event", "object", true,
     "event monitors: the matched event (seq, time, origin, network, "
     "type, key, payload)"},
    {"window", "object", true,
     "windowed monitors: kind, group, count, rate, since, seconds, threshold"},
    {"metadata", "any", true, "what a custom filter attached"},
    {"replayed", "bool", true,
     "true when the matched event came from a replay (its origin ends with +replay; the id "
     "then holds or ends with +replay too): the notifier skips it unless replay.notify is true "
     "(docs/archive.md)"},
    {"channels", "array", false,
     "names of the channels the alert goes to: the monitor's, or its severity's defaults when "
     "notify: is in the same config; empty: the notifier's defaults for the severity"},
    {"title", "string", true, "the monitor's title template (not part of the alert document)"},
    {"message", "string", true, "the monitor's message template (not part of the alert document)"},
    {NULL, NULL, false, NULL},
};

const cs_event_def cs_schema_monitors[] = {
    {"alert.fired", "monitors",
     "a monitor matched and its alert policy let the alert through; the notifier queues it for "
     "its channels (published again until a notify.ack names its id)",
     f_alert},
    {NULL, NULL, NULL, NULL},
};
