/* engine_pg.c: the embedded message engine "openroma-pg": messages, consumer-group cursors and leases in
 * PostgreSQL (tables and functions of migrations/005_topics.sql), wake-ups through LISTEN/NOTIFY
 * (notify.c). Every operation is one round trip to a plpgsql function or one statement, on a pooled
 * connection held only for that statement. See engine.h for the contract. */
#include "engine.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "db.h"
#include "log.h"
#include "notify.h"
#include "util.h"

#define PG_ACQUIRE_TIMEOUT_MS 5000
#define PG_NOTIFY_CHANNEL "mqs_msg"

typedef struct pg_engine {
    db_pool *pool;
    notify_hub *hub;
    atomic_uint rr; /* round-robin partition chooser */
} pg_engine;

static pg_engine *impl_of(topic_engine *e) { return e->impl; }

void engine_msg_clear(engine_msg *m)
{
    if (!m) return;
    free(m->msg_id);
    free(m->key);
    free(m->tag);
    free(m->app_id);
    free(m->headers);
    free(m->content);
    memset(m, 0, sizeof *m);
}

void engine_msgs_free(engine_msgs *m)
{
    if (!m) return;
    for (int i = 0; i < m->n; i++) engine_msg_clear(&m->v[i]);
    free(m->v);
    m->v = NULL;
    m->n = 0;
    m->total = 0;
}

static PGconn *pg_acquire(pg_engine *pe, const char *rid)
{
    PGconn *c = db_acquire(pe->pool, PG_ACQUIRE_TIMEOUT_MS);
    if (!c) log_warn(rid, "engine.db_unavailable", "no database connection for the message engine");
    return c;
}

/* ---- topic lifecycle (inside the manager's metadata transaction) ---- */

static int pg_topic_create(topic_engine *e, PGconn *meta, const engine_topic *t, const char *rid)
{
    (void)e;
    char id[24], n[16];
    snprintf(id, sizeof id, "%" PRId64, t->id);
    snprintf(n, sizeof n, "%d", t->partitions);
    const char *p[] = {id, n};
    PGresult *res = db_exec(meta,
                            "INSERT INTO mqs_partitions (topic_id, partition)"
                            " SELECT $1::bigint, g FROM generate_series(0, $2::int - 1) AS g ON CONFLICT DO NOTHING",
                            2, p);
    int ok = db_ok(res, PGRES_COMMAND_OK, rid);
    PQclear(res);
    return ok ? 0 : ROMA_EIO;
}

/* Partitions cannot change (UpdateMqsInstanceTopic has no partition field) and retention is read from the
 * metadata row at each pass: nothing to do. */
static int pg_topic_alter(topic_engine *e, PGconn *meta, const engine_topic *t, const char *rid)
{
    (void)e, (void)meta, (void)t, (void)rid;
    return 0;
}

/* Deleting the metadata row cascades to partitions, cursors and leases, and its trigger queues the
 * messages for the background purge (retention_run): nothing to do here, and the delete stays O(1) in
 * the number of messages. */
static int pg_topic_delete(topic_engine *e, PGconn *meta, const engine_topic *t, const char *rid)
{
    (void)e, (void)meta, (void)t, (void)rid;
    return 0;
}

/* ---- produce ---- */

/* Builds the JSON array parameter of mqs_append(): [{"c":content,"i":id,"k":key,"t":tag}...]. */
static char *append_param(const engine_msg_in *msgs, int n)
{
    cJSON *arr = cJSON_CreateArray();
    if (!arr) return NULL;
    for (int i = 0; i < n; i++) {
        cJSON *o = cJSON_CreateObject();
        if (!o) goto fail;
        if (!cJSON_AddItemToArray(arr, o)) {
            cJSON_Delete(o);
            goto fail;
        }
        /* o is owned by arr from here on */
        if (!cJSON_AddStringToObject(o, "c", msgs[i].content) ||
            !cJSON_AddStringToObject(o, "i", msgs[i].id ? msgs[i].id : "") ||
            (msgs[i].key && !cJSON_AddStringToObject(o, "k", msgs[i].key)) ||
            (msgs[i].tag && !cJSON_AddStringToObject(o, "t", msgs[i].tag)))
            goto fail;
    }
    char *s = cJSON_PrintUnformatted(arr);
    cJSON_Delete(arr);
    return s;
fail:
    cJSON_Delete(arr);
    return NULL;
}

static int append_to(pg_engine *pe, const engine_topic *t, int partition, const engine_msg_in *msgs, int n,
                      const char *app_id, const char *headers, engine_append_out *out, const char *rid)
{
    for (int i = 0; i < n; i++) out[i] = (engine_append_out){.ok = 0, .partition = partition, .offset = -1};
    char *param = append_param(msgs, n);
    if (!param) return ROMA_ENOMEM;
    PGconn *c = pg_acquire(pe, rid);
    if (!c) {
        free(param);
        return ROMA_EUNAVAIL;
    }
    char id[24], part[16];
    snprintf(id, sizeof id, "%" PRId64, t->id);
    snprintf(part, sizeof part, "%d", partition);
    const char *p[] = {id, part, param, app_id ? app_id : "", headers, t->sync_flush ? "t" : "f"};
    PGresult *res = db_exec(c,
                            "SELECT base_offset, ts FROM mqs_append($1::bigint, $2::int, $3::json, $4, $5::json, $6::bool)",
                            6, p);
    free(param);
    int rc = 0;
    if (!db_ok(res, PGRES_TUPLES_OK, rid)) {
        rc = ROMA_EIO;
    } else if (PQntuples(res) != 1) {
        rc = ROMA_ENOTFOUND;
    } else {
        long long base = atoll(PQgetvalue(res, 0, 0));
        for (int i = 0; i < n; i++) {
            out[i].ok = 1;
            out[i].offset = base + i;
        }
    }
    PQclear(res);
    db_release(pe->pool, c);
    return rc;
}

/* Why one partition per call: a batch becomes one transaction that takes one partition lock, so a
 * produce request of 10 messages costs one round trip and one commit. Partitions rotate per call. */
static int pg_append(topic_engine *e, const engine_topic *t, const engine_msg_in *msgs, int n, const char *app_id,
                     const char *headers, engine_append_out *out, const char *rid)
{
    pg_engine *pe = impl_of(e);
    if (n <= 0 || t->partitions <= 0) return ROMA_EINVAL;
    unsigned k = atomic_fetch_add(&pe->rr, 1u);
    int partition = (int)(k % (unsigned)t->partitions);
    return append_to(pe, t, partition, msgs, n, app_id, headers, out, rid);
}

/* ---- consume ---- */

static char *dup_field(PGresult *res, int row, int col)
{
    if (PQgetisnull(res, row, col)) return NULL;
    return strdup(PQgetvalue(res, row, col));
}

static int pg_fetch(topic_engine *e, const engine_topic *t, const char *group, const engine_fetch_opts *o,
                    engine_msgs *out, const char *rid)
{
    pg_engine *pe = impl_of(e);
    memset(out, 0, sizeof *out);
    PGconn *c = pg_acquire(pe, rid);
    if (!c) return ROMA_EUNAVAIL;
    char id[24], max[16], bytes[16], lease[24];
    snprintf(id, sizeof id, "%" PRId64, t->id);
    snprintf(max, sizeof max, "%d", o->max_msgs);
    snprintf(bytes, sizeof bytes, "%d", o->max_bytes);
    snprintf(lease, sizeof lease, "%" PRId64, o->lease_ms);
    const char *p[] = {id, group, max, bytes, lease};
    PGresult *res = db_exec(c,
                            "SELECT partition, \"offset\", gen, ts, msg_id, content"
                            " FROM mqs_fetch($1::bigint, $2, $3::int, $4::int, $5::bigint)",
                            5, p);
    int rc = 0;
    if (!db_ok(res, PGRES_TUPLES_OK, rid)) {
        rc = ROMA_EIO;
    } else if (PQntuples(res) > 0) {
        int n = PQntuples(res);
        out->v = calloc((size_t)n, sizeof *out->v);
        if (!out->v) {
            rc = ROMA_ENOMEM;
        } else {
            for (int i = 0; i < n; i++) {
                if (atoi(PQgetvalue(res, i, 0)) < 0) { /* mqs_fetch's "partitions busy" marker */
                    out->busy = 1;
                    continue;
                }
                engine_msg *m = &out->v[out->n];
                m->partition = atoi(PQgetvalue(res, i, 0));
                m->offset = atoll(PQgetvalue(res, i, 1));
                m->gen = atoi(PQgetvalue(res, i, 2));
                m->ts_ms = atoll(PQgetvalue(res, i, 3));
                m->msg_id = dup_field(res, i, 4);
                m->content = dup_field(res, i, 5);
                m->content_len = m->content ? (size_t)PQgetlength(res, i, 5) : 0;
                out->n++;
                if (!m->content) {
                    rc = ROMA_ENOMEM;
                    break;
                }
            }
            out->total = out->n;
        }
    }
    PQclear(res);
    db_release(pe->pool, c);
    if (rc != 0) engine_msgs_free(out);
    return rc;
}

/* Formats "{a,b,c}" array literals of integers. */
static char *int_array(const engine_ack *a, int n, int which)
{
    size_t cap = (size_t)n * 24 + 3;
    char *s = malloc(cap);
    if (!s) return NULL;
    size_t len = 0;
    s[len++] = '{';
    for (int i = 0; i < n; i++) {
        int w;
        if (which == 0) w = snprintf(s + len, cap - len, "%s%d", i ? "," : "", a[i].partition);
        else if (which == 1) w = snprintf(s + len, cap - len, "%s%" PRId64, i ? "," : "", a[i].offset);
        else if (which == 2) w = snprintf(s + len, cap - len, "%s%d", i ? "," : "", a[i].gen);
        else w = snprintf(s + len, cap - len, "%s%s", i ? "," : "", a[i].ok ? "t" : "f");
        if (w < 0 || (size_t)w >= cap - len) {
            free(s);
            return NULL;
        }
        len += (size_t)w;
    }
    s[len++] = '}';
    s[len] = '\0';
    return s;
}

static int pg_ack(topic_engine *e, const engine_topic *t, const char *group, const engine_ack *acks, int n, int *acked,
                  const char *rid)
{
    pg_engine *pe = impl_of(e);
    *acked = 0;
    if (n <= 0) return 0;
    char *arr[4] = {0};
    int rc = 0;
    for (int i = 0; i < 4; i++)
        if (!(arr[i] = int_array(acks, n, i))) rc = ROMA_ENOMEM;
    PGconn *c = rc ? NULL : pg_acquire(pe, rid);
    if (!rc && !c) rc = ROMA_EUNAVAIL;
    if (!rc) {
        char id[24];
        snprintf(id, sizeof id, "%" PRId64, t->id);
        const char *p[] = {id, group, arr[0], arr[1], arr[2], arr[3]};
        PGresult *res = db_exec(c, "SELECT mqs_ack($1::bigint, $2, $3::int[], $4::bigint[], $5::int[], $6::bool[])", 6, p);
        if (db_ok(res, PGRES_TUPLES_OK, rid) && PQntuples(res) == 1)
            *acked = atoi(PQgetvalue(res, 0, 0));
        else
            rc = ROMA_EIO;
        PQclear(res);
        db_release(pe->pool, c);
    }
    for (int i = 0; i < 4; i++) free(arr[i]);
    return rc;
}

/* ---- control-plane message query ---- */

#define QUERY_COLS "partition, \"offset\", ts, msg_id, key, tag, app_id, headers::text, content"

static int fill_msg(PGresult *res, int i, engine_msg *m)
{
    m->partition = atoi(PQgetvalue(res, i, 0));
    m->offset = atoll(PQgetvalue(res, i, 1));
    m->ts_ms = atoll(PQgetvalue(res, i, 2));
    m->msg_id = dup_field(res, i, 3);
    m->key = dup_field(res, i, 4);
    m->tag = dup_field(res, i, 5);
    m->app_id = dup_field(res, i, 6);
    m->headers = dup_field(res, i, 7);
    m->content = dup_field(res, i, 8);
    m->content_len = m->content ? (size_t)PQgetlength(res, i, 8) : 0;
    return m->msg_id && m->key && m->tag && m->app_id && m->content ? 0 : ROMA_ENOMEM;
}

static int pg_query(topic_engine *e, const engine_topic *t, const engine_query *q, engine_msgs *out, const char *rid)
{
    pg_engine *pe = impl_of(e);
    memset(out, 0, sizeof *out);
    /* every filter is a parameter; an unset one is passed as NULL and disabled by "$n IS NULL OR" */
    char id[24], s[24], en[24], part[16], off[24], lim[16], skip[16];
    snprintf(id, sizeof id, "%" PRId64, t->id);
    snprintf(s, sizeof s, "%" PRId64, q->start_ms);
    snprintf(en, sizeof en, "%" PRId64, q->end_ms);
    snprintf(part, sizeof part, "%d", q->partition);
    snprintf(off, sizeof off, "%" PRId64, q->offset);
    snprintf(lim, sizeof lim, "%d", q->limit);
    snprintf(skip, sizeof skip, "%d", q->skip);
    const char *p[] = {id,
                       q->start_ms >= 0 ? s : NULL,
                       q->end_ms >= 0 ? en : NULL,
                       q->partition >= 0 ? part : NULL,
                       q->offset >= 0 ? off : NULL,
                       q->key,
                       q->msg_id,
                       q->tag,
                       lim,
                       skip};
    char sql[1024];
    snprintf(sql, sizeof sql,
             "SELECT " QUERY_COLS ", count(*) OVER () FROM mqs_messages"
             " WHERE topic_id = $1::bigint AND ($2::bigint IS NULL OR ts >= $2::bigint)"
             " AND ($3::bigint IS NULL OR ts <= $3::bigint) AND ($4::int IS NULL OR partition = $4::int)"
             " AND ($5::bigint IS NULL OR \"offset\" = $5::bigint) AND ($6::text IS NULL OR key = $6)"
             " AND ($7::text IS NULL OR msg_id = $7) AND ($8::text IS NULL OR tag = $8)"
             " ORDER BY ts %s, partition, \"offset\" LIMIT $9::int OFFSET $10::int",
             q->asc ? "ASC" : "DESC");
    PGconn *c = pg_acquire(pe, rid);
    if (!c) return ROMA_EUNAVAIL;
    PGresult *res = PQexecParams(c, sql, 10, NULL, p, NULL, NULL, 0);
    if (!res) res = PQmakeEmptyPGresult(c, PGRES_FATAL_ERROR);
    int rc = 0;
    if (!db_ok(res, PGRES_TUPLES_OK, rid)) {
        rc = ROMA_EIO;
    } else {
        int n = PQntuples(res);
        if (n > 0) {
            out->v = calloc((size_t)n, sizeof *out->v);
            if (!out->v) rc = ROMA_ENOMEM;
            for (int i = 0; !rc && i < n; i++) {
                out->n = i + 1;
                rc = fill_msg(res, i, &out->v[i]);
            }
            out->total = atoll(PQgetvalue(res, 0, 9));
        }
    }
    PQclear(res);
    /* an offset past the last page returns no row and so no window count: count separately */
    if (!rc && out->n == 0 && q->skip > 0) {
        const char *p2[] = {p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7]};
        PGresult *r2 = db_exec(c,
                               "SELECT count(*) FROM mqs_messages WHERE topic_id = $1::bigint"
                               " AND ($2::bigint IS NULL OR ts >= $2::bigint) AND ($3::bigint IS NULL OR ts <= $3::bigint)"
                               " AND ($4::int IS NULL OR partition = $4::int) AND ($5::bigint IS NULL OR \"offset\" = $5::bigint)"
                               " AND ($6::text IS NULL OR key = $6) AND ($7::text IS NULL OR msg_id = $7)"
                               " AND ($8::text IS NULL OR tag = $8)",
                               8, p2);
        if (db_ok(r2, PGRES_TUPLES_OK, rid) && PQntuples(r2) == 1)
            out->total = atoll(PQgetvalue(r2, 0, 0));
        else
            rc = ROMA_EIO;
        PQclear(r2);
    }
    db_release(pe->pool, c);
    if (rc) engine_msgs_free(out);
    return rc;
}

static int pg_get(topic_engine *e, const engine_topic *t, int partition, int64_t offset, engine_msg *out,
                  const char *rid)
{
    pg_engine *pe = impl_of(e);
    memset(out, 0, sizeof *out);
    char id[24], part[16], off[24];
    snprintf(id, sizeof id, "%" PRId64, t->id);
    snprintf(part, sizeof part, "%d", partition);
    snprintf(off, sizeof off, "%" PRId64, offset);
    const char *p[] = {id, part, off};
    PGconn *c = pg_acquire(pe, rid);
    if (!c) return ROMA_EUNAVAIL;
    PGresult *res = db_exec(c,
                            "SELECT " QUERY_COLS " FROM mqs_messages"
                            " WHERE topic_id = $1::bigint AND partition = $2::int AND \"offset\" = $3::bigint",
                            3, p);
    int rc = 0;
    if (!db_ok(res, PGRES_TUPLES_OK, rid)) rc = ROMA_EIO;
    else if (PQntuples(res) != 1) rc = ROMA_ENOTFOUND;
    else rc = fill_msg(res, 0, out);
    PQclear(res);
    db_release(pe->pool, c);
    if (rc) engine_msg_clear(out);
    return rc;
}

static int pg_resend(topic_engine *e, const engine_topic *t, const engine_msg *msg, const char *headers,
                     engine_append_out *out, const char *rid)
{
    engine_msg_in in = {.content = msg->content, .id = msg->msg_id, .key = msg->key, .tag = msg->tag};
    return append_to(impl_of(e), t, msg->partition, &in, 1, msg->app_id, headers, out, rid);
}

/* ---- retention ---- */

/* Why a session advisory lock: several topic workers may run; one retention pass at a time is enough and
 * avoids two of them deleting the same rows. The lock dies with the connection if the process does. */
#define RETENTION_LOCK_SQL "SELECT pg_try_advisory_lock(hashtext('openroma.mqs.retention'))"
#define RETENTION_UNLOCK_SQL "SELECT pg_advisory_unlock(hashtext('openroma.mqs.retention'))"

/* Runs sql (whose one row, one column result is the number of rows it deleted) again and again until
 * a run deletes fewer than until_below rows; adds them up in *deleted. 0 or ROMA_EIO. */
static int delete_in_batches(PGconn *c, const char *sql, int np, const char *const *p, int until_below,
                             int64_t *deleted, const char *rid)
{
    for (;;) {
        /* one short autocommitted transaction per batch: it locks only the rows it deletes */
        PGresult *d = db_exec(c, sql, np, p);
        if (!db_ok(d, PGRES_TUPLES_OK, rid) || PQntuples(d) != 1) {
            PQclear(d);
            return ROMA_EIO;
        }
        int n = atoi(PQgetvalue(d, 0, 0));
        PQclear(d);
        *deleted += n;
        if (n < until_below) return 0;
    }
}

static int retention_partitions(PGconn *c, long unit_s, int batch, int64_t *deleted, const char *rid)
{
    PGresult *res = db_exec(c,
                            "SELECT p.topic_id, p.partition, t.retention_time FROM mqs_partitions p"
                            " JOIN mqs_topics t ON t.id = p.topic_id ORDER BY p.topic_id, p.partition",
                            0, NULL);
    if (!db_ok(res, PGRES_TUPLES_OK, rid)) {
        PQclear(res);
        return ROMA_EIO;
    }
    int rc = 0;
    char unit[24], b[16];
    snprintf(unit, sizeof unit, "%ld", unit_s);
    snprintf(b, sizeof b, "%d", batch);
    for (int i = 0; i < PQntuples(res) && !rc; i++) {
        const char *p[] = {PQgetvalue(res, i, 0), PQgetvalue(res, i, 1), PQgetvalue(res, i, 2), unit, b};
        rc = delete_in_batches(c,
                               "SELECT mqs_retention_batch($1::bigint, $2::int,"
                               " mqs_now_ms() - $3::bigint * $4::bigint * 1000, $5::int)",
                               5, p, batch, deleted, rid);
    }
    PQclear(res);
    return rc;
}

static int retention_purge(PGconn *c, int batch, int64_t *deleted, const char *rid)
{
    PGresult *res = db_exec(c, "SELECT topic_id FROM mqs_dead_topics ORDER BY dropped_at LIMIT 100", 0, NULL);
    if (!db_ok(res, PGRES_TUPLES_OK, rid)) {
        PQclear(res);
        return ROMA_EIO;
    }
    int rc = 0;
    char b[16];
    snprintf(b, sizeof b, "%d", batch);
    for (int i = 0; i < PQntuples(res) && !rc; i++) {
        const char *p[] = {PQgetvalue(res, i, 0), b};
        rc = delete_in_batches(c, "SELECT mqs_purge_batch($1::bigint, $2::int)", 2, p, 1, deleted, rid);
    }
    PQclear(res);
    return rc;
}

static int pg_retention_run(topic_engine *e, long unit_s, int batch, int64_t *deleted, const char *rid)
{
    pg_engine *pe = impl_of(e);
    *deleted = 0;
    PGconn *c = pg_acquire(pe, rid);
    if (!c) return ROMA_EUNAVAIL;
    PGresult *l = db_exec(c, RETENTION_LOCK_SQL, 0, NULL);
    int got = db_ok(l, PGRES_TUPLES_OK, rid) && PQntuples(l) == 1 && !strcmp(PQgetvalue(l, 0, 0), "t");
    PQclear(l);
    if (!got) {
        db_release(pe->pool, c);
        return 0; /* another worker is on it */
    }
    int rc = retention_partitions(c, unit_s, batch, deleted, rid);
    if (!rc) rc = retention_purge(c, batch, deleted, rid);
    PGresult *u = db_exec(c, RETENTION_UNLOCK_SQL, 0, NULL);
    if (!db_ok(u, PGRES_TUPLES_OK, rid)) {
        /* an unlock that failed leaves the lock on this pooled connection: drop the connection */
        PQclear(u);
        PQfinish(c);
        db_release(pe->pool, NULL);
        return ROMA_EIO;
    }
    PQclear(u);
    db_release(pe->pool, c);
    return rc;
}

/* ---- wake-ups ---- */

static uint64_t pg_watch(topic_engine *e, int64_t topic_id)
{
    return notify_hub_generation(impl_of(e)->hub, topic_id);
}

static int pg_wait(topic_engine *e, int64_t topic_id, uint64_t token, int timeout_ms, volatile sig_atomic_t *stop)
{
    return notify_hub_wait(impl_of(e)->hub, topic_id, token, timeout_ms, stop);
}

static void pg_destroy(topic_engine *e)
{
    if (!e) return;
    pg_engine *pe = impl_of(e);
    if (pe) {
        notify_hub_free(pe->hub);
        db_pool_free(pe->pool);
        free(pe);
    }
    free(e);
}

static const engine_ops pg_ops = {
    .name = "openroma-pg",
    .version = "1.0",
    .topic_create = pg_topic_create,
    .topic_alter = pg_topic_alter,
    .topic_delete = pg_topic_delete,
    .append = pg_append,
    .fetch = pg_fetch,
    .ack = pg_ack,
    .query = pg_query,
    .get = pg_get,
    .resend = pg_resend,
    .retention_run = pg_retention_run,
    .watch = pg_watch,
    .wait = pg_wait,
    .destroy = pg_destroy,
};

topic_engine *engine_pg_new(const char *conninfo, int pool_size)
{
    topic_engine *e = calloc(1, sizeof *e);
    pg_engine *pe = calloc(1, sizeof *pe);
    if (!e || !pe) {
        free(e);
        free(pe);
        return NULL;
    }
    e->ops = &pg_ops;
    e->impl = pe;
    pe->pool = db_pool_new(conninfo, pool_size);
    pe->hub = pe->pool ? notify_hub_new(conninfo, PG_NOTIFY_CHANNEL) : NULL;
    if (!pe->pool || !pe->hub) {
        log_error(NULL, "engine.init_failed", "cannot create the openroma-pg engine");
        pg_destroy(e);
        return NULL;
    }
    return e;
}
