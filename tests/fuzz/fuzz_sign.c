/* fuzz_sign.c: libFuzzer target for the request-signature parsers in common/sign.c, which see attacker
 * bytes before any authentication. The input is split on '\n' into:
 *   0 Authorization value   1 X-Sdk-Date   2 method   3 path   4 query
 *   5 SignedHeaders (used when line 0 does not parse)   6 payload hash   7.. headers "name:value"
 * Besides crashes/UB, it checks invariants: a parsed date formats back to the same text, a parsed
 * Authorization has a 64-lowercase-hex signature, a canonical request has exactly the 6 parts and yields a
 * 64-hex signature. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sign.h"

#define MAX_LINES 40

static void check_date(const char *s) {
    long long ms = 0;
    if (sign_parse_sdk_date(s, &ms) != 0) return;
    if (ms < 0 || ms % 1000 != 0) abort();
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    char back[32];
    if (gmtime_r(&t, &tm) == NULL) abort();
    snprintf(back, sizeof back, "%04d%02d%02dT%02d%02d%02dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
             tm.tm_hour, tm.tm_min, tm.tm_sec);
    if (strcmp(back, s) != 0) abort(); /* accepted text must be the canonical form of its instant */
}

static int check_auth(const char *s, sign_auth *a) {
    if (sign_parse_authorization(s, a) != 0) return 0;
    if (a->access[0] == '\0' || a->signed_headers[0] == '\0' || strlen(a->signature) != 64) abort();
    for (int i = 0; i < 64; i++)
        if (!strchr("0123456789abcdef", a->signature[i])) abort();
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *buf = malloc(size + 1);
    if (buf == NULL) return 0;
    memcpy(buf, data, size);
    buf[size] = '\0'; /* embedded NULs simply shorten fields, as they would arriving from civetweb */

    /* the whole input as one header value */
    sign_auth a;
    (void)check_auth(buf, &a);
    check_date(buf);

    char *line[MAX_LINES];
    size_t n = 0;
    char *p = buf;
    while (n < MAX_LINES) {
        line[n++] = p;
        char *nl = strchr(p, '\n');
        if (nl == NULL) break;
        *nl = '\0';
        p = nl + 1;
    }
    const char *f[7] = {"", "", "GET", "/", "", "host", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"};
    for (size_t i = 0; i < 7 && i < n; i++) f[i] = line[i];

    int parsed = check_auth(f[0], &a);
    check_date(f[1]);

    sign_header hdr[MAX_LINES];
    size_t nh = 0;
    for (size_t i = 7; i < n; i++) {
        char *colon = strchr(line[i], ':');
        if (colon == NULL) continue;
        *colon = '\0';
        hdr[nh].name = line[i];
        hdr[nh].value = colon + 1;
        nh++;
    }
    /* the signing policy: an accepted request always names host and x-sdk-date */
    const char *sh = parsed ? a.signed_headers : f[5], *why = NULL;
    int unsigned_payload = size > 0 && (data[0] & 1), raw = size > 0 && (data[0] & 2);
    if (sign_check_policy(sh, unsigned_payload, nh ? hdr[0].value : NULL, raw, &why) == 0) {
        if (!sign_headers_include(sh, "host") || !sign_headers_include(sh, "x-sdk-date")) abort();
        if (unsigned_payload && (!raw || !sign_headers_include(sh, "content-type"))) abort();
    } else if (why == NULL) {
        abort();
    }
    char *cr = sign_canonical_request(f[2], f[3], f[4], hdr, nh, sh, f[6]);
    if (cr != NULL) {
        size_t nl = 0;
        for (const char *c = cr; *c; c++) nl += *c == '\n';
        /* 5 separators + one line per signed header + the empty line closing the header block */
        size_t nsigned = 1;
        for (const char *c = parsed ? a.signed_headers : f[5]; *c; c++) nsigned += *c == ';';
        if (nl != 5 + nsigned) {
            /* a header value may itself contain no '\n' (split above), so the count is exact */
            abort();
        }
        char sig[65];
        sign_compute(cr, f[1], "MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc", sig);
        if (strlen(sig) != 64) abort();
        free(cr);
    }
    free(buf);
    return 0;
}
