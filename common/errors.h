/* errors.h: the negative error codes shared by every OpenROMA module (libuv style).
 * Functions that can fail return 0 (or a non-negative count) on success and one of these on failure. */
#ifndef ROMA_ERRORS_H
#define ROMA_ERRORS_H

#define ROMA_OK 0
#define ROMA_ENOMEM (-1)     /* allocation failed */
#define ROMA_EINVAL (-2)     /* bad argument or malformed input */
#define ROMA_EIO (-3)        /* I/O or database error */
#define ROMA_ETIMEDOUT (-4)  /* deadline passed */
#define ROMA_ENOTFOUND (-5)  /* no such row / resource */
#define ROMA_ECONFLICT (-6)  /* uniqueness or fencing conflict */
#define ROMA_EUNAVAIL (-7)   /* dependency (broker, worker, db) unavailable */
#define ROMA_ETOOBIG (-8)    /* input over a configured limit */
#define ROMA_EDENIED (-9)    /* refused by policy */

#define ROMA_MUST_USE __attribute__((warn_unused_result))
#define ROMA_PRINTF(fmt_idx, arg_idx) __attribute__((format(printf, fmt_idx, arg_idx)))

const char *roma_strerror(int code);

#endif
