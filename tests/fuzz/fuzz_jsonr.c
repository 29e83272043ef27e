/* Fuzzes the JSON-RPC reader (src/net/jsonr.c) and the receipt-to-event
 * conversion behind it (src/evm/chain.c): whatever the text, parsing and
 * every extraction stay in bounds, and what converts is a valid value. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/bus.h"
#include "core/value.h"
#include "evm/chain.h"
#include "net/jsonr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A copy exactly the input's size, so reads past it are caught. */
    char *text = malloc(size ? size : 1);
    memcpy(text, data, size);
    cs_jsonr r;
    cs_jsonr_init(&r, 1u << 16, 32);
    if (cs_jsonr_parse(&r, text, size) == 0) {
        cs_buf b;
        cs_buf_init(&b, 1u << 20);
        for (uint32_t i = 0; i < r.ntok; i++) {
            uint64_t v;
            uint8_t be[32], hx[64];
            size_t hl;
            cs_jsonr_u64(&r, i, &v);
            cs_jsonr_u256(&r, i, be);
            cs_jsonr_hex(&r, i, hx, sizeof hx, &hl);
            b.len = 0;
            cs_jsonr_str(&r, i, &b);
            if (r.tok[i].end <= i || r.tok[i].end > r.ntok)
                abort();
        }
        cs_vw w;
        cs_vw_init(&w, 1u << 20);
        if (cs_jsonr_value(&r, 0, &w) == 0 && cs_val_validate(w.buf.data, w.buf.len) != 0)
            abort();
        cs_vw_free(&w);
        /* As a receipt (or a list of them). */
        cs_publisher pub;
        cs_publisher_init(&pub, NULL, "fuzz", "net");
        cs_evm_blockref blk = {.number = 1};
        cs_evm_counts c = {0};
        char err[256];
        b.len = 0;
        if (r.tok[0].type == CS_JT_ARR) {
            for (uint32_t it = cs_jsonr_first(&r, 0); it; it = cs_jsonr_next_item(&r, 0, it))
                cs_evm_emit_receipt(&pub, &r, it, NULL, 0, &blk, NULL, &b, &c, err, sizeof err);
        } else {
            cs_evm_emit_receipt(&pub, &r, 0, NULL, 0, &blk, NULL, &b, &c, err, sizeof err);
        }
        cs_publisher_free(&pub);
        cs_buf_free(&b);
    }
    cs_jsonr_free(&r);
    free(text);
    return 0;
}
