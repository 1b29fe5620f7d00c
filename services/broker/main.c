/* main.c: roma-broker process entry: configuration table, signals, and the `--ping` health probe. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "broker.h"
#include "client.h"
#include "config.h"
#include "log.h"
#include "service.h"
#include "util.h"
#include "wire.h"

#define PING_TIMEOUT_MS 1000

static char *cfg_frontend, *cfg_backend, *cfg_log_level;
static long cfg_heartbeat_ms, cfg_liveness, cfg_queue_max, cfg_stats_ms;

static const cfg_entry s_config[] = {
    {"ROMA_BROKER_FRONTEND", CFG_STR, "tcp://127.0.0.1:5555",
     "endpoint the broker binds for clients (API processes, job sweeper, tools)", &cfg_frontend, 0, 0},
    {"ROMA_BROKER_BACKEND", CFG_STR, "tcp://127.0.0.1:5556", "endpoint the broker binds for workers",
     &cfg_backend, 0, 0},
    {"ROMA_HEARTBEAT_MS", CFG_INT, "1000",
     "heartbeat interval between broker and workers in ms (workers must use the same value)", &cfg_heartbeat_ms,
     10, 60000},
    {"ROMA_HEARTBEAT_LIVENESS", CFG_INT, "3", "missed heartbeats after which a worker is declared dead",
     &cfg_liveness, 1, 100},
    {"ROMA_BROKER_QUEUE_MAX", CFG_INT, "10000",
     "requests waiting per kind when no worker has credit; beyond it commands are dropped and calls get "
     "ROMA_EUNAVAIL",
     &cfg_queue_max, 1, 10000000},
    {"ROMA_BROKER_STATS_MS", CFG_INT, "60000", "period of the stats log line in ms (0 = never)", &cfg_stats_ms, 0,
     86400000},
    {"ROMA_LOG_LEVEL", CFG_STR, "info", "log level: debug, info, warn or error", &cfg_log_level, 0, 0},
};
#define CONFIG_N (sizeof s_config / sizeof s_config[0])

static volatile sig_atomic_t s_stop;

/* `roma-broker --ping [ENDPOINT]`: exit 0 when the broker answers PONG within PING_TIMEOUT_MS
 * (the docker-compose healthcheck). ENDPOINT defaults to $ROMA_BROKER_FRONTEND, then the default. */
static int s_ping(const char *endpoint)
{
    if (!endpoint || !*endpoint) endpoint = getenv("ROMA_BROKER_FRONTEND");
    if (!endpoint || !*endpoint) endpoint = "tcp://127.0.0.1:5555";
    void *ctx = zmq_ctx_new();
    if (!ctx) return 1;
    roma_client *c = roma_client_new(ctx, endpoint);
    int rc = ROMA_EUNAVAIL;
    int64_t t0 = util_mono_ms();
    if (c) rc = roma_client_ping(c, PING_TIMEOUT_MS);
    roma_client_free(c);
    wire_ctx_term(ctx);
    if (rc) {
        fprintf(stderr, "roma-broker: no PONG from %s: %s\n", endpoint, roma_strerror(rc));
        return 1;
    }
    printf("PONG from %s in %lld ms\n", endpoint, (long long)(util_mono_ms() - t0));
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "--ping")) {
        log_init("broker", "error");
        return s_ping(argc >= 3 ? argv[2] : NULL);
    }
    if (cfg_handle_args(argc, argv, s_config, CONFIG_N)) return 0;
    if (argc > 1) {
        fprintf(stderr, "usage: roma-broker [--help-config | --version | --ping [ENDPOINT]]\n");
        return 2;
    }
    if (service_load_config("broker", s_config, CONFIG_N, &cfg_log_level, "broker.config") != 0) return 2;
    service_install_signals(&s_stop); /* no SA_RESTART: zmq_poll returns EINTR and the loop sees s_stop */

    broker_config bc = {
        .frontend = cfg_frontend,
        .backend = cfg_backend,
        .heartbeat_ms = (int)cfg_heartbeat_ms,
        .liveness = (int)cfg_liveness,
        .queue_max = (size_t)cfg_queue_max,
        .stats_ms = (int)cfg_stats_ms,
    };
    broker *b = broker_new(&bc);
    if (!b) {
        cfg_free(s_config, CONFIG_N);
        return 1;
    }
    int rc = broker_run(b, &s_stop);
    broker_free(b);
    log_info(NULL, "broker.exit", "%s", rc ? "stopped on error" : "clean shutdown");
    cfg_free(s_config, CONFIG_N);
    return rc ? 1 : 0;
}
