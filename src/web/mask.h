/* http.mask_ips: every IP address in a text the dashboard sends is replaced
 * by a pseudonym ("ip-" and 8 hex digits, the same for the same address for
 * the process's life, from a keyed hash with a key drawn at start), so pages
 * still tell peers apart without showing where they are. */
#ifndef CS_WEB_MASK_H
#define CS_WEB_MASK_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

/* Appends s[0..n) to out with every IPv4 address (four dotted decimals of
 * 0..255) and IPv6 address (hex groups with "::" or 7 colons, optionally
 * ending in an IPv4 address) replaced by its pseudonym under key. */
int cs_web_mask(cs_buf *out, const char *s, size_t n, uint64_t key);

#endif
