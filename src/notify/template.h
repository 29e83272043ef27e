/* Message templates: `{{ path }}` over the alert document (docs/monitors.md,
 * "Templates").
 *
 *   *{{ monitor.name }}* fired on {{ network }}: {{ transaction.link }}
 *
 * A path is resolved with cs_val_path on the alert document
 * (`matchReasons[0].params.value`, `args.to`); a missing path renders as
 * nothing. Values render as text: strings as they are, integers in decimal
 * (exact, also past 64 bits), bytes as 0x-hex, arrays and objects as JSON.
 * `{{#path}} ... {{/path}}` shows its inside only when path is there and not
 * empty (null, false, "", [] and {} count as empty).
 * Only substituted values are escaped for the target (Telegram MarkdownV2,
 * Slack mrkdwn, Discord markdown, HTML, JSON strings); the template's own
 * text is taken to be in the target's markup already. */
#ifndef CS_NOTIFY_TEMPLATE_H
#define CS_NOTIFY_TEMPLATE_H

#include <stddef.h>

#include "core/buf.h"
#include "core/value.h"

typedef enum cs_escape {
    CS_ESC_NONE,
    CS_ESC_TELEGRAM, /* MarkdownV2: _*[]()~`>#+-=|{}.!\ get a backslash */
    CS_ESC_SLACK,    /* mrkdwn: & < > as entities */
    CS_ESC_DISCORD,  /* markdown: \ * _ ~ ` | > get a backslash */
    CS_ESC_HTML,     /* & < > " ' as entities */
    CS_ESC_JSON,     /* inside a JSON string: " \ and control characters */
} cs_escape;

#define CS_TEMPLATE_MAX 65536 /* bytes of template source */

typedef struct cs_template cs_template;

/* Compiles src. On error returns CS_EPARSE with "LINE:COL: message" in err.
 * *out is owned by the caller: cs_template_free. */
int cs_template_compile(const char *src, cs_template **out, char *err, size_t errlen);
void cs_template_free(cs_template *t);

/* Appends the rendering over doc (an object) to out. */
int cs_template_render(const cs_template *t, const cs_val *doc, cs_escape esc, cs_buf *out);
/* Compiles and renders in one go (for one-off messages). */
int cs_template_render_src(const char *src, const cs_val *doc, cs_escape esc, cs_buf *out,
                           char *err, size_t errlen);

/* Appends s[0..n) escaped for esc. */
int cs_escape_append(cs_buf *out, const char *s, size_t n, cs_escape esc);

/* Cuts b (from byte `from` on) to at most max bytes, on a UTF-8 character
 * boundary, ending with "…" when something was cut. For Telegram it never
 * leaves a lone escaping backslash at the end. Returns 1 if it cut. */
int cs_text_truncate(cs_buf *b, size_t from, size_t max, cs_escape esc);

#endif
