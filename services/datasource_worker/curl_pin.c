/* curl_pin.c: libcurl handles pinned to policy-checked addresses (see curl_pin.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "curl_pin.h"

static curl_socket_t open_socket_cb(void *clientp, curlsocktype purpose, struct curl_sockaddr *addr)
{
    ds_curl *dc = clientp;
    (void)purpose;
    if (!netpolicy_allows(g_ds.policy, &addr->addr)) {
        dc->denied = 1;
        const void *src = addr->family == AF_INET
                              ? (const void *)&((const struct sockaddr_in *)(const void *)&addr->addr)->sin_addr
                              : (const void *)&((const struct sockaddr_in6 *)(const void *)&addr->addr)->sin6_addr;
        if (!inet_ntop(addr->family, src, dc->denied_ip, sizeof dc->denied_ip)) snprintf(dc->denied_ip, 4, "?");
        return CURL_SOCKET_BAD;
    }
    return socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
}

static size_t write_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    ds_curl *dc = userdata;
    size_t n = size * nmemb;
    dc->body_bytes += n;
    if (dc->capture_max > dc->capture_len) {
        size_t take = dc->capture_max - dc->capture_len;
        if (take > n) take = n;
        memcpy(dc->capture + dc->capture_len, ptr, take);
        dc->capture_len += take;
        dc->capture[dc->capture_len] = '\0';
    }
    /* the check only needs the status: stop a large or endless body early */
    if (dc->body_bytes > 1024 * 1024 && dc->capture_max == 0) return 0;
    return n;
}

static int scheme_allowed(const char *scheme, const char *allowed)
{
    size_t sl = strlen(scheme);
    for (const char *p = allowed; *p;) {
        size_t n = strcspn(p, ",");
        if (n == sl && !strncasecmp(p, scheme, n)) return 1;
        p += n;
        if (*p == ',') p++;
    }
    return 0;
}

int ds_curl_open(ds_job *job, ds_curl *dc, const char *url, const char *allowed_schemes, char *host, size_t host_len,
                 int *port)
{
    memset(dc, 0, sizeof *dc);
    dc->job = job;
    CURLU *u = curl_url();
    if (!u) {
        ds_fail(job, DS_E_OTHER, "out of memory");
        return -1;
    }
    char *scheme = NULL, *h = NULL, *p = NULL;
    int rc = -1;
    if (!url || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &h, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_PORT, &p, CURLU_DEFAULT_PORT) != CURLUE_OK) {
        ds_fail(job, DS_E_CONFIG, "the url is not a valid URL");
        goto out;
    }
    if (!scheme_allowed(scheme, allowed_schemes)) {
        ds_fail(job, DS_E_CONFIG, "url scheme \"%.16s\" is not supported here (use %s)", scheme, allowed_schemes);
        goto out;
    }
    *port = atoi(p);
    snprintf(host, host_len, "%s", h);
    ds_addrs addrs;
    if (ds_resolve(job, h, *port, &addrs) != 0) goto out;

    /* "name:port:addr1,addr2": libcurl will use exactly these addresses for this name */
    char pin[1024];
    int len = snprintf(pin, sizeof pin, "%s:%d:", h, *port);
    for (int i = 0; i < addrs.n && len > 0 && (size_t)len < sizeof pin; i++)
        len += snprintf(pin + len, sizeof pin - (size_t)len, addrs.a[i].ss.ss_family == AF_INET6 ? "%s[%s]" : "%s%s",
                        i ? "," : "", addrs.a[i].ip);
    if (len <= 0 || (size_t)len >= sizeof pin) {
        ds_fail(job, DS_E_CONFIG, "host name too long");
        goto out;
    }
    dc->resolve = curl_slist_append(NULL, pin);
    dc->h = curl_easy_init();
    if (!dc->resolve || !dc->h) {
        ds_fail(job, DS_E_OTHER, "out of memory");
        goto out;
    }
    char ep[300];
    snprintf(ep, sizeof ep, "%s:%d", h, *port);
    ds_set_phase(job, DS_PHASE_CONNECT, ep);
    CURL *c = dc->h;
    CURLcode bad = CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_URL, url);
    bad |= curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, allowed_schemes);
    bad |= curl_easy_setopt(c, CURLOPT_RESOLVE, dc->resolve);
    bad |= curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, open_socket_cb);
    bad |= curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, dc);
    bad |= curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_cb);
    bad |= curl_easy_setopt(c, CURLOPT_WRITEDATA, dc);
    bad |= curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    bad |= curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    bad |= curl_easy_setopt(c, CURLOPT_PROXY, "");   /* ignore http_proxy & co of the worker's environment */
    bad |= curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    bad |= curl_easy_setopt(c, CURLOPT_USERAGENT, "OpenROMA-datasource-check/1");
    bad |= curl_easy_setopt(c, CURLOPT_NETRC, (long)CURL_NETRC_IGNORED);
    if (bad != CURLE_OK) {
        ds_fail(job, DS_E_OTHER, "cannot configure the HTTP client");
        goto out;
    }
    rc = 0;
out:
    curl_free(scheme);
    curl_free(h);
    curl_free(p);
    curl_url_cleanup(u);
    if (rc != 0) ds_curl_close(dc);
    return rc;
}

CURLcode ds_curl_perform(ds_curl *dc)
{
    long left = ds_remaining_ms(dc->job);
    if (left < 1) left = 1;
    curl_easy_setopt(dc->h, CURLOPT_TIMEOUT_MS, left);
    curl_easy_setopt(dc->h, CURLOPT_CONNECTTIMEOUT_MS, left);
    return curl_easy_perform(dc->h);
}

void ds_curl_fail(ds_curl *dc, CURLcode rc, const char *what, const char *ep)
{
    ds_job *job = dc->job;
    long oserr = 0;
    curl_easy_getinfo(dc->h, CURLINFO_OS_ERRNO, &oserr);
    if (dc->denied) {
        ds_fail(job, DS_E_POLICY, "%s is in a range the worker may not connect to", dc->denied_ip);
        return;
    }
    switch (rc) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        ds_fail(job, DS_E_DNS, "cannot resolve %s", ep);
        return;
    case CURLE_COULDNT_CONNECT:
        if (oserr == ETIMEDOUT)
            ds_fail(job, DS_E_TIMEOUT, "no connection to %s within %ld ms", ep, job->timeout_ms);
        else if (oserr == ENETUNREACH || oserr == EHOSTUNREACH)
            ds_fail(job, DS_E_REFUSED, "%s is unreachable from the worker (no route)", ep);
        else
            ds_fail(job, DS_E_REFUSED, "nothing listens on %s (is the port right and the server running?)", ep);
        return;
    case CURLE_OPERATION_TIMEDOUT:
        ds_fail(job, DS_E_TIMEOUT, "%s: %s did not complete within %ld ms", ep, what, job->timeout_ms);
        return;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_USE_SSL_FAILED:
        ds_fail(job, DS_E_TLS, "%s: %s (certificate or handshake problem)", ep, curl_easy_strerror(rc));
        return;
    case CURLE_LOGIN_DENIED:
        ds_fail(job, DS_E_AUTH, "%s rejected the user name or password", ep);
        return;
    case CURLE_REMOTE_ACCESS_DENIED:
        ds_fail(job, DS_E_PERM, "%s denied access to the path", ep);
        return;
    case CURLE_GOT_NOTHING:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_UNSUPPORTED_PROTOCOL:
        ds_fail(job, DS_E_PROTOCOL, "%s: %s failed (%s)", ep, what, curl_easy_strerror(rc));
        return;
    default:
        ds_fail(job, DS_E_OTHER, "%s: %s failed (%s)", ep, what, curl_easy_strerror(rc));
        return;
    }
}

void ds_curl_close(ds_curl *dc)
{
    if (dc->h) curl_easy_cleanup(dc->h);
    curl_slist_free_all(dc->resolve);
    curl_slist_free_all(dc->headers);
    free(dc->capture);
    memset(dc, 0, sizeof *dc);
}
