/* The follower's newHeads subscription (follower.h, "Subscription"): each
 * notification asks for a head check, and the subscription's state sets the
 * polling pace. */
#include "core/error.h"
#include "core/log.h"
#include "evm/follower_int.h"

#include <stdio.h>

/* Checks the head now, or right after the check in flight. */
static void wake(cs_follower *f)
{
    if (f->closing)
        return;
    if (f->ticking || f->walking)
        f->rewake = true;
    else
        cs_follower_check_soon(f);
}

/* A new head announced: a hint only, the check reads the head itself. */
static void on_sub_head(uint64_t number, void *arg)
{
    cs_follower *f = arg;
    (void)number;
    f->st.notifications++;
    wake(f);
}

/* The subscription came up or went away: poll slowly while it is live,
 * at the normal pace otherwise; check the head at once either way. */
static void on_sub_state(bool live, void *arg)
{
    cs_follower *f = arg;
    f->st.subscribed = live;
    if (f->closing)
        return;
    f->poll_now = live ? f->o.subscribed_poll_ms : f->o.poll_ms;
    CS_INFO(LOG, "%s: %s; polling every %.1fs", f->network,
            live ? "new heads arrive by subscription" : "no head subscription",
            (double)f->poll_now / 1000.0);
    wake(f);
}

int cs_follower_sub_new(cs_follower *f, const char *path, char *err, size_t errlen)
{
    cs_headsub_opts so = {.path = path,
                          .name = f->network,
                          .on_head = on_sub_head,
                          .on_state = on_sub_state,
                          .arg = f};
    int rc = cs_headsub_new(f->loop, &so, &f->sub);
    if (rc)
        snprintf(err, errlen, "cannot set up the newHeads subscription on %s: %s", path,
                 cs_strerror(rc));
    return rc;
}
