/* Channels: config, default messages, requests (see channel.h). */
#include "notify/channel.h"
#include "notify/channel_int.h"

#include <libfyaml.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "core/json.h"
#include "core/log.h"

static const char *const type_names[] = {"webhook",  "slack", "discord", "telegram", "pagerduty",
                                         "opsgenie", "email", "script",  NULL};

const char *cs_channel_type_name(cs_channel_type t)
{
    return (unsigned)t <= CS_CH_SCRIPT ? type_names[t] : "?";
}

/* ---- config ---------------------------------------------------------------- */

void cs_channel_conf_clear(cs_channel_conf *ch)
{
    free(ch->name);
    free(ch->url);
    free(ch->method);
    cs_cfg_strv_free(ch->headers);
    free(ch->secret);
    free(ch->signature_header);
    free(ch->token);
    free(ch->chat_id);
    free(ch->smtp);
    free(ch->username);
    free(ch->password);
    free(ch->ca_file);
    free(ch->from);
    cs_cfg_strv_free(ch->to);
    cs_cfg_strv_free(ch->command);
    free(ch->title);
    free(ch->message);
    memset(ch, 0, sizeof *ch);
}

void cs_channels_conf_free(void *conf)
{
    cs_channels_conf *c = conf;
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++)
        cs_channel_conf_clear(&c->ch[i]);
    free(c->ch);
    free(c);
}

/* headers: a mapping Name: value, kept as "Name: value" strings. */
static int read_headers(cs_cfg *c, struct fy_node *map, const char *path, cs_channel_conf *ch)
{
    struct fy_node *n = cs_cfg_get(map, "headers");
    if (!n)
        return 0;
    char p[400];
    snprintf(p, sizeof p, "%s.headers", path);
    if (!fy_node_is_mapping(n))
        return cs_cfg_error(c, n, p, "expected a mapping of header names to values");
    size_t cnt = (size_t)fy_node_mapping_item_count(n);
    if (cnt > 8)
        return cs_cfg_error(c, n, p, "at most 8 headers");
    ch->headers = calloc(cnt + 1, sizeof *ch->headers);
    if (!ch->headers)
        return CS_ENOMEM;
    void *it = NULL;
    struct fy_node_pair *pair;
    while ((pair = fy_node_mapping_iterate(n, &it))) {
        char *k = cs_cfg_scalar(c, fy_node_pair_key(pair), p);
        char *v = k ? cs_cfg_scalar(c, fy_node_pair_value(pair), p) : NULL;
        if (!k || !v || strpbrk(k, ": \r\n") || strpbrk(v, "\r\n")) {
            int rc = k && v ? cs_cfg_error(c, fy_node_pair_key(pair), p,
                                           "header names and values are one line, no ':' in "
                                           "the name")
                            : CS_ECONFIG;
            free(k);
            free(v);
            return rc;
        }
        size_t l = strlen(k) + strlen(v) + 3;
        char *h = malloc(l);
        if (!h) {
            free(k);
            free(v);
            return CS_ENOMEM;
        }
        snprintf(h, l, "%s: %s", k, v);
        free(k);
        free(v);
        ch->headers[ch->nheaders++] = h;
    }
    return 0;
}

static int need(cs_cfg *c, struct fy_node *n, const char *p, const char *key, const char *why)
{
    if (cs_cfg_get(n, key))
        return 0;
    return cs_cfg_error(c, n, p, "a %s channel needs `%s`", why, key);
}

static int parse_channel(cs_cfg *c, struct fy_node *n, const char *p, cs_channel_conf *ch)
{
    static const char *const allowed[] = {
        "type",    "url",      "method", "headers",  "secret",   "signature_header",
        "token",   "chat_id",  "smtp",   "username", "password", "starttls",
        "ca_file", "insecure", "from",   "to",       "command",  "timeout",
        "rate",    "burst",    "title",  "message",  NULL};
    int rc, type = 0;
    uint64_t u;
    if ((rc = cs_cfg_expect_map(c, n, p, allowed)) ||
        (rc = cs_cfg_enum(c, n, p, "type", type_names, &type, true)))
        return rc;
    ch->type = (cs_channel_type)type;
    const char *tn = type_names[type];
    switch (ch->type) {
    case CS_CH_WEBHOOK:
    case CS_CH_SLACK:
    case CS_CH_DISCORD:
        rc = need(c, n, p, "url", tn);
        break;
    case CS_CH_TELEGRAM:
        if (!(rc = need(c, n, p, "token", tn)))
            rc = need(c, n, p, "chat_id", tn);
        break;
    case CS_CH_PAGERDUTY:
    case CS_CH_OPSGENIE:
        rc = need(c, n, p, "token", tn);
        break;
    case CS_CH_EMAIL:
        if (!(rc = need(c, n, p, "smtp", tn)) && !(rc = need(c, n, p, "from", tn)))
            rc = need(c, n, p, "to", tn);
        break;
    case CS_CH_SCRIPT:
        rc = need(c, n, p, "command", tn);
        break;
    }
    if (rc)
        return rc;
    ch->starttls = true;
    ch->timeout_ms = 10000;
    if ((rc = cs_cfg_str(c, n, p, "url", &ch->url, false)) ||
        (rc = cs_cfg_str(c, n, p, "method", &ch->method, false)) ||
        (rc = read_headers(c, n, p, ch)) ||
        (rc = cs_cfg_str(c, n, p, "secret", &ch->secret, false)) ||
        (rc = cs_cfg_str(c, n, p, "signature_header", &ch->signature_header, false)) ||
        (rc = cs_cfg_str(c, n, p, "token", &ch->token, false)) ||
        (rc = cs_cfg_str(c, n, p, "chat_id", &ch->chat_id, false)) ||
        (rc = cs_cfg_str(c, n, p, "smtp", &ch->smtp, false)) ||
        (rc = cs_cfg_str(c, n, p, "username", &ch->username, false)) ||
        (rc = cs_cfg_str(c, n, p, "password", &ch->password, false)) ||
        (rc = cs_cfg_bool(c, n, p, "starttls", &ch->starttls, false)) ||
        (rc = cs_cfg_str(c, n, p, "ca_file", &ch->ca_file, false)) ||
        (rc = cs_cfg_bool(c, n, p, "insecure", &ch->insecure, false)) ||
        (rc = cs_cfg_str(c, n, p, "from", &ch->from, false)) ||
        (rc = cs_cfg_strv(c, n, p, "to", &ch->to, &ch->nto, false)) ||
        (rc = cs_cfg_strv(c, n, p, "command", &ch->command, &ch->ncommand, false)) ||
        (rc = cs_cfg_duration_ms(c, n, p, "timeout", &ch->timeout_ms, false)) ||
        (rc = cs_cfg_double(c, n, p, "rate", &ch->rate_per_minute, 0, 100000, false)) ||
        (rc = cs_cfg_str(c, n, p, "title", &ch->title, false)) ||
        (rc = cs_cfg_str(c, n, p, "message", &ch->message, false)))
        return rc;
    u = 0;
    if ((rc = cs_cfg_uint(c, n, p, "burst", &u, 1, 10000, false)))
        return rc;
    ch->burst = (uint32_t)u;
    if (ch->url && strncmp(ch->url, "http://", 7) != 0 && strncmp(ch->url, "https://", 8) != 0)
        return cs_cfg_error(c, cs_cfg_get(n, "url"), p, "url: expected http:// or https://");
    if (ch->smtp && strncmp(ch->smtp, "smtp://", 7) != 0 && strncmp(ch->smtp, "smtps://", 8) != 0)
        return cs_cfg_error(c, cs_cfg_get(n, "smtp"), p,
                            "smtp: expected smtp://host:port or smtps://host:port");
    if (ch->type == CS_CH_SCRIPT && !ch->ncommand)
        return cs_cfg_error(c, cs_cfg_get(n, "command"), p, "command: needs a program");
    /* templates are checked here so that errors point at the file */
    const char *tk[] = {"title", "message"};
    char *tv[] = {ch->title, ch->message};
    for (int i = 0; i < 2; i++) {
        if (!tv[i])
            continue;
        cs_template *t;
        char msg[300];
        if (cs_template_compile(tv[i], &t, msg, sizeof msg)) {
            char full[400];
            snprintf(full, sizeof full, "%s.%s", p, tk[i]);
            return cs_cfg_error(c, cs_cfg_get(n, tk[i]), full, "%s", msg);
        }
        cs_template_free(t);
    }
    return 0;
}

int cs_channels_conf_parse(cs_cfg *c, struct fy_node *node, void **out)
{
    *out = NULL;
    if (!node || !fy_node_is_mapping(node))
        return cs_cfg_error(c, node, "channels",
                            "expected a mapping of channel names to channels (ops-slack: {type: "
                            "slack, url: ...})");
    int rc = cs_cfg_unique_keys(c, node, "channels");
    if (rc)
        return rc;
    cs_channels_conf *cc = calloc(1, sizeof *cc);
    size_t cnt = (size_t)fy_node_mapping_item_count(node);
    if (!cc || !(cc->ch = calloc(cnt + 1, sizeof *cc->ch))) {
        free(cc);
        return CS_ENOMEM;
    }
    void *it = NULL;
    struct fy_node_pair *pair;
    while (!rc && (pair = fy_node_mapping_iterate(node, &it))) {
        cs_channel_conf *ch = &cc->ch[cc->n++];
        if (!(ch->name = cs_cfg_scalar(c, fy_node_pair_key(pair), "channels"))) {
            rc = CS_ECONFIG;
            break;
        }
        char p[300];
        snprintf(p, sizeof p, "channels.%s", ch->name);
        rc = parse_channel(c, fy_node_pair_value(pair), p, ch);
    }
    if (rc) {
        cs_channels_conf_free(cc);
        return rc;
    }
    *out = cc;
    return 0;
}

/* ---- rendering --------------------------------------------------------------- */

void cs_rendered_init(cs_rendered *r)
{
    cs_buf_init(&r->subject, 1u << 16);
    cs_buf_init(&r->text, 1u << 20);
    cs_buf_init(&r->html, 1u << 20);
}

void cs_rendered_free(cs_rendered *r)
{
    cs_buf_free(&r->subject);
    cs_buf_free(&r->text);
    cs_buf_free(&r->html);
}

static const char T_TITLE[] = "[{{ severity }}] {{ monitor.name }} on {{ network }}";

static const char T_TEXT[] =
    "{{ monitor.name }} ({{ severity }}, {{ risk }}) matched on {{ network }}\n"
    "{{#block.number}}Block: {{ block.number }}\n{{/block.number}}"
    "{{#transaction.hash}}Transaction: {{ transaction.hash }}\n{{/transaction.hash}}"
    "{{#transaction.link}}{{ transaction.link }}\n{{/transaction.link}}"
    "{{#event.type}}Event: {{ event.type }} from {{ event.key }}\n{{/event.type}}"
    "{{#window.group}}Group: {{ window.group }} ({{ window.count }} in {{ window.seconds }} "
    "s)\n{{/window.group}}"
    "{{#metadata}}Metadata: {{ metadata }}\n{{/metadata}}"
    "\n{{ matchReasonsFormatted }}";

static const char T_SLACK[] =
    "*{{ monitor.name }}* ({{ severity }}, {{ risk }}) matched on {{ network }}\n"
    "{{#block.number}}Block: {{ block.number }}\n{{/block.number}}"
    "{{#transaction.hash}}Transaction: `{{ transaction.hash }}`\n{{/transaction.hash}}"
    "{{#transaction.link}}<{{ transaction.link }}|open in the explorer>\n{{/transaction.link}}"
    "{{#event.type}}Event: `{{ event.type }}` from {{ event.key }}\n{{/event.type}}"
    "{{#window.group}}Group: {{ window.group }} ({{ window.count }} in {{ window.seconds }} "
    "s)\n{{/window.group}}"
    "```{{ matchReasonsFormatted }}```";

static const char T_DISCORD[] =
    "**{{ monitor.name }}** ({{ severity }}, {{ risk }}) matched on {{ network }}\n"
    "{{#block.number}}Block: {{ block.number }}\n{{/block.number}}"
    "{{#transaction.hash}}Transaction: {{ transaction.hash }}\n{{/transaction.hash}}"
    "{{#transaction.link}}{{ transaction.link }}\n{{/transaction.link}}"
    "{{#event.type}}Event: {{ event.type }} from {{ event.key }}\n{{/event.type}}"
    "{{#window.group}}Group: {{ window.group }} ({{ window.count }} in {{ window.seconds }} "
    "s)\n{{/window.group}}"
    "\n{{ matchReasonsFormatted }}";

/* MarkdownV2: the literal text is escaped by hand */
static const char T_TELEGRAM[] =
    "*{{ monitor.name }}* \\({{ severity }}, {{ risk }}\\) matched on {{ network }}\n"
    "{{#block.number}}Block: {{ block.number }}\n{{/block.number}}"
    "{{#transaction.hash}}Transaction: `{{ transaction.hash }}`\n{{/transaction.hash}}"
    "{{#transaction.link}}{{ transaction.link }}\n{{/transaction.link}}"
    "{{#event.type}}Event: {{ event.type }} from {{ event.key }}\n{{/event.type}}"
    "{{#window.group}}Group: {{ window.group }} \\({{ window.count }} in {{ window.seconds }} "
    "s\\)\n{{/window.group}}"
    "\n{{ matchReasonsFormatted }}";

static const char T_HTML[] =
    "<html><body>\n<h2>{{ monitor.name }}</h2>\n"
    "<p><b>Severity:</b> {{ severity }} &middot; <b>Risk:</b> {{ risk }} &middot; "
    "<b>Network:</b> {{ network }}</p>\n"
    "{{#block.number}}<p><b>Block:</b> {{ block.number }}</p>\n{{/block.number}}"
    "{{#transaction.hash}}<p><b>Transaction:</b> {{ transaction.hash }}</p>\n"
    "{{/transaction.hash}}"
    "{{#transaction.link}}<p><a href=\"{{ transaction.link }}\">{{ transaction.link }}</a></p>\n"
    "{{/transaction.link}}"
    "{{#event.type}}<p><b>Event:</b> {{ event.type }} from {{ event.key }}</p>\n{{/event.type}}"
    "<pre>{{ matchReasonsFormatted }}</pre>\n</body></html>\n";

static const char *default_text(cs_channel_type t)
{
    switch (t) {
    case CS_CH_SLACK:
        return T_SLACK;
    case CS_CH_DISCORD:
        return T_DISCORD;
    case CS_CH_TELEGRAM:
        return T_TELEGRAM;
    default:
        return T_TEXT;
    }
}

static cs_escape escape_of(cs_channel_type t)
{
    switch (t) {
    case CS_CH_SLACK:
        return CS_ESC_SLACK;
    case CS_CH_DISCORD:
        return CS_ESC_DISCORD;
    case CS_CH_TELEGRAM:
        return CS_ESC_TELEGRAM;
    default:
        return CS_ESC_NONE;
    }
}

size_t cs_channel_text_limit(cs_channel_type t)
{
    switch (t) {
    case CS_CH_SLACK:
        return CS_LIMIT_SLACK;
    case CS_CH_DISCORD:
        return CS_LIMIT_DISCORD;
    case CS_CH_TELEGRAM:
        return CS_LIMIT_TELEGRAM;
    case CS_CH_OPSGENIE:
        return CS_LIMIT_OPSGENIE_DESCRIPTION;
    default:
        return CS_LIMIT_EMAIL;
    }
}

void cs_channel_subject_fit(const cs_channel_conf *ch, cs_buf *subject)
{
    for (size_t i = 0; i < subject->len; i++) /* one line */
        if (subject->data[i] == '\n' || subject->data[i] == '\r')
            subject->data[i] = ' ';
    size_t limit = ch->type == CS_CH_OPSGENIE    ? CS_LIMIT_OPSGENIE_MESSAGE
                   : ch->type == CS_CH_PAGERDUTY ? CS_LIMIT_PAGERDUTY_SUMMARY
                                                 : CS_LIMIT_SUBJECT;
    cs_text_truncate(subject, 0, limit, CS_ESC_NONE);
}

int cs_channel_render(const cs_channel_conf *ch, const char *title_tpl, const char *msg_tpl,
                      const cs_val *doc, cs_rendered *out, char *err, size_t errlen)
{
    const char *title = title_tpl ? title_tpl : ch->title ? ch->title : T_TITLE;
    const char *msg = msg_tpl ? msg_tpl : ch->message ? ch->message : default_text(ch->type);
    cs_escape esc = escape_of(ch->type);
    int rc = cs_template_render_src(title, doc, CS_ESC_NONE, &out->subject, err, errlen);
    if (rc)
        return rc;
    cs_channel_subject_fit(ch, &out->subject);
    if (ch->type == CS_CH_WEBHOOK && !ch->message && !msg_tpl)
        ; /* a webhook sends the alert JSON; no text needed */
    else if ((rc = cs_template_render_src(msg, doc, ch->type == CS_CH_WEBHOOK ? CS_ESC_JSON : esc,
                                          &out->text, err, errlen)))
        return rc;
    if (ch->type != CS_CH_WEBHOOK)
        cs_text_truncate(&out->text, 0, cs_channel_text_limit(ch->type), esc);
    if (ch->type == CS_CH_EMAIL) {
        if ((rc = cs_template_render_src(T_HTML, doc, CS_ESC_HTML, &out->html, err, errlen)))
            return rc;
        cs_text_truncate(&out->html, 0, CS_LIMIT_EMAIL, CS_ESC_HTML);
    }
    return 0;
}

/* ---- requests ------------------------------------------------------------------ */

void cs_channel_req_free(cs_channel_req *r)
{
    for (size_t i = 0; i < r->nheaders; i++)
        free(r->headers[i]);
    r->nheaders = 0;
    cs_buf_free(&r->body);
}

static int add_header(cs_channel_req *r, const char *fmt, const char *a, const char *b)
{
    if (r->nheaders == sizeof r->headers / sizeof *r->headers)
        return CS_ELIMIT;
    size_t l = strlen(fmt) + strlen(a) + (b ? strlen(b) : 0) + 1;
    char *h = malloc(l);
    if (!h)
        return CS_ENOMEM;
    snprintf(h, l, fmt, a, b ? b : "");
    r->headers[r->nheaders++] = h;
    return 0;
}

int cs_webhook_signature(const char *secret, int64_t ts, const void *body, size_t len, char out[65])
{
    cs_buf msg;
    cs_buf_init(&msg, 0);
    int rc = cs_buf_printf(&msg, "%lld.", (long long)ts);
    if (!rc)
        rc = cs_buf_append(&msg, body, len);
    unsigned char mac[32];
    size_t maclen = 0;
    if (!rc && !EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, secret, strlen(secret), msg.data,
                          msg.len, mac, sizeof mac, &maclen))
        rc = CS_EIO;
    cs_buf_free(&msg);
    if (rc)
        return rc;
    static const char hx[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        out[2 * i] = hx[mac[i] >> 4];
        out[2 * i + 1] = hx[mac[i] & 15];
    }
    out[64] = 0;
    return 0;
}

static int jkv(cs_buf *b, const char *k, const char *v, bool comma)
{
    int rc = 0;
    if (comma)
        rc = cs_buf_putc(b, ',');
    if (!rc)
        rc = cs_json_string(b, k, strlen(k));
    if (!rc)
        rc = cs_buf_putc(b, ':');
    if (!rc)
        rc = cs_json_string(b, v, strlen(v));
    return rc;
}

static const char *base(const cs_channel_conf *ch, const char *dflt)
{
    return ch->url ? ch->url : dflt;
}

/* the severity from the alert JSON, for PagerDuty and Opsgenie */
static void alert_severity(const char *alert_json, char *out, size_t n)
{
    snprintf(out, n, "medium");
    const char *p = strstr(alert_json, "\"severity\":\"");
    if (p) {
        p += 12;
        size_t i = 0;
        while (p[i] && p[i] != '"' && i + 1 < n) {
            out[i] = p[i];
            i++;
        }
        out[i] = 0;
    }
}

int cs_channel_build_http(const cs_channel_conf *ch, const char *key, const char *subject,
                          const char *text, const char *alert_json, int64_t now_s,
                          cs_channel_req *r)
{
    memset(r, 0, sizeof *r);
    cs_buf_init(&r->body, 4u << 20);
    r->method = "POST";
    cs_buf *b = &r->body;
    int rc = 0;
    char sev[16];
    switch (ch->type) {
    case CS_CH_WEBHOOK:
        snprintf(r->url, sizeof r->url, "%s", ch->url);
        r->method = ch->method ? ch->method : "POST";
        rc = cs_buf_append_str(b, ch->message ? text : alert_json);
        break;
    case CS_CH_SLACK:
        snprintf(r->url, sizeof r->url, "%s", ch->url);
        rc = cs_buf_putc(b, '{') || jkv(b, "text", text, false) ||
             cs_buf_append_str(b, ",\"mrkdwn\":true}");
        break;
    case CS_CH_DISCORD:
        snprintf(r->url, sizeof r->url, "%s", ch->url);
        rc = cs_buf_putc(b, '{') || jkv(b, "content", text, false) ||
             cs_buf_append_str(b, ",\"allowed_mentions\":{\"parse\":[]}}");
        break;
    case CS_CH_TELEGRAM:
        snprintf(r->url, sizeof r->url, "%s/bot%s/sendMessage",
                 base(ch, "https://api.telegram.org"), ch->token);
        rc = cs_buf_putc(b, '{') || jkv(b, "chat_id", ch->chat_id, false) ||
             jkv(b, "text", text, true) ||
             cs_buf_append_str(b, ",\"parse_mode\":\"MarkdownV2\","
                                  "\"disable_web_page_preview\":true}");
        break;
    case CS_CH_PAGERDUTY: {
        /* Events API v2: trigger, deduplicated by our idempotency key */
        alert_severity(alert_json, sev, sizeof sev);
        const char *pds = strcmp(sev, "high") == 0     ? "critical"
                          : strcmp(sev, "medium") == 0 ? "warning"
                                                       : "info";
        snprintf(r->url, sizeof r->url, "%s/v2/enqueue", base(ch, "https://events.pagerduty.com"));
        rc = cs_buf_putc(b, '{') || jkv(b, "routing_key", ch->token, false) ||
             jkv(b, "event_action", "trigger", true) || jkv(b, "dedup_key", key, true) ||
             cs_buf_append_str(b, ",\"payload\":{") || jkv(b, "summary", subject, false) ||
             jkv(b, "source", "chainscope", true) || jkv(b, "severity", pds, true) ||
             cs_buf_append_str(b, ",\"custom_details\":") || cs_buf_append_str(b, alert_json) ||
             cs_buf_append_str(b, "}}");
        break;
    }
    case CS_CH_OPSGENIE: {
        alert_severity(alert_json, sev, sizeof sev);
        const char *prio = strcmp(sev, "high") == 0     ? "P1"
                           : strcmp(sev, "medium") == 0 ? "P3"
                                                        : "P5";
        snprintf(r->url, sizeof r->url, "%s/v2/alerts", base(ch, "https://api.opsgenie.com"));
        rc = add_header(r, "Authorization: GenieKey %s%s", ch->token, NULL);
        if (!rc)
            rc = cs_buf_putc(b, '{') || jkv(b, "message", subject, false) ||
                 jkv(b, "alias", key, true) || jkv(b, "description", text, true) ||
                 jkv(b, "priority", prio, true) || jkv(b, "source", "chainscope", true) ||
                 cs_buf_append_str(b, ",\"tags\":[") || cs_json_string(b, sev, strlen(sev)) ||
                 cs_buf_append_str(b, "]}");
        break;
    }
    default:
        return CS_EINVAL;
    }
    if (rc)
        return rc < 0 ? rc : CS_ENOMEM;
    if ((rc = add_header(r, "Content-Type: %s%s",
                         ch->type == CS_CH_WEBHOOK && ch->message ? "text/plain; charset=utf-8"
                                                                  : "application/json",
                         NULL)) ||
        (rc = add_header(r, "Idempotency-Key: %s%s", key, NULL)))
        return rc;
    for (size_t i = 0; ch->type == CS_CH_WEBHOOK && i < ch->nheaders && !rc; i++)
        rc = add_header(r, "%s%s", ch->headers[i], NULL);
    if (!rc && ch->type == CS_CH_WEBHOOK && ch->secret) {
        char ts[24], sig[65], val[80];
        snprintf(ts, sizeof ts, "%lld", (long long)now_s);
        if ((rc = cs_webhook_signature(ch->secret, now_s, b->data, b->len, sig)))
            return rc;
        snprintf(val, sizeof val, "sha256=%s", sig);
        const char *hn = ch->signature_header ? ch->signature_header : "X-Chainscope-Signature";
        if (!(rc = add_header(r, "X-Chainscope-Timestamp: %s%s", ts, NULL)))
            rc = add_header(r, "%s: %s", hn, val);
    }
    return rc;
}

/* RFC 2047 encoded-word when the subject is not plain ASCII. */
static int put_subject(cs_buf *out, const char *s)
{
    bool ascii = true;
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p >= 0x80)
            ascii = false;
    if (ascii)
        return cs_buf_printf(out, "Subject: %s\r\n", s);
    size_t n = strlen(s);
    unsigned char *enc = malloc(4 * ((n + 2) / 3) + 1);
    if (!enc)
        return CS_ENOMEM;
    EVP_EncodeBlock(enc, (const unsigned char *)s, (int)n);
    int rc = cs_buf_printf(out, "Subject: =?UTF-8?B?%s?=\r\n", enc);
    free(enc);
    return rc;
}

/* Appends text with bare LF turned into CRLF and dot-stuffing left to curl. */
static int put_crlf(cs_buf *out, const char *s)
{
    int rc = 0;
    char prev = 0;
    for (; *s && !rc; prev = *s++) {
        if (*s == '\n' && prev != '\r')
            rc = cs_buf_putc(out, '\r');
        if (!rc)
            rc = cs_buf_putc(out, *s);
    }
    return rc;
}

/* RFC 5322 2.1.1: lines of at most 998 octets. */
static bool lines_fit(const char *s)
{
    size_t run = 0;
    for (; *s; s++) {
        run = *s == '\n' ? 0 : run + 1;
        if (run > 998)
            return false;
    }
    return true;
}

/* One MIME part: 8bit when every line fits, else base64 in 76-column
 * lines (an HTML report with long lines). */
static int put_part(cs_buf *out, const char *key, const char *type, const char *body)
{
    bool plain = lines_fit(body);
    int rc = cs_buf_printf(out,
                           "--cs-%s\r\nContent-Type: %s; charset=utf-8\r\n"
                           "Content-Transfer-Encoding: %s\r\n\r\n",
                           key, type, plain ? "8bit" : "base64");
    if (rc || plain)
        return rc ? rc : put_crlf(out, body);
    size_t n = strlen(body);
    unsigned char enc[4 * 57 / 3 + 1];
    for (size_t i = 0; i < n && !rc; i += 57) {
        size_t k = n - i < 57 ? n - i : 57;
        EVP_EncodeBlock(enc, (const unsigned char *)body + i, (int)k);
        rc = cs_buf_printf(out, "%s\r\n", (const char *)enc);
    }
    return rc;
}

int cs_channel_build_mail(const cs_channel_conf *ch, const char *key, const char *subject,
                          const char *text, const char *html, int64_t now_s, cs_buf *out)
{
    char date[64];
    time_t t = (time_t)now_s;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
    int rc = cs_buf_printf(out, "Date: %s\r\nFrom: %s\r\nTo: ", date, ch->from);
    for (size_t i = 0; i < ch->nto && !rc; i++)
        rc = cs_buf_printf(out, "%s%s", i ? ", " : "", ch->to[i]);
    if (!rc)
        rc = cs_buf_printf(out,
                           "\r\nMessage-ID: <%s@chainscope>\r\nX-Chainscope-Idempotency-Key: "
                           "%s\r\nMIME-Version: 1.0\r\n",
                           key, key);
    if (!rc)
        rc = put_subject(out, subject);
    if (!rc)
        rc = cs_buf_printf(out, "Content-Type: multipart/alternative; boundary=\"cs-%s\"\r\n\r\n",
                           key);
    if (!rc)
        rc = put_part(out, key, "text/plain", text);
    if (!rc)
        rc = cs_buf_append_str(out, "\r\n");
    if (!rc)
        rc = put_part(out, key, "text/html", html);
    if (!rc)
        rc = cs_buf_printf(out, "\r\n--cs-%s--\r\n", key);
    return rc;
}

int cs_channels_check(const cs_channels_conf *cc, const char *what, const char *const *names,
                      size_t n)
{
    for (size_t i = 0; i < n; i++) {
        bool ok = false;
        for (size_t k = 0; cc && k < cc->n && !ok; k++)
            ok = strcmp(cc->ch[k].name, names[i]) == 0;
        if (!ok) {
            CS_ERROR("notify", "%s: channel '%s' is not defined under channels:", what, names[i]);
            return CS_ECONFIG;
        }
    }
    return 0;
}
