/* Fuzzes the event record decoder and everything that reads a decoded
 * event: field lookup by path, JSON rendering, the schema check. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/event.h"
#include "core/json.h"
#include "core/schema.h"
#include "audit/events.h"
#include "btc/events.h"
#include "evm/events.h"
#include "rules/events.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cs_schema_register(cs_schema_audit);
    cs_schema_register(cs_schema_btc);
    cs_schema_register(cs_schema_evm);
    cs_schema_register(cs_schema_monitors);
    cs_event *ev;
    if (cs_event_decode(data, size, &ev) != 0)
        return 0;
    /* A decoded record re-encodes to the same bytes (time 0 means "now"
     * to cs_event_new, so such records are left out). */
    cs_event *again = cs_event_new(
        &(cs_event_hdr){ev->seq, ev->time_ns, ev->origin, ev->network, ev->type, ev->key},
        ev->payload.raw, ev->payload.raw_len);
    if (ev->time_ns &&
        (!again || again->wire_len != ev->wire_len || memcmp(again->wire, ev->wire, ev->wire_len)))
        __builtin_trap();
    cs_event_unref(again);
    cs_buf out;
    cs_buf_init(&out, 0);
    if (cs_json_event(&out, ev) != 0)
        __builtin_trap();
    cs_buf_free(&out);
    static const char *paths[] = {"a", "a.b", "a[0]", "a[1].b", "payload.n", "x[0][1]", "type"};
    for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
        cs_val v;
        cs_event_field(ev, paths[i], strlen(paths[i]), &v);
    }
    char err[128];
    cs_schema_check(ev, err, sizeof err);
    cs_event_unref(ev);
    return 0;
}
