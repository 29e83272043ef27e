/* The horde's NATS relays (horde_nats.h): a proxy per member on the front
 * end, a relay beside each member's connector. Blocking code on a thread
 * of its own each; frames pass through unchanged. */
#include "btc/horde_nats.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "btc/ctlsrv.h"
#include "bus/nats_int.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/log.h"
#include "core/value.h"

#define FRAME_MAX (4u << 20) /* docs/control-protocol.md */
#define HEADER 9             /* u32 length, u8 type, u32 request id */
#define RESULT 0x80
#define TICK_MS 200
#define EPOCH_HEADER "Chainscope-Epoch"

struct cs_horde_relay {
    bool member;
    pthread_t th;
    bool started;
    atomic_bool stop;
    int wake[2]; /* written by stop */
    natsConnection *nc;
    natsSubscription *sub; /* member: requests; proxy: the .up notices */
    char subject[CS_HORDE_SUBJECT_MAX];
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    size_t index;
    uint32_t timeout_ms;
    int listen_fd, fd; /* proxy: its socket and the horde; member: the connector */
    cs_horde_restarted_fn restarted;
    void *arg;
    atomic_uint_fast64_t epoch; /* proxy: the member's last seen; member: its own */
    atomic_uint_fast64_t count, failed;
    cs_buf in;
};

int cs_horde_nats_subject(char *out, size_t cap, const char *prefix, const char *name, size_t index)
{
    if (!*name)
        return -1;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '_'))
            return -1;
    int n = snprintf(out, cap, "%s.horde.%s.%zu", prefix && *prefix ? prefix : "chainscope", name,
                     index);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

/* ---- frames on a socket ---------------------------------------------------- */

/* Waits for fd to be readable (or for stop); -1 on stop or timeout. */
static int wait_readable(cs_horde_relay *r, int fd, int timeout_ms)
{
    struct pollfd p[2] = {{.fd = fd, .events = POLLIN}, {.fd = r->wake[0], .events = POLLIN}};
    for (;;) {
        int n = poll(p, 2, timeout_ms);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0 || p[1].revents || atomic_load(&r->stop))
            return -1;
        return 0;
    }
}

static int read_full(cs_horde_relay *r, int fd, uint8_t *p, size_t n, int timeout_ms)
{
    while (n) {
        if (wait_readable(r, fd, timeout_ms))
            return -1;
        ssize_t k = read(fd, p, n);
        if (k < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (k <= 0)
            return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

static int write_full(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* One whole frame into r->in; -1 on a closed socket, a bad length, stop or
 * timeout (timeout_ms < 0: none). */
static int read_frame(cs_horde_relay *r, int fd, int timeout_ms, char *why, size_t whylen)
{
    uint8_t h[4];
    if (read_full(r, fd, h, 4, timeout_ms)) {
        snprintf(why, whylen, "closed or silent");
        return -1;
    }
    uint32_t len = le32(h);
    if (len < 5 || len > FRAME_MAX) {
        snprintf(why, whylen, "a frame of %" PRIu32 " bytes", len);
        return -1;
    }
    r->in.len = 0;
    if (cs_buf_reserve(&r->in, 4 + (size_t)len) != 0) {
        snprintf(why, whylen, "out of memory");
        return -1;
    }
    memcpy(r->in.data, h, 4);
    if (read_full(r, fd, (uint8_t *)r->in.data + 4, len, timeout_ms)) {
        snprintf(why, whylen, "closed mid-frame");
        return -1;
    }
    r->in.len = 4 + (size_t)len;
    return 0;
}

/* A RESULT frame for request (op, id) with status and {op, error: why}. */
static void error_frame(cs_buf *out, uint8_t op, uint32_t id, int status, const char *why)
{
    cs_vw w;
    cs_vw_init(&w, 4096);
    cs_vw_object_begin(&w);
    cs_vw_kv_str(&w, "op", cs_control_op_name(op));
    cs_vw_kv_str(&w, "error", why);
    cs_vw_object_end(&w);
    out->len = 0;
    size_t vlen = cs_vw_error(&w) ? 0 : w.buf.len;
    if (cs_buf_reserve(out, HEADER + 4 + vlen) == 0) {
        uint8_t *p = (uint8_t *)out->data;
        put32(p, (uint32_t)(1 + 4 + 4 + vlen));
        p[4] = RESULT;
        put32(p + 5, id);
        put32(p + 9, (uint32_t)status);
        if (vlen)
            memcpy(p + 13, w.buf.data, vlen);
        out->len = HEADER + 4 + vlen;
    }
    cs_vw_free(&w);
}

/* ---- common -------------------------------------------------------------------- */

static int connect_nats(cs_horde_relay *r, const cs_nats_conf *c, const char *name, char *why,
                        size_t whylen)
{
    natsOptions *o;
    int rc = cs_nats_options(c, name, &o, why, whylen);
    if (rc)
        return rc;
    /* a NATS that is down at start is waited for, as after a disconnect */
    natsOptions_SetRetryOnFailedConnect(o, true, NULL, NULL);
    natsStatus st = natsConnection_Connect(&r->nc, o);
    natsOptions_Destroy(o);
    if (st != NATS_OK && st != NATS_NOT_YET_CONNECTED) {
        snprintf(why, whylen, "cannot connect to NATS: %s", natsStatus_GetText(st));
        return CS_EIO;
    }
    return 0;
}

static cs_horde_relay *relay_new(const char *subject, const char *path, uint32_t timeout_ms,
                                 char *why, size_t whylen)
{
    cs_horde_relay *r = calloc(1, sizeof *r);
    if (!r) {
        snprintf(why, whylen, "out of memory");
        return NULL;
    }
    r->listen_fd = r->fd = -1;
    r->timeout_ms = timeout_ms ? timeout_ms : 10000;
    r->wake[0] = r->wake[1] = -1;
    cs_buf_init(&r->in, 0);
    if (strlen(subject) >= sizeof r->subject || strlen(path) >= sizeof r->path) {
        snprintf(why, whylen, "subject or socket path too long");
        free(r);
        return NULL;
    }
    strcpy(r->subject, subject);
    strcpy(r->path, path);
    if (pipe(r->wake) != 0) {
        snprintf(why, whylen, "pipe: %s", strerror(errno));
        free(r);
        return NULL;
    }
    return r;
}

static void relay_free(cs_horde_relay *r)
{
    if (r->sub) {
        natsSubscription_Unsubscribe(r->sub);
        natsSubscription_Destroy(r->sub);
    }
    if (r->nc) {
        natsConnection_Close(r->nc);
        natsConnection_Destroy(r->nc);
    }
    if (r->listen_fd >= 0) {
        close(r->listen_fd);
        unlink(r->path);
    }
    if (r->fd >= 0)
        close(r->fd);
    close(r->wake[0]);
    close(r->wake[1]);
    cs_buf_free(&r->in);
    free(r);
}

/* After the setup (rc its outcome): starts the thread, or frees r. */
static int relay_run(cs_horde_relay *r, int rc, void *(*fn)(void *), cs_horde_relay **out,
                     char *why, size_t whylen)
{
    if (!rc && pthread_create(&r->th, NULL, fn, r) != 0) {
        snprintf(why, whylen, "cannot start a thread");
        rc = CS_ENOMEM;
    }
    if (rc) {
        relay_free(r);
        return rc;
    }
    r->started = true;
    *out = r;
    return 0;
}

void cs_horde_relay_stop(cs_horde_relay *r)
{
    if (!r)
        return;
    atomic_store(&r->stop, true);
    if (write(r->wake[1], "x", 1) < 0) {
        /* the flag alone stops it at its next tick */
    }
    if (r->started)
        pthread_join(r->th, NULL);
    relay_free(r);
}

uint64_t cs_horde_relay_count(const cs_horde_relay *r, uint64_t *failed)
{
    if (failed)
        *failed = atomic_load(&r->failed);
    return atomic_load(&r->count);
}

/* ---- the proxy (front end) ------------------------------------------------------ */

static void saw_epoch(cs_horde_relay *r, uint64_t e)
{
    uint64_t old = atomic_exchange(&r->epoch, e);
    if (old && old != e) {
        CS_INFO("horde", "member %zu: its connector was restarted (epoch %" PRIu64 ")", r->index,
                e);
        if (r->restarted)
            r->restarted(r->arg, r->index);
    }
}

static void on_up(natsConnection *nc, natsSubscription *sub, natsMsg *m, void *closure)
{
    (void)nc;
    (void)sub;
    char txt[24];
    int n = natsMsg_GetDataLength(m);
    if (n > 0 && n < (int)sizeof txt) {
        memcpy(txt, natsMsg_GetData(m), (size_t)n);
        txt[n] = 0;
        saw_epoch(closure, strtoull(txt, NULL, 10));
    }
    natsMsg_Destroy(m);
}

/* One request of the horde, through NATS; the answer (or an error result)
 * goes back on the horde's socket. -1 when that socket failed. */
static int proxy_one(cs_horde_relay *r, cs_buf *out)
{
    const uint8_t *f = (const uint8_t *)r->in.data;
    uint8_t op = f[4];
    uint32_t id = r->in.len >= HEADER ? le32(f + 5) : 0;
    atomic_fetch_add(&r->count, 1);
    natsMsg *reply = NULL;
    natsStatus st = natsConnection_Request(&reply, r->nc, r->subject, (const char *)r->in.data,
                                           (int)r->in.len, (int64_t)r->timeout_ms);
    char why[300];
    if (st == NATS_OK) {
        int n = natsMsg_GetDataLength(reply);
        const uint8_t *d = (const uint8_t *)natsMsg_GetData(reply);
        const char *e = NULL;
        if (natsMsgHeader_Get(reply, EPOCH_HEADER, &e) == NATS_OK && e)
            saw_epoch(r, strtoull(e, NULL, 10));
        if (n >= HEADER + 4 && d[4] == RESULT && le32(d + 5) == id && le32(d) + 4 == (uint32_t)n) {
            int rc = write_full(r->fd, d, (size_t)n);
            natsMsg_Destroy(reply);
            return rc;
        }
        snprintf(why, sizeof why, "member %zu answered with a bad frame (%d bytes)", r->index, n);
        natsMsg_Destroy(reply);
    } else if (st == NATS_NO_RESPONDERS) {
        snprintf(why, sizeof why, "member %zu: no relay answers on %s", r->index, r->subject);
    } else if (st == NATS_TIMEOUT) {
        snprintf(why, sizeof why, "member %zu did not answer in %" PRIu32 " ms", r->index,
                 r->timeout_ms);
    } else {
        snprintf(why, sizeof why, "member %zu: NATS: %s", r->index, natsStatus_GetText(st));
    }
    atomic_fetch_add(&r->failed, 1);
    error_frame(out, op, id, CS_ECLOSED, why);
    return write_full(r->fd, (const uint8_t *)out->data, out->len);
}

static void *proxy_main(void *arg)
{
    cs_horde_relay *r = arg;
    cs_buf out;
    cs_buf_init(&out, 0);
    while (!atomic_load(&r->stop)) {
        if (wait_readable(r, r->listen_fd, -1))
            break;
        int fd = accept(r->listen_fd, NULL, NULL);
        if (fd < 0)
            continue;
        r->fd = fd;
        char why[64];
        while (read_frame(r, fd, -1, why, sizeof why) == 0)
            if (proxy_one(r, &out))
                break;
        close(fd);
        r->fd = -1;
    }
    cs_buf_free(&out);
    return NULL;
}

int cs_horde_proxy_start(const cs_horde_proxy_opts *o, cs_horde_relay **out, char *why,
                         size_t whylen)
{
    cs_horde_relay *r = relay_new(o->subject, o->path, o->timeout_ms, why, whylen);
    if (!r)
        return CS_ENOMEM;
    r->index = o->index;
    r->restarted = o->restarted;
    r->arg = o->arg;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    strcpy(sa.sun_path, r->path);
    unlink(r->path);
    int rc = 0;
    r->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    mode_t old = umask(0177); /* the socket is created 0600 */
    if (r->listen_fd < 0 || bind(r->listen_fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        listen(r->listen_fd, 4) != 0) {
        snprintf(why, whylen, "%s: %s", r->path, strerror(errno));
        rc = CS_EIO;
    }
    umask(old);
    char up[CS_HORDE_SUBJECT_MAX + 4];
    snprintf(up, sizeof up, "%s.up", r->subject);
    if (!rc)
        rc = connect_nats(r, o->nats, "chainscope-horde", why, whylen);
    if (!rc && natsConnection_Subscribe(&r->sub, r->nc, up, on_up, r) != NATS_OK) {
        snprintf(why, whylen, "cannot subscribe to %s", up);
        rc = CS_EIO;
    }
    return relay_run(r, rc, proxy_main, out, why, whylen);
}

/* ---- the member's relay ------------------------------------------------------------ */

/* Connects to the connector's socket if not connected; a new connection is
 * a new epoch, announced. */
static int member_connect(cs_horde_relay *r, char *why, size_t whylen)
{
    if (r->fd >= 0)
        return 0;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    strcpy(sa.sun_path, r->path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        snprintf(why, whylen, "its connector at %s: %s", r->path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    r->fd = fd;
    uint64_t e = atomic_fetch_add(&r->epoch, 1) + 1;
    char txt[24], up[CS_HORDE_SUBJECT_MAX + 4];
    snprintf(txt, sizeof txt, "%" PRIu64, e);
    snprintf(up, sizeof up, "%s.up", r->subject);
    natsConnection_PublishString(r->nc, up, txt);
    CS_INFO("horde", "%s: connected to the connector at %s (epoch %" PRIu64 ")", r->subject,
            r->path, e);
    return 0;
}

/* Between requests: notices a connector that went away (its socket is
 * readable at EOF) and tries to connect again. */
static void member_idle(cs_horde_relay *r)
{
    if (r->fd >= 0) {
        struct pollfd p = {.fd = r->fd, .events = POLLIN};
        if (poll(&p, 1, 0) > 0) {
            char b;
            if (recv(r->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) <= 0) {
                CS_WARN("horde", "%s: the connector closed its socket", r->subject);
                close(r->fd);
                r->fd = -1;
            }
        }
    }
    char why[300];
    member_connect(r, why, sizeof why);
}

static void member_one(cs_horde_relay *r, natsMsg *m, cs_buf *res)
{
    const char *to = natsMsg_GetReply(m);
    int n = natsMsg_GetDataLength(m);
    const uint8_t *d = (const uint8_t *)natsMsg_GetData(m);
    if (!to || n < HEADER || le32(d) + 4 != (uint32_t)n)
        return; /* not a request frame: nothing to answer */
    uint8_t op = d[4];
    uint32_t id = le32(d + 5);
    atomic_fetch_add(&r->count, 1);
    char why[300];
    int ok = member_connect(r, why, sizeof why) == 0 && write_full(r->fd, d, (size_t)n) == 0;
    if (!ok && r->fd >= 0)
        snprintf(why, sizeof why, "its connector at %s: %s", r->path, strerror(errno));
    char rwhy[64];
    if (ok && read_frame(r, r->fd, (int)r->timeout_ms, rwhy, sizeof rwhy) != 0) {
        snprintf(why, sizeof why, "its connector at %s: %s", r->path, rwhy);
        ok = 0;
    }
    const cs_buf *send = &r->in;
    if (!ok) {
        if (r->fd >= 0) {
            close(r->fd);
            r->fd = -1;
        }
        atomic_fetch_add(&r->failed, 1);
        error_frame(res, op, id, CS_ECLOSED, why);
        send = res;
        CS_WARN("horde", "%s: %s", r->subject, why);
    }
    natsMsg *out = NULL;
    if (natsMsg_Create(&out, to, NULL, (const char *)send->data, (int)send->len) == NATS_OK) {
        char e[24];
        snprintf(e, sizeof e, "%" PRIu64, (uint64_t)atomic_load(&r->epoch));
        natsMsgHeader_Set(out, EPOCH_HEADER, e);
        natsConnection_PublishMsg(r->nc, out);
        natsMsg_Destroy(out);
    }
}

static void *member_main(void *arg)
{
    cs_horde_relay *r = arg;
    cs_buf res;
    cs_buf_init(&res, 0);
    member_idle(r);
    while (!atomic_load(&r->stop)) {
        natsMsg *m = NULL;
        natsStatus st = natsSubscription_NextMsg(&m, r->sub, TICK_MS);
        if (st == NATS_OK) {
            member_one(r, m, &res);
            natsMsg_Destroy(m);
        } else {
            member_idle(r);
        }
    }
    cs_buf_free(&res);
    return NULL;
}

int cs_horde_member_start(const cs_horde_member_opts *o, cs_horde_relay **out, char *why,
                          size_t whylen)
{
    cs_horde_relay *r = relay_new(o->subject, o->connector, o->timeout_ms, why, whylen);
    if (!r)
        return CS_ENOMEM;
    r->member = true;
    int rc = connect_nats(r, o->nats, "chainscope-horde-member", why, whylen);
    /* a queue group: a second relay for the same member is a standby */
    if (!rc && natsConnection_QueueSubscribeSync(&r->sub, r->nc, r->subject, "horde") != NATS_OK) {
        snprintf(why, whylen, "cannot subscribe to %s", r->subject);
        rc = CS_EIO;
    }
    return relay_run(r, rc, member_main, out, why, whylen);
}
