/* codec_echo: the C side of the Python codec cross-check (python/tests/).
 *
 * Reads records from stdin, each as a u32 LE length and the record bytes.
 * For each it writes to stdout an i32 LE status (0 or the CS_E* code of
 * cs_event_decode); when 0, then a u32 LE length and the event as
 * cs_json_event renders it, and a u32 LE length and the record built again
 * by the C encoder (cs_vw walking the decoded payload, cs_event_new2 for the
 * envelope), so the Python decoder can read what C wrote. */
#include "core/buf.h"
#include "core/error.h"
#include "core/event.h"
#include "core/json.h"
#include "core/value.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void put32(uint32_t v)
{
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    fwrite(b, 1, 4, stdout);
}

static void rewrite(cs_vw *w, const cs_val *v)
{
    switch (v->kind) {
    case CS_VAL_NULL:
        cs_vw_null(w);
        break;
    case CS_VAL_BOOL:
        cs_vw_bool(w, v->b);
        break;
    case CS_VAL_INT:
        if (v->neg)
            cs_vw_i64(w, v->i);
        else
            cs_vw_u64(w, v->u);
        break;
    case CS_VAL_BIG:
        cs_vw_big(w, v->p, v->n, v->neg);
        break;
    case CS_VAL_DOUBLE:
        cs_vw_double(w, v->d);
        break;
    case CS_VAL_STR:
        cs_vw_str(w, (const char *)v->p, v->n);
        break;
    case CS_VAL_BYTES:
        cs_vw_bytes(w, v->p, v->n);
        break;
    case CS_VAL_ARRAY:
    case CS_VAL_OBJECT: {
        bool obj = v->kind == CS_VAL_OBJECT;
        if (obj)
            cs_vw_object_begin(w);
        else
            cs_vw_array_begin(w);
        cs_val_iter it;
        cs_val item;
        const char *k;
        size_t kl;
        cs_val_iter_init(&it, v);
        while (cs_val_next(&it, &k, &kl, &item) == 1) {
            if (obj)
                cs_vw_keyn(w, k, kl);
            rewrite(w, &item);
        }
        if (obj)
            cs_vw_object_end(w);
        else
            cs_vw_array_end(w);
        break;
    }
    }
}

int main(void)
{
    uint8_t hdr[4];
    while (fread(hdr, 1, 4, stdin) == 4) {
        size_t n =
            (size_t)hdr[0] | (size_t)hdr[1] << 8 | (size_t)hdr[2] << 16 | (size_t)hdr[3] << 24;
        uint8_t *rec = malloc(n ? n : 1);
        if (!rec || fread(rec, 1, n, stdin) != n) {
            free(rec);
            return 1;
        }
        cs_event *ev;
        int rc = cs_event_decode(rec, n, &ev);
        free(rec);
        put32((uint32_t)rc);
        if (rc == 0) {
            cs_buf js;
            cs_buf_init(&js, 0);
            cs_vw w;
            cs_vw_init(&w, CS_EVENT_MAX_SIZE);
            rewrite(&w, &ev->payload);
            cs_event_hdr h = {.seq = ev->seq,
                              .time_ns = ev->time_ns,
                              .origin = ev->origin,
                              .network = ev->network,
                              .type = ev->type,
                              .key = ev->key};
            cs_event *again = NULL;
            if (cs_json_event(&js, ev) || cs_vw_error(&w) ||
                cs_event_new2(&h, w.buf.data, w.buf.len, &again)) {
                fprintf(stderr, "codec_echo: cannot render or encode again a decoded event\n");
                return 1;
            }
            put32((uint32_t)js.len);
            fwrite(js.data, 1, js.len, stdout);
            put32((uint32_t)again->wire_len);
            fwrite(again->wire, 1, again->wire_len, stdout);
            cs_event_unref(again);
            cs_vw_free(&w);
            cs_buf_free(&js);
            cs_event_unref(ev);
        }
        fflush(stdout);
    }
    return 0;
}
