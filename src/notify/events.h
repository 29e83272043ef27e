/* The contract of the notifier's events (notify.*): the schema table that
 * names their types and fields (docs/events.md), next to what publishes them.
 * cli/components.c registers it (cs_schema_register). */
#ifndef CS_NOTIFY_EVENTS_H
#define CS_NOTIFY_EVENTS_H

#include "core/schema.h"

extern const cs_event_def cs_schema_notify[];

#endif
