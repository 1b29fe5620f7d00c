/* netpolicy.h: the SSRF guard of the datasource worker. Decides whether the worker may open a
 * connection to an IP address, from two CIDR lists:
 *   ROMA_DS_ALLOW_CIDRS  empty = every address is allowed (unless denied); otherwise the address must
 *                        fall in one of these ranges
 *   ROMA_DS_DENY_CIDRS   an address in one of these ranges is always refused (deny wins over allow)
 * Lists are comma (or space) separated "addr/prefix" or bare addresses ("10.0.0.0/8, ::1, fd00::/8").
 * IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) are judged as the IPv4 address they carry, so a deny of
 * 169.254.0.0/16 also stops ::ffff:169.254.169.254.
 * Besides the ranges, a policy holds denied endpoints (address + port): the platform's own database,
 * broker and API (platform.c adds them). They are refused whatever the CIDR lists say, so replacing the
 * deny list (tests reaching loopback servers) never opens the platform itself.
 *
 * Pure (no I/O, no globals): the policy is built once at start and then only read, from any thread. */
#ifndef ROMA_DS_NETPOLICY_H
#define ROMA_DS_NETPOLICY_H

#include <stddef.h>
#include <sys/socket.h>

#include "errors.h"

typedef struct netpolicy netpolicy;

/* Parses both lists (NULL or "" = empty). On error returns ROMA_EINVAL with the offending entry in err
 * and *out NULL; ROMA_ENOMEM on allocation failure. The caller frees *out with netpolicy_free. */
int netpolicy_parse(const char *allow, const char *deny, netpolicy **out, char *err, size_t errlen) ROMA_MUST_USE;
void netpolicy_free(netpolicy *p);

/* Adds a denied endpoint: sa's address and port (AF_INET or AF_INET6). 0, ROMA_EINVAL (other family or
 * port 0) or ROMA_ENOMEM. Call before the policy is shared with other threads. */
int netpolicy_deny_endpoint(netpolicy *p, const struct sockaddr *sa) ROMA_MUST_USE;
/* The same for every address of a range ("127.0.0.0/8") at one port. */
int netpolicy_deny_endpoint_range(netpolicy *p, const char *range, unsigned port) ROMA_MUST_USE;

/* 1 when connecting to sa (AF_INET or AF_INET6) is allowed, 0 when refused: its address is in a denied
 * range, outside a non-empty allow list, or it is a denied endpoint (address and port). Any other family
 * is refused. A NULL policy allows everything (tests, tools). */
int netpolicy_allows(const netpolicy *p, const struct sockaddr *sa);

/* Same for an address in text form (ranges only: no port, so endpoints are not consulted); -1 when
 * text is not an IP literal. */
int netpolicy_allows_text(const netpolicy *p, const char *ip);

/* Number of allow (0) / deny (1) ranges or denied endpoints (2), for the start-up log line. */
size_t netpolicy_count(const netpolicy *p, int which);

#endif
