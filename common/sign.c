/* sign.c: server-side verification helpers for the SDK-HMAC-SHA256 request signature used by the
 * Huawei Cloud SDKs (shared/spec/auth-signing.md): Authorization parsing, canonical request, signature,
 * X-Sdk-Date parsing. Pure functions over caller data: no I/O, no clock, no global state. */
#include "sign.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "crypto.h"

#define ALGORITHM "SDK-HMAC-SHA256"
#define MAX_SIGNED_HEADERS 64

/* ---- growable byte buffer ----------------------------------------------------------------------- */

typedef struct sbuf {
    char *p;
    size_t len, cap;
    int oom;            /* sticky: once an append failed every later one is a no-op */
} sbuf;

static void sb_append(sbuf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (n > SIZE_MAX / 2 - b->len - 1) {
        b->oom = 1;
        return;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        if (p == NULL) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_puts(sbuf *b, const char *s) { sb_append(b, s, strlen(s)); }
static void sb_putc(sbuf *b, char c) { sb_append(b, &c, 1); }

/* ---- percent coding ------------------------------------------------------------------------------ */

static int hexval(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static int is_unreserved(unsigned char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
           c == '.' || c == '~';
}

/* Percent-decodes s[0..n) into out (at least n bytes). '+' stays a literal '+': the SDK sends a space
 * as %20 and signs a literal '+' as %2B, so reading '+' as a space would break such signatures.
 * Returns the decoded length, or -1 on a malformed escape ("%4", "%zz"). Decoded bytes may be NUL. */
static long pct_decode(const char *s, size_t n, char *out) {
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%') {
            if (i + 2 >= n) return -1;
            int hi = hexval((unsigned char)s[i + 1]), lo = hexval((unsigned char)s[i + 2]);
            if (hi < 0 || lo < 0) return -1;
            out[o++] = (char)(hi << 4 | lo);
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    return (long)o;
}

/* RFC 3986 encoding as the SDK's quote(s, safe='~'): unreserved kept, everything else %XX upper-case. */
static void pct_encode(sbuf *b, const char *s, size_t n) {
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (is_unreserved(c)) {
            sb_putc(b, (char)c);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            sb_append(b, e, 3);
        }
    }
}

/* ---- Authorization ------------------------------------------------------------------------------- */

static int is_ak_char(unsigned char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/* RFC 7230 tchar, minus '_' (names with '_' are never signed) and upper case (the SDK lower-cases). */
static int is_header_name_char(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '!' || c == '#' || c == '$' ||
           c == '%' || c == '&' || c == '\'' || c == '*' || c == '+' || c == '.' || c == '^' || c == '`' ||
           c == '|' || c == '~';
}

/* "h1;h2;...": non-empty lowercase names, at most MAX_SIGNED_HEADERS of them. */
static int valid_signed_headers(const char *s, size_t n) {
    size_t names = 0, cur = 0;
    if (n == 0) return 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || s[i] == ';') {
            if (cur == 0) return 0;
            if (++names > MAX_SIGNED_HEADERS) return 0;
            cur = 0;
        } else {
            if (!is_header_name_char((unsigned char)s[i])) return 0;
            cur++;
        }
    }
    return 1;
}

int sign_parse_authorization(const char *value, sign_auth *out) {
    if (value == NULL || out == NULL) return ROMA_EINVAL;
    memset(out, 0, sizeof *out);
    const size_t alglen = sizeof ALGORITHM - 1;
    if (strncmp(value, ALGORITHM, alglen) != 0 || value[alglen] != ' ') return ROMA_EINVAL;
    const char *p = value + alglen;
    int have_access = 0, have_sh = 0, have_sig = 0;
    /* Parameters are "Name=value" separated by ',' with optional spaces (the SDK writes ", ").
     * Each must appear exactly once; anything else makes the header malformed. */
    for (;;) {
        while (*p == ' ') p++;
        const char *name = p;
        while (*p != '=' && *p != ',' && *p != '\0' && *p != ' ') p++;
        if (*p != '=') goto bad;
        size_t namelen = (size_t)(p - name);
        const char *val = ++p;
        while (*p != ',' && *p != '\0' && *p != ' ') p++;
        size_t vlen = (size_t)(p - val);
        if (vlen == 0) goto bad;
        if (namelen == 6 && memcmp(name, "Access", 6) == 0) {
            if (have_access++ || vlen >= sizeof out->access) goto bad;
            for (size_t i = 0; i < vlen; i++)
                if (!is_ak_char((unsigned char)val[i])) goto bad;
            memcpy(out->access, val, vlen);
            out->access[vlen] = '\0';
        } else if (namelen == 13 && memcmp(name, "SignedHeaders", 13) == 0) {
            if (have_sh++ || vlen >= sizeof out->signed_headers || !valid_signed_headers(val, vlen)) goto bad;
            memcpy(out->signed_headers, val, vlen);
            out->signed_headers[vlen] = '\0';
        } else if (namelen == 9 && memcmp(name, "Signature", 9) == 0) {
            if (have_sig++ || vlen != 64) goto bad;
            for (size_t i = 0; i < 64; i++) {
                int c = (unsigned char)val[i];
                if (hexval(c) < 0) goto bad;
                /* normalise so the caller can compare with our lower-case hex */
                out->signature[i] = (char)(c >= 'A' && c <= 'F' ? c - 'A' + 'a' : c);
            }
            out->signature[64] = '\0';
        } else {
            goto bad;
        }
        while (*p == ' ') p++;
        if (*p == '\0') break;
        if (*p != ',') goto bad;
        p++;
    }
    if (!have_access || !have_sh || !have_sig) goto bad;
    return 0;
bad:
    memset(out, 0, sizeof *out);
    return ROMA_EINVAL;
}

/* ---- canonical request --------------------------------------------------------------------------- */

/* Canonical URI. The SDK computes unquote(path).split('/') then quotes each piece and joins with '/':
 * it decodes the whole path first, so an escaped "%2F" acts as a separator (and stays a literal '/').
 * Doing the same keeps us byte-compatible with SDK signatures for every path. */
static int canonical_uri(sbuf *b, const char *path) {
    size_t n = strlen(path);
    if (n == 0) {
        sb_putc(b, '/');
        return 0;
    }
    char *dec = malloc(n);
    if (dec == NULL) return ROMA_ENOMEM;
    long dlen = pct_decode(path, n, dec);
    if (dlen < 0) {
        free(dec);
        return ROMA_EINVAL;
    }
    size_t start = b->len;
    size_t seg = 0;
    for (size_t i = 0; i <= (size_t)dlen; i++) {
        if (i == (size_t)dlen || dec[i] == '/') {
            pct_encode(b, dec + seg, i - seg);
            if (i < (size_t)dlen) sb_putc(b, '/');
            seg = i + 1;
        }
    }
    free(dec);
    if (b->len == start || b->p[b->len - 1] != '/') sb_putc(b, '/');
    return 0;
}

typedef struct qpair {
    char *name, *value;      /* decoded bytes (may contain NUL), pointing into one arena */
    size_t nlen, vlen;
} qpair;

static int bytes_cmp(const char *a, size_t al, const char *b, size_t bl) {
    int c = memcmp(a, b, al < bl ? al : bl);
    if (c != 0) return c;
    return al < bl ? -1 : al > bl;
}

/* The SDK sorts (name, value) pairs of decoded strings: Python compares code points, which for UTF-8
 * is the same order as comparing the bytes unsigned (memcmp). */
static int qpair_cmp(const void *x, const void *y) {
    const qpair *a = x, *b = y;
    int c = bytes_cmp(a->name, a->nlen, b->name, b->nlen);
    return c != 0 ? c : bytes_cmp(a->value, a->vlen, b->value, b->vlen);
}

static int canonical_query(sbuf *b, const char *query) {
    if (query == NULL || query[0] == '\0') return 0;
    size_t n = strlen(query);
    size_t maxpairs = 1;
    for (size_t i = 0; i < n; i++)
        if (query[i] == '&') maxpairs++;
    qpair *pairs = calloc(maxpairs, sizeof *pairs);
    char *arena = malloc(n + 1);
    int rc = 0;
    if (pairs == NULL || arena == NULL) {
        rc = ROMA_ENOMEM;
        goto out;
    }
    size_t np = 0, ap = 0, i = 0;
    while (i <= n) {
        size_t j = i;
        while (j < n && query[j] != '&') j++;
        if (j > i) { /* empty pieces ("a=1&&b=2", trailing '&') carry nothing */
            const char *eq = memchr(query + i, '=', j - i);
            size_t nend = eq ? (size_t)(eq - query) : j;
            qpair *q = &pairs[np++];
            long l = pct_decode(query + i, nend - i, arena + ap);
            if (l < 0) {
                rc = ROMA_EINVAL;
                goto out;
            }
            q->name = arena + ap;
            q->nlen = (size_t)l;
            ap += (size_t)l;
            /* "flag" with no '=' is the name with an empty value, as the SDK's parsers do */
            l = eq ? pct_decode(eq + 1, j - nend - 1, arena + ap) : 0;
            if (l < 0) {
                rc = ROMA_EINVAL;
                goto out;
            }
            q->value = arena + ap;
            q->vlen = (size_t)l;
            ap += (size_t)l;
        }
        i = j + 1;
    }
    qsort(pairs, np, sizeof *pairs, qpair_cmp);
    for (size_t k = 0; k < np; k++) {
        if (k > 0) sb_putc(b, '&');
        pct_encode(b, pairs[k].name, pairs[k].nlen);
        sb_putc(b, '=');
        pct_encode(b, pairs[k].value, pairs[k].vlen);
    }
out:
    free(pairs);
    free(arena);
    return rc;
}

static int is_ows(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f'; }

/* Appends "name:trimmed-value\n" for the one received header called name (case-insensitive).
 * A signed header that is missing, or present more than once, is an error: with duplicates we could
 * not know which value the client signed, and picking one invites request-smuggling style confusion. */
static int canonical_header(sbuf *b, const char *name, size_t nlen, const sign_header *headers, size_t nheaders) {
    const char *value = NULL;
    for (size_t i = 0; i < nheaders; i++) {
        const char *hn = headers[i].name;
        if (hn == NULL || strlen(hn) != nlen || strncasecmp(hn, name, nlen) != 0) continue;
        if (value != NULL) return ROMA_EINVAL;
        value = headers[i].value != NULL ? headers[i].value : "";
    }
    if (value == NULL) return ROMA_EINVAL;
    size_t vlen = strlen(value);
    while (vlen > 0 && is_ows(value[vlen - 1])) vlen--;
    while (vlen > 0 && is_ows(*value)) {
        value++;
        vlen--;
    }
    sb_append(b, name, nlen);
    sb_putc(b, ':');
    sb_append(b, value, vlen);
    sb_putc(b, '\n');
    return 0;
}

static int valid_method(const char *m) {
    if (m == NULL || m[0] == '\0') return 0;
    for (; *m; m++)
        if (!((*m >= 'A' && *m <= 'Z') || (*m >= 'a' && *m <= 'z'))) return 0;
    return 1;
}

static int valid_payload_hash(const char *h) {
    if (h == NULL) return 0;
    if (strcmp(h, "UNSIGNED-PAYLOAD") == 0) return 1;
    if (strlen(h) != 64) return 0;
    for (size_t i = 0; i < 64; i++)
        if (!((h[i] >= '0' && h[i] <= '9') || (h[i] >= 'a' && h[i] <= 'f'))) return 0;
    return 1;
}

char *sign_canonical_request(const char *method, const char *path, const char *query,
                             const sign_header *headers, size_t nheaders,
                             const char *signed_headers, const char *body_sha256_hex) {
    if (!valid_method(method) || path == NULL || (headers == NULL && nheaders > 0) || signed_headers == NULL ||
        !valid_signed_headers(signed_headers, strlen(signed_headers)) || !valid_payload_hash(body_sha256_hex))
        return NULL;
    sbuf b = {0};

    /* 1. method, upper case */
    for (const char *m = method; *m; m++) sb_putc(&b, (char)(*m >= 'a' && *m <= 'z' ? *m - 'a' + 'A' : *m));
    sb_putc(&b, '\n');
    /* 2. canonical URI */
    if (canonical_uri(&b, path) != 0) goto fail;
    sb_putc(&b, '\n');
    /* 3. canonical query */
    if (canonical_query(&b, query) != 0) goto fail;
    sb_putc(&b, '\n');
    /* 4. canonical headers, in SignedHeaders order; each line ends with '\n' */
    const char *s = signed_headers;
    for (;;) {
        const char *e = strchr(s, ';');
        size_t nlen = e ? (size_t)(e - s) : strlen(s);
        if (canonical_header(&b, s, nlen, headers, nheaders) != 0) goto fail;
        if (e == NULL) break;
        s = e + 1;
    }
    sb_putc(&b, '\n');
    /* 5. signed header names as the client declared them (the SDK declares them sorted) */
    sb_puts(&b, signed_headers);
    sb_putc(&b, '\n');
    /* 6. payload hash */
    sb_puts(&b, body_sha256_hex);
    if (b.oom) goto fail;
    return b.p;
fail:
    free(b.p);
    return NULL;
}

int sign_headers_include(const char *signed_headers, const char *name) {
    if (signed_headers == NULL || name == NULL) return 0;
    size_t nlen = strlen(name);
    for (const char *s = signed_headers;;) {
        const char *e = strchr(s, ';');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        if (len == nlen && strncasecmp(s, name, nlen) == 0) return 1;
        if (e == NULL) return 0;
        s = e + 1;
    }
}

/* The SDKs' test (Go: Content-Type contains "application/json"; Python: starts with it): a JSON body is
 * always hashed. We take the wider of the two, case-insensitively, so neither SDK is ever refused. */
static int is_json_content_type(const char *ct) {
    if (ct == NULL) return 0;
    for (const char *p = ct; *p; p++)
        if (strncasecmp(p, "application/json", 16) == 0) return 1;
    return 0;
}

int sign_check_policy(const char *signed_headers, int unsigned_payload, const char *content_type,
                      int raw_body_route, const char **why) {
    if (!sign_headers_include(signed_headers, "host") || !sign_headers_include(signed_headers, "x-sdk-date")) {
        *why = "SignedHeaders must include host and x-sdk-date.";
        return ROMA_EDENIED;
    }
    if (!unsigned_payload) return 0;
    if (content_type == NULL || *content_type == '\0' || is_json_content_type(content_type) || !raw_body_route) {
        *why = "UNSIGNED-PAYLOAD is accepted only for uploads (a non-JSON Content-Type such as multipart/form-data); "
               "sign the body's SHA-256.";
        return ROMA_EDENIED;
    }
    if (!sign_headers_include(signed_headers, "content-type") ||
        !sign_headers_include(signed_headers, "x-sdk-content-sha256")) {
        *why = "With UNSIGNED-PAYLOAD, SignedHeaders must include content-type and x-sdk-content-sha256.";
        return ROMA_EDENIED;
    }
    return 0;
}

void sign_compute(const char *canonical_request, const char *sdk_date, const char *sk, char out[65]) {
    char crhash[65];
    out[0] = '\0';
    if (canonical_request == NULL || sdk_date == NULL || sk == NULL) return;
    crypto_sha256_hex(canonical_request, strlen(canonical_request), crhash);
    if (crhash[0] == '\0') return;
    sbuf sts = {0};
    sb_puts(&sts, ALGORITHM "\n");
    sb_puts(&sts, sdk_date);
    sb_putc(&sts, '\n');
    sb_puts(&sts, crhash);
    if (!sts.oom) crypto_hmac_sha256_hex(sk, strlen(sk), sts.p, sts.len, out);
    free(sts.p);
}

/* ---- X-Sdk-Date ---------------------------------------------------------------------------------- */

static int digits(const char *s, int n, int *out) {
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
static long long days_from_civil(long long y, unsigned m, unsigned d) {
    y -= m <= 2;
    long long era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (long long)doe - 719468;
}

int sign_parse_sdk_date(const char *s, long long *epoch_ms) {
    int y, mo, d, h, mi, se;
    if (s == NULL || epoch_ms == NULL || strlen(s) != 16 || s[8] != 'T' || s[15] != 'Z') return ROMA_EINVAL;
    if (digits(s, 4, &y) || digits(s + 4, 2, &mo) || digits(s + 6, 2, &d) || digits(s + 9, 2, &h) ||
        digits(s + 11, 2, &mi) || digits(s + 13, 2, &se))
        return ROMA_EINVAL;
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] + (mo == 2 && leap) || h > 23 || mi > 59 ||
        se > 59)
        return ROMA_EINVAL;
    long long days = days_from_civil(y, (unsigned)mo, (unsigned)d);
    *epoch_ms = ((days * 24 + h) * 60 + mi) * 60000LL + se * 1000LL;
    return 0;
}
