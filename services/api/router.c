/* router.c: request dispatch (see router.h). */
#include "router.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "auth.h"
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

static void run(req *r)
{
    int path_matched;
    const route *rt = find_route(r, &path_matched);
    r->route = rt;
    if (!rt) {
        if (path_matched) {
            reply_error(r, 405, "ROMA.1007", "Method %s is not allowed on this resource.", r->method);
        } else {
            reply_error(r, 404, "ROMA.1007", "The requested URL does not exist.");
        }
        return;
    }
    long long limit = g_api->cfg.max_body * ((rt->flags & ROUTE_RAW_BODY) ? 4 : 1);
    int rc = read_body(r, limit);
    if (rc == ROMA_ETOOBIG) {
        /* Drain a moderately oversized body so the client, still sending, reads our 413 instead of a
         * connection reset; past 16x the limit we just close. */
        long long cl = r->ri->content_length;
        if (cl > 0 && cl <= limit * 16) {
            char sink[16384];
            while (mg_read(r->conn, sink, sizeof sink) > 0) {
            }
        }
        reply_add_header(r, "Connection", "close");
        reply_error(r, 413, rt->shape == ERR_SHAPE_FDI ? "FDI.3002" : "ROMA.13000",
                    "The request body exceeds the limit of %lld bytes.", limit);
        return;
    }
    if (rc != 0) {
        reply_add_header(r, "Connection", "close");
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

int router_http_error(struct mg_connection *conn, int status, const char *errmsg)
{
    /* civetweb answers malformed requests (bad request line, headers over max_request_size...) before
     * any handler runs; give those the same E-ROMA JSON body as every other error. */
    char rid[33];
    if (util_hex_id(rid) != 0) snprintf(rid, sizeof rid, "norandom");
    const char *code = status == 404 || status == 405 ? "ROMA.1007"
                       : status >= 500               ? "ROMA.00000500"
                                                     : "ROMA.13000";
    cJSON *o = cJSON_CreateObject();
    if (!o) return 1;
    char msg[256];
    snprintf(msg, sizeof msg, "The HTTP request is malformed: %.200s", errmsg ? errmsg : "");
    cJSON_AddStringToObject(o, "error_code", code);
    cJSON_AddStringToObject(o, "error_msg", msg);
    cJSON_AddStringToObject(o, "error_details", msg);
    cJSON_AddStringToObject(o, "request_id", rid);
    char *body = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!body) return 1;
    char buf[1024];
    int n = snprintf(buf, sizeof buf,
                     "HTTP/1.1 %d Error\r\nX-Request-Id: %s\r\nContent-Type: application/json;charset=UTF-8\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                     status, rid, strlen(body), body);
    cJSON_free(body);
    if (n < 0 || (size_t)n >= sizeof buf) return 1;
    log_info(rid, "http.malformed", "%d %s", status, errmsg ? errmsg : "");
    if (mg_write(conn, buf, (size_t)n) != n) log_warn(rid, "http.write_failed", "client went away");
    return 0;
}
