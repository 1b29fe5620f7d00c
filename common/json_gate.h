/* json_gate.h: the one gate every JSON text passes before cJSON parses it, in every process.
 *
 * cJSON is recursive (a deep document overflows a small thread stack, and the Debian civetweb's worker
 * threads have 100 KB), keeps NUL-truncated strings ("x\u0000y" becomes "x"), accepts invalid UTF-8 and
 * keeps duplicate keys (of which every lookup sees the first while another component may see the
 * last). json_gate_check() is a single-pass, non-recursive validator of the whole text that refuses all
 * of that before any parser runs:
 *   - more than max_bytes bytes;
 *   - containers nested deeper than max_depth (a top-level object is depth 1);
 *   - anything that is not one RFC 8259 JSON value (plus surrounding whitespace);
 *   - bytes that are not valid UTF-8 (overlong forms, surrogates, code points above U+10FFFF), and
 *     \u escapes that name a lone surrogate;
 *   - NUL, raw or as \u0000, anywhere;
 *   - the same key twice in one object (compared after unescaping, so "a" and "\u0061" collide).
 * It is a validator, not a second parser: cJSON still builds the tree (json_gate_parse does both).
 *
 * The process-wide limits (json_gate_set_limits) default to 64 levels and 4 MiB; the API sets them from
 * ROMA_JSON_MAX_DEPTH and ROMA_HTTP_MAX_BODY, the workers from the same defaults. */
#ifndef ROMA_JSON_GATE_H
#define ROMA_JSON_GATE_H

#include <cJSON.h>
#include <stddef.h>

#include "errors.h"

#define JSON_GATE_DEFAULT_DEPTH 64
#define JSON_GATE_DEFAULT_BYTES (4u * 1024 * 1024)
#define JSON_GATE_MAX_DEPTH 1000 /* cJSON's own CJSON_NESTING_LIMIT: deeper never parses anyway */

typedef enum {
    JSON_GATE_OK = 0,
    JSON_GATE_TOO_BIG,
    JSON_GATE_TOO_DEEP,
    JSON_GATE_SYNTAX,
    JSON_GATE_UTF8,
    JSON_GATE_NUL,
    JSON_GATE_DUP_KEY,
    JSON_GATE_NOMEM,
} json_gate_code;

typedef struct json_gate_err {
    json_gate_code code;
    size_t offset; /* byte offset of the offending input */
    char msg[160]; /* "The JSON text has a duplicate object key at byte 12." style, no input echoed */
    char path[128]; /* JSON_GATE_DUP_KEY: the repeated member, "content.password", "items[2].k" (raw
                     * UTF-8 of the keys, truncated; escape it before echoing) */
} json_gate_err;

/* Sets the process-wide limits used when a call passes 0 (depth clamped to 1..JSON_GATE_MAX_DEPTH). Call
 * once at start, before threads. */
void json_gate_set_limits(int max_depth, size_t max_bytes);
int json_gate_max_depth(void);

/* Validates buf[0..len) as one JSON text. max_depth / max_bytes 0 = the process-wide limits. 0 when it
 * passes, otherwise a negative ROMA_* code (ROMA_EINVAL, ROMA_ETOOBIG, ROMA_ENOMEM) with err filled
 * (err may be NULL). */
int json_gate_check(const char *buf, size_t len, int max_depth, size_t max_bytes, json_gate_err *err) ROMA_MUST_USE;

/* json_gate_check with the process-wide limits, then cJSON. NULL when either refuses (err says why; a
 * cJSON failure after the gate passed can only be ROMA_ENOMEM). The caller owns the result. */
cJSON *json_gate_parse(const char *buf, size_t len, json_gate_err *err);
/* The same for a NUL-terminated text (stored JSON read from PostgreSQL, a worker's reply). */
cJSON *json_gate_parse_str(const char *text, json_gate_err *err);

/* 1 when s[0..len) is valid UTF-8 without NUL (the rule for decoded paths, queries and header values). */
int json_gate_text_ok(const char *s, size_t len);

#endif
