/* log.h: one JSON line per event on stderr.
 * Every line carries ts, level, svc, pid, rid (request id, "" when none), event and msg:
 *   {"ts":"2026-11-29T20:41:02.123Z","level":"info","svc":"api","pid":42,"rid":"ab12..","event":"http.request","msg":"GET /v2/... 200 1.2ms"}
 * Thread-safe: each line is formatted into a local buffer and written with one write(2). */
#ifndef ROMA_LOG_H
#define ROMA_LOG_H

#include "errors.h"

typedef enum { LOG_DEBUG = 0, LOG_INFO = 1, LOG_WARN = 2, LOG_ERROR = 3 } log_level;

/* service: short name put in "svc" (kept by pointer: pass a string literal).
 * level_name: "debug"|"info"|"warn"|"error"; NULL or unknown means info. */
void log_init(const char *service, const char *level_name);

/* rid may be NULL. msg is printf-formatted and JSON-escaped; never pass secrets. */
void log_event(log_level level, const char *rid, const char *event, const char *fmt, ...) ROMA_PRINTF(4, 5);

#define log_debug(rid, ev, ...) log_event(LOG_DEBUG, rid, ev, __VA_ARGS__)
#define log_info(rid, ev, ...) log_event(LOG_INFO, rid, ev, __VA_ARGS__)
#define log_warn(rid, ev, ...) log_event(LOG_WARN, rid, ev, __VA_ARGS__)
#define log_error(rid, ev, ...) log_event(LOG_ERROR, rid, ev, __VA_ARGS__)

#endif
