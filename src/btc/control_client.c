/* The control socket client library (include/chainscope/control.h).
 * Blocking: meant for tools and scripts, never for the event loop. */
#include "chainscope/control.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/value.h"
#include "net/addr.h"

struct cs_ctl {
    int fd;
    int timeout_ms;
    uint32_t next_id;
    char err[256];
    cs_buf reply; /* value of the last reply */
};

static int set_err(cs_ctl *c, int code, const char *fmt, const char *arg)
{
    snprintf(c->err, sizeof c->err, fmt, arg ? arg : "");
    return code;
}

int cs_ctl_open(const char *path, int timeout_ms, cs_ctl **out)
{
    int fd = cs_unix_connect(path);
    if (fd < 0)
        return fd == -ENOENT || fd == -ECONNREFUSED ? CS_ECLOSED : fd == CS_EINVAL ? fd : CS_EIO;
    cs_ctl *c = calloc(1, sizeof *c);
    if (!c) {
        close(fd);
        return CS_ENOMEM;
    }
    c->fd = fd;
    c->timeout_ms = timeout_ms > 0 ? timeout_ms : 10000;
    cs_buf_init(&c->reply, CS_CTL_MAX_FRAME);
    *out = c;
    return 0;
}

void cs_ctl_close(cs_ctl *c)
{
    if (!c)
        return;
    close(c->fd);
    cs_buf_free(&c->reply);
    free(c);
}

const char *cs_ctl_error(const cs_ctl *c)
{
    return c->err;
}

static int64_t ms_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int io_all(cs_ctl *c, uint8_t *p, size_t n, bool wr, int64_t deadline)
{
    while (n) {
        int left = (int)(deadline - ms_now());
        if (left <= 0)
            return set_err(c, CS_ETIMEDOUT, "control socket: no reply in time", NULL);
        struct pollfd pf = {.fd = c->fd, .events = wr ? POLLOUT : POLLIN};
        int pr = poll(&pf, 1, left);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr <= 0)
            continue;
        ssize_t r = wr ? send(c->fd, p, n, MSG_NOSIGNAL) : recv(c->fd, p, n, 0);
        if (r < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (r <= 0)
            return set_err(c, CS_ECLOSED, "control socket closed by the server", NULL);
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Sends a request and waits for its result: status into the return value,
 * the result object into c->reply. */
static int call(cs_ctl *c, uint8_t op, const void *body, size_t n, cs_val *result)
{
    if (n + 5 > CS_CTL_MAX_FRAME)
        return set_err(c, CS_ELIMIT, "request too large", NULL);
    c->err[0] = 0;
    uint32_t id = ++c->next_id;
    uint8_t hdr[9];
    put32(hdr, (uint32_t)(n + 5));
    hdr[4] = op;
    put32(hdr + 5, id);
    int64_t deadline = ms_now() + c->timeout_ms;
    int rc = io_all(c, hdr, 9, true, deadline);
    if (rc == 0 && n)
        rc = io_all(c, (uint8_t *)body, n, true, deadline);
    if (rc)
        return rc;
    for (;;) {
        uint8_t h[13];
        if ((rc = io_all(c, h, 13, false, deadline)))
            return rc;
        uint32_t len =
            (uint32_t)h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16 | (uint32_t)h[3] << 24;
        if (len < 9 || len > CS_CTL_MAX_FRAME || h[4] != CS_CTL_RESULT)
            return set_err(c, CS_EPROTO, "control socket: malformed reply", NULL);
        uint32_t rid =
            (uint32_t)h[5] | (uint32_t)h[6] << 8 | (uint32_t)h[7] << 16 | (uint32_t)h[8] << 24;
        int32_t status = (int32_t)((uint32_t)h[9] | (uint32_t)h[10] << 8 | (uint32_t)h[11] << 16 |
                                   (uint32_t)h[12] << 24);
        c->reply.len = 0;
        if ((rc = cs_buf_reserve(&c->reply, len - 9)))
            return rc;
        if ((rc = io_all(c, c->reply.data, len - 9, false, deadline)))
            return rc;
        c->reply.len = len - 9;
        if (rid != id)
            continue; /* a stale reply */
        if (cs_val_validate(c->reply.data, c->reply.len) != 0 ||
            cs_val_read(c->reply.data, c->reply.len, result, NULL) != 0 ||
            result->kind != CS_VAL_OBJECT)
            return set_err(c, CS_EPROTO, "control socket: malformed result", NULL);
        if (status != 0) {
            cs_val e;
            if (cs_val_get(result, "error", 5, &e) == 0 && e.kind == CS_VAL_STR)
                snprintf(c->err, sizeof c->err, "%.*s", (int)e.n, (const char *)e.p);
            else
                set_err(c, status, "%s", cs_strerror(status));
        }
        return status;
    }
}

static uint64_t get_u64(const cs_val *o, const char *k)
{
    cs_val v;
    if (cs_val_get(o, k, strlen(k), &v) == 0 && v.kind == CS_VAL_INT)
        return v.neg ? (uint64_t)v.i : v.u;
    return 0;
}

int cs_ctl_connect(cs_ctl *c, const char *addr, uint64_t *id)
{
    cs_val r;
    int rc = call(c, CS_CTL_CONNECT, addr, strlen(addr), &r);
    if (rc == 0 && id)
        *id = get_u64(&r, "id");
    return rc;
}

int cs_ctl_disconnect(cs_ctl *c, uint64_t id, uint64_t *count)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(id >> (8 * i));
    cs_val r;
    int rc = call(c, CS_CTL_DISCONNECT, b, 8, &r);
    if (rc == 0 && count)
        *count = get_u64(&r, "count");
    return rc;
}

static int do_register(cs_ctl *c, uint8_t kind, const void *p, size_t n, uint32_t *msg_id)
{
    uint8_t *b = malloc(n + 1);
    if (!b)
        return CS_ENOMEM;
    b[0] = kind;
    memcpy(b + 1, p, n);
    cs_val r;
    int rc = call(c, CS_CTL_REGISTER, b, n + 1, &r);
    free(b);
    if (rc == 0 && msg_id)
        *msg_id = (uint32_t)get_u64(&r, "id");
    return rc;
}

int cs_ctl_register_raw(cs_ctl *c, const void *msg, size_t n, uint32_t *msg_id)
{
    return do_register(c, 0, msg, n, msg_id);
}

int cs_ctl_register_json(cs_ctl *c, const char *json, uint32_t *msg_id)
{
    return do_register(c, 1, json, strlen(json), msg_id);
}

int cs_ctl_send(cs_ctl *c, uint32_t msg_id, const uint64_t *ids, size_t n, uint64_t *sent)
{
    if (n > (CS_CTL_MAX_FRAME - 16) / 8)
        return set_err(c, CS_ELIMIT, "too many peers in one request", NULL);
    uint8_t *b = malloc(8 + 8 * n);
    if (!b)
        return CS_ENOMEM;
    put32(b, msg_id);
    put32(b + 4, (uint32_t)n);
    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < 8; k++)
            b[8 + 8 * i + (size_t)k] = (uint8_t)(ids[i] >> (8 * k));
    cs_val r;
    int rc = call(c, CS_CTL_SEND, b, 8 + 8 * n, &r);
    free(b);
    if (rc == 0 && sent)
        *sent = get_u64(&r, "sent");
    return rc;
}

static void get_str(const cs_val *o, const char *k, char *out, size_t len)
{
    cs_val v;
    out[0] = 0;
    if (cs_val_get(o, k, strlen(k), &v) == 0 && v.kind == CS_VAL_STR)
        snprintf(out, len, "%.*s", (int)v.n, (const char *)v.p);
}

static void read_peer(const cs_val *e, cs_ctl_peer *p)
{
    cs_val v;
    p->id = get_u64(e, "id");
    get_str(e, "direction", p->direction, sizeof p->direction);
    get_str(e, "addr", p->addr, sizeof p->addr);
    p->port = (uint16_t)get_u64(e, "port");
    get_str(e, "local_addr", p->local_addr, sizeof p->local_addr);
    p->local_port = (uint16_t)get_u64(e, "local_port");
    p->ready = cs_val_get(e, "ready", 5, &v) == 0 && v.kind == CS_VAL_BOOL && v.b;
    p->version = (int32_t)get_u64(e, "version");
    p->services = get_u64(e, "services");
    get_str(e, "user_agent", p->user_agent, sizeof p->user_agent);
    p->start_height = (int32_t)get_u64(e, "start_height");
    p->rtt_ms = cs_val_get(e, "rtt_ms", 6, &v) == 0 && v.kind == CS_VAL_DOUBLE ? v.d : -1;
    p->bytes_in = get_u64(e, "bytes_in");
    p->bytes_out = get_u64(e, "bytes_out");
    p->msgs_in = get_u64(e, "msgs_in");
    p->msgs_out = get_u64(e, "msgs_out");
}

int cs_ctl_peers(cs_ctl *c, cs_ctl_peer **out, size_t *n)
{
    cs_ctl_peer *list = NULL;
    size_t len = 0, cap = 0;
    uint64_t after = 0;
    for (;;) {
        uint8_t b[12];
        put64(b, after);
        put32(b + 8, CS_CTL_PEERS_PAGE_MAX);
        cs_val r, arr, e;
        int rc = call(c, CS_CTL_PEERS, b, sizeof b, &r);
        if (rc == 0 && (cs_val_get(&r, "peers", 5, &arr) != 0 || arr.kind != CS_VAL_ARRAY))
            rc = set_err(c, CS_EPROTO, "control socket: result without peers", NULL);
        if (rc == 0 && len + arr.count > cap) {
            size_t ncap = (len + arr.count) * 2 + 16;
            cs_ctl_peer *nl = realloc(list, ncap * sizeof *nl);
            if (!nl)
                rc = CS_ENOMEM;
            else
                list = nl, cap = ncap;
        }
        if (rc) {
            free(list);
            return rc;
        }
        cs_val_iter it;
        cs_val_iter_init(&it, &arr);
        for (size_t i = 0; i < arr.count && cs_val_next(&it, NULL, NULL, &e) == 1; i++) {
            memset(&list[len], 0, sizeof list[len]);
            read_peer(&e, &list[len++]);
        }
        uint64_t next = get_u64(&r, "next");
        if (!next || next <= after)
            break;
        after = next;
    }
    *out = list ? list : calloc(1, sizeof *list);
    *n = len;
    return *out ? 0 : CS_ENOMEM;
}
