/* platform.c: denying the platform's own endpoints to datasource checks (see platform.h). */
#include "platform.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <libpq-fe.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ds_job.h"
#include "log.h"

#define MAX_LOCAL 64
#define PG_DEFAULT_PORT 5432

typedef struct locals {
    struct sockaddr_storage a[MAX_LOCAL];
    int n;
} locals;

static void add_local(locals *l, const struct sockaddr *sa)
{
    if (l->n == MAX_LOCAL || (sa->sa_family != AF_INET && sa->sa_family != AF_INET6)) return;
    size_t len = sa->sa_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
    memset(&l->a[l->n], 0, sizeof l->a[l->n]);
    memcpy(&l->a[l->n], sa, len);
    l->n++;
}

/* Loopback, unspecified and every interface address of this machine. */
static void local_addresses(locals *l)
{
    static const char *const fixed[] = {"127.0.0.1", "::1", "0.0.0.0", "::"};
    l->n = 0;
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        struct sockaddr_storage ss;
        memset(&ss, 0, sizeof ss);
        struct sockaddr_in *s4 = (struct sockaddr_in *)(void *)&ss;
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)(void *)&ss;
        if (inet_pton(AF_INET, fixed[i], &s4->sin_addr) == 1) s4->sin_family = AF_INET;
        else if (inet_pton(AF_INET6, fixed[i], &s6->sin6_addr) == 1) s6->sin6_family = AF_INET6;
        else continue;
        add_local(l, (struct sockaddr *)&ss);
    }
    struct ifaddrs *ifs = NULL;
    if (getifaddrs(&ifs) != 0) return;
    for (struct ifaddrs *i = ifs; i; i = i->ifa_next)
        if (i->ifa_addr) add_local(l, i->ifa_addr);
    freeifaddrs(ifs);
}

static void set_port(struct sockaddr_storage *ss, int port)
{
    if (ss->ss_family == AF_INET) ((struct sockaddr_in *)(void *)ss)->sin_port = htons((uint16_t)port);
    else ((struct sockaddr_in6 *)(void *)ss)->sin6_port = htons((uint16_t)port);
}

static int same_addr(const struct sockaddr *a, const struct sockaddr_storage *b)
{
    if (a->sa_family != b->ss_family) return 0;
    if (a->sa_family == AF_INET)
        return !memcmp(&((const struct sockaddr_in *)(const void *)a)->sin_addr,
                       &((const struct sockaddr_in *)(const void *)b)->sin_addr, 4);
    return !memcmp(&((const struct sockaddr_in6 *)(const void *)a)->sin6_addr,
                   &((const struct sockaddr_in6 *)(const void *)b)->sin6_addr, 16);
}

static int is_local(const locals *l, const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET &&
        (ntohl(((const struct sockaddr_in *)(const void *)sa)->sin_addr.s_addr) >> 24) == 127)
        return 1;
    for (int i = 0; i < l->n; i++)
        if (same_addr(sa, &l->a[i])) return 1;
    return 0;
}

static int deny_on_locals(netpolicy *p, locals *l, int port)
{
    /* all of 127/8 answers for a server bound to 0.0.0.0, not only 127.0.0.1 */
    int rc = netpolicy_deny_endpoint_range(p, "127.0.0.0/8", (unsigned)port);
    if (rc) return rc;
    for (int i = 0; i < l->n; i++) {
        set_port(&l->a[i], port);
        int rc = netpolicy_deny_endpoint(p, (struct sockaddr *)&l->a[i]);
        if (rc) return rc;
    }
    return 0;
}

/* Denies host:port; host NULL/""/"*"/a socket directory = this machine. */
static int deny_hostport(netpolicy *p, locals *l, const char *host, int port, const char *what)
{
    if (port < 1 || port > 65535) return ROMA_EINVAL;
    if (!host || !*host || !strcmp(host, "*") || host[0] == '/' || host[0] == '@') return deny_on_locals(p, l, port);
    char h[256];
    size_t hl = strlen(host);
    if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') snprintf(h, sizeof h, "%.*s", (int)(hl - 2), host + 1);
    else snprintf(h, sizeof h, "%s", host);
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(h, NULL, &hints, &res) != 0) {
        log_warn(NULL, "policy.platform_unresolved", "%s host %s does not resolve now: not denied by address", what, h);
        return 0;
    }
    int rc = 0, local_done = 0;
    for (struct addrinfo *ai = res; ai && rc == 0; ai = ai->ai_next) {
        if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6) continue;
        struct sockaddr_storage ss;
        memset(&ss, 0, sizeof ss);
        memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
        set_port(&ss, port);
        rc = netpolicy_deny_endpoint(p, (struct sockaddr *)&ss);
        if (rc == 0 && !local_done && is_local(l, ai->ai_addr)) {
            local_done = 1;
            rc = deny_on_locals(p, l, port);
        }
    }
    freeaddrinfo(res);
    return rc;
}

/* Splits a libpq multi-value option ("a,b") and returns item i (empty when absent). */
static void nth_item(const char *list, int i, char *out, size_t outlen)
{
    out[0] = '\0';
    if (!list) return;
    const char *p = list;
    for (int k = 0; k < i && p; k++) {
        p = strchr(p, ',');
        if (p) p++;
    }
    if (!p) return;
    size_t n = strcspn(p, ",");
    snprintf(out, outlen, "%.*s", (int)(n < outlen ? n : outlen - 1), p);
}

static int count_items(const char *list)
{
    if (!list || !*list) return 0;
    int n = 1;
    for (const char *p = list; *p; p++) n += *p == ',';
    return n;
}

static int deny_database(netpolicy *p, locals *l, const char *url, char *err, size_t errlen)
{
    char *why = NULL;
    PQconninfoOption *opts = PQconninfoParse(url ? url : "", &why);
    if (!opts) {
        snprintf(err, errlen, "ROMA_DATABASE_URL cannot be parsed (%s)", why ? why : "out of memory");
        PQfreemem(why);
        return ROMA_EINVAL;
    }
    const char *host = NULL, *hostaddr = NULL, *port = NULL;
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        if (!o->val) continue;
        if (!strcmp(o->keyword, "host")) host = o->val;
        else if (!strcmp(o->keyword, "hostaddr")) hostaddr = o->val;
        else if (!strcmp(o->keyword, "port")) port = o->val;
    }
    int n = count_items(hostaddr ? hostaddr : host);
    if (n == 0) n = 1;
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        char h[256], pt[16];
        nth_item(hostaddr ? hostaddr : host, i, h, sizeof h);
        /* libpq: one port for all hosts, or one per host */
        nth_item(port, count_items(port) > 1 ? i : 0, pt, sizeof pt);
        int portn = pt[0] ? atoi(pt) : PG_DEFAULT_PORT;
        rc = deny_hostport(p, l, h, portn, "database");
        if (rc == ROMA_EINVAL) snprintf(err, errlen, "ROMA_DATABASE_URL has an invalid port");
    }
    PQconninfoFree(opts);
    return rc;
}

static int deny_zmq(netpolicy *p, locals *l, const char *endpoint, const char *name, char *err, size_t errlen)
{
    char host[256];
    int port = 0;
    if (!endpoint || !*endpoint) return 0;
    if (strncmp(endpoint, "tcp://", 6) != 0) return 0; /* ipc:// and inproc:// are not reachable over TCP */
    const char *hp = endpoint + 6, *colon = strrchr(hp, ':');
    if (!colon || (size_t)(colon - hp) >= sizeof host || (port = atoi(colon + 1)) <= 0) {
        snprintf(err, errlen, "%s is not tcp://host:port", name);
        return ROMA_EINVAL;
    }
    snprintf(host, sizeof host, "%.*s", (int)(colon - hp), hp);
    return deny_hostport(p, l, host, port, name);
}

int platform_deny(netpolicy *p, const platform_endpoints *e, char *err, size_t errlen)
{
    locals l;
    local_addresses(&l);
    int rc = deny_database(p, &l, e->database_url, err, errlen);
    if (rc == 0) rc = deny_zmq(p, &l, e->broker_frontend, "ROMA_BROKER_FRONTEND", err, errlen);
    if (rc == 0) rc = deny_zmq(p, &l, e->broker_backend, "ROMA_BROKER_BACKEND", err, errlen);
    if (rc == 0) rc = deny_hostport(p, &l, e->http_listen, (int)e->http_port, "API");
    if (rc == 0 && e->extra && *e->extra) {
        ds_hostport hp[32];
        int n = ds_parse_hostports(e->extra, 0, hp, 32);
        if (n < 0) {
            snprintf(err, errlen, "ROMA_DS_DENY_ENDPOINTS must be a list of host:port (at most 32)");
            return ROMA_EINVAL;
        }
        for (int i = 0; i < n && rc == 0; i++) {
            rc = deny_hostport(p, &l, hp[i].host, hp[i].port, "ROMA_DS_DENY_ENDPOINTS");
            if (rc == ROMA_EINVAL) snprintf(err, errlen, "ROMA_DS_DENY_ENDPOINTS: %s needs a port", hp[i].host);
        }
        ds_hostports_free(hp, n);
    }
    return rc;
}
