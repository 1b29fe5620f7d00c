/* main.c: the roma-topic-worker process (the topic manager): configuration, the message engine, the
 * retention thread, and two broker workers served by the same manager:
 *   kind "topic"        topic changes, produce, ack, message query/resend (ROMA_TOPIC_CONCURRENCY executors)
 *   kind "topic-fetch"  consume long-polls (ROMA_TOPIC_FETCH_CONCURRENCY executors, mostly asleep)
 *
 *   roma-topic-worker                 serve (SIGTERM/SIGINT: drain both workers, exit 0)
 *   roma-topic-worker --check         health probe: exit 0 when the database is reachable and the topic
 *                                     tables exist, 1 otherwise
 *   roma-topic-worker --help-config   the settings below as Markdown */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "db.h"
#include "engine.h"
#include "log.h"
#include "manager.h"
#include "service.h"
#include "retention.h"
#include "topic_cmd.h"
#include "util.h"
#include "worker.h"

static struct {
    char *database_url;
    char *backend;
    char *log_level;
    long concurrency;
    long fetch_concurrency;
    long engine_pool;
    long meta_pool;
    long retention_interval_ms;
    long retention_unit_s;
    long retention_batch;
    long poll_slice_ms;
    long test_delay_ms;
} cfg;

static const cfg_entry config_table[] = {
    {"ROMA_DATABASE_URL", CFG_STR, "postgresql://roma:roma@127.0.0.1:5432/roma", "libpq connection string or URL", &cfg.database_url, 0, 0},
    {"ROMA_BROKER_BACKEND", CFG_STR, "tcp://127.0.0.1:5556", "broker endpoint for workers", &cfg.backend, 0, 0},
    {"ROMA_TOPIC_CONCURRENCY", CFG_INT, "8", "executors for topic changes, produce and ack (kind topic)", &cfg.concurrency, 1, ROMA_WORKER_MAX_CONCURRENCY},
    {"ROMA_TOPIC_FETCH_CONCURRENCY", CFG_INT, "64", "executors for consume long-polls (kind topic-fetch); a waiting consumer holds one executor but no DB connection", &cfg.fetch_concurrency, 1, ROMA_WORKER_MAX_CONCURRENCY},
    {"ROMA_TOPIC_DB_POOL_SIZE", CFG_INT, "12", "PostgreSQL connections of the message engine (produce, fetch, ack, retention)", &cfg.engine_pool, 1, 512},
    {"ROMA_TOPIC_META_POOL_SIZE", CFG_INT, "4", "PostgreSQL connections for topic metadata transactions", &cfg.meta_pool, 1, 512},
    {"ROMA_TOPIC_RETENTION_INTERVAL_MS", CFG_INT, "60000", "pause between two retention passes (expired messages, purge of deleted topics)", &cfg.retention_interval_ms, 10, 86400000},
    {"ROMA_TOPIC_RETENTION_UNIT_S", CFG_INT, "3600", "TEST ONLY: seconds per retention_time hour (3600 in production; tests use 1)", &cfg.retention_unit_s, 1, 3600},
    {"ROMA_TOPIC_RETENTION_BATCH", CFG_INT, "5000", "messages deleted per retention transaction", &cfg.retention_batch, 10, 1000000},
    {"ROMA_TOPIC_POLL_SLICE_MS", CFG_INT, "1000", "longest sleep of a consume long-poll between two fetches (bounds redelivery delay)", &cfg.poll_slice_ms, 10, 30000},
    {"ROMA_TOPIC_TEST_DELAY_MS", CFG_INT, "0", "TEST ONLY: pause inside topic create/import transactions so fault tests can kill the worker mid-way", &cfg.test_delay_ms, 0, 600000},
    {"ROMA_LOG_LEVEL", CFG_STR, "info", "debug, info, warn or error", &cfg.log_level, 0, 0},
};
#define CONFIG_N (sizeof config_table / sizeof config_table[0])

static volatile sig_atomic_t g_stop;

typedef struct fetch_thread {
    roma_worker *w;
    manager *m;
    int rc;
} fetch_thread;

static void *fetch_main(void *arg)
{
    fetch_thread *ft = arg;
    ft->rc = roma_worker_run(ft->w, manager_handle, ft->m, &g_stop);
    if (ft->rc != 0) {
        log_error(NULL, "worker.fetch_failed", "the %s worker could not start: stopping the process", TOPIC_KIND_FETCH);
        g_stop = 1;
    }
    return NULL;
}

static int serve(void)
{
    int rc = 1;
    manager m = {.test_delay_ms = cfg.test_delay_ms, .poll_slice_ms = cfg.poll_slice_ms, .stop = &g_stop};
    retention *ret = NULL;
    roma_worker *w = NULL, *wf = NULL;
    m.meta = db_pool_new(cfg.database_url, (int)cfg.meta_pool);
    m.engine = m.meta ? engine_pg_new(cfg.database_url, (int)cfg.engine_pool) : NULL;
    m.gate = gate_new();
    if (!m.meta || !m.engine || !m.gate) goto out;
    ret = retention_start(m.engine, cfg.retention_interval_ms, cfg.retention_unit_s, (int)cfg.retention_batch);
    w = roma_worker_new(cfg.backend, TOPIC_KIND, (int)cfg.concurrency);
    wf = roma_worker_new(cfg.backend, TOPIC_KIND_FETCH, (int)cfg.fetch_concurrency);
    if (!ret || !w || !wf) goto out;

    /* the fetch worker's I/O thread must not take SIGTERM: block signals while creating it */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    fetch_thread ft = {.w = wf, .m = &m};
    pthread_t th;
    int started = pthread_create(&th, NULL, fetch_main, &ft) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!started) {
        log_error(NULL, "worker.start_failed", "cannot start the fetch worker thread");
        goto out;
    }
    log_info(NULL, "worker.started",
             "topic manager: engine %s, concurrency %ld + %ld fetch, retention every %ld ms (unit %ld s), broker %s",
             m.engine->ops->name, cfg.concurrency, cfg.fetch_concurrency, cfg.retention_interval_ms,
             cfg.retention_unit_s, cfg.backend);
    if (cfg.test_delay_ms > 0)
        log_warn(NULL, "config.test_delay", "ROMA_TOPIC_TEST_DELAY_MS=%ld: test-only slowdown active", cfg.test_delay_ms);
    rc = roma_worker_run(w, manager_handle, &m, &g_stop) == 0 ? 0 : 1;
    g_stop = 1;
    pthread_join(th, NULL);
    if (ft.rc != 0) rc = 1;
out:
    if (rc != 0 && !(w && wf)) log_error(NULL, "worker.start_failed", "cannot start the topic manager");
    retention_stop(ret);
    roma_worker_free(w);
    roma_worker_free(wf);
    if (m.engine) m.engine->ops->destroy(m.engine);
    gate_free(m.gate);
    db_pool_free(m.meta);
    return rc;
}

int main(int argc, char **argv)
{
    if (cfg_handle_args(argc, argv, config_table, CONFIG_N)) return 0;
    if (service_load_config("topic-worker", config_table, CONFIG_N, &cfg.log_level, "config.invalid") != 0) return 2;
    if (argc > 1 && !strcmp(argv[1], "--check")) {
        /* one connection, one query on the topic table */
        int rc = service_check_db("roma-topic-worker", cfg.database_url, "SELECT count(*) FROM mqs_topics WHERE false");
        cfg_free(config_table, CONFIG_N);
        return rc;
    }
    if (argc > 1) {
        fprintf(stderr, "usage: roma-topic-worker [--check | --help-config | --version]\n");
        cfg_free(config_table, CONFIG_N);
        return 2;
    }
    service_install_signals(&g_stop);

    int rc = serve();
    cfg_free(config_table, CONFIG_N);
    log_info(NULL, "worker.stopped", "exit %d", rc);
    return rc;
}
