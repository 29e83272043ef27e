/* Fuzzes the readers of what a producer's endpoints and the chain API send
 * the bp.json checks: a get_producers answer (the producer table) and a
 * get_info answer (an advertised API), any bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "antelope/endpoint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    cs_ant_producers p = {0};
    int rc = cs_ant_producers_parse(text, size, &p);
    if (rc != p.error || (rc && p.n) || p.n > CS_ANT_MAX_ROWS || strlen(p.more) >= sizeof p.more)
        abort();
    for (size_t i = 0; i < p.n; i++)
        if (!p.rows[i].owner[0] || strlen(p.rows[i].owner) >= sizeof p.rows[i].owner ||
            strlen(p.rows[i].url) >= sizeof p.rows[i].url)
            abort();
    free(p.rows);
    cs_ant_api_result r = {0};
    if (cs_ant_api_parse(text, size, &r) == 0 &&
        (strlen(r.chain_id) >= sizeof r.chain_id || strlen(r.version) >= sizeof r.version))
        abort();
    return 0;
}
