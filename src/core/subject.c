#include "core/subject.h"

#include <string.h>

bool cs_subject_filter_valid(const char *f, size_t n)
{
    if (n == 0 || n > CS_SUBJECT_MAX)
        return false;
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && f[i] != '.') {
            unsigned char c = (unsigned char)f[i];
            if (c <= ' ' || c == 0x7f)
                return false;
            continue;
        }
        size_t len = i - start;
        if (len == 0)
            return false;
        for (size_t k = start; k < i; k++)
            if ((f[k] == '*' || f[k] == '>') && len != 1)
                return false;
        if (f[start] == '>' && i != n)
            return false;
        start = i + 1;
    }
    return true;
}

bool cs_subject_match(const char *f, size_t flen, const char *s, size_t slen)
{
    size_t fi = 0, si = 0;
    for (;;) {
        /* Current filter token [fi, fe) and subject token [si, se). */
        size_t fe = fi;
        while (fe < flen && f[fe] != '.')
            fe++;
        if (fe - fi == 1 && f[fi] == '>')
            return si < slen; /* one or more tokens left */
        if (si >= slen)
            return false;
        size_t se = si;
        while (se < slen && s[se] != '.')
            se++;
        if (!(fe - fi == 1 && f[fi] == '*')) {
            if (fe - fi != se - si || memcmp(f + fi, s + si, fe - fi) != 0)
                return false;
        }
        bool fend = fe >= flen, send = se >= slen;
        if (fend || send)
            return fend && send;
        fi = fe + 1;
        si = se + 1;
    }
}
