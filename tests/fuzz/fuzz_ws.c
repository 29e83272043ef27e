/* Fuzzes what a browser can send the live feed (src/web/ws.c): frames are
 * parsed one after another as the connection would, each within bounds,
 * and the IP masking of src/web/mask.c on the same bytes as text. */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "web/mask.h"
#include "web/ws.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *p = malloc(size ? size : 1);
    memcpy(p, data, size);
    size_t off = 0;
    for (;;) {
        cs_ws_frame f;
        ssize_t n = cs_ws_parse(p + off, size - off, 4096, &f);
        if (n <= 0)
            break;
        assert((size_t)n <= size - off);
        assert(f.len <= 4096 && f.payload >= p + off && f.payload + f.len <= p + off + n);
        off += (size_t)n;
    }
    cs_buf b;
    cs_buf_init(&b, 0);
    if (cs_web_mask(&b, (const char *)data, size, 1) == 0)
        assert(b.len <= size * 11 + 1);
    cs_buf_free(&b);
    free(p);
    return 0;
}
