/* log.c: JSON-lines logger (see log.h). One write(2) per line so lines from concurrent threads and
 * processes sharing a pipe never interleave (writes up to PIPE_BUF are atomic). */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

static const char *log_service = "roma";
static log_level log_min = LOG_INFO;

void log_init(const char *service, const char *level_name)
{
    if (service) log_service = service;
    log_min = LOG_INFO;
    if (!level_name) return;
    if (!strcasecmp(level_name, "debug")) log_min = LOG_DEBUG;
    else if (!strcasecmp(level_name, "warn")) log_min = LOG_WARN;
    else if (!strcasecmp(level_name, "error")) log_min = LOG_ERROR;
}

/* Appends s JSON-escaped into buf at *pos, never past cap-1; truncates silently. Bytes that are not
 * valid UTF-8 (client input echoed into a message) become the text \xNN, so every line stays valid
 * JSON in UTF-8 and the byte is still visible. */
static void append_escaped(char *buf, size_t cap, size_t *pos, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    size_t left = s ? strlen(s) : 0;
    for (; s && *s && *pos + 7 < cap; s++, left--) {
        unsigned char c = (unsigned char)*s;
        if (c >= 0x80) {
            size_t k = util_utf8_seq((const unsigned char *)s, left);
            if (k) {
                memcpy(buf + *pos, s, k); /* k <= 4 < the 7 bytes of room checked above */
                *pos += k;
                s += k - 1;
                left -= k - 1;
            } else {
                buf[(*pos)++] = '\\';
                buf[(*pos)++] = '\\';
                buf[(*pos)++] = 'x';
                buf[(*pos)++] = hex[c >> 4];
                buf[(*pos)++] = hex[c & 15];
            }
        } else if (c == '"' || c == '\\') {
            buf[(*pos)++] = '\\';
            buf[(*pos)++] = (char)c;
        } else if (c < 0x20) {
            buf[(*pos)++] = '\\';
            buf[(*pos)++] = 'u';
            buf[(*pos)++] = '0';
            buf[(*pos)++] = '0';
            buf[(*pos)++] = hex[c >> 4];
            buf[(*pos)++] = hex[c & 15];
        } else {
            buf[(*pos)++] = (char)c;
        }
    }
}

static void append_raw(char *buf, size_t cap, size_t *pos, const char *s)
{
    size_t n = strlen(s);
    if (*pos + n >= cap) n = cap - *pos - 1;
    memcpy(buf + *pos, s, n);
    *pos += n;
}

void log_event(log_level level, const char *rid, const char *event, const char *fmt, ...)
{
    static const char *names[] = {"debug", "info", "warn", "error"};
    if (level < log_min) return;

    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);

    char ts[32];
    util_fmt_iso_ms(util_now_ms(), ts);
    char line[4096];
    size_t pos = 0;
    char head[160];
    snprintf(head, sizeof head, "{\"ts\":\"%s\",\"level\":\"%s\",\"svc\":\"%s\",\"pid\":%ld,\"rid\":\"", ts,
             names[level & 3], log_service, (long)getpid());
    append_raw(line, sizeof line, &pos, head);
    append_escaped(line, sizeof line, &pos, rid ? rid : "");
    append_raw(line, sizeof line, &pos, "\",\"event\":\"");
    append_escaped(line, sizeof line, &pos, event ? event : "");
    append_raw(line, sizeof line, &pos, "\",\"msg\":\"");
    append_escaped(line, sizeof line, &pos, msg);
    append_raw(line, sizeof line, &pos, "\"}\n");
    /* a truncated line still ends in a newline: overwrite the tail if we ran out of room */
    if (pos >= sizeof line - 1) {
        memcpy(line + sizeof line - 4, "\"}\n", 3);
        pos = sizeof line - 1;
    }
    ssize_t w = write(STDERR_FILENO, line, pos);
    (void)w; /* nowhere left to report a failed log write */
}
