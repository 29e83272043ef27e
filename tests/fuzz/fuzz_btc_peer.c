/* Fuzzes what the Bitcoin connector does with the bytes a remote peer sends:
 * framing across reads, the receive buffer bound, decoding, the version
 * handshake (both directions, delayed replies), ping/pong, sendaddrv2,
 * addr/addrv2 and every other message as events, the hooks components set,
 * the sweep's keep-alive pings, and each way a peer is closed.
 *
 * Includes connector.c and peer.c to attach a peer directly: the peer's
 * socket is one end of a socketpair (drained after each chunk) and its read
 * callback is called with the input. Events go to a bounded subscriber that
 * renders each one to JSON.
 *
 * Input: byte 0 sets the size of the chunks the rest arrives in (1..255;
 * 255: one read of up to 64 KiB), bytes 1 and 2 hold the flags below; the
 * rest is what the peer sends. */
#include "../../src/btc/connector.c"
#include "../../src/btc/peer.c"

#include <sys/socket.h>
#include <unistd.h>

#include "core/json.h"

enum {
    F_INBOUND = 1,    /* an accepted peer (else one we connected to) */
    F_CHECKSUM = 2,   /* checksums checked (else skipped to reach the handlers) */
    F_REGTEST = 4,    /* regtest magic (else main) */
    F_SMALL = 8,      /* small receive and send bounds */
    F_HOOKS = 16,     /* a component's hooks (getaddr after the handshake, ...) */
    F_DELAY = 32,     /* inbound: our version reply is delayed */
    F_SWEEP = 64,     /* the sweep runs after every chunk, its timers due */
    F_PEER_EOF = 128, /* the input ends with the peer closing (else with us) */
    /* byte 2 */
    F_EXPIRE = 256, /* with F_SWEEP: the handshake or our ping is hours old */
    F_NONCE = 512,  /* our pings carry PING_NONCE, so that pongs can match */
    F_IDLE = 1024,  /* with F_SWEEP: the peer's last message is hours old */
    F_HANGUP = 2048 /* the peer's socket closes halfway: our sends fail */
};

#define PING_NONCE 0x0807060504030201ull /* 01 02 .. 08 on the wire */

static uv_loop_t loop;
static cs_bus *bus;
static cs_connector *conns[4]; /* [regtest][small] */
static cs_metrics *regs[4];
static cs_buf json;
static bool delay_next;
static bool verbose; /* FUZZ_VERBOSE=1: print every event */

static void on_event(cs_sub *sub, cs_event *ev, void *arg)
{
    (void)sub;
    (void)arg;
    json.len = 0;
    if (cs_json_event(&json, ev) != 0)
        abort(); /* every event the connector publishes renders */
    if (verbose)
        fprintf(stderr, "%s\n", cs_buf_cstr(&json));
}

static void h_accept(cs_connector *c, cs_peer *p, void *arg)
{
    (void)c;
    (void)arg;
    if (delay_next)
        cs_peer_delay_handshake(p, 3600 * 1000);
}

static void h_handshake(cs_connector *c, cs_peer *p, void *arg)
{
    (void)arg;
    if (cs_connector_send_cmd(c, p, "getaddr", NULL, 0) != 0)
        abort();
}

/* As the crawler and simnet do: read addresses, answer getaddr, close
 * from inside the hook. */
static void h_message(cs_connector *c, cs_peer *p, const char *cmd, const cs_val *f, void *arg)
{
    (void)arg;
    cs_val arr, e, v;
    if ((strcmp(cmd, "addr") == 0 || strcmp(cmd, "addrv2") == 0) &&
        cs_val_get(f, "addresses", 9, &arr) == 0 && arr.kind == CS_VAL_ARRAY) {
        cs_val_iter it;
        size_t n = 0;
        cs_val_iter_init(&it, &arr);
        while (cs_val_next(&it, NULL, NULL, &e) == 1)
            n += cs_val_get(&e, "addr", 4, &v) == 0 && v.kind == CS_VAL_STR;
        if (arr.count > 1 && n)
            cs_peer_close(p, "crawl: addresses received");
    } else if (strcmp(cmd, "getaddr") == 0) {
        /* one address: time, services, ::ffff:127.0.0.1, port 8333 */
        uint8_t one[31] = {1, 0x4d, 0x3c, 0x00, 0x66, 1};
        one[23] = one[24] = 0xff;
        one[25] = 127;
        one[28] = 1;
        one[29] = 0x20;
        one[30] = 0x8d;
        if (cs_peer_wants_addrv2(p)) {
            /* addrv2: time, services 1, network 1 (IPv4), 127.0.0.1, 8333 */
            const uint8_t v2[] = {1, 0x4d, 0x3c, 0x00, 0x66, 1, 1, 4, 127, 0, 0, 1, 0x20, 0x8d};
            cs_connector_send_cmd(c, p, "addrv2", v2, sizeof v2);
        } else {
            cs_connector_send_cmd(c, p, "addr", one, sizeof one);
        }
    } else if (strcmp(cmd, "mempool") == 0) {
        cs_peer_abort(p, "simulated reset");
    }
}

static void h_close(cs_connector *c, cs_peer *p, bool failed, const char *reason, void *arg)
{
    (void)c;
    (void)arg;
    if (failed || !reason || !reason[0] || !cs_peer_close_code(p)[0] || p->state != PS_CLOSING)
        abort(); /* an attached peer is never "failed"; every close has a reason and a code */
}

static void setup(void)
{
    cs_log_set_level(CS_LOG_OFF);
    verbose = getenv("FUZZ_VERBOSE") != NULL;
    uv_loop_init(&loop);
    if (cs_bus_new(&loop, &bus) != 0)
        abort();
    cs_sub *sub;
    cs_sub_opts so = {.queue_max = 4096, .policy = CS_SUB_DROP, .cb = on_event, .name = "fuzz"};
    if (cs_bus_subscribe(bus, &so, &sub) != 0)
        abort();
    cs_buf_init(&json, 0);
    for (int i = 0; i < 4; i++) {
        cs_connector_opts o = {.net = cs_wire_net_find(i & 2 ? "regtest" : "main")};
        if (i & 1) {
            o.max_recv = 1024; /* the smallest allowed */
            o.max_send = 4096;
        }
        if (cs_metrics_new(&regs[i]) != 0)
            abort();
        o.metrics = regs[i];
        if (cs_connector_new(&loop, bus, &o, &conns[i]) != 0)
            abort();
    }
}

static void drain(int fd)
{
    if (fd < 0)
        return;
    char buf[65536];
    while (read(fd, buf, sizeof buf) > 0)
        ;
}

/* A peer of c over one end of a socketpair, set up as the accept path or
 * a completed outbound connection sets it up. */
static void attach(cs_connector *c, bool inbound, int fd)
{
    cs_peer *p;
    if (inbound) {
        p = cs_peer_new(c, CS_PEER_IN);
        if (!p || uv_tcp_open(&p->tcp, fd) != 0)
            abort();
        accepted(c, p);
    } else {
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(c->o.net->port)};
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        p = outbound_new(c, (struct sockaddr *)&sa);
        if (!p || uv_tcp_open(&p->tcp, fd) != 0)
            abort();
        cs_peer_on_connected(p);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!bus)
        setup();
    if (size < 3)
        return 0;
    size_t chunk = data[0] == 255 ? CS_READBUF_SIZE : 1 + (size_t)data[0];
    unsigned fl = data[1] | (unsigned)data[2] << 8;
    data += 3;
    size -= 3;
    cs_connector *c = conns[(fl & F_REGTEST ? 2 : 0) | (fl & F_SMALL ? 1 : 0)];
    c->decode_flags = fl & F_CHECKSUM ? 0 : CS_WIRE_NO_CHECKSUM;
    cs_connector_hooks h = {.on_close = h_close};
    if (fl & F_HOOKS) {
        h.on_handshake = h_handshake;
        h.on_message = h_message;
    }
    h.on_accept = h_accept;
    delay_next = fl & F_DELAY;
    cs_connector_set_hooks(c, &h);

    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) != 0)
        abort();
    attach(c, fl & F_INBOUND, sv[0]);
    uv_run(&loop, UV_RUN_NOWAIT);
    drain(sv[1]);
    /* the only peer; the connector forgets it (npeers) when it starts
     * closing it, and frees it on a later turn of the loop */
    for (size_t off = 0; off < size && c->npeers; off += chunk) {
        size_t n = size - off < chunk ? size - off : chunk;
        cs_peer *p = c->peers[0];
        if ((fl & F_HANGUP) && sv[1] >= 0 && off >= size / 2) {
            close(sv[1]);
            sv[1] = -1;
        }
        memcpy(c->readbuf, data + off, n);
        uv_buf_t b = uv_buf_init((char *)c->readbuf, (unsigned)n);
        on_read((uv_stream_t *)&p->tcp, (ssize_t)n, &b);
        if ((fl & F_SWEEP) && c->npeers) {
            /* as if time had passed: a delayed reply and a keep-alive due,
             * and with F_EXPIRE/F_IDLE more than every timeout */
            const uint64_t hours = 3 * 3600 * 1000;
            if (p->flags & PF_DELAYED)
                p->delay_until = 0;
            p->t_next_ping = 0;
            if (fl & F_EXPIRE) {
                p->t_start -= hours;
                p->t_ping_sent -= hours * 1000000;
            }
            if (fl & F_IDLE)
                p->t_last_recv -= hours;
            on_sweep(&c->sweep);
        }
        /* a predictable nonce in place of the random one */
        if ((fl & F_NONCE) && c->npeers && (p->flags & PF_PING_OUT))
            p->ping_nonce = PING_NONCE;
        uv_run(&loop, UV_RUN_NOWAIT);
        drain(sv[1]);
    }
    if (c->npeers) {
        cs_peer *p = c->peers[0];
        if (fl & F_PEER_EOF) {
            uv_buf_t b = uv_buf_init((char *)c->readbuf, 0);
            on_read((uv_stream_t *)&p->tcp, UV_EOF, &b);
        } else {
            cs_connector_disconnect(c, p->id, NULL);
        }
    }
    while (c->open_handles > 1) { /* the sweep timer */
        uv_run(&loop, UV_RUN_NOWAIT);
        drain(sv[1]);
    }
    if (sv[1] >= 0)
        close(sv[1]);
    cs_bus_drain(bus, 0);
    return 0;
}
