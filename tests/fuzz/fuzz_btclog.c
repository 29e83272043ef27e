/* Fuzzes the debug.log line parser (src/btc/btclog_parse.c): whatever the
 * bytes, splitting a line into Core's prefixes stays inside it, and a line
 * that matches a kind yields a valid value whose fields the schema names. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "btc/btclog.h"
#include "btc/events.h"
#include "core/value.h"

static void inside(const char *p, size_t n, const char *s, size_t len)
{
    if (n && (p < s || p + n > s + len))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* a copy exactly the input's size, so reads past it are caught */
    char *text = malloc(size ? size : 1);
    memcpy(text, data, size);
    cs_vw w;
    cs_vw_init(&w, 1u << 20);
    for (size_t at = 0; at <= size;) {
        const char *nl = memchr(text + at, '\n', size - at);
        size_t n = nl ? (size_t)(nl - (text + at)) : size - at;
        const char *s = text + at;
        cs_btclog_line l;
        cs_btclog_split(s, n, &l);
        inside(l.time, l.time_len, s, n);
        inside(l.thread, l.thread_len, s, n);
        inside(l.source, l.source_len, s, n);
        inside(l.function, l.function_len, s, n);
        inside(l.category, l.category_len, s, n);
        inside(l.level, l.level_len, s, n);
        inside(l.msg, l.msg_len, s, n);
        (void)cs_btclog_starts_entry(s, n);
        cs_vw_reset(&w);
        cs_vw_object_begin(&w);
        int k = cs_btclog_match(l.msg, l.msg_len, &w);
        cs_vw_object_end(&w);
        if (k >= (int)cs_btclog_kinds())
            abort();
        if (k >= 0) {
            cs_val v;
            size_t used;
            if (cs_vw_error(&w) || cs_val_read(w.buf.data, w.buf.len, &v, &used) != 0 ||
                cs_val_validate(w.buf.data, w.buf.len) != 0)
                abort();
            /* every field written is one of the kind's */
            cs_val_iter it = {0};
            const char *key;
            size_t kl;
            cs_val item;
            cs_val_iter_init(&it, &v);
            while (cs_val_next(&it, &key, &kl, &item) == 1) {
                const cs_field_def *f = cs_schema_btclog[k].fields;
                while (f->name && !(strlen(f->name) == kl && memcmp(f->name, key, kl) == 0))
                    f++;
                if (!f->name)
                    abort();
            }
        }
        if (!nl)
            break;
        at += n + 1;
    }
    cs_vw_free(&w);
    free(text);
    return 0;
}
