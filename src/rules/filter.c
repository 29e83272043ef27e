/* Custom filters: placeholder until the runner lands (see monitor_int.h). */
#include "rules/monitor_int.h"

#include "core/error.h"

int cs_filter_start(uv_loop_t *loop, const cs_monitor_filter *f, cs_pmatch *batch, size_t n,
                    cs_filter_done_cb cb, void *arg)
{
    (void)loop;
    (void)f;
    (void)batch;
    (void)n;
    (void)cb;
    (void)arg;
    return CS_EUNSUPPORTED;
}
