/* libFuzzer target for the rule language: the compiler on any bytes, and the
 * evaluator on what compiles, against a fixed event and against an event read
 * from the input. Input: EXPRESSION [NUL JSON-EVENT]. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/event.h"
#include "core/json.h"
#include "rules/expr.h"

static cs_event *fixed;

static void build_fixed(void)
{
    static const uint8_t big[32] = {0xff, 0xee, 0xdd};
    cs_vw w;
    cs_vw_init(&w, 0);
    cs_vw_object_begin(&w);
    cs_vw_kv_str(&w, "from", "0xd5180D374b6d1961ba24d0a4dbf26d696fda4cad");
    cs_vw_kv_u64(&w, "gas_price", 60000000000ull);
    cs_vw_kv_u64(&w, "status", 1);
    cs_vw_kv_double(&w, "rtt", 0.25);
    cs_vw_kv_bytes(
        &w, "owner",
        "\xd5\x18\x0d\x37\x4b\x6d\x19\x61\xba\x24\xd0\xa4\xdb\xf2\x6d\x69\x6f\xda\x4c\xad", 20);
    cs_vw_key(&w, "args");
    cs_vw_object_begin(&w);
    cs_vw_key(&w, "value");
    cs_vw_big(&w, big, 32, false);
    cs_vw_kv_i64(&w, "delta", -42);
    cs_vw_key(&w, "vals");
    cs_vw_array_begin(&w);
    cs_vw_u64(&w, 5);
    cs_vw_cstr(&w, "1.2.3.4:8333");
    cs_vw_array_end(&w);
    cs_vw_object_end(&w);
    cs_vw_object_end(&w);
    cs_event_hdr h = {.origin = "fuzz", .network = "n", .type = "evm.log", .key = "k"};
    fixed = cs_event_new(&h, w.buf.data, w.buf.len);
    cs_vw_free(&w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const cs_expr_alias aliases[] = {{"gasPrice", "gas_price"}};
    static const char *const labels[] = {"failed", "success", NULL};
    static const cs_expr_enum enums[] = {{"status", labels, NULL}};
    static const cs_expr_opts opts = {
        .arg_root = "args", .aliases = aliases, .naliases = 1, .enums = enums, .nenums = 1};
    if (!fixed)
        build_fixed();
    const uint8_t *nul = memchr(data, 0, size);
    size_t elen = nul ? (size_t)(nul - data) : size;
    cs_expr *e;
    char err[256];
    if (cs_expr_compile((const char *)data, elen, &opts, &e, err, sizeof err) != 0)
        return 0;
    char text[128];
    (void)cs_expr_test(e, fixed);
    (void)cs_expr_eval_text(e, fixed, text, sizeof text);
    if (nul) {
        cs_event *ev = NULL;
        cs_event_hdr d = {.origin = "fuzz", .network = "n", .type = "t", .key = "k"};
        size_t jl = size - elen - 1;
        if (cs_json_parse_event((const char *)nul + 1, jl, &d, &ev, err, sizeof err) == 0) {
            (void)cs_expr_test(e, ev);
            (void)cs_expr_eval_text(e, ev, text, sizeof text);
            cs_event_unref(ev);
        }
    }
    cs_expr_free(e);
    return 0;
}
