/* Notification channels (docs/monitors.md, "Channels"): their config, the
 * default message of each kind, and how a stored notification becomes a
 * request at send time.
 *
 * A notification is rendered once, when the alert is queued (subject, text
 * body, HTML body, the alert JSON), and stored in the outbox. Everything
 * secret (tokens, routing keys, API keys, HMAC secrets, SMTP passwords) is
 * added only when it is sent, from the channel's config, so the outbox
 * never holds a secret. */
#ifndef CS_NOTIFY_CHANNEL_H
#define CS_NOTIFY_CHANNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "core/buf.h"
#include "core/value.h"
#include "notify/conf.h"
#include "notify/template.h"

typedef enum cs_channel_type {
    CS_CH_WEBHOOK,
    CS_CH_SLACK,
    CS_CH_DISCORD,
    CS_CH_TELEGRAM,
    CS_CH_PAGERDUTY,
    CS_CH_OPSGENIE,
    CS_CH_EMAIL,
    CS_CH_SCRIPT,
} cs_channel_type;

const char *cs_channel_type_name(cs_channel_type t);

typedef struct cs_channel_conf {
    char *name;
    cs_channel_type type;
    /* webhook, slack, discord: the URL to post to; telegram, pagerduty,
     * opsgenie: the API's base URL (default: the public service) */
    char *url;
    char *method;   /* webhook; default POST */
    char **headers; /* webhook: "Name: value" */
    size_t nheaders;
    char *secret;           /* webhook: HMAC-SHA256 key; NULL: unsigned */
    char *signature_header; /* default X-Chainscope-Signature */
    char *token;            /* telegram bot token, pagerduty routing key, opsgenie API key */
    char *chat_id;          /* telegram */
    /* email */
    char *smtp; /* smtp://host:port or smtps://host:port */
    char *username, *password;
    bool starttls;
    char *ca_file;
    bool insecure;
    char *from;
    char **to;
    size_t nto;
    /* script */
    char **command;
    size_t ncommand;
    /* all */
    uint64_t timeout_ms;
    double rate_per_minute; /* 0: no limit */
    uint32_t burst;
    char *title; /* templates overriding the defaults; NULL: default */
    char *message;
} cs_channel_conf;

struct cs_channels_conf {
    cs_channel_conf *ch;
    size_t n;
};

/* cs_cfg_section parse/free for "channels" (a mapping name -> channel). */
int cs_channels_conf_parse(cs_cfg *c, struct fy_node *node, void **out);
void cs_channels_conf_free(void *conf);
void cs_channel_conf_clear(cs_channel_conf *ch);

/* The rendered forms of one alert for one channel. */
typedef struct cs_rendered {
    cs_buf subject; /* one line: email subject, PagerDuty summary, Opsgenie message */
    cs_buf text;    /* the message in the channel's markup */
    cs_buf html;    /* email only */
} cs_rendered;

void cs_rendered_init(cs_rendered *r);
void cs_rendered_free(cs_rendered *r);

/* Renders doc for ch with the monitor's templates (title_tpl, msg_tpl: NULL
 * for the channel's, then the default), applying the channel's escaping
 * and length limits. On a template error returns CS_EPARSE with a message. */
int cs_channel_render(const cs_channel_conf *ch, const char *title_tpl, const char *msg_tpl,
                      const cs_val *doc, cs_rendered *out, char *err, size_t errlen);

/* Renders a ready-made message (e.g. an audit report: a subject, the
 * text, and for email an HTML page; html NULL or "": the text in <pre>) in
 * the forms of an alert for ch: chat gets the subject in bold and the text
 * as a code block, escaped and cut at the channel's limit; email the text
 * and HTML parts (an HTML page past CS_LIMIT_EMAIL gives way to the text). */
int cs_channel_render_message(const cs_channel_conf *ch, const char *subject, const char *text,
                              const char *html, cs_rendered *out);

/* Length limits, bytes (conservative for the platforms' character limits). */
#define CS_LIMIT_SLACK 3000
#define CS_LIMIT_DISCORD 2000
#define CS_LIMIT_TELEGRAM 4096
#define CS_LIMIT_PAGERDUTY_SUMMARY 1024
#define CS_LIMIT_OPSGENIE_MESSAGE 130
#define CS_LIMIT_OPSGENIE_DESCRIPTION 15000
#define CS_LIMIT_SUBJECT 200
#define CS_LIMIT_EMAIL (256u << 10)

/* A request built at send time. headers are "Name: value" strings. */
typedef struct cs_channel_req {
    char url[2048];
    const char *method;
    char *headers[16];
    size_t nheaders;
    cs_buf body;
} cs_channel_req;

void cs_channel_req_free(cs_channel_req *r);

/* Builds the HTTP request for an HTTP channel from a stored notification:
 * key (the idempotency key), subject, text, alert (the alert JSON), and the
 * time now_s (for the webhook signature). */
int cs_channel_build_http(const cs_channel_conf *ch, const char *key, const char *subject,
                          const char *text, const char *alert_json, int64_t now_s,
                          cs_channel_req *out);

/* Builds the MIME message of an email (CRLF lines). */
int cs_channel_build_mail(const cs_channel_conf *ch, const char *key, const char *subject,
                          const char *text, const char *html, int64_t now_s, cs_buf *out);

/* HMAC-SHA256 of "<timestamp>.<body>" as lowercase hex (65 bytes with NUL). */
int cs_webhook_signature(const char *secret, int64_t ts, const void *body, size_t len,
                         char out[65]);

#endif
