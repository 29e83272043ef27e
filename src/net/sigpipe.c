#include "net/sigpipe.h"

#include <signal.h>
#include <uv.h>

static void ignore(void)
{
    signal(SIGPIPE, SIG_IGN);
}

void cs_ignore_sigpipe(void)
{
    static uv_once_t once = UV_ONCE_INIT;
    uv_once(&once, ignore);
}
