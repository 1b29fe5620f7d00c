/* echo_worker.c: test helper, a real roma_worker that echoes requests (tests/test_broker.py).
 *
 *   echo_worker ENDPOINT [KIND=echo] [CONCURRENCY=2]
 *
 * Reply body: {"echo": <request body>, "pid", "thread", "type", "running"} where running is how many
 * handlers were running at once when this one started, and "seq" the order in which this process took
 * the request (1, 2, ...). Request body options: "sleep_ms" (the handler sleeps, to hold credit or to
 * outlive heartbeats), "sleep_once_ms" (only the first request carrying it sleeps), "status" (reply
 * status). One JSON line per handled
 * request goes to stdout. SIGTERM/SIGINT stop it through roma_worker_run's drain. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "util.h"
#include "worker.h"

static volatile sig_atomic_t s_stop;
static atomic_int s_running, s_seq, s_slept_once;
static pthread_mutex_t s_out = PTHREAD_MUTEX_INITIALIZER;

static void s_on_signal(int sig)
{
    (void)sig;
    s_stop = 1;
}

static void s_handle(void *arg, const roma_msg *req, roma_msg *reply)
{
    (void)arg;
    int running = atomic_fetch_add(&s_running, 1) + 1;
    int seq = atomic_fetch_add(&s_seq, 1) + 1;
    const cJSON *sleep_ms = cJSON_GetObjectItemCaseSensitive(req->body, "sleep_ms");
    const cJSON *sleep_once = cJSON_GetObjectItemCaseSensitive(req->body, "sleep_once_ms");
    const cJSON *status = cJSON_GetObjectItemCaseSensitive(req->body, "status");
    if (cJSON_IsNumber(sleep_ms) && sleep_ms->valuedouble > 0) util_sleep_ms((long)sleep_ms->valuedouble);
    if (cJSON_IsNumber(sleep_once) && atomic_exchange(&s_slept_once, 1) == 0)
        util_sleep_ms((long)sleep_once->valuedouble);

    pthread_mutex_lock(&s_out);
    printf("{\"event\":\"handled\",\"type\":\"%s\",\"rid\":\"%s\",\"noreply\":%d,\"pid\":%ld,\"thread\":%d,"
           "\"running\":%d}\n",
           req->type, req->rid, req->noreply, (long)getpid(), roma_worker_thread_index(), running);
    fflush(stdout);
    pthread_mutex_unlock(&s_out);

    cJSON *b = cJSON_CreateObject();
    if (b) {
        cJSON *echo = req->body ? cJSON_Duplicate(req->body, 1) : cJSON_CreateNull();
        if (echo) cJSON_AddItemToObject(b, "echo", echo);
        cJSON_AddNumberToObject(b, "pid", (double)getpid());
        cJSON_AddNumberToObject(b, "thread", roma_worker_thread_index());
        cJSON_AddStringToObject(b, "type", req->type);
        cJSON_AddNumberToObject(b, "running", running);
        cJSON_AddNumberToObject(b, "seq", seq);
    }
    reply->body = b;
    reply->status = cJSON_IsNumber(status) ? (int)status->valuedouble : 0;
    atomic_fetch_sub(&s_running, 1);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: echo_worker ENDPOINT [KIND] [CONCURRENCY]\n");
        return 2;
    }
    log_init("echo-worker", getenv("ROMA_LOG_LEVEL"));
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    roma_worker *w = roma_worker_new(argv[1], argc > 2 ? argv[2] : "echo", argc > 3 ? atoi(argv[3]) : 2);
    if (!w) return 1;
    int rc = roma_worker_run(w, s_handle, NULL, &s_stop);
    roma_worker_free(w);
    return rc ? 1 : 0;
}
