/* The human rendering of an event: one short line for people, used by
 * `chainscope tail` and by the console of `chainscope run`. JSON (the one
 * rendering for programs, core/json.h) stays complete; this one is
 * concise:
 *
 *   2026-11-23T17:31:15.123456Z NETWORK TYPE [KEY] field=value ...
 *
 * A field whose text would pass CS_RENDER_FIELD_MAX bytes is summarized:
 * an object as {N fields, M bytes}, an array as [N items, M bytes], a
 * string or bytes by their start and length. Past CS_RENDER_FIELDS_MAX
 * fields the rest are counted ("+N more fields"). An alert.fired event
 * reads as its monitor, severity, network, transaction (or matched event),
 * the match reason and the matched arguments. */
#ifndef CS_CLI_RENDER_H
#define CS_CLI_RENDER_H

#include "core/buf.h"
#include "core/event.h"

#define CS_RENDER_FIELD_MAX 120
#define CS_RENDER_FIELDS_MAX 16

/* Appends e's line, newline included, to out. Returns 0 or out's error
 * (CS_ENOMEM, CS_ELIMIT at its bound). */
int cs_render_human(cs_buf *out, const cs_event *e);

#endif
