/* systemd's service notifications for chainscope run (sd_notify(3)): READY=1
 * once every component has started, WATCHDOG=1 from a loop timer at half
 * of $WATCHDOG_USEC, RELOADING=1 around SIGHUP, STOPPING=1 at shutdown.
 * Without $NOTIFY_SOCKET (not under systemd) every call does nothing. */
#ifndef CS_CLI_SDNOTIFY_H
#define CS_CLI_SDNOTIFY_H

#include <stdbool.h>
#include <uv.h>

typedef struct cs_sdnotify {
    uv_timer_t watchdog;
    bool timer_open;
} cs_sdnotify;

/* Sends READY=1 with a STATUS line and, when systemd asked for a watchdog,
 * starts the timer that pings it (unreferenced: it never keeps the loop
 * alive). */
void cs_sdnotify_ready(cs_sdnotify *n, uv_loop_t *loop, const char *status);
/* RELOADING=1 before a reload; cs_sdnotify_reloaded sends READY=1 after. */
void cs_sdnotify_reloading(cs_sdnotify *n);
void cs_sdnotify_reloaded(cs_sdnotify *n);
/* STOPPING=1, and closes the watchdog timer (call once, before the loop's
 * last turn). */
void cs_sdnotify_stopping(cs_sdnotify *n);

#endif
