/* The one JSON rendering of values and events, and JSON input.
 *
 * Rendering rules (docs/events.md, "JSON"):
 *   integers within +-(2^53 - 1) JSON numbers, exact in every reader
 *   other integers (to 256 bit)  decimal strings, e.g. "1157920892...",
 *                                 negative ones with a leading '-'; a
 *                                 JavaScript reader would lose digits of
 *                                 a number
 *   doubles                     shortest round-trip form; NaN/inf as null
 *   strings                     JSON strings (control characters escaped)
 *   bytes                       "0x" followed by lowercase hex
 * An event renders as
 *   {"seq":N,"time":NS,"origin":"...","network":"...","type":"...","key":"...",
 *    "payload":{...}}
 */
#ifndef CS_CORE_JSON_H
#define CS_CORE_JSON_H

#define CS_JSON_MAX_SAFE 9007199254740991LL /* 2^53 - 1: a double holds it exactly */

#include "core/buf.h"
#include "core/event.h"
#include "core/value.h"

/* Appends the JSON form of v. Returns 0, or an error from the buffer or a
 * malformed value. */
int cs_json_value(cs_buf *out, const cs_val *v);
int cs_json_event(cs_buf *out, const cs_event *e);
/* Appends s[0..n) as a JSON string literal, quotes included. */
int cs_json_string(cs_buf *out, const char *s, size_t n);

/* Parses JSON text into the value writer (objects, arrays, strings, exact
 * integers up to 64 bits, larger integers written as decimal strings stay
 * strings, doubles, booleans, null). On a parse error returns CS_EPARSE and
 * writes a message with the line and column into err. */
int cs_json_parse_value(const char *text, size_t n, cs_vw *w, char *err, size_t errlen);

/* Builds an event from a JSON object shaped like cs_json_event's output.
 * Missing envelope fields take the defaults in `defaults` (any may be NULL).
 * If the object has no "payload" key, its members other than the envelope's
 * are the payload. Caller owns the returned reference. */
int cs_json_parse_event(const char *text, size_t n, const cs_event_hdr *defaults, cs_event **out,
                        char *err, size_t errlen);

#endif
