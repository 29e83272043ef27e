/* The notifier of a `chainscope run`: one per runtime, shared by every
 * component that notifies (monitors: alerts; audit: reports), so that one
 * outbox has one sender. It is made from the runtime's `channels:` and
 * `notify:` sections on the first cs_notify_acquire and closed when the
 * last holder releases it. Loop thread only. */
#ifndef CS_NOTIFY_SERVICE_H
#define CS_NOTIFY_SERVICE_H

#include "core/runtime.h"
#include "notify/notifier.h"

#define CS_NOTIFY_MAX_RUNTIMES 8 /* runtimes (loops) with a notifier at once */

/* *out is borrowed: valid until the matching cs_notify_release. Errors:
 * the notifier's (the outbox cannot open: logged), CS_ELIMIT. */
int cs_notify_acquire(cs_runtime *rt, cs_notifier **out);
/* Gives back what cs_notify_acquire gave; done(arg) runs (at once, or once
 * the notifier is closed when this was the last holder). */
void cs_notify_release(cs_notifier *n, void (*done)(void *arg), void *arg);

/* Whether every name is a channel of rt's `channels:` section; if not,
 * logs "<what>: channel 'x' is not defined under channels:" and returns
 * CS_ECONFIG. */
int cs_notify_check_channels(const cs_runtime *rt, const char *what, const char *const *names,
                             size_t n);

#endif
