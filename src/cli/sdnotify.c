/* systemd notifications for chainscope run (see sdnotify.h). */
#include "cli/sdnotify.h"
#include "core/log.h"

#include <stdint.h>
#include <stdio.h>
#include <systemd/sd-daemon.h>
#include <time.h>

static void on_watchdog(uv_timer_t *t)
{
    (void)t;
    sd_notify(0, "WATCHDOG=1");
}

void cs_sdnotify_ready(cs_sdnotify *n, uv_loop_t *loop, const char *status)
{
    char msg[600];
    snprintf(msg, sizeof msg, "READY=1\nSTATUS=%s", status);
    sd_notify(0, msg);
    uint64_t usec = 0;
    /* > 0 only when $WATCHDOG_USEC is set (and $WATCHDOG_PID, if set, is us) */
    if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
        uint64_t every_ms = usec / 2000 ? usec / 2000 : 1;
        uv_timer_init(loop, &n->watchdog);
        uv_unref((uv_handle_t *)&n->watchdog);
        n->timer_open = true;
        sd_notify(0, "WATCHDOG=1");
        uv_timer_start(&n->watchdog, on_watchdog, every_ms, every_ms);
        CS_INFO("run", "systemd watchdog: a ping every %llu ms", (unsigned long long)every_ms);
    }
}

void cs_sdnotify_reloading(cs_sdnotify *n)
{
    (void)n;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    char msg[80];
    /* systemd 253 and later want the monotonic time with RELOADING=1 */
    snprintf(msg, sizeof msg, "RELOADING=1\nMONOTONIC_USEC=%llu",
             (unsigned long long)ts.tv_sec * 1000000ull + (unsigned long long)ts.tv_nsec / 1000);
    sd_notify(0, msg);
}

void cs_sdnotify_reloaded(cs_sdnotify *n)
{
    (void)n;
    sd_notify(0, "READY=1");
}

void cs_sdnotify_stopping(cs_sdnotify *n)
{
    sd_notify(0, "STOPPING=1");
    if (n->timer_open) {
        n->timer_open = false;
        uv_close((uv_handle_t *)&n->watchdog, NULL);
    }
}
