/* IP address masking (mask.h). */
#include "web/mask.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static bool is_dec(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_hex(char c)
{
    return is_dec(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Length of an IPv4 address at s[0..n), or 0. */
static size_t ipv4_len(const char *s, size_t n)
{
    size_t i = 0;
    for (int part = 0; part < 4; part++) {
        if (part) {
            if (i >= n || s[i] != '.')
                return 0;
            i++;
        }
        size_t start = i;
        unsigned v = 0;
        while (i < n && is_dec(s[i]) && i - start < 3)
            v = v * 10 + (unsigned)(s[i++] - '0');
        if (i == start || v > 255)
            return 0;
    }
    if (i < n && (is_dec(s[i]) || (s[i] == '.' && i + 1 < n && is_dec(s[i + 1]))))
        return 0; /* part of a longer dotted number */
    return i;
}

/* Length of an IPv6 address at s[0..n), or 0: groups of 1-4 hex digits
 * separated by ':', with "::" once or exactly 8 groups. */
static size_t ipv6_len(const char *s, size_t n)
{
    size_t i = 0, last_ok = 0;
    int groups = 0, colons = 0;
    bool dbl = false;
    while (i < n) {
        size_t start = i;
        while (i < n && is_hex(s[i]) && i - start < 5)
            i++;
        size_t g = i - start;
        if (g > 4)
            return 0;
        if (g && i < n && s[i] == '.') {
            size_t v4 = ipv4_len(s + start, n - start);
            if (v4 && (dbl || groups == 6)) {
                groups += 2;
                last_ok = start + v4;
            }
            break;
        }
        if (g) {
            groups++;
            last_ok = i;
        }
        if (i + 1 < n && s[i] == ':' && s[i + 1] == ':') {
            if (dbl)
                break;
            dbl = true;
            colons += 2;
            i += 2;
            last_ok = i;
            continue;
        }
        if (i < n && s[i] == ':' && g) {
            colons++;
            i++;
            continue;
        }
        break;
    }
    if (groups > 8 || (!dbl && groups != 8) || colons < 2)
        return 0;
    if (last_ok < n && is_hex(s[last_ok]))
        return 0;
    return last_ok;
}

static void pseudonym(char out[12], const char *s, size_t n, uint64_t key)
{
    uint64_t h = 1469598103934665603ull ^ key;
    for (size_t i = 0; i < n; i++) {
        char c = s[i] >= 'A' && s[i] <= 'F' ? (char)(s[i] + 32) : s[i];
        h = (h ^ (uint8_t)c) * 1099511628211ull;
        h ^= h >> 29;
    }
    h = (h ^ key) * 0x9e3779b97f4a7c15ull;
    snprintf(out, 12, "ip-%08x", (unsigned)(h >> 32));
}

int cs_web_mask(cs_buf *out, const char *s, size_t n, uint64_t key)
{
    size_t i = 0, copied = 0;
    while (i < n) {
        char c = s[i];
        bool boundary = i == 0 || !(is_hex(s[i - 1]) || s[i - 1] == '.' || s[i - 1] == ':');
        size_t l = 0;
        if (boundary && (is_hex(c) || c == ':')) {
            l = ipv6_len(s + i, n - i);
            if (!l && is_dec(c))
                l = ipv4_len(s + i, n - i);
        }
        if (!l) {
            i++;
            continue;
        }
        char p[12];
        pseudonym(p, s + i, l, key);
        int rc;
        if ((rc = cs_buf_append(out, s + copied, i - copied)) || (rc = cs_buf_append_str(out, p)))
            return rc;
        i += l;
        copied = i;
    }
    return cs_buf_append(out, s + copied, n - copied);
}
