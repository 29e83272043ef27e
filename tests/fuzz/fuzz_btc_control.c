/* libFuzzer target: the control protocol's frame parser, on a stream of
 * frames as a client would send them. Every frame the parser accepts must
 * lie inside the input; every rejection must come with a reason. */
#include <stdint.h>
#include <stdlib.h>

#include "btc/control.h"
#include "core/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t off = 0;
    while (off < size) {
        cs_control_req r;
        size_t used = 0;
        char err[128] = "";
        int rc = cs_control_parse(data + off, size - off, &r, &used, err, sizeof err);
        if (rc == CS_ETRUNC)
            break;
        if (rc) {
            if (!err[0])
                abort();
            break;
        }
        if (used < 9 || used > size - off || r.body < data + off ||
            r.body + r.body_len != data + off + used)
            abort();
        off += used;
    }
    return 0;
}
