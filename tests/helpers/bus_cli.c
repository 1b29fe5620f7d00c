/* bus_cli.c: test helper driving the broker through services/api/bus.c (tests/test_broker.py).
 *
 *   bus_cli ENDPOINT call|publish|stats|ping [--kind K] [--type T] [--count N] [--threads T]
 *           [--timeout MS] [--body JSON] [--rid R] [--pause-ms MS]
 *
 * Prints one JSON line per operation: {"i", "thread", "rc", "err", "elapsed_ms", "status", "body"}
 * (stats: {"rc", "stats"}). Each thread uses its own bus client and calls bus_thread_exit at the end,
 * as civetweb threads do. Exit status 0 when every operation returned 0. */
// LINK_EXTRA: services/api/bus.c
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "log.h"
#include "util.h"

static const char *o_cmd, *o_kind = "echo", *o_type = "echo.test", *o_rid = "";
static int o_count = 1, o_threads = 1, o_timeout = 2000, o_pause_ms = 0;
static cJSON *o_body;
static atomic_int s_failures;
static pthread_mutex_t s_out = PTHREAD_MUTEX_INITIALIZER;

static void s_print(cJSON *line)
{
    char *s = cJSON_PrintUnformatted(line);
    pthread_mutex_lock(&s_out);
    if (s) printf("%s\n", s);
    fflush(stdout);
    pthread_mutex_unlock(&s_out);
    free(s);
    cJSON_Delete(line);
}

static void *s_thread(void *arg)
{
    int t = (int)(intptr_t)arg;
    for (int i = 0; i < o_count; i++) {
        int64_t t0 = util_mono_ms();
        roma_msg reply;
        int rc;
        proto_msg_init(&reply);
        if (!strcmp(o_cmd, "call")) rc = bus_call(o_kind, o_type, o_rid, o_body, o_timeout, &reply);
        else if (!strcmp(o_cmd, "publish")) rc = bus_publish(o_kind, o_type, o_rid, o_body);
        else rc = bus_client() ? roma_client_ping(bus_client(), o_timeout) : ROMA_EUNAVAIL;
        cJSON *line = cJSON_CreateObject();
        cJSON_AddNumberToObject(line, "i", i);
        cJSON_AddNumberToObject(line, "thread", t);
        cJSON_AddNumberToObject(line, "rc", rc);
        cJSON_AddStringToObject(line, "err", roma_strerror(rc));
        cJSON_AddNumberToObject(line, "elapsed_ms", (double)(util_mono_ms() - t0));
        if (!rc && !strcmp(o_cmd, "call")) {
            cJSON_AddNumberToObject(line, "status", reply.status);
            cJSON_AddItemToObject(line, "body", reply.body ? reply.body : cJSON_CreateNull());
            reply.body = NULL;
        }
        proto_msg_clear(&reply);
        s_print(line);
        if (rc) atomic_fetch_add(&s_failures, 1);
        if (o_pause_ms > 0 && i + 1 < o_count) util_sleep_ms(o_pause_ms);
    }
    bus_thread_exit();
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: bus_cli ENDPOINT call|publish|stats|ping [options]\n");
        return 2;
    }
    log_init("bus-cli", getenv("ROMA_LOG_LEVEL") ? getenv("ROMA_LOG_LEVEL") : "warn");
    o_cmd = argv[2];
    const char *body = "{}";
    for (int i = 3; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (!strcmp(k, "--kind")) o_kind = v;
        else if (!strcmp(k, "--type")) o_type = v;
        else if (!strcmp(k, "--count")) o_count = atoi(v);
        else if (!strcmp(k, "--threads")) o_threads = atoi(v);
        else if (!strcmp(k, "--timeout")) o_timeout = atoi(v);
        else if (!strcmp(k, "--body")) body = v;
        else if (!strcmp(k, "--rid")) o_rid = v;
        else if (!strcmp(k, "--pause-ms")) o_pause_ms = atoi(v);
        else {
            fprintf(stderr, "unknown option %s\n", k);
            return 2;
        }
    }
    o_body = cJSON_Parse(body);
    if (!o_body || o_threads < 1 || o_threads > 64) {
        fprintf(stderr, "bad --body or --threads\n");
        return 2;
    }
    if (bus_init(argv[1]) != 0) return 1;

    if (!strcmp(o_cmd, "stats")) {
        cJSON *stats = NULL;
        int rc = bus_stats(&stats, o_timeout);
        cJSON *line = cJSON_CreateObject();
        cJSON_AddNumberToObject(line, "rc", rc);
        cJSON_AddItemToObject(line, "stats", stats ? stats : cJSON_CreateNull());
        s_print(line);
        bus_thread_exit();
        bus_shutdown();
        cJSON_Delete(o_body);
        return rc ? 1 : 0;
    }
    if (strcmp(o_cmd, "call") && strcmp(o_cmd, "publish") && strcmp(o_cmd, "ping")) {
        fprintf(stderr, "unknown command %s\n", o_cmd);
        return 2;
    }
    pthread_t th[64];
    for (int t = 0; t < o_threads; t++) pthread_create(&th[t], NULL, s_thread, (void *)(intptr_t)t);
    for (int t = 0; t < o_threads; t++) pthread_join(th[t], NULL);
    bus_shutdown();
    cJSON_Delete(o_body);
    return atomic_load(&s_failures) ? 1 : 0;
}
