/* http.h: the request context every API handler receives, and the helpers that read requests and write
 * responses. Every response is built in memory and sent with ONE mg_write (civetweb + Nagle otherwise
 * stalls keep-alive clients 40 ms per request), always carries X-Request-Id and Content-Length.
 *
 * Handler conventions:
 * - A handler must reply exactly once (reply_* functions). Functions named *_or_reply() reply the
 *   documented error themselves when they fail and return a negative code: the handler just returns.
 * - The error body shape follows the route's family (err_shape): E-ROMA for apps/assets, E-FDI for
 *   datasources, E-MQS for MQS, E-LINK for LINK (shared/spec/roma-core-api.md §1.2). */
#ifndef ROMA_API_HTTP_H
#define ROMA_API_HTTP_H

#include <civetweb.h>
#include <cJSON.h>
#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "errors.h"

/* ERR_SHAPE_IAM: {"error":{"code":<status>,"message","title"}}, the body Huawei IAM answers on /v3/auth/tokens. */
typedef enum { ERR_SHAPE_ROMA = 0, ERR_SHAPE_FDI, ERR_SHAPE_MQS, ERR_SHAPE_LINK, ERR_SHAPE_IAM } err_shape;

typedef struct api_config {
    char *listen;          /* ROMA_HTTP_LISTEN, e.g. "127.0.0.1" */
    long port;             /* ROMA_HTTP_PORT */
    long threads;          /* ROMA_HTTP_THREADS */
    long max_body;         /* ROMA_HTTP_MAX_BODY bytes */
    long json_max_depth;   /* ROMA_JSON_MAX_DEPTH: deepest container nesting of a JSON body */
    long request_timeout_ms; /* ROMA_HTTP_REQUEST_TIMEOUT_MS: headers (and each body read) of a request */
    long keepalive_ms;     /* ROMA_HTTP_KEEPALIVE_MS: idle time of a kept-alive connection */
    long listen_backlog;   /* ROMA_HTTP_LISTEN_BACKLOG */
    long conn_queue;       /* ROMA_HTTP_CONNECTION_QUEUE: accepted sockets waiting for a thread */
    long thread_stack_kb;  /* ROMA_HTTP_THREAD_STACK_KB */
    char *database_url;    /* ROMA_DATABASE_URL */
    long db_pool_size;     /* ROMA_DB_POOL_SIZE */
    char *broker;          /* ROMA_BROKER_FRONTEND */
    char *secret_key;      /* ROMA_SECRET_KEY */
    char *secret_key_file; /* ROMA_SECRET_KEY_FILE */
    char *migrations_dir;  /* ROMA_MIGRATIONS_DIR */
    int migrate_on_start;  /* ROMA_MIGRATE_ON_START */
    char *log_level;       /* ROMA_LOG_LEVEL */
    long token_ttl_hours;  /* ROMA_TOKEN_TTL_HOURS */
    long clock_skew_s;     /* ROMA_SIGN_MAX_SKEW_S */
    char *public_url;      /* ROMA_PUBLIC_URL: base URL put in Location/links; "" = from Host */
} api_config;

typedef struct api_ctx {
    api_config cfg;
    db_pool *db;
} api_ctx;

extern api_ctx *g_api; /* the process-wide context, set once by main before the server starts */

struct route;

#define REQ_MAX_PARAMS 8

typedef struct req {
    struct mg_connection *conn;
    const struct mg_request_info *ri;
    const struct route *route;
    char rid[65];
    const char *method;
    const char *path;       /* decoded path without query */
    const char *query;      /* raw query string or NULL */
    char *body;             /* NUL-terminated request body (heap), may be "" */
    size_t body_len;
    const char *param_names[REQ_MAX_PARAMS];
    char *param_values[REQ_MAX_PARAMS]; /* heap copies of path segments */
    int nparams;
    /* set by authentication */
    char project_id[33];
    char user_id[33];
    char user_name[65];
    int auth_by_ak;
    /* lazily borrowed database connection, returned after the handler */
    PGconn *db;
    int64_t t0_ms;
    int status;   /* status sent, 0 before the reply */
    int body_gated; /* the router passed body through json_gate (see router.c) */
    char *extra_headers; /* heap "Name: value\r\n..." added to the next reply */
} req;

typedef void (*route_fn)(req *r);

/* route flags */
#define ROUTE_PUBLIC 0x1   /* no authentication */
#define ROUTE_INSTANCE 0x2 /* {instance_id} must exist under {project_id} */
#define ROUTE_RAW_BODY 0x4 /* body may exceed max_body up to 4x (uploads) */

typedef struct route {
    const char *method;
    const char *pattern; /* "/v2/{project_id}/instances/{instance_id}/apps/{app_id}" */
    route_fn fn;
    unsigned flags;
    err_shape shape;
} route;

/* ---- reading ---- */
const char *req_param(const req *r, const char *name);  /* path parameter by name, or NULL */
const char *req_header(const req *r, const char *name); /* case-insensitive, or NULL */
/* Copies the decoded query parameter into buf. Returns its length, -1 when absent, -2 when too long. */
int req_query(const req *r, const char *name, char *buf, size_t buflen);
/* Parses the body as a JSON object (or array when allow_array). On failure replies 400 and returns NULL.
 * The body has passed json_gate in the router (depth, UTF-8, NUL, duplicate keys); a body that has not
 * (body_gated 0) is gated here. The caller owns (cJSON_Delete) the result. */
cJSON *req_json_or_reply(req *r, int allow_array);
/* Borrows the request's database connection; on failure replies 503 and returns NULL. */
PGconn *req_db_or_reply(req *r);

/* ---- replying ---- */
/* Adds a header to the next reply ("Location", "/v2/..."). */
void reply_add_header(req *r, const char *name, const char *value);
void reply_json(req *r, int status, const cJSON *body);              /* body NULL = empty body */
void reply_json_text(req *r, int status, const char *json_text);
void reply_raw(req *r, int status, const char *content_type, const void *data, size_t len);
void reply_empty(req *r, int status);
/* Makes the next reply end the connection (Connection: close, and civetweb does not keep it alive):
 * after a refused request whose body may still be in flight, or whose framing cannot be trusted. */
void reply_close(req *r);
/* Error body in the route's shape: E-ROMA {error_code,error_msg,error_details,request_id},
 * E-FDI {error_code,error_msg[,detail]}, E-MQS {error_code,error_msg}, E-LINK {error_code,error_msg,request_id}. */
void reply_error(req *r, int status, const char *code, const char *fmt, ...) ROMA_PRINTF(4, 5);
void reply_error_detail(req *r, int status, const char *code, const char *msg, const char *detail);
/* 400 with the family's generic invalid-parameter code (ROMA.13000, FDI.3002, 400, SCB.00000000). */
void reply_bad_param(req *r, const char *fmt, ...) ROMA_PRINTF(2, 3);
/* 500/503 helpers that log the cause and never leak internals into the body. */
void reply_internal(req *r, const char *what);
void reply_unavailable(req *r, const char *what);

/* ---- shared JSON field helpers (return 1 when present with the right type) ---- */
const char *json_str(const cJSON *obj, const char *key);      /* string value or NULL */
int json_has(const cJSON *obj, const char *key);

#endif
