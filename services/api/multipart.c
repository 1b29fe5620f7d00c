/* multipart.c: multipart/form-data field lookup (see multipart.h). */
#include "multipart.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define BOUNDARY_MAX 70 /* RFC 2046 */

/* Copies the value of parameter `param` of a header value ("a; b=c; d=\"e\"") into out. 1 found. */
static int header_param(const char *v, size_t vlen, const char *param, char *out, size_t outlen)
{
    size_t pl = strlen(param);
    size_t i = 0;
    while (i < vlen) {
        /* move to the start of the next parameter */
        while (i < vlen && v[i] != ';') {
            if (v[i] == '"') { /* skip a quoted string, escapes included */
                for (i++; i < vlen && v[i] != '"'; i++)
                    if (v[i] == '\\') i++;
            }
            i++;
        }
        if (i >= vlen) return 0;
        i++;
        while (i < vlen && (v[i] == ' ' || v[i] == '\t')) i++;
        if (i + pl < vlen && !strncasecmp(v + i, param, pl) && v[i + pl] == '=') {
            i += pl + 1;
            size_t o = 0;
            if (i < vlen && v[i] == '"') {
                for (i++; i < vlen && v[i] != '"'; i++) {
                    if (v[i] == '\\' && i + 1 < vlen) i++;
                    if (o + 1 >= outlen) return 0;
                    out[o++] = v[i];
                }
                if (i >= vlen) return 0; /* unterminated quote */
            } else {
                for (; i < vlen && v[i] != ';' && v[i] != ' ' && v[i] != '\t'; i++) {
                    if (o + 1 >= outlen) return 0;
                    out[o++] = v[i];
                }
            }
            out[o] = '\0';
            return 1;
        }
    }
    return 0;
}

/* Within the part headers [h, h+hlen), finds Content-Disposition and tells whether it names field. */
static int part_is(const char *h, size_t hlen, const char *field)
{
    static const char cd[] = "content-disposition:";
    size_t i = 0;
    while (i < hlen) {
        const char *eol = memmem(h + i, hlen - i, "\r\n", 2);
        size_t l = eol ? (size_t)(eol - (h + i)) : hlen - i;
        if (l > sizeof cd - 1 && !strncasecmp(h + i, cd, sizeof cd - 1)) {
            char name[256];
            return header_param(h + i + sizeof cd - 1, l - (sizeof cd - 1), "name", name, sizeof name) &&
                   !strcmp(name, field);
        }
        i += l + 2;
    }
    return 0;
}

int multipart_field(const char *content_type, const char *body, size_t body_len, const char *field,
                    const char **data, size_t *len)
{
    *data = NULL;
    *len = 0;
    if (!content_type || strncasecmp(content_type, "multipart/form-data", 19) != 0) return ROMA_EINVAL;
    char boundary[BOUNDARY_MAX + 1];
    if (!header_param(content_type + 19, strlen(content_type + 19), "boundary", boundary, sizeof boundary) ||
        !*boundary)
        return ROMA_EINVAL;
    char delim[BOUNDARY_MAX + 5];
    int dl = snprintf(delim, sizeof delim, "\r\n--%s", boundary);
    if (dl < 0 || (size_t)dl >= sizeof delim) return ROMA_EINVAL;
    /* the first delimiter may start the body (no preamble, no leading CRLF) */
    const char *p;
    if (body_len >= (size_t)dl - 2 && !memcmp(body, delim + 2, (size_t)dl - 2)) {
        p = body + dl - 2;
    } else {
        p = memmem(body, body_len, delim, (size_t)dl);
        if (!p) return ROMA_EINVAL;
        p += dl;
    }
    const char *end = body + body_len;
    for (;;) {
        /* after a delimiter: "--" closes the message, otherwise CRLF then the part headers */
        if (end - p >= 2 && p[0] == '-' && p[1] == '-') return ROMA_ENOTFOUND;
        while (p < end && (*p == ' ' || *p == '\t')) p++; /* transport padding */
        if (end - p < 2 || p[0] != '\r' || p[1] != '\n') return ROMA_EINVAL;
        p += 2;
        const char *hend = memmem(p, (size_t)(end - p), "\r\n\r\n", 4);
        const char *content;
        size_t hlen;
        if (hend) {
            hlen = (size_t)(hend - p);
            content = hend + 4;
        } else if (end - p >= 2 && p[0] == '\r' && p[1] == '\n') { /* a part without headers */
            hlen = 0;
            content = p + 2;
        } else {
            return ROMA_EINVAL;
        }
        const char *next = memmem(content, (size_t)(end - content), delim, (size_t)dl);
        if (!next) return ROMA_EINVAL;
        if (part_is(p, hlen, field)) {
            *data = content;
            *len = (size_t)(next - content);
            return 0;
        }
        p = next + dl;
    }
}
