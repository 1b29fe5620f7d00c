/* runner.c: runs one check on its own thread and answers by the deadline whatever the check does.
 *
 * Why a thread per check: client libraries do not all honour a millisecond deadline (MariaDB's timeouts
 * are whole seconds and apply per phase, getaddrinfo has none at all). The executor thread waits on a
 * condition variable with the job deadline; a check still running then is abandoned. The job is
 * reference-counted (executor + check thread), so whoever finishes last frees it, and an abandoned
 * check's late result is simply dropped. Abandoned threads are counted: past ROMA_DS_MAX_ABANDONED new
 * checks are refused (worker overloaded) instead of piling up threads against a black-holing target. */
#include <errno.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto.h"
#include "ds_job.h"
#include "log.h"
#include "util.h"

/* Extra wait after the deadline before giving up on the check thread: lets a check that is finishing
 * anyway (its library timeout fired at the deadline) report its own, more precise, words. */
#define RUNNER_GRACE_MS 150

static atomic_int abandoned;

int ds_abandoned_count(void) { return atomic_load(&abandoned); }

ds_job *ds_job_new(void)
{
    ds_job *job = calloc(1, sizeof *job);
    if (!job) return NULL;
    if (pthread_mutex_init(&job->mu, NULL) != 0) {
        free(job);
        return NULL;
    }
    if (pthread_cond_init(&job->cv, NULL) != 0) {
        pthread_mutex_destroy(&job->mu);
        free(job);
        return NULL;
    }
    job->refs = 1;
    return job;
}

/* Overwrites every string of a JSON tree (the content holds opened secrets) before it is freed. */
static void wipe_strings(cJSON *j)
{
    for (cJSON *c = j; c; c = c->next) {
        if (cJSON_IsString(c) && c->valuestring) memset(c->valuestring, 0, strlen(c->valuestring));
        if (c->child) wipe_strings(c->child);
    }
}

static void job_free(ds_job *job)
{
    wipe_strings(job->content); /* it holds the opened secrets */
    cJSON_Delete(job->content);
    for (int i = 0; i < job->nsecrets; i++) crypto_free_secret(job->secrets[i]);
    free(job->filter);
    free(job->table);
    cJSON_Delete(job->data);
    pthread_cond_destroy(&job->cv);
    pthread_mutex_destroy(&job->mu);
    free(job);
}

void ds_job_release(ds_job *job)
{
    if (!job) return;
    pthread_mutex_lock(&job->mu);
    int left = --job->refs;
    pthread_mutex_unlock(&job->mu);
    if (left == 0) job_free(job);
}

typedef struct run_arg {
    ds_job *job;
    void (*fn)(ds_job *);
} run_arg;

static void *check_thread(void *p)
{
    run_arg *ra = p;
    ds_job *job = ra->job;
    void (*fn)(ds_job *) = ra->fn;
    free(ra);
    fn(job);
    pthread_mutex_lock(&job->mu);
    int was_abandoned = job->done; /* done already set by the waiter means it gave up on us */
    job->done = 1;
    pthread_cond_signal(&job->cv);
    pthread_mutex_unlock(&job->mu);
    if (was_abandoned) {
        atomic_fetch_sub(&abandoned, 1);
        log_info(job->rid, "ds.check_late", "abandoned %s check finished %lld ms after its deadline", job->type,
                 (long long)(util_mono_ms() - job->deadline_ms));
    }
    ds_job_release(job);
    return NULL;
}

void ds_set_phase(ds_job *job, ds_phase phase, const char *endpoint)
{
    pthread_mutex_lock(&job->mu);
    job->phase = (int)phase;
    if (endpoint) snprintf(job->endpoint, sizeof job->endpoint, "%s", endpoint);
    pthread_mutex_unlock(&job->mu);
}

/* Words for a deadline overrun, from what the check was doing (called with a copy of the endpoint). */
static void overrun_words(ds_outcome *out, int phase, const char *endpoint, long timeout_ms)
{
    out->code = phase == DS_PHASE_RESOLVE ? DS_E_DNS : DS_E_TIMEOUT;
    switch (phase) {
    case DS_PHASE_RESOLVE:
        snprintf(out->detail, sizeof out->detail, "DNS failure: name resolution of %s did not finish within %ld ms",
                 endpoint[0] ? endpoint : "the host", timeout_ms);
        break;
    case DS_PHASE_CONNECT:
        snprintf(out->detail, sizeof out->detail, "timeout: no connection to %s within %ld ms",
                 endpoint[0] ? endpoint : "the host", timeout_ms);
        break;
    default:
        snprintf(out->detail, sizeof out->detail, "timeout: %s did not answer within %ld ms",
                 endpoint[0] ? endpoint : "the server", timeout_ms);
        break;
    }
}

static void outcome_fail(ds_outcome *out, ds_code code, const char *detail)
{
    out->code = code;
    snprintf(out->detail, sizeof out->detail, "%s", detail);
}

void ds_run_bounded(ds_job *job, void (*fn)(ds_job *), ds_outcome *out)
{
    memset(out, 0, sizeof *out);
    int busy = atomic_load(&abandoned);
    if (busy >= g_ds.max_abandoned) {
        snprintf(out->detail, sizeof out->detail,
                 "worker overloaded: %d earlier checks are still waiting for unresponsive servers; retry later", busy);
        out->code = DS_E_OVERLOAD;
        return;
    }
    run_arg *ra = malloc(sizeof *ra);
    if (!ra) {
        outcome_fail(out, DS_E_OVERLOAD, "worker overloaded: out of memory");
        return;
    }
    ra->job = job;
    ra->fn = fn;
    pthread_mutex_lock(&job->mu);
    job->refs++;
    pthread_mutex_unlock(&job->mu);

    pthread_attr_t attr;
    pthread_t th;
    int rc = pthread_attr_init(&attr);
    if (rc == 0) {
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        rc = pthread_create(&th, &attr, check_thread, ra);
        pthread_attr_destroy(&attr);
    }
    if (rc != 0) {
        free(ra);
        ds_job_release(job); /* the reference taken for the thread */
        outcome_fail(out, DS_E_OVERLOAD, "worker overloaded: cannot start a check thread");
        return;
    }

    /* pthread_cond_timedwait measures CLOCK_REALTIME: convert the monotonic deadline to it. */
    int64_t wait_ms = job->deadline_ms + RUNNER_GRACE_MS - util_mono_ms();
    if (wait_ms < 0) wait_ms = 0;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += (time_t)(wait_ms / 1000);
    ts.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    char endpoint[sizeof job->endpoint];
    pthread_mutex_lock(&job->mu);
    while (!job->done) {
        if (pthread_cond_timedwait(&job->cv, &job->mu, &ts) == ETIMEDOUT) break;
    }
    int finished = job->done;
    int phase = job->phase;
    memcpy(endpoint, job->endpoint, sizeof endpoint);
    if (!finished) job->done = 1; /* tells the check thread it was abandoned */
    pthread_mutex_unlock(&job->mu);

    if (finished) {
        /* the check thread is past its last write to the job: take its result */
        out->code = job->code;
        memcpy(out->detail, job->detail, sizeof out->detail);
        out->data = job->data;
        job->data = NULL;
        return;
    }
    atomic_fetch_add(&abandoned, 1);
    overrun_words(out, phase, endpoint, job->timeout_ms);
    log_warn(job->rid, "ds.check_abandoned", "%s check overran its %ld ms deadline; %d abandoned now", job->type,
             job->timeout_ms, atomic_load(&abandoned));
}
