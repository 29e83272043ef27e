/* NATS subjects for events, and NATS messages back into events (nats.h). */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "bus/nats.h"
#include "core/error.h"
#include "core/json.h"
#include "core/subject.h"

static bool plain(unsigned char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
           ch == '-' || ch == '_';
}

/* Appends token s[0..n) escaped; returns false when out is full. */
static bool put_token(char *out, size_t cap, size_t *at, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    if (n == 0) {
        if (*at + 3 >= cap)
            return false;
        memcpy(out + *at, "%00", 3);
        *at += 3;
        return true;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (plain(ch)) {
            if (*at + 1 >= cap)
                return false;
            out[(*at)++] = (char)ch;
        } else {
            if (*at + 3 >= cap)
                return false;
            out[(*at)++] = '%';
            out[(*at)++] = hex[ch >> 4];
            out[(*at)++] = hex[ch & 15];
        }
    }
    return true;
}

static bool put_raw(char *out, size_t cap, size_t *at, const char *s, size_t n)
{
    if (*at + n >= cap)
        return false;
    memcpy(out + *at, s, n);
    *at += n;
    return true;
}

/* Appends the dot-separated tokens of s, each escaped; `*` and `>` tokens
 * stay wildcards when wild. */
static bool put_tokens(char *out, size_t cap, size_t *at, const char *s, bool wild)
{
    const char *p = s;
    for (;;) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        bool ok = wild && n == 1 && (*p == '*' || *p == '>') ? put_raw(out, cap, at, p, 1)
                                                             : put_token(out, cap, at, p, n);
        if (!ok)
            return false;
        if (!dot)
            return true;
        if (!put_raw(out, cap, at, ".", 1))
            return false;
        p = dot + 1;
    }
}

int cs_nats_subject(char *out, size_t cap, const char *prefix, const char *network,
                    const char *type)
{
    size_t at = 0;
    if (!cap)
        return CS_ELIMIT;
    bool ok = put_raw(out, cap, &at, prefix, strlen(prefix)) && put_raw(out, cap, &at, ".", 1) &&
              put_token(out, cap, &at, network ? network : "", network ? strlen(network) : 0) &&
              put_raw(out, cap, &at, ".", 1) && put_tokens(out, cap, &at, type, false);
    out[ok ? at : 0] = 0;
    return ok ? (int)at : CS_ELIMIT;
}

int cs_nats_filter_subject(char *out, size_t cap, const char *prefix, const char *filter)
{
    if (!cs_subject_filter_valid(filter, strlen(filter)))
        return CS_EINVAL;
    size_t at = 0;
    if (!cap)
        return CS_ELIMIT;
    bool ok = put_raw(out, cap, &at, prefix, strlen(prefix)) && put_raw(out, cap, &at, ".*.", 3) &&
              put_tokens(out, cap, &at, filter, true);
    out[ok ? at : 0] = 0;
    return ok ? (int)at : CS_ELIMIT;
}

int cs_nats_decode(const void *data, size_t len, const char *encoding, cs_event **out)
{
    *out = NULL;
    if (len > CS_EVENT_MAX_SIZE)
        return CS_ELIMIT;
    if (encoding && strcmp(encoding, "json") == 0) {
        char err[128];
        /* no defaults: the JSON rendering carries the whole envelope */
        cs_event_hdr none = {0};
        return cs_json_parse_event(data, len, &none, out, err, sizeof err);
    }
    if (encoding && strcmp(encoding, "binary") != 0)
        return CS_EUNSUPPORTED;
    return cs_event_decode(data, len, out);
}
