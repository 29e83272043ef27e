/* The local log server: unix socket and TCP connections, HELLO and the
 * token, the limits before and at login, frames, filters, PING/PONG and
 * writing to clients (docs/protocol.md). Its side toward the bus (fan-out,
 * back-pressure, barriers) is logserver_flow.c. */
#include "bus/logserver_int.h"
#include "core/error.h"
#include "core/log.h"
#include "core/subject.h"
#include "net/addr.h"
#include "net/sigpipe.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

enum refusal { HELLO_TIMEOUT, HELLO_TOO_LARGE, UNAUTH_LIMIT, CLIENT_LIMIT };
static const char *const refusal_names[] = {"hello_timeout", "hello_too_large",
                                            "unauthenticated_limit", "client_limit"};

static void client_close(struct client *c);
static void flush(struct client *c);
static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *b);
static void read_cb(uv_stream_t *st, ssize_t nread, const uv_buf_t *b);

static void maybe_free(cs_logserver *ls)
{
    if (ls->open_handles > 0)
        return;
    void (*done)(void *) = ls->done;
    void *arg = ls->done_arg;
    cs_publisher_free(&ls->pub);
    cs_ftab_free(&ls->filters);
    free(ls->hits);
    free(ls->socket_path);
    free(ls->token);
    free(ls->name);
    free(ls);
    if (done)
        done(arg);
}

static void server_handle_closed(uv_handle_t *h)
{
    cs_logserver *ls = h->data;
    ls->open_handles--;
    maybe_free(ls);
}

static void client_closed(uv_handle_t *h)
{
    struct client *c = h->data;
    cs_logserver *ls = c->ls;
    for (size_t i = 0; i < c->nfilters; i++)
        free(c->filters[i]);
    cs_buf_free(&c->in);
    cs_buf_free(&c->out);
    cs_buf_free(&c->wbuf);
    free(c);
    ls->open_handles--;
    maybe_free(ls);
}

/* Lists of clients: linked at the head, unlinked from anywhere. */
static void list_link(struct client **head, struct client *c)
{
    c->next = *head;
    if (*head)
        (*head)->pprev = &c->next;
    *head = c;
    c->pprev = head;
}

static void list_unlink(struct client *c)
{
    *c->pprev = c->next;
    if (c->next)
        c->next->pprev = c->pprev;
    c->next = NULL;
    c->pprev = &c->next;
}

static void count_clients(cs_logserver *ls)
{
    cs_mseries_set(ls->m_clients, (double)ls->nclients);
    cs_mseries_set(ls->m_unauth, (double)(ls->npending[0] + ls->npending[1]));
}

static void client_close(struct client *c)
{
    if (c->closing)
        return;
    c->closing = true;
    cs_logserver *ls = c->ls;
    if (c->paused)
        ls->npaused--;
    ls->npings -= c->npings;
    for (size_t i = 0; i < c->nfilters; i++)
        cs_ftab_remove(&ls->filters, c->filters[i], c->flen[i], c);
    c->out.len = c->wbuf.len = 0;
    cs_ls_output_changed(c);
    cs_ls_barriers_forget(ls, c);
    list_unlink(c);
    ls->nclients--;
    if (c->hello)
        ls->nauth[c->is_tcp]--;
    else
        ls->npending[c->is_tcp]--;
    count_clients(ls);
    CS_DEBUG("logserver", "client %llu (%s) closed", (unsigned long long)c->id, c->name);
    uv_close(&c->h.handle, client_closed);
}

/* Sends an ERROR frame if the socket takes it now, then closes. */
void cs_ls_client_fail(struct client *c, const char *fmt, ...)
{
    char reason[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    CS_WARN("logserver", "client %llu (%s%s) disconnected: %s", (unsigned long long)c->id, c->name,
            c->peer, reason);
    if (c->hello && !c->ls->stopping) {
        cs_vw *w = cs_publisher_begin(&c->ls->pub);
        cs_vw_kv_u64(w, "client", c->id);
        cs_vw_kv_str(w, "name", c->name);
        cs_vw_kv_str(w, "reason", reason);
        cs_publisher_emit(&c->ls->pub, "logserver.client.dropped", NULL, c->name, NULL);
    }
    cs_buf b;
    cs_buf_init(&b, 0);
    if (cs_frame_put_str(&b, CS_FRAME_ERROR, reason) == 0) {
        uv_buf_t ub = uv_buf_init((char *)b.data, (unsigned)b.len);
        if (!c->writing)
            uv_try_write(&c->h.stream, &ub, 1);
    }
    cs_buf_free(&b);
    client_close(c);
}

/* Refuses c at a pre-login bound: counted by reason, logged, told why. */
static void refuse(struct client *c, enum refusal why, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void refuse(struct client *c, enum refusal why, const char *fmt, ...)
{
    char reason[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    cs_mseries_inc(c->ls->m_refused[why], 1);
    cs_ls_client_fail(c, "%s", reason);
}

static void check_cb(uv_check_t *h);

static void kick_cb(uv_idle_t *h)
{
    (void)h;
}

/* Output is written in the check phase, after the loop's I/O, so that one
 * write carries every event of the iteration. The idle handle makes the
 * poll return at once when the events came from a timer or the bus. */
void cs_ls_arm_check(cs_logserver *ls)
{
    if (!uv_is_active((uv_handle_t *)&ls->check))
        uv_check_start(&ls->check, check_cb);
    if (!uv_is_active((uv_handle_t *)&ls->kick))
        uv_idle_start(&ls->kick, kick_cb);
}

/* Queues a frame for c, or cuts c off at its bound. */
void cs_ls_enqueue(struct client *c, uint8_t type, const uint8_t *body, size_t len)
{
    cs_logserver *ls = c->ls;
    size_t need = CS_FRAME_HEADER + len;
    if (c->closing)
        return;
    if (c->out.len + c->wbuf.len + need > ls->client_buffer) {
        cs_mseries_inc(ls->m_cutoffs, 1);
        cs_ls_client_fail(c, "too slow: %zu bytes unsent, past the bound of %zu bytes",
                          c->out.len + c->wbuf.len, ls->client_buffer);
        return;
    }
    if (cs_buf_reserve(&c->out, need)) {
        cs_ls_client_fail(c, "out of memory");
        return;
    }
    cs_frame_header(c->out.data + c->out.len, type, len);
    memcpy(c->out.data + c->out.len + CS_FRAME_HEADER, body, len);
    c->out.len += need;
    c->queued_total += need;
    cs_ls_output_changed(c);
    cs_ls_arm_check(ls);
}

static void write_done(uv_write_t *w, int status)
{
    struct client *c = w->data;
    c->writing = false;
    if (status >= 0)
        c->written_total += c->wbuf.len;
    c->wbuf.len = 0;
    if (c->closing)
        return;
    if (status < 0) {
        client_close(c);
        return;
    }
    cs_ls_output_changed(c);
    cs_ls_barriers_forget(c->ls, NULL);
    if (c->out.len)
        flush(c);
}

static void flush(struct client *c)
{
    if (c->writing || c->closing || c->out.len == 0)
        return;
    cs_buf t = c->wbuf;
    c->wbuf = c->out;
    c->out = t;
    c->out.len = 0;
    uv_buf_t b = uv_buf_init((char *)c->wbuf.data, (unsigned)c->wbuf.len);
    c->wreq.data = c;
    c->writing = true;
    cs_mseries_inc(c->ls->m_out, 0); /* keeps the series visible */
    if (uv_write(&c->wreq, &c->h.stream, &b, 1, write_done)) {
        c->writing = false;
        client_close(c);
    }
}

/* Queues the PONGs of c whose PINGs came before every event the server has
 * delivered since: a PONG follows the events it is a barrier for. */
static void answer_pings(struct client *c)
{
    cs_logserver *ls = c->ls;
    while (c->npings && !c->closing && c->pings[0].target <= ls->delivered) {
        uint8_t cookie[8];
        memcpy(cookie, c->pings[0].cookie, sizeof cookie);
        memmove(&c->pings[0], &c->pings[1], (c->npings - 1) * sizeof c->pings[0]);
        c->npings--;
        ls->npings--;
        cs_ls_enqueue(c, CS_FRAME_PONG, cookie, sizeof cookie);
    }
}

/* After each poll: answer PINGs, write what the bus delivered, resume
 * paused publishers. */
static void check_cb(uv_check_t *h)
{
    cs_logserver *ls = h->data;
    struct client *c = ls->clients;
    while (c) {
        struct client *next = c->next;
        if (ls->npings)
            answer_pings(c);
        if (c->out.len && !c->writing)
            flush(c);
        c = next;
    }
    if (ls->npaused && (!ls->sub || cs_sub_queued(ls->sub) < BUS_QUEUE / 4)) {
        for (c = ls->clients; c; c = c->next) {
            if (c->paused) {
                c->paused = false;
                ls->npaused--;
                uv_read_start(&c->h.stream, alloc_cb, read_cb);
            }
        }
    }
    uv_idle_stop(&ls->kick);
    if (!ls->npaused)
        uv_check_stop(&ls->check);
}

static bool token_ok(const char *want, const char *got, size_t gl)
{
    size_t wl = strlen(want);
    unsigned char d = (unsigned char)(wl != gl);
    for (size_t i = 0; i < wl; i++)
        d |= (unsigned char)(want[i] ^ (i < gl ? got[i] : 0));
    return d == 0;
}

/* Copies a client's name for logs and for the logserver.client.dropped
 * event. The name goes into event strings, which must be UTF-8: a byte
 * that does not start a well-formed character, or a control character,
 * becomes '?', and the name is cut at a character boundary to fit. */
static void copy_name(char *dst, size_t cap, const uint8_t *s, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        size_t k = s[i] < 0x80                    ? 1
                   : s[i] >= 0xc2 && s[i] <= 0xdf ? 2
                   : s[i] >= 0xe0 && s[i] <= 0xef ? 3
                   : s[i] >= 0xf0 && s[i] <= 0xf4 ? 4
                                                  : 0;
        bool ok =
            k && k <= n - i && cs_utf8_valid(s + i, k) && (k > 1 || (s[i] >= 0x20 && s[i] != 0x7f));
        if (!ok)
            k = 1;
        if (o + k >= cap)
            break;
        if (ok)
            memcpy(dst + o, s + i, k);
        else
            dst[o] = '?';
        o += k;
        i += k;
    }
    dst[o] = 0;
}

/* Moves c, whose HELLO (and token) was good, among the logged-in clients,
 * or refuses it when their slots are taken: TCP clients may take all but
 * unix_reserved of them, so the local socket always has room. Returns
 * false when c was refused (and closed). */
static bool login(struct client *c)
{
    cs_logserver *ls = c->ls;
    size_t all = ls->nauth[0] + ls->nauth[1];
    if (all >= ls->max_clients) {
        refuse(c, CLIENT_LIMIT, "limit: %zu clients are connected, the most this server takes",
               all);
        return false;
    }
    if (c->is_tcp && ls->nauth[1] >= ls->max_clients - ls->unix_reserved) {
        refuse(c, CLIENT_LIMIT,
               "limit: %zu TCP clients are connected, the most this server takes (%zu more are "
               "kept for the local socket)",
               ls->nauth[1], ls->unix_reserved);
        return false;
    }
    list_unlink(c);
    list_link(&ls->clients, c);
    ls->npending[c->is_tcp]--;
    ls->nauth[c->is_tcp]++;
    count_clients(ls);
    c->hello = true;
    c->in.max = MAX_IN;
    return true;
}

/* Handles one frame. Returns false when the client was closed. */
static bool handle_frame(struct client *c, uint8_t type, const uint8_t *body, size_t len)
{
    cs_logserver *ls = c->ls;
    const uint8_t *p = body, *end = body + len;
    const char *s;
    size_t sl;
    if (!c->hello && type != CS_FRAME_HELLO) {
        cs_mseries_inc(ls->m_malformed, 1);
        cs_ls_client_fail(c, "protocol: the first frame must be HELLO, got %s",
                          cs_frame_type_name(type));
        return false;
    }
    switch (type) {
    case CS_FRAME_HELLO: {
        const char *tok;
        size_t tl;
        if (c->hello || len < 1 || body[0] != CS_FRAME_VERSION) {
            cs_mseries_inc(ls->m_malformed, 1);
            cs_ls_client_fail(c, c->hello ? "protocol: HELLO sent twice"
                                          : "protocol: unsupported version (this server speaks 1)");
            return false;
        }
        p++;
        if (cs_frame_get_str(&p, end, &s, &sl) || cs_frame_get_str(&p, end, &tok, &tl) ||
            p != end) {
            cs_mseries_inc(ls->m_malformed, 1);
            cs_ls_client_fail(c, "protocol: malformed HELLO");
            return false;
        }
        copy_name(c->name, sizeof c->name, (const uint8_t *)s, sl);
        if (c->is_tcp && !token_ok(ls->token, tok, tl)) {
            cs_mseries_inc(ls->m_rejected, 1);
            cs_ls_client_fail(c, "authentication failed: wrong or missing token");
            return false;
        }
        if (!login(c))
            return false;
        uint8_t w[CS_FRAME_MAX_STR + 16];
        size_t nl = strlen(ls->name);
        w[0] = CS_FRAME_VERSION;
        size_t off = 1 + cs_varint_put(w + 1, nl);
        memcpy(w + off, ls->name, nl);
        cs_ls_enqueue(c, CS_FRAME_WELCOME, w, off + nl);
        return !c->closing;
    }
    case CS_FRAME_SUB:
    case CS_FRAME_UNSUB:
        if (cs_frame_get_str(&p, end, &s, &sl) || p != end || !cs_subject_filter_valid(s, sl)) {
            cs_mseries_inc(ls->m_malformed, 1);
            cs_ls_client_fail(c, "protocol: malformed subject filter in %s",
                              cs_frame_type_name(type));
            return false;
        }
        if (type == CS_FRAME_SUB) {
            for (size_t i = 0; i < c->nfilters; i++)
                if (c->flen[i] == sl && memcmp(c->filters[i], s, sl) == 0)
                    return true;
            if (c->nfilters == MAX_FILTERS) {
                cs_ls_client_fail(c, "limit: at most %d subject filters per client", MAX_FILTERS);
                return false;
            }
            c->filters[c->nfilters] = strndup(s, sl);
            c->flen[c->nfilters] = sl;
            if (!c->filters[c->nfilters] || cs_ftab_add(&ls->filters, s, sl, c)) {
                free(c->filters[c->nfilters]);
                cs_ls_client_fail(c, "out of memory");
                return false;
            }
            c->nfilters++;
        } else {
            for (size_t i = 0; i < c->nfilters; i++)
                if (c->flen[i] == sl && memcmp(c->filters[i], s, sl) == 0) {
                    cs_ftab_remove(&ls->filters, s, sl, c);
                    free(c->filters[i]);
                    c->filters[i] = c->filters[c->nfilters - 1];
                    c->flen[i] = c->flen[c->nfilters - 1];
                    c->nfilters--;
                    break;
                }
        }
        return true;
    case CS_FRAME_PUB: {
        cs_event *ev;
        int rc = cs_event_decode(body, len, &ev);
        if (rc) {
            cs_mseries_inc(ls->m_malformed, 1);
            cs_ls_client_fail(c, "protocol: malformed event record: %s", cs_strerror(rc));
            return false;
        }
        cs_mseries_inc(ls->m_in, 1);
        cs_bus_publish(ls->bus, ev);
        cs_event_unref(ev);
        return true;
    }
    case CS_FRAME_PING:
        if (len != 8) {
            cs_mseries_inc(ls->m_malformed, 1);
            cs_ls_client_fail(c, "protocol: PING body must be 8 bytes");
            return false;
        }
        if (c->npings == MAX_PINGS) {
            cs_ls_client_fail(c, "limit: at most %d PINGs may wait for their PONG", MAX_PINGS);
            return false;
        }
        /* The PONG is a barrier a publisher can wait on: it is sent once
         * the bus has delivered to the server every event queued before
         * the PING (this client's PUBs included), after the EVENTs this
         * client gets from them. The bus delivers them at its own pace:
         * a PING never makes the loop drain every queue at once. */
        c->pings[c->npings].target = ls->delivered + cs_sub_queued(ls->sub);
        memcpy(c->pings[c->npings].cookie, body, 8);
        c->npings++;
        ls->npings++;
        cs_ls_arm_check(ls);
        return true;
    case CS_FRAME_PONG:
        return true;
    default:
        cs_mseries_inc(ls->m_malformed, 1);
        cs_ls_client_fail(c, "protocol: a client may not send %s", cs_frame_type_name(type));
        return false;
    }
}

/* Offers a read at most what c may still buffer: READ_CHUNK once logged
 * in, what is left of CS_LOGSERVER_PREAUTH_IN before. */
static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    struct client *c = h->data;
    (void)suggested;
    size_t want = c->hello ? READ_CHUNK : CS_LOGSERVER_PREAUTH_IN - c->in.len;
    if (want == 0 || cs_buf_reserve(&c->in, want)) {
        *b = uv_buf_init(NULL, 0);
        return;
    }
    *b = uv_buf_init((char *)c->in.data + c->in.len, (unsigned)want);
}

/* Before HELLO, a first frame longer than the pre-login bound is refused at
 * its header rather than buffered. Returns false when c was refused. */
static bool preauth_ok(struct client *c)
{
    if (c->hello || c->in.len < 4)
        return true;
    const uint8_t *p = c->in.data;
    uint32_t len =
        (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    if (len <= CS_LOGSERVER_PREAUTH_IN - 4)
        return true;
    refuse(c, HELLO_TOO_LARGE,
           "limit: a frame of %" PRIu32 " bytes before HELLO is larger than the %d bytes allowed "
           "before login",
           len, CS_LOGSERVER_PREAUTH_IN);
    return false;
}

static void read_cb(uv_stream_t *st, ssize_t nread, const uv_buf_t *b)
{
    struct client *c = st->data;
    cs_logserver *ls = c->ls;
    (void)b;
    if (nread == UV_ENOBUFS) {
        cs_ls_client_fail(c, "out of memory for input");
        return;
    }
    if (nread < 0) {
        client_close(c);
        return;
    }
    c->in.len += (size_t)nread;
    if (!preauth_ok(c))
        return;
    size_t off = 0;
    for (;;) {
        uint8_t type;
        const uint8_t *body;
        size_t blen, flen;
        int rc = cs_frame_peek(c->in.data + off, c->in.len - off, &type, &body, &blen, &flen);
        if (rc == 0)
            break;
        if (rc < 0) {
            cs_mseries_inc(ls->m_malformed, 1);
            cs_ls_client_fail(c, "protocol: malformed frame header (length or type out of range)");
            return;
        }
        if (!handle_frame(c, type, body, blen))
            return;
        off += flen;
    }
    cs_buf_consume(&c->in, off);
    /* Back-pressure: stop reading publishers while the bus is backed up. */
    if (!c->paused && ls->sub && cs_sub_queued(ls->sub) > BUS_QUEUE / 2) {
        uv_read_stop(&c->h.stream);
        c->paused = true;
        ls->npaused++;
        cs_ls_arm_check(ls);
    }
}

/* A new client of ls: its buffers and its handle (not yet connected). */
static struct client *client_new(cs_logserver *ls, bool tcp)
{
    struct client *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->ls = ls;
    c->is_tcp = tcp;
    c->id = ++ls->next_id;
    snprintf(c->name, sizeof c->name, "?");
    cs_buf_init(&c->in, CS_LOGSERVER_PREAUTH_IN); /* MAX_IN after HELLO */
    cs_buf_init(&c->out, 0);
    cs_buf_init(&c->wbuf, 0);
    if (tcp)
        uv_tcp_init(ls->loop, &c->h.tcp);
    else
        uv_pipe_init(ls->loop, &c->h.pipe, 0);
    c->h.handle.data = c;
    ls->open_handles++;
    c->pprev = &c->next;
    return c;
}

static void format_ms(char *out, size_t cap, uint64_t ms)
{
    if (ms % 1000 == 0)
        snprintf(out, cap, "%llu s", (unsigned long long)(ms / 1000));
    else
        snprintf(out, cap, "%llu ms", (unsigned long long)ms);
}

/* Closes the connections whose HELLO deadline has passed, and sets the
 * timer for the next deadline. One timer for every waiting connection: at
 * most 2 x max_unauthenticated of them. */
static void hello_sweep(uv_timer_t *t)
{
    cs_logserver *ls = t->data;
    uint64_t now = uv_now(ls->loop), next = UINT64_MAX;
    char limit[32];
    format_ms(limit, sizeof limit, ls->hello_timeout_ms);
    struct client *c = ls->pending;
    while (c) {
        struct client *after = c->next;
        if (c->deadline <= now)
            refuse(c, HELLO_TIMEOUT, "timeout: no HELLO within %s", limit);
        else if (c->deadline < next)
            next = c->deadline;
        c = after;
    }
    if (next != UINT64_MAX)
        uv_timer_start(t, hello_sweep, next - now, 0);
}

/* Links a connected c among the connections waiting for HELLO and starts
 * reading its frames, or refuses it when max_unauthenticated connections
 * of its transport wait already. */
static void client_attach(struct client *c)
{
    cs_logserver *ls = c->ls;
    list_link(&ls->pending, c);
    ls->nclients++;
    ls->npending[c->is_tcp]++;
    count_clients(ls);
    if (c->is_tcp) {
        struct sockaddr_storage ss;
        int len = sizeof ss;
        char addr[64];
        if (uv_tcp_getpeername(&c->h.tcp, (struct sockaddr *)&ss, &len) == 0 &&
            (ss.ss_family == AF_INET || ss.ss_family == AF_INET6))
            snprintf(c->peer, sizeof c->peer, ", from %s",
                     cs_addr_format((struct sockaddr *)&ss, addr, sizeof addr));
    }
    if (ls->npending[c->is_tcp] > ls->max_unauth) {
        refuse(c, UNAUTH_LIMIT,
               "limit: %zu connections are waiting for HELLO already; try again later",
               ls->max_unauth);
        return;
    }
    c->deadline = uv_now(ls->loop) + ls->hello_timeout_ms;
    if (!uv_is_active((uv_handle_t *)&ls->hello_timer))
        uv_timer_start(&ls->hello_timer, hello_sweep, ls->hello_timeout_ms, 0);
    uv_read_start(&c->h.stream, alloc_cb, read_cb);
}

static void accept_client(cs_logserver *ls, uv_stream_t *server, bool tcp)
{
    struct client *c = client_new(ls, tcp);
    if (!c)
        return;
    if (uv_accept(server, &c->h.stream)) {
        c->closing = true;
        uv_close(&c->h.handle, client_closed);
        return;
    }
    client_attach(c);
}

static void on_pipe_conn(uv_stream_t *s, int status)
{
    if (status == 0)
        accept_client(s->data, s, false);
}

static void on_tcp_conn(uv_stream_t *s, int status)
{
    if (status == 0)
        accept_client(s->data, s, true);
}

/* A socket file left by a process that is gone is removed; one that answers
 * means another server runs there. */
static int clear_stale_socket(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return 0;
    if (!S_ISSOCK(st.st_mode))
        return CS_EEXIST;
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0)
        return CS_EIO;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    int rc = connect(fd, (struct sockaddr *)&sa, sizeof sa);
    close(fd);
    if (rc == 0)
        return CS_EEXIST;
    unlink(path);
    return 0;
}

/* Creates the socket's directory (0700) when it does not exist. */
static void make_parent(const char *path)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir)
        return;
    *slash = 0;
    mkdir(dir, 0700);
}

int cs_logserver_start(uv_loop_t *loop, cs_bus *bus, cs_metrics *metrics,
                       const cs_logserver_opts *o, cs_logserver **out)
{
    int rc;
    if (!o->socket_path && !o->tcp_listen)
        return CS_EINVAL;
    cs_ignore_sigpipe(); /* a subscriber that goes away mid-write */
    if (o->tcp_listen && (!o->token || strlen(o->token) < 16))
        return CS_EAUTH;
    cs_logserver *ls = calloc(1, sizeof *ls);
    if (!ls)
        return CS_ENOMEM;
    cs_ftab_init(&ls->filters);
    ls->loop = loop;
    ls->bus = bus;
    ls->client_buffer = o->client_buffer ? o->client_buffer : (8u << 20);
    ls->max_clients = o->max_clients ? o->max_clients : 1024;
    ls->unix_reserved = o->unix_reserved ? o->unix_reserved : 16;
    if (ls->unix_reserved >= ls->max_clients)
        ls->unix_reserved = ls->max_clients - 1;
    ls->max_unauth = o->max_unauthenticated ? o->max_unauthenticated : 64;
    ls->hello_timeout_ms = o->hello_timeout_ms ? o->hello_timeout_ms : 5000;
    ls->bus_queue = BUS_QUEUE;
    ls->name = strdup(o->name ? o->name : "chainscope");
    snprintf(ls->origin, sizeof ls->origin, "logserver@%s", ls->name);
    cs_publisher_init(&ls->pub, bus, ls->origin, "");
    ls->token = o->token ? strdup(o->token) : NULL;
    if (metrics) {
        ls->m_clients = cs_metrics_gauge(metrics, "chainscope_logserver_clients",
                                         "Clients connected to the log server.");
        ls->m_in = cs_metrics_counter(metrics, "chainscope_logserver_events_in_total",
                                      "Events published by log server clients.");
        ls->m_out = cs_metrics_counter(metrics, "chainscope_logserver_events_out_total",
                                       "Events queued to log server clients.");
        ls->m_cutoffs = cs_metrics_counter(metrics, "chainscope_logserver_cutoffs_total",
                                           "Clients cut off for falling behind their bound.");
        ls->m_malformed = cs_metrics_counter(metrics, "chainscope_logserver_malformed_total",
                                             "Clients disconnected for malformed frames.");
        ls->m_rejected = cs_metrics_counter(metrics, "chainscope_logserver_auth_failures_total",
                                            "Clients that gave a wrong token.");
        ls->m_unauth = cs_metrics_gauge(metrics, "chainscope_logserver_unauthenticated",
                                        "Connections waiting for HELLO.");
        static const char *const labels[] = {"reason", NULL};
        cs_mfamily *f = cs_metrics_family(
            metrics, CS_METRIC_COUNTER, "chainscope_logserver_refused_total",
            "Connections refused before or at login, by reason.", labels, NULL, 0);
        for (size_t i = 0; f && i < sizeof refusal_names / sizeof *refusal_names; i++) {
            const char *v[] = {refusal_names[i], NULL};
            ls->m_refused[i] = cs_mfamily_series(f, v);
        }
    }
    uv_check_init(loop, &ls->check);
    ls->check.data = ls;
    uv_idle_init(loop, &ls->kick);
    ls->kick.data = ls;
    uv_timer_init(loop, &ls->hello_timer);
    ls->hello_timer.data = ls;
    uv_timer_init(loop, &ls->stuck);
    ls->stuck.data = ls;
    ls->open_handles = 4; /* check, kick, hello_timer, stuck */
    if (o->socket_path) {
        ls->socket_path = strdup(o->socket_path);
        make_parent(o->socket_path);
        if ((rc = clear_stale_socket(o->socket_path)))
            goto fail;
        uv_pipe_init(loop, &ls->pipe, 0);
        ls->pipe.data = ls;
        ls->has_pipe = true;
        ls->open_handles++;
        mode_t old = umask(0177); /* the socket is born 0600 */
        rc = uv_pipe_bind(&ls->pipe, o->socket_path);
        umask(old);
        if (rc)
            goto fail;
        chmod(o->socket_path, 0600);
        if ((rc = uv_listen((uv_stream_t *)&ls->pipe, 128, on_pipe_conn)))
            goto fail;
    }
    if (o->tcp_listen) {
        struct sockaddr_storage ss;
        if ((rc = cs_addr_parse(o->tcp_listen, 0, &ss)))
            goto fail;
        uv_tcp_init(loop, &ls->tcp);
        ls->tcp.data = ls;
        ls->has_tcp = true;
        ls->open_handles++;
        if ((rc = uv_tcp_bind(&ls->tcp, (struct sockaddr *)&ss, 0)) ||
            (rc = uv_listen((uv_stream_t *)&ls->tcp, 128, on_tcp_conn)))
            goto fail;
        struct sockaddr_storage bound;
        int blen = sizeof bound;
        uv_tcp_getsockname(&ls->tcp, (struct sockaddr *)&bound, &blen);
        cs_addr_format((struct sockaddr *)&bound, ls->tcp_address, sizeof ls->tcp_address);
    }
    if ((rc = cs_ls_subscribe(ls)))
        goto fail;
    *out = ls;
    return 0;
fail:
    if (ls->has_pipe && ls->socket_path) {
        struct stat st;
        if (rc != CS_EEXIST && lstat(ls->socket_path, &st) == 0 && S_ISSOCK(st.st_mode))
            unlink(ls->socket_path);
    }
    ls->stopping = true;
    uv_close((uv_handle_t *)&ls->check, server_handle_closed);
    uv_close((uv_handle_t *)&ls->kick, server_handle_closed);
    uv_close((uv_handle_t *)&ls->hello_timer, server_handle_closed);
    uv_close((uv_handle_t *)&ls->stuck, server_handle_closed);
    if (ls->has_pipe)
        uv_close((uv_handle_t *)&ls->pipe, server_handle_closed);
    if (ls->has_tcp)
        uv_close((uv_handle_t *)&ls->tcp, server_handle_closed);
    return rc;
}

void cs_logserver_stop(cs_logserver *ls, void (*done)(void *arg), void *arg)
{
    if (!ls || ls->stopping)
        return;
    ls->stopping = true;
    ls->done = done;
    ls->done_arg = arg;
    if (ls->sub)
        cs_sub_resume(ls->sub); /* what is queued goes out if the kernel takes it */
    cs_bus_drain(ls->bus, 0);
    cs_bus_unsubscribe(ls->sub);
    ls->sub = NULL;
    /* Hand what is queued (the shutdown events, the last PONGs) to the
     * kernel if it takes it now; nothing waits for slow clients at
     * shutdown. */
    for (struct client *c = ls->clients, *next; c; c = next) {
        next = c->next;
        answer_pings(c);
        if (c->closing || c->writing || !c->out.len)
            continue;
        uv_buf_t b = uv_buf_init((char *)c->out.data, (unsigned)c->out.len);
        uv_try_write(&c->h.stream, &b, 1);
    }
    while (ls->clients)
        client_close(ls->clients);
    while (ls->pending)
        client_close(ls->pending);
    if (ls->has_pipe) {
        unlink(ls->socket_path);
        uv_close((uv_handle_t *)&ls->pipe, server_handle_closed);
    }
    if (ls->has_tcp)
        uv_close((uv_handle_t *)&ls->tcp, server_handle_closed);
    uv_close((uv_handle_t *)&ls->check, server_handle_closed);
    uv_close((uv_handle_t *)&ls->kick, server_handle_closed);
    uv_close((uv_handle_t *)&ls->hello_timer, server_handle_closed);
    uv_close((uv_handle_t *)&ls->stuck, server_handle_closed);
}

size_t cs_logserver_clients(const cs_logserver *ls)
{
    return ls->nclients;
}

const char *cs_logserver_tcp_address(const cs_logserver *ls)
{
    return ls->tcp_address;
}
