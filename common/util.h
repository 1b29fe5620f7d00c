/* util.h: small pure helpers used everywhere: clocks, timestamp formats, random ids, hex, string checks. */
#ifndef ROMA_UTIL_H
#define ROMA_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include "errors.h"

int64_t util_now_ms(void);        /* wall clock, epoch milliseconds */
int64_t util_mono_ms(void);       /* monotonic milliseconds, for deadlines */
void util_sleep_ms(long ms);

/* Caller-owned buffers. iso_ms: "2019-12-06T06:49:04.000Z" (>= 25 bytes); iso_s: "2019-12-06T06:49:04Z" (>= 21). */
void util_fmt_iso_ms(int64_t epoch_ms, char out[32]);
void util_fmt_iso_s(int64_t epoch_ms, char out[32]);

/* Random ids from the OS CSPRNG (getrandom). Return 0 or ROMA_EIO. */
int util_random_bytes(void *buf, size_t n) ROMA_MUST_USE;
int util_hex_id(char out[33]) ROMA_MUST_USE;   /* 32 lowercase hex chars */
int util_uuid(char out[37]) ROMA_MUST_USE;     /* RFC 4122 v4, lowercase */

void util_hex_encode(const unsigned char *in, size_t n, char *out /* 2n+1 */);
int util_hex_decode(const char *in, unsigned char *out, size_t outlen) ROMA_MUST_USE; /* exact length 2*outlen */

int util_is_hex32(const char *s);   /* 32 lowercase hex */
int util_is_uuid(const char *s);    /* 8-4-4-4-12 hex, any case */

/* Length in Unicode code points of valid UTF-8, or -1 when s is not valid UTF-8. */
long util_utf8_len(const char *s);

/* Length (1-4) of the valid UTF-8 sequence at s, n bytes available, or 0 when the bytes there are not
 * valid UTF-8 (overlong forms, surrogates, code points above U+10FFFF, truncated sequences). */
size_t util_utf8_seq(const unsigned char *s, size_t n);

/* Copies the NUL-terminated s into out (cap >= 1 bytes, always NUL-terminated, truncated at a character
 * boundary) writing every byte that is not part of valid UTF-8, and every control character but
 * none other, as the four characters \xNN: client input echoed into error bodies and log lines stays
 * valid UTF-8 and visibly marked. */
void util_escape_text(const char *s, char *out, size_t cap);

/* Parses a whole decimal integer string into *out; 0 or ROMA_EINVAL. */
int util_parse_long(const char *s, long *out) ROMA_MUST_USE;

#endif
