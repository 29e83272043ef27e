/* Fuzzes the log server's framing and frame bodies: the input is a byte
 * stream as a client would send it. Each whole frame is read the way the
 * server reads it (HELLO fields, filters, event records). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "bus/frame.h"
#include "core/event.h"
#include "core/subject.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t off = 0;
    while (off < size) {
        uint8_t type;
        const uint8_t *body;
        size_t len, flen;
        int rc = cs_frame_peek(data + off, size - off, &type, &body, &len, &flen);
        if (rc <= 0)
            break;
        if (flen > size - off || body + len > data + size)
            __builtin_trap();
        const uint8_t *p = body, *end = body + len;
        const char *s, *t;
        size_t sl, tl;
        cs_event *ev;
        switch (type) {
        case CS_FRAME_HELLO:
            if (len >= 1) {
                p++;
                if (cs_frame_get_str(&p, end, &s, &sl) == 0 &&
                    cs_frame_get_str(&p, end, &t, &tl) == 0 && (s + sl > (const char *)end))
                    __builtin_trap();
            }
            break;
        case CS_FRAME_SUB:
        case CS_FRAME_UNSUB:
            if (cs_frame_get_str(&p, end, &s, &sl) == 0 && cs_subject_filter_valid(s, sl))
                cs_subject_match(s, sl, "p2p.msg.addr", 12);
            break;
        case CS_FRAME_PUB:
            if (cs_event_decode(body, len, &ev) == 0)
                cs_event_unref(ev);
            break;
        default:
            break;
        }
        off += flen;
    }
    return 0;
}
