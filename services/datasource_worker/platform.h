/* platform.h: the platform's own endpoints, which no datasource check may reach. A user who could point
 * the connectivity tester at our PostgreSQL, broker or API could read or drive the platform from inside
 * (issue 8, finding 6), so the worker denies them by address and port, in addition to (and
 * independently of) the CIDR deny list:
 *   - the database: every host:port of ROMA_DATABASE_URL (libpq URL or key=value; a socket directory or
 *     no host means this machine, port 5432 unless given);
 *   - the broker: the host:port of ROMA_BROKER_FRONTEND and ROMA_BROKER_BACKEND;
 *   - the API: ROMA_HTTP_LISTEN:ROMA_HTTP_PORT (the MQS data plane shares that port);
 *   - ROMA_DS_DENY_ENDPOINTS: any further host:port (a load balancer or gateway in front of the API).
 * A host that is this machine (loopback, unspecified, wildcard, socket directory, or one of its
 * interface addresses) is denied on every local address (all of 127.0.0.0/8, ::1, 0.0.0.0, :: and
 * every interface address at start): a server bound to 0.0.0.0 answers on all of
 * them. Names are resolved once, at start (a name that does not resolve then is logged and skipped). */
#ifndef ROMA_DS_PLATFORM_H
#define ROMA_DS_PLATFORM_H

#include <stddef.h>

#include "errors.h"
#include "netpolicy.h"

typedef struct platform_endpoints {
    const char *database_url;
    const char *broker_frontend, *broker_backend; /* tcp://host:port */
    const char *http_listen;
    long http_port;
    const char *extra; /* "host:port,host:port" or "" */
} platform_endpoints;

/* Adds every endpoint of e to p. 0, ROMA_EINVAL (a malformed value: err says which) or ROMA_ENOMEM. */
int platform_deny(netpolicy *p, const platform_endpoints *e, char *err, size_t errlen) ROMA_MUST_USE;

#endif
