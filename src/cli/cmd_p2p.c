/* chainscope p2p: decode and encode Bitcoin P2P messages offline. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "btc/wire.h"
#include "cli/cli.h"
#include "core/error.h"
#include "core/json.h"
#include "core/hex.h"

#define P2P_MAX_LINE (2 * (CS_WIRE_MAX_PAYLOAD + CS_WIRE_HEADER_SIZE) + 64)

static void p2p_usage(FILE *f)
{
    fprintf(f, "usage: chainscope p2p decode [--network NET] [--binary] [--no-checksum] [FILE|-]\n"
               "       chainscope p2p encode [--network NET] [--binary] [JSON...]\n"
               "\n"
               "decode reads Bitcoin P2P messages, as hex one or more per line, or raw bytes\n"
               "(input that starts with a network magic is read as binary; --binary forces\n"
               "it, as signet needs), and prints one JSON object per message:\n"
               "  {\"network\":\"main\",\"command\":\"ping\",\"size\":8,\"checksum_ok\":true,\n"
               "   \"msg\":{\"nonce\":42}}\n"
               "A message that breaks a rule (bad magic or checksum, oversized length,\n"
               "truncated payload, too many entries, ...) gives one line on stderr saying\n"
               "where and why, and decoding goes on with the next line (in --binary mode,\n"
               "with the next network magic). Exit status 1 if any message was bad.\n"
               "\n"
               "encode reads message descriptions as JSON (arguments, or one per line on\n"
               "stdin) shaped like decode's \"msg\" plus \"command\", and prints each framed\n"
               "message as hex (or raw bytes with --binary). Any command can be sent raw\n"
               "with \"payload\":\"0x...\".\n"
               "\n"
               "options:\n"
               "  --network NET   main (default), testnet3, testnet4, signet, regtest; for\n"
               "                  decode also 'any': accept every known magic\n"
               "  --binary        raw bytes instead of hex lines\n"
               "  --no-checksum   decode: do not verify checksums\n"
               "  -h, --help      this help\n"
               "\n"
               "examples:\n"
               "  echo f9beb4d970696e67000000000000000008000000f2716278"
               "2a00000000000000 | chainscope p2p decode\n"
               "  chainscope p2p encode '{\"command\":\"ping\",\"nonce\":42}'\n"
               "  chainscope p2p encode --network regtest --binary '{\"command\":\"verack\"}' | "
               "chainscope p2p decode --binary --network regtest\n");
}

typedef struct dec_state {
    cs_wire_ctx *ctx;
    const cs_wire_net *net; /* NULL: any */
    unsigned flags;
    cs_vw w;
    cs_buf out;
    unsigned long bad, good;
} dec_state;

/* Decodes one message at p; prints it or an error. Returns bytes consumed,
 * 0 if p holds an incomplete message (more input needed), or -1 after an
 * error that lost framing (resync needed). */
static long decode_one(dec_state *s, const uint8_t *p, size_t n, const char *where, bool final)
{
    cs_wire_hdr h;
    cs_wire_err err = {0};
    int rc = cs_wire_header_parse(p, n, s->net, &h, &err);
    if (rc == CS_ETRUNC && !final)
        return 0;
    if (rc) {
        fprintf(stderr, "%s: %s\n", where, err.reason);
        s->bad++;
        return -1;
    }
    if (n < CS_WIRE_HEADER_SIZE + (size_t)h.length && !final)
        return 0;
    const cs_wire_net *net = cs_wire_net_by_magic(h.magic);
    cs_vw_reset(&s->w);
    cs_vw_object_begin(&s->w);
    cs_vw_kv_str(&s->w, "network", net ? net->name : "?");
    cs_vw_kv_str(&s->w, "command", h.command);
    cs_vw_kv_u64(&s->w, "size", h.length);
    cs_vw_kv_bool(&s->w, "checksum_ok", !(s->flags & CS_WIRE_NO_CHECKSUM));
    cs_vw_key(&s->w, "msg");
    cs_vw_object_begin(&s->w);
    cs_wire_msg m;
    size_t used = 0;
    rc = cs_wire_decode(s->ctx, p, n, net, s->flags, &m, &s->w, &used, &err);
    if (rc) {
        fprintf(stderr, "%s: %s\n", where, err.reason);
        s->bad++;
        if (rc == CS_ETRUNC)
            return (long)n;
        return (long)used;
    }
    cs_vw_object_end(&s->w);
    cs_vw_object_end(&s->w);
    cs_val v;
    s->out.len = 0;
    if (cs_vw_error(&s->w) || cs_val_read(s->w.buf.data, s->w.buf.len, &v, NULL) ||
        cs_json_value(&s->out, &v) || cs_buf_putc(&s->out, '\n')) {
        fprintf(stderr, "%s: %s: cannot render\n", where, h.command);
        s->bad++;
        return (long)used;
    }
    fwrite(s->out.data, 1, s->out.len, stdout);
    s->good++;
    return (long)used;
}

static void decode_lines(dec_state *s, FILE *in)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    unsigned long ln = 0;
    uint8_t *bin = NULL;
    size_t bincap = 0;
    while ((len = getline(&line, &cap, in)) >= 0) {
        ln++;
        char *q = line;
        while (len > 0 && (q[len - 1] == '\n' || q[len - 1] == '\r' || q[len - 1] == ' ' ||
                           q[len - 1] == '\t'))
            len--;
        while (len > 0 && (*q == ' ' || *q == '\t')) {
            q++;
            len--;
        }
        if (len >= 2 && q[0] == '0' && (q[1] == 'x' || q[1] == 'X')) {
            q += 2;
            len -= 2;
        }
        if (len == 0 || q[0] == '#')
            continue;
        char where[64];
        snprintf(where, sizeof where, "line %lu", ln);
        if (len % 2 || (size_t)len > P2P_MAX_LINE) {
            fprintf(stderr, "%s: %s\n", where,
                    len % 2 ? "odd number of hex digits" : "line too long");
            s->bad++;
            continue;
        }
        size_t n = (size_t)len / 2;
        if (n > bincap) {
            uint8_t *nb = realloc(bin, n);
            if (!nb) {
                fprintf(stderr, "%s: out of memory\n", where);
                s->bad++;
                continue;
            }
            bin = nb;
            bincap = n;
        }
        bool ok = true;
        for (size_t i = 0; i < n; i++) {
            int a = cs_hex_digit(q[2 * i]), b = cs_hex_digit(q[2 * i + 1]);
            if (a < 0 || b < 0) {
                ok = false;
                break;
            }
            bin[i] = (uint8_t)(a << 4 | b);
        }
        if (!ok) {
            fprintf(stderr, "%s: not hex\n", where);
            s->bad++;
            continue;
        }
        size_t off = 0;
        while (off < n) {
            long used = decode_one(s, bin + off, n - off, where, true);
            if (used <= 0)
                break;
            off += (size_t)used;
        }
    }
    free(line);
    free(bin);
}

/* Finds the next known magic (or the chosen network's) after p[0]. */
static size_t resync(dec_state *s, const uint8_t *p, size_t n)
{
    for (size_t i = 1; i + 4 <= n; i++)
        if (s->net ? memcmp(p + i, s->net->magic, 4) == 0 : cs_wire_net_by_magic(p + i) != NULL)
            return i;
    return n > 3 ? n - 3 : 1;
}

static void decode_binary(dec_state *s, FILE *in)
{
    cs_buf b;
    cs_buf_init(&b, 2 * (CS_WIRE_MAX_PAYLOAD + CS_WIRE_HEADER_SIZE));
    uint8_t chunk[65536];
    size_t got;
    unsigned long long offset = 0;
    bool eof = false;
    while (!eof || b.len) {
        if (!eof) {
            got = fread(chunk, 1, sizeof chunk, in);
            if (got == 0)
                eof = true;
            else if (cs_buf_append(&b, chunk, got)) {
                fprintf(stderr, "input buffer full\n");
                break;
            }
        }
        size_t off = 0;
        while (off < b.len) {
            char where[64];
            snprintf(where, sizeof where, "offset %llu", offset + off);
            long used = decode_one(s, b.data + off, b.len - off, where, eof);
            if (used == 0)
                break;
            if (used < 0)
                used = (long)resync(s, b.data + off, b.len - off);
            if ((size_t)used > b.len - off)
                used = (long)(b.len - off);
            off += (size_t)used;
        }
        cs_buf_consume(&b, off);
        offset += off;
        if (eof && off == 0)
            break;
    }
    cs_buf_free(&b);
}

static int p2p_decode(int argc, char **argv)
{
    const char *netname = "main", *file = NULL;
    bool binary = false;
    dec_state s = {0};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--network") == 0 && i + 1 < argc)
            netname = argv[++i];
        else if (strcmp(argv[i], "--binary") == 0)
            binary = true;
        else if (strcmp(argv[i], "--no-checksum") == 0)
            s.flags |= CS_WIRE_NO_CHECKSUM;
        else if (argv[i][0] == '-' && argv[i][1])
            return cs_cli_usage_error("p2p decode", "unknown option '%s'", argv[i]);
        else if (!file)
            file = argv[i];
        else
            return cs_cli_usage_error("p2p decode", "one input file at most");
    }
    if (strcmp(netname, "any") != 0 && !(s.net = cs_wire_net_find(netname)))
        return cs_cli_usage_error("p2p decode", "unknown network '%s'", netname);
    FILE *in = stdin;
    if (file && strcmp(file, "-") != 0 && !(in = fopen(file, binary ? "rb" : "r"))) {
        fprintf(stderr, "chainscope p2p decode: %s: %s\n", file, strerror(errno));
        return CS_EXIT_FAIL;
    }
    if (cs_wire_ctx_new(&s.ctx)) {
        fprintf(stderr, "chainscope p2p decode: cannot set up SHA-256\n");
        return CS_EXIT_FAIL;
    }
    cs_vw_init(&s.w, 0);
    cs_buf_init(&s.out, 0);
    /* Raw messages start with a network magic, which is never text: read
     * such input as binary without being told (signet's magic starts with
     * a newline byte, so signet needs --binary). */
    int first = getc(in);
    if (first != EOF) {
        ungetc(first, in);
        if (first >= 0x80 || (first < 0x20 && first != '\n' && first != '\r' && first != '\t'))
            binary = true;
    }
    if (binary)
        decode_binary(&s, in);
    else
        decode_lines(&s, in);
    if (in != stdin)
        fclose(in);
    cs_vw_free(&s.w);
    cs_buf_free(&s.out);
    cs_wire_ctx_free(s.ctx);
    fflush(stdout);
    return s.bad ? CS_EXIT_PROBLEM : CS_EXIT_OK;
}

static int encode_json(cs_wire_ctx *ctx, const cs_wire_net *net, const char *text, bool binary,
                       cs_buf *out)
{
    cs_vw w;
    char perr[160];
    cs_vw_init(&w, 16u << 20);
    int rc = cs_json_parse_value(text, strlen(text), &w, perr, sizeof perr);
    if (rc) {
        fprintf(stderr, "chainscope p2p encode: %s\n", perr);
        cs_vw_free(&w);
        return rc;
    }
    cs_val v;
    cs_wire_err err = {0};
    out->len = 0;
    rc = cs_val_read(w.buf.data, w.buf.len, &v, NULL);
    if (rc == 0)
        rc = cs_wire_encode_desc(ctx, net, &v, out, &err);
    cs_vw_free(&w);
    if (rc) {
        fprintf(stderr, "chainscope p2p encode: %s\n",
                err.reason[0] ? err.reason : cs_strerror(rc));
        return rc;
    }
    if (binary) {
        fwrite(out->data, 1, out->len, stdout);
    } else {
        for (size_t i = 0; i < out->len; i++)
            printf("%02x", out->data[i]);
        putchar('\n');
    }
    return 0;
}

static int p2p_encode(int argc, char **argv)
{
    const char *netname = "main";
    bool binary = false;
    int first = argc;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--network") == 0 && i + 1 < argc) {
            netname = argv[++i];
        } else if (strcmp(argv[i], "--binary") == 0) {
            binary = true;
        } else if (argv[i][0] == '-' && argv[i][1] == '-') {
            return cs_cli_usage_error("p2p encode", "unknown option '%s'", argv[i]);
        } else {
            first = i;
            break;
        }
    }
    const cs_wire_net *net = cs_wire_net_find(netname);
    if (!net)
        return cs_cli_usage_error("p2p encode", "unknown network '%s'", netname);
    cs_wire_ctx *ctx;
    if (cs_wire_ctx_new(&ctx))
        return CS_EXIT_FAIL;
    cs_buf out;
    cs_buf_init(&out, 0);
    int bad = 0;
    if (first < argc) {
        for (int i = first; i < argc; i++)
            bad |= encode_json(ctx, net, argv[i], binary, &out) != 0;
    } else {
        char *line = NULL;
        size_t cap = 0;
        while (getline(&line, &cap, stdin) >= 0) {
            if (line[strspn(line, " \t\r\n")] == 0)
                continue;
            bad |= encode_json(ctx, net, line, binary, &out) != 0;
        }
        free(line);
    }
    cs_buf_free(&out);
    cs_wire_ctx_free(ctx);
    fflush(stdout);
    return bad ? CS_EXIT_PROBLEM : CS_EXIT_OK;
}

int cs_cmd_p2p(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        p2p_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? CS_EXIT_USAGE : CS_EXIT_OK;
    }
    if (cs_cli_wants_help(argc - 1, argv + 1)) {
        p2p_usage(stdout);
        return CS_EXIT_OK;
    }
    if (strcmp(argv[1], "decode") == 0)
        return p2p_decode(argc - 1, argv + 1);
    if (strcmp(argv[1], "encode") == 0)
        return p2p_encode(argc - 1, argv + 1);
    return cs_cli_usage_error("p2p", "unknown subcommand '%s' (decode or encode)", argv[1]);
}
