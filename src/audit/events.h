/* The contract of the audit events (node.*): the schema table that names their types and fields
 * (docs/events.md), next to what publishes them. cli/components.c registers
 * it (cs_schema_register); sinks may include this header. */
#ifndef CS_AUDIT_EVENTS_H
#define CS_AUDIT_EVENTS_H

#include "core/schema.h"

extern const cs_event_def cs_schema_audit[];

#endif
