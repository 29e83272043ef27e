/* chainscope monitor packs | templates: what is compiled in. */
#include <libfyaml.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "rules/packs.h"

static const char *scalar(struct fy_node *map, const char *path, char *buf, size_t cap)
{
    if (cap)
        buf[0] = 0;
    struct fy_node *v = fy_node_by_path(map, path, FY_NT, FYNWF_DONT_FOLLOW);
    size_t n;
    const char *t = v && fy_node_is_scalar(v) ? fy_node_get_scalar(v, &n) : NULL;
    if (!t)
        return "";
    snprintf(buf, cap, "%.*s", (int)n, t);
    return buf;
}

/* One line per rule: name, severity, subjects, and its condition or window. */
static void print_rule(struct fy_node *r)
{
    char name[128], sev[32], cond[400], kind[32], subj[300] = "";
    struct fy_node *s = fy_node_by_path(r, "/subjects", FY_NT, FYNWF_DONT_FOLLOW);
    void *it = NULL;
    struct fy_node *x;
    while (s && (x = fy_node_sequence_iterate(s, &it))) {
        size_t n;
        const char *t = fy_node_get_scalar(x, &n);
        snprintf(subj + strlen(subj), sizeof subj - strlen(subj), "%s%.*s", *subj ? "," : "",
                 (int)n, t ? t : "");
    }
    scalar(r, "/window/kind", kind, sizeof kind);
    printf("  %-26s %-6s %s", scalar(r, "/name", name, sizeof name),
           *scalar(r, "/severity", sev, sizeof sev) ? sev : "medium", subj);
    if (*scalar(r, "/condition", cond, sizeof cond))
        printf(" when %s", cond);
    if (*kind)
        printf(" [%s window]", kind);
    printf("\n");
}

int cs_cmd_monitor_packs(int argc, char **argv)
{
    const char *only = argc > 1 ? argv[1] : NULL;
    for (const cs_embedded *p = cs_builtin_packs; p->name; p++) {
        if (only && !cs_pack_find(only))
            return cs_cli_usage_error("monitor packs", "no pack '%s'", only);
        if (only && cs_pack_find(only) != p)
            continue;
        struct fy_document *d = fy_document_build_from_string(NULL, p->text, p->len);
        if (!d)
            continue;
        struct fy_node *root = fy_document_root(d);
        char desc[300];
        printf("builtin:%s  %s\n", p->name, scalar(root, "/description", desc, sizeof desc));
        struct fy_node *rules = fy_node_by_path(root, "/monitors", FY_NT, FYNWF_DONT_FOLLOW);
        void *it = NULL;
        struct fy_node *r;
        while (rules && (r = fy_node_sequence_iterate(rules, &it)))
            print_rule(r);
        fy_document_destroy(d);
    }
    return CS_EXIT_OK;
}

int cs_cmd_monitor_templates(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    for (const cs_embedded *t = cs_builtin_templates; t->name; t++) {
        char cat[64], desc[300];
        cs_embedded_header(t, "category", cat, sizeof cat);
        cs_embedded_header(t, "description", desc, sizeof desc);
        printf("%-26s %-15s %s\n", t->name, cat, desc);
        /* parameters: "# param NAME: DEFAULT | meaning" */
        const char *p = t->text;
        while ((p = strstr(p, "# param "))) {
            const char *e = strchr(p, '\n');
            printf("%-26s %-15s   --param %.*s\n", "", "", (int)(e ? e - p - 8 : 0), p + 8);
            p += 8;
        }
    }
    return CS_EXIT_OK;
}

#define MAX_PARAMS 16

/* The value of @key@: a --param, the template's default, or the options. */
static const char *param(const cs_embedded *t, const char *key, char **kv, size_t nkv, char *buf,
                         size_t cap)
{
    size_t kl = strlen(key);
    for (size_t i = 0; i < nkv; i++)
        if (strncmp(kv[i], key, kl) == 0 && kv[i][kl] == '=')
            return kv[i] + kl + 1;
    char h[200];
    snprintf(h, sizeof h, "param %s", key);
    if (cs_embedded_header(t, h, buf, cap) == 0) {
        char *bar = strstr(buf, " |");
        if (bar)
            *bar = 0;
        return buf;
    }
    return NULL;
}

int cs_cmd_monitor_new(int argc, char **argv)
{
    const char *tname = NULL, *address = NULL, *network = NULL, *name = NULL;
    char *kv[MAX_PARAMS];
    size_t nkv = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            return cs_cli_usage_error("monitor new", "%s needs a value", a);
        if (strcmp(a, "--template") == 0 || strcmp(a, "-t") == 0)
            tname = v;
        else if (strcmp(a, "--address") == 0)
            address = v;
        else if (strcmp(a, "--network") == 0)
            network = v;
        else if (strcmp(a, "--name") == 0)
            name = v;
        else if (strcmp(a, "--param") == 0 && nkv < MAX_PARAMS && strchr(v, '='))
            kv[nkv++] = argv[i + 1];
        else
            return cs_cli_usage_error("monitor new", "unknown option '%s' (or --param without k=v)",
                                      a);
        i++;
    }
    if (!tname || !address)
        return cs_cli_usage_error("monitor new", "needs --template NAME and --address 0x...");
    const cs_embedded *t = cs_template_find(tname);
    if (!t)
        return cs_cli_usage_error("monitor new", "no template '%s' (see monitor templates)", tname);
    size_t al = strlen(address);
    bool hex = al == 42 && address[0] == '0' && (address[1] == 'x' || address[1] == 'X');
    for (size_t i = 2; hex && i < al; i++)
        hex = strchr("0123456789abcdefABCDEF", address[i]) != NULL;
    if (!hex)
        return cs_cli_usage_error("monitor new", "'%s' is not an address (0x and 40 hex digits)",
                                  address);
    char nm[200];
    snprintf(nm, sizeof nm, "%s-%.10s", t->name, address);
    printf("monitors:\n");
    const char *p = t->text, *end = t->text + t->len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        if (*p == '#' || (!network && memmem(p, (size_t)(le - p), "@network@", 9))) {
            p = le + 1;
            continue;
        }
        printf("  ");
        for (const char *q = p; q < le; q++) {
            const char *close = *q == '@' ? memchr(q + 1, '@', (size_t)(le - q - 1)) : NULL;
            if (!close || close - q > 40) {
                putchar(*q);
                continue;
            }
            char key[48], buf[200];
            snprintf(key, sizeof key, "%.*s", (int)(close - q - 1), q + 1);
            const char *v = strcmp(key, "address") == 0   ? address
                            : strcmp(key, "network") == 0 ? network
                            : strcmp(key, "name") == 0    ? (name ? name : nm)
                                                          : param(t, key, kv, nkv, buf, sizeof buf);
            if (!v) {
                putchar(*q);
                continue;
            }
            fputs(v, stdout);
            q = close;
        }
        putchar('\n');
        p = le + 1;
    }
    return CS_EXIT_OK;
}
