/* notify.c: LISTEN thread and per-topic wake-up buckets (see notify.h). */
#include "notify.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "db.h"
#include "log.h"
#include "util.h"

struct notify_hub {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint64_t gen[NOTIFY_BUCKETS];
    char *conninfo;
    char *channel;
    atomic_int stop;
    pthread_t thread;
    int started;
};

static size_t bucket_of(int64_t topic_id)
{
    uint64_t u = (uint64_t)topic_id;
    return (size_t)(u % NOTIFY_BUCKETS);
}

void notify_hub_ring(notify_hub *h, int64_t topic_id)
{
    pthread_mutex_lock(&h->mu);
    h->gen[bucket_of(topic_id)]++;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
}

uint64_t notify_hub_generation(notify_hub *h, int64_t topic_id)
{
    pthread_mutex_lock(&h->mu);
    uint64_t g = h->gen[bucket_of(topic_id)];
    pthread_mutex_unlock(&h->mu);
    return g;
}

int notify_hub_wait(notify_hub *h, int64_t topic_id, uint64_t gen, int timeout_ms, volatile sig_atomic_t *stop)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    size_t b = bucket_of(topic_id);
    int rung = 0;
    pthread_mutex_lock(&h->mu);
    /* why a 200 ms inner slice: *stop is a plain flag set by a signal handler, nobody broadcasts on it */
    while (!(rung = h->gen[b] != gen) && !(stop && *stop) && !h->stop) {
        struct timespec now, slice;
        clock_gettime(CLOCK_REALTIME, &now);
        if (now.tv_sec > until.tv_sec || (now.tv_sec == until.tv_sec && now.tv_nsec >= until.tv_nsec)) break;
        slice = now;
        slice.tv_nsec += 200000000L;
        if (slice.tv_nsec >= 1000000000L) {
            slice.tv_sec++;
            slice.tv_nsec -= 1000000000L;
        }
        if (slice.tv_sec > until.tv_sec || (slice.tv_sec == until.tv_sec && slice.tv_nsec > until.tv_nsec))
            slice = until;
        int rc = pthread_cond_timedwait(&h->cv, &h->mu, &slice);
        if (rc != 0 && rc != ETIMEDOUT && rc != EINTR) break;
    }
    pthread_mutex_unlock(&h->mu);
    return rung;
}

/* Opens the LISTEN connection; NULL when the database is unreachable (logged once per failure). */
static PGconn *listen_open(notify_hub *h)
{
    char err[512];
    PGconn *c = db_connect(h->conninfo, err, sizeof err);
    if (!c) {
        log_warn(NULL, "notify.connect_failed", "%s", err);
        return NULL;
    }
    char *ch = PQescapeIdentifier(c, h->channel, strlen(h->channel));
    if (!ch) {
        PQfinish(c);
        return NULL;
    }
    char sql[256];
    snprintf(sql, sizeof sql, "LISTEN %s", ch);
    PQfreemem(ch);
    PGresult *res = PQexec(c, sql);
    int ok = db_ok(res, PGRES_COMMAND_OK, NULL);
    PQclear(res);
    if (!ok) {
        PQfinish(c);
        return NULL;
    }
    return c;
}

/* Rings every bucket: after a reconnect, notifications sent while we were away are lost, so every
 * waiter re-fetches once. */
static void ring_all(notify_hub *h)
{
    pthread_mutex_lock(&h->mu);
    for (size_t i = 0; i < NOTIFY_BUCKETS; i++) h->gen[i]++;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
}

static void *listen_main(void *arg)
{
    notify_hub *h = arg;
    PGconn *c = NULL;
    while (!h->stop) {
        if (!c) {
            c = listen_open(h);
            if (!c) {
                for (int i = 0; i < NOTIFY_RECONNECT_MS / 100 && !h->stop; i++) util_sleep_ms(100);
                continue;
            }
            ring_all(h);
            log_info(NULL, "notify.listening", "LISTEN %s", h->channel);
        }
        struct pollfd pfd = {.fd = PQsocket(c), .events = POLLIN};
        int pr = poll(&pfd, 1, 200);
        if (pr < 0 && errno != EINTR) {
            log_warn(NULL, "notify.poll_failed", "%s", strerror(errno));
        }
        if (pr <= 0) continue;
        if (!PQconsumeInput(c)) {
            log_warn(NULL, "notify.connection_lost", "%s", PQerrorMessage(c));
            PQfinish(c);
            c = NULL;
            continue;
        }
        PGnotify *n;
        while ((n = PQnotifies(c)) != NULL) {
            long long id = 0;
            if (n->extra && sscanf(n->extra, "%lld", &id) == 1) notify_hub_ring(h, (int64_t)id);
            PQfreemem(n);
        }
    }
    if (c) PQfinish(c);
    return NULL;
}

notify_hub *notify_hub_new(const char *conninfo, const char *channel)
{
    notify_hub *h = calloc(1, sizeof *h);
    if (!h) return NULL;
    h->conninfo = strdup(conninfo);
    h->channel = strdup(channel);
    if (!h->conninfo || !h->channel) {
        free(h->conninfo);
        free(h->channel);
        free(h);
        return NULL;
    }
    pthread_mutex_init(&h->mu, NULL);
    pthread_cond_init(&h->cv, NULL);
    if (pthread_create(&h->thread, NULL, listen_main, h) != 0) {
        log_error(NULL, "notify.thread_failed", "cannot start the LISTEN thread");
        notify_hub_free(h);
        return NULL;
    }
    h->started = 1;
    return h;
}

void notify_hub_free(notify_hub *h)
{
    if (!h) return;
    h->stop = 1;
    if (h->started) pthread_join(h->thread, NULL);
    pthread_mutex_destroy(&h->mu);
    pthread_cond_destroy(&h->cv);
    free(h->conninfo);
    free(h->channel);
    free(h);
}
