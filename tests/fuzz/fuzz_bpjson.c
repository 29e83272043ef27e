/* Fuzzes the bp.json reader and validator and the chains.json picker: any
 * bytes, as a producer's web server could send them. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "antelope/bpjson.h"

static cs_bpjson doc;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    if (cs_bpjson_parse(text, size, &doc) == 0) {
        if (doc.nerrors > CS_BPJ_MAX_ERRORS || doc.nnodes > CS_BPJ_MAX_NODES ||
            doc.nnodes > doc.nodes_total || doc.nerrors > doc.nerrors_total)
            abort();
        for (size_t i = 0; i < doc.nnodes; i++)
            if (strlen(doc.nodes[i].ssl) >= CS_BPJ_URL_MAX)
                abort();
    }
    char path[64];
    if (cs_bpjson_chains_pick(text, size,
                              "aca376f206b8fc25a6ed44dbdc66547c36c6c33e3a119ffbeaef943642f0e906",
                              path, sizeof path) == 0 &&
        strlen(path) >= sizeof path)
        abort();
    return 0;
}
