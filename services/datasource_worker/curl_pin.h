/* curl_pin.h: libcurl easy handles that can only reach policy-checked addresses (used by the API and
 * FTP checks). The host of the URL is resolved by ds_resolve() first; CURLOPT_RESOLVE then pins the
 * name to those addresses (libcurl never asks DNS itself, while TLS SNI and the Host header keep the
 * name), and an opensocket callback re-checks every address libcurl is about to connect to (FTP data
 * connections, anything unforeseen). Proxies from the environment, redirects and signals are off. */
#ifndef ROMA_DS_CURL_PIN_H
#define ROMA_DS_CURL_PIN_H

#include <curl/curl.h>

#include "ds_job.h"

typedef struct ds_curl {
    CURL *h;
    struct curl_slist *resolve;
    struct curl_slist *headers;
    ds_job *job;
    int denied;            /* the opensocket callback refused an address */
    char denied_ip[INET6_ADDRSTRLEN];
    size_t body_bytes;     /* response bytes received (discarded) */
    char *capture;         /* when capture_max > 0: the first capture_max bytes of the body */
    size_t capture_len, capture_max;
} ds_curl;

/* Parses url (schemes limited to allowed, e.g. "http,https"), resolves its host under the policy and
 * prepares dc->h with the URL, the pin, the callbacks and timeouts from the job deadline. Returns 0, or
 * -1 with the failure recorded (invalid URL, DNS failure, address denied by policy). host/port out. */
int ds_curl_open(ds_job *job, ds_curl *dc, const char *url, const char *allowed_schemes, char *host, size_t host_len,
                 int *port) ROMA_MUST_USE;
/* Performs the transfer; returns libcurl's code. Re-applies the remaining time first. */
CURLcode ds_curl_perform(ds_curl *dc);
/* Records a libcurl failure in the job's words. what: "HTTP request", "FTP login", ... */
void ds_curl_fail(ds_curl *dc, CURLcode rc, const char *what, const char *endpoint);
void ds_curl_close(ds_curl *dc);

#endif
