/* sweeper.h: the asset-job sweeper, one thread in every API replica. Every ROMA_SWEEP_INTERVAL_MS it
 * (1) FAILs live jobs that exhausted their attempts or waited too long for any worker, (2) re-publishes
 * jobs whose command was lost (PENDING past next_dispatch_at) or whose worker died (RUNNING with an
 * expired lease), pushing next_dispatch_at out with capped exponential backoff + jitter, (3) deletes
 * expired archives. Replica-safe: each step picks rows with FOR UPDATE SKIP LOCKED and changes them in
 * the same statement, so two sweepers never handle the same job in the same round.
 * It owns a private PostgreSQL connection and a private ZeroMQ context + client (its own thread). */
#ifndef ROMA_API_SWEEPER_H
#define ROMA_API_SWEEPER_H

#include <stddef.h>

#include "errors.h"

typedef struct sweeper_config {
    long interval_ms;       /* ROMA_SWEEP_INTERVAL_MS */
    long batch;             /* ROMA_SWEEP_BATCH */
    long max_attempts;      /* ROMA_JOB_MAX_ATTEMPTS (stored on each job at submission) */
    long dispatch_grace_ms; /* ROMA_JOB_DISPATCH_GRACE_MS */
    long retry_base_ms;     /* ROMA_JOB_RETRY_BASE_MS */
    long retry_max_ms;      /* ROMA_JOB_RETRY_MAX_MS */
    long queue_timeout_s;   /* ROMA_JOB_QUEUE_TIMEOUT_S */
} sweeper_config;

extern sweeper_config g_sweeper_cfg; /* filled by sweeper_config_load(), read-only afterwards */

/* Loads the job/sweeper settings from the environment. 0 or ROMA_EINVAL with a message in err. */
int sweeper_config_load(char *err, size_t errlen) ROMA_MUST_USE;
/* Prints the settings table as Markdown (for --help-config). */
void sweeper_config_print(void);
void sweeper_config_free(void);

/* Starts the thread (strings are copied). 0 or ROMA_ENOMEM / ROMA_EIO. */
int sweeper_start(const char *database_url, const char *broker_frontend) ROMA_MUST_USE;
/* Stops and joins the thread (returns within about one statement's time). Safe if never started. */
void sweeper_stop(void);

#endif
