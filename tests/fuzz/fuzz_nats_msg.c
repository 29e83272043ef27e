/* Fuzzes the NATS message -> event path of the bridge (bus/nats.h): the
 * first byte picks the Chainscope-Encoding header (binary, json, none or
 * an unknown one), the rest is the message body. A decoded event must map
 * to a NATS subject of valid tokens that the subscription subject for its
 * own type matches, and render to JSON that decodes to the same event. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bus/nats.h"
#include "core/buf.h"
#include "core/json.h"
#include "core/subject.h"

static void check_subject(const char *s)
{
    /* tokens: non-empty, no spaces, no wildcards */
    size_t tok = 0;
    for (const char *p = s; *p; p++) {
        if (*p == '.') {
            if (!tok)
                abort();
            tok = 0;
        } else if (*p == ' ' || *p == '\t' || *p == '*' || *p == '>' || (unsigned char)*p < 32) {
            abort();
        } else {
            tok++;
        }
    }
    if (!tok)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    static const char *const enc[] = {"binary", "json", NULL, "zstd"};
    cs_event *ev;
    if (cs_nats_decode(data + 1, size - 1, enc[data[0] & 3], &ev))
        return 0;
    char subj[CS_NATS_MAX_SUBJECT * 4], filt[CS_NATS_MAX_SUBJECT * 4];
    int n = cs_nats_subject(subj, sizeof subj, "chainscope", ev->network, ev->type);
    if (n > 0) {
        check_subject(subj);
        if (cs_nats_filter_subject(filt, sizeof filt, "chainscope", ev->type) < 0)
            abort();
        if (!cs_subject_match(filt, strlen(filt), subj, (size_t)n))
            abort();
    }
    cs_buf b;
    cs_buf_init(&b, 0);
    if (cs_json_event(&b, ev) == 0) {
        cs_event *back;
        if (cs_nats_decode(b.data, b.len, "json", &back) == 0) {
            if (strcmp(back->type, ev->type) || strcmp(back->origin, ev->origin) ||
                strcmp(back->network, ev->network) ||
                (ev->seq < (1ull << 53) && back->seq != ev->seq))
                abort();
            cs_event_unref(back);
        }
    }
    cs_buf_free(&b);
    cs_event_unref(ev);
    return 0;
}
