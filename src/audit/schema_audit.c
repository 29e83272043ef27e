/* The audit's event types, registered by cli/components.c (audit/events.h). */
#include "core/schema.h"
#include "audit/events.h"

static const cs_field_def f_check[] = {
    {"node", "string", false, "node name from the inventory, or @chain for network-wide checks"},
    {"check", "string", false,
     "check name: rpc, lag, peers, connected, sealing, ... (docs/audit.md)"},
    {"state", "string", false, "ok, fail or unknown (the auditor could not check)"},
    {"value", "double", true, "the measured quantity: height, lag in blocks, sealing rate, ..."},
    {"detail", "string", true, "what was seen, for people"},
    {"sweep", "i64", false, "the sweep's start, Unix seconds"},
    {NULL, NULL, false, NULL},
};

static const cs_field_def f_state[] = {
    {"node", "string", false, "node name, or @chain"},
    {"check", "string", false, "check name"},
    {"state", "string", false, "the new state: ok or fail"},
    {"previous", "string", false, "the state before: fail or ok"},
    {"previous_time", "i64", false, "when the previous state was last seen, Unix seconds"},
    {"detail", "string", true, "what was seen, for people"},
    {"sweep", "i64", false, "the sweep's start, Unix seconds"},
    {NULL, NULL, false, NULL},
};

static const cs_field_def f_report[] = {
    {"id", "string", false, "unique per report: the notifier's idempotency keys derive from it"},
    {"subject", "string", false, "one line: the mail subject and the chat headline"},
    {"text", "string", false, "the report as plain text"},
    {"html", "string", true, "the mail's HTML part"},
    {"json", "string", false,
     "what webhooks and scripts get: {type, id, subject, severity, problems, due, format, text, "
     "report?}"},
    {"channels", "array", false, "audit.report.channels"},
    {"problems", "u64", false, "how many problems the report names"},
    {NULL, NULL, false, NULL},
};

const cs_event_def cs_schema_audit[] = {
    {"node.check", "audit", "one check result of one node (every result of every sweep)", f_check},
    {"node.state", "audit", "a check of a node changed between ok and fail", f_state},
    {"audit.report", "audit",
     "a due report for its channels; the notifier queues it (published again until a "
     "notify.ack names its id)",
     f_report},
    {NULL, NULL, NULL, NULL},
};
