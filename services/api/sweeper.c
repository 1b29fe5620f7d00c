/* sweeper.c: re-dispatch of lost or orphaned asset jobs (see sweeper.h).
 * ZeroMQ is only the doorbell: this loop is what guarantees a committed job is eventually run (or
 * FAILED with a reason) whatever happened to its command, the broker or its worker. */
#include "sweeper.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "asset_job.h"
#include "client.h"
#include "command.h"
#include "config.h"
#include "db.h"
#include "log.h"
#include "util.h"

sweeper_config g_sweeper_cfg;

static const cfg_entry sweeper_table[] = {
    {"ROMA_SWEEP_INTERVAL_MS", CFG_INT, "500", "how often the job sweeper looks for lost or orphaned asset jobs", &g_sweeper_cfg.interval_ms, 10, 60000},
    {"ROMA_SWEEP_BATCH", CFG_INT, "100", "most jobs the sweeper handles per step and round", &g_sweeper_cfg.batch, 1, 10000},
    {"ROMA_JOB_MAX_ATTEMPTS", CFG_INT, "5", "claims an asset job gets before it is FAILED (a worker's graceful release does not count)", &g_sweeper_cfg.max_attempts, 1, 100},
    {"ROMA_JOB_DISPATCH_GRACE_MS", CFG_INT, "2000", "how long a new job may wait unclaimed before the sweeper re-publishes its command", &g_sweeper_cfg.dispatch_grace_ms, 10, 3600000},
    {"ROMA_JOB_RETRY_BASE_MS", CFG_INT, "500", "first re-dispatch backoff; doubles per re-dispatch, +0..25% jitter", &g_sweeper_cfg.retry_base_ms, 10, 3600000},
    {"ROMA_JOB_RETRY_MAX_MS", CFG_INT, "30000", "cap of the re-dispatch backoff", &g_sweeper_cfg.retry_max_ms, 10, 86400000},
    {"ROMA_JOB_QUEUE_TIMEOUT_S", CFG_INT, "900", "a job no worker claimed (or touched) for this long is FAILED (ROMA.00015004)", &g_sweeper_cfg.queue_timeout_s, 1, 604800},
};
#define SWEEPER_N (sizeof sweeper_table / sizeof sweeper_table[0])

/* archives are rare and their expiry coarse: look at them once a minute, not every round */
#define ARCHIVE_GC_EVERY_MS 60000

static struct {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int started;
    int stop;
    char *db_url;
    char *broker;
} sw = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

int sweeper_config_load(char *err, size_t errlen) { return cfg_load(sweeper_table, SWEEPER_N, err, errlen); }
void sweeper_config_print(void) { cfg_print_markdown(sweeper_table, SWEEPER_N); }
void sweeper_config_free(void) { cfg_free(sweeper_table, SWEEPER_N); }

/* Step 1: jobs out of attempts (and whose last holder is gone) or left unclaimed too long -> FAILED with
 * a job-level reason. The sub-select locks with SKIP LOCKED, so a worker finishing the same job right
 * now (it holds the row lock in its fenced finishing transaction) is simply skipped. */
static void fail_exhausted(PGconn *db)
{
    char limit[24], timeout[24];
    snprintf(limit, sizeof limit, "%ld", g_sweeper_cfg.batch);
    snprintf(timeout, sizeof timeout, "%ld", g_sweeper_cfg.queue_timeout_s);
    const char *p[] = {timeout, limit};
    PGresult *res = db_exec(
        db,
        "WITH dead AS ("
        "  SELECT id, attempt >= max_attempts AS exhausted FROM asset_jobs"
        "  WHERE status IN ('PENDING', 'RUNNING')"
        "    AND ((attempt >= max_attempts AND (status = 'PENDING' OR lease_expires_at < now()))"
        "      OR (status = 'PENDING' AND COALESCE(heartbeat_at, created_at) < now() - make_interval(secs => $1::int)))"
        "  FOR UPDATE SKIP LOCKED LIMIT $2::int)"
        " UPDATE asset_jobs j SET status = 'FAILED', end_time = now(), lease_owner = NULL, lease_expires_at = NULL,"
        "  upload = NULL, reasons = j.reasons || jsonb_build_array(jsonb_build_object("
        "   'resource_type', 'job', 'resource_name', j.id,"
        "   'error_code', CASE WHEN dead.exhausted THEN '" ASSET_ERR_ATTEMPTS "' ELSE '" ASSET_ERR_QUEUE_TIMEOUT "' END,"
        "   'error_msg', CASE WHEN dead.exhausted THEN 'The job failed after ' || j.attempt || ' attempts.'"
        "                ELSE 'No asset worker took the job in time.' END))"
        " FROM dead WHERE j.id = dead.id RETURNING j.id, j.rid, dead.exhausted, j.attempt",
        2, p);
    if (db_ok(res, PGRES_TUPLES_OK, NULL)) {
        for (int i = 0; i < PQntuples(res); i++)
            log_warn(PQgetvalue(res, i, 1), "job.abandoned", "job %s FAILED: %s (attempt %s)", PQgetvalue(res, i, 0),
                     PQgetvalue(res, i, 2)[0] == 't' ? "attempts exhausted" : "queue timeout", PQgetvalue(res, i, 3));
    }
    PQclear(res);
}

static int publish(roma_client *bus, const char *job_id, const char *rid)
{
    roma_msg m;
    proto_msg_init(&m);
    int rc = proto_msg_set(&m, ASSET_JOB_KIND, ASSET_JOB_CMD, rid);
    if (rc == 0) {
        m.body = cJSON_CreateObject();
        rc = m.body && cJSON_AddStringToObject(m.body, "job_id", job_id) ? roma_client_send(bus, &m) : ROMA_ENOMEM;
    }
    proto_msg_clear(&m);
    return rc;
}

/* Step 2: re-publish due jobs. Picking and bumping next_dispatch_at happen in one statement, so the
 * row is claimed for this round by this replica alone; a command that is lost again is re-sent after
 * the (growing) backoff. Duplicated commands are harmless: the worker's claim is fenced. */
static void redispatch_due(PGconn *db, roma_client *bus)
{
    char limit[24], base[24], cap[24];
    snprintf(limit, sizeof limit, "%ld", g_sweeper_cfg.batch);
    snprintf(base, sizeof base, "%ld", g_sweeper_cfg.retry_base_ms);
    snprintf(cap, sizeof cap, "%ld", g_sweeper_cfg.retry_max_ms);
    const char *p[] = {limit, base, cap};
    PGresult *res = db_exec(
        db,
        "WITH due AS ("
        "  SELECT id FROM asset_jobs"
        "  WHERE status IN ('PENDING', 'RUNNING') AND next_dispatch_at <= now() AND attempt < max_attempts"
        "    AND (status = 'PENDING' OR lease_expires_at < now())"
        "  ORDER BY next_dispatch_at FOR UPDATE SKIP LOCKED LIMIT $1::int)"
        " UPDATE asset_jobs j SET dispatches = j.dispatches + 1,"
        "  next_dispatch_at = now() + make_interval(secs =>"
        "    LEAST($3::float8, $2::float8 * power(2, LEAST(j.dispatches, 30))) * (1 + random() * 0.25) / 1000)"
        " FROM due WHERE j.id = due.id RETURNING j.id, j.rid, j.status, j.attempt, j.dispatches",
        3, p);
    if (db_ok(res, PGRES_TUPLES_OK, NULL)) {
        for (int i = 0; i < PQntuples(res); i++) {
            const char *id = PQgetvalue(res, i, 0), *rid = PQgetvalue(res, i, 1);
            int lost_worker = !strcmp(PQgetvalue(res, i, 2), "RUNNING");
            int rc = bus ? publish(bus, id, rid) : ROMA_EUNAVAIL;
            log_info(rid, "job.redispatch", "job %s re-published (%s, attempt %s, dispatch %s)%s%s", id,
                     lost_worker ? "lease expired: worker lost" : "not claimed: command lost or workers busy",
                     PQgetvalue(res, i, 3), PQgetvalue(res, i, 4), rc ? ": bus " : "", rc ? roma_strerror(rc) : "");
        }
    }
    PQclear(res);
}

/* Step 3: expired archives (chunks cascade). */
static void gc_archives(PGconn *db)
{
    PGresult *res = db_exec(db,
                            "DELETE FROM asset_archives WHERE id IN (SELECT id FROM asset_archives"
                            " WHERE expires_at < now() FOR UPDATE SKIP LOCKED LIMIT 100)",
                            0, NULL);
    if (db_ok(res, PGRES_COMMAND_OK, NULL) && atoi(PQcmdTuples(res)) > 0)
        log_info(NULL, "archive.expired", "deleted %s expired archives", PQcmdTuples(res));
    PQclear(res);
}

/* Sleeps up to ms unless stopped. Returns 1 when asked to stop. */
static int wait_or_stop(long ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&sw.mu);
    while (!sw.stop && pthread_cond_timedwait(&sw.cv, &sw.mu, &until) == 0) {
    }
    int stop = sw.stop;
    pthread_mutex_unlock(&sw.mu);
    return stop;
}

static void *sweeper_main(void *arg)
{
    (void)arg;
    void *zctx = zmq_ctx_new();
    roma_client *bus = NULL;
    PGconn *db = NULL;
    int64_t next_gc = 0;
    if (!zctx) log_error(NULL, "sweeper.zmq", "cannot create a ZeroMQ context: %s", zmq_strerror(zmq_errno()));
    log_info(NULL, "sweeper.started", "every %ld ms, max %ld attempts", g_sweeper_cfg.interval_ms,
             g_sweeper_cfg.max_attempts);
    do {
        if (zctx && !bus) bus = roma_client_new(zctx, sw.broker);
        if (!db) {
            char err[256];
            db = db_connect(sw.db_url, err, sizeof err);
            if (!db) log_warn(NULL, "sweeper.db", "cannot connect: %s", err);
        }
        if (db) {
            fail_exhausted(db);
            redispatch_due(db, bus);
            if (util_mono_ms() >= next_gc) {
                gc_archives(db);
                next_gc = util_mono_ms() + ARCHIVE_GC_EVERY_MS;
            }
            if (PQstatus(db) != CONNECTION_OK) { /* server restarted: reconnect next round */
                PQfinish(db);
                db = NULL;
            }
        }
    } while (!wait_or_stop(g_sweeper_cfg.interval_ms));
    roma_client_free(bus);
    if (zctx) zmq_ctx_term(zctx);
    if (db) PQfinish(db);
    log_info(NULL, "sweeper.stopped", "clean stop");
    return NULL;
}

int sweeper_start(const char *database_url, const char *broker_frontend)
{
    sw.db_url = strdup(database_url);
    sw.broker = strdup(broker_frontend);
    if (!sw.db_url || !sw.broker) {
        free(sw.db_url);
        free(sw.broker);
        sw.db_url = sw.broker = NULL;
        return ROMA_ENOMEM;
    }
    sw.stop = 0;
    if (pthread_create(&sw.thread, NULL, sweeper_main, NULL) != 0) {
        free(sw.db_url);
        free(sw.broker);
        sw.db_url = sw.broker = NULL;
        return ROMA_EIO;
    }
    sw.started = 1;
    return 0;
}

void sweeper_stop(void)
{
    if (!sw.started) return;
    pthread_mutex_lock(&sw.mu);
    sw.stop = 1;
    pthread_cond_signal(&sw.cv);
    pthread_mutex_unlock(&sw.mu);
    pthread_join(sw.thread, NULL);
    sw.started = 0;
    free(sw.db_url);
    free(sw.broker);
    sw.db_url = sw.broker = NULL;
}
