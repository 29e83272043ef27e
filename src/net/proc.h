/* Running a helper program on the loop: no shell, input on stdin, output
 * from stdout (bounded), a timeout. Used by custom monitor filters and the
 * script notification channel. */
#ifndef CS_NET_PROC_H
#define CS_NET_PROC_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/* The outcome. err: 0 when the program ran to its end (then exit_status and
 * term_signal tell how), CS_ETIMEDOUT when it was killed at the timeout,
 * CS_ELIMIT when its output passed max_out (it was killed), or a spawn error
 * (e.g. UV_ENOENT). out is borrowed: valid until the callback returns. */
typedef void (*cs_proc_cb)(void *arg, int err, int64_t exit_status, int term_signal,
                           const char *out, size_t outlen);

/* Starts argv[0] (searched in PATH when it has no '/') with argv, writes
 * in[0..inlen) to its stdin and closes it, collects stdout; stderr goes to
 * ours. Returns 0 and later calls cb exactly once, or returns an error and
 * never calls cb. in is copied. The first call makes the process ignore
 * SIGPIPE (a program that exits without reading its input must not kill
 * chainscope); writes then fail with EPIPE instead. */
int cs_proc_run(uv_loop_t *loop, char *const *argv, const void *in, size_t inlen,
                uint64_t timeout_ms, size_t max_out, cs_proc_cb cb, void *arg);

#endif
