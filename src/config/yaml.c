#include "config/config_int.h"
#include "core/error.h"

#include <errno.h>
#include <libfyaml.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Reads libfyaml's collected diagnostics into c->err. */
static void yaml_errors(cs_cfg *c, struct fy_diag *diag)
{
    void *it = NULL;
    struct fy_diag_error *e;
    while ((e = fy_diag_errors_iterate(diag, &it))) {
        if (e->type < FYET_ERROR)
            continue;
        /* Collected diagnostics count lines and columns from 1. */
        snprintf(c->err, sizeof c->err, "%s:%d:%d: invalid YAML: %s", c->file, e->line, e->column,
                 e->msg);
        c->failed = 1;
        return;
    }
    snprintf(c->err, sizeof c->err, "%s: invalid YAML", c->file);
    c->failed = 1;
}

/* True when the text holds nothing but blank lines and comments (libfyaml
 * reports such a stream as an error; for us it means "all defaults"). */
static bool blank_text(const char *p, size_t n)
{
    bool comment = false;
    for (size_t i = 0; i < n; i++) {
        char ch = p[i];
        if (ch == '\n')
            comment = false;
        else if (ch == '#')
            comment = true;
        else if (!comment && ch != ' ' && ch != '\t' && ch != '\r')
            return false;
    }
    return true;
}

int cs_cfg_read(cs_cfg *c, char **buf, size_t *len)
{
    FILE *f = fopen(c->file, "rb");
    if (!f) {
        snprintf(c->err, sizeof c->err, "%s: cannot read: %s", c->file, strerror(errno));
        return CS_EIO;
    }
    char *p = malloc(CS_CFG_MAX_FILE + 1);
    size_t n = p ? fread(p, 1, CS_CFG_MAX_FILE + 1, f) : 0;
    bool bad = p && ferror(f);
    fclose(f);
    if (!p)
        return CS_ENOMEM;
    if (bad) {
        free(p);
        snprintf(c->err, sizeof c->err, "%s: cannot read: %s", c->file, strerror(errno));
        return CS_EIO;
    }
    if (n > CS_CFG_MAX_FILE) {
        free(p);
        snprintf(c->err, sizeof c->err, "%s: the file is over %u bytes", c->file, CS_CFG_MAX_FILE);
        return CS_ECONFIG;
    }
    const char *nul = memchr(p, 0, n);
    if (nul) {
        int line = 1, col = 1;
        for (const char *q = p; q < nul; q++, col++)
            if (*q == '\n')
                line++, col = 0;
        snprintf(c->err, sizeof c->err, "%s:%d:%d: a NUL byte: a config is text", c->file, line,
                 col);
        free(p);
        return CS_ECONFIG;
    }
    p[n] = 0;
    *buf = p;
    *len = n;
    return 0;
}

/* What expanding a document's aliases would build, counted without
 * building it. `via` is the outermost alias being followed: an error
 * names that one, which is where the file uses it. */
typedef struct expansion {
    uint64_t nodes, aliases, text;
    struct fy_node *at; /* where a bound was passed, or NULL */
    const char *what;
} expansion;

static void count_expansion(expansion *e, struct fy_node *n, struct fy_node *via, int depth)
{
    if (!n || e->at)
        return;
    struct fy_node *here = via ? via : n;
    if (++e->nodes > CS_CFG_MAX_NODES || depth > 1000) {
        e->at = here;
        e->what = depth > 1000 ? "nest deeper than 1000 levels" : "make more than 100000 values";
        return;
    }
    if (fy_node_is_alias(n)) {
        if (++e->aliases > CS_CFG_MAX_ALIASES) {
            e->at = here;
            e->what = "use aliases more than 10000 times";
            return;
        }
        /* NULL for a cycle or an unknown anchor: fy_document_resolve
         * reports those at their position. */
        count_expansion(e, fy_node_resolve_alias(n), here, depth + 1);
        return;
    }
    if (fy_node_is_scalar(n)) {
        size_t len = 0;
        fy_node_get_scalar(n, &len);
        if ((e->text += len) > CS_CFG_MAX_TEXT) {
            e->at = here;
            e->what = "make more than 16MiB of text";
        }
        return;
    }
    void *it = NULL;
    if (fy_node_is_mapping(n)) {
        struct fy_node_pair *p;
        while (!e->at && (p = fy_node_mapping_iterate(n, &it))) {
            count_expansion(e, fy_node_pair_key(p), via, depth + 1);
            count_expansion(e, fy_node_pair_value(p), via, depth + 1);
        }
        return;
    }
    struct fy_node *item;
    while (!e->at && (item = fy_node_sequence_iterate(n, &it)))
        count_expansion(e, item, via, depth + 1);
}

int cs_cfg_parse_text(cs_cfg *c, struct fy_diag *diag, const char *text, size_t len,
                      struct fy_document **doc)
{
    *doc = NULL;
    if (blank_text(text, len))
        return 0;
    struct fy_parse_cfg pcfg = {
        .flags = FYPCF_QUIET | FYPCF_COLLECT_DIAG | FYPCF_DEFAULT_VERSION_1_2, .diag = diag};
    struct fy_parser *fyp = fy_parser_create(&pcfg);
    if (!fyp)
        return CS_ENOMEM;
    int rc = 0;
    struct fy_document *d = NULL, *second = NULL;
    if (fy_parser_set_string(fyp, text, len) != 0 || !(d = fy_parse_load_document(fyp)) ||
        fy_diag_got_error(diag)) {
        yaml_errors(c, diag);
        rc = CS_ECONFIG;
        goto out;
    }
    if ((second = fy_parse_load_document(fyp)) || fy_diag_got_error(diag)) {
        if (fy_diag_got_error(diag)) {
            yaml_errors(c, diag);
        } else {
            struct fy_node *r = fy_document_root(second);
            rc = cs_cfg_error(c, r, NULL,
                              "a second YAML document%s: a config is one document (remove the "
                              "`---` line and what follows, or merge it into the first)",
                              r ? " starts here" : " (after `---`)");
        }
        rc = CS_ECONFIG;
        goto out;
    }
    expansion e = {0};
    count_expansion(&e, fy_document_root(d), NULL, 0);
    if (e.at) {
        rc = cs_cfg_error(c, e.at, NULL,
                          "YAML aliases: expanding them would %s (bounds once expanded: %u values, "
                          "%u alias uses, %u bytes of text)",
                          e.what, CS_CFG_MAX_NODES, CS_CFG_MAX_ALIASES, CS_CFG_MAX_TEXT);
        goto out;
    }
    if (fy_document_resolve(d) != 0 || fy_diag_got_error(diag)) {
        yaml_errors(c, diag);
        rc = CS_ECONFIG;
        goto out;
    }
    *doc = d;
    d = NULL;
out:
    if (second)
        fy_parse_document_destroy(fyp, second);
    if (d)
        fy_parse_document_destroy(fyp, d);
    fy_parser_destroy(fyp);
    return rc;
}
