/* The notifier's event types (notify/events.h), registered by cli/components.c. */
#include "notify/events.h"

static const cs_field_def f_ack[] = {
    {"id", "string", false, "the id of the alert.fired or audit.report now in the outbox"},
    {NULL, NULL, false, NULL},
};

const cs_event_def cs_schema_notify[] = {
    {"notify.ack", "notify",
     "an alert or report is committed to the outbox: its publisher stops publishing it again",
     f_ack},
    {NULL, NULL, NULL, NULL},
};
