/* main.c: the roma-api process: configuration, the database pool, migrations on start, the ZeroMQ bus,
 * the job sweeper and the civetweb server; clean shutdown on SIGTERM/SIGINT. */
#include <civetweb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "bus.h"
#include "config.h"
#include "ds_api.h"
#include "http.h"
#include "json_gate.h"
#include "log.h"
#include "migrate.h"
#include "mqs_config.h"
#include "router.h"
#include "service.h"
#include "sweeper.h"
#include "thread_stack.h"
#include "util.h"

static api_ctx ctx;

static const cfg_entry config_table[] = {
    {"ROMA_HTTP_LISTEN", CFG_STR, "127.0.0.1", "address the HTTP server binds (0.0.0.0 in containers)", &ctx.cfg.listen, 0, 0},
    {"ROMA_HTTP_PORT", CFG_INT, "8080", "HTTP port", &ctx.cfg.port, 1, 65535},
    {"ROMA_HTTP_THREADS", CFG_INT, "2048", "HTTP worker threads: civetweb gives each open connection (idle or slow ones included) a thread, so this bounds the connections served at once; a thread waiting for the database holds no connection of the pool", &ctx.cfg.threads, 1, 16384},
    {"ROMA_HTTP_THREAD_STACK_KB", CFG_INT, "1024", "stack of each HTTP thread in KiB (Debian's civetweb gives 100; untouched pages cost nothing); must hold ROMA_JSON_MAX_DEPTH", &ctx.cfg.thread_stack_kb, 256, 65536},
    {"ROMA_HTTP_REQUEST_TIMEOUT_MS", CFG_INT, "10000", "time a new connection has to send its request headers (slow-header clients are cut off after it); also each body read and write", &ctx.cfg.request_timeout_ms, 100, 600000},
    {"ROMA_HTTP_KEEPALIVE_MS", CFG_INT, "60000", "how long an idle kept-alive connection (and its thread) is kept", &ctx.cfg.keepalive_ms, 100, 3600000},
    {"ROMA_HTTP_LISTEN_BACKLOG", CFG_INT, "1024", "kernel accept queue of the listening socket", &ctx.cfg.listen_backlog, 1, 65535},
    {"ROMA_HTTP_CONNECTION_QUEUE", CFG_INT, "256", "accepted connections waiting for a free HTTP thread", &ctx.cfg.conn_queue, 1, 65535},
    {"ROMA_HTTP_MAX_BODY", CFG_INT, "4194304", "largest accepted request body in bytes (413 above; uploads get 4x)", &ctx.cfg.max_body, 1024, 1073741824},
    {"ROMA_JSON_MAX_DEPTH", CFG_INT, "64", "deepest container nesting of a JSON body (400 above); stored JSON is read with the same limit", &ctx.cfg.json_max_depth, 2, 1000},
    {"ROMA_DATABASE_URL", CFG_STR, "postgresql://roma:roma@127.0.0.1:5432/roma", "libpq connection string or URL", &ctx.cfg.database_url, 0, 0},
    {"ROMA_DB_POOL_SIZE", CFG_INT, "16", "persistent PostgreSQL connections held by the process", &ctx.cfg.db_pool_size, 1, 512},
    {"ROMA_BROKER_FRONTEND", CFG_STR, "tcp://127.0.0.1:5555", "broker endpoint for requesters", &ctx.cfg.broker, 0, 0},
    {"ROMA_SECRET_KEY", CFG_STR, "", "64 hex chars: AES-256-GCM key for secrets at rest (wins over the key file)", &ctx.cfg.secret_key, 0, 0},
    {"ROMA_SECRET_KEY_FILE", CFG_STR, "var/secret.key", "file holding the key (created 0600 by make run)", &ctx.cfg.secret_key_file, 0, 0},
    {"ROMA_MIGRATIONS_DIR", CFG_STR, "migrations", "directory of numbered SQL migrations", &ctx.cfg.migrations_dir, 0, 0},
    {"ROMA_MIGRATE_ON_START", CFG_BOOL, "true", "apply pending migrations at start (advisory-locked, replica-safe)", &ctx.cfg.migrate_on_start, 0, 0},
    {"ROMA_LOG_LEVEL", CFG_STR, "info", "debug, info, warn or error", &ctx.cfg.log_level, 0, 0},
    {"ROMA_TOKEN_TTL_HOURS", CFG_INT, "24", "lifetime of tokens issued by POST /v3/auth/tokens", &ctx.cfg.token_ttl_hours, 1, 8760},
    {"ROMA_SIGN_MAX_SKEW_S", CFG_INT, "900", "largest accepted distance between X-Sdk-Date and the server clock", &ctx.cfg.clock_skew_s, 1, 86400},
    {"ROMA_PUBLIC_URL", CFG_STR, "", "base URL used in links (empty: http://<Host header>)", &ctx.cfg.public_url, 0, 0},
};
#define CONFIG_N (sizeof config_table / sizeof config_table[0])

static volatile sig_atomic_t stop_requested;

/* civetweb thread exit: close the thread's bus socket (sockets belong to their thread) */
static void on_exit_thread(const struct mg_context *mgctx, int thread_type, void *thread_pointer)
{
    (void)mgctx;
    (void)thread_type;
    (void)thread_pointer;
    bus_thread_exit();
}

static int log_civetweb(const struct mg_connection *conn, const char *message)
{
    (void)conn;
    log_warn(NULL, "civetweb", "%s", message);
    return 1;
}

int main(int argc, char **argv)
{
    if (cfg_handle_args(argc, argv, config_table, CONFIG_N)) {
        if (argc > 1 && !strcmp(argv[1], "--help-config")) {
            printf("\n");
            sweeper_config_print();
            printf("\n");
            ds_config_print();
            printf("\n");
            mqs_config_print();
            printf("\n");
            auth_config_print();
        }
        return 0;
    }
    if (service_load_config("api", config_table, CONFIG_N, &ctx.cfg.log_level, "config.invalid") != 0) return 2;
    g_api = &ctx;
    json_gate_set_limits((int)ctx.cfg.json_max_depth, (size_t)ctx.cfg.max_body * 4);
    char err[512];
    if (sweeper_config_load(err, sizeof err) != 0 || mqs_config_load(err, sizeof err) != 0 ||
        auth_config_load(err, sizeof err) != 0) {
        log_error(NULL, "config.invalid", "%s", err);
        return 2;
    }

    if (service_init_secret_key(ctx.cfg.secret_key, ctx.cfg.secret_key_file) != 0) return 2;
    /* before the database wait below, so SIGTERM during it is a clean stop rather than a kill */
    service_install_signals(&stop_requested);
    if (ctx.cfg.migrate_on_start) {
        PGconn *c = NULL;
        /* the database may still be starting (compose, make run): retry for up to 30 s */
        for (int i = 0; i < 60 && !c && !stop_requested; i++) {
            c = db_connect(ctx.cfg.database_url, err, sizeof err);
            if (!c) util_sleep_ms(500);
        }
        if (!c && stop_requested) {
            log_info(NULL, "api.stopped", "stopped while waiting for the database");
            return 0;
        }
        if (!c) {
            log_error(NULL, "db.connect_failed", "%s", err);
            return 3;
        }
        int n = migrate_apply(c, ctx.cfg.migrations_dir, err, sizeof err);
        PQfinish(c);
        if (n < 0) {
            log_error(NULL, "migrate.failed", "%s", err);
            return 3;
        }
    }
    ctx.db = db_pool_new(ctx.cfg.database_url, (int)ctx.cfg.db_pool_size);
    if (!ctx.db || auth_init() != 0) {
        log_error(NULL, "startup.oom", "cannot allocate the pool or caches");
        return 1;
    }
    /* the bus before the server (handlers publish), the sweeper after the bus is ready */
    if (bus_init(ctx.cfg.broker) != 0 || sweeper_start(ctx.cfg.database_url, ctx.cfg.broker) != 0) {
        log_error(NULL, "startup.bus", "cannot start the ZeroMQ bus or the job sweeper");
        return 1;
    }

    char ports[300], threads[16], rto[16], kato[16], backlog[16], queue[16];
    snprintf(ports, sizeof ports, "%s:%ld", ctx.cfg.listen, ctx.cfg.port);
    snprintf(threads, sizeof threads, "%ld", ctx.cfg.threads);
    snprintf(rto, sizeof rto, "%ld", ctx.cfg.request_timeout_ms);
    snprintf(kato, sizeof kato, "%ld", ctx.cfg.keepalive_ms);
    snprintf(backlog, sizeof backlog, "%ld", ctx.cfg.listen_backlog);
    snprintf(queue, sizeof queue, "%ld", ctx.cfg.conn_queue);
    /* civetweb 1.15 serves one connection per thread from accept to close, idle keep-alive time and a
     * slow client's header trickle included: the thread count is the number of connections served at
     * once, and request_timeout_ms bounds how long a client that sends nothing useful holds one. */
    thread_stack_set_min((size_t)ctx.cfg.thread_stack_kb * 1024);
    const char *options[] = {
        "listening_ports", ports,
        "num_threads", threads,
        "listen_backlog", backlog,
        "connection_queue", queue,
        "enable_keep_alive", "yes",
        "tcp_nodelay", "1",
        /* keep the path as sent: the SDK signature covers the encoded form (a %25 must stay %25) */
        "decode_url", "no",
        /* X-Auth-Token may be up to 100000 characters (spec §1.1) */
        "max_request_size", "131072",
        "request_timeout_ms", rto,
        "keep_alive_timeout_ms", kato,
        NULL,
    };
    struct mg_callbacks cb;
    memset(&cb, 0, sizeof cb);
    cb.log_message = log_civetweb;
    cb.http_error = router_http_error;
    cb.exit_thread = on_exit_thread;
    cb.connection_close = router_connection_close;
    mg_init_library(0);
    struct mg_context *mg = mg_start(&cb, NULL, options);
    if (!mg) {
        log_error(NULL, "http.start_failed", "cannot listen on %s", ports);
        db_pool_free(ctx.db);
        return 1;
    }
    mg_set_request_handler(mg, "/", router_handle, NULL);
    log_info(NULL, "api.started", "listening on http://%s (%ld threads, %ld KiB stacks, JSON depth %ld)", ports,
             ctx.cfg.threads, ctx.cfg.thread_stack_kb, ctx.cfg.json_max_depth);

    while (!stop_requested) util_sleep_ms(100);

    log_info(NULL, "api.stopping", "signal received, draining requests");
    mg_stop(mg);
    mg_exit_library();
    sweeper_stop();
    bus_shutdown();
    sweeper_config_free();
    auth_shutdown();
    db_pool_free(ctx.db);
    cfg_free(config_table, CONFIG_N);
    log_info(NULL, "api.stopped", "clean exit");
    return 0;
}
