/* http.c: request reading and response writing helpers (see http.h). */
#include "http.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "json_gate.h"
#include "log.h"
#include "util.h"

api_ctx *g_api;

const char *req_param(const req *r, const char *name)
{
    for (int i = 0; i < r->nparams; i++)
        if (!strcmp(r->param_names[i], name)) return r->param_values[i];
    return NULL;
}

const char *req_header(const req *r, const char *name)
{
    for (int i = 0; i < r->ri->num_headers; i++)
        if (!strcasecmp(r->ri->http_headers[i].name, name)) return r->ri->http_headers[i].value;
    return NULL;
}

int req_query(const req *r, const char *name, char *buf, size_t buflen)
{
    if (!r->query) return -1;
    int n = mg_get_var(r->query, strlen(r->query), name, buf, buflen);
    if (n == -1) return -1;
    if (n < 0) return -2; /* -2: buffer too small; -3: malformed encoding: treat as too long/bad */
    return n;
}

cJSON *req_json_or_reply(req *r, int allow_array)
{
    if (r->body_len == 0) {
        reply_bad_param(r, "The request body is empty.");
        return NULL;
    }
    json_gate_err ge;
    if (!r->body_gated && json_gate_check(r->body, r->body_len, (int)g_api->cfg.json_max_depth, 0, &ge) != 0) {
        reply_bad_param(r, "The request body is not valid JSON: %s", ge.msg);
        return NULL;
    }
    r->body_gated = 1;
    cJSON *j = cJSON_ParseWithLength(r->body, r->body_len);
    if (!j) {
        reply_internal(r, "oom parsing a gated body");
        return NULL;
    }
    if (!cJSON_IsObject(j) && !(allow_array && cJSON_IsArray(j))) {
        cJSON_Delete(j);
        reply_bad_param(r, "The request body must be a JSON object.");
        return NULL;
    }
    return j;
}

PGconn *req_db_or_reply(req *r)
{
    if (r->db) return r->db;
    r->db = db_acquire(g_api->db, 5000);
    if (!r->db) reply_unavailable(r, "database");
    return r->db;
}

void reply_add_header(req *r, const char *name, const char *value)
{
    size_t old = r->extra_headers ? strlen(r->extra_headers) : 0;
    size_t add = strlen(name) + strlen(value) + 4;
    char *n = realloc(r->extra_headers, old + add + 1);
    if (!n) return;
    snprintf(n + old, add + 1, "%s: %s\r\n", name, value);
    r->extra_headers = n;
}

static const char *status_text(int s)
{
    switch (s) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 417: return "Expectation Failed";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Unknown";
    }
}

void reply_raw(req *r, int status, const char *content_type, const void *data, size_t len)
{
    if (r->status) {
        log_error(r->rid, "http.double_reply", "handler replied twice (%d then %d)", r->status, status);
        return;
    }
    r->status = status;
    char head[1024];
    int hl = snprintf(head, sizeof head,
                      "HTTP/1.1 %d %s\r\nX-Request-Id: %s\r\nContent-Length: %zu\r\n%s%s%s",
                      status, status_text(status), r->rid, len,
                      content_type ? "Content-Type: " : "", content_type ? content_type : "",
                      content_type ? "\r\n" : "");
    if (hl < 0 || (size_t)hl >= sizeof head) hl = 0;
    size_t xl = r->extra_headers ? strlen(r->extra_headers) : 0;
    size_t total = (size_t)hl + xl + 2 + len;
    char *buf = malloc(total);
    if (!buf) {
        log_error(r->rid, "http.oom", "cannot allocate %zu byte response", total);
        mg_write(r->conn, "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n", 57);
        return;
    }
    memcpy(buf, head, (size_t)hl);
    if (xl) memcpy(buf + hl, r->extra_headers, xl);
    memcpy(buf + hl + xl, "\r\n", 2);
    if (len) memcpy(buf + hl + xl + 2, data, len);
    /* one write: see the Nagle note in http.h */
    if (mg_write(r->conn, buf, total) != (int)total)
        log_warn(r->rid, "http.write_failed", "client went away before the %d reply was sent", status);
    free(buf);
}

void reply_json(req *r, int status, const cJSON *body)
{
    if (!body) {
        reply_raw(r, status, "application/json;charset=UTF-8", "", 0);
        return;
    }
    char *s = cJSON_PrintUnformatted(body);
    if (!s) {
        reply_internal(r, "json print");
        return;
    }
    reply_raw(r, status, "application/json;charset=UTF-8", s, strlen(s));
    cJSON_free(s);
}

void reply_json_text(req *r, int status, const char *json_text)
{
    reply_raw(r, status, "application/json;charset=UTF-8", json_text, strlen(json_text));
}

void reply_empty(req *r, int status) { reply_raw(r, status, NULL, "", 0); }

void reply_close(req *r)
{
    reply_add_header(r, "Connection", "close");
    mg_disable_connection_keep_alive(r->conn);
}

static err_shape shape_of(const req *r) { return r->route ? r->route->shape : ERR_SHAPE_ROMA; }

void reply_error_detail(req *r, int status, const char *code, const char *msg_in, const char *detail_in)
{
    /* messages may quote client input: keep the body valid UTF-8 whatever the input was */
    char msg[768], detail[768];
    util_escape_text(msg_in ? msg_in : "", msg, sizeof msg);
    if (detail_in) util_escape_text(detail_in, detail, sizeof detail);
    const char *dp = detail_in ? detail : NULL;
    cJSON *o = cJSON_CreateObject();
    if (!o) {
        reply_raw(r, 500, NULL, "", 0);
        return;
    }
    cJSON *e;
    switch (shape_of(r)) {
    case ERR_SHAPE_ROMA:
        cJSON_AddStringToObject(o, "error_code", code);
        cJSON_AddStringToObject(o, "error_msg", msg);
        cJSON_AddStringToObject(o, "error_details", dp ? dp : msg);
        cJSON_AddStringToObject(o, "request_id", r->rid);
        break;
    case ERR_SHAPE_FDI:
        cJSON_AddStringToObject(o, "error_code", code);
        cJSON_AddStringToObject(o, "error_msg", msg);
        if (dp) cJSON_AddStringToObject(o, "detail", dp);
        break;
    case ERR_SHAPE_MQS:
        /* MQS examples use the HTTP status as a number; the SDK types it as a string (spec §8 #17):
         * we send the documented string code and add request_id for support. */
        cJSON_AddStringToObject(o, "error_code", code);
        cJSON_AddStringToObject(o, "error_msg", msg);
        cJSON_AddStringToObject(o, "request_id", r->rid);
        break;
    case ERR_SHAPE_LINK:
        cJSON_AddStringToObject(o, "error_code", code);
        cJSON_AddStringToObject(o, "error_msg", msg);
        cJSON_AddStringToObject(o, "request_id", r->rid);
        break;
    case ERR_SHAPE_IAM:
        (void)code; /* IAM puts the HTTP status in "code" */
        e = cJSON_AddObjectToObject(o, "error");
        if (e) {
            cJSON_AddNumberToObject(e, "code", status);
            cJSON_AddStringToObject(e, "message", msg);
            cJSON_AddStringToObject(e, "title", status_text(status));
        }
        break;
    }
    reply_json(r, status, o);
    cJSON_Delete(o);
}

void reply_error(req *r, int status, const char *code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    reply_error_detail(r, status, code, msg, NULL);
}

void reply_bad_param(req *r, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    static const char *codes[] = {"ROMA.13000", "FDI.3002", "MQS.00400002", "SCB.00000000", "400"};
    reply_error_detail(r, 400, codes[shape_of(r)], msg, NULL);
}

void reply_internal(req *r, const char *what)
{
    log_error(r->rid, "http.internal_error", "%s", what);
    static const char *codes[] = {"ROMA.00000500", "FDI.3000", "MQS.00500000", "ROMA.00110500", "500"};
    reply_error(r, 500, codes[shape_of(r)], "Internal server error. Quote request id %s.", r->rid);
}

void reply_unavailable(req *r, const char *what)
{
    log_error(r->rid, "http.unavailable", "%s unavailable", what);
    static const char *codes[] = {"ROMA.00000503", "FDI.3503", "MQS.00503000", "ROMA.00110503", "503"};
    reply_error(r, 503, codes[shape_of(r)], "Service temporarily unavailable (%s). Retry later.", what);
}

const char *json_str(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

int json_has(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return v && !cJSON_IsNull(v);
}
