/* check_tcp.c: TCP connect under a deadline (used by every check that opens its own socket) and the
 * reachability-only check for datasource types without a protocol-level check here (Oracle, SQL
 * Server, DB2, Hive, DWS, HANA, SAP, the JMS brokers, LDAP, WebSocket, OBS, ...). The success detail
 * says plainly that only reachability was checked. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "ds_job.h"

void ds_fail_errno(ds_job *job, int err, const char *endpoint)
{
    switch (err) {
    case ECONNREFUSED:
        ds_fail(job, DS_E_REFUSED, "nothing listens on %s (is the port right and the server running?)", endpoint);
        break;
    case ETIMEDOUT:
        ds_fail(job, DS_E_TIMEOUT, "no connection to %s within %ld ms", endpoint, job->timeout_ms);
        break;
    case ENETUNREACH:
    case EHOSTUNREACH:
        ds_fail(job, DS_E_REFUSED, "%s is unreachable from the worker (no route: %s)", endpoint, strerror(err));
        break;
    case ECONNRESET:
        ds_fail(job, DS_E_REFUSED, "%s reset the connection", endpoint);
        break;
    default:
        ds_fail(job, DS_E_OTHER, "cannot connect to %s (%s)", endpoint, strerror(err));
        break;
    }
}

static void set_port(ds_addr *a, int port)
{
    if (a->ss.ss_family == AF_INET)
        ((struct sockaddr_in *)(void *)&a->ss)->sin_port = htons((uint16_t)port);
    else
        ((struct sockaddr_in6 *)(void *)&a->ss)->sin6_port = htons((uint16_t)port);
}

int ds_tcp_connect(ds_job *job, const ds_addr *addr, int port)
{
    char ep[INET6_ADDRSTRLEN + 10];
    snprintf(ep, sizeof ep, addr->ss.ss_family == AF_INET6 ? "[%s]:%d" : "%s:%d", addr->ip, port);
    ds_set_phase(job, DS_PHASE_CONNECT, ep);
    ds_addr a = *addr;
    set_port(&a, port);
    /* the policy was applied at resolution; checking again here keeps the invariant local */
    if (!netpolicy_allows(g_ds.policy, (struct sockaddr *)&a.ss)) {
        ds_fail(job, DS_E_POLICY, "%s is in a range the worker may not connect to", addr->ip);
        return -1;
    }
    int fd = socket(a.ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        ds_fail(job, DS_E_OTHER, "cannot create a socket (%s)", strerror(errno));
        return -1;
    }
    int rc = connect(fd, (struct sockaddr *)&a.ss, a.len);
    if (rc != 0 && errno != EINPROGRESS) {
        int e = errno;
        close(fd);
        ds_fail_errno(job, e, ep);
        return -1;
    }
    if (rc != 0) {
        for (;;) {
            long left = ds_remaining_ms(job);
            if (left <= 0) {
                close(fd);
                ds_fail_errno(job, ETIMEDOUT, ep);
                return -1;
            }
            struct pollfd pfd = {.fd = fd, .events = POLLOUT};
            int pr = poll(&pfd, 1, (int)left);
            if (pr < 0 && errno == EINTR) continue;
            if (pr < 0) {
                int e = errno;
                close(fd);
                ds_fail_errno(job, e, ep);
                return -1;
            }
            if (pr == 0) continue; /* re-evaluates the deadline, then fails */
            break;
        }
        int soerr = 0;
        socklen_t sl = sizeof soerr;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0) soerr = errno;
        if (soerr != 0) {
            close(fd);
            ds_fail_errno(job, soerr, ep);
            return -1;
        }
    }
    /* back to blocking: callers use library I/O with their own timeouts */
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0) {
        close(fd);
        ds_fail(job, DS_E_OTHER, "cannot configure the socket (%s)", strerror(errno));
        return -1;
    }
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

int ds_tcp_connect_host(ds_job *job, const char *host, int port, ds_addr *used)
{
    ds_addrs addrs;
    if (ds_resolve(job, host, port, &addrs) != 0) return -1;
    for (int i = 0; i < addrs.n; i++) {
        int fd = ds_tcp_connect(job, &addrs.a[i], port);
        if (fd >= 0) {
            if (used) *used = addrs.a[i];
            return fd;
        }
        /* a name with several addresses: try the next one only after a refusal, while time is left */
        if (i + 1 < addrs.n && job->code == DS_E_REFUSED && ds_remaining_ms(job) > 0) {
            job->code = DS_OK; /* forget the refusal: another address may answer */
            job->detail[0] = '\0';
            continue;
        }
        return -1;
    }
    return -1;
}

/* ---- the reachability-only check ---- */

static int default_port(const char *type)
{
    static const struct {
        const char *type;
        int port;
    } ports[] = {
        {"DWS", 8000},  {"GAUSS200", 8000}, {"GAUSS100", 1888},   {"HANA", 30015},  {"ORACLE", 1521},
        {"SQLSERVER", 1433}, {"DB2", 50000}, {"HIVE", 10000},     {"SAP", 3300},    {"IBMMQ", 1414},
        {"ARTEMISMQ", 61616}, {"ACTIVEMQ", 61616}, {"RABBITMQ", 5672}, {"SNMP", 161}, {"HL7", 2575},
    };
    for (size_t i = 0; i < sizeof ports / sizeof ports[0]; i++)
        if (!strcmp(ports[i].type, type)) return ports[i].port;
    return 0;
}

/* Default port of a URL scheme, 0 when unknown. */
static int scheme_port(const char *scheme)
{
    static const struct {
        const char *s;
        int port;
    } sp[] = {{"http", 80}, {"https", 443}, {"ws", 80}, {"wss", 443}, {"ldap", 389}, {"ldaps", 636},
              {"tcp", 61616}, {"ssl", 61617}, {"nio", 61616}, {"oracle:thin:@", 1521}};
    for (size_t i = 0; i < sizeof sp / sizeof sp[0]; i++)
        if (!strcasecmp(sp[i].s, scheme)) return sp[i].port;
    return 0;
}

static void connect_and_report(ds_job *job, const char *host, int port)
{
    ds_addr used;
    int fd = ds_tcp_connect_host(job, host, port, &used);
    if (fd < 0) return;
    close(fd);
    ds_succeed(job, "TCP reachability only: connected to %s:%d (%s); credentials and the %s protocol were not checked",
               host, port, used.ip, job->type);
}

/* host/port from a URL field; records a configuration failure when malformed. */
static int from_url(ds_job *job, const char *url, int dflt_port, char *host, size_t hl, int *port)
{
    char scheme[32];
    if (ds_parse_url(url, scheme, sizeof scheme, host, hl, port, 0, NULL, 0) != 0) {
        ds_fail(job, DS_E_CONFIG, "cannot read a host and port from the url");
        return -1;
    }
    if (*port == 0) *port = scheme_port(scheme) ? scheme_port(scheme) : dflt_port;
    if (*port == 0) {
        ds_fail(job, DS_E_CONFIG, "the url has no port and scheme %s has no default", scheme);
        return -1;
    }
    return 0;
}

void check_tcp(ds_job *job)
{
    const char *t = job->type;
    char host[256] = "";
    int port = 0;
    const char *mode = ds_str(job, "mode");

    if (!strcmp(t, "ACTIVEMQ")) {
        /* broker: "tcp://h:p", "failover:(tcp://h1:p1,tcp://h2:p2)" or "h:p,h:p": the first broker */
        const char *b = ds_str(job, "broker");
        if (!b) {
            ds_fail(job, DS_E_CONFIG, "no broker configured");
            return;
        }
        char first[300];
        const char *s = b;
        if (!strncasecmp(s, "failover:", 9)) s += 9;
        while (*s == '(' || *s == ' ') s++;
        size_t n = strcspn(s, ",)");
        snprintf(first, sizeof first, "%.*s", (int)n, s);
        if (strstr(first, "://")) {
            if (from_url(job, first, 61616, host, sizeof host, &port) != 0) return;
        } else {
            ds_hostport hp[1];
            if (ds_parse_hostports(first, 61616, hp, 1) != 1) {
                ds_fail(job, DS_E_CONFIG, "cannot read host:port from broker");
                return;
            }
            snprintf(host, sizeof host, "%s", hp[0].host);
            port = hp[0].port;
            ds_hostports_free(hp, 1);
        }
    } else if (!strcmp(t, "LDAP") || !strcmp(t, "WEBSOCKET")) {
        const char *url = ds_str(job, "url");
        if (!url) {
            ds_fail(job, DS_E_CONFIG, "no url configured");
            return;
        }
        if (from_url(job, url, 0, host, sizeof host, &port) != 0) return;
    } else if (!strcmp(t, "OBS")) {
        const char *addr = ds_str(job, "address");
        if (!addr) {
            ds_fail(job, DS_E_CONFIG, "no address configured");
            return;
        }
        int dflt = ds_bool(job, "https", 1) ? 443 : 80;
        int p = ds_port(job, "port", 0);
        if (strstr(addr, "://")) {
            if (from_url(job, addr, dflt, host, sizeof host, &port) != 0) return;
        } else {
            ds_hostport hp[1];
            if (ds_parse_hostports(addr, dflt, hp, 1) != 1) {
                ds_fail(job, DS_E_CONFIG, "cannot read a host from address");
                return;
            }
            snprintf(host, sizeof host, "%s", hp[0].host);
            port = hp[0].port;
            ds_hostports_free(hp, 1);
        }
        if (p > 0) port = p;
    } else if (!strcmp(t, "DIS")) {
        const char *ep = ds_str(job, "dis_endpoint");
        if (!ep) {
            ds_fail(job, DS_E_UNSUPPORTED, "a basic DIS datasource has no endpoint to reach; set dis_setting_type senior "
                                           "and dis_endpoint to test it");
            return;
        }
        if (strstr(ep, "://")) {
            if (from_url(job, ep, 443, host, sizeof host, &port) != 0) return;
        } else {
            snprintf(host, sizeof host, "%s", ep);
            port = 443;
        }
    } else if (!strcmp(t, "SNMP") && ds_str(job, "snmp_network_protocol") &&
               !strcmp(ds_str(job, "snmp_network_protocol"), "udp")) {
        ds_fail(job, DS_E_UNSUPPORTED, "SNMP over UDP has no connection to test; only TCP agents can be checked");
        return;
    } else if (!strcmp(t, "HL7") && !(ds_str(job, "hl7_position") && !strcmp(ds_str(job, "hl7_position"), "target"))) {
        ds_fail(job, DS_E_UNSUPPORTED, "an HL7 source listens for senders; only an HL7 target can be checked");
        return;
    } else if (!strcmp(t, "ORACLE") && mode && !strcmp(mode, "multiAddress")) {
        const cJSON *arr = cJSON_GetObjectItemCaseSensitive(job->content, "multi_oracle_address");
        const cJSON *first = cJSON_IsArray(arr) ? cJSON_GetArrayItem(arr, 0) : NULL;
        const char *h = first ? ds_str_in(first, "oracle_address") : NULL;
        const char *p = first ? ds_str_in(first, "oracle_port") : NULL;
        if (!h) {
            ds_fail(job, DS_E_CONFIG, "no oracle_address in multi_oracle_address");
            return;
        }
        snprintf(host, sizeof host, "%s", h);
        port = p ? atoi(p) : 1521;
    } else if (mode && !strcmp(mode, "professional")) {
        const char *url = ds_str(job, "url");
        if (!url) {
            ds_fail(job, DS_E_CONFIG, "professional mode needs a url");
            return;
        }
        /* Oracle thin URLs are "jdbc:oracle:thin:@//host:port/service" or "@host:port:sid" */
        const char *at = strstr(url, ":@");
        if (at) {
            ds_hostport hp[1];
            const char *s = at + 2;
            while (*s == '/') s++;
            size_t n = strcspn(s, "/:?");
            if (s[n] == ':') n += 1 + strcspn(s + n + 1, "/:?");
            char item[300];
            snprintf(item, sizeof item, "%.*s", (int)n, s);
            if (ds_parse_hostports(item, default_port(t), hp, 1) != 1) {
                ds_fail(job, DS_E_CONFIG, "cannot read a host and port from the url");
                return;
            }
            snprintf(host, sizeof host, "%s", hp[0].host);
            port = hp[0].port;
            ds_hostports_free(hp, 1);
        } else if (from_url(job, url, default_port(t), host, sizeof host, &port) != 0) {
            return;
        }
    } else {
        const char *h = ds_str(job, "host");
        if (!h) {
            ds_fail(job, DS_E_UNSUPPORTED, "a %s datasource has no network address to check (no host in its content)",
                    t);
            return;
        }
        snprintf(host, sizeof host, "%s", h);
        port = ds_port(job, "port", default_port(t));
        if (port <= 0) {
            ds_fail(job, DS_E_CONFIG, "invalid or missing port");
            return;
        }
    }
    if (port < 1 || port > 65535) {
        ds_fail(job, DS_E_CONFIG, "invalid port %d", port);
        return;
    }
    connect_and_report(job, host, port);
}
