/* endpoint.c: turning datasource content into network endpoints: host:port lists, URLs (JDBC URLs
 * included) and name resolution under the SSRF policy.
 *
 * Resolution happens here, once, before any client library sees the host: every address the name
 * resolves to is checked against the policy and the checks then connect to one of the checked IP
 * addresses (never re-resolving the name, so a rebinding DNS answer cannot swap in a denied address
 * between the check and the connect). getaddrinfo has no timeout; it runs on the check thread and the
 * runner's deadline (runner.c) bounds it. */
#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ds_job.h"
#include "log.h"

static void addr_text(const struct sockaddr *sa, char *out, size_t outlen)
{
    const void *src = sa->sa_family == AF_INET ? (const void *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr
                                               : (const void *)&((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
    if (!inet_ntop(sa->sa_family, src, out, (socklen_t)outlen)) snprintf(out, outlen, "?");
}

int ds_resolve(ds_job *job, const char *host, int port, ds_addrs *out)
{
    char hostbuf[256], portbuf[8], ep[300];
    out->n = 0;
    if (!host || !*host) {
        ds_fail(job, DS_E_CONFIG, "no host configured");
        return -1;
    }
    /* "[::1]" -> "::1" */
    size_t hl = strlen(host);
    if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
        snprintf(hostbuf, sizeof hostbuf, "%.*s", (int)(hl - 2), host + 1);
    } else {
        if (hl >= sizeof hostbuf) {
            ds_fail(job, DS_E_CONFIG, "host name longer than 255 characters");
            return -1;
        }
        memcpy(hostbuf, host, hl + 1);
    }
    if (port < 1 || port > 65535) {
        ds_fail(job, DS_E_CONFIG, "invalid port for host %s", hostbuf);
        return -1;
    }
    snprintf(portbuf, sizeof portbuf, "%d", port);
    snprintf(ep, sizeof ep, "%s:%d", hostbuf, port);
    ds_set_phase(job, DS_PHASE_RESOLVE, ep);

    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    int rc = getaddrinfo(hostbuf, portbuf, &hints, &res);
    if (rc != 0) {
        if (rc == EAI_AGAIN)
            ds_fail(job, DS_E_DNS, "temporary failure resolving host %s; retry later", hostbuf);
        else if (rc == EAI_SYSTEM || rc == EAI_MEMORY)
            ds_fail(job, DS_E_DNS, "cannot resolve host %s (resolver error)", hostbuf);
        else
            ds_fail(job, DS_E_DNS, "cannot resolve host %s (no such name)", hostbuf);
        return -1;
    }
    int denied = 0;
    char denied_ip[INET6_ADDRSTRLEN] = "";
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6) continue;
        if (ai->ai_addrlen > sizeof out->a[0].ss) continue;
        char ip[INET6_ADDRSTRLEN];
        addr_text(ai->ai_addr, ip, sizeof ip);
        int dup = 0;
        for (int i = 0; i < out->n; i++) dup |= !strcmp(out->a[i].ip, ip);
        if (dup) continue;
        if (!netpolicy_allows(g_ds.policy, ai->ai_addr)) {
            if (!denied) snprintf(denied_ip, sizeof denied_ip, "%s", ip);
            denied++;
            continue;
        }
        if (out->n == DS_MAX_ADDRS) continue;
        ds_addr *a = &out->a[out->n++];
        memcpy(&a->ss, ai->ai_addr, ai->ai_addrlen);
        a->len = ai->ai_addrlen;
        snprintf(a->ip, sizeof a->ip, "%s", ip);
    }
    freeaddrinfo(res);
    if (denied) log_info(job->rid, "ds.policy_denied", "%s resolves to %d denied address(es), first %s", hostbuf, denied,
                         denied_ip);
    if (out->n == 0) {
        if (denied) {
            if (strcmp(hostbuf, denied_ip) == 0)
                ds_fail(job, DS_E_POLICY, "%s:%d is in a range or is an endpoint of this platform the worker may not connect to",
                        hostbuf, port);
            else
                ds_fail(job, DS_E_POLICY, "%s resolves to %s, in a range or an endpoint of this platform the worker may not connect to (port %d)",
                        hostbuf, denied_ip, port);
        } else {
            ds_fail(job, DS_E_DNS, "host %s has no IPv4 or IPv6 address", hostbuf);
        }
        return -1;
    }
    return 0;
}

static char *trim_dup(const char *s, size_t n)
{
    while (n && (*s == ' ' || *s == '\t')) s++, n--;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t')) n--;
    return strndup(s, n);
}

void ds_hostports_free(ds_hostport *hp, int n)
{
    for (int i = 0; i < n; i++) {
        free(hp[i].host);
        hp[i].host = NULL;
    }
}

/* Parses one "host[:port]" / "[v6]:port" / bare v6 item. 0 or -1. */
static int parse_one(const char *s, size_t n, int dflt_port, ds_hostport *out)
{
    char *item = trim_dup(s, n);
    if (!item) return -1;
    char *host = item, *portp = NULL;
    if (item[0] == '[') {
        char *close = strchr(item, ']');
        if (!close) goto bad;
        *close = '\0';
        host = item + 1;
        if (close[1] == ':') portp = close + 2;
        else if (close[1] != '\0') goto bad;
    } else {
        char *first = strchr(item, ':');
        /* exactly one colon: host:port; more: a bare IPv6 address without a port */
        if (first && !strchr(first + 1, ':')) {
            *first = '\0';
            portp = first + 1;
        }
    }
    if (!*host) goto bad;
    long port = dflt_port;
    if (portp) {
        char *end;
        if (!*portp) goto bad;
        port = strtol(portp, &end, 10);
        if (*end || port < 1 || port > 65535) goto bad;
    }
    out->host = strdup(host);
    out->port = (int)port;
    free(item);
    return out->host ? 0 : -1;
bad:
    free(item);
    return -1;
}

int ds_parse_hostports(const char *list, int dflt_port, ds_hostport *out, int max)
{
    int n = 0;
    if (!list) return -1;
    const char *p = list;
    while (*p) {
        const char *start = p;
        while (*p && *p != ',') p++;
        size_t len = (size_t)(p - start);
        if (*p == ',') p++;
        int blank = 1;
        for (size_t i = 0; i < len; i++) blank &= start[i] == ' ' || start[i] == '\t';
        if (blank) continue;
        if (n == max || parse_one(start, len, dflt_port, &out[n]) != 0) {
            ds_hostports_free(out, n);
            return -1;
        }
        n++;
    }
    return n > 0 ? n : -1;
}

int ds_hostports_of(ds_job *job, const char *key, int dflt_port, ds_hostport *out, int max)
{
    const char *list = ds_str(job, key);
    int n = list ? ds_parse_hostports(list, dflt_port, out, max) : -1;
    if (n < 0) ds_fail(job, DS_E_CONFIG, "%s must be a list of host:port (at most %d)", key, max);
    return n;
}

int ds_parse_url(const char *url, char *scheme, size_t scheme_len, char *host, size_t host_len, int *port,
                 int dflt_port, char *db, size_t db_len)
{
    if (!url) return -1;
    const char *p = url;
    if (!strncasecmp(p, "jdbc:", 5)) p += 5;
    const char *colon = strstr(p, "://");
    if (!colon || colon == p || (size_t)(colon - p) >= scheme_len) return -1;
    snprintf(scheme, scheme_len, "%.*s", (int)(colon - p), p);
    for (char *c = scheme; *c; c++)
        if (*c >= 'A' && *c <= 'Z') *c = (char)(*c - 'A' + 'a');
    p = colon + 3;
    /* authority ends at '/', '?', '#', ';' or ',' (JDBC multi-host lists: the first host is used) */
    size_t alen = strcspn(p, "/?#;,");
    const char *auth = p, *aend = p + alen;
    const char *at = memchr(auth, '@', alen);
    if (at) auth = at + 1;
    const char *h = auth, *hend, *pp = NULL;
    if (*h == '[') {
        const char *close = memchr(h, ']', (size_t)(aend - h));
        if (!close) return -1;
        h++;
        hend = close;
        if (close + 1 < aend) {
            if (close[1] != ':') return -1;
            pp = close + 2;
        }
    } else {
        const char *c = memchr(h, ':', (size_t)(aend - h));
        hend = c ? c : aend;
        if (c) pp = c + 1;
    }
    if (hend == h || (size_t)(hend - h) >= host_len) return -1;
    snprintf(host, host_len, "%.*s", (int)(hend - h), h);
    *port = dflt_port;
    if (pp) {
        if (pp >= aend) return -1;
        long v = 0;
        for (const char *c = pp; c < aend; c++) {
            if (*c < '0' || *c > '9' || v > 65535) return -1;
            v = v * 10 + (*c - '0');
        }
        if (v < 1 || v > 65535) return -1;
        *port = (int)v;
    }
    if (db && db_len) {
        db[0] = '\0';
        /* skip the rest of a multi-host authority */
        const char *rest = aend + strcspn(aend, "/?#;");
        if (*rest == '/') {
            rest++;
            size_t dl = strcspn(rest, "/?#;");
            if (dl >= db_len) return -1;
            snprintf(db, db_len, "%.*s", (int)dl, rest);
        }
    }
    return 0;
}

int ds_db_target(ds_job *job, int dflt_port, const char *url_form, char *host, size_t host_len, int *port, char *db,
                 size_t db_len)
{
    const char *mode = ds_str(job, "mode");
    db[0] = '\0';
    if (mode && !strcmp(mode, "professional")) {
        char scheme[32];
        const char *url = ds_str(job, "url");
        if (!url || ds_parse_url(url, scheme, sizeof scheme, host, host_len, port, dflt_port, db, db_len) != 0) {
            ds_fail(job, DS_E_CONFIG, "cannot read host, port and database from the url (expected %s)", url_form);
            return -1;
        }
    } else {
        const char *h = ds_str(job, "host");
        const char *d = ds_str(job, "database_name");
        *port = ds_port(job, "port", dflt_port);
        if (!h || *port < 0) {
            ds_fail(job, DS_E_CONFIG, "host and port are required");
            return -1;
        }
        snprintf(host, host_len, "%s", h);
        snprintf(db, db_len, "%s", d ? d : "");
    }
    if (!ds_str(job, "user_name")) {
        ds_fail(job, DS_E_CONFIG, "user_name is required");
        return -1;
    }
    return 0;
}
