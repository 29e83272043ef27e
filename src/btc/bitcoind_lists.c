/* Address lists (Tor exits, known spy nodes, ...) and the ip-to-ASN table
 * the extractor labels peers with (see bitcoind_int.h). Both are small
 * local files read whole at start and on SIGHUP. */
#include "btc/bitcoind_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "btc/wire.h"
#include "core/error.h"

#define MAX_FILE (64u << 20)

int cs_btcd_read_file(const char *path, char **out, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot read %s", path);
        return CS_EIO;
    }
    cs_buf b;
    cs_buf_init(&b, 0);
    char chunk[65536];
    size_t n;
    int rc = 0;
    while (rc == 0 && (n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (b.len + n > MAX_FILE) {
            snprintf(err, errlen, "%s is larger than %u MiB", path, MAX_FILE >> 20);
            rc = CS_ELIMIT;
        } else {
            rc = cs_buf_append(&b, chunk, n);
        }
    }
    fclose(f);
    if (rc == 0 && (rc = cs_buf_putc(&b, 0)) == 0) {
        *out = (char *)b.data;
        return 0;
    }
    cs_buf_free(&b);
    return rc;
}

/* The next line of *s without its comment and surrounding blanks, into
 * buf; false at the end. */
static bool next_line(const char **s, char *buf, size_t cap, size_t *line)
{
    if (!*s || !**s)
        return false;
    const char *e = strchr(*s, '\n');
    size_t len = e ? (size_t)(e - *s) : strlen(*s);
    size_t k = 0;
    for (size_t i = 0; i < len && (*s)[i] != '#' && k < cap - 1; i++)
        buf[k++] = (*s)[i] == '\t' ? '\t' : (*s)[i];
    while (k && (buf[k - 1] == ' ' || buf[k - 1] == '\r' || buf[k - 1] == '\t'))
        k--;
    buf[k] = 0;
    *s = e ? e + 1 : NULL;
    ++*line;
    return true;
}

/* "1.2.3.0/24", "2001:db8::/32" or a single address. */
static int prefix_parse(char *s, cs_btcd_prefix *p)
{
    while (*s == ' ')
        s++;
    char *slash = strchr(s, '/');
    long bits = -1;
    if (slash) {
        char *end;
        *slash = 0;
        bits = strtol(slash + 1, &end, 10);
        if (*end || end == slash + 1 || bits < 0)
            return CS_EPARSE;
    }
    if (cs_wire_ip_parse(s, p->ip))
        return CS_EPARSE;
    bool v4 = !strchr(s, ':');
    long max = v4 ? 32 : 128;
    if (bits > max)
        return CS_EPARSE;
    if (bits < 0)
        bits = max;
    p->bits = (uint8_t)(v4 ? bits + 96 : bits);
    return 0;
}

static bool in_prefix(const cs_btcd_prefix *p, const uint8_t ip[16])
{
    unsigned full = p->bits / 8, rest = p->bits % 8;
    if (memcmp(p->ip, ip, full))
        return false;
    return rest == 0 || ((p->ip[full] ^ ip[full]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

int cs_btcd_list_parse(cs_btcd_list *l, const char *text, char *err, size_t errlen)
{
    cs_btcd_prefix *v = NULL;
    size_t n = 0, cap = 0, line = 0;
    char buf[160];
    while (next_line(&text, buf, sizeof buf, &line)) {
        if (!buf[0])
            continue;
        cs_btcd_prefix p;
        char shown[160];
        snprintf(shown, sizeof shown, "%s", buf);
        if (prefix_parse(buf, &p)) {
            snprintf(err, errlen, "line %zu: expected an address or CIDR prefix, got '%s'", line,
                     shown);
            free(v);
            return CS_EPARSE;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            cs_btcd_prefix *nv = realloc(v, cap * sizeof *nv);
            if (!nv) {
                free(v);
                return CS_ENOMEM;
            }
            v = nv;
        }
        v[n++] = p;
    }
    free(l->v);
    l->v = v;
    l->n = n;
    return 0;
}

bool cs_btcd_list_has(const cs_btcd_list *l, const uint8_t ip[16])
{
    for (size_t i = 0; i < l->n; i++)
        if (in_prefix(&l->v[i], ip))
            return true;
    return false;
}

void cs_btcd_list_free(cs_btcd_list *l)
{
    free(l->v);
    free(l->name);
    memset(l, 0, sizeof *l);
}

static int by_lo(const void *a, const void *b)
{
    return memcmp(((const cs_btcd_asn_range *)a)->lo, ((const cs_btcd_asn_range *)b)->lo, 16);
}

int cs_btcd_asns_parse(cs_btcd_asns *a, const char *text, char *err, size_t errlen)
{
    cs_btcd_asn_range *v = NULL;
    size_t n = 0, cap = 0, line = 0;
    char buf[512];
    while (next_line(&text, buf, sizeof buf, &line)) {
        if (!buf[0])
            continue;
        char *f[3] = {NULL, NULL, NULL};
        size_t nf = 0;
        for (char *save = NULL, *t = strtok_r(buf, "\t", &save); t && nf < 3;
             t = strtok_r(NULL, "\t", &save))
            f[nf++] = t;
        cs_btcd_asn_range r;
        const char *asn_s = NULL;
        cs_btcd_prefix p;
        if (nf >= 2 && strchr(f[0], '/') && prefix_parse(f[0], &p) == 0) {
            memcpy(r.lo, p.ip, 16);
            memcpy(r.hi, p.ip, 16);
            for (unsigned b = p.bits; b < 128; b++) {
                r.lo[b / 8] &= (uint8_t) ~(0x80 >> (b % 8));
                r.hi[b / 8] |= (uint8_t)(0x80 >> (b % 8));
            }
            asn_s = f[1];
        } else if (nf >= 3 && cs_wire_ip_parse(f[0], r.lo) == 0 &&
                   cs_wire_ip_parse(f[1], r.hi) == 0 && memcmp(r.lo, r.hi, 16) <= 0) {
            asn_s = f[2];
        } else {
            snprintf(err, errlen,
                     "line %zu: expected first_ip<TAB>last_ip<TAB>asn or prefix<TAB>asn", line);
            free(v);
            return CS_EPARSE;
        }
        if (!strncmp(asn_s, "AS", 2))
            asn_s += 2;
        char *end;
        unsigned long asn = strtoul(asn_s, &end, 10);
        if (end == asn_s || asn > UINT32_MAX) {
            snprintf(err, errlen, "line %zu: bad AS number", line);
            free(v);
            return CS_EPARSE;
        }
        if (asn == 0)
            continue; /* "not routed" in the iptoasn layout */
        r.asn = (uint32_t)asn;
        if (n == cap) {
            cap = cap ? cap * 2 : 256;
            cs_btcd_asn_range *nv = realloc(v, cap * sizeof *nv);
            if (!nv) {
                free(v);
                return CS_ENOMEM;
            }
            v = nv;
        }
        v[n++] = r;
    }
    qsort(v, n, sizeof *v, by_lo);
    free(a->v);
    a->v = v;
    a->n = n;
    return 0;
}

uint32_t cs_btcd_asn_of(const cs_btcd_asns *a, const uint8_t ip[16])
{
    /* the last range starting at or below ip */
    size_t lo = 0, hi = a->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (memcmp(a->v[mid].lo, ip, 16) <= 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0)
        return 0;
    const cs_btcd_asn_range *r = &a->v[lo - 1];
    return memcmp(ip, r->hi, 16) <= 0 ? r->asn : 0;
}

void cs_btcd_asns_free(cs_btcd_asns *a)
{
    free(a->v);
    memset(a, 0, sizeof *a);
}
