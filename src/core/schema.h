/* The event schema: one explicit table of every event type and its fields.
 * docs/events.md is generated from it (`chainscope events --markdown`), and
 * tests check events against it with cs_schema_check.
 *
 * Field types: string, bool, u64, i64, u256 (an exact integer of up to 256
 * bits, signed where the source is), double, bytes, object, array, any.
 * A field named "a.b" is b inside object a; "a[].b" is b in each element of
 * array a. Fields marked optional may be absent. */
#ifndef CS_CORE_SCHEMA_H
#define CS_CORE_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>

#include "core/event.h"

typedef struct cs_field_def {
    const char *name;
    const char *type;
    bool optional;
    const char *doc;
} cs_field_def;

typedef struct cs_event_def {
    const char *type; /* a subject; a trailing ".*" names a family (p2p.msg.*) */
    const char *source;
    const char *doc;
    const cs_field_def *fields; /* terminated by a {NULL} entry */
} cs_event_def;

/* Each component defines its group, an array of definitions ended by a
 * {NULL} entry, next to what publishes them; the registry knows only the
 * core's own group until the components' are registered (cli/components.c
 * registers every component's at start; a test registers the ones it
 * checks). Not thread-safe: register before threads start. */
extern const cs_event_def cs_schema_core[];
#define CS_SCHEMA_MAX_GROUPS 16

/* Adds a group (again: no-op). CS_ELIMIT past CS_SCHEMA_MAX_GROUPS. */
int cs_schema_register(const cs_event_def *group);
/* The i-th group (0: the core's), or NULL past the last. */
const cs_event_def *cs_schema_group(size_t i);

/* The definition for a type (exact or through a family), or NULL. */
const cs_event_def *cs_schema_find(const char *type);
/* Checks an event's top-level payload against its definition: every
 * required field present with the right type, no field unknown. Writes the
 * first problem into err. Unknown types return CS_ENOTFOUND. */
int cs_schema_check(const cs_event *ev, char *err, size_t errlen);

#endif
