/* sign.h: the SDK-HMAC-SHA256 request signature of the Huawei Cloud SDKs (shared/spec/auth-signing.md).
 * Pure functions: no I/O, no clock. The API's auth module feeds them the received request. */
#ifndef ROMA_SIGN_H
#define ROMA_SIGN_H

#include <stddef.h>
#include "errors.h"

typedef struct sign_header { const char *name; const char *value; } sign_header;

typedef struct sign_auth {      /* parsed Authorization header; points into a caller-owned copy */
    char access[128];
    char signed_headers[1024];  /* "content-type;host;..." as sent */
    char signature[65];
} sign_auth;

/* Parses "SDK-HMAC-SHA256 Access=..., SignedHeaders=..., Signature=...". 0 or ROMA_EINVAL. */
int sign_parse_authorization(const char *value, sign_auth *out) ROMA_MUST_USE;

/* Builds the canonical request. headers: every received header (lookup is case-insensitive).
 * body_sha256_hex: hex digest of the body, or "UNSIGNED-PAYLOAD". Returns a heap string or NULL
 * (ROMA_EINVAL cases: a signed header missing from the request). */
char *sign_canonical_request(const char *method, const char *path, const char *query,
                             const sign_header *headers, size_t nheaders,
                             const char *signed_headers, const char *body_sha256_hex) ROMA_MUST_USE;

/* 1 when the ';'-separated list signed_headers names header `name` (case-insensitive, whole names). */
int sign_headers_include(const char *signed_headers, const char *name);

/* What a signed request must bind, beyond a matching signature (README "Decisions", AK/SK):
 * - SignedHeaders names `host` and `x-sdk-date`, so a signature cannot be replayed against another host
 *   and its date (the replay window) is covered;
 * - the payload is hashed, except where the official SDKs send `X-Sdk-Content-Sha256: UNSIGNED-PAYLOAD`:
 *   a Content-Type that is not application/json (their rule), which among our routes only the multipart
 *   uploads take (raw_body_route). Then Content-Type and X-Sdk-Content-Sha256 must be signed too.
 * content_type: the received Content-Type or NULL. 0, or ROMA_EDENIED with *why set to the reason. */
int sign_check_policy(const char *signed_headers, int unsigned_payload, const char *content_type,
                      int raw_body_route, const char **why) ROMA_MUST_USE;

/* Signature (64 lowercase hex) for a canonical request, SDK date ("20240102T030405Z") and SK. */
void sign_compute(const char *canonical_request, const char *sdk_date, const char *sk, char out[65]);

/* Parses "YYYYMMDDTHHMMSSZ" to epoch ms. 0 or ROMA_EINVAL. */
int sign_parse_sdk_date(const char *s, long long *epoch_ms) ROMA_MUST_USE;

#endif
