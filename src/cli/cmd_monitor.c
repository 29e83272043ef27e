/* chainscope monitor: try rules and monitors without sending anything. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/cli.h"
#include "cli/components.h"
#include "core/error.h"
#include "core/json.h"
#include "evm/component.h"
#include "notify/channel.h"
#include "notify/notifier.h"
#include "rules/evm_fields.h"
#include "rules/expr.h"
#include "rules/monitor_config.h"

#define MAX_LINE (16u << 20)

static void help(void)
{
    printf("usage: chainscope monitor eval --rule EXPR [--event JSON | --events FILE] [--args]\n"
           "       chainscope monitor test -c FILE --events FILE [--monitor NAME] [--json]\n"
           "       chainscope monitor test -c FILE --network NET --block N [--tx HASH]\n"
           "       chainscope monitor outbox (-c FILE | --outbox PATH) [--ack KEY | --ack-all]\n"
           "       chainscope monitor packs [NAME]\n"
           "       chainscope monitor templates\n"
           "       chainscope monitor new --template NAME --address 0x.. [--network N]\n"
           "                              [--name NAME] [--param k=v ...]\n"
           "       chainscope monitor import --from defender|oz-monitor PATH [-o OUT]\n"
           "\n"
           "Tries the rule language and monitors on events, and sends nothing.\n"
           "\n"
           "eval compiles EXPR (docs/rules.md) and, given events, prints for each one\n"
           "whether the condition holds: `true`, `false`, or the evaluation error.\n"
           "A syntax error is printed with its column and exits with status 2.\n"
           "\n"
           "packs lists the rule packs compiled in (monitors: - include: [builtin:NAME])\n"
           "and each rule: name, severity, subjects, condition and window kind. A\n"
           "monitor of the same name after the include changes that rule (its keys,\n"
           "window keys one by one); `enabled: false` switches it off.\n"
           "\n"
           "templates lists the contract templates; new prints one as a monitor for\n"
           "the monitors: section, with the ABI fragments it needs (docs/monitors.md).\n"
           "\n"
           "outbox lists the dead notifications of a notifier's outbox (given up after\n"
           "a permanent error or too many attempts: kept until acknowledged) and, with\n"
           "--ack KEY or --ack-all, deletes them.\n"
           "\n"
           "test loads the monitors, channels and notify sections of FILE, feeds the\n"
           "events to the monitors as `chainscope run` would (every pending block is\n"
           "evaluated at the end of the input, as if confirmed), and prints each\n"
           "match: why it matched, whether the alert policy lets it through, and the\n"
           "message each of its channels would get. Nothing is sent and no outbox is\n"
           "written. The events come from a file (--events), or from one block that\n"
           "is fetched from the node of an evm network of FILE (--network, --block)\n"
           "and turned into events exactly as the follower does, with that\n"
           "network's ABIs.\n"
           "\n"
           "options:\n"
           "  -r, --rule EXPR     (eval) the condition\n"
           "  -e, --event JSON    (eval) one event, as `tail --json` prints it, or a flat\n"
           "                      object of payload fields\n"
           "  -f, --events FILE   events as JSON lines (- for stdin); evm.tx and evm.log\n"
           "                      events as the EVM follower publishes them\n"
           "  -a, --args          (eval) names reach args first, as in contract monitors'\n"
           "                      event and function conditions ($0, value -> args.value)\n"
           "  -t, --type TYPE     default event type for lines without one (default test)\n"
           "  -c, --config FILE   (test) the config file\n"
           "  -m, --monitor NAME  (test) only this monitor\n"
           "      --json          (test) print each alert document as a JSON line instead\n"
           "      --network NET   (test) the evm network of FILE to fetch --block from\n"
           "                      (default: the only one)\n"
           "      --block N       (test) the block to try the monitors on\n"
           "      --tx HASH       (test) only this transaction of the block\n"
           "\n"
           "examples:\n"
           "  chainscope monitor eval --rule 'value > 0xde0b6b3a7640000' --args \\\n"
           "      --event '{\"args\":{\"value\":\"2000000000000000000\"}}'\n"
           "  chainscope monitor test -c monitors.yaml --events transfers.jsonl\n"
           "  chainscope monitor test -c chainscope.yaml --network eth-main --block 19000000 \\\n"
           "      --tx 0x5c50...e8a1\n"
           "\n"
           "exit status: 0 ok (eval: the last event matched or no event was given;\n"
           "test: ran), 1 eval: the last event did not match; test: no such block or\n"
           "transaction, 2 usage or syntax error, 3 config error, 4 I/O error (the\n"
           "node could not be asked).\n");
}

typedef int (*line_fn)(cs_event *ev, void *arg);

/* Reads JSON-lines events from path ("-": stdin) and calls fn on each. */
static int read_events(const char *path, const char *type, line_fn fn, void *arg)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (!f) {
        fprintf(stderr, "chainscope monitor: %s: cannot open\n", path);
        return CS_EXIT_FAIL;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    unsigned lineno = 0;
    int rc = 0;
    cs_event_hdr d = {.origin = "monitor-test", .network = "", .type = type, .key = ""};
    while (!rc && (n = getline(&line, &cap, f)) >= 0) {
        lineno++;
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = 0;
        if (n == 0 || line[0] == '#')
            continue;
        if ((size_t)n > MAX_LINE) {
            fprintf(stderr, "%s:%u: line too long\n", path, lineno);
            rc = CS_EXIT_USAGE;
            break;
        }
        cs_event *ev;
        char err[300];
        d.seq = lineno;
        if (cs_json_parse_event(line, (size_t)n, &d, &ev, err, sizeof err)) {
            fprintf(stderr, "%s:%u: %s\n", path, lineno, err);
            rc = CS_EXIT_USAGE;
            break;
        }
        rc = fn(ev, arg);
        cs_event_unref(ev);
    }
    free(line);
    if (f != stdin)
        fclose(f);
    return rc;
}

/* ---- eval ------------------------------------------------------------------- */

typedef struct eval_ctx {
    cs_expr *e;
    int last;
    unsigned n;
} eval_ctx;

static int eval_one(cs_event *ev, void *arg)
{
    eval_ctx *c = arg;
    char text[256];
    int rc = cs_expr_test(c->e, ev);
    c->n++;
    if (rc < 0) {
        printf("event %u: error: %s (the condition counts as false)\n", c->n, cs_strerror(rc));
        c->last = 0;
        return 0;
    }
    int tl = cs_expr_eval_text(c->e, ev, text, sizeof text);
    printf("event %u: %s", c->n, rc ? "true" : "false");
    if (tl >= 0 && strcmp(text, rc ? "true" : "false") != 0)
        printf(" (value: %s)", text);
    printf("\n");
    c->last = rc;
    return 0;
}

static int cmd_eval(int argc, char **argv)
{
    static const struct option opts[] = {
        {"rule", required_argument, NULL, 'r'},   {"event", required_argument, NULL, 'e'},
        {"events", required_argument, NULL, 'f'}, {"args", no_argument, NULL, 'a'},
        {"type", required_argument, NULL, 't'},   {NULL, 0, NULL, 0}};
    const char *rule = NULL, *event = NULL, *events = NULL, *type = "test";
    bool args = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "r:e:f:at:", opts, NULL)) != -1) {
        switch (c) {
        case 'r':
            rule = optarg;
            break;
        case 'e':
            event = optarg;
            break;
        case 'f':
            events = optarg;
            break;
        case 'a':
            args = true;
            break;
        case 't':
            type = optarg;
            break;
        default:
            return cs_cli_usage_error("monitor eval", "unknown option");
        }
    }
    if (!rule)
        return cs_cli_usage_error("monitor eval", "--rule EXPR is required");
    static const cs_expr_alias tx_aliases[] = {CS_EVM_TX_ALIASES};
    cs_expr_opts eo = {args ? "args" : NULL, tx_aliases, sizeof tx_aliases / sizeof *tx_aliases,
                       cs_evm_tx_enums, 1};
    cs_expr *e;
    char err[300];
    if (cs_expr_compile(rule, strlen(rule), &eo, &e, err, sizeof err)) {
        fprintf(stderr, "chainscope monitor eval: %s\n  %s\n", err, rule);
        /* a caret under the column, for one-line rules */
        unsigned line, col;
        if (sscanf(err, "%u:%u:", &line, &col) == 2 && line == 1 && !strchr(rule, '\n'))
            fprintf(stderr, "  %*s^\n", (int)col - 1, "");
        return CS_EXIT_USAGE;
    }
    eval_ctx ctx = {e, 1, 0};
    int rc = 0;
    if (event) {
        cs_event *ev;
        cs_event_hdr d = {.origin = "monitor-eval", .network = "", .type = type, .key = ""};
        if (cs_json_parse_event(event, strlen(event), &d, &ev, err, sizeof err)) {
            fprintf(stderr, "chainscope monitor eval: --event: %s\n", err);
            cs_expr_free(e);
            return CS_EXIT_USAGE;
        }
        eval_one(ev, &ctx);
        cs_event_unref(ev);
    }
    if (events)
        rc = read_events(events, type, eval_one, &ctx);
    if (!event && !events)
        printf("ok: the rule compiles\n");
    cs_expr_free(e);
    if (rc)
        return rc;
    return ctx.last ? CS_EXIT_OK : CS_EXIT_PROBLEM;
}

/* ---- test ------------------------------------------------------------------- */

typedef struct test_ctx {
    cs_monitor_engine *engine;
    const cs_channels_conf *channels;
    bool json;
    unsigned n, notified;
    int64_t ticked; /* event time of the last engine tick */
} test_ctx;

static void indent(const char *s)
{
    const char *p = s;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t l = nl ? (size_t)(nl - p) : strlen(p);
        printf("    %.*s\n", (int)l, p);
        p += l + (nl ? 1 : 0);
    }
}

static void on_match(const cs_match *m, void *arg)
{
    test_ctx *c = arg;
    c->n++;
    c->notified += m->notify;
    if (c->json) {
        cs_buf b;
        cs_buf_init(&b, 0);
        cs_json_value(&b, &m->doc);
        printf("%s\n", cs_buf_cstr(&b));
        cs_buf_free(&b);
        return;
    }
    printf("match %u: %s (%s, %s)\n", c->n, m->id, cs_severity_name(m->def->severity),
           cs_risk_name(m->def->risk));
    cs_val why;
    if (cs_val_get(&m->doc, "matchReasonsFormatted", 21, &why) == 0 && why.kind == CS_VAL_STR) {
        char *s = strndup((const char *)why.p, why.n);
        if (s)
            indent(s);
        free(s);
    }
    if (!m->notify) {
        printf("  held back by the alert policy: %s\n\n", cs_suppress_name(m->suppressed));
        return;
    }
    if (!m->nchannels)
        printf("  notify: no channels (none given, and no default for severity %s)\n",
               cs_severity_name(m->def->severity));
    for (size_t i = 0; i < m->nchannels; i++) {
        const cs_channel_conf *ch = NULL;
        for (size_t k = 0; c->channels && k < c->channels->n && !ch; k++)
            if (strcmp(c->channels->ch[k].name, m->channels[i]) == 0)
                ch = &c->channels->ch[k];
        if (!ch) {
            printf("  -> %s: no such channel\n", m->channels[i]);
            continue;
        }
        cs_rendered r;
        cs_rendered_init(&r);
        char err[300];
        printf("  -> %s (%s)\n", ch->name, cs_channel_type_name(ch->type));
        if (cs_channel_render(ch, m->def->title, m->def->message, &m->doc, &r, err, sizeof err)) {
            printf("    template error: %s\n", err);
        } else {
            printf("    subject: %s\n", cs_buf_cstr(&r.subject));
            if (r.text.len)
                indent(cs_buf_cstr(&r.text));
            else
                printf("    (the alert JSON)\n");
        }
        cs_rendered_free(&r);
    }
    printf("\n");
}

static int test_one(cs_event *ev, void *arg)
{
    test_ctx *c = arg;
    /* windows that fire on time (stale, absent) are checked at the events'
     * own times, once a second of them has passed */
    if (ev->time_ns > 0 && ev->time_ns - c->ticked >= 1000000000) {
        cs_monitor_engine_tick(c->engine, ev->time_ns);
        c->ticked = ev->time_ns;
    }
    cs_monitor_engine_feed(c->engine, ev);
    return 0;
}

/* ---- test --block: one block from the node ---------------------------------- */

typedef struct block_evs {
    const char *tx; /* --tx, or NULL */
    cs_event **evs;
    size_t n, cap;
    size_t txs, logs, tx_found;
    char hash[80];
    int err;
} block_evs;

static bool str_field_is(const cs_event *ev, const char *name, const char *want)
{
    cs_val v;
    return cs_event_field(ev, name, strlen(name), &v) == 0 && v.kind == CS_VAL_STR &&
           v.n == strlen(want) && strncasecmp((const char *)v.p, want, v.n) == 0;
}

/* Keeps the block's events (those of --tx only, and evm.block). */
static void keep_event(cs_sub *sub, cs_event *ev, void *arg)
{
    block_evs *b = arg;
    (void)sub;
    bool is_tx = strcmp(ev->type, CS_EVT_TX) == 0, is_log = strcmp(ev->type, CS_EVT_LOG) == 0;
    if (is_tx)
        b->txs++;
    if (is_log)
        b->logs++;
    if (b->tx && (is_tx || is_log)) {
        if (!str_field_is(ev, is_tx ? CS_EVF_TX_HASH : CS_EVF_LOG_TX_HASH, b->tx))
            return;
        b->tx_found += is_tx;
    }
    if (strcmp(ev->type, CS_EVT_BLOCK) == 0) {
        cs_val v;
        if (cs_event_field(ev, CS_EVF_HASH, strlen(CS_EVF_HASH), &v) == 0 && v.kind == CS_VAL_STR &&
            v.n < sizeof b->hash)
            snprintf(b->hash, sizeof b->hash, "%.*s", (int)v.n, (const char *)v.p);
    }
    if (b->n == b->cap) {
        size_t nc = b->cap ? b->cap * 2 : 256;
        cs_event **ne = realloc(b->evs, nc * sizeof *ne);
        if (!ne) {
            b->err = CS_ENOMEM;
            return;
        }
        b->evs = ne;
        b->cap = nc;
    }
    b->evs[b->n++] = cs_event_ref(ev);
}

/* Fetches the block and feeds its events to the engine. */
static int test_block(test_ctx *ctx, const cs_config *cfg, const char *cfgpath, const char *network,
                      const char *block, const char *tx)
{
    const void *evm = cs_config_section(cfg, "evm");
    if (!evm) {
        fprintf(stderr, "%s: no evm: section to fetch block %s from\n", cfgpath, block);
        return CS_EXIT_CONFIG;
    }
    char *end;
    errno = 0;
    unsigned long long n = strtoull(block, &end, 0);
    if (errno || *end || !*block || block[0] == '-')
        return cs_cli_usage_error("monitor test", "--block: '%s' is not a block number", block);
    if (!network && !(network = cs_evm_config_only_network(evm)))
        return cs_cli_usage_error("monitor test", "--block needs --network NET (%s has several)",
                                  cfgpath);
    block_evs b = {.tx = tx};
    uint64_t head = 0;
    char err[1024];
    int rc = cs_evm_config_fetch_block(evm, network, n, keep_event, &b, &head, err, sizeof err);
    if (rc == CS_ENOTFOUND) {
        fprintf(stderr, "%s: %s\n", cfgpath, err);
        rc = CS_EXIT_CONFIG;
    } else if (rc == CS_ERANGE) {
        fprintf(stderr, "chainscope monitor test: %s\n", err);
        rc = CS_EXIT_PROBLEM;
    } else if (rc || b.err) {
        fprintf(stderr, "chainscope monitor test: %s\n", rc ? err : cs_strerror(b.err));
        rc = CS_EXIT_FAIL;
    } else if (tx && !b.tx_found) {
        fprintf(stderr, "chainscope monitor test: transaction %s is not in block %llu of %s\n", tx,
                n, network);
        rc = CS_EXIT_PROBLEM;
    }
    if (!rc) {
        if (!ctx->json)
            printf("block %llu (%s) of %s: %zu transactions, %zu logs%s%s%s\n\n", n, b.hash,
                   network, b.txs, b.logs, tx ? "; trying transaction " : "", tx ? tx : "",
                   tx ? " only" : "");
        for (size_t i = 0; i < b.n; i++)
            cs_monitor_engine_feed(ctx->engine, b.evs[i]);
    }
    for (size_t i = 0; i < b.n; i++)
        cs_event_unref(b.evs[i]);
    free(b.evs);
    return rc;
}

static int cmd_test(int argc, char **argv)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"events", required_argument, NULL, 'f'},
                                         {"monitor", required_argument, NULL, 'm'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"type", required_argument, NULL, 't'},
                                         {"network", required_argument, NULL, 'N'},
                                         {"block", required_argument, NULL, 'B'},
                                         {"tx", required_argument, NULL, 'X'},
                                         {NULL, 0, NULL, 0}};
    const char *cfgpath = NULL, *events = NULL, *only = NULL, *type = "test", *block = NULL,
               *network = NULL, *tx = NULL;
    bool json = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:f:m:t:", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            cfgpath = optarg;
            break;
        case 'f':
            events = optarg;
            break;
        case 'm':
            only = optarg;
            break;
        case 'j':
            json = true;
            break;
        case 't':
            type = optarg;
            break;
        case 'B':
            block = optarg;
            break;
        case 'N':
            network = optarg;
            break;
        case 'X':
            tx = optarg;
            break;
        default:
            return cs_cli_usage_error("monitor test", "unknown option");
        }
    }
    if (!cfgpath)
        return cs_cli_usage_error("monitor test", "-c FILE is required");
    if (block && events)
        return cs_cli_usage_error("monitor test", "--events or --block, not both");
    if ((network || tx) && !block)
        return cs_cli_usage_error("monitor test", "--network and --tx go with --block N");
    if (!events && !block)
        return cs_cli_usage_error("monitor test", "--events FILE or --block N is required");
    cs_config *cfg;
    char err[1024];
    if (cs_cli_load_config(cfgpath, &cfg, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return CS_EXIT_CONFIG;
    }
    cs_monitors_conf *mc = cs_config_section(cfg, "monitors");
    const cs_channels_conf *cc = cs_config_section(cfg, "channels");
    const cs_notify_conf *nc = cs_config_section(cfg, "notify");
    if (!mc || !mc->n) {
        fprintf(stderr, "%s: no monitors: section\n", cfgpath);
        cs_config_free(cfg);
        return CS_EXIT_CONFIG;
    }
    size_t from = 0, n = mc->n;
    if (only) {
        for (from = 0; from < mc->n && strcmp(mc->defs[from].name, only) != 0; from++)
            ;
        if (from == mc->n) {
            fprintf(stderr, "%s: no monitor named '%s'\n", cfgpath, only);
            cs_config_free(cfg);
            return CS_EXIT_CONFIG;
        }
        n = 1;
    }
    test_ctx ctx = {.channels = cc, .json = json};
    const char *pairs[64][2];
    size_t nex = 0;
    for (size_t i = 0; nc && i < nc->nexplorers && i < 64; i++, nex++) {
        pairs[i][0] = nc->explorer_net[i];
        pairs[i][1] = nc->explorer_url[i];
    }
    cs_monitor_engine_opts eo = {.explorers = (const char *const(*)[2])pairs,
                                 .nexplorers = nex,
                                 .on_match = on_match,
                                 .arg = &ctx};
    for (int i = 0; nc && i < CS_SEV_COUNT; i++) {
        eo.default_channels[i] = (const char *const *)nc->defaults[i];
        eo.ndefault_channels[i] = nc->ndefaults[i];
    }
    if (cs_monitor_engine_new(&eo, mc->defs + from, n, &ctx.engine, err, sizeof err)) {
        fprintf(stderr, "%s: %s\n", cfgpath, err);
        cs_config_free(cfg);
        return CS_EXIT_CONFIG;
    }
    int rc = events ? read_events(events, type, test_one, &ctx)
                    : test_block(&ctx, cfg, cfgpath, network, block, tx);
    cs_monitor_engine_flush(ctx.engine);
    cs_monitor_engine_stats st;
    cs_monitor_engine_get_stats(ctx.engine, &st);
    if (!json && !rc)
        printf("%llu events, %llu transactions in %llu blocks, %u matches, %u to notify\n",
               (unsigned long long)st.events, (unsigned long long)st.txs,
               (unsigned long long)st.blocks, ctx.n, ctx.notified);
    cs_monitor_engine_close(ctx.engine);
    cs_config_free(cfg);
    return rc;
}

int cs_cmd_monitor(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        help();
        return argc < 2 ? CS_EXIT_USAGE : CS_EXIT_OK;
    }
    if (cs_cli_wants_help(argc, argv)) {
        help();
        return CS_EXIT_OK;
    }
    if (strcmp(argv[1], "eval") == 0)
        return cmd_eval(argc - 1, argv + 1);
    if (strcmp(argv[1], "test") == 0)
        return cmd_test(argc - 1, argv + 1);
    if (strcmp(argv[1], "outbox") == 0)
        return cs_cmd_monitor_outbox(argc - 1, argv + 1);
    if (strcmp(argv[1], "packs") == 0)
        return cs_cmd_monitor_packs(argc - 1, argv + 1);
    if (strcmp(argv[1], "templates") == 0)
        return cs_cmd_monitor_templates(argc - 1, argv + 1);
    if (strcmp(argv[1], "new") == 0)
        return cs_cmd_monitor_new(argc - 1, argv + 1);
    if (strcmp(argv[1], "import") == 0)
        return cs_cmd_monitor_import(argc - 1, argv + 1);
    return cs_cli_usage_error(
        "monitor", "unknown subcommand '%s' (eval, test, outbox, packs, templates, new or import)",
        argv[1]);
}
