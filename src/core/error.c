#include "core/error.h"

#include <string.h>
#include <uv.h>

const char *cs_strerror(int err)
{
    switch (err) {
    case CS_OK:
        return "success";
    case CS_ENOMEM:
        return "out of memory";
    case CS_EINVAL:
        return "invalid argument";
    case CS_EPARSE:
        return "malformed input";
    case CS_ETRUNC:
        return "input ends early";
    case CS_ERANGE:
        return "value out of range";
    case CS_ENOTFOUND:
        return "not found";
    case CS_ETYPE:
        return "wrong type";
    case CS_ELIMIT:
        return "limit reached";
    case CS_EIO:
        return "input/output error";
    case CS_ECONFIG:
        return "invalid configuration";
    case CS_EAUTH:
        return "authentication failed";
    case CS_ECLOSED:
        return "closed";
    case CS_ETIMEDOUT:
        return "timed out";
    case CS_EPROTO:
        return "protocol violation";
    case CS_EEXIST:
        return "already exists";
    case CS_EUNSUPPORTED:
        return "not supported";
    default:
        break;
    }
    if (err < 0 && err > -4096)
        return uv_strerror(err);
    return "unknown error";
}
