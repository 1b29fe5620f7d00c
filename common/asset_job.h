/* asset_job.h: the constants the API (services/api/assets.c, jobs.c, sweeper.c) and the asset worker
 * (services/asset_worker/) share about asset jobs: the bus command, the error codes put in job reasons
 * and replies, and the retry backoff. The table itself is migrations/003_jobs.sql.
 *
 * Error codes (E-ROMA). ROMA.13000/13001 are documented (core spec §1.3); the ROMA.000150xx range is ours
 * (INF: no public code exists for these cases):
 *   ROMA.13000    400  invalid parameters (body shape, list sizes, id types)
 *   ROMA.13001    400  no request body
 *   ROMA.13002    422  Idempotency-Key reused with a different request
 *   ROMA.10011    400  import: the package cannot be decompressed (documented)
 *   ROMA.10013    400  import: not a .zip / bad file name (documented)
 *   ROMA.00015001 404  asset job not found
 *   ROMA.00015002 404  archive not found or expired
 *   reasons[] of a job:
 *   ROMA.00014001      application not found (documented for DeleteRomaApp 404)
 *   ROMA.00014002      application could not be deleted (still referenced)
 *   FDI.3081           task not found (documented "The task does not exist.")
 *   ROMA.00015003      job abandoned: its attempts were exhausted (workers died or failed repeatedly)
 *   ROMA.00015004      job abandoned: no asset worker took it within ROMA_JOB_QUEUE_TIMEOUT_S
 *   ROMA.00015005      the package is invalid (import)
 *   ROMA.00015006      application already exists (import, AddNew)
 *   ROMA.00015007      the last entry of a capped reasons list: how many more were left out
 *                      (ROMA_JOB_MAX_REASONS of the worker)
 *   ROMA.00015008      import: the package is over a limit (entries, bytes of one entry, inflated bytes)
 *   ROMA.12001         the job's user lacks the role the direct operation on that app needs (same code
 *                      as the 403 of the apps API)
 *   ROMA.13000         import: a field of an application document breaks the rule of CreateRomaApp
 *                      (the message names the field, as the 400 of create does) */
#ifndef ROMA_ASSET_JOB_H
#define ROMA_ASSET_JOB_H

#include <stdint.h>

#define ASSET_JOB_KIND "asset"     /* worker kind on the bus */
#define ASSET_JOB_CMD "job.run"    /* command type; body {"job_id": "<32 hex>"} */

#define ASSET_ERR_APP_NOT_FOUND "ROMA.00014001"
#define ASSET_ERR_APP_IN_USE "ROMA.00014002"
#define ASSET_ERR_TASK_NOT_FOUND "FDI.3081"
#define ASSET_ERR_JOB_NOT_FOUND "ROMA.00015001"
#define ASSET_ERR_ARCHIVE_NOT_FOUND "ROMA.00015002"
#define ASSET_ERR_ATTEMPTS "ROMA.00015003"
#define ASSET_ERR_QUEUE_TIMEOUT "ROMA.00015004"
#define ASSET_ERR_BAD_PACKAGE "ROMA.00015005"
#define ASSET_ERR_APP_EXISTS "ROMA.00015006"
#define ASSET_ERR_REASONS_OMITTED "ROMA.00015007"
#define ASSET_ERR_PKG_LIMIT "ROMA.00015008"
#define ASSET_ERR_NO_PERMISSION "ROMA.12001"
#define ASSET_ERR_BAD_FIELD "ROMA.13000"

/* The status reply (services/api/jobs.c) shows at most this many reasons, each text cut to 256
 * characters, whatever a row holds: the top of the worker's ROMA_JOB_MAX_REASONS range, plus its
 * "left out" entry. */
#define ASSET_REASONS_REPLY_MAX 1001
#define ASSET_REASONS_MAX 1000

/* Package format written by exports and read by imports (services/asset_worker/export.c). */
#define ASSET_PKG_FORMAT "openroma-assets"
#define ASSET_PKG_VERSION 1

/* Capped exponential backoff with +0..25 % jitter for the n-th retry (n >= 0): base*2^n, at most cap.
 * Used by the worker when it gives a job back after an error; the sweeper computes the same curve in
 * SQL for re-dispatches. */
static inline int64_t asset_job_backoff_ms(int n, int64_t base_ms, int64_t cap_ms, double rand01)
{
    int64_t d = base_ms;
    for (int i = 0; i < n && d < cap_ms; i++) d *= 2;
    if (d > cap_ms) d = cap_ms;
    return d + (int64_t)((double)d * 0.25 * rand01);
}

#endif
