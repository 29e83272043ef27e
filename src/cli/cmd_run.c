/* chainscope run: every component a config file names, on one loop. */
#include "bus/bridge.h"
#include "bus/logserver.h"
#include "cli/cli.h"
#include "cli/components.h"
#include "cli/console.h"
#include "cli/sdnotify.h"
#include "core/bus.h"
#include "core/error.h"
#include "core/log.h"
#include "core/metrics.h"
#include "net/http_server.h"
#include "net/sigpipe.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_COMPONENTS 64
#define STOP_DEADLINE_MS 15000

typedef struct runner {
    uv_loop_t loop;
    cs_config *cfg;
    cs_bus *bus;
    cs_bridge *bridge; /* bus.connect, or NULL */
    cs_metrics *metrics;
    cs_http_server *http;
    cs_logserver *ls;
    cs_runtime rt;
    cs_publisher pub;
    char origin[300];
    cs_console *console;
    uv_signal_t sigint, sigterm, sighup;
    const cs_component *running[MAX_COMPONENTS];
    void *states[MAX_COMPONENTS];
    size_t nrunning;
    size_t pending_stops;
    struct stop_ctx {
        struct runner *r;
        size_t idx;
    } stop_ctx[MAX_COMPONENTS + 1];
    bool stopped[MAX_COMPONENTS];
    uv_timer_t stop_timer; /* the shutdown's deadline */
    bool stopping;
    bool hard_exit;
    int exit_code;
    cs_mfamily *m_dropped, *m_queued;
    cs_mseries *m_published, *m_up, *m_lost, *m_cutoffs, *m_pressed, *m_pressures;
    const char *socket_path;
    cs_sdnotify sd; /* systemd: READY, WATCHDOG, RELOADING, STOPPING */
} runner;

static void help(void)
{
    printf("usage: chainscope run -c FILE [options]\n"
           "\n"
           "Starts the components FILE names, in one process on one event loop: the\n"
           "local log server (publish/tail/other processes connect to it), the HTTP\n"
           "server for /metrics and /healthz, and every component section in the file\n"
           "(see docs/config.md). Runs until SIGINT or SIGTERM, then closes everything\n"
           "cleanly. SIGHUP re-reads FILE and applies what can change without a\n"
           "restart (log level, and each component's reloadable settings).\n"
           "Under systemd (Type=notify) it sends READY=1 once every component has\n"
           "started, WATCHDOG=1 at half of $WATCHDOG_USEC from its loop, RELOADING=1\n"
           "around a reload and STOPPING=1 at shutdown (docs/install.md).\n"
           "\n"
           "options:\n"
           "  -c, --config FILE     the config file (required)\n"
           "  -s, --socket PATH     log server socket (overrides logserver.socket)\n"
           "      --log-level LVL   debug, info, warn or error (overrides log.level)\n"
           "\n"
           "example:\n"
           "  chainscope run -c examples/minimal.yaml\n"
           "\n"
           "exit status: 0 after a clean shutdown, 3 config error, 4 start failure.\n");
}

/* ---- metrics and health ----------------------------------------------- */

static void sub_metrics(cs_sub *sub, void *arg)
{
    runner *r = arg;
    const char *v[] = {cs_sub_name(sub), NULL};
    cs_mseries_set(cs_mfamily_series(r->m_dropped, v), (double)cs_sub_dropped(sub));
    cs_mseries_set(cs_mfamily_series(r->m_queued, v), (double)cs_sub_queued(sub));
}

static void collect(cs_metrics *m, void *arg)
{
    runner *r = arg;
    (void)m;
    cs_mseries_set(r->m_published, (double)cs_bus_published(r->bus));
    cs_mseries_set(r->m_lost, (double)cs_bus_dropped(r->bus));
    cs_mseries_set(r->m_cutoffs, (double)cs_bus_cutoffs(r->bus));
    cs_mseries_set(r->m_pressed, (double)cs_bus_pressed(r->bus));
    cs_mseries_set(r->m_pressures, (double)cs_bus_pressure_count(r->bus));
    cs_bus_foreach_sub(r->bus, sub_metrics, r);
}

static void metrics_handler(const cs_http_req *req, void *arg)
{
    runner *r = arg;
    cs_buf out;
    cs_buf_init(&out, 0);
    cs_metrics_render(r->metrics, &out);
    cs_http_respond(req->conn, 200, "text/plain; version=0.0.4; charset=utf-8", out.data, out.len);
    cs_buf_free(&out);
}

static void health_handler(const cs_http_req *req, void *arg)
{
    runner *r = arg;
    if (r->stopping) {
        static const char msg[] = "stopping\n";
        cs_http_respond(req->conn, 503, NULL, msg, sizeof msg - 1);
        return;
    }
    static const char msg[] = "ok\n";
    cs_http_respond(req->conn, 200, NULL, msg, sizeof msg - 1);
}

/* ---- shutdown ------------------------------------------------------------ */

static void close_rest(runner *r)
{
    cs_bridge_stop(r->bridge, NULL); /* joins its thread: before the bus closes */
    r->bridge = NULL;
    if (r->http)
        cs_http_server_close(r->http);
    r->http = NULL;
    if (r->console)
        cs_console_stop(r->console);
    r->console = NULL;
    cs_publisher_free(&r->pub);
    cs_bus_close(r->bus);
    uv_close((uv_handle_t *)&r->sigint, NULL);
    uv_close((uv_handle_t *)&r->sigterm, NULL);
    uv_close((uv_handle_t *)&r->sighup, NULL);
    uv_close((uv_handle_t *)&r->stop_timer, NULL);
}

static void logserver_stopped(void *arg)
{
    close_rest(arg);
}

static void component_stopped(void *arg)
{
    struct stop_ctx *sc = arg;
    runner *r = sc->r;
    if (sc->idx < MAX_COMPONENTS)
        r->stopped[sc->idx] = true;
    if (--r->pending_stops > 0)
        return;
    if (r->ls) {
        cs_logserver *ls = r->ls;
        r->ls = NULL;
        cs_logserver_stop(ls, logserver_stopped, r);
    } else {
        close_rest(r);
    }
}

/* A component that never finishes stopping must not keep the process up:
 * past the deadline, say which ones are stuck and leave. */
static void stop_deadline(uv_timer_t *t)
{
    runner *r = t->data;
    char names[512] = "";
    size_t off = 0;
    for (size_t i = 0; i < r->nrunning && off < sizeof names; i++)
        if (!r->stopped[i])
            off += (size_t)snprintf(names + off, sizeof names - off, "%s%s", off ? ", " : "",
                                    r->running[i]->section.name);
    CS_ERROR("run", "shutdown did not finish within %d s (still stopping: %s); exiting",
             STOP_DEADLINE_MS / 1000, off ? names : "the log server or HTTP server");
    r->exit_code = CS_EXIT_FAIL;
    r->hard_exit = true;
    uv_stop(t->loop);
}

static void begin_stop(runner *r, const char *why)
{
    if (r->stopping)
        return;
    r->stopping = true;
    cs_sdnotify_stopping(&r->sd);
    CS_INFO("run", "%s: shutting down", why);
    cs_vw *w = cs_publisher_begin(&r->pub);
    cs_vw_kv_str(w, "signal", why);
    cs_publisher_emit(&r->pub, "chainscope.stopping", NULL, r->cfg->node, NULL);
    cs_bus_drain(r->bus, 0);
    /* Components stop in reverse start order; the guard count keeps the
     * last callback from running before every stop was asked. */
    r->pending_stops = r->nrunning + 1;
    uv_timer_start(&r->stop_timer, stop_deadline, STOP_DEADLINE_MS, 0);
    for (size_t i = r->nrunning; i-- > 0;) {
        r->stop_ctx[i] = (struct stop_ctx){r, i};
        r->running[i]->def.stop(r->states[i], component_stopped, &r->stop_ctx[i]);
    }
    r->stop_ctx[MAX_COMPONENTS] = (struct stop_ctx){r, MAX_COMPONENTS};
    component_stopped(&r->stop_ctx[MAX_COMPONENTS]);
}

static void on_signal(uv_signal_t *h, int signum)
{
    runner *r = h->data;
    if (signum == SIGHUP) {
        cs_config *nc;
        char err[1024];
        cs_sdnotify_reloading(&r->sd);
        bool ok = cs_cli_load_config(r->cfg->file, &nc, err, sizeof err) == 0;
        if (ok) {
            cs_log_set_level((enum cs_log_level)nc->log_level);
            for (size_t i = 0; i < r->nrunning; i++) {
                const cs_component *c = r->running[i];
                if (!c->def.reload)
                    continue;
                void *conf = NULL;
                for (size_t k = 0; k < nc->nsections; k++)
                    if (nc->sections[k].def->name && /* NULL: taken by an earlier one */
                        (nc->sections[k].def->name == c->section.name ||
                         strcmp(nc->sections[k].def->name, c->section.name) == 0)) {
                        conf = nc->sections[k].conf;
                        nc->sections[k].conf = NULL; /* the component owns it now */
                        nc->sections[k].def = &cs_components[cs_ncomponents].section;
                    }
                if (conf && c->def.reload(r->states[i], conf))
                    CS_WARN("run", "%s: reload failed; the old settings stay", c->section.name);
            }
            cs_config_free(nc);
            CS_INFO("run", "reloaded %s", r->cfg->file);
        } else {
            CS_WARN("run", "reload refused: %s", err);
        }
        cs_vw *w = cs_publisher_begin(&r->pub);
        cs_vw_kv_bool(w, "ok", ok);
        if (!ok)
            cs_vw_kv_str(w, "error", err);
        int erc = cs_publisher_emit(&r->pub, "chainscope.reloaded", NULL, r->cfg->node, NULL);
        if (erc)
            CS_WARN("run", "cannot publish chainscope.reloaded: %s", cs_strerror(erc));
        cs_sdnotify_reloaded(&r->sd);
        return;
    }
    begin_stop(r, signum == SIGINT ? "SIGINT" : "SIGTERM");
}

/* ---- start ---------------------------------------------------------------- */

static int start(runner *r, const char *socket_override)
{
    int rc;
    cs_config *cfg = r->cfg;
    if ((rc = cs_metrics_new(&r->metrics)) || (rc = cs_bus_new(&r->loop, &r->bus)))
        return rc;
    snprintf(r->origin, sizeof r->origin, "run@%s", cfg->node);
    cs_publisher_init(&r->pub, r->bus, r->origin, "");
    static const char *const sublabel[] = {"subscriber", NULL};
    r->m_dropped = cs_metrics_family(r->metrics, CS_METRIC_COUNTER, "chainscope_bus_dropped_total",
                                     "Events a subscriber lost because its queue was full.",
                                     sublabel, NULL, 0);
    r->m_queued = cs_metrics_family(r->metrics, CS_METRIC_GAUGE, "chainscope_bus_queued",
                                    "Events waiting in a subscriber's queue.", sublabel, NULL, 0);
    r->m_published = cs_metrics_counter(r->metrics, "chainscope_bus_published_total",
                                        "Events published on the in-process bus.");
    r->m_lost = cs_metrics_counter(r->metrics, "chainscope_bus_lost_total",
                                   "Events lost at any queue's bound, subscribers gone included.");
    r->m_cutoffs = cs_metrics_counter(r->metrics, "chainscope_bus_cutoffs_total",
                                      "Subscribers cut off at their queue's (hard) bound.");
    r->m_pressed = cs_metrics_gauge(r->metrics, "chainscope_bus_pressed",
                                    "1 while a lossless subscriber is above its high mark.");
    r->m_pressures = cs_metrics_counter(r->metrics, "chainscope_bus_pressures_total",
                                        "Times the bus became pressed.");
    r->m_up = cs_metrics_gauge(r->metrics, "chainscope_up", "1 while chainscope runs.");
    cs_mseries_set(r->m_up, 1);
    cs_metrics_on_collect(r->metrics, collect, r);

    r->rt = (cs_runtime){
        .loop = &r->loop, .bus = r->bus, .metrics = r->metrics, .config = cfg, .node = cfg->node};
    if (cfg->http_enabled) {
        cs_http_server_opts ho = {.listen = cfg->http_listen,
                                  .token = cfg->http_token,
                                  .max_connections = cfg->http_max_connections,
                                  .max_per_ip = cfg->http_max_per_ip,
                                  .request_timeout_ms = cfg->http_request_timeout_ms,
                                  .metrics = r->metrics};
        if ((rc = cs_http_server_start(&r->loop, &ho, &r->http))) {
            CS_ERROR("run", "http: cannot listen on %s: %s", cfg->http_listen, cs_strerror(rc));
            r->http = NULL;
            return rc;
        }
        cs_http_route(r->http, "/metrics", metrics_handler, r);
        cs_http_route(r->http, "/healthz", health_handler, r);
        r->rt.http = r->http;
        CS_INFO("run", "http: metrics on http://%s/metrics", cs_http_server_address(r->http));
    }
    if (cfg->logserver_enabled) {
        r->socket_path = socket_override         ? socket_override
                         : cfg->logserver_socket ? cfg->logserver_socket
                                                 : cs_cli_default_socket();
        cs_logserver_opts lo = {.socket_path = r->socket_path,
                                .tcp_listen = cfg->logserver_tcp,
                                .token = cfg->logserver_token,
                                .client_buffer = cfg->logserver_buffer,
                                .max_clients = cfg->logserver_max_clients,
                                .unix_reserved = cfg->logserver_unix_reserved,
                                .max_unauthenticated = cfg->logserver_max_unauthenticated,
                                .hello_timeout_ms = cfg->logserver_hello_timeout_ms,
                                .name = cfg->node};
        if ((rc = cs_logserver_start(&r->loop, r->bus, r->metrics, &lo, &r->ls))) {
            CS_ERROR("run", "logserver: cannot listen on %s: %s", r->socket_path,
                     rc == CS_EEXIST ? "another server is running there" : cs_strerror(rc));
            r->ls = NULL;
            return rc;
        }
        CS_INFO("run", "logserver: listening on %s%s%s", r->socket_path,
                cfg->logserver_tcp ? " and tcp " : "",
                cfg->logserver_tcp ? cs_logserver_tcp_address(r->ls) : "");
    }
    if (cfg->console_filters) {
        cs_console_opts co = {.filters = (const char *const *)cfg->console_filters,
                              .nfilters = cfg->nconsole_filters,
                              .json = cfg->console_json,
                              .buffer = (size_t)cfg->console_buffer,
                              .queue_max = cfg->bus_queue,
                              .fd = STDOUT_FILENO};
        if ((rc = cs_console_start(&r->loop, r->bus, r->metrics, &co, &r->console)))
            return rc;
    }
    for (size_t i = 0; i < cs_ncomponents; i++) {
        const cs_component *c = &cs_components[i];
        void *conf = cs_config_section(cfg, c->section.name);
        if (!conf || !c->def.start)
            continue;
        if (r->nrunning == MAX_COMPONENTS)
            return CS_ELIMIT;
        void *state = NULL;
        if ((rc = c->def.start(&r->rt, conf, &state))) {
            CS_ERROR("run", "%s: cannot start: %s", c->section.name, cs_strerror(rc));
            return rc;
        }
        r->running[r->nrunning] = c;
        r->states[r->nrunning++] = state;
        CS_INFO("run", "%s: started", c->section.name);
    }
    if (cfg->bus_connect) {
        cs_bridge_opts bo = {.address = cfg->bus_connect,
                             .name = cfg->node,
                             .import = (const char *const *)cfg->bus_import,
                             .nimport = cfg->nbus_import,
                             .export_ = (const char *const *)cfg->bus_export,
                             .nexport = cfg->nbus_export,
                             .queue_max = cfg->bus_queue};
        if ((rc = cs_bridge_start(r->bus, &bo, &r->bridge))) {
            CS_ERROR("run", "bus.connect %s: %s", cfg->bus_connect, cs_strerror(rc));
            r->bridge = NULL;
            return rc;
        }
        CS_INFO("run", "bus: bridged to the log server at %s", cfg->bus_connect);
    }
    cs_vw *w = cs_publisher_begin(&r->pub);
    cs_vw_kv_str(w, "version", CS_VERSION);
    cs_vw_kv_str(w, "node", cfg->node);
    cs_vw_key(w, "components");
    cs_vw_array_begin(w);
    for (size_t i = 0; i < r->nrunning; i++)
        cs_vw_cstr(w, r->running[i]->section.name);
    cs_vw_array_end(w);
    cs_publisher_emit(&r->pub, "chainscope.started", NULL, cfg->node, NULL);
    return 0;
}

int cs_cmd_run(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"socket", required_argument, NULL, 's'},
        {"log-level", required_argument, NULL, 'L'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *file = NULL, *sock = NULL, *level = NULL;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "c:s:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            file = optarg;
            break;
        case 's':
            sock = optarg;
            break;
        case 'L':
            level = optarg;
            break;
        case 'h':
            help();
            return CS_EXIT_OK;
        default:
            return cs_cli_usage_error("run", "unknown option");
        }
    }
    if (optind < argc)
        return cs_cli_usage_error("run", "unexpected argument '%s'", argv[optind]);
    if (!file)
        return cs_cli_usage_error("run", "which config file? (-c FILE)");
    if (level && cs_log_parse_level(level) < 0)
        return cs_cli_usage_error("run", "--log-level: debug, info, warn or error");

    runner *r = calloc(1, sizeof *r);
    if (!r)
        return CS_EXIT_FAIL;
    char err[1024];
    if (cs_cli_load_config(file, &r->cfg, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        free(r);
        return CS_EXIT_CONFIG;
    }
    cs_log_set_level((enum cs_log_level)(level ? cs_log_parse_level(level) : r->cfg->log_level));
    uv_loop_init(&r->loop);
    uv_signal_init(&r->loop, &r->sigint);
    uv_signal_init(&r->loop, &r->sigterm);
    uv_signal_init(&r->loop, &r->sighup);
    r->sigint.data = r->sigterm.data = r->sighup.data = r;
    uv_timer_init(&r->loop, &r->stop_timer);
    r->stop_timer.data = r;
    uv_unref((uv_handle_t *)&r->stop_timer);
    uv_signal_start(&r->sigint, on_signal, SIGINT);
    uv_signal_start(&r->sigterm, on_signal, SIGTERM);
    uv_signal_start(&r->sighup, on_signal, SIGHUP);
    cs_ignore_sigpipe();

    int rc = start(r, sock);
    if (rc) {
        r->exit_code = CS_EXIT_FAIL;
        if (!r->bus) {
            uv_close((uv_handle_t *)&r->sigint, NULL);
            uv_close((uv_handle_t *)&r->sigterm, NULL);
            uv_close((uv_handle_t *)&r->sighup, NULL);
            uv_close((uv_handle_t *)&r->stop_timer, NULL);
        } else {
            begin_stop(r, "start failure");
        }
    } else {
        CS_INFO("run", "%s: running %zu component%s; SIGINT or SIGTERM stops", r->cfg->node,
                r->nrunning, r->nrunning == 1 ? "" : "s");
        char status[300];
        snprintf(status, sizeof status, "%s: running %zu components", r->cfg->node, r->nrunning);
        cs_sdnotify_ready(&r->sd, &r->loop, status);
    }
    uv_run(&r->loop, UV_RUN_DEFAULT);
    if (r->hard_exit) {
        fflush(stdout);
        _exit(CS_EXIT_FAIL); /* handles are still open: no orderly teardown */
    }
    if (uv_loop_close(&r->loop) != 0)
        CS_WARN("run", "handles still open at exit");
    if (r->metrics)
        cs_metrics_free(r->metrics);
    cs_config_free(r->cfg);
    int code = r->exit_code;
    free(r);
    if (code == 0)
        CS_INFO("run", "stopped cleanly");
    return code;
}
