/* Ready-made messages (an audit report) in each channel's form: see
 * cs_channel_render_message in channel.h. */
#include <string.h>

#include "core/error.h"
#include "notify/channel.h"
#include "notify/channel_int.h"

/* Telegram MarkdownV2 inside ``` blocks: only ` and \ are escaped. */
static int put_tg_code(cs_buf *out, const char *s)
{
    int rc = 0;
    for (; *s && !rc; s++) {
        if (*s == '`' || *s == '\\')
            rc = cs_buf_putc(out, '\\');
        if (!rc)
            rc = cs_buf_putc(out, *s);
    }
    return rc;
}

/* Appends text as a code block (``` ... ```) for chat, cut so that the
 * whole message stays within limit. */
static int put_code_block(cs_buf *out, const char *text, cs_channel_type t, size_t limit)
{
    int rc = cs_buf_append_str(out, t == CS_CH_SLACK ? "```" : "```\n");
    size_t from = out->len;
    if (!rc)
        rc = t == CS_CH_TELEGRAM ? put_tg_code(out, text)
             : t == CS_CH_SLACK  ? cs_escape_append(out, text, strlen(text), CS_ESC_SLACK)
                                 : cs_buf_append_str(out, text);
    if (rc)
        return rc;
    size_t room = limit > from + 3 ? limit - from - 3 : 0;
    cs_text_truncate(out, from, room, t == CS_CH_TELEGRAM ? CS_ESC_TELEGRAM : CS_ESC_NONE);
    return cs_buf_append_str(out, "```");
}

int cs_channel_render_message(const cs_channel_conf *ch, const char *subject, const char *text,
                              const char *html, cs_rendered *out)
{
    int rc = cs_buf_append_str(&out->subject, subject);
    if (rc)
        return rc;
    cs_channel_subject_fit(ch, &out->subject);
    cs_buf *b = &out->text;
    size_t limit = cs_channel_text_limit(ch->type);
    switch (ch->type) {
    case CS_CH_SLACK:
        rc = cs_buf_putc(b, '*') || cs_escape_append(b, subject, strlen(subject), CS_ESC_SLACK) ||
             cs_buf_append_str(b, "*\n") || put_code_block(b, text, ch->type, limit);
        break;
    case CS_CH_DISCORD:
        rc = cs_buf_append_str(b, "**") ||
             cs_escape_append(b, subject, strlen(subject), CS_ESC_DISCORD) ||
             cs_buf_append_str(b, "**\n") || put_code_block(b, text, ch->type, limit);
        break;
    case CS_CH_TELEGRAM:
        rc = cs_buf_putc(b, '*') ||
             cs_escape_append(b, subject, strlen(subject), CS_ESC_TELEGRAM) ||
             cs_buf_append_str(b, "*\n") || put_code_block(b, text, ch->type, limit);
        break;
    default:
        rc = cs_buf_append_str(b, text);
        if (!rc)
            cs_text_truncate(b, 0, limit, CS_ESC_NONE);
        break;
    }
    if (rc)
        return rc < 0 ? rc : CS_ENOMEM;
    if (ch->type != CS_CH_EMAIL)
        return 0;
    if (html && html[0] && strlen(html) <= CS_LIMIT_EMAIL) {
        rc = cs_buf_append_str(&out->html, html);
    } else { /* no page, or too large for a mail: the text, preformatted */
        rc = cs_buf_append_str(&out->html, "<html><body><pre>") ||
             cs_escape_append(&out->html, text, strlen(text), CS_ESC_HTML);
        if (!rc)
            cs_text_truncate(&out->html, 0, CS_LIMIT_EMAIL - 32, CS_ESC_HTML);
        rc = rc || cs_buf_append_str(&out->html, "</pre></body></html>\n");
        rc = rc < 0 ? rc : rc ? CS_ENOMEM : 0;
    }
    return rc;
}
