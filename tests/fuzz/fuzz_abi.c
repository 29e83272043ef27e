/* Fuzzes the ABI decoder (logs and calldata against a fixed ABI with every
 * type), the JSON ABI loader and the signature parser.
 *
 * Input: byte 0 picks the mode; for logs byte 1 picks the topic count and
 * the topics (32 bytes each) come next, the rest is data. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/value.h"
#include "abi/abi.h"

static const char *fuzz_abi_json =
    "[{\"type\":\"event\",\"name\":\"Transfer\",\"inputs\":[{\"name\":\"from\",\"type\":"
    "\"address\",\"indexed\":true},{\"name\":\"to\",\"type\":\"address\",\"indexed\":true},"
    "{\"name\":\"value\",\"type\":\"uint256\"}]},"
    "{\"type\":\"event\",\"name\":\"All\",\"inputs\":[{\"name\":\"a\",\"type\":\"int24\"},"
    "{\"name\":\"b\",\"type\":\"bool\"},{\"name\":\"c\",\"type\":\"bytes7\"},{\"name\":\"d\","
    "\"type\":\"bytes\"},{\"name\":\"e\",\"type\":\"string\"},{\"name\":\"f\",\"type\":"
    "\"uint256[][2]\"},{\"name\":\"g\",\"type\":\"tuple[]\",\"components\":[{\"name\":\"x\","
    "\"type\":\"string[]\"},{\"name\":\"y\",\"type\":\"int200\"},{\"name\":\"z\",\"type\":"
    "\"tuple\",\"components\":[{\"name\":\"q\",\"type\":\"bytes\"}]}]},{\"name\":\"h\","
    "\"type\":\"string\",\"indexed\":true},{\"name\":\"i\",\"type\":\"function\"}]},"
    "{\"type\":\"event\",\"name\":\"Anon\",\"anonymous\":true,\"inputs\":[{\"name\":\"a\","
    "\"type\":\"uint8\",\"indexed\":true},{\"name\":\"b\",\"type\":\"bytes[]\"}]},"
    "{\"type\":\"function\",\"name\":\"f\",\"inputs\":[{\"name\":\"a\",\"type\":"
    "\"uint256[3][]\"},{\"name\":\"b\",\"type\":\"tuple[2]\",\"components\":[{\"name\":\"s\","
    "\"type\":\"string\"},{\"name\":\"n\",\"type\":\"int64\"}]}]}]";

static cs_abi *abi;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512];
    if (!abi && cs_abi_parse(fuzz_abi_json, strlen(fuzz_abi_json), "fuzz", &abi, err, sizeof err))
        abort();
    if (size < 2)
        return 0;
    cs_vw w;
    cs_vw_init(&w, 1u << 20);
    uint8_t mode = data[0] % 5;
    data++;
    size--;
    if (mode <= 1) {
        size_t nt = data[0] % 5;
        data++;
        size--;
        uint8_t topics[4][32];
        memset(topics, 0, sizeof topics);
        for (size_t i = 0; i < nt && size >= 32; i++) {
            memcpy(topics[i], data, 32);
            data += 32;
            size -= 32;
        }
        /* Mode 1 forces a known topic0 so the decoder gets past lookup. */
        if (mode == 1 && nt && size)
            memcpy(topics[0], cs_abi_event_at(abi, data[0] % 2)->topic0, 32);
        if (cs_abi_decode_log(abi, (const uint8_t(*)[32])topics, nt, data, size, 0, &w, NULL, NULL,
                              err, sizeof err) == 0 &&
            cs_val_validate(w.buf.data, w.buf.len) != 0)
            abort();
    } else if (mode == 2) {
        uint8_t *c = malloc(size + 4);
        memcpy(c, cs_abi_func_at(abi, 0)->selector, 4);
        memcpy(c + 4, data, size);
        if (cs_abi_decode_call(abi, c, size + 4, CS_ABI_INTS_AS_STRINGS, &w, NULL, NULL, err,
                               sizeof err) == 0 &&
            cs_val_validate(w.buf.data, w.buf.len) != 0)
            abort();
        free(c);
    } else if (mode == 3) {
        char *s = strndup((const char *)data, size);
        char out[1024];
        cs_abi_canonical(s, out, sizeof out, err, sizeof err);
        free(s);
    } else {
        cs_abi *a = NULL;
        if (cs_abi_parse((const char *)data, size, "fuzz", &a, err, sizeof err) == 0)
            cs_abi_free(a);
    }
    cs_vw_free(&w);
    return 0;
}
