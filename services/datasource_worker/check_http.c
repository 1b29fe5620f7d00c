/* check_http.c: API datasources: one request with the configured api_method to content.url, with the
 * configured authentication, through a libcurl handle pinned to policy-checked addresses (curl_pin.c).
 * Any 2xx or 3xx answer is success (redirects are not followed). 401 -> authentication failed,
 * 403 -> permission denied, other statuses -> failure naming the status.
 *
 * Authentication exercised: none, basicauth (user_name/password), oauth2.0 (client_credentials grant
 * against access_token_url, then a Bearer token). The other documented methods (hmac, secret, md5,
 * apiGateway, keyTop, hikVision, huaweiNetworkManagement, liHe) are not implemented by the tester: the
 * request goes out unsigned, any HTTP answer counts as reachable, and the detail says so.
 *
 * The configured method is used as is: a test of a DELETE API sends a DELETE (with an empty body). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "json_gate.h"
#include "curl_pin.h"

static const cJSON *auth_detail(const ds_job *job)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(job->content, "api_auth_detail");
    return cJSON_IsObject(a) ? a : NULL;
}

/* client_credentials grant; on success *token is a heap string (caller frees). 0 or -1 (recorded). */
static int fetch_oauth_token(ds_job *job, const cJSON *ad, char **token)
{
    const char *url = ds_str_in(ad, "access_token_url");
    const char *id = ds_str_in(ad, "client_id") ? ds_str_in(ad, "client_id") : ds_str_in(ad, "app_key");
    const char *secret = ds_str_in(ad, "client_secret") ? ds_str_in(ad, "client_secret") : ds_str_in(ad, "app_secret");
    const char *scope = ds_str_in(ad, "scope");
    const char *grant = ds_str_in(ad, "grant_type");
    if (!url || !id || !secret) {
        ds_fail(job, DS_E_CONFIG, "oauth2.0 needs access_token_url, client_id and client_secret");
        return -1;
    }
    ds_curl dc;
    char host[256];
    int port;
    if (ds_curl_open(job, &dc, url, "http,https", host, sizeof host, &port) != 0) return -1;
    char *eid = curl_easy_escape(dc.h, id, 0), *esec = curl_easy_escape(dc.h, secret, 0);
    char *escope = scope ? curl_easy_escape(dc.h, scope, 0) : NULL;
    char *egrant = curl_easy_escape(dc.h, grant ? grant : "client_credentials", 0);
    size_t flen = (eid ? strlen(eid) : 0) + (esec ? strlen(esec) : 0) + (escope ? strlen(escope) : 0) +
                  (egrant ? strlen(egrant) : 0) + 80;
    char *form = malloc(flen);
    int rc = -1;
    if (!eid || !esec || !egrant || (scope && !escope) || !form) {
        ds_fail(job, DS_E_OTHER, "out of memory");
        goto out;
    }
    snprintf(form, flen, "grant_type=%s&client_id=%s&client_secret=%s%s%s", egrant, eid, esec, escope ? "&scope=" : "",
             escope ? escope : "");
    dc.capture_max = 64 * 1024;
    dc.capture = malloc(dc.capture_max + 1);
    if (!dc.capture) {
        ds_fail(job, DS_E_OTHER, "out of memory");
        goto out;
    }
    dc.capture[0] = '\0';
    curl_easy_setopt(dc.h, CURLOPT_POSTFIELDS, form);
    char ep[300];
    snprintf(ep, sizeof ep, "%s:%d", host, port);
    CURLcode cr = ds_curl_perform(&dc);
    if (cr != CURLE_OK) {
        ds_curl_fail(&dc, cr, "the OAuth token request", ep);
        goto out;
    }
    long status = 0;
    curl_easy_getinfo(dc.h, CURLINFO_RESPONSE_CODE, &status);
    if (status == 400 || status == 401 || status == 403) {
        ds_fail(job, DS_E_AUTH, "the token endpoint %s rejected the client credentials (HTTP %ld)", ep, status);
        goto out;
    }
    if (status < 200 || status > 299) {
        ds_fail(job, DS_E_OTHER, "the token endpoint %s answered HTTP %ld", ep, status);
        goto out;
    }
    cJSON *j = json_gate_parse_str(dc.capture, NULL);
    const char *tok = j ? ds_str_in(j, "access_token") : NULL;
    if (!tok || !*tok) {
        ds_fail(job, DS_E_PROTOCOL, "the token endpoint %s did not return an access_token", ep);
        cJSON_Delete(j);
        goto out;
    }
    *token = strdup(tok);
    cJSON_Delete(j);
    if (!*token) {
        ds_fail(job, DS_E_OTHER, "out of memory");
        goto out;
    }
    rc = 0;
out:
    if (form) {
        memset(form, 0, strlen(form)); /* holds the client secret */
        free(form);
    }
    curl_free(eid);
    curl_free(esec);
    curl_free(escope);
    curl_free(egrant);
    ds_curl_close(&dc);
    return rc;
}

void check_http(ds_job *job)
{
    const char *url = ds_str(job, "url");
    const char *method = ds_str(job, "api_method");
    const cJSON *ad = auth_detail(job);
    const char *am = ad ? ds_str_in(ad, "auth_method") : NULL;
    if (!am) am = "none";
    if (!method) method = "GET";

    char *token = NULL;
    if (!strcmp(am, "oauth2.0") && fetch_oauth_token(job, ad, &token) != 0) return;

    ds_curl dc;
    char host[256];
    int port;
    if (ds_curl_open(job, &dc, url, "http,https", host, sizeof host, &port) != 0) {
        if (token) crypto_free_secret(token);
        return;
    }
    char ep[300];
    snprintf(ep, sizeof ep, "%s:%d", host, port);
    int exercised = 1;
    if (!strcmp(method, "GET")) {
        curl_easy_setopt(dc.h, CURLOPT_HTTPGET, 1L);
    } else {
        curl_easy_setopt(dc.h, CURLOPT_CUSTOMREQUEST, method);
        if (strcmp(method, "DELETE") != 0) {
            curl_easy_setopt(dc.h, CURLOPT_POSTFIELDS, "");
            curl_easy_setopt(dc.h, CURLOPT_POSTFIELDSIZE, 0L);
        }
    }
    if (!strcmp(am, "basicauth")) {
        const char *u = ds_str_in(ad, "user_name"), *p = ds_str_in(ad, "password");
        curl_easy_setopt(dc.h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(dc.h, CURLOPT_USERNAME, u ? u : "");
        curl_easy_setopt(dc.h, CURLOPT_PASSWORD, p ? p : "");
    } else if (token) {
        size_t hl = strlen(token) + 32;
        char *h = malloc(hl);
        if (h) {
            snprintf(h, hl, "Authorization: Bearer %s", token);
            dc.headers = curl_slist_append(dc.headers, h);
            memset(h, 0, hl);
            free(h);
        }
        if (!dc.headers) {
            ds_fail(job, DS_E_OTHER, "out of memory");
            goto out;
        }
        curl_easy_setopt(dc.h, CURLOPT_HTTPHEADER, dc.headers);
    } else if (strcmp(am, "none") != 0) {
        exercised = 0;
    }

    CURLcode cr = ds_curl_perform(&dc);
    if (cr != CURLE_OK) {
        ds_curl_fail(&dc, cr, "the HTTP request", ep);
        goto out;
    }
    long status = 0;
    curl_easy_getinfo(dc.h, CURLINFO_RESPONSE_CODE, &status);
    if (!exercised) {
        ds_succeed(job, "reachability only: %s answered %s with HTTP %ld; auth method %s is not exercised by the tester",
                   ep, method, status, am);
    } else if (status >= 200 && status < 400) {
        ds_succeed(job, "%s answered %s with HTTP %ld", ep, method, status);
    } else if (status == 401) {
        ds_fail(job, DS_E_AUTH, "%s answered HTTP 401 to %s (check the credentials of api_auth_detail)", ep, method);
    } else if (status == 403) {
        ds_fail(job, DS_E_PERM, "%s answered HTTP 403 to %s", ep, method);
    } else if (status == 407) {
        ds_fail(job, DS_E_AUTH, "%s answered HTTP 407 (proxy authentication required)", ep);
    } else {
        ds_fail(job, DS_E_OTHER, "%s answered HTTP %ld to %s", ep, status, method);
    }
out:
    if (token) crypto_free_secret(token);
    ds_curl_close(&dc);
}
