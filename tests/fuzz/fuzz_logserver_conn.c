/* Fuzzes what the log server does with a connection: HELLO and the token
 * check, SUB/UNSUB filters, PUB of event records into the bus, PING, the
 * output bound (cut-off), back-pressure on publishers, malformed frames,
 * over the unix socket and over TCP with a token. Includes logserver.c to
 * feed a client directly: its socket is one end of a socketpair, whose
 * other end plays the client and checks what the server sends back.
 *
 * Input: byte 0 sets the size of the chunks the rest arrives in (1..256),
 * byte 1:
 *   bit 0     the TCP server (token required) instead of the unix one
 *   bit 1     the client reads what it is sent after every chunk (otherwise
 *             only at the end: a stalled subscriber)
 *   bits 2-3  events the harness publishes into the bus after each chunk
 *   bits 4-5  their payload size (0, 100, 1000 or 4000 bytes)
 *   bit 6     another client, subscribed to everything, is connected too
 *   bit 7     up to 8 chunks arrive in one turn of the loop, as when the
 *             socket holds more than one read (unless reading is paused)
 * the rest is what the client sends.
 *
 * What must hold: the server sends only well-formed WELCOME, EVENT, PONG
 * and ERROR frames, WELCOME first and nothing after ERROR; a client that
 * got ERROR is closed; a publisher is paused before the bus queue overflows
 * (no event a client publishes is dropped) and resumed once it drains;
 * the other client is never disconnected except for being too slow; every
 * handle and byte is released when the client goes. */
/* Publishers pause past 16 queued events. A turn of the loop adds at most
 * 16 + what one chunk of 256 bytes holds (9 records) + the harness's 3 +
 * a client.dropped event: below the bound, so nothing may be dropped. */
#define BUS_QUEUE 32u
#include "../../src/bus/logserver.c"

#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#define TOKEN "fuzz-token-0123456789abcdef"
#define CLIENT_BUFFER (16u << 10)

static uv_loop_t loop;
static cs_bus *bus;
static cs_metrics *metrics;
static cs_logserver *unix_srv, *tcp_srv;
static cs_publisher harness_pub;
static char sock_dir[] = "/tmp/cs-fuzz-ls-XXXXXX";
static bool verbose; /* FUZZ_LOGSERVER_VERBOSE=1: what each input did */

/* The client's end of a socketpair and what it has been sent. */
struct peer {
    int fd;
    cs_buf got; /* bytes not yet parsed into frames */
    bool welcomed, errored, eof;
    size_t events, pongs;
    char reason[CS_FRAME_MAX_STR + 1];
};

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_logserver_conn: %s\n", what);
    __builtin_trap();
}

/* The servers live as long as the process; their socket file goes with it. */
static void remove_socket(void)
{
    char path[64];
    snprintf(path, sizeof path, "%s/ls.sock", sock_dir);
    unlink(path);
    rmdir(sock_dir);
}

static void setup(void)
{
    verbose = getenv("FUZZ_LOGSERVER_VERBOSE") != NULL;
    cs_log_set_level(verbose ? CS_LOG_WARN : CS_LOG_OFF);
    uv_loop_init(&loop);
    if (cs_bus_new(&loop, &bus) || cs_metrics_new(&metrics) || !mkdtemp(sock_dir))
        abort();
    char path[64];
    snprintf(path, sizeof path, "%s/ls.sock", sock_dir);
    cs_logserver_opts uo = {.socket_path = path, .client_buffer = CLIENT_BUFFER, .name = "fuzz"};
    cs_logserver_opts to = {.tcp_listen = "127.0.0.1:0",
                            .token = TOKEN,
                            .client_buffer = CLIENT_BUFFER,
                            .name = "fuzz-tcp"};
    if (cs_logserver_start(&loop, bus, metrics, &uo, &unix_srv) ||
        cs_logserver_start(&loop, bus, metrics, &to, &tcp_srv))
        abort();
    cs_publisher_init(&harness_pub, bus, "fuzz-harness", "fuzznet");
    atexit(remove_socket);
}

/* A client of ls over one end of a socketpair, as accept_client sets it up;
 * p gets the other end. */
static struct client *attach(cs_logserver *ls, struct peer *p, int sndbuf)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) != 0)
        abort();
    if (sndbuf)
        setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    struct client *c = client_new(ls, ls->has_tcp);
    int rc = c ? (c->is_tcp ? uv_tcp_open(&c->h.tcp, sv[0]) : uv_pipe_open(&c->h.pipe, sv[0])) : -1;
    if (rc)
        abort();
    client_attach(c);
    memset(p, 0, sizeof *p);
    p->fd = sv[1];
    cs_buf_init(&p->got, 0);
    return c;
}

/* c is still connected: logged in, or waiting for its HELLO. */
static bool alive(cs_logserver *ls, struct client *c)
{
    for (struct client *x = ls->clients; x; x = x->next)
        if (x == c)
            return true;
    for (struct client *x = ls->pending; x; x = x->next)
        if (x == c)
            return true;
    return false;
}

/* Reads what the server sent to p and checks each whole frame. */
static void take(struct peer *p)
{
    static uint8_t buf[65536];
    ssize_t n;
    while ((n = read(p->fd, buf, sizeof buf)) > 0)
        if (cs_buf_append(&p->got, buf, (size_t)n))
            abort();
    if (n == 0)
        p->eof = true;
    size_t off = 0;
    while (off < p->got.len) {
        uint8_t type;
        const uint8_t *body, *q;
        size_t blen, flen, sl;
        const char *s;
        int rc = cs_frame_peek(p->got.data + off, p->got.len - off, &type, &body, &blen, &flen);
        if (rc == 0)
            break;
        if (rc < 0)
            fail("the server sent a malformed frame header");
        if (p->errored)
            fail("the server sent a frame after ERROR");
        q = body;
        switch (type) {
        case CS_FRAME_WELCOME:
            if (p->welcomed || blen < 1 || body[0] != CS_FRAME_VERSION)
                fail("bad or repeated WELCOME");
            q++;
            if (cs_frame_get_str(&q, body + blen, &s, &sl) || q != body + blen)
                fail("malformed WELCOME");
            p->welcomed = true;
            break;
        case CS_FRAME_EVENT:
            if (!p->welcomed)
                fail("EVENT before WELCOME");
            if ((rc = cs_event_check(body, blen, NULL, NULL))) {
                fprintf(stderr, "record: %s\n", cs_strerror(rc));
                fail("EVENT with a bad record");
            }
            p->events++;
            break;
        case CS_FRAME_PONG:
            if (!p->welcomed || blen != 8)
                fail("PONG before WELCOME or not 8 bytes");
            p->pongs++;
            break;
        case CS_FRAME_ERROR:
            if (cs_frame_get_str(&q, body + blen, &s, &sl) || q != body + blen)
                fail("malformed ERROR");
            snprintf(p->reason, sizeof p->reason, "%.*s", (int)sl, s);
            p->errored = true;
            break;
        default:
            fail("the server sent a frame type meant for servers");
        }
        off += flen;
    }
    cs_buf_consume(&p->got, off);
}

/* Feeds n bytes to c as if its socket had received them. */
static void feed(struct client *c, const uint8_t *data, size_t n)
{
    uv_buf_t b;
    alloc_cb(&c->h.handle, n, &b);
    if (!b.base) {
        read_cb(&c->h.stream, UV_ENOBUFS, &b);
        return;
    }
    memcpy(b.base, data, n);
    read_cb(&c->h.stream, (ssize_t)n, &b);
}

/* A frame from the harness's own client: HELLO (with the token on TCP),
 * then SUB ">". */
static void greet(struct client *c)
{
    cs_buf b;
    cs_buf_init(&b, 0);
    if (cs_frame_put_hello(&b, "bystander", c->is_tcp ? TOKEN : "") ||
        cs_frame_put_str(&b, CS_FRAME_SUB, ">"))
        abort();
    feed(c, b.data, b.len);
    cs_buf_free(&b);
}

static void publish(unsigned count, size_t size)
{
    static const char *types[] = {"p2p.msg.ping", "evm.block.new", "demo.sample", "fuzz"};
    static uint8_t pad[4000];
    for (unsigned i = 0; i < count; i++) {
        cs_vw *w = cs_publisher_begin(&harness_pub);
        cs_vw_kv_u64(w, "n", i);
        cs_vw_kv_bytes(w, "pad", pad, size);
        cs_publisher_emit(&harness_pub, types[(harness_pub.seq + i) % 4], NULL, "k", NULL);
    }
}

/* Runs the loop once; a paused publisher must be resumed within a few
 * turns once the bus has drained (the harness publishes nothing then).
 * While some client is above its high mark the server's subscription is
 * paused on purpose (back-pressure: the bus does not drain, the sources
 * wait) until that client catches up or is cut off as stuck. */
static void turn(cs_logserver *ls, struct client *c)
{
    uv_run(&loop, UV_RUN_NOWAIT);
    for (int i = 0; i < 8 && alive(ls, c) && c->paused; i++)
        uv_run(&loop, UV_RUN_NOWAIT);
    if (alive(ls, c) && c->paused && ls->nhigh == 0)
        fail("a paused publisher was not resumed");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!bus)
        setup();
    if (size < 2)
        return 0;
    size_t chunk = 1 + (size_t)data[0];
    uint8_t flags = data[1];
    cs_logserver *ls = flags & 1 ? tcp_srv : unix_srv;
    bool reads = flags & 2;
    unsigned nevents = (flags >> 2) & 3;
    static const size_t sizes[] = {0, 100, 1000, 4000};
    size_t evsize = sizes[(flags >> 4) & 3];
    data += 2;
    size -= 2;
    int base = ls->open_handles;
    uint64_t dropped = cs_sub_dropped(unix_srv->sub) + cs_sub_dropped(tcp_srv->sub);

    struct peer by, p;
    struct client *bc = NULL;
    if (flags & 64) {
        bc = attach(ls, &by, 0);
        greet(bc);
    }
    /* A small socket buffer: a client that does not read reaches its
     * bound after a few events. */
    struct client *c = attach(ls, &p, 4096);
    bool paused = false;
    size_t off = 0;
    while (off < size && alive(ls, c)) {
        for (int k = 0; k < (flags & 128 ? 8 : 1) && off < size && alive(ls, c) && !c->paused;
             k++) {
            size_t n = size - off < chunk ? size - off : chunk;
            feed(c, data + off, n);
            off += n;
        }
        paused |= alive(ls, c) && c->paused;
        if (alive(ls, c))
            publish(nevents, evsize);
        turn(ls, c);
        if (reads)
            take(&p);
        if (bc)
            take(&by);
        if (p.errored && alive(ls, c))
            fail("a client got ERROR and stays connected");
    }
    bool bgone = bc && !alive(ls, bc);
    if (alive(ls, c)) { /* the client hangs up */
        uv_buf_t b = uv_buf_init(NULL, 0);
        read_cb(&c->h.stream, UV_EOF, &b);
    }
    if (bc && alive(ls, bc)) {
        uv_buf_t b = uv_buf_init(NULL, 0);
        read_cb(&bc->h.stream, UV_EOF, &b);
    }
    /* Until the client is freed and every event has been delivered, to
     * both servers: the loop must get there by itself. */
    for (int i = 0;
         ls->open_handles > base || cs_sub_queued(unix_srv->sub) || cs_sub_queued(tcp_srv->sub);
         i++) {
        if (i == 1000) {
            fprintf(stderr, "open handles %d (at the start %d), %zu + %zu events queued\n",
                    ls->open_handles, base, cs_sub_queued(unix_srv->sub),
                    cs_sub_queued(tcp_srv->sub));
            fail("the server does not let go of a client");
        }
        uv_run(&loop, UV_RUN_NOWAIT);
    }
    if (cs_sub_dropped(unix_srv->sub) + cs_sub_dropped(tcp_srv->sub) != dropped)
        fail("the bus dropped events: publishers were paused too late");
    take(&p);
    if (!p.eof)
        fail("the server did not close the connection");
    if (bc) {
        take(&by);
        /* its socket always has room: a cut-off comes with its reason */
        if (bgone && !(by.errored && strncmp(by.reason, "too slow", 8) == 0))
            fail("another client was disconnected");
        close(by.fd);
        cs_buf_free(&by.got);
    }
    if (verbose)
        fprintf(stderr,
                "%s client: welcomed %d, %zu events, %zu pongs, paused %d, error \"%s\"%s\n",
                ls->has_tcp ? "tcp" : "unix", p.welcomed, p.events, p.pongs, paused, p.reason,
                bc ? (bgone ? ", bystander cut off" : ", bystander stayed") : "");
    close(p.fd);
    cs_buf_free(&p.got);
    return 0;
}
