/* main.c: the roma-asset-worker process: configuration, one PostgreSQL connection per executor thread,
 * the lease renewal thread, and the "job.run" handler that claims a job and runs its type's module.
 *
 *   roma-asset-worker                 serve (SIGTERM/SIGINT: stop taking work, let running jobs reach
 *                                     their next step and give them back, exit 0)
 *   roma-asset-worker --check         health probe for docker-compose: exit 0 when the database is
 *                                     reachable and the job ledger exists, 1 otherwise
 *   roma-asset-worker --help-config   the settings below as Markdown */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "asset_job.h"
#include "config.h"
#include "db.h"
#include "job.h"
#include "log.h"
#include "service.h"
#include "worker.h"

worker_cfg g_wcfg;
volatile sig_atomic_t g_stop;

static const cfg_entry config_table[] = {
    {"ROMA_DATABASE_URL", CFG_STR, "postgresql://roma:roma@127.0.0.1:5432/roma", "libpq connection string or URL", &g_wcfg.database_url, 0, 0},
    {"ROMA_BROKER_BACKEND", CFG_STR, "tcp://127.0.0.1:5556", "broker endpoint for workers", &g_wcfg.backend, 0, 0},
    {"ROMA_SECRET_KEY", CFG_STR, "", "64 hex chars: the deployment key (opens sealed secrets of imported packages)", &g_wcfg.secret_key, 0, 0},
    {"ROMA_SECRET_KEY_FILE", CFG_STR, "var/secret.key", "file holding the key when ROMA_SECRET_KEY is empty", &g_wcfg.secret_key_file, 0, 0},
    {"ROMA_ASSET_CONCURRENCY", CFG_INT, "2", "asset jobs this process runs at once (one DB connection each)", &g_wcfg.concurrency, 1, 64},
    {"ROMA_JOB_LEASE_MS", CFG_INT, "3000", "lease of a claimed job; a worker silent this long loses the job to another", &g_wcfg.lease_ms, 200, 3600000},
    {"ROMA_JOB_HEARTBEAT_MS", CFG_INT, "1000", "lease renewal period (keep well under ROMA_JOB_LEASE_MS)", &g_wcfg.heartbeat_ms, 50, 600000},
    {"ROMA_ASSET_BATCH_SIZE", CFG_INT, "500", "apps read per page while exporting / checked per step while deleting", &g_wcfg.batch, 1, 10000},
    {"ROMA_ARCHIVE_TTL_S", CFG_INT, "86400", "how long an export archive stays downloadable", &g_wcfg.archive_ttl_s, 60, 31536000},
    {"ROMA_ASSET_TMP_DIR", CFG_STR, "/tmp", "directory for the temporary zip of a running export", &g_wcfg.tmp_dir, 0, 0},
    {"ROMA_JOB_MAX_REASONS", CFG_INT, "100", "reasons a job keeps; beyond, one last reason (ROMA.00015007) counts the rest", &g_wcfg.max_reasons, 1, ASSET_REASONS_MAX},
    {"ROMA_IMPORT_MAX_ENTRIES", CFG_INT, "10001", "entries an import package may hold (manifest included); more: FAILED, ROMA.00015008", &g_wcfg.import_max_entries, 1, 1000000},
    {"ROMA_IMPORT_MAX_ENTRY_BYTES", CFG_INT, "1048576", "inflated bytes of one package entry (an app document with 1,000 members is about 150 KiB)", &g_wcfg.import_max_entry_bytes, 4096, 67108864},
    {"ROMA_IMPORT_MAX_BYTES", CFG_INT, "67108864", "inflated bytes of a whole import package (counted while inflating, not from the zip's claims)", &g_wcfg.import_max_bytes, 65536, 4294967296L},
    {"ROMA_ASSET_TEST_DELAY_MS", CFG_INT, "0", "TEST ONLY: sleep between job steps so fault tests can catch jobs mid-way", &g_wcfg.test_delay_ms, 0, 60000},
    {"ROMA_LOG_LEVEL", CFG_STR, "info", "debug, info, warn or error", &g_wcfg.log_level, 0, 0},
};
#define CONFIG_N (sizeof config_table / sizeof config_table[0])

/* one connection per executor thread: handlers on a thread run serially, so no locking is needed */
static PGconn *thread_db[ROMA_WORKER_MAX_CONCURRENCY];

static void thread_init(void *arg, int index)
{
    (void)arg;
    char err[256];
    thread_db[index] = db_connect(g_wcfg.database_url, err, sizeof err);
    if (!thread_db[index]) log_warn(NULL, "db.connect_failed", "executor %d: %s (retried per job)", index, err);
}

static void thread_fini(void *arg, int index)
{
    (void)arg;
    if (thread_db[index]) PQfinish(thread_db[index]);
    thread_db[index] = NULL;
}

/* The executor's connection, re-opened when the server went away. NULL when unreachable. */
static PGconn *executor_db(int index)
{
    PGconn *db = thread_db[index];
    if (db && PQstatus(db) != CONNECTION_OK) {
        PQreset(db);
        if (PQstatus(db) != CONNECTION_OK) {
            PQfinish(db);
            db = thread_db[index] = NULL;
        }
    }
    if (!db) thread_init(NULL, index);
    return thread_db[index];
}

static void handle(void *arg, const roma_msg *req, roma_msg *reply)
{
    (void)arg;
    const char *job_id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(req->body, "job_id"));
    if (strcmp(req->type, ASSET_JOB_CMD) != 0 || !job_id) {
        log_warn(req->rid, "job.bad_command", "ignoring command %s", req->type);
        reply->status = ROMA_EINVAL;
        return;
    }
    int slot = roma_worker_thread_index();
    PGconn *db = slot >= 0 ? executor_db(slot) : NULL;
    if (!db) { /* the job stays in the ledger: the sweeper re-dispatches it */
        reply->status = ROMA_EUNAVAIL;
        return;
    }
    job j;
    int rc = job_claim(db, job_id, slot, &j);
    if (rc != 0) {
        if (rc == ROMA_ENOTFOUND)
            log_debug(req->rid, "job.not_claimable", "job %.40s: finished or held by a live lease", job_id);
        reply->status = rc == ROMA_ENOTFOUND ? 0 : rc;
        return;
    }
    if (!strcmp(j.type, "exportAsset"))
        rc = export_run(&j);
    else if (!strcmp(j.type, "deleteAsset"))
        rc = delete_run(&j);
    else
        rc = import_run(&j);
    if (rc == JOB_FENCED) {
        log_warn(j.rid, "job.fenced", "job %s attempt %d: a newer attempt owns the job; stopped without effects", j.id,
                 j.attempt);
    } else if (rc != 0) {
        log_warn(j.rid, "job.interrupted", "job %s attempt %d: %s", j.id, j.attempt,
                 rc == JOB_STOPPING ? "worker stopping" : roma_strerror(rc));
        job_release(&j, rc == JOB_STOPPING);
    }
    job_done(&j);
    reply->status = rc == JOB_FENCED ? 0 : rc;
}

int main(int argc, char **argv)
{
    if (cfg_handle_args(argc, argv, config_table, CONFIG_N)) return 0;
    if (service_load_config("asset-worker", config_table, CONFIG_N, &g_wcfg.log_level, "config.invalid") != 0)
        return 2;
    if (argc > 1 && !strcmp(argv[1], "--check")) {
        /* one connection, one query on the ledger */
        int rc = service_check_db("roma-asset-worker", g_wcfg.database_url,
                                  "SELECT count(*) FROM asset_jobs WHERE false");
        cfg_free(config_table, CONFIG_N);
        return rc;
    }
    if (argc > 1) {
        fprintf(stderr, "usage: roma-asset-worker [--check | --help-config | --version]\n");
        cfg_free(config_table, CONFIG_N);
        return 2;
    }
    if (g_wcfg.test_delay_ms > 0)
        log_warn(NULL, "config.test_delay", "ROMA_ASSET_TEST_DELAY_MS=%ld: test-only slowdown active", g_wcfg.test_delay_ms);
    if (service_init_secret_key(g_wcfg.secret_key, g_wcfg.secret_key_file) != 0) {
        cfg_free(config_table, CONFIG_N);
        return 2;
    }
    service_install_signals(&g_stop);

    int rc = 1;
    roma_worker *w = roma_worker_new(g_wcfg.backend, ASSET_JOB_KIND, (int)g_wcfg.concurrency);
    if (w && lease_start((int)g_wcfg.concurrency) == 0) {
        roma_worker_set_thread_hooks(w, thread_init, thread_fini, NULL);
        log_info(NULL, "worker.started", "asset worker: concurrency %ld, lease %ld ms, broker %s", g_wcfg.concurrency,
                 g_wcfg.lease_ms, g_wcfg.backend);
        rc = roma_worker_run(w, handle, NULL, &g_stop) == 0 ? 0 : 1;
        lease_stop();
    } else {
        log_error(NULL, "worker.start_failed", "cannot start the worker");
    }
    roma_worker_free(w);
    cfg_free(config_table, CONFIG_N);
    log_info(NULL, "worker.stopped", "exit %d", rc);
    return rc;
}
