/* Rule packs and templates compiled into the binary (see packs.h). */
#include "rules/packs.h"

#include <stdio.h>
#include <string.h>

#include "core/error.h"

static const cs_embedded *find(const cs_embedded *t, const char *name)
{
    if (strncmp(name, "builtin:", 8) == 0)
        name += 8;
    for (; t->name; t++)
        if (strcmp(t->name, name) == 0)
            return t;
    return NULL;
}

const cs_embedded *cs_pack_find(const char *name)
{
    return find(cs_builtin_packs, name);
}

const cs_embedded *cs_template_find(const char *name)
{
    return find(cs_builtin_templates, name);
}

int cs_embedded_header(const cs_embedded *e, const char *key, char *out, size_t cap)
{
    size_t kl = strlen(key);
    const char *p = e->text, *end = e->text + e->len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        const char *q = p;
        if (q + 2 <= le && q[0] == '#' && q[1] == ' ')
            q += 2;
        if ((size_t)(le - q) > kl + 1 && memcmp(q, key, kl) == 0 && q[kl] == ':' &&
            q[kl + 1] == ' ') {
            q += kl + 2;
            snprintf(out, cap, "%.*s", (int)(le - q), q);
            return 0;
        }
        p = le + 1;
    }
    if (cap)
        out[0] = 0;
    return CS_ENOTFOUND;
}
