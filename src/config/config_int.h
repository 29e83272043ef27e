/* What only src/config's files share: reading the file and parsing it
 * into one bounded, resolved YAML document (yaml.c). */
#ifndef CS_CONFIG_CONFIG_INT_H
#define CS_CONFIG_CONFIG_INT_H

#include "config/config.h"

#include <stddef.h>

struct fy_diag;

/* Reads c->file whole (at most CS_CFG_MAX_FILE bytes) into *buf, NUL-
 * terminated (caller frees). A NUL byte inside is an error at its line and
 * column: YAML is text, and the parser would stop there and take the rest
 * for absent. Errors go to c->err. */
int cs_cfg_read(cs_cfg *c, char **buf, size_t *len);

/* Parses text[0..len) into one resolved document (*doc NULL for a file of
 * blanks and comments; caller destroys with fy_document_destroy; text must
 * outlive it). Errors, each at its position in c->err: invalid YAML, a
 * second document, aliases that would expand past CS_CFG_MAX_NODES,
 * CS_CFG_MAX_ALIASES or CS_CFG_MAX_TEXT (counted before anything is
 * expanded, so a "billion laughs" file costs nothing). */
int cs_cfg_parse_text(cs_cfg *c, struct fy_diag *diag, const char *text, size_t len,
                      struct fy_document **doc);

#endif
