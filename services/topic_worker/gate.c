/* gate.c: per-group fetch admission (see gate.h). */
#include "gate.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "util.h"

typedef struct bucket {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int inflight;
} bucket;

struct fetch_gate {
    bucket b[GATE_BUCKETS];
};

static bucket *bucket_of(fetch_gate *g, int64_t topic_id, const char *group)
{
    uint64_t h = 1469598103934665603ULL ^ (uint64_t)topic_id; /* FNV-1a over the group name */
    for (const char *p = group; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    return &g->b[h % GATE_BUCKETS];
}

fetch_gate *gate_new(void)
{
    fetch_gate *g = calloc(1, sizeof *g);
    if (!g) return NULL;
    for (int i = 0; i < GATE_BUCKETS; i++) {
        pthread_mutex_init(&g->b[i].mu, NULL);
        pthread_cond_init(&g->b[i].cv, NULL);
    }
    return g;
}

void gate_free(fetch_gate *g)
{
    if (!g) return;
    for (int i = 0; i < GATE_BUCKETS; i++) {
        pthread_mutex_destroy(&g->b[i].mu);
        pthread_cond_destroy(&g->b[i].cv);
    }
    free(g);
}

int gate_enter(fetch_gate *g, int64_t topic_id, const char *group, int limit, int64_t deadline_mono_ms)
{
    bucket *b = bucket_of(g, topic_id, group);
    int admitted = 0;
    pthread_mutex_lock(&b->mu);
    for (;;) {
        if (b->inflight < (limit > 0 ? limit : 1)) {
            b->inflight++;
            admitted = 1;
            break;
        }
        int64_t left = deadline_mono_ms - util_mono_ms();
        if (left <= 0) break;
        /* condition variables wait on the realtime clock: wait at most 100 ms at a time and re-check */
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        long ms = left < 100 ? (long)left : 100;
        until.tv_nsec += ms * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        int rc = pthread_cond_timedwait(&b->cv, &b->mu, &until);
        if (rc != 0 && rc != ETIMEDOUT) break;
    }
    pthread_mutex_unlock(&b->mu);
    return admitted;
}

void gate_leave(fetch_gate *g, int64_t topic_id, const char *group)
{
    bucket *b = bucket_of(g, topic_id, group);
    pthread_mutex_lock(&b->mu);
    b->inflight--;
    pthread_cond_signal(&b->cv);
    pthread_mutex_unlock(&b->mu);
}
