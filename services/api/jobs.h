/* jobs.h: the API side of the asset job ledger (migrations/003_jobs.sql): durable submission with
 * Idempotency-Key handling, the doorbell publish, and reading a job for CheckAssetJobStatus.
 * A job row is committed BEFORE its command is published; a publish that fails is only logged, the
 * sweeper (sweeper.h) re-publishes jobs nobody claimed. */
#ifndef ROMA_API_JOBS_H
#define ROMA_API_JOBS_H

#include <cJSON.h>
#include <libpq-fe.h>

#include "errors.h"

typedef struct job_submit {
    const char *project_id;
    const char *instance_id;
    const char *type;            /* exportAsset | importAsset | deleteAsset */
    const cJSON *request;        /* normalised request, stored as jsonb */
    const char *idempotency_key; /* NULL or "" = none */
    const void *upload;          /* import: the package bytes, else NULL */
    size_t upload_len;
    const char *created_by;      /* user id */
    const char *rid;
} job_submit;

/* Inserts the job (one autocommitted statement) and fills job_id. When an Idempotency-Key is given and
 * a job with that key exists in the project: same type+request -> 0 with *existed = 1 and that job's
 * id; different -> ROMA_ECONFLICT. ROMA_EIO on database errors (logged with the rid). */
int jobs_submit(PGconn *db, const job_submit *in, long max_attempts, long dispatch_grace_ms, char job_id[33],
                int *existed) ROMA_MUST_USE;

/* Publishes the job's doorbell command on the bus. Failure is logged and ignored (the sweeper
 * re-dispatches): returns 0 or the bus error for the caller's logs. */
int jobs_publish(const char *job_id, const char *rid);

/* Loads a job of (project, instance) as the CheckAssetJobStatus body. NULL with *rc = ROMA_ENOTFOUND
 * or ROMA_EIO. The caller cJSON_Delete()s. */
cJSON *jobs_show(PGconn *db, const char *project_id, const char *instance_id, const char *job_id,
                 const char *rid, int *rc) ROMA_MUST_USE;

#endif
