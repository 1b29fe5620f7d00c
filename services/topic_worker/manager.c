/* manager.c: the topic manager's command handlers (see manager.h and topic_cmd.h).
 *
 * Every topic change runs in one transaction on a metadata connection and, for changes that touch
 * the instance's partition budget (create, import), under a transaction-scoped advisory lock of the
 * instance so that two concurrent creates cannot both squeeze under max_partitions. Message commands
 * (msg.*) go straight to the engine with the topic as the API resolved it. */
#include "manager.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "log.h"
#include "topic_cmd.h"
#include "util.h"

#define META_ACQUIRE_MS 5000
#define PRODUCE_MAX 10
#define ACK_MAX 10
/* Pause before re-fetching when the group's other consumers held the partitions that had messages:
 * starts short (they hold them for one statement) and doubles, so a crowd of consumers on an idle topic
 * does not turn into a busy loop of queries. */
#define FETCH_BUSY_RETRY_MIN_MS 2
#define FETCH_BUSY_RETRY_MAX_MS 128

/* ---- replies ---- */

static void reply_fail(roma_msg *reply, int status, int http, const char *code, const char *fmt, ...)
    ROMA_PRINTF(5, 6);
static void reply_fail(roma_msg *reply, int status, int http, const char *code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cJSON_Delete(reply->body);
    reply->body = cJSON_CreateObject();
    if (reply->body) {
        cJSON_AddNumberToObject(reply->body, "http_status", http);
        cJSON_AddStringToObject(reply->body, "error_code", code);
        cJSON_AddStringToObject(reply->body, "error_msg", msg);
    }
    reply->status = status;
}

/* A database or engine failure: 503 when a dependency is down, 500 otherwise. */
static void reply_sys(roma_msg *reply, int rc)
{
    if (rc == ROMA_EUNAVAIL)
        reply_fail(reply, rc, 503, MQS_E_UNAVAILABLE, "Service temporarily unavailable (database). Retry later.");
    else
        reply_fail(reply, rc ? rc : ROMA_EIO, 500, MQS_E_INTERNAL, "Internal server error.");
}

static void reply_malformed(roma_msg *reply, const roma_msg *req)
{
    reply_fail(reply, ROMA_EINVAL, 400, MQS_E_BAD_PARAM, "Malformed %s command.", req->type);
}

static void reply_body(roma_msg *reply, cJSON *body)
{
    if (!body) {
        reply_sys(reply, ROMA_ENOMEM);
        return;
    }
    cJSON_Delete(reply->body);
    reply->body = body;
    reply->status = 0;
}

/* ---- JSON helpers (the API validated the body; these only guard the manager against bad commands) ---- */

static const char *jstr(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* 1 when o[k] is an integral number within [lo, hi]. */
static int jlong(const cJSON *o, const char *k, long lo, long hi, long *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!cJSON_IsNumber(v)) return 0;
    double d = v->valuedouble;
    if (d != d || d < (double)lo || d > (double)hi || d != (double)(long)d) return 0;
    *out = (long)d;
    return 1;
}

static int jint64(const cJSON *o, const char *k, int64_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!cJSON_IsNumber(v)) return 0;
    double d = v->valuedouble;
    if (d != d || d < -9.0e15 || d > 9.0e15 || d != (double)(int64_t)d) return 0;
    *out = (int64_t)d;
    return 1;
}

/* "t"/"f" of o[k] when it is a bool, NULL when absent. */
static const char *jbool_text(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!cJSON_IsBool(v)) return NULL;
    return cJSON_IsTrue(v) ? "t" : "f";
}

/* The topic T of a msg.* command (strings borrowed from the command). 0 or ROMA_EINVAL. */
static int topic_from_cmd(const cJSON *body, engine_topic *t)
{
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(body, "topic");
    long parts, ret;
    int64_t id;
    memset(t, 0, sizeof *t);
    if (!cJSON_IsObject(o) || !jint64(o, "id", &id) || !jlong(o, "partitions", 1, 50, &parts)) return ROMA_EINVAL;
    t->id = id;
    t->partitions = (int)parts;
    t->name = jstr(o, "name");
    t->instance_id = jstr(o, "instance_id");
    t->retention_hours = jlong(o, "retention_time", 1, 720, &ret) ? (int)ret : 72;
    t->sync_flush = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "sync_message_flush"));
    return 0;
}

/* ---- transactions ---- */

static PGconn *meta_acquire(manager *m, roma_msg *reply)
{
    PGconn *c = db_acquire(m->meta, META_ACQUIRE_MS);
    if (!c) reply_sys(reply, ROMA_EUNAVAIL);
    return c;
}

/* Ends the transaction with ROLLBACK (error paths); failures are logged by db_command and the pool
 * discards a connection left mid-transaction anyway. */
static void tx_abort(PGconn *c, const char *rid)
{
    if (PQtransactionStatus(c) != PQTRANS_IDLE && db_command(c, "ROLLBACK", rid) != 0)
        log_warn(rid, "topic.rollback_failed", "ROLLBACK failed; the pool discards the connection");
}

/* Starts a topic change: replies "malformed" unless well_formed, else takes a metadata connection and
 * opens a transaction (*rc = BEGIN's outcome). NULL after replying. */
static PGconn *tx_begin(manager *m, const roma_msg *req, roma_msg *reply, int well_formed, int *rc)
{
    if (!well_formed) {
        reply_malformed(reply, req);
        return NULL;
    }
    PGconn *c = meta_acquire(m, reply);
    if (c) *rc = db_command(c, "BEGIN", req->rid);
    return c;
}

/* Ends the metadata transaction on c: COMMIT when *rc is 0 (a failed COMMIT lands in *rc), ROLLBACK
 * otherwise, and gives the connection back to the pool. */
static void tx_end(manager *m, PGconn *c, int *rc, const char *rid)
{
    if (!*rc) *rc = db_command(c, "COMMIT", rid);
    tx_abort(c, rid);
    db_release(m->meta, c);
}

/* The answer to a topic change that names existing topics: {} on success, 400 for a missing topic or a
 * malformed command, 5xx otherwise. */
static void reply_change(roma_msg *reply, const roma_msg *req, int rc, const char *missing)
{
    if (rc == ROMA_ENOTFOUND)
        reply_fail(reply, rc, 400, MQS_E_TOPIC_NOT_FOUND, "The topic %s does not exist in the instance.",
                   missing ? missing : "");
    else if (rc == ROMA_EINVAL)
        reply_malformed(reply, req);
    else if (rc)
        reply_sys(reply, rc);
    else
        reply_body(reply, cJSON_CreateObject());
}

/* Serialises partition-budget changes of one instance until the transaction ends. */
static int lock_instance(PGconn *c, const char *instance_id, const char *rid)
{
    const char *p[] = {instance_id};
    PGresult *res = db_exec(c, "SELECT pg_advisory_xact_lock(hashtext('openroma.mqs.instance:' || $1))", 1, p);
    int ok = db_ok(res, PGRES_TUPLES_OK, rid);
    PQclear(res);
    return ok ? 0 : ROMA_EIO;
}

/* 1 when the app exists in the instance, 0 when not, ROMA_EIO. */
static int app_exists(PGconn *c, const char *instance_id, const char *app_id, const char *rid)
{
    const char *p[] = {app_id, instance_id};
    PGresult *res = db_exec(c, "SELECT 1 FROM apps WHERE id = $1 AND instance_id = $2", 2, p);
    int rc = db_ok(res, PGRES_TUPLES_OK, rid) ? PQntuples(res) == 1 : ROMA_EIO;
    PQclear(res);
    return rc;
}

/* Sum of the partitions of the instance's topics, or ROMA_EIO. */
static long partitions_used(PGconn *c, const char *instance_id, const char *rid)
{
    const char *p[] = {instance_id};
    PGresult *res = db_exec(c, "SELECT COALESCE(sum(partitions), 0) FROM mqs_topics WHERE instance_id = $1", 1, p);
    long n = db_ok(res, PGRES_TUPLES_OK, rid) && PQntuples(res) == 1 ? atol(PQgetvalue(res, 0, 0)) : ROMA_EIO;
    PQclear(res);
    return n;
}

/* Test-only pause inside a transaction, so a test can SIGKILL the manager mid-operation. */
static void test_pause(manager *m, const char *rid, const char *what)
{
    if (m->test_delay_ms <= 0) return;
    log_warn(rid, "topic.test_delay", "ROMA_TOPIC_TEST_DELAY_MS: pausing %ld ms inside %s", m->test_delay_ms, what);
    util_sleep_ms(m->test_delay_ms);
}

/* ---- topic.create ---- */

typedef struct topic_spec {
    const char *name, *app_id, *access_policy, *tag, *description, *sensitive_word;
    long partition, replication, retention_time;
    int sync_flush, sync_replication;
} topic_spec;

static int spec_from(const cJSON *o, topic_spec *s)
{
    memset(s, 0, sizeof *s);
    s->name = jstr(o, "name");
    s->app_id = jstr(o, "app_id");
    s->access_policy = jstr(o, "access_policy");
    s->tag = jstr(o, "tag");
    s->description = jstr(o, "description");
    s->sensitive_word = jstr(o, "sensitive_word");
    if (!s->tag) s->tag = "";
    if (!s->description) s->description = "";
    if (!s->sensitive_word) s->sensitive_word = "";
    const char *f = jbool_text(o, "sync_message_flush"), *r = jbool_text(o, "sync_replication");
    s->sync_flush = f && *f == 't';
    s->sync_replication = r && *r == 't';
    if (!s->name || !s->app_id || !s->access_policy || !jlong(o, "partition", 1, 50, &s->partition) ||
        !jlong(o, "replication", 1, 3, &s->replication) || !jlong(o, "retention_time", 1, 720, &s->retention_time))
        return ROMA_EINVAL;
    return 0;
}

/* Inserts one topic and its engine state inside the caller's transaction (instance lock held).
 * Returns 0, ROMA_ECONFLICT (name taken), ROMA_ETOOBIG (quota), ROMA_ENOTFOUND (app), ROMA_EIO. */
static int topic_insert(manager *m, PGconn *c, const char *project_id, const char *instance_id, const topic_spec *s,
                        long max_partitions, const char *rid)
{
    int ex = app_exists(c, instance_id, s->app_id, rid);
    if (ex < 0) return ex;
    if (!ex) return ROMA_ENOTFOUND;
    long used = partitions_used(c, instance_id, rid);
    if (used < 0) return (int)used;
    if (used + s->partition > max_partitions) return ROMA_ETOOBIG;
    char part[16], repl[16], ret[16];
    snprintf(part, sizeof part, "%ld", s->partition);
    snprintf(repl, sizeof repl, "%ld", s->replication);
    snprintf(ret, sizeof ret, "%ld", s->retention_time);
    const char *p[] = {project_id, instance_id, s->name, s->app_id, part, repl, s->access_policy,
                       s->sync_flush ? "t" : "f", s->sync_replication ? "t" : "f", ret, s->tag, s->description,
                       s->sensitive_word, m->engine->ops->name};
    PGresult *res = db_exec(c,
                            "INSERT INTO mqs_topics (project_id, instance_id, name, app_id, partitions, replication,"
                            " access_policy, sync_message_flush, sync_replication, retention_time, tag, description,"
                            " sensitive_word, engine)"
                            " VALUES ($1, $2, $3, $4, $5::int, $6::int, $7, $8::bool, $9::bool, $10::int, $11, $12, $13, $14)"
                            " ON CONFLICT ON CONSTRAINT mqs_topics_instance_name_uniq DO NOTHING RETURNING id",
                            14, p);
    if (!db_ok(res, PGRES_TUPLES_OK, rid)) {
        PQclear(res);
        return ROMA_EIO;
    }
    if (PQntuples(res) != 1) {
        PQclear(res);
        return ROMA_ECONFLICT;
    }
    engine_topic t = {.id = atoll(PQgetvalue(res, 0, 0)),
                      .instance_id = instance_id,
                      .name = s->name,
                      .partitions = (int)s->partition,
                      .replication = (int)s->replication,
                      .retention_hours = (int)s->retention_time,
                      .sync_flush = s->sync_flush};
    PQclear(res);
    return m->engine->ops->topic_create(m->engine, c, &t, rid);
}

/* 1 when the instance already has this exact topic (a retried create that committed), 0 when the name is
 * taken by a different topic, ROMA_EIO. */
static int topic_same(PGconn *c, const char *instance_id, const topic_spec *s, const char *rid)
{
    char part[16], repl[16], ret[16];
    snprintf(part, sizeof part, "%ld", s->partition);
    snprintf(repl, sizeof repl, "%ld", s->replication);
    snprintf(ret, sizeof ret, "%ld", s->retention_time);
    const char *p[] = {instance_id, s->name, s->app_id, part, repl, s->access_policy,
                       s->sync_flush ? "t" : "f", s->sync_replication ? "t" : "f", ret, s->tag, s->description,
                       s->sensitive_word};
    PGresult *res = db_exec(c,
                            "SELECT 1 FROM mqs_topics WHERE instance_id = $1 AND name = $2 AND app_id = $3"
                            " AND partitions = $4::int AND replication = $5::int AND access_policy = $6"
                            " AND sync_message_flush = $7::bool AND sync_replication = $8::bool"
                            " AND retention_time = $9::int AND tag = $10 AND description = $11 AND sensitive_word = $12",
                            12, p);
    int rc = db_ok(res, PGRES_TUPLES_OK, rid) ? PQntuples(res) == 1 : ROMA_EIO;
    PQclear(res);
    return rc;
}

static void cmd_create(manager *m, const roma_msg *req, roma_msg *reply)
{
    const cJSON *b = req->body;
    const char *instance_id = jstr(b, "instance_id"), *project_id = jstr(b, "project_id");
    long max_parts = 0;
    topic_spec s;
    int ok = instance_id && project_id && jlong(b, "max_partitions", 1, 1000000, &max_parts) &&
             spec_from(cJSON_GetObjectItemCaseSensitive(b, "topic"), &s) == 0;
    int rc = 0;
    PGconn *c = tx_begin(m, req, reply, ok, &rc);
    if (!c) return;
    if (!rc) rc = lock_instance(c, instance_id, req->rid);
    if (!rc) rc = topic_insert(m, c, project_id, instance_id, &s, max_parts, req->rid);
    if (!rc) test_pause(m, req->rid, "topic.create");
    if (rc == ROMA_ECONFLICT) { /* still inside the transaction: ON CONFLICT DO NOTHING did not abort it */
        int same = topic_same(c, instance_id, &s, req->rid);
        rc = same < 0 ? same : same ? 0 : ROMA_ECONFLICT;
        if (same == 1) log_info(req->rid, "topic.create_replayed", "topic %s already exists with the same settings", s.name);
    }
    tx_end(m, c, &rc, req->rid);
    switch (rc) {
    case 0: {
        cJSON *o = cJSON_CreateObject();
        if (o && !cJSON_AddStringToObject(o, "name", s.name)) {
            cJSON_Delete(o);
            o = NULL;
        }
        reply_body(reply, o);
        log_info(req->rid, "topic.created", "instance %s topic %s partitions %ld", instance_id, s.name, s.partition);
        return;
    }
    case ROMA_ECONFLICT:
        reply_fail(reply, rc, 400, MQS_E_TOPIC_EXISTS, "The topic %s already exists in the instance.", s.name);
        return;
    case ROMA_ENOTFOUND:
        reply_fail(reply, rc, 400, MQS_E_APP_NOT_FOUND, "The app %s does not exist in the instance.", s.app_id);
        return;
    case ROMA_ETOOBIG:
        reply_fail(reply, rc, 400, MQS_E_QUOTA,
                   "Not enough partitions left in the instance for %ld more (max_partitions %ld).", s.partition,
                   max_parts);
        return;
    default:
        reply_sys(reply, rc);
    }
}

/* ---- topic.update ---- */

static void cmd_update(manager *m, const roma_msg *req, roma_msg *reply)
{
    const cJSON *b = req->body;
    const char *instance_id = jstr(b, "instance_id");
    const cJSON *topics = cJSON_GetObjectItemCaseSensitive(b, "topics");
    int rc = 0;
    PGconn *c = tx_begin(m, req, reply, instance_id && cJSON_IsArray(topics), &rc);
    if (!c) return;
    const char *missing = NULL;
    const cJSON *t;
    cJSON_ArrayForEach(t, topics)
    {
        if (rc) break;
        const char *name = jstr(t, "name");
        long ret;
        char rets[16];
        const char *retp = NULL;
        if (jlong(t, "retention_time", 1, 720, &ret)) {
            snprintf(rets, sizeof rets, "%ld", ret);
            retp = rets;
        }
        if (!name) {
            rc = ROMA_EINVAL;
            break;
        }
        const char *p[] = {instance_id, name, retp, jbool_text(t, "sync_replication"),
                           jbool_text(t, "sync_message_flush"), jstr(t, "description"), jstr(t, "sensitive_word")};
        PGresult *res = db_exec(c,
                                "UPDATE mqs_topics SET retention_time = COALESCE($3::int, retention_time),"
                                " sync_replication = COALESCE($4::bool, sync_replication),"
                                " sync_message_flush = COALESCE($5::bool, sync_message_flush),"
                                " description = COALESCE($6, description), sensitive_word = COALESCE($7, sensitive_word),"
                                " updated_at = now() WHERE instance_id = $1 AND name = $2"
                                " RETURNING id, partitions, replication, retention_time, sync_message_flush",
                                7, p);
        if (!db_ok(res, PGRES_TUPLES_OK, req->rid)) {
            rc = ROMA_EIO;
        } else if (PQntuples(res) != 1) {
            missing = name;
            rc = ROMA_ENOTFOUND;
        } else {
            engine_topic et = {.id = atoll(PQgetvalue(res, 0, 0)),
                               .instance_id = instance_id,
                               .name = name,
                               .partitions = atoi(PQgetvalue(res, 0, 1)),
                               .replication = atoi(PQgetvalue(res, 0, 2)),
                               .retention_hours = atoi(PQgetvalue(res, 0, 3)),
                               .sync_flush = PQgetvalue(res, 0, 4)[0] == 't'};
            rc = m->engine->ops->topic_alter(m->engine, c, &et, req->rid);
        }
        PQclear(res);
    }
    tx_end(m, c, &rc, req->rid);
    reply_change(reply, req, rc, missing);
}

/* ---- topic.delete ---- */

/* Deletes one topic in its own transaction. 1 deleted, 0 absent, or a negative code. */
static int topic_drop(manager *m, PGconn *c, const char *instance_id, const char *name, const char *rid)
{
    int rc = db_command(c, "BEGIN", rid);
    if (rc) return rc;
    const char *p[] = {instance_id, name};
    PGresult *res = db_exec(c, "DELETE FROM mqs_topics WHERE instance_id = $1 AND name = $2 RETURNING id, partitions",
                            2, p);
    int found = 0;
    if (!db_ok(res, PGRES_TUPLES_OK, rid)) {
        rc = ROMA_EIO;
    } else if (PQntuples(res) == 1) {
        found = 1;
        engine_topic t = {.id = atoll(PQgetvalue(res, 0, 0)),
                          .instance_id = instance_id,
                          .name = name,
                          .partitions = atoi(PQgetvalue(res, 0, 1))};
        rc = m->engine->ops->topic_delete(m->engine, c, &t, rid);
    }
    PQclear(res);
    if (!rc) rc = db_command(c, "COMMIT", rid);
    tx_abort(c, rid);
    if (rc) return rc;
    if (found) log_info(rid, "topic.deleted", "instance %s topic %s", instance_id, name);
    return found;
}

static void cmd_delete(manager *m, const roma_msg *req, roma_msg *reply)
{
    const cJSON *b = req->body;
    const char *instance_id = jstr(b, "instance_id");
    const cJSON *names = cJSON_GetObjectItemCaseSensitive(b, "names");
    if (!instance_id || !cJSON_IsArray(names)) {
        reply_malformed(reply, req);
        return;
    }
    cJSON *out = cJSON_CreateObject();
    cJSON *arr = out ? cJSON_AddArrayToObject(out, "topics") : NULL;
    if (!arr) {
        cJSON_Delete(out);
        reply_sys(reply, ROMA_ENOMEM);
        return;
    }
    PGconn *c = meta_acquire(m, reply);
    if (!c) {
        cJSON_Delete(out);
        return;
    }
    int rc = 0;
    const cJSON *n;
    /* one transaction per topic: a missing name (or a failure) never undoes the others */
    cJSON_ArrayForEach(n, names)
    {
        const char *name = cJSON_IsString(n) ? n->valuestring : "";
        int r = *name ? topic_drop(m, c, instance_id, name, req->rid) : 0;
        if (r < 0) rc = r;
        cJSON *item = cJSON_CreateObject();
        if (!item || !cJSON_AddItemToArray(arr, item)) {
            cJSON_Delete(item);
            rc = ROMA_ENOMEM;
            break;
        }
        cJSON_AddStringToObject(item, "id", name);
        cJSON_AddBoolToObject(item, "success", r == 1);
    }
    db_release(m->meta, c);
    if (rc == ROMA_ENOMEM || rc == ROMA_EUNAVAIL) {
        cJSON_Delete(out);
        reply_sys(reply, rc);
        return;
    }
    reply_body(reply, out);
}

/* ---- access policies ---- */

/* Looks the topic up FOR UPDATE: fills id and owner app (>= 65 bytes). 1 found, 0 absent, ROMA_EIO. */
static int topic_lock(PGconn *c, const char *instance_id, const char *name, char id[24], char owner[65],
                      const char *rid)
{
    const char *p[] = {instance_id, name};
    PGresult *res = db_exec(c, "SELECT id, app_id FROM mqs_topics WHERE instance_id = $1 AND name = $2 FOR UPDATE",
                            2, p);
    int rc = db_ok(res, PGRES_TUPLES_OK, rid) ? PQntuples(res) == 1 : ROMA_EIO;
    if (rc == 1) {
        snprintf(id, 24, "%s", PQgetvalue(res, 0, 0));
        snprintf(owner, 65, "%s", PQgetvalue(res, 0, 1));
    }
    PQclear(res);
    return rc;
}

/* Sets one app's policy on a topic: the owner's lives on the topic row, others' in mqs_topic_policies. */
static int policy_put(PGconn *c, const char *topic_id, const char *owner, const char *app_id, const char *policy,
                      const char *tag, const char *rid)
{
    PGresult *res;
    if (!strcmp(owner, app_id)) {
        const char *p[] = {topic_id, policy, tag};
        res = db_exec(c,
                      "UPDATE mqs_topics SET access_policy = $2, tag = COALESCE($3, tag), updated_at = now()"
                      " WHERE id = $1::bigint",
                      3, p);
    } else {
        const char *p[] = {topic_id, app_id, policy, tag ? tag : ""};
        res = db_exec(c,
                      "INSERT INTO mqs_topic_policies (topic_id, app_id, access_policy, tag)"
                      " VALUES ($1::bigint, $2, $3, $4) ON CONFLICT (topic_id, app_id)"
                      " DO UPDATE SET access_policy = EXCLUDED.access_policy, tag = EXCLUDED.tag",
                      4, p);
    }
    int ok = db_ok(res, PGRES_COMMAND_OK, rid);
    PQclear(res);
    return ok ? 0 : ROMA_EIO;
}

static void cmd_acl_set(manager *m, const roma_msg *req, roma_msg *reply)
{
    const cJSON *b = req->body;
    const char *instance_id = jstr(b, "instance_id");
    const cJSON *topics = cJSON_GetObjectItemCaseSensitive(b, "topics");
    int rc = 0;
    PGconn *c = tx_begin(m, req, reply, instance_id && cJSON_IsArray(topics), &rc);
    if (!c) return;
    const char *bad = NULL;
    int bad_kind = 0; /* 1 topic, 2 app */
    const cJSON *t;
    cJSON_ArrayForEach(t, topics)
    {
        if (rc) break;
        const char *name = jstr(t, "name");
        const cJSON *pols = cJSON_GetObjectItemCaseSensitive(t, "policies");
        char id[24], owner[65];
        if (!name || !cJSON_IsArray(pols)) {
            rc = ROMA_EINVAL;
            break;
        }
        int f = topic_lock(c, instance_id, name, id, owner, req->rid);
        if (f <= 0) {
            rc = f < 0 ? f : ROMA_ENOTFOUND;
            bad = name, bad_kind = 1;
            break;
        }
        /* the set replaces every non-owner policy of the topic */
        const char *pd[] = {id};
        PGresult *res = db_exec(c, "DELETE FROM mqs_topic_policies WHERE topic_id = $1::bigint", 1, pd);
        if (!db_ok(res, PGRES_COMMAND_OK, req->rid)) rc = ROMA_EIO;
        PQclear(res);
        const cJSON *pol;
        cJSON_ArrayForEach(pol, pols)
        {
            if (rc) break;
            const char *app = jstr(pol, "app_id"), *ap = jstr(pol, "access_policy");
            if (!app || !ap) {
                rc = ROMA_EINVAL;
                break;
            }
            int ex = app_exists(c, instance_id, app, req->rid);
            if (ex <= 0) {
                rc = ex < 0 ? ex : ROMA_ENOTFOUND;
                bad = app, bad_kind = 2;
                break;
            }
            rc = policy_put(c, id, owner, app, ap, jstr(pol, "tag"), req->rid);
        }
        if (!rc && (jstr(t, "description") || jstr(t, "sensitive_word"))) {
            const char *pu[] = {id, jstr(t, "description"), jstr(t, "sensitive_word")};
            res = db_exec(c,
                          "UPDATE mqs_topics SET description = COALESCE($2, description),"
                          " sensitive_word = COALESCE($3, sensitive_word), updated_at = now() WHERE id = $1::bigint",
                          3, pu);
            if (!db_ok(res, PGRES_COMMAND_OK, req->rid)) rc = ROMA_EIO;
            PQclear(res);
        }
    }
    tx_end(m, c, &rc, req->rid);
    if (rc == ROMA_ENOTFOUND && bad_kind == 2)
        reply_fail(reply, rc, 400, MQS_E_APP_NOT_FOUND, "The app %s does not exist in the instance.", bad);
    else
        reply_change(reply, req, rc, bad);
}

/* Resolves an app key of the instance to its id (>= 65 bytes). 1 found, 0 absent, ROMA_EIO. */
static int app_by_key(PGconn *c, const char *instance_id, const char *key, char id[65], const char *rid)
{
    const char *p[] = {instance_id, key};
    PGresult *res = db_exec(c, "SELECT id FROM apps WHERE instance_id = $1 AND key = $2", 2, p);
    int rc = db_ok(res, PGRES_TUPLES_OK, rid) ? PQntuples(res) == 1 : ROMA_EIO;
    if (rc == 1) snprintf(id, 65, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    return rc;
}

static void cmd_acl_add(manager *m, const roma_msg *req, roma_msg *reply)
{
    const cJSON *b = req->body;
    const char *instance_id = jstr(b, "instance_id"), *name = jstr(b, "name");
    const cJSON *pols = cJSON_GetObjectItemCaseSensitive(b, "policies");
    int rc = 0;
    PGconn *c = tx_begin(m, req, reply, instance_id && name && cJSON_IsArray(pols), &rc);
    if (!c) return;
    char id[24], owner[65];
    const char *bad_key = NULL;
    int f = rc ? 0 : topic_lock(c, instance_id, name, id, owner, req->rid);
    if (!rc && f <= 0) rc = f < 0 ? f : ROMA_ENOTFOUND;
    const cJSON *pol;
    cJSON_ArrayForEach(pol, pols)
    {
        if (rc) break;
        const char *key = jstr(pol, "user_name"), *ap = jstr(pol, "access_policy");
        char app[65];
        if (!key || !ap) {
            rc = ROMA_EINVAL;
            break;
        }
        int ex = app_by_key(c, instance_id, key, app, req->rid);
        if (ex <= 0) {
            rc = ex < 0 ? ex : ROMA_ECONFLICT; /* ECONFLICT here = unknown app key */
            bad_key = key;
            break;
        }
        rc = policy_put(c, id, owner, app, ap, jstr(pol, "tag"), req->rid);
    }
    tx_end(m, c, &rc, req->rid);
    if (rc == ROMA_ENOTFOUND) /* the topic is addressed by the path here: 404 */
        reply_fail(reply, rc, 404, MQS_E_TOPIC_NOT_FOUND, "The topic %s does not exist in the instance.", name);
    else if (rc == ROMA_ECONFLICT)
        reply_fail(reply, ROMA_ENOTFOUND, 400, MQS_E_APP_NOT_FOUND, "No app with key %s exists in the instance.",
                   bad_key);
    else
        reply_change(reply, req, rc, NULL);
}

/* ---- topic.import ---- */

/* Resolves prefix + app_name to an app id of the instance. 1, 0, ROMA_EIO. */
static int app_by_name(PGconn *c, const char *instance_id, const char *prefix, const char *name, char id[65],
                       const char *rid)
{
    const char *p[] = {instance_id, prefix, name};
    PGresult *res = db_exec(c, "SELECT id FROM apps WHERE instance_id = $1 AND name = $2 || $3", 3, p);
    int rc = db_ok(res, PGRES_TUPLES_OK, rid) ? PQntuples(res) == 1 : ROMA_EIO;
    if (rc == 1) snprintf(id, 65, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    return rc;
}

/* Applies the non-identity settings of an import item to an existing topic (Merge mode). */
static int topic_merge(manager *m, PGconn *c, const char *instance_id, const topic_spec *s, const char *rid)
{
    char ret[16];
    snprintf(ret, sizeof ret, "%ld", s->retention_time);
    const char *p[] = {instance_id, s->name, ret, s->sync_flush ? "t" : "f", s->sync_replication ? "t" : "f",
                       s->description, s->sensitive_word};
    PGresult *res = db_exec(c,
                            "UPDATE mqs_topics SET retention_time = $3::int, sync_message_flush = $4::bool,"
                            " sync_replication = $5::bool, description = $6, sensitive_word = $7, updated_at = now()"
                            " WHERE instance_id = $1 AND name = $2 RETURNING id, partitions",
                            7, p);
    int rc = 0;
    if (!db_ok(res, PGRES_TUPLES_OK, rid) || PQntuples(res) != 1) {
        rc = ROMA_EIO;
    } else {
        engine_topic t = {.id = atoll(PQgetvalue(res, 0, 0)),
                          .instance_id = instance_id,
                          .name = s->name,
                          .partitions = atoi(PQgetvalue(res, 0, 1)),
                          .retention_hours = (int)s->retention_time,
                          .sync_flush = s->sync_flush};
        rc = m->engine->ops->topic_alter(m->engine, c, &t, rid);
    }
    PQclear(res);
    return rc;
}

static void cmd_import(manager *m, const roma_msg *req, roma_msg *reply)
{
    const cJSON *b = req->body;
    const char *instance_id = jstr(b, "instance_id"), *project_id = jstr(b, "project_id");
    const char *mode = jstr(b, "mode"), *prefix = jstr(b, "prefix");
    const cJSON *topics = cJSON_GetObjectItemCaseSensitive(b, "topics");
    long max_parts = 0;
    int ok = instance_id && project_id && mode && cJSON_IsArray(topics) &&
             jlong(b, "max_partitions", 1, 1000000, &max_parts);
    int rc = 0;
    PGconn *c = tx_begin(m, req, reply, ok, &rc);
    if (!c) return;
    if (!prefix) prefix = "";
    int merge = !strcmp(mode, "Merge");
    if (!rc) rc = lock_instance(c, instance_id, req->rid);
    int created = 0, updated = 0;
    char what[300] = "";
    const cJSON *t;
    cJSON_ArrayForEach(t, topics)
    {
        if (rc) break;
        const char *app_name = jstr(t, "app_name");
        topic_spec s;
        char owner[65], id[24], cur_owner[65];
        cJSON *copy = cJSON_Duplicate(t, 1);
        /* the owner is resolved by (prefix +) app name: app ids differ between instances */
        if (!copy || !app_name) {
            cJSON_Delete(copy);
            rc = ROMA_EINVAL;
            break;
        }
        int ex = app_by_name(c, instance_id, prefix, app_name, owner, req->rid);
        if (ex <= 0) {
            cJSON_Delete(copy);
            rc = ex < 0 ? ex : ROMA_ENOTFOUND;
            snprintf(what, sizeof what, "%s%s", prefix, app_name);
            break;
        }
        cJSON_DeleteItemFromObjectCaseSensitive(copy, "app_id");
        if (!cJSON_AddStringToObject(copy, "app_id", owner) || spec_from(copy, &s) != 0) {
            cJSON_Delete(copy);
            rc = ROMA_EINVAL;
            break;
        }
        int exists = topic_lock(c, instance_id, s.name, id, cur_owner, req->rid);
        if (exists < 0) {
            rc = exists;
        } else if (exists && !merge) {
            rc = ROMA_ECONFLICT;
            snprintf(what, sizeof what, "%s", s.name);
        } else if (exists) {
            rc = topic_merge(m, c, instance_id, &s, req->rid);
            if (!rc) rc = policy_put(c, id, cur_owner, cur_owner, s.access_policy, s.tag, req->rid);
            updated += !rc;
        } else {
            rc = topic_insert(m, c, project_id, instance_id, &s, max_parts, req->rid);
            if (rc == ROMA_ENOTFOUND || rc == ROMA_ETOOBIG || rc == ROMA_ECONFLICT)
                snprintf(what, sizeof what, "%s", s.name);
            if (!rc) rc = topic_lock(c, instance_id, s.name, id, cur_owner, req->rid) == 1 ? 0 : ROMA_EIO;
            created += !rc;
        }
        /* policies of other apps, resolved by name like the owner */
        const cJSON *pols = cJSON_GetObjectItemCaseSensitive(t, "policies"), *pol;
        cJSON_ArrayForEach(pol, pols)
        {
            if (rc) break;
            const char *pn = jstr(pol, "app_name"), *ap = jstr(pol, "access_policy");
            char app[65];
            if (!pn || !ap) {
                rc = ROMA_EINVAL;
                break;
            }
            int pe = app_by_name(c, instance_id, prefix, pn, app, req->rid);
            if (pe <= 0) {
                rc = pe < 0 ? pe : ROMA_ENOTFOUND;
                snprintf(what, sizeof what, "%s%s", prefix, pn);
                break;
            }
            rc = policy_put(c, id, cur_owner, app, ap, jstr(pol, "tag"), req->rid);
        }
        cJSON_Delete(copy);
    }
    if (!rc) test_pause(m, req->rid, "topic.import");
    tx_end(m, c, &rc, req->rid);
    switch (rc) {
    case 0: {
        cJSON *o = cJSON_CreateObject();
        if (o) {
            cJSON_AddNumberToObject(o, "created", created);
            cJSON_AddNumberToObject(o, "updated", updated);
        }
        reply_body(reply, o);
        log_info(req->rid, "topic.imported", "instance %s mode %s created %d updated %d", instance_id, mode, created,
                 updated);
        return;
    }
    case ROMA_ECONFLICT:
        reply_fail(reply, rc, 400, MQS_E_TOPIC_EXISTS,
                   "The topic %s already exists in the instance (mode AddNew); nothing was imported.", what);
        return;
    case ROMA_ENOTFOUND:
        reply_fail(reply, rc, 400, MQS_E_APP_NOT_FOUND, "The app %s does not exist in the instance; nothing was imported.",
                   what);
        return;
    case ROMA_ETOOBIG:
        reply_fail(reply, rc, 400, MQS_E_QUOTA, "Importing topic %s exceeds max_partitions %ld; nothing was imported.",
                   what, max_parts);
        return;
    case ROMA_EINVAL:
        reply_fail(reply, rc, 400, MQS_E_IMPORT, "The import file holds an invalid topic; nothing was imported.");
        return;
    default:
        reply_sys(reply, rc);
    }
}

/* ---- messages ---- */

static void cmd_produce(manager *m, const roma_msg *req, roma_msg *reply)
{
    const cJSON *b = req->body;
    engine_topic t;
    const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(b, "messages");
    int n = cJSON_GetArraySize(msgs);
    if (topic_from_cmd(b, &t) != 0 || !cJSON_IsArray(msgs) || n < 1 || n > PRODUCE_MAX) {
        reply_malformed(reply, req);
        return;
    }
    engine_msg_in in[PRODUCE_MAX];
    engine_append_out out[PRODUCE_MAX];
    int i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, msgs)
    {
        in[i].content = jstr(it, "content");
        in[i].id = jstr(it, "id");
        in[i].key = jstr(it, "key");
        in[i].tag = jstr(it, "tag");
        if (!in[i].content) {
            reply_malformed(reply, req);
            return;
        }
        i++;
    }
    int rc = m->engine->ops->append(m->engine, &t, in, n, jstr(b, "app_id"), NULL, out, req->rid);
    if (rc == ROMA_ENOTFOUND) {
        reply_fail(reply, rc, 404, MQS_E_TOPIC_NOT_FOUND, "The topic %s does not exist.", t.name ? t.name : "");
        return;
    }
    if (rc == ROMA_EUNAVAIL) {
        reply_sys(reply, rc);
        return;
    }
    /* any other failure is reported per message (state "fail"), as the data plane documents */
    cJSON *o = cJSON_CreateObject();
    cJSON *arr = o ? cJSON_AddArrayToObject(o, "results") : NULL;
    for (i = 0; arr && i < n; i++) {
        cJSON *r = cJSON_CreateObject();
        if (!r || !cJSON_AddItemToArray(arr, r)) {
            cJSON_Delete(r);
            arr = NULL;
            break;
        }
        cJSON_AddBoolToObject(r, "ok", rc == 0 && out[i].ok);
        cJSON_AddNumberToObject(r, "partition", out[i].partition);
        cJSON_AddNumberToObject(r, "offset", (double)out[i].offset);
    }
    if (!arr) {
        cJSON_Delete(o);
        o = NULL;
    }
    reply_body(reply, o);
}

static cJSON *msgs_to_json(const engine_msgs *ms, int full)
{
    cJSON *arr = cJSON_CreateArray();
    for (int i = 0; arr && i < ms->n; i++) {
        const engine_msg *e = &ms->v[i];
        cJSON *o = cJSON_CreateObject();
        if (!o || !cJSON_AddItemToArray(arr, o)) {
            cJSON_Delete(o);
            cJSON_Delete(arr);
            return NULL;
        }
        int ok = cJSON_AddNumberToObject(o, "p", e->partition) && cJSON_AddNumberToObject(o, "o", (double)e->offset) &&
                 cJSON_AddNumberToObject(o, "g", e->gen) && cJSON_AddNumberToObject(o, "ts", (double)e->ts_ms) &&
                 cJSON_AddStringToObject(o, "content", e->content ? e->content : "") &&
                 cJSON_AddStringToObject(o, "id", e->msg_id ? e->msg_id : "");
        if (ok && full)
            ok = cJSON_AddStringToObject(o, "key", e->key ? e->key : "") &&
                 cJSON_AddStringToObject(o, "tag", e->tag ? e->tag : "") &&
                 cJSON_AddStringToObject(o, "app_id", e->app_id ? e->app_id : "") &&
                 (!e->headers || cJSON_AddStringToObject(o, "headers", e->headers));
        if (!ok) {
            cJSON_Delete(arr);
            return NULL;
        }
    }
    return arr;
}

/* Replies {"messages": [...]} for a fetch, or {"messages": [...], "total": n} with every field for a query
 * (full), or the engine's failure rc. Frees got. */
static void reply_msgs(roma_msg *reply, int rc, engine_msgs *got, int full)
{
    if (rc) {
        engine_msgs_free(got);
        reply_sys(reply, rc);
        return;
    }
    int64_t total = got->total;
    cJSON *arr = msgs_to_json(got, full);
    engine_msgs_free(got);
    cJSON *out = cJSON_CreateObject();
    if (!out || !arr || !cJSON_AddItemToObject(out, "messages", arr)) {
        cJSON_Delete(out);
        cJSON_Delete(arr);
        reply_sys(reply, ROMA_ENOMEM);
        return;
    }
    if (full && !cJSON_AddNumberToObject(out, "total", (double)total)) {
        cJSON_Delete(out);
        reply_sys(reply, ROMA_ENOMEM);
        return;
    }
    reply_body(reply, out);
}

/* Long-poll: fetch; when nothing came and time is left, sleep on the engine's doorbell WITHOUT a
 * database connection, then fetch again. Slices of poll_slice_ms bound the delay of redeliveries (a
 * lease expiring rings no bell) and of notifications lost during a LISTEN reconnect. */
static void cmd_consume(manager *m, const roma_msg *req, roma_msg *reply)
{
    const cJSON *b = req->body;
    engine_topic t;
    const char *group = jstr(b, "group");
    long max_msgs, max_bytes, ack_wait_ms, wait_ms;
    if (topic_from_cmd(b, &t) != 0 || !group || !jlong(b, "max_msgs", 1, 10, &max_msgs) ||
        !jlong(b, "max_bytes", 1, 2097152, &max_bytes) || !jlong(b, "ack_wait_ms", 1, 300000, &ack_wait_ms) ||
        !jlong(b, "wait_ms", 0, 30000, &wait_ms)) {
        reply_malformed(reply, req);
        return;
    }
    engine_fetch_opts o = {.max_msgs = (int)max_msgs, .max_bytes = (int)max_bytes, .lease_ms = ack_wait_ms};
    engine_msgs got = {0};
    int64_t end = util_mono_ms() + wait_ms;
    /* never outlive the caller's deadline: an answer after it is thrown away, and the messages it leased
     * would only come back after ack_wait */
    if (req->deadline_ms > 0) {
        int64_t left = req->deadline_ms - util_now_ms() - 200;
        if (util_mono_ms() + left < end) end = util_mono_ms() + left;
    }
    int rc;
    long busy_ms = FETCH_BUSY_RETRY_MIN_MS;
    for (;;) {
        uint64_t token = m->engine->ops->watch(m->engine, t.id);
        if (!gate_enter(m->gate, t.id, group, t.partitions, end)) {
            rc = 0; /* time_wait ran out while the group's other consumers were fetching: nothing for us */
            break;
        }
        rc = m->engine->ops->fetch(m->engine, &t, group, &o, &got, req->rid);
        gate_leave(m->gate, t.id, group);
        if (rc || got.n > 0) break;
        int busy = got.busy;
        engine_msgs_free(&got); /* an empty answer may still own its (unused) array */
        int64_t left = end - util_mono_ms();
        if (left <= 0 || (m->stop && *m->stop)) break;
        if (busy) { /* the group's partitions were held by its other consumers for a moment */
            util_sleep_ms(left < busy_ms ? (long)left : busy_ms);
            if (busy_ms < FETCH_BUSY_RETRY_MAX_MS) busy_ms *= 2;
            continue;
        }
        busy_ms = FETCH_BUSY_RETRY_MIN_MS;
        int slice = (int)(left < m->poll_slice_ms ? left : m->poll_slice_ms);
        (void)m->engine->ops->wait(m->engine, t.id, token, slice, m->stop);
    }
    reply_msgs(reply, rc, &got, 0);
}

static void cmd_ack(manager *m, const roma_msg *req, roma_msg *reply)
{
    const cJSON *b = req->body;
    engine_topic t;
    const char *group = jstr(b, "group");
    const cJSON *acks = cJSON_GetObjectItemCaseSensitive(b, "acks");
    int n = cJSON_GetArraySize(acks);
    if (topic_from_cmd(b, &t) != 0 || !group || !cJSON_IsArray(acks) || n > ACK_MAX) {
        reply_malformed(reply, req);
        return;
    }
    engine_ack a[ACK_MAX];
    int i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, acks)
    {
        long p, g;
        int64_t off;
        const cJSON *ok = cJSON_GetObjectItemCaseSensitive(it, "ok");
        if (!jlong(it, "p", 0, 49, &p) || !jint64(it, "o", &off) || !jlong(it, "g", 0, 2147483647L, &g) ||
            !cJSON_IsBool(ok)) {
            reply_malformed(reply, req);
            return;
        }
        a[i++] = (engine_ack){.partition = (int)p, .offset = off, .gen = (int)g, .ok = cJSON_IsTrue(ok)};
    }
    int acked = 0;
    int rc = m->engine->ops->ack(m->engine, &t, group, a, n, &acked, req->rid);
    if (rc) {
        reply_sys(reply, rc);
        return;
    }
    cJSON *o = cJSON_CreateObject();
    if (o && !cJSON_AddNumberToObject(o, "acked", acked)) {
        cJSON_Delete(o);
        o = NULL;
    }
    reply_body(reply, o);
}

static void cmd_query(manager *m, const roma_msg *req, roma_msg *reply)
{
    const cJSON *b = req->body;
    engine_topic t;
    long lim, skip, part;
    int64_t v;
    engine_query q = {.start_ms = -1, .end_ms = -1, .partition = -1, .offset = -1};
    if (topic_from_cmd(b, &t) != 0 || !jlong(b, "limit", 1, 1000, &lim) || !jlong(b, "skip", 0, 100000000L, &skip)) {
        reply_malformed(reply, req);
        return;
    }
    q.limit = (int)lim;
    q.skip = (int)skip;
    if (jint64(b, "start_ms", &v)) q.start_ms = v;
    if (jint64(b, "end_ms", &v)) q.end_ms = v;
    if (jlong(b, "partition", 0, 49, &part)) q.partition = (int)part;
    if (jint64(b, "offset", &v)) q.offset = v;
    q.key = jstr(b, "key");
    q.msg_id = jstr(b, "message_id");
    q.tag = jstr(b, "tag");
    q.asc = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(b, "asc"));
    engine_msgs got = {0};
    int rc = m->engine->ops->query(m->engine, &t, &q, &got, req->rid);
    reply_msgs(reply, rc, &got, 1);
}

static void cmd_resend(manager *m, const roma_msg *req, roma_msg *reply)
{
    const cJSON *b = req->body;
    engine_topic t;
    long part;
    int64_t off;
    if (topic_from_cmd(b, &t) != 0 || !jlong(b, "partition", 0, 49, &part) || !jint64(b, "offset", &off)) {
        reply_malformed(reply, req);
        return;
    }
    engine_msg msg;
    int rc = m->engine->ops->get(m->engine, &t, (int)part, off, &msg, req->rid);
    if (rc == ROMA_ENOTFOUND) {
        reply_fail(reply, rc, 400, MQS_E_MSG_NOT_FOUND, "No message at partition %ld offset %" PRId64 " of topic %s.",
                   part, off, t.name ? t.name : "");
        return;
    }
    if (rc) {
        reply_sys(reply, rc);
        return;
    }
    char *headers = NULL;
    const char *ck = jstr(b, "consumer_key");
    if (ck && *ck) {
        cJSON *h = cJSON_CreateObject();
        if (h && cJSON_AddStringToObject(h, "consumer_key", ck)) headers = cJSON_PrintUnformatted(h);
        cJSON_Delete(h);
        if (!headers) {
            engine_msg_clear(&msg);
            reply_sys(reply, ROMA_ENOMEM);
            return;
        }
    }
    engine_append_out out;
    rc = m->engine->ops->resend(m->engine, &t, &msg, headers, &out, req->rid);
    engine_msg_clear(&msg);
    cJSON_free(headers);
    if (rc == ROMA_ENOTFOUND) {
        reply_fail(reply, rc, 404, MQS_E_TOPIC_NOT_FOUND, "The topic %s does not exist.", t.name ? t.name : "");
        return;
    }
    if (rc) {
        reply_sys(reply, rc);
        return;
    }
    cJSON *o = cJSON_CreateObject();
    if (o && (!cJSON_AddNumberToObject(o, "partition", out.partition) ||
              !cJSON_AddNumberToObject(o, "offset", (double)out.offset))) {
        cJSON_Delete(o);
        o = NULL;
    }
    reply_body(reply, o);
    log_info(req->rid, "topic.resent", "topic %s partition %ld offset %" PRId64 " -> offset %" PRId64,
             t.name ? t.name : "", part, off, out.offset);
}

/* ---- dispatch ---- */

typedef void (*cmd_fn)(manager *m, const roma_msg *req, roma_msg *reply);

static const struct {
    const char *type;
    cmd_fn fn;
} commands[] = {
    {TOPIC_CMD_CREATE, cmd_create},   {TOPIC_CMD_UPDATE, cmd_update},   {TOPIC_CMD_DELETE, cmd_delete},
    {TOPIC_CMD_ACL_SET, cmd_acl_set}, {TOPIC_CMD_ACL_ADD, cmd_acl_add}, {TOPIC_CMD_IMPORT, cmd_import},
    {TOPIC_CMD_PRODUCE, cmd_produce}, {TOPIC_CMD_CONSUME, cmd_consume}, {TOPIC_CMD_ACK, cmd_ack},
    {TOPIC_CMD_QUERY, cmd_query},     {TOPIC_CMD_RESEND, cmd_resend},
};

void manager_handle(void *arg, const roma_msg *req, roma_msg *reply)
{
    manager *m = arg;
    if (!cJSON_IsObject(req->body)) {
        reply_fail(reply, ROMA_EINVAL, 400, MQS_E_BAD_PARAM, "The command %s has no body.", req->type);
        return;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (!strcmp(commands[i].type, req->type)) {
            commands[i].fn(m, req, reply);
            return;
        }
    }
    log_warn(req->rid, "topic.unknown_command", "unknown command type %s", req->type);
    reply_fail(reply, ROMA_EINVAL, 400, MQS_E_BAD_PARAM, "Unknown command %s.", req->type);
}
