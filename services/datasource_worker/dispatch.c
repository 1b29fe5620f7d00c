/* dispatch.c: the broker request handler of the datasource worker. Decodes a "ds.test", "ds.tables" or
 * "ds.columns" request, opens the sealed secrets it carries, picks the check for the datasource type,
 * runs it under the deadline (runner.c) and answers.
 *
 * Request body (built by services/api/ds_connect.c):
 *   {"datasource_type": "MYSQL", "content": {...}, "sealed": ["password", "api_auth_detail.password"],
 *    "timeout_ms": 10000, "filter": "ord", "table_name": "orders"}
 *   Every path listed in "sealed" holds a crypto_seal() string: secrets never cross the bus in clear.
 * Reply body (status 0):
 *   {"ok": true|false, "code": "ok"|"dns"|"refused"|"timeout"|"tls"|"auth"|"database"|"permission"|
 *    "policy"|"config"|"protocol"|"unsupported"|"not_found"|"overload"|"other",
 *    "detail": "<words>", "latency_ms": 12, "tables": [...] | "columns": [...]}
 * A request that does not decode is answered with status ROMA_EINVAL and {"error": why}. */
#include <curl/curl.h>
#include <mongoc/mongoc.h>
#include <mysql.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "dispatch.h"
#include "ds_job.h"
#include "log.h"
#include "util.h"

/* Time kept between the check deadline and the caller's deadline for the reply to travel back. */
#define REPLY_MARGIN_MS 300
#define MIN_CHECK_MS 100

typedef struct check_entry {
    const char *type;
    void (*test)(ds_job *);
    void (*meta)(ds_job *); /* NULL: no table listing for this type */
} check_entry;

static const check_entry checks[] = {
    {"MYSQL", check_mysql, meta_mysql},   {"TAURUS", check_mysql, meta_mysql}, {"POSTGRESQL", check_pg, meta_pg},
    {"REDIS", check_redis, NULL},         {"API", check_http, NULL},           {"FTP", check_ftp, NULL},
    {"MONGODB", check_mongo, NULL},       {"KAFKA", check_kafka, NULL},        {"RABBITMQ", check_rabbitmq, NULL},
};

static const check_entry *find_check(const char *type)
{
    for (size_t i = 0; i < sizeof checks / sizeof checks[0]; i++)
        if (!strcmp(checks[i].type, type)) return &checks[i];
    return NULL;
}

static void mongoc_quiet(mongoc_log_level_t level, const char *domain, const char *message, void *data)
{
    (void)level, (void)domain, (void)message, (void)data; /* driver chatter stays out of our JSON log */
}

int checks_global_init(char *err, size_t errlen)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(err, errlen, "curl_global_init failed");
        return ROMA_EIO;
    }
    if (mysql_library_init(0, NULL, NULL) != 0) {
        snprintf(err, errlen, "mysql_library_init failed");
        return ROMA_EIO;
    }
    mongoc_init();
    mongoc_log_set_handler(mongoc_quiet, NULL);
    return 0;
}

void checks_global_cleanup(void)
{
    mongoc_cleanup();
    mysql_library_end();
    curl_global_cleanup();
}

/* Replaces the sealed value at path ("password" or "api_auth_detail.password") by its plaintext and
 * keeps a copy for scrubbing. 0, or -1 with why. */
static int open_secret(ds_job *job, const char *path, const char **why)
{
    cJSON *obj = job->content;
    const char *key = path;
    const char *dot = strchr(path, '.');
    char parent[64];
    if (dot) {
        if ((size_t)(dot - path) >= sizeof parent) {
            *why = "sealed path too long";
            return -1;
        }
        snprintf(parent, sizeof parent, "%.*s", (int)(dot - path), path);
        obj = cJSON_GetObjectItemCaseSensitive(job->content, parent);
        key = dot + 1;
    }
    cJSON *v = obj ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
    if (!cJSON_IsString(v)) {
        *why = "sealed path does not name a string";
        return -1;
    }
    if (job->nsecrets == DS_MAX_SECRETS) {
        *why = "too many sealed values";
        return -1;
    }
    char *plain = crypto_open(v->valuestring);
    if (!plain) {
        *why = "key";
        return -1;
    }
    char *copy = strdup(plain);
    /* swap the sealed text for the plaintext inside the content the check reads */
    char *old = v->valuestring;
    v->valuestring = plain;
    free(old);
    if (!copy) {
        *why = "out of memory";
        return -1;
    }
    job->secrets[job->nsecrets++] = copy;
    return 0;
}

static void reply_invalid(roma_msg *reply, const char *why)
{
    if (proto_reply_error(reply, ROMA_EINVAL, why) != 0) reply->status = ROMA_EINVAL;
}

/* Builds the job from the request; NULL with *why on a malformed request. */
static ds_job *job_from_request(const roma_msg *req, const char **why, int *key_error)
{
    *key_error = 0;
    const cJSON *b = req->body;
    const char *type = cJSON_IsObject(b) ? cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(b, "datasource_type")) : NULL;
    const cJSON *content = cJSON_IsObject(b) ? cJSON_GetObjectItemCaseSensitive(b, "content") : NULL;
    if (!type || !*type || strlen(type) >= sizeof(((ds_job *)0)->type) || !cJSON_IsObject(content)) {
        *why = "body needs datasource_type and a content object";
        return NULL;
    }
    ds_job *job = ds_job_new();
    if (!job) {
        *why = "out of memory";
        return NULL;
    }
    snprintf(job->type, sizeof job->type, "%s", type);
    snprintf(job->rid, sizeof job->rid, "%s", req->rid);
    job->op = !strcmp(req->type, DS_MSG_TABLES) ? DS_OP_TABLES : !strcmp(req->type, DS_MSG_COLUMNS) ? DS_OP_COLUMNS : DS_OP_TEST;
    job->content = cJSON_Duplicate(content, 1);
    if (!job->content) {
        *why = "out of memory";
        goto bad;
    }
    const cJSON *sealed = cJSON_GetObjectItemCaseSensitive(b, "sealed"), *s;
    if (sealed && !cJSON_IsArray(sealed)) {
        *why = "sealed must be an array";
        goto bad;
    }
    cJSON_ArrayForEach(s, sealed)
    {
        if (!cJSON_IsString(s)) {
            *why = "sealed entries must be strings";
            goto bad;
        }
        if (open_secret(job, s->valuestring, why) != 0) {
            *key_error = !strcmp(*why, "key");
            goto bad;
        }
    }
    const char *filter = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(b, "filter"));
    const char *table = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(b, "table_name"));
    if (filter && *filter && !(job->filter = strdup(filter))) {
        *why = "out of memory";
        goto bad;
    }
    if (job->op == DS_OP_COLUMNS) {
        if (!table || !*table) {
            *why = "columns needs table_name";
            goto bad;
        }
        if (!(job->table = strdup(table))) {
            *why = "out of memory";
            goto bad;
        }
    }

    /* deadline: the caller's wish, capped by our configuration and by the message deadline */
    long timeout = g_ds.check_timeout_ms;
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(b, "timeout_ms");
    if (cJSON_IsNumber(t) && t->valuedouble >= 1 && t->valuedouble < timeout) timeout = (long)t->valuedouble;
    if (req->deadline_ms > 0) {
        int64_t until = req->deadline_ms - util_now_ms() - REPLY_MARGIN_MS;
        if (until < timeout) timeout = until > MIN_CHECK_MS ? (long)until : MIN_CHECK_MS;
    }
    job->started_ms = util_mono_ms();
    job->timeout_ms = timeout;
    job->deadline_ms = job->started_ms + timeout;
    return job;
bad:
    ds_job_release(job);
    return NULL;
}

void dispatch_handle(void *arg, const roma_msg *req, roma_msg *reply)
{
    (void)arg;
    if (strcmp(req->type, DS_MSG_TEST) != 0 && strcmp(req->type, DS_MSG_TABLES) != 0 &&
        strcmp(req->type, DS_MSG_COLUMNS) != 0) {
        log_warn(req->rid, "ds.unknown_type", "unknown request type %s", req->type);
        reply_invalid(reply, "unknown request type");
        return;
    }
    const char *why = NULL;
    int key_error = 0;
    ds_outcome out;
    memset(&out, 0, sizeof out);
    int64_t t0 = util_mono_ms();
    ds_job *job = job_from_request(req, &why, &key_error);
    if (!job && !key_error) {
        log_warn(req->rid, "ds.bad_request", "%s", why);
        reply_invalid(reply, why);
        return;
    }
    const char *type = "?";
    ds_op op = DS_OP_TEST;
    if (!job) {
        /* the API sealed with a key we do not have: an operator error, said plainly */
        out.code = DS_E_CONFIG;
        snprintf(out.detail, sizeof out.detail,
                 "invalid configuration: the datasource worker cannot decrypt the secrets it was sent "
                 "(ROMA_SECRET_KEY differs between roma-api and roma-datasource-worker)");
    } else {
        type = job->type;
        op = job->op;
        const check_entry *ce = find_check(job->type);
        void (*fn)(ds_job *) = ce ? ce->test : check_tcp;
        if (op != DS_OP_TEST) fn = ce ? ce->meta : NULL;
        if (fn) {
            ds_run_bounded(job, fn, &out);
        } else {
            out.code = DS_E_UNSUPPORTED;
            snprintf(out.detail, sizeof out.detail, "not supported: listing %s is available for MYSQL, TAURUS and "
                     "POSTGRESQL datasources only", op == DS_OP_TABLES ? "tables" : "columns");
        }
    }
    long latency = (long)(util_mono_ms() - t0);

    cJSON *body = cJSON_CreateObject();
    int ok = body && cJSON_AddBoolToObject(body, "ok", out.code == DS_OK) &&
             cJSON_AddStringToObject(body, "code", ds_code_name(out.code)) &&
             cJSON_AddStringToObject(body, "detail", out.detail) && cJSON_AddNumberToObject(body, "latency_ms", (double)latency);
    if (ok && out.code == DS_OK && out.data) {
        cJSON_AddItemToObject(body, op == DS_OP_COLUMNS ? "columns" : "tables", out.data);
        out.data = NULL;
    }
    cJSON_Delete(out.data);
    if (!ok) {
        cJSON_Delete(body);
        if (proto_reply_error(reply, ROMA_ENOMEM, "out of memory") != 0) reply->status = ROMA_ENOMEM;
    } else {
        reply->body = body;
    }
    log_info(req->rid, "ds.check", "%s %s %s %ldms%s%s", type, op == DS_OP_TEST ? "test" : op == DS_OP_TABLES ? "tables" : "columns",
             ds_code_name(out.code), latency, out.detail[0] ? ": " : "", out.detail);
    /* an abandoned check thread may still hold the job: the last reference frees (and wipes) it */
    ds_job_release(job);
}
