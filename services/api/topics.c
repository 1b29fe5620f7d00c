/* topics.c: the MQS control plane (spec §5.1-5.5): MQS instances, topics, access policies, message
 * query and resend. Errors are E-MQS ({error_code, error_msg, request_id}).
 *
 * Reads (instance and topic lists, policies, export) are served from PostgreSQL here; every CHANGE is a
 * command to the topic manager (roma-topic-worker) over the bus, answered within
 * ROMA_TOPIC_CALL_TIMEOUT_MS or 503. Status codes: create 200 {name}; update, import, accesspolicy and
 * batch-add 204 (no body; the spec leaves update/import at "2xx, no body"); delete and batch delete 200
 * with a per-topic {id, success}; a path-addressed topic that does not exist is 404, a topic or app
 * named in a body or query that does not exist is 400.
 *
 * Export format (GET .../topics/export, Content-Disposition attachment "topics-<instance>.json"):
 *   {"format_version": 1, "engine": "openroma-pg", "instance_id": "...", "exported_at": epoch-ms,
 *    "topics": [{"name", "app_name", "partition", "replication", "access_policy", "sync_message_flush",
 *                "sync_replication", "retention_time", "tag", "description", "sensitive_word",
 *                "policies": [{"app_name", "access_policy", "tag"}]}]}
 * Apps are referenced by NAME (ids differ between instances); import prepends `prefix` to every app name
 * and resolves it in the target instance. Import (multipart field upload_file_name; mode and prefix as
 * query or form fields) is all or nothing: mode AddNew (default) fails on the first existing topic,
 * Merge updates existing topics' settings and owner policy and adds the file's other policies. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "json_gate.h"
#include "log.h"
#include "mqs_common.h"
#include "mqs_config.h"
#include "multipart.h"
#include "routes.h"
#include "topic_cmd.h"
#include "topic_validate.h"
#include "util.h"

#define IMPORT_FIELD "upload_file_name"
#define MQS_ENGINE_NAME "openroma-pg"
#define MQS_ENGINE_VERSION "1.0"

/* ---- helpers ---- */

static void reply_verr(req *r, const tv_err *e, int rc)
{
    if (rc == ROMA_ENOMEM)
        reply_internal(r, "out of memory while validating");
    else
        reply_error(r, 400, MQS_E_BAD_PARAM, "%s", e->msg);
}

/* A query parameter into buf: 1 present, 0 absent; -1 after replying 400 (too long / bad encoding). */
static int query_param(req *r, const char *name, char *buf, size_t len)
{
    int n = req_query(r, name, buf, len);
    if (n == -1) {
        buf[0] = '\0';
        return 0;
    }
    if (n < 0) {
        reply_error(r, 400, MQS_E_BAD_PARAM, "The parameter %s is too long or badly encoded.", name);
        return -1;
    }
    return 1;
}

/* An integer query parameter in [lo, hi]; absent -> def. 0, or -1 after replying 400. */
static int query_int(req *r, const char *name, long lo, long hi, long def, long *out)
{
    char buf[32];
    int has = query_param(r, name, buf, sizeof buf);
    if (has < 0) return -1;
    if (!has || !*buf) {
        *out = def;
        return 0;
    }
    if (tv_parse_int(buf, lo, hi, out) != 0) {
        reply_error(r, 400, MQS_E_BAD_PARAM, "The parameter %s must be an integer from %ld to %ld.", name, lo, hi);
        return -1;
    }
    return 0;
}

/* The common part of a topic command: instance, project, the partition budget and, on routes under
 * /topics/{topic_name}, the topic's name. NULL on OOM. */
static cJSON *cmd_base(req *r)
{
    const char *topic = req_param(r, "topic_name");
    cJSON *c = cJSON_CreateObject();
    if (c && (!cJSON_AddStringToObject(c, "instance_id", req_param(r, "instance_id")) ||
              !cJSON_AddStringToObject(c, "project_id", r->project_id) ||
              !cJSON_AddNumberToObject(c, "max_partitions", (double)mqs_cfg()->max_partitions) ||
              (topic && !cJSON_AddStringToObject(c, "name", topic)))) {
        cJSON_Delete(c);
        return NULL;
    }
    return c;
}

/* Sends cmd (consumed; NULL = out of memory) with payload (consumed) under key to the topic manager and
 * replies: its answer with 200 when empty_status is 0, else empty_status with no body. */
static void submit(req *r, cJSON *cmd, const char *key, cJSON *payload, const char *type, int empty_status)
{
    if (!cmd || !cJSON_AddItemToObject(cmd, key, payload)) {
        cJSON_Delete(cmd);
        cJSON_Delete(payload);
        reply_internal(r, "oom");
        return;
    }
    roma_msg reply;
    proto_msg_init(&reply);
    int rc = mqs_call_or_reply(r, TOPIC_KIND, type, cmd, (int)mqs_cfg()->call_timeout_ms, &reply);
    cJSON_Delete(cmd);
    /* even a failed or timed-out change may have committed: forget cached topics either way */
    mqs_topics_changed();
    if (rc) return;
    if (empty_status) reply_empty(r, empty_status);
    else reply_json(r, 200, reply.body);
    proto_msg_clear(&reply);
}

typedef int (*body_parser)(const char *body, size_t len, cJSON **out, tv_err *err);

/* Validates the body with parse (400 on failure) and submits its normalised form under key. */
static void validate_and_submit(req *r, body_parser parse, const char *key, const char *type, int empty_status)
{
    tv_err e;
    cJSON *payload;
    int rc = parse(r->body, r->body_len, &payload, &e);
    if (rc) {
        reply_verr(r, &e, rc);
        return;
    }
    submit(r, cmd_base(r), key, payload, type, empty_status);
}

/* ---- MQS instances ---- */

/* "host:port" clients reach the data plane at: ROMA_MQS_REST_ADDRESS, else ROMA_PUBLIC_URL's authority,
 * else the Host header of this request. */
static void rest_address(req *r, char *out, size_t n)
{
    const char *cfg = mqs_cfg()->rest_address;
    const char *pub = g_api->cfg.public_url;
    if (cfg && *cfg) {
        snprintf(out, n, "%s", cfg);
    } else if (pub && *pub) {
        const char *s = strstr(pub, "://");
        s = s ? s + 3 : pub;
        size_t l = strcspn(s, "/");
        snprintf(out, n, "%.*s", (int)l, s);
    } else {
        const char *host = req_header(r, "Host");
        if (host && strlen(host) < n && !strpbrk(host, " \t\"\\"))
            snprintf(out, n, "%s", host);
        else
            snprintf(out, n, "127.0.0.1:%ld", g_api->cfg.port);
    }
}

/* The Instance object of ListMqsInstance / ShowMqsInstance, describing the embedded engine as it is:
 * one node, REST only (no Kafka listener), time-based retention, message query enabled. */
static cJSON *instance_json(req *r, const char *id, const char *name, const char *created_ms, long used)
{
    char rest[300], host[300], parts[24];
    rest_address(r, rest, sizeof rest);
    snprintf(host, sizeof host, "%.*s", (int)strcspn(rest, ":"), rest);
    snprintf(parts, sizeof parts, "%ld", mqs_cfg()->max_partitions);
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    int ok = cJSON_AddStringToObject(o, "name", name) &&
             cJSON_AddStringToObject(o, "description", "OpenROMA embedded MQS: messages stored in PostgreSQL, REST data plane") &&
             cJSON_AddStringToObject(o, "engine", MQS_ENGINE_NAME) &&
             cJSON_AddStringToObject(o, "engine_version", MQS_ENGINE_VERSION) &&
             cJSON_AddStringToObject(o, "specification", "embedded") &&
             cJSON_AddStringToObject(o, "partition_num", parts) &&
             cJSON_AddNumberToObject(o, "used_partition_num", (double)used) &&
             cJSON_AddStringToObject(o, "connect_address", host) &&
             cJSON_AddStringToObject(o, "status", "RUNNING") && cJSON_AddStringToObject(o, "instance_id", id) &&
             cJSON_AddStringToObject(o, "created_at", created_ms) &&
             cJSON_AddStringToObject(o, "user_id", r->user_id) && cJSON_AddStringToObject(o, "user_name", r->user_name) &&
             cJSON_AddStringToObject(o, "type", "single") && cJSON_AddStringToObject(o, "retention_policy", "time_base") &&
             cJSON_AddBoolToObject(o, "enable_publicip", 0) && cJSON_AddBoolToObject(o, "ssl_enable", 0) &&
             cJSON_AddBoolToObject(o, "enable_auto_topic", 0) && cJSON_AddBoolToObject(o, "rest_enable", 1) &&
             cJSON_AddStringToObject(o, "rest_connect_address", rest) &&
             cJSON_AddBoolToObject(o, "message_query_inst_enable", 1) && cJSON_AddBoolToObject(o, "ipv6_enable", 0) &&
             cJSON_AddBoolToObject(o, "trace_enable", 0) && cJSON_AddBoolToObject(o, "disk_encrypted", 0) &&
             cJSON_AddNumberToObject(o, "node_num", 1);
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

#define INSTANCE_SQL                                                                                              \
    "SELECT i.id, i.name, (extract(epoch FROM i.created_at) * 1000)::bigint,"                                      \
    " (SELECT COALESCE(sum(t.partitions), 0) FROM mqs_topics t WHERE t.instance_id = i.id)"                        \
    " FROM instances i WHERE i.project_id = $1"

static void list_instances(req *r)
{
    char inc[16];
    int has = query_param(r, "include_internal", inc, sizeof inc);
    if (has < 0) return;
    if (!has || strcmp(inc, "true") != 0) {
        reply_error(r, 400, MQS_E_BAD_PARAM, "The parameter include_internal is required and must be true.");
        return;
    }
    PGconn *db = req_db_or_reply(r);
    if (!db) return;
    const char *p[] = {r->project_id};
    PGresult *res = db_exec(db, INSTANCE_SQL " ORDER BY i.created_at, i.id", 1, p);
    if (!db_ok(res, PGRES_TUPLES_OK, r->rid)) {
        PQclear(res);
        reply_unavailable(r, "database");
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON *arr = o ? cJSON_AddArrayToObject(o, "instances") : NULL;
    int ok = arr != NULL;
    for (int i = 0; ok && i < PQntuples(res); i++) {
        cJSON *in = instance_json(r, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1), PQgetvalue(res, i, 2),
                                  atol(PQgetvalue(res, i, 3)));
        ok = in && cJSON_AddItemToArray(arr, in);
        if (!ok) cJSON_Delete(in);
    }
    ok = ok && cJSON_AddNumberToObject(o, "instance_num", PQntuples(res));
    PQclear(res);
    if (ok) reply_json(r, 200, o);
    else reply_internal(r, "oom");
    cJSON_Delete(o);
}

static void show_instance(req *r)
{
    PGconn *db = req_db_or_reply(r);
    if (!db) return;
    const char *p[] = {r->project_id, req_param(r, "instance_id")};
    PGresult *res = db_exec(db, INSTANCE_SQL " AND i.id = $2", 2, p);
    if (!db_ok(res, PGRES_TUPLES_OK, r->rid)) {
        PQclear(res);
        reply_unavailable(r, "database");
        return;
    }
    cJSON *o = PQntuples(res) == 1 ? instance_json(r, PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1),
                                                   PQgetvalue(res, 0, 2), atol(PQgetvalue(res, 0, 3)))
                                   : NULL;
    int found = PQntuples(res) == 1;
    PQclear(res);
    if (!found) reply_error(r, 404, "ROMA.00110002", "The instance does not exist.");
    else if (!o) reply_internal(r, "oom");
    else reply_json(r, 200, o);
    cJSON_Delete(o);
}

/* ---- topics ---- */

static void create_topic(req *r) { validate_and_submit(r, tv_topic_create, "topic", TOPIC_CMD_CREATE, 0); }

static const char *const topic_permissions[] = {"read", "access", "delete", "modify"};

static cJSON *permissions_json(void) { return cJSON_CreateStringArray(topic_permissions, 4); }

static cJSON *topic_row_json(PGresult *res, int i)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON *perm = permissions_json();
    int ok = cJSON_AddBoolToObject(o, "policiesOnly", 0) && cJSON_AddStringToObject(o, "name", PQgetvalue(res, i, 0)) &&
             cJSON_AddNumberToObject(o, "replication", atoi(PQgetvalue(res, i, 1))) &&
             cJSON_AddNumberToObject(o, "partition", atoi(PQgetvalue(res, i, 2))) &&
             cJSON_AddNumberToObject(o, "retention_time", atoi(PQgetvalue(res, i, 3))) &&
             cJSON_AddBoolToObject(o, "sync_message_flush", PQgetvalue(res, i, 4)[0] == 't') &&
             cJSON_AddBoolToObject(o, "sync_replication", PQgetvalue(res, i, 5)[0] == 't') &&
             cJSON_AddStringToObject(o, "app_id", PQgetvalue(res, i, 6)) &&
             cJSON_AddStringToObject(o, "app_name", PQgetvalue(res, i, 7)) && perm &&
             cJSON_AddItemToObject(o, "permissions", perm) && cJSON_AddObjectToObject(o, "external_configs") &&
             cJSON_AddStringToObject(o, "description", PQgetvalue(res, i, 8)) &&
             cJSON_AddStringToObject(o, "sensitive_word", PQgetvalue(res, i, 9)) &&
             cJSON_AddNumberToObject(o, "topic_type", 0) &&
             cJSON_AddStringToObject(o, "access_policy", PQgetvalue(res, i, 10));
    if (!ok) {
        if (perm && !cJSON_GetObjectItemCaseSensitive(o, "permissions")) cJSON_Delete(perm);
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

#define TOPIC_FILTER                                                                                              \
    " FROM mqs_topics t JOIN apps a ON a.id = t.app_id WHERE t.instance_id = $1"                                   \
    " AND ($2 = '' OR strpos(lower(t.name), lower($2)) > 0) AND ($3 = '' OR strpos(lower(a.name), lower($3)) > 0)" \
    " AND ($4 = '' OR t.access_policy = $4)"

static void list_topics(req *r)
{
    char name[256], app[256], policy[8], lim[24], off[24];
    long limit, offset;
    if (query_param(r, "name", name, sizeof name) < 0 || query_param(r, "app_name", app, sizeof app) < 0 ||
        query_param(r, "access_policy", policy, sizeof policy) < 0 ||
        query_int(r, "limit", 0, 1000000, -1, &limit) < 0 || query_int(r, "offset", 0, 100000000, 0, &offset) < 0)
        return;
    if (*policy && !tv_policy_ok(policy)) {
        reply_error(r, 400, MQS_E_BAD_PARAM, "The parameter access_policy must be all, pub or sub.");
        return;
    }
    PGconn *db = req_db_or_reply(r);
    if (!db) return;
    snprintf(lim, sizeof lim, "%ld", limit);
    snprintf(off, sizeof off, "%ld", offset);
    const char *p[] = {req_param(r, "instance_id"), name, app, policy, limit >= 0 ? lim : NULL, off};
    PGresult *cnt = db_exec(db,
                            "SELECT (SELECT count(*)" TOPIC_FILTER "),"
                            " (SELECT COALESCE(sum(partitions), 0) FROM mqs_topics WHERE instance_id = $1)",
                            4, p);
    PGresult *res = db_exec(db,
                            "SELECT t.name, t.replication, t.partitions, t.retention_time, t.sync_message_flush,"
                            " t.sync_replication, t.app_id, a.name, t.description, t.sensitive_word, t.access_policy"
                            TOPIC_FILTER " ORDER BY t.created_at DESC, t.id DESC LIMIT $5::int OFFSET $6::int",
                            6, p);
    if (!db_ok(cnt, PGRES_TUPLES_OK, r->rid) || !db_ok(res, PGRES_TUPLES_OK, r->rid)) {
        PQclear(cnt);
        PQclear(res);
        reply_unavailable(r, "database");
        return;
    }
    long total = atol(PQgetvalue(cnt, 0, 0)), used = atol(PQgetvalue(cnt, 0, 1));
    long maxp = mqs_cfg()->max_partitions;
    PQclear(cnt);
    cJSON *o = cJSON_CreateObject();
    cJSON *perm = permissions_json();
    int ok = o && perm && cJSON_AddNumberToObject(o, "total", (double)total) &&
             cJSON_AddNumberToObject(o, "size", PQntuples(res)) && cJSON_AddItemToObject(o, "permissions", perm);
    if (!ok && perm && (!o || !cJSON_GetObjectItemCaseSensitive(o, "permissions"))) cJSON_Delete(perm);
    cJSON *arr = ok ? cJSON_AddArrayToObject(o, "topics") : NULL;
    ok = arr != NULL;
    for (int i = 0; ok && i < PQntuples(res); i++) {
        cJSON *t = topic_row_json(res, i);
        ok = t && cJSON_AddItemToArray(arr, t);
        if (!ok) cJSON_Delete(t);
    }
    PQclear(res);
    ok = ok && cJSON_AddNumberToObject(o, "remain_partitions", (double)(maxp > used ? maxp - used : 0)) &&
         cJSON_AddNumberToObject(o, "max_partitions", (double)maxp);
    if (ok) reply_json(r, 200, o);
    else reply_internal(r, "oom");
    cJSON_Delete(o);
}

static void update_topics(req *r) { validate_and_submit(r, tv_topic_update, "topics", TOPIC_CMD_UPDATE, 204); }

static void delete_topics(req *r)
{
    char csv[4 * TV_NAME_MAX * 4 + 128];
    int has = query_param(r, "name", csv, sizeof csv);
    if (has < 0) return;
    tv_err e;
    cJSON *names;
    int rc = tv_name_list(has ? csv : NULL, &names, &e);
    if (rc) {
        reply_verr(r, &e, rc);
        return;
    }
    submit(r, cmd_base(r), "names", names, TOPIC_CMD_DELETE, 0);
}

static void batch_delete_topics(req *r) { validate_and_submit(r, tv_batch_delete, "names", TOPIC_CMD_DELETE, 0); }

/* ---- export / import ---- */

/* "{a,b}" array literal of the names that can be topic names (others cannot exist: dropped). */
static char *names_literal(const cJSON *names)
{
    size_t cap = 3;
    const cJSON *n;
    cJSON_ArrayForEach(n, names) cap += strlen(n->valuestring) + 1;
    char *s = malloc(cap);
    if (!s) return NULL;
    size_t len = 0;
    s[len++] = '{';
    cJSON_ArrayForEach(n, names)
    {
        if (!tv_topic_name_ok(n->valuestring)) continue;
        if (len > 1) s[len++] = ',';
        size_t l = strlen(n->valuestring);
        memcpy(s + len, n->valuestring, l);
        len += l;
    }
    s[len++] = '}';
    s[len] = '\0';
    return s;
}

static void export_topics(req *r)
{
    char csv[4 * TV_NAME_MAX * 4 + 128];
    int has = query_param(r, "name", csv, sizeof csv);
    if (has < 0) return;
    char *lit = NULL;
    if (has && *csv) {
        tv_err e;
        cJSON *names;
        int rc = tv_name_list(csv, &names, &e);
        if (rc) {
            reply_verr(r, &e, rc);
            return;
        }
        lit = names_literal(names);
        cJSON_Delete(names);
        if (!lit) {
            reply_internal(r, "oom");
            return;
        }
    }
    PGconn *db = req_db_or_reply(r);
    if (!db) {
        free(lit);
        return;
    }
    const char *iid = req_param(r, "instance_id");
    const char *p[] = {iid, lit};
    PGresult *res = db_exec(
        db,
        "SELECT json_build_object('format_version', 1, 'engine', '" MQS_ENGINE_NAME "', 'instance_id', $1::text,"
        " 'exported_at', (extract(epoch FROM now()) * 1000)::bigint,"
        " 'topics', COALESCE(json_agg(x ORDER BY x.name), '[]'::json))::text FROM ("
        " SELECT t.name, a.name AS app_name, t.partitions AS partition, t.replication, t.access_policy,"
        " t.sync_message_flush, t.sync_replication, t.retention_time, t.tag, t.description, t.sensitive_word,"
        " COALESCE((SELECT json_agg(json_build_object('app_name', pa.name, 'access_policy', p.access_policy,"
        " 'tag', p.tag) ORDER BY pa.name) FROM mqs_topic_policies p JOIN apps pa ON pa.id = p.app_id"
        " WHERE p.topic_id = t.id), '[]'::json) AS policies"
        " FROM mqs_topics t JOIN apps a ON a.id = t.app_id"
        " WHERE t.instance_id = $1 AND ($2::text[] IS NULL OR t.name = ANY ($2::text[]))) x",
        2, p);
    free(lit);
    if (!db_ok(res, PGRES_TUPLES_OK, r->rid) || PQntuples(res) != 1) {
        PQclear(res);
        reply_unavailable(r, "database");
        return;
    }
    char cd[160];
    snprintf(cd, sizeof cd, "attachment; filename=\"topics-%.64s.json\"", iid);
    reply_add_header(r, "Content-Disposition", cd);
    reply_raw(r, 200, "application/json;charset=UTF-8", PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
    PQclear(res);
}

/* mode / prefix: a form field wins over the query parameter of the same name. 1 found, 0 absent, -1 replied. */
static int import_option(req *r, const char *name, char *buf, size_t len)
{
    const char *d;
    size_t dl;
    if (multipart_field(req_header(r, "Content-Type"), r->body, r->body_len, name, &d, &dl) == 0) {
        if (dl >= len || memchr(d, '\0', dl)) {
            reply_error(r, 400, MQS_E_BAD_PARAM, "The parameter %s is too long.", name);
            return -1;
        }
        memcpy(buf, d, dl);
        buf[dl] = '\0';
        return 1;
    }
    return query_param(r, name, buf, len);
}

static void import_topics(req *r)
{
    const char *data;
    size_t dlen;
    int rc = multipart_field(req_header(r, "Content-Type"), r->body, r->body_len, IMPORT_FIELD, &data, &dlen);
    if (rc) {
        reply_error(r, 400, MQS_E_BAD_PARAM,
                    "The request must be multipart/form-data with the topic file in the field " IMPORT_FIELD ".");
        return;
    }
    char mode[16], prefix[128];
    int hm = import_option(r, "mode", mode, sizeof mode);
    if (hm < 0 || import_option(r, "prefix", prefix, sizeof prefix) < 0) return;
    if (!hm || !*mode) snprintf(mode, sizeof mode, "AddNew");
    if (strcmp(mode, "AddNew") != 0 && strcmp(mode, "Merge") != 0) {
        reply_error(r, 400, MQS_E_BAD_PARAM, "The parameter mode must be AddNew or Merge.");
        return;
    }
    if (util_utf8_len(prefix) < 0 || util_utf8_len(prefix) > 64) {
        reply_error(r, 400, MQS_E_BAD_PARAM, "The parameter prefix must be at most 64 characters of UTF-8.");
        return;
    }
    tv_err e;
    cJSON *topics;
    rc = tv_import_doc(data, dlen, &topics, &e);
    if (rc == ROMA_ENOMEM) {
        reply_internal(r, "oom");
        return;
    }
    if (rc) {
        reply_error(r, 400, MQS_E_IMPORT, "The file is not a valid topic export: %s", e.msg);
        return;
    }
    cJSON *cmd = cmd_base(r);
    if (cmd && (!cJSON_AddStringToObject(cmd, "mode", mode) || !cJSON_AddStringToObject(cmd, "prefix", prefix))) {
        cJSON_Delete(cmd);
        cmd = NULL;
    }
    submit(r, cmd, "topics", topics, TOPIC_CMD_IMPORT, 204);
}

/* ---- access policies ---- */

static void update_access_policy(req *r)
{
    validate_and_submit(r, tv_acl_update, "topics", TOPIC_CMD_ACL_SET, 204);
}

static void batch_add_access_policy(req *r)
{
    validate_and_submit(r, tv_acl_batch_add, "policies", TOPIC_CMD_ACL_ADD, 204);
}

static void show_access_policy(req *r)
{
    long limit, offset;
    if (query_int(r, "limit", 0, 1000000, -1, &limit) < 0 || query_int(r, "offset", 0, 100000000, 0, &offset) < 0)
        return;
    PGconn *db = req_db_or_reply(r);
    if (!db) return;
    mqs_topic t;
    int rc = mqs_topic_find(db, req_param(r, "instance_id"), req_param(r, "topic_name"), NULL, &t, NULL, r->rid);
    if (rc == ROMA_ENOTFOUND) {
        reply_error(r, 404, MQS_E_TOPIC_NOT_FOUND, "The topic %.200s does not exist in the instance.",
                    req_param(r, "topic_name"));
        return;
    }
    if (rc) {
        reply_unavailable(r, "database");
        return;
    }
    char id[24], lim[24], off[24];
    snprintf(id, sizeof id, "%" PRId64, t.id);
    snprintf(lim, sizeof lim, "%ld", limit);
    snprintf(off, sizeof off, "%ld", offset);
    const char *p[] = {id, limit >= 0 ? lim : NULL, off};
    PGresult *res = db_exec(db,
                            "SELECT owner, key, access_policy, name, tag, count(*) OVER () FROM ("
                            " SELECT true AS owner, a.key, t.access_policy, a.name, t.tag, 0 AS ord"
                            " FROM mqs_topics t JOIN apps a ON a.id = t.app_id WHERE t.id = $1::bigint"
                            " UNION ALL SELECT false, a.key, p.access_policy, a.name, p.tag, 1"
                            " FROM mqs_topic_policies p JOIN apps a ON a.id = p.app_id WHERE p.topic_id = $1::bigint"
                            ") x ORDER BY ord, name LIMIT $2::int OFFSET $3::int",
                            3, p);
    PGresult *cnt = db_exec(db, "SELECT 1 + (SELECT count(*) FROM mqs_topic_policies WHERE topic_id = $1::bigint)", 1, p);
    if (!db_ok(res, PGRES_TUPLES_OK, r->rid) || !db_ok(cnt, PGRES_TUPLES_OK, r->rid)) {
        PQclear(res);
        PQclear(cnt);
        reply_unavailable(r, "database");
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON *arr = o && cJSON_AddStringToObject(o, "name", t.name) ? cJSON_AddArrayToObject(o, "policies") : NULL;
    int ok = arr != NULL;
    for (int i = 0; ok && i < PQntuples(res); i++) {
        cJSON *it = cJSON_CreateObject();
        ok = it && cJSON_AddItemToArray(arr, it);
        if (!ok) {
            cJSON_Delete(it);
            break;
        }
        ok = cJSON_AddBoolToObject(it, "owner", PQgetvalue(res, i, 0)[0] == 't') &&
             cJSON_AddStringToObject(it, "user_name", PQgetvalue(res, i, 1)) &&
             cJSON_AddStringToObject(it, "access_policy", PQgetvalue(res, i, 2)) &&
             cJSON_AddStringToObject(it, "app_name", PQgetvalue(res, i, 3)) &&
             cJSON_AddStringToObject(it, "tag", PQgetvalue(res, i, 4));
    }
    ok = ok && cJSON_AddNumberToObject(o, "total", atof(PQgetvalue(cnt, 0, 0))) &&
         cJSON_AddNumberToObject(o, "size", PQntuples(res)) && cJSON_AddStringToObject(o, "operation", t.name);
    PQclear(res);
    PQclear(cnt);
    if (ok) reply_json(r, 200, o);
    else reply_internal(r, "oom");
    cJSON_Delete(o);
}

/* ---- messages ---- */

/* The topic named by a query/body parameter: 0, or -1 after replying (400 when it does not exist). */
static int find_param_topic(req *r, PGconn *db, const char *name, mqs_topic *t)
{
    int rc = tv_topic_name_ok(name) ? mqs_topic_find(db, req_param(r, "instance_id"), name, NULL, t, NULL, r->rid)
                                    : ROMA_ENOTFOUND;
    if (rc == ROMA_ENOTFOUND) {
        reply_error(r, 400, MQS_E_TOPIC_NOT_FOUND, "The topic %.200s does not exist in the instance.", name);
        return -1;
    }
    if (rc) {
        reply_unavailable(r, "database");
        return -1;
    }
    return 0;
}

/* A message's "value": its content as text (a JSON string content is shown as the string itself). */
static cJSON *msg_json(const mqs_topic *t, const cJSON *m)
{
    const char *content = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "content"));
    cJSON *parsed = content ? json_gate_parse_str(content, NULL) : NULL;
    const char *value = cJSON_IsString(parsed) ? parsed->valuestring : (content ? content : "");
    cJSON *o = cJSON_CreateObject();
    static const char *const copy[][2] = {{"key", "key"}, {"message_id", "id"}, {"app_id", "app_id"}, {"tag", "tag"}};
    int ok = o && cJSON_AddStringToObject(o, "topic", t->name) &&
             cJSON_AddNumberToObject(o, "partition", cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(m, "p"))) &&
             cJSON_AddStringToObject(o, "value", value) && cJSON_AddNumberToObject(o, "size", (double)strlen(value)) &&
             cJSON_AddNumberToObject(o, "timestamp", cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(m, "ts"))) &&
             cJSON_AddBoolToObject(o, "huge_message", 0) &&
             cJSON_AddNumberToObject(o, "message_offset", cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(m, "o")));
    for (size_t i = 0; ok && i < sizeof copy / sizeof copy[0]; i++) {
        const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, copy[i][1]));
        ok = cJSON_AddStringToObject(o, copy[i][0], v ? v : "") != NULL;
    }
    cJSON_Delete(parsed);
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/* Adds an optional integer query parameter to cmd under key. 0, or -1 after replying 400. */
static int add_int_param(req *r, cJSON *cmd, const char *param, const char *key, long lo, long hi, int *present)
{
    long v;
    if (query_int(r, param, lo, hi, -1, &v) < 0) return -1;
    *present = v >= 0;
    if (v >= 0 && !cJSON_AddNumberToObject(cmd, key, (double)v)) {
        reply_internal(r, "oom");
        return -1;
    }
    return 0;
}

/* Adds an optional string query parameter (<= 255 chars). 0, or -1 after replying. */
static int add_str_param(req *r, cJSON *cmd, const char *param, const char *key, int *present)
{
    char buf[256];
    int has = query_param(r, param, buf, sizeof buf);
    if (has < 0) return -1;
    *present = has && *buf;
    if (*present && !cJSON_AddStringToObject(cmd, key, buf)) {
        reply_internal(r, "oom");
        return -1;
    }
    return 0;
}

static void show_messages(req *r)
{
    char topic[256], asc[8];
    int ht = query_param(r, "topic", topic, sizeof topic);
    if (ht < 0 || query_param(r, "asc", asc, sizeof asc) < 0) return;
    if (!ht || !*topic) {
        reply_error(r, 400, MQS_E_BAD_PARAM, "The parameter topic is required.");
        return;
    }
    if (*asc && strcmp(asc, "true") != 0 && strcmp(asc, "false") != 0) {
        reply_error(r, 400, MQS_E_BAD_PARAM, "The parameter asc must be true or false.");
        return;
    }
    cJSON *cmd = cJSON_CreateObject();
    if (!cmd) {
        reply_internal(r, "oom");
        return;
    }
    long limit, offset;
    int has_s, has_e, has_p, has_o, has_k, has_id, has_tag;
    if (add_int_param(r, cmd, "start_time", "start_ms", 0, 9000000000000000L, &has_s) ||
        add_int_param(r, cmd, "end_time", "end_ms", 0, 9000000000000000L, &has_e) ||
        query_int(r, "limit", 1, TV_QUERY_LIMIT_MAX, TV_QUERY_LIMIT_DEFAULT, &limit) ||
        query_int(r, "offset", 0, 100000000, 0, &offset) || add_str_param(r, cmd, "key", "key", &has_k) ||
        add_str_param(r, cmd, "message_id", "message_id", &has_id) || add_str_param(r, cmd, "tag", "tag", &has_tag)) {
        cJSON_Delete(cmd);
        return;
    }
    /* partition / message_offset select one message, and are ignored when a time range is given */
    if (!(has_s && has_e) &&
        (add_int_param(r, cmd, "partition", "partition", 0, TV_PARTITION_MAX - 1, &has_p) ||
         add_int_param(r, cmd, "message_offset", "offset", 0, 9000000000000000L, &has_o))) {
        cJSON_Delete(cmd);
        return;
    }
    const char *bad = NULL;
    if (has_s != has_e)
        bad = "The parameters start_time and end_time go together.";
    else if (has_s && cJSON_GetNumberValue(cJSON_GetObjectItem(cmd, "start_ms")) >
                          cJSON_GetNumberValue(cJSON_GetObjectItem(cmd, "end_ms")))
        bad = "The parameter start_time must not be after end_time.";
    else if (!has_s && has_p != has_o)
        bad = "The parameters partition and message_offset go together.";
    else if (!has_s && !has_p && !has_k && !has_id)
        bad = "Give start_time and end_time, or partition and message_offset, or key, or message_id.";
    if (bad) {
        cJSON_Delete(cmd);
        reply_error(r, 400, MQS_E_BAD_PARAM, "%s", bad);
        return;
    }
    PGconn *db = req_db_or_reply(r);
    mqs_topic t;
    if (!db || find_param_topic(r, db, topic, &t) < 0) {
        cJSON_Delete(cmd);
        return;
    }
    cJSON *tj = mqs_topic_json(&t);
    if (!tj || !cJSON_AddItemToObject(cmd, "topic", tj) || !cJSON_AddNumberToObject(cmd, "limit", (double)limit) ||
        !cJSON_AddNumberToObject(cmd, "skip", (double)offset) || !cJSON_AddBoolToObject(cmd, "asc", !strcmp(asc, "true"))) {
        if (tj && !cJSON_GetObjectItem(cmd, "topic")) cJSON_Delete(tj);
        cJSON_Delete(cmd);
        reply_internal(r, "oom");
        return;
    }
    roma_msg reply;
    proto_msg_init(&reply);
    int rc = mqs_call_or_reply(r, TOPIC_KIND, TOPIC_CMD_QUERY, cmd, (int)mqs_cfg()->call_timeout_ms, &reply);
    cJSON_Delete(cmd);
    if (rc) return;
    const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(reply.body, "messages"), *m;
    cJSON *o = cJSON_CreateObject();
    cJSON *arr = o ? cJSON_AddArrayToObject(o, "messages") : NULL;
    int ok = arr != NULL;
    cJSON_ArrayForEach(m, msgs)
    {
        if (!ok) break;
        cJSON *j = msg_json(&t, m);
        ok = j && cJSON_AddItemToArray(arr, j);
        if (!ok) cJSON_Delete(j);
    }
    ok = ok &&
         cJSON_AddNumberToObject(o, "total", cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(reply.body, "total"))) &&
         cJSON_AddNumberToObject(o, "size", cJSON_GetArraySize(arr));
    proto_msg_clear(&reply);
    if (ok) reply_json(r, 200, o);
    else reply_internal(r, "oom");
    cJSON_Delete(o);
}

static void resend_message(req *r)
{
    char action[16];
    int ha = query_param(r, "action_id", action, sizeof action);
    if (ha < 0) return;
    if (!ha || strcmp(action, "resend") != 0) {
        reply_error(r, 400, MQS_E_BAD_PARAM, "The parameter action_id is required and must be resend.");
        return;
    }
    tv_err e;
    cJSON *in;
    int rc = tv_resend(r->body, r->body_len, &in, &e);
    if (rc) {
        reply_verr(r, &e, rc);
        return;
    }
    PGconn *db = req_db_or_reply(r);
    mqs_topic t;
    if (!db || find_param_topic(r, db, cJSON_GetStringValue(cJSON_GetObjectItem(in, "topic")), &t) < 0) {
        cJSON_Delete(in);
        return;
    }
    const char *ck = cJSON_GetStringValue(cJSON_GetObjectItem(in, "consumer_key"));
    if (ck && *ck) {
        const char *p[] = {req_param(r, "instance_id"), ck};
        PGresult *res = db_exec(db, "SELECT 1 FROM apps WHERE instance_id = $1 AND key = $2", 2, p);
        int ok = db_ok(res, PGRES_TUPLES_OK, r->rid), found = ok && PQntuples(res) == 1;
        PQclear(res);
        if (!ok || !found) {
            if (!ok) reply_unavailable(r, "database");
            else reply_error(r, 400, MQS_E_APP_NOT_FOUND, "No app with key %.200s exists in the instance.", ck);
            cJSON_Delete(in); /* ck points into it */
            return;
        }
    }
    cJSON *cmd = cJSON_CreateObject();
    cJSON *tj = mqs_topic_json(&t);
    if (!cmd || !tj || !cJSON_AddItemToObject(cmd, "topic", tj) ||
        !cJSON_AddNumberToObject(cmd, "partition", cJSON_GetNumberValue(cJSON_GetObjectItem(in, "partition"))) ||
        !cJSON_AddNumberToObject(cmd, "offset", cJSON_GetNumberValue(cJSON_GetObjectItem(in, "message_offset"))) ||
        (ck && !cJSON_AddStringToObject(cmd, "consumer_key", ck))) {
        if (tj && (!cmd || !cJSON_GetObjectItem(cmd, "topic"))) cJSON_Delete(tj);
        cJSON_Delete(cmd);
        cJSON_Delete(in);
        reply_internal(r, "oom");
        return;
    }
    roma_msg reply;
    proto_msg_init(&reply);
    rc = mqs_call_or_reply(r, TOPIC_KIND, TOPIC_CMD_RESEND, cmd, (int)mqs_cfg()->call_timeout_ms, &reply);
    cJSON_Delete(cmd);
    if (!rc) {
        proto_msg_clear(&reply);
        if (!ck && !cJSON_AddStringToObject(in, "consumer_key", "")) {
            reply_internal(r, "oom");
        } else {
            reply_json(r, 200, in); /* ResetMessages echoes the request */
        }
    }
    cJSON_Delete(in);
}

#define MQS_I "/v2/{project_id}/mqs/instances/{instance_id}"

const route topics_routes[] = {
    {"GET", "/v2/{project_id}/mqs/instances", list_instances, 0, ERR_SHAPE_MQS},
    {"GET", MQS_I, show_instance, ROUTE_INSTANCE, ERR_SHAPE_MQS},
    {"POST", MQS_I "/topics", create_topic, ROUTE_INSTANCE, ERR_SHAPE_MQS},
    {"GET", MQS_I "/topics", list_topics, ROUTE_INSTANCE, ERR_SHAPE_MQS},
    {"PUT", MQS_I "/topics", update_topics, ROUTE_INSTANCE, ERR_SHAPE_MQS},
    {"DELETE", MQS_I "/topics", delete_topics, ROUTE_INSTANCE, ERR_SHAPE_MQS},
    {"POST", MQS_I "/topics/delete", batch_delete_topics, ROUTE_INSTANCE, ERR_SHAPE_MQS},
    {"GET", MQS_I "/topics/export", export_topics, ROUTE_INSTANCE, ERR_SHAPE_MQS},
    {"POST", MQS_I "/topics/import", import_topics, ROUTE_INSTANCE | ROUTE_RAW_BODY, ERR_SHAPE_MQS},
    {"POST", MQS_I "/topics/accesspolicy", update_access_policy, ROUTE_INSTANCE, ERR_SHAPE_MQS},
    {"GET", MQS_I "/topics/{topic_name}/accesspolicy", show_access_policy, ROUTE_INSTANCE, ERR_SHAPE_MQS},
    {"POST", MQS_I "/topics/{topic_name}/access-policies/batch-add", batch_add_access_policy, ROUTE_INSTANCE, ERR_SHAPE_MQS},
    {"GET", MQS_I "/messages", show_messages, ROUTE_INSTANCE, ERR_SHAPE_MQS},
    {"POST", MQS_I "/messages/action", resend_message, ROUTE_INSTANCE, ERR_SHAPE_MQS},
    {NULL},
};
