/* The console sink of `chainscope run`: the events a config's `console`
 * section names, one line each on stdout (cli/render.h, or JSON lines),
 * written without ever blocking the loop.
 *
 * Lines go into one buffer of at most `buffer` bytes that is written as
 * stdout accepts it: through a libuv stream when stdout is a pipe, a
 * terminal or a socket, through the thread pool when it is a file. While
 * stdout does not keep up and the buffer is full, new lines are dropped
 * and counted (chainscope_console_dropped_total); one warning says so
 * when a burst of drops begins, one line when stdout has caught up again.
 * Loop thread only. */
#ifndef CS_CLI_CONSOLE_H
#define CS_CLI_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "core/bus.h"
#include "core/metrics.h"

#define CS_CONSOLE_DEFAULT_BUFFER (4u << 20)

typedef struct cs_console cs_console;

typedef struct cs_console_opts {
    const char *const *filters; /* borrowed; copied by the bus */
    size_t nfilters;
    bool json;        /* JSON lines instead of the human form */
    size_t buffer;    /* bytes waiting for stdout at most; 0: 4 MiB */
    size_t queue_max; /* the bus subscription's bound in events; 0: the bus's default */
    int fd;           /* where to write: 1 for stdout */
} cs_console_opts;

/* Subscribes on bus and opens fd for non-blocking writes; metrics (may be
 * NULL) gets the console's counters. *out is freed by cs_console_stop. */
int cs_console_start(uv_loop_t *loop, cs_bus *bus, cs_metrics *metrics, const cs_console_opts *o,
                     cs_console **out);
/* Unsubscribes, writes what is buffered for up to 2 s more, then closes
 * and frees c (asynchronously: the loop runs until it is done). */
void cs_console_stop(cs_console *c);

#endif
