/* netpolicy.c: CIDR allow/deny lists for outgoing datasource connections (see netpolicy.h). */
#include "netpolicy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One range, always stored as 16 bytes: IPv4 ranges as IPv4-mapped IPv6 (::ffff:a.b.c.d/96+n), so one
 * comparison routine serves both families and mapped addresses match IPv4 rules for free. */
typedef struct cidr {
    unsigned char addr[16];
    int bits; /* 0..128 */
} cidr;

typedef struct endpoint {
    cidr range; /* a single address (bits 128) or a range, e.g. all of 127.0.0.0/8 */
    unsigned port;
} endpoint;

struct netpolicy {
    cidr *allow;
    size_t nallow;
    cidr *deny;
    size_t ndeny;
    endpoint *eps;
    size_t neps;
};

static const unsigned char v4mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

static void map_v4(const struct in_addr *a, unsigned char out[16])
{
    memcpy(out, v4mapped_prefix, 12);
    memcpy(out + 12, &a->s_addr, 4);
}

/* Parses one "addr[/bits]" token of length n into c. 0 or ROMA_EINVAL. */
static int parse_cidr(const char *tok, size_t n, cidr *c)
{
    char buf[INET6_ADDRSTRLEN + 8];
    if (n == 0 || n >= sizeof buf) return ROMA_EINVAL;
    memcpy(buf, tok, n);
    buf[n] = '\0';
    char *slash = strchr(buf, '/');
    long bits = -1;
    if (slash) {
        *slash = '\0';
        const char *b = slash + 1;
        if (*b == '\0' || strlen(b) > 3) return ROMA_EINVAL;
        bits = 0;
        for (; *b; b++) {
            if (*b < '0' || *b > '9') return ROMA_EINVAL;
            bits = bits * 10 + (*b - '0');
        }
    }
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, buf, &a4) == 1) {
        if (bits > 32) return ROMA_EINVAL;
        map_v4(&a4, c->addr);
        c->bits = 96 + (bits < 0 ? 32 : (int)bits);
    } else if (inet_pton(AF_INET6, buf, &a6) == 1) {
        if (bits > 128) return ROMA_EINVAL;
        memcpy(c->addr, &a6, 16);
        c->bits = bits < 0 ? 128 : (int)bits;
    } else {
        return ROMA_EINVAL;
    }
    /* clear host bits so matching is a plain prefix compare */
    for (int i = 0; i < 16; i++) {
        int keep = c->bits - i * 8;
        if (keep >= 8) continue;
        c->addr[i] &= keep <= 0 ? 0 : (unsigned char)(0xff << (8 - keep));
    }
    return 0;
}

static int is_sep(char ch) { return ch == ',' || ch == ' ' || ch == '\t' || ch == '\n' || ch == ';'; }

/* Parses a whole list into a fresh array. 0, ROMA_EINVAL (err names the entry) or ROMA_ENOMEM. */
static int parse_list(const char *text, cidr **out, size_t *n, char *err, size_t errlen)
{
    *out = NULL;
    *n = 0;
    if (!text || !*text) return 0;
    size_t cap = 1;
    for (const char *p = text; *p; p++)
        if (is_sep(*p)) cap++;
    cidr *arr = calloc(cap, sizeof *arr);
    if (!arr) return ROMA_ENOMEM;
    size_t cnt = 0;
    const char *p = text;
    while (*p) {
        while (*p && is_sep(*p)) p++;
        const char *start = p;
        while (*p && !is_sep(*p)) p++;
        size_t len = (size_t)(p - start);
        if (len == 0) continue;
        if (parse_cidr(start, len, &arr[cnt]) != 0) {
            snprintf(err, errlen, "invalid CIDR \"%.*s\"", (int)(len > 64 ? 64 : len), start);
            free(arr);
            return ROMA_EINVAL;
        }
        cnt++;
    }
    *out = arr;
    *n = cnt;
    return 0;
}

int netpolicy_parse(const char *allow, const char *deny, netpolicy **out, char *err, size_t errlen)
{
    *out = NULL;
    netpolicy *p = calloc(1, sizeof *p);
    if (!p) return ROMA_ENOMEM;
    int rc = parse_list(allow, &p->allow, &p->nallow, err, errlen);
    if (rc == 0) rc = parse_list(deny, &p->deny, &p->ndeny, err, errlen);
    if (rc != 0) {
        netpolicy_free(p);
        return rc;
    }
    *out = p;
    return 0;
}

void netpolicy_free(netpolicy *p)
{
    if (!p) return;
    free(p->allow);
    free(p->deny);
    free(p->eps);
    free(p);
}

static int cidr_match(const cidr *c, const unsigned char a[16])
{
    int full = c->bits / 8, rest = c->bits % 8;
    if (memcmp(c->addr, a, (size_t)full) != 0) return 0;
    if (rest == 0) return 1;
    unsigned char mask = (unsigned char)(0xff << (8 - rest));
    return (a[full] & mask) == c->addr[full];
}

static int any_match(const cidr *list, size_t n, const unsigned char a[16])
{
    for (size_t i = 0; i < n; i++)
        if (cidr_match(&list[i], a)) return 1;
    return 0;
}

static int allows16(const netpolicy *p, const unsigned char a[16], unsigned port)
{
    if (!p) return 1;
    for (size_t i = 0; port && i < p->neps; i++)
        if (p->eps[i].port == port && cidr_match(&p->eps[i].range, a)) return 0;
    if (any_match(p->deny, p->ndeny, a)) return 0;
    if (p->nallow == 0) return 1;
    return any_match(p->allow, p->nallow, a);
}

/* sa as 16 address bytes and a host-order port. 0, or -1 for another family. */
static int sockaddr16(const struct sockaddr *sa, unsigned char a[16], unsigned *port)
{
    if (!sa) return -1;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)(const void *)sa;
        map_v4(&s4->sin_addr, a);
        *port = ntohs(s4->sin_port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)sa;
        memcpy(a, &s6->sin6_addr, 16);
        *port = ntohs(s6->sin6_port);
    } else {
        return -1;
    }
    return 0;
}

static int add_endpoint(netpolicy *p, const cidr *c, unsigned port)
{
    for (size_t i = 0; i < p->neps; i++)
        if (p->eps[i].port == port && p->eps[i].range.bits == c->bits && !memcmp(p->eps[i].range.addr, c->addr, 16))
            return 0;
    endpoint *grown = realloc(p->eps, (p->neps + 1) * sizeof *grown);
    if (!grown) return ROMA_ENOMEM;
    p->eps = grown;
    p->eps[p->neps].range = *c;
    p->eps[p->neps].port = port;
    p->neps++;
    return 0;
}

int netpolicy_deny_endpoint(netpolicy *p, const struct sockaddr *sa)
{
    cidr c;
    unsigned port;
    if (!p || sockaddr16(sa, c.addr, &port) != 0 || port == 0) return ROMA_EINVAL;
    c.bits = 128;
    return add_endpoint(p, &c, port);
}

int netpolicy_deny_endpoint_range(netpolicy *p, const char *range, unsigned port)
{
    cidr c;
    if (!p || !range || port == 0 || port > 65535 || parse_cidr(range, strlen(range), &c) != 0) return ROMA_EINVAL;
    return add_endpoint(p, &c, port);
}

int netpolicy_allows(const netpolicy *p, const struct sockaddr *sa)
{
    unsigned char a[16];
    unsigned port;
    if (sockaddr16(sa, a, &port) != 0) return 0;
    return allows16(p, a, port);
}

int netpolicy_allows_text(const netpolicy *p, const char *ip)
{
    unsigned char a[16];
    struct in_addr a4;
    if (!ip) return -1;
    if (inet_pton(AF_INET, ip, &a4) == 1) {
        map_v4(&a4, a);
    } else if (inet_pton(AF_INET6, ip, a) != 1) {
        return -1;
    }
    return allows16(p, a, 0);
}

size_t netpolicy_count(const netpolicy *p, int which)
{
    if (!p) return 0;
    return which == 2 ? p->neps : which ? p->ndeny : p->nallow;
}
