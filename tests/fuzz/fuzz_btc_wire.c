/* libFuzzer target: the Bitcoin wire decoder on arbitrary bytes.
 * Input: a byte stream of framed messages. The first byte selects whether
 * checksums are checked (odd) or skipped (even, so the fuzzer reaches the
 * payload decoders). Every decoded payload must be a valid value. */
#include <stdint.h>
#include <stdlib.h>

#include "btc/wire.h"
#include "core/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static cs_wire_ctx *ctx;
    static cs_vw w;
    static cs_buf json;
    if (!ctx) {
        if (cs_wire_ctx_new(&ctx))
            abort();
        cs_vw_init(&w, 64u << 20);
        cs_buf_init(&json, 0);
    }
    if (size < 1)
        return 0;
    unsigned flags = (data[0] & 1) ? 0 : CS_WIRE_NO_CHECKSUM;
    data++;
    size--;
    while (size > 0) {
        cs_wire_msg m;
        cs_wire_err err;
        size_t used = 0;
        cs_vw_reset(&w);
        cs_vw_object_begin(&w);
        int rc = cs_wire_decode(ctx, data, size, NULL, flags, &m, &w, &used, &err);
        if (rc == 0) {
            cs_vw_object_end(&w);
            cs_val v;
            json.len = 0;
            if (cs_vw_error(&w) != 0 || cs_val_validate(w.buf.data, w.buf.len) != 0 ||
                cs_val_read(w.buf.data, w.buf.len, &v, NULL) != 0 || cs_json_value(&json, &v))
                abort();
        } else if (err.reason[0] == 0) {
            abort(); /* every error has a reason */
        }
        if (rc || used == 0 || used > size)
            break;
        data += used;
        size -= used;
    }
    return 0;
}
