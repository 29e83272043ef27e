/* chainscope horde: N connector processes behind one control socket, their
 * events joined on one log server (src/btc/horde.h says how requests are
 * routed and merged). The shards are `chainscope connector --shard I/N`
 * children of this process, restarted with backoff when they die. */
#include <errno.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <uv.h>

#include "btc/horde.h"
#include "btc/horde_nats.h"
#include "bus/logserver.h"
#include "cli/cli.h"
#include "cli/natsopt.h"
#include "core/bus.h"
#include "core/error.h"
#include "core/json.h"
#include "core/log.h"

#define MAX_PASS 64

static void usage(void)
{
    printf(
        "usage: chainscope horde --connectors N --control PATH [OPTIONS] [-- CONNECTOR OPTIONS]\n"
        "\n"
        "Runs N Bitcoin P2P connector processes (shards) behind one control socket that\n"
        "speaks the connector's protocol, so `chainscope ctl` and the C client library\n"
        "drive the whole horde as one connector: connect requests are spread over the\n"
        "shards by a hash of the peer's IP, peer ids name their shard (shard I numbers\n"
        "its peers I+1, I+1+N, ...), registrations go to every shard, and disconnect-all,\n"
        "send-to-all and peers fan out and merge. The shards publish their events to a\n"
        "log server this process runs (`chainscope tail -s SOCKET` reads them all); a\n"
        "shard that dies is restarted, with backoff, and its registered messages are\n"
        "registered again. Options after `--` go to every shard (`chainscope connector\n"
        "--help` lists them; --listen, --control, --publish and --shard are the horde's).\n"
        "\n"
        "options:\n"
        "  --connectors N     shard processes (1..64, default 4)\n"
        "  --control PATH     the horde's control socket (unix, mode 0600; required)\n"
        "  --dir DIR          the shards' control sockets (default PATH.d, mode 0700)\n"
        "  -s, --socket PATH  the log server's socket (default DIR/events.sock)\n"
        "  --events FILTER    print events matching on stdout as JSON lines\n"
        "                     (repeatable; default: print nothing)\n"
        "  --timeout S        seconds a shard may take to answer (default 10)\n"
        "\n"
        "over NATS (members on other hosts, each `chainscope horde member` beside a\n"
        "`chainscope connector --shard I/N`; no shard process is started here):\n"
        "  --nats URL         a NATS server (repeatable); or -c CONFIG's nats: section\n"
        "  -c, --config F     NATS settings (servers, credentials, TLS, prefix) from F\n"
        "  --members N        members 0..N-1 (as --connectors)\n"
        "  --name NAME        the horde's name in the subjects PREFIX.horde.NAME.I\n"
        "                     (default horde)\n"
        "\n"
        "example:\n"
        "  chainscope horde --connectors 4 --control /tmp/horde.sock -- --network regtest\n"
        "  chainscope ctl -s /tmp/horde.sock connect 127.0.0.1:18444\n"
        "  chainscope tail -s /tmp/horde.sock.d/events.sock 'p2p.handshake'\n"
        "  chainscope horde --nats nats://10.0.0.1:4222 --members 2 --control /tmp/h.sock\n"
        "\n"
        "`chainscope horde member --help` shows a member's side.\n");
}

typedef struct child {
    struct horde_run *run;
    size_t index;
    uv_process_t proc;
    uv_timer_t restart;
    bool running;
    uint64_t backoff_ms;
    uint64_t started_ms;
    unsigned restarts;
} child;

typedef struct horde_run {
    uv_loop_t *loop;
    cs_bus *bus;
    cs_logserver *ls;
    cs_horde *horde;
    child kids[64];
    size_t n;
    char exe[4096];
    char **argv_tail; /* options for every shard */
    size_t ntail;
    char (*ctl_paths)[4200];
    const char *socket;
    uv_signal_t sigint, sigterm;
    uv_timer_t kill_timer;
    bool stopping;
    size_t running;
    cs_buf line;
    /* over NATS: a proxy per member, and the members whose connector was
     * restarted (bit i), told to the loop by `restarted_async` */
    cs_horde_relay *proxies[64];
    bool over_nats;
    uv_async_t restarted_async;
    atomic_uint_fast64_t restarted_bits;
} horde_run;

static void spawn(child *k);

static void on_restart_timer(uv_timer_t *t)
{
    child *k = t->data;
    if (!k->run->stopping)
        spawn(k);
}

static void maybe_finish(horde_run *r);

static void on_exit_cb(uv_process_t *p, int64_t status, int sig)
{
    child *k = p->data;
    horde_run *r = k->run;
    k->running = false;
    r->running--;
    uv_close((uv_handle_t *)&k->proc, NULL);
    if (r->stopping) {
        maybe_finish(r);
        return;
    }
    uint64_t now = uv_now(r->loop);
    /* A shard that ran a while starts again at once; one that keeps dying
     * waits longer each time (up to 30 s). */
    if (now - k->started_ms > 60000)
        k->backoff_ms = 0;
    k->backoff_ms = k->backoff_ms ? (k->backoff_ms * 2 > 30000 ? 30000 : k->backoff_ms * 2) : 200;
    CS_WARN("horde", "shard %zu exited (%s %d); starting it again in %llu ms", k->index,
            sig ? "signal" : "status", sig ? sig : (int)status, (unsigned long long)k->backoff_ms);
    uv_timer_start(&k->restart, on_restart_timer, k->backoff_ms, 0);
}

static void spawn(child *k)
{
    horde_run *r = k->run;
    char shard[32];
    snprintf(shard, sizeof shard, "%zu/%zu", k->index, r->n);
    char *args[16 + MAX_PASS];
    size_t a = 0;
    args[a++] = r->exe;
    args[a++] = "connector";
    args[a++] = "--shard";
    args[a++] = shard;
    args[a++] = "--control";
    args[a++] = r->ctl_paths[k->index];
    args[a++] = "--publish";
    args[a++] = (char *)r->socket;
    args[a++] = "--quiet";
    for (size_t i = 0; i < r->ntail; i++)
        args[a++] = r->argv_tail[i];
    args[a] = NULL;
    uv_stdio_container_t io[3] = {{.flags = UV_IGNORE},
                                  {.flags = UV_INHERIT_FD, .data.fd = 2},
                                  {.flags = UV_INHERIT_FD, .data.fd = 2}};
    uv_process_options_t po = {
        .exit_cb = on_exit_cb, .file = r->exe, .args = args, .stdio_count = 3, .stdio = io};
    k->proc.data = k;
    int rc = uv_spawn(r->loop, &k->proc, &po);
    if (rc) {
        CS_ERROR("horde", "shard %zu: cannot start %s: %s", k->index, r->exe, uv_strerror(rc));
        uv_close((uv_handle_t *)&k->proc, NULL);
        k->backoff_ms = k->backoff_ms ? k->backoff_ms * 2 : 1000;
        if (k->backoff_ms > 30000)
            k->backoff_ms = 30000;
        uv_timer_start(&k->restart, on_restart_timer, k->backoff_ms, 0);
        return;
    }
    k->running = true;
    r->running++;
    k->started_ms = uv_now(r->loop);
    if (k->restarts++)
        cs_horde_shard_restarted(r->horde, k->index);
}

static void on_event(cs_sub *sub, cs_event *ev, void *arg)
{
    horde_run *r = arg;
    (void)sub;
    r->line.len = 0;
    if (cs_json_event(&r->line, ev) == 0 && cs_buf_putc(&r->line, '\n') == 0) {
        fwrite(r->line.data, 1, r->line.len, stdout);
        fflush(stdout);
    }
}

static void ls_stopped(void *arg)
{
    horde_run *r = arg;
    r->ls = NULL;
    cs_bus_close(r->bus);
}

static void horde_closed(void *arg)
{
    horde_run *r = arg;
    r->horde = NULL;
    maybe_finish(r);
}

/* Once the horde socket is closed and every shard has exited: the log
 * server stops (after what the shards sent is delivered), then the bus. */
static void maybe_finish(horde_run *r)
{
    if (!r->stopping || r->horde || r->running)
        return;
    uv_timer_stop(&r->kill_timer);
    uv_close((uv_handle_t *)&r->kill_timer, NULL);
    for (size_t i = 0; i < r->n; i++)
        uv_close((uv_handle_t *)&r->kids[i].restart, NULL);
    if (r->over_nats) {
        for (size_t i = 0; i < r->n; i++)
            cs_horde_relay_stop(r->proxies[i]);
        uv_close((uv_handle_t *)&r->restarted_async, NULL);
    }
    if (r->ls)
        cs_logserver_stop(r->ls, ls_stopped, r);
    else
        cs_bus_close(r->bus);
}

static void on_kill_timer(uv_timer_t *t)
{
    horde_run *r = t->data;
    for (size_t i = 0; i < r->n; i++)
        if (r->kids[i].running) {
            CS_WARN("horde", "shard %zu did not stop in 5 s: killed", i);
            uv_process_kill(&r->kids[i].proc, SIGKILL);
        }
}

static void on_signal(uv_signal_t *h, int sig)
{
    horde_run *r = h->data;
    (void)sig;
    if (r->stopping)
        return;
    r->stopping = true;
    CS_INFO("horde", "stopping %zu shards", r->n);
    uv_close((uv_handle_t *)&r->sigint, NULL);
    uv_close((uv_handle_t *)&r->sigterm, NULL);
    for (size_t i = 0; i < r->n; i++) {
        uv_timer_stop(&r->kids[i].restart);
        if (r->kids[i].running)
            uv_process_kill(&r->kids[i].proc, SIGTERM);
    }
    uv_timer_start(&r->kill_timer, on_kill_timer, 5000, 0);
    cs_horde_close(r->horde, horde_closed, r);
}

/* From a proxy's thread: member i's connector was restarted. */
static void member_restarted(void *arg, size_t i)
{
    horde_run *r = arg;
    atomic_fetch_or(&r->restarted_bits, (uint_fast64_t)1 << i);
    uv_async_send(&r->restarted_async);
}

static void on_restarted(uv_async_t *a)
{
    horde_run *r = a->data;
    uint64_t bits = atomic_exchange(&r->restarted_bits, 0);
    for (size_t i = 0; i < r->n; i++)
        if (bits & ((uint64_t)1 << i) && r->horde)
            cs_horde_shard_restarted(r->horde, i);
}

/* Over NATS: a proxy per member on paths[i]. */
static int start_proxies(horde_run *r, const cs_nats_conf *c, const char *name, const char **paths,
                         uint32_t timeout_ms)
{
    char subject[CS_HORDE_SUBJECT_MAX], why[300];
    for (size_t i = 0; i < r->n; i++) {
        if (cs_horde_nats_subject(subject, sizeof subject, c->prefix, name, i) != 0)
            return cs_cli_usage_error("horde", "--name takes letters, digits, '-' and '_'");
        cs_horde_proxy_opts po = {.nats = c,
                                  .subject = subject,
                                  .path = paths[i],
                                  .index = i,
                                  .timeout_ms = timeout_ms,
                                  .restarted = member_restarted,
                                  .arg = r};
        if (cs_horde_proxy_start(&po, &r->proxies[i], why, sizeof why) != 0) {
            fprintf(stderr, "chainscope horde: member %zu: %s\n", i, why);
            for (size_t k = 0; k < i; k++)
                cs_horde_relay_stop(r->proxies[k]);
            return CS_EXIT_FAIL;
        }
    }
    return 0;
}

int cs_cmd_horde(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "member") == 0)
        return cs_cmd_horde_member(argc - 1, argv + 1);
    if (cs_cli_wants_help(argc, argv)) {
        usage();
        return CS_EXIT_OK;
    }
    horde_run r = {.n = 4};
    cs_cli_nats nats = {0};
    const char *config = NULL, *name = "horde";
    const char *control = NULL, *dir = NULL, *socket = NULL, *filters[16];
    size_t nf = 0;
    double timeout_s = 10;
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        }
        if (!v)
            return cs_cli_usage_error("horde", "%s needs a value (or is unknown)", a);
        i++;
        if (strcmp(a, "--nats") == 0) {
            int rc = cs_cli_nats_url("horde", &nats, v);
            if (rc)
                return rc;
        } else if (strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) {
            config = v;
        } else if (strcmp(a, "--name") == 0) {
            name = v;
        } else if (strcmp(a, "--connectors") == 0 || strcmp(a, "--members") == 0) {
            char *end;
            unsigned long n = strtoul(v, &end, 10);
            if (*end || n < 1 || n > 64)
                return cs_cli_usage_error("horde", "%s takes 1..64, not '%s'", a, v);
            r.n = n;
        } else if (strcmp(a, "--control") == 0) {
            control = v;
        } else if (strcmp(a, "--dir") == 0) {
            dir = v;
        } else if (strcmp(a, "-s") == 0 || strcmp(a, "--socket") == 0) {
            socket = v;
        } else if (strcmp(a, "--events") == 0) {
            if (nf == 16)
                return cs_cli_usage_error("horde", "at most 16 --events");
            filters[nf++] = v;
        } else if (strcmp(a, "--timeout") == 0) {
            timeout_s = atof(v);
            if (timeout_s <= 0)
                return cs_cli_usage_error("horde", "--timeout takes seconds > 0");
        } else {
            return cs_cli_usage_error("horde", "unknown option '%s' (shard options go after --)",
                                      a);
        }
    }
    if (!control)
        return cs_cli_usage_error("horde", "--control PATH is required");
    r.over_nats = config || nats.nurls;
    if (r.over_nats && i < argc)
        return cs_cli_usage_error("horde", "over NATS the members' connectors take their own "
                                           "options; nothing goes after --");
    r.argv_tail = argv + i;
    r.ntail = (size_t)(argc - i);
    if (r.ntail > MAX_PASS)
        return cs_cli_usage_error("horde", "at most %d shard options", MAX_PASS);
    for (size_t k = 0; k < r.ntail; k++) {
        static const char *const own[] = {"--listen", "--control", "--publish", "--shard"};
        for (size_t o = 0; o < sizeof own / sizeof *own; o++)
            if (strcmp(r.argv_tail[k], own[o]) == 0)
                return cs_cli_usage_error("horde", "%s is the horde's, not a shard option", own[o]);
    }
    char dirbuf[4096], sockbuf[4200];
    if (!dir) {
        snprintf(dirbuf, sizeof dirbuf, "%s.d", control);
        dir = dirbuf;
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "chainscope horde: cannot create %s: %s\n", dir, strerror(errno));
        return CS_EXIT_FAIL;
    }
    if (!socket) {
        snprintf(sockbuf, sizeof sockbuf, "%s/events.sock", dir);
        socket = sockbuf;
    }
    r.socket = socket;
    size_t exelen = sizeof r.exe;
    if (uv_exepath(r.exe, &exelen) != 0) {
        fprintf(stderr, "chainscope horde: cannot find its own executable\n");
        return CS_EXIT_FAIL;
    }
    r.ctl_paths = calloc(r.n, sizeof *r.ctl_paths);
    const char **paths = calloc(r.n, sizeof *paths);
    if (!r.ctl_paths || !paths)
        return CS_EXIT_FAIL;
    for (size_t k = 0; k < r.n; k++) {
        snprintf(r.ctl_paths[k], sizeof r.ctl_paths[k], "%s/%s-%zu.sock", dir,
                 r.over_nats ? "member" : "shard", k);
        paths[k] = r.ctl_paths[k];
    }
    r.loop = uv_default_loop();
    cs_buf_init(&r.line, 0);
    int exit_code = CS_EXIT_OK;
    if (cs_bus_new(r.loop, &r.bus) != 0)
        return CS_EXIT_FAIL;
    if (nf) {
        cs_sub_opts so = {
            .filters = filters, .nfilters = nf, .cb = on_event, .arg = &r, .name = "stdout"};
        cs_sub *sub;
        if (cs_bus_subscribe(r.bus, &so, &sub) != 0) {
            fprintf(stderr, "chainscope horde: bad --events filter\n");
            exit_code = CS_EXIT_USAGE;
            goto out;
        }
    }
    int rc = 0;
    if (r.over_nats) {
        /* the members' events travel on NATS: no log server here */
        if ((rc = cs_cli_nats_load("horde", config, &nats)) != 0 ||
            (rc = start_proxies(&r, nats.c, name, paths, (uint32_t)(timeout_s * 1000))) != 0) {
            exit_code = rc;
            goto out;
        }
        uv_async_init(r.loop, &r.restarted_async, on_restarted);
        r.restarted_async.data = &r;
    } else {
        cs_logserver_opts lo = {.socket_path = socket, .name = "horde"};
        rc = cs_logserver_start(r.loop, r.bus, NULL, &lo, &r.ls);
    }
    if (rc) {
        fprintf(stderr, "chainscope horde: log server on %s: %s\n", socket,
                rc == CS_EEXIST ? "another server is running there" : cs_strerror(rc));
        exit_code = CS_EXIT_FAIL;
        goto out;
    }
    cs_horde_opts ho = {.nshards = r.n,
                        .shard_paths = paths,
                        .control_path = control,
                        .bus = r.bus,
                        .timeout_ms = (uint64_t)(timeout_s * 1000)};
    if ((rc = cs_horde_new(r.loop, &ho, &r.horde)) != 0) {
        fprintf(stderr, "chainscope horde: control socket %s: %s\n", control, cs_strerror(rc));
        exit_code = CS_EXIT_FAIL;
        if (r.over_nats) {
            for (size_t k = 0; k < r.n; k++)
                cs_horde_relay_stop(r.proxies[k]);
            uv_close((uv_handle_t *)&r.restarted_async, NULL);
            goto out;
        }
        cs_logserver_stop(r.ls, ls_stopped, &r);
        goto out;
    }
    uv_timer_init(r.loop, &r.kill_timer);
    r.kill_timer.data = &r;
    for (size_t k = 0; k < r.n; k++) {
        child *c = &r.kids[k];
        c->run = &r;
        c->index = k;
        uv_timer_init(r.loop, &c->restart);
        c->restart.data = c;
        if (!r.over_nats)
            spawn(c);
    }
    uv_signal_init(r.loop, &r.sigint);
    uv_signal_init(r.loop, &r.sigterm);
    r.sigint.data = r.sigterm.data = &r;
    uv_signal_start(&r.sigint, on_signal, SIGINT);
    uv_signal_start(&r.sigterm, on_signal, SIGTERM);
    if (r.over_nats)
        fprintf(stderr, "horde: %zu members over NATS (%s.horde.%s.*); control socket %s\n", r.n,
                nats.c->prefix ? nats.c->prefix : "chainscope", name, control);
    else
        fprintf(stderr, "horde: %zu shards; control socket %s; events on %s\n", r.n, control,
                socket);
    fflush(stderr);
    uv_run(r.loop, UV_RUN_DEFAULT);
    goto done;
out:
    cs_bus_close(r.bus);
done:
    uv_run(r.loop, UV_RUN_DEFAULT);
    uv_loop_close(r.loop);
    cs_buf_free(&r.line);
    free(paths);
    free(r.ctl_paths);
    cs_cli_nats_free(&nats);
    return exit_code;
}
