/* retention.c: the retention thread (see retention.h). */
#include "retention.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "log.h"
#include "util.h"

struct retention {
    topic_engine *engine;
    long interval_ms;
    long unit_s;
    int batch;
    atomic_int stop;
    pthread_t thread;
};

static void *retention_main(void *arg)
{
    retention *r = arg;
    int64_t next = util_mono_ms() + r->interval_ms;
    while (!atomic_load(&r->stop)) {
        if (util_mono_ms() < next) {
            util_sleep_ms(50);
            continue;
        }
        int64_t t0 = util_mono_ms(), deleted = 0;
        int rc = r->engine->ops->retention_run(r->engine, r->unit_s, r->batch, &deleted, NULL);
        if (rc != 0)
            log_warn(NULL, "retention.failed", "retention pass failed: %s (retried next interval)", roma_strerror(rc));
        else if (deleted > 0)
            log_info(NULL, "retention.deleted", "%" PRId64 " messages deleted in %" PRId64 " ms", deleted,
                     util_mono_ms() - t0);
        next = util_mono_ms() + r->interval_ms;
    }
    return NULL;
}

retention *retention_start(topic_engine *e, long interval_ms, long unit_s, int batch)
{
    retention *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->engine = e;
    r->interval_ms = interval_ms;
    r->unit_s = unit_s;
    r->batch = batch;
    if (pthread_create(&r->thread, NULL, retention_main, r) != 0) {
        log_error(NULL, "retention.thread_failed", "cannot start the retention thread");
        free(r);
        return NULL;
    }
    return r;
}

void retention_stop(retention *r)
{
    if (!r) return;
    atomic_store(&r->stop, 1);
    pthread_join(r->thread, NULL);
    free(r);
}
