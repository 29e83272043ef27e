/* Subject filters with NATS semantics, so that a filter means the same on
 * the in-process bus, the log server and NATS:
 *   tokens are separated by '.';
 *   '*' matches exactly one token;  p2p.msg.* matches p2p.msg.addr
 *   '>' (last token only) matches one or more tokens;  evm.> matches evm.log
 * A filter ">" matches everything. */
#ifndef CS_CORE_SUBJECT_H
#define CS_CORE_SUBJECT_H

#include <stdbool.h>
#include <stddef.h>

#define CS_SUBJECT_MAX 128

/* Checks a filter's syntax: non-empty tokens, '*' and '>' only as whole
 * tokens, '>' only last. */
bool cs_subject_filter_valid(const char *filter, size_t n);

/* Does subject s[0..slen) match filter f[0..flen)? */
bool cs_subject_match(const char *f, size_t flen, const char *s, size_t slen);

#endif
