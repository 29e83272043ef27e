/* chainscope abi: selectors, topics, and decoding of logs and calldata. */
#include "cli/cli.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/json.h"
#include "core/value.h"
#include "abi/abi.h"
#include "core/hex.h"
#include "abi/keccak.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void help(void)
{
    printf(
        "usage: chainscope abi selector SIGNATURE\n"
        "       chainscope abi decode-log --abi FILE --topics T0,T1,... [--data HEX]\n"
        "       chainscope abi decode-call --abi FILE --data HEX\n"
        "\n"
        "Works with the Solidity contract ABI and prints JSON on stdout.\n"
        "\n"
        "  selector     canonicalizes a human-readable signature and prints its\n"
        "               4-byte function selector and 32-byte event topic:\n"
        "               {\"signature\":\"transfer(address,uint256)\",\"selector\":\"0xa9059cbb\",\n"
        "                \"topic\":\"0x...\"}\n"
        "  decode-log   decodes an event log with a JSON ABI file (an array of\n"
        "               entries, or a compiler artifact with an \"abi\" member):\n"
        "               {\"event\":NAME,\"signature\":SIG,\"args\":{...}}\n"
        "  decode-call  decodes transaction input (selector + arguments):\n"
        "               {\"function\":NAME,\"signature\":SIG,\"selector\":HEX,\"args\":{...}}\n"
        "\n"
        "options:\n"
        "  --abi FILE       the JSON ABI file\n"
        "  --topics LIST    the log's topics, comma-separated 0x hex (32 bytes each);\n"
        "                   empty for a log without topics (anonymous events)\n"
        "  --data HEX       the log data or calldata, 0x hex (default: empty)\n"
        "  --event NAME     decode-log: decode as this event (required for anonymous\n"
        "                   events that share a shape)\n"
        "\n"
        "In the output, integers are decimal strings (exact at 256 bits), addresses\n"
        "lowercase 0x hex, bytes 0x hex, tuples objects keyed by component name\n"
        "(unnamed components by position), indexed strings, bytes, arrays and\n"
        "tuples their 32-byte topic hash. See docs/abi.md.\n"
        "\n"
        "exit codes: 0 decoded, 1 the input does not decode with the ABI (the\n"
        "reason is on stderr), 2 usage or malformed hex, 3 unreadable or invalid ABI.\n"
        "\n"
        "examples:\n"
        "  chainscope abi selector 'transfer(address to, uint256 amount)'\n"
        "  chainscope abi decode-log --abi erc20.json \\\n"
        "    --topics 0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef,"
        "0x00...01,0x00...02 \\\n"
        "    --data 0x00000000000000000000000000000000000000000000000000000000000003e8\n");
}

static int print_value(cs_vw *w)
{
    cs_buf out;
    cs_buf_init(&out, 0);
    cs_val v;
    int rc = cs_val_read(w->buf.data, w->buf.len, &v, NULL);
    if (!rc)
        rc = cs_json_value(&out, &v);
    if (!rc) {
        fwrite(out.data, 1, out.len, stdout);
        putchar('\n');
    }
    cs_buf_free(&out);
    return rc ? CS_EXIT_FAIL : CS_EXIT_OK;
}

static int cmd_selector(int argc, char **argv)
{
    if (argc != 2)
        return cs_cli_usage_error("abi", "selector takes one SIGNATURE");
    char canon[4096], err[256];
    if (cs_abi_canonical(argv[1], canon, sizeof canon, err, sizeof err))
        return cs_cli_usage_error("abi", "bad signature '%s': %s", argv[1], err);
    uint8_t h[32];
    cs_keccak256(canon, strlen(canon), h);
    char sel[11], topic[67];
    cs_hex_encode(h, 4, sel);
    cs_hex_encode(h, 32, topic);
    cs_vw w;
    cs_vw_init(&w, 0);
    cs_vw_object_begin(&w);
    cs_vw_kv_str(&w, "signature", canon);
    cs_vw_kv_str(&w, "selector", sel);
    cs_vw_kv_str(&w, "topic", topic);
    cs_vw_object_end(&w);
    int rc = print_value(&w);
    cs_vw_free(&w);
    return rc;
}

/* Decodes a 0x hex argument into a new buffer (caller frees). */
static int hex_arg(const char *flag, const char *s, uint8_t **out, size_t *len)
{
    size_t n = strlen(s);
    *out = malloc(n / 2 + 1);
    if (!*out)
        return CS_EXIT_FAIL;
    int rc = cs_hex_decode(s, n, *out, n / 2 + 1, len);
    if (rc) {
        free(*out);
        *out = NULL;
        return cs_cli_usage_error(
            "abi", "%s: %s", flag,
            (n - ((n >= 2 && s[1] == 'x') ? 2 : 0)) & 1 ? "odd number of hex digits" : "not hex");
    }
    return 0;
}

static int cmd_decode(int argc, char **argv, bool call)
{
    const char *abi_path = NULL, *topics = NULL, *data = "0x", *event = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **dst = strcmp(a, "--abi") == 0      ? &abi_path
                           : strcmp(a, "--topics") == 0 ? &topics
                           : strcmp(a, "--data") == 0   ? &data
                           : strcmp(a, "--event") == 0  ? &event
                                                        : NULL;
        if (!dst)
            return cs_cli_usage_error("abi", "unknown option '%s'", a);
        if (i + 1 >= argc)
            return cs_cli_usage_error("abi", "%s needs a value", a);
        *dst = argv[++i];
    }
    if (!abi_path)
        return cs_cli_usage_error("abi", "%s needs --abi FILE", argv[0]);
    if (!call && !topics)
        return cs_cli_usage_error("abi", "decode-log needs --topics (may be empty: --topics '')");
    if (call && (topics || event))
        return cs_cli_usage_error("abi", "decode-call takes --abi and --data only");

    uint8_t(*tv)[32] = NULL;
    size_t nt = 0;
    uint8_t *d = NULL;
    size_t dl = 0;
    cs_abi *abi = NULL;
    int ret = CS_EXIT_OK;
    if (topics && *topics) {
        size_t cap = 1;
        for (const char *p = topics; *p; p++)
            cap += *p == ',';
        tv = calloc(cap, 32);
        if (!tv)
            return CS_EXIT_FAIL;
        const char *p = topics;
        for (;;) {
            const char *e = strchr(p, ',');
            size_t n = e ? (size_t)(e - p) : strlen(p), got;
            if (cs_hex_decode(p, n, tv[nt], 32, &got) || got != 32) {
                ret = cs_cli_usage_error(
                    "abi", "--topics: topic %zu '%.*s' is not 32 bytes of 0x hex", nt, (int)n, p);
                goto out;
            }
            nt++;
            if (!e)
                break;
            p = e + 1;
        }
    }
    if ((ret = hex_arg("--data", data, &d, &dl)))
        goto out;
    char err[512];
    if (cs_abi_load_file(abi_path, &abi, err, sizeof err)) {
        fprintf(stderr, "chainscope abi: %s\n", err);
        ret = CS_EXIT_CONFIG;
        goto out;
    }
    /* Decode the arguments first, then write them after the names. */
    cs_vw args, w;
    cs_vw_init(&args, 64u << 20);
    cs_vw_init(&w, 0);
    const char *name = NULL, *sig = NULL;
    char sel[11] = "";
    int rc;
    if (call) {
        const cs_abi_func *fn = NULL;
        rc = cs_abi_decode_call(abi, d, dl, CS_ABI_INTS_AS_STRINGS, &args, NULL, &fn, err,
                                sizeof err);
        if (!rc) {
            name = fn->name;
            sig = fn->signature;
            cs_hex_encode(fn->selector, 4, sel);
        }
    } else {
        const cs_abi_event *ev = NULL;
        if (event && !(ev = cs_abi_find_event_name(abi, event))) {
            snprintf(err, sizeof err, "%s has no event named '%s'", abi_path, event);
            rc = CS_ENOTFOUND;
        } else if (ev) {
            rc = cs_abi_decode_event(ev, (const uint8_t(*)[32])tv, nt, d, dl,
                                     CS_ABI_INTS_AS_STRINGS, &args, NULL, err, sizeof err);
        } else {
            rc = cs_abi_decode_log(abi, (const uint8_t(*)[32])tv, nt, d, dl, CS_ABI_INTS_AS_STRINGS,
                                   &args, NULL, &ev, err, sizeof err);
        }
        if (!rc) {
            name = ev->name;
            sig = ev->signature;
        }
    }
    if (rc) {
        fprintf(stderr, "chainscope abi: %s\n", err);
        ret = CS_EXIT_PROBLEM;
    } else {
        cs_vw_object_begin(&w);
        cs_vw_kv_str(&w, call ? "function" : "event", name);
        cs_vw_kv_str(&w, "signature", sig);
        if (call)
            cs_vw_kv_str(&w, "selector", sel);
        cs_vw_key(&w, "args");
        cs_vw_raw(&w, args.buf.data, args.buf.len);
        cs_vw_object_end(&w);
        ret = print_value(&w);
    }
    cs_vw_free(&args);
    cs_vw_free(&w);
out:
    cs_abi_free(abi);
    free(tv);
    free(d);
    return ret;
}

int cs_cmd_abi(int argc, char **argv)
{
    if (argc < 2 || cs_cli_wants_help(argc, argv)) {
        help();
        return argc < 2 ? CS_EXIT_USAGE : CS_EXIT_OK;
    }
    if (strcmp(argv[1], "selector") == 0)
        return cmd_selector(argc - 1, argv + 1);
    if (strcmp(argv[1], "decode-log") == 0)
        return cmd_decode(argc - 1, argv + 1, false);
    if (strcmp(argv[1], "decode-call") == 0)
        return cmd_decode(argc - 1, argv + 1, true);
    return cs_cli_usage_error("abi", "unknown subcommand '%s'", argv[1]);
}
