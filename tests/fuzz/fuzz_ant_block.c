/* Fuzzes the Antelope block decoder (src/antelope/block.c): whatever the
 * text, decoding stays in bounds and what decodes holds its invariants. */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "antelope/block.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A copy exactly the input's size, so reads past it are caught. */
    char *text = malloc(size ? size : 1);
    memcpy(text, data, size);
    cs_ant_block b;
    char why[256];
    if (cs_ant_block_decode(text, size, &b, why, sizeof why) == 0) {
        assert(b.num > 0);
        assert(strlen(b.id) == CS_ANT_ID_HEX && strlen(b.previous) == CS_ANT_ID_HEX);
        assert(cs_ant_name_valid(b.producer));
        assert(b.action_count == 0 || b.trx_count > 0);
    }
    free(text);
    return 0;
}
