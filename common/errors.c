/* errors.c: human-readable names for the negative ROMA_E* codes. */
#include "errors.h"

const char *roma_strerror(int code)
{
    switch (code) {
    case ROMA_OK: return "ok";
    case ROMA_ENOMEM: return "out of memory";
    case ROMA_EINVAL: return "invalid argument";
    case ROMA_EIO: return "I/O error";
    case ROMA_ETIMEDOUT: return "timed out";
    case ROMA_ENOTFOUND: return "not found";
    case ROMA_ECONFLICT: return "conflict";
    case ROMA_EUNAVAIL: return "unavailable";
    case ROMA_ETOOBIG: return "too big";
    case ROMA_EDENIED: return "denied";
    default: return "unknown error";
    }
}
