/* The blocking client of include/chainscope/client.h. */
#include "chainscope/client.h"
#include "bus/frame.h"
#include "core/error.h"
#include "net/addr.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

_Static_assert(CS_CLIENT_REASON_MAX == CS_FRAME_MAX_STR + 1, "a reason is a frame string");

#define OUT_FLUSH 65536
#define IN_CHUNK 262144

struct cs_client {
    int fd;
    cs_buf in;     /* bytes read, not yet consumed */
    size_t in_off; /* consumed prefix of in */
    cs_buf out;
    uint64_t ping_cookie;
    char error[CS_CLIENT_REASON_MAX];
    bool closed;
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int write_all(cs_client *c)
{
    size_t off = 0;
    while (off < c->out.len) {
        ssize_t n = send(c->fd, c->out.data + off, c->out.len - off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN) {
                struct pollfd p = {.fd = c->fd, .events = POLLOUT};
                poll(&p, 1, 1000);
                continue;
            }
            c->closed = true;
            return CS_ECLOSED;
        }
        off += (size_t)n;
    }
    c->out.len = 0;
    return 0;
}

/* Reads more bytes, waiting up to timeout_ms. */
static int fill(cs_client *c, int timeout_ms)
{
    if (c->closed)
        return CS_ECLOSED;
    if (c->in_off && c->in_off == c->in.len) {
        c->in.len = c->in_off = 0;
    } else if (c->in_off > (1u << 20)) {
        cs_buf_consume(&c->in, c->in_off);
        c->in_off = 0;
    }
    struct pollfd p = {.fd = c->fd, .events = POLLIN};
    int pr = poll(&p, 1, timeout_ms);
    if (pr == 0)
        return CS_ETIMEDOUT;
    if (pr < 0)
        return errno == EINTR ? CS_ETIMEDOUT : CS_EIO;
    if (cs_buf_reserve(&c->in, IN_CHUNK))
        return CS_ENOMEM;
    ssize_t n = recv(c->fd, c->in.data + c->in.len, IN_CHUNK, 0);
    if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
        c->closed = true;
        return CS_ECLOSED;
    }
    if (n > 0)
        c->in.len += (size_t)n;
    return 0;
}

/* Next whole frame from the buffer, or 0 if none yet. */
static int take_frame(cs_client *c, uint8_t *type, const uint8_t **body, size_t *len)
{
    size_t flen;
    int rc = cs_frame_peek(c->in.data + c->in_off, c->in.len - c->in_off, type, body, len, &flen);
    if (rc == 1)
        c->in_off += flen;
    return rc;
}

/* Handles control frames; returns 1 for an EVENT the caller should take. */
static int control(cs_client *c, uint8_t type, const uint8_t *body, size_t len)
{
    if (type == CS_FRAME_ERROR) {
        const uint8_t *p = body;
        const char *s;
        size_t sl;
        if (cs_frame_get_str(&p, body + len, &s, &sl) == 0)
            snprintf(c->error, sizeof c->error, "%.*s", (int)sl, s);
        return 0;
    }
    if (type == CS_FRAME_PING)
        cs_frame_put(&c->out, CS_FRAME_PONG, body, len);
    return type == CS_FRAME_EVENT;
}

static int connect_tcp(const char *hostport)
{
    struct sockaddr_storage ss;
    int rc = cs_addr_parse(hostport, 0, &ss);
    if (rc)
        return rc;
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return CS_EIO;
    socklen_t sl =
        ss.ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
    if (connect(fd, (struct sockaddr *)&ss, sl) != 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

int cs_client_connect(const char *address, const char *name, const char *token, cs_client **out)
{
    return cs_client_connect_reason(address, name, token, NULL, 0, out);
}

/* Sends HELLO and waits for WELCOME. A server that refuses the client
 * sends ERROR with its reason and closes, maybe before it has read the
 * HELLO (a write then fails): what it sent is read either way, so the
 * reason reaches the caller. */
int cs_client_connect_reason(const char *address, const char *name, const char *token, char *reason,
                             size_t reason_len, cs_client **out)
{
    *out = NULL;
    if (reason_len)
        reason[0] = 0;
    int fd = strncmp(address, "tcp:", 4) == 0 ? connect_tcp(address + 4) : cs_unix_connect(address);
    if (fd < 0)
        return fd;
    cs_client *c = calloc(1, sizeof *c);
    if (!c) {
        close(fd);
        return CS_ENOMEM;
    }
    c->fd = fd;
    cs_buf_init(&c->in, CS_FRAME_MAX + IN_CHUNK + (1u << 20));
    cs_buf_init(&c->out, 0);
    int rc = cs_frame_put_hello(&c->out, name ? name : "client", token);
    if (!rc && write_all(c)) {
        c->closed = false; /* what the server said before it closed */
        rc = 0;
    }
    int64_t deadline = now_ms() + 5000;
    while (!rc) {
        uint8_t type;
        const uint8_t *body;
        size_t len;
        int t = take_frame(c, &type, &body, &len);
        if (t < 0) {
            rc = CS_EPROTO;
            break;
        }
        if (t == 1) {
            if (type == CS_FRAME_WELCOME)
                break;
            control(c, type, body, len);
            continue;
        }
        int left = (int)(deadline - now_ms());
        if (left <= 0) {
            rc = CS_ETIMEDOUT;
            break;
        }
        rc = fill(c, left);
        if (rc == CS_ECLOSED && c->error[0])
            rc = strncmp(c->error, "authentication", 14) == 0 ? CS_EAUTH
                 : strncmp(c->error, "limit:", 6) == 0        ? CS_ELIMIT
                                                              : CS_ECLOSED;
    }
    if (rc) {
        if (reason_len)
            snprintf(reason, reason_len, "%s", c->error);
        c->out.len = 0;
        cs_client_close(c);
        return rc;
    }
    *out = c;
    return 0;
}

void cs_client_close(cs_client *c)
{
    if (!c)
        return;
    if (c->out.len && !c->closed)
        write_all(c);
    close(c->fd);
    cs_buf_free(&c->in);
    cs_buf_free(&c->out);
    free(c);
}

static int put_filter(cs_client *c, uint8_t type, const char *filter)
{
    int rc = cs_frame_put_str(&c->out, type, filter);
    return rc ? rc : write_all(c);
}

int cs_client_subscribe(cs_client *c, const char *filter)
{
    return put_filter(c, CS_FRAME_SUB, filter);
}

int cs_client_unsubscribe(cs_client *c, const char *filter)
{
    return put_filter(c, CS_FRAME_UNSUB, filter);
}

int cs_client_publish(cs_client *c, const uint8_t *record, size_t len)
{
    if (c->closed)
        return CS_ECLOSED;
    int rc = cs_frame_put(&c->out, CS_FRAME_PUB, record, len);
    if (rc)
        return rc;
    return c->out.len >= OUT_FLUSH ? write_all(c) : 0;
}

int cs_client_flush(cs_client *c, int timeout_ms)
{
    uint64_t cookie = ++c->ping_cookie;
    int rc = cs_frame_put_u64(&c->out, CS_FRAME_PING, cookie);
    if (rc || (rc = write_all(c)))
        return rc;
    int64_t deadline = timeout_ms < 0 ? INT64_MAX : now_ms() + timeout_ms;
    for (;;) {
        uint8_t type;
        const uint8_t *body;
        size_t len;
        int t = take_frame(c, &type, &body, &len);
        if (t < 0)
            return CS_EPROTO;
        if (t == 1) {
            if (type == CS_FRAME_PONG && len == 8) {
                uint64_t v = 0;
                for (int i = 0; i < 8; i++)
                    v |= (uint64_t)body[i] << (8 * i);
                if (v == cookie)
                    return 0;
            }
            /* Events that arrive meanwhile are dropped by a pure publisher;
             * a client that also subscribes reads them with cs_client_next
             * after the flush. */
            control(c, type, body, len);
            continue;
        }
        int64_t left = deadline - now_ms();
        if (left <= 0)
            return CS_ETIMEDOUT;
        if ((rc = fill(c, left > INT32_MAX ? -1 : (int)left)) && rc != CS_ETIMEDOUT)
            return rc;
    }
}

int cs_client_next(cs_client *c, const uint8_t **record, size_t *len, int timeout_ms)
{
    int64_t deadline = timeout_ms < 0 ? INT64_MAX : now_ms() + timeout_ms;
    for (;;) {
        uint8_t type;
        const uint8_t *body;
        size_t blen;
        int t = take_frame(c, &type, &body, &blen);
        if (t < 0)
            return CS_EPROTO;
        if (t == 1) {
            if (control(c, type, body, blen)) {
                *record = body;
                *len = blen;
                return 0;
            }
            if (c->out.len)
                write_all(c);
            continue;
        }
        int64_t left = timeout_ms < 0 ? -1 : deadline - now_ms();
        if (timeout_ms >= 0 && left < 0)
            left = 0;
        int rc = fill(c, left > INT32_MAX ? -1 : (int)left);
        if (rc)
            return rc;
    }
}

const char *cs_client_error(const cs_client *c)
{
    return c->error;
}

int cs_client_fd(const cs_client *c)
{
    return c->fd;
}

size_t cs_client_pending(const cs_client *c)
{
    return c->in.len - c->in_off;
}
