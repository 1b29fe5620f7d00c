/* router.c: request dispatch (see router.h).
 *
 * The order of run() is the request gate; no handler runs before all of it passed:
 *   1. HTTP framing (http_framing_or_reply): one Host on HTTP/1.1, at most one all-digit Content-Length,
 *      no Content-Length beside Transfer-Encoding, only "chunked", only "Expect: 100-continue".
 *      civetweb 1.15 accepts all of these; a request whose framing is ambiguous is refused and its
 *      connection closed (what a proxy and we would read as the next request could differ).
 *   2. the route (404 / 405), which fixes the error family of everything below;
 *   3. text (text_or_reply): the decoded path, the decoded query and every header are valid UTF-8
 *      without NUL, before any of them reaches PostgreSQL, a log line or an error body;
 *   4. the body size, answered 413 before reading when the client announced more (and at once when it
 *      waits for 100-continue);
 *   5. authentication and the project / instance of the path;
 *   6. the body through json_gate (depth, UTF-8, NUL, duplicate keys) unless the route takes a raw
 *      upload; handlers then parse r->body with cJSON knowing it is safe. */
#include "router.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cJSON.h>

#include "auth.h"
#include "json_gate.h"
#include "log.h"
#include "routes.h"
#include "util.h"

/* Matches path against pattern; on success captures {params} into r. 1 = match. */
static int match_route(const char *pattern, const char *path, req *r)
{
    const char *p = pattern, *s = path;
    int n = 0;
    const char *names[REQ_MAX_PARAMS];
    const char *vals[REQ_MAX_PARAMS];
    size_t vlens[REQ_MAX_PARAMS];
    size_t nlens[REQ_MAX_PARAMS];
    while (*p && *s) {
        if (*p == '{') {
            const char *close = strchr(p, '}');
            if (!close || n == REQ_MAX_PARAMS) return 0;
            const char *seg_end = strchr(s, '/');
            if (!seg_end) seg_end = s + strlen(s);
            if (seg_end == s) return 0; /* empty segment */
            names[n] = p + 1;
            nlens[n] = (size_t)(close - p - 1);
            vals[n] = s;
            vlens[n] = (size_t)(seg_end - s);
            n++;
            p = close + 1;
            s = seg_end;
        } else {
            if (*p != *s) return 0;
            p++;
            s++;
        }
    }
    if (*s == '/' && s[1] == '\0') s++; /* tolerate one trailing slash */
    if (*p || *s) return 0;
    if (!r) return 1;
    for (int i = 0; i < n; i++) {
        /* names point into the static pattern: store a NUL-terminated copy cheaply via static table */
        char *name = strndup(names[i], nlens[i]);
        /* civetweb runs with decode_url=no (so AK/SK signatures see the path as sent): decode here */
        char *val = malloc(vlens[i] + 1);
        if (val && mg_url_decode(vals[i], (int)vlens[i], val, (int)vlens[i] + 1, 0) < 0) {
            free(val);
            val = NULL;
        }
        if (!name || !val) {
            free(name);
            free(val);
            return -1;
        }
        r->param_names[r->nparams] = name;
        r->param_values[r->nparams] = val;
        r->nparams++;
    }
    return 1;
}

static const route *find_route(req *r, int *path_matched)
{
    *path_matched = 0;
    for (const route *const *t = route_tables; *t; t++) {
        for (const route *rt = *t; rt->method; rt++) {
            if (!match_route(rt->pattern, r->path, NULL)) continue;
            *path_matched = 1;
            if (strcmp(rt->method, r->method) != 0) continue;
            if (match_route(rt->pattern, r->path, r) < 0) return NULL;
            return rt;
        }
    }
    return NULL;
}

static void set_rid(req *r)
{
    const char *h = req_header(r, "X-Request-Id");
    if (h) {
        size_t n = strlen(h);
        int ok = n > 0 && n < sizeof r->rid;
        for (size_t i = 0; ok && i < n; i++) {
            char c = h[i];
            ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                 c == '_' || c == '.';
        }
        if (ok) {
            memcpy(r->rid, h, n + 1);
            return;
        }
    }
    if (util_hex_id(r->rid) != 0) snprintf(r->rid, sizeof r->rid, "norandom");
}

/* Reads the body up to limit bytes. 0, ROMA_ETOOBIG, or ROMA_EIO. */
static int read_body(req *r, long long limit)
{
    long long cl = r->ri->content_length;
    if (cl > limit) return ROMA_ETOOBIG;
    size_t cap = cl >= 0 ? (size_t)cl + 1 : 4096;
    r->body = malloc(cap);
    if (!r->body) return ROMA_ENOMEM;
    size_t len = 0;
    for (;;) {
        if (len + 1 >= cap) {
            if ((long long)len > limit) return ROMA_ETOOBIG;
            size_t ncap = cap * 2;
            char *nb = realloc(r->body, ncap);
            if (!nb) return ROMA_ENOMEM;
            r->body = nb;
            cap = ncap;
        }
        int got = mg_read(r->conn, r->body + len, cap - len - 1);
        if (got < 0) return ROMA_EIO;
        if (got == 0) break;
        len += (size_t)got;
        if ((long long)len > limit) return ROMA_ETOOBIG;
    }
    r->body[len] = '\0';
    r->body_len = len;
    return 0;
}

/* Step 1 of the gate. 0, or replied 400 / 417 (and closed) and ROMA_EINVAL. */
static int http_framing_or_reply(req *r)
{
    int hosts = 0, cls = 0, te = 0;
    const char *cl = NULL, *tev = NULL, *expect = NULL;
    for (int i = 0; i < r->ri->num_headers; i++) {
        const char *n = r->ri->http_headers[i].name, *v = r->ri->http_headers[i].value;
        if (!strcasecmp(n, "Host")) hosts++;
        else if (!strcasecmp(n, "Content-Length")) cls++, cl = v;
        else if (!strcasecmp(n, "Transfer-Encoding")) te++, tev = v;
        else if (!strcasecmp(n, "Expect")) expect = v;
    }
    const char *why = NULL;
    int status = 400;
    if (hosts > 1) why = "The request has more than one Host header.";
    else if (!hosts && r->ri->http_version && !strcmp(r->ri->http_version, "1.1"))
        why = "An HTTP/1.1 request must carry a Host header.";
    else if (cls > 1) why = "The request has more than one Content-Length header.";
    else if (cls && te) why = "The request has both Content-Length and Transfer-Encoding.";
    else if (te > 1 || (te && strcasecmp(tev, "chunked") != 0)) why = "Only Transfer-Encoding: chunked is supported.";
    else if (cl && (!*cl || strspn(cl, "0123456789") != strlen(cl))) why = "The Content-Length header is not a number.";
    else if (expect && strcasecmp(expect, "100-continue") != 0) {
        why = "Only Expect: 100-continue is supported.";
        status = 417;
    }
    if (!why) return 0;
    reply_close(r);
    if (status == 400) reply_bad_param(r, "%s", why);
    else reply_error(r, status, r->route && r->route->shape == ERR_SHAPE_FDI ? "FDI.3002" : "ROMA.13000", "%s", why);
    return ROMA_EINVAL;
}

/* Decodes src[0..n) (URL or form encoding) and tells whether the result is valid UTF-8 without NUL. */
static int decoded_text_ok(const char *src, size_t n, int is_form)
{
    if (!n) return 1;
    char stackbuf[1024];
    char *buf = n < sizeof stackbuf ? stackbuf : malloc(n + 1);
    if (!buf) return 0;
    int len = mg_url_decode(src, (int)n, buf, (int)n + 1, is_form);
    int ok = len >= 0 && json_gate_text_ok(buf, (size_t)len);
    if (buf != stackbuf) free(buf);
    return ok;
}

/* Step 3 of the gate. 0, or replied the family's 400 and ROMA_EINVAL. */
static int text_or_reply(req *r)
{
    const char *what = NULL;
    if (!decoded_text_ok(r->path, strlen(r->path), 0)) what = "path";
    else if (r->query && !decoded_text_ok(r->query, strlen(r->query), 1)) what = "query string";
    for (int i = 0; !what && i < r->ri->num_headers; i++) {
        const char *n = r->ri->http_headers[i].name, *v = r->ri->http_headers[i].value;
        if (!json_gate_text_ok(n, strlen(n)) || !json_gate_text_ok(v, strlen(v))) what = "headers";
    }
    if (!what) return 0;
    log_info(r->rid, "http.bad_text", "%s of %s refused: invalid UTF-8 or NUL", what, r->method);
    reply_bad_param(r, "Invalid parameter: the %s must be valid UTF-8 without NUL characters.", what);
    return ROMA_EINVAL;
}

/* Step 6 of the gate: a body with any non-blank content must be one JSON text json_gate accepts. */
static int body_or_reply(req *r, long long limit)
{
    if (r->route->flags & ROUTE_RAW_BODY) return 0;
    size_t i = 0;
    while (i < r->body_len && (r->body[i] == ' ' || r->body[i] == '\t' || r->body[i] == '\r' || r->body[i] == '\n')) i++;
    if (i == r->body_len) return 0; /* no body: the handler decides whether it needs one */
    json_gate_err ge;
    int rc = json_gate_check(r->body, r->body_len, (int)g_api->cfg.json_max_depth, (size_t)limit, &ge);
    if (rc == 0) {
        r->body_gated = 1;
        return 0;
    }
    if (rc == ROMA_ENOMEM) {
        reply_internal(r, "oom in the JSON gate");
        return rc;
    }
    log_info(r->rid, "http.bad_body", "body refused by the JSON gate (%d): %s", (int)ge.code, ge.msg);
    if (ge.code == JSON_GATE_DUP_KEY && r->route->shape == ERR_SHAPE_FDI)
        /* FDI documents "Invalid parameter [%s]." for a field it cannot accept (reply_* escapes it) */
        reply_error(r, 400, "FDI.3033", "Invalid parameter [%s].", ge.path);
    else
        reply_bad_param(r, "The request body is not valid JSON: %s", ge.msg);
    return rc;
}

static void run(req *r)
{
    int path_matched;
    const route *rt = find_route(r, &path_matched);
    r->route = rt;
    if (http_framing_or_reply(r) != 0) return;
    if (!rt) {
        if (path_matched) {
            reply_error(r, 405, "ROMA.1007", "Method %s is not allowed on this resource.", r->method);
        } else {
            reply_error(r, 404, "ROMA.1007", "The requested URL does not exist.");
        }
        return;
    }
    if (text_or_reply(r) != 0) return;
    long long limit = g_api->cfg.max_body * ((rt->flags & ROUTE_RAW_BODY) ? 4 : 1);
    /* A client waiting for 100-continue has sent nothing yet: answer 413 now rather than invite the
     * body (mg_read would send "100 Continue") or wait for it. */
    int rc = r->ri->content_length > limit ? ROMA_ETOOBIG : read_body(r, limit);
    if (rc == ROMA_ETOOBIG) {
        /* Drain a moderately oversized body so the client, still sending, reads our 413 instead of a
         * connection reset; past 16x the limit, or when it waits for 100-continue, we just close. */
        long long cl = r->ri->content_length;
        if (cl > 0 && cl <= limit * 16 && !req_header(r, "Expect")) {
            char sink[16384];
            while (mg_read(r->conn, sink, sizeof sink) > 0) {
            }
        }
        reply_close(r);
        reply_error(r, 413, rt->shape == ERR_SHAPE_FDI ? "FDI.3002" : "ROMA.13000",
                    "The request body exceeds the limit of %lld bytes.", limit);
        return;
    }
    if (rc != 0) {
        reply_close(r);
        reply_bad_param(r, "The request body could not be read.");
        return;
    }
    if (!(rt->flags & ROUTE_PUBLIC)) {
        if (auth_request_or_reply(r) != 0) return;
        const char *pid = req_param(r, "project_id");
        if (pid && strcmp(pid, r->project_id) != 0) {
            log_info(r->rid, "auth.forbidden", "caller of project %s addressed project %.40s", r->project_id, pid);
            reply_error(r, 403, "ROMA.1006", "You have no permission to access this project.");
            return;
        }
        if (rt->flags & ROUTE_INSTANCE) {
            const char *iid = req_param(r, "instance_id");
            if (iid && auth_instance_or_reply(r, iid) != 0) return;
        }
    }
    if (body_or_reply(r, limit) != 0) return;
    rt->fn(r);
    if (!r->status) reply_internal(r, "handler returned without replying");
}

int router_handle(struct mg_connection *conn, void *cbdata)
{
    (void)cbdata;
    req r;
    memset(&r, 0, sizeof r);
    r.conn = conn;
    r.ri = mg_get_request_info(conn);
    r.t0_ms = util_mono_ms();
    r.method = r.ri->request_method;
    r.path = r.ri->local_uri_raw ? r.ri->local_uri_raw : (r.ri->local_uri ? r.ri->local_uri : "/");
    r.query = r.ri->query_string;
    set_rid(&r);

    run(&r);

    if (r.db) db_release(g_api->db, r.db);
    log_info(r.rid, "http.request", "%s %s %d %lldms%s", r.method, r.path, r.status,
             (long long)(util_mono_ms() - r.t0_ms), r.auth_by_ak ? " ak" : "");
    for (int i = 0; i < r.nparams; i++) {
        free((char *)r.param_names[i]);
        free(r.param_values[i]);
    }
    free(r.body);
    free(r.extra_headers);
    return r.status ? r.status : 500;
}

/* The E-ROMA error body for requests no route saw, sent raw. */
static void raw_error(struct mg_connection *conn, int status, const char *reason, const char *errmsg)
{
    char rid[33];
    if (util_hex_id(rid) != 0) snprintf(rid, sizeof rid, "norandom");
    const char *code = status == 404 || status == 405 ? "ROMA.1007"
                       : status >= 500               ? "ROMA.00000500"
                                                     : "ROMA.13000";
    cJSON *o = cJSON_CreateObject();
    if (!o) return;
    /* civetweb's message may quote the request line: escape it before it reaches JSON or a log line */
    char esc[220], msg[256];
    util_escape_text(errmsg ? errmsg : "", esc, sizeof esc);
    snprintf(msg, sizeof msg, "The HTTP request is malformed: %s", esc);
    cJSON_AddStringToObject(o, "error_code", code);
    cJSON_AddStringToObject(o, "error_msg", msg);
    cJSON_AddStringToObject(o, "error_details", msg);
    cJSON_AddStringToObject(o, "request_id", rid);
    char *body = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!body) return;
    char buf[1024];
    int n = snprintf(buf, sizeof buf,
                     "HTTP/1.1 %d %s\r\nX-Request-Id: %s\r\nContent-Type: application/json;charset=UTF-8\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                     status, reason, rid, strlen(body), body);
    cJSON_free(body);
    if (n < 0 || (size_t)n >= sizeof buf) return;
    log_info(rid, "http.malformed", "%d %s", status, esc);
    if (mg_write(conn, buf, (size_t)n) != n) log_warn(rid, "http.write_failed", "client went away");
}

int router_http_error(struct mg_connection *conn, int status, const char *errmsg)
{
    /* civetweb answers malformed requests (bad request line, headers over max_request_size...) before
     * any handler runs; give those the same E-ROMA JSON body as every other error. */
    raw_error(conn, status, "Error", errmsg);
    return 0;
}

void router_connection_close(const struct mg_connection *conn)
{
    /* civetweb 1.15 parses an absolute-form request ("GET http://host/x HTTP/1.1") as a proxy request
     * and closes the connection without calling any handler or http_error: this callback, run while
     * the socket is still open, is the only place left to answer it. Such a request is the only one
     * that leaves local_uri NULL after a request line was read. (mg_write needs a non-const conn: the
     * connection is ours until this callback returns.) */
    const struct mg_request_info *ri = mg_get_request_info(conn);
    if (!ri || !ri->request_uri || ri->local_uri || !ri->request_method) return;
    raw_error((struct mg_connection *)conn, 400, "Bad Request",
              "absolute-form request targets are not served (send the path only, with a Host header)");
}
