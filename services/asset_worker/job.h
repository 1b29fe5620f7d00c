/* job.h: one claimed asset job on a worker executor thread: the fenced claim, lease renewal by a
 * background thread, monotonic progress, the fenced finishing transaction and the release.
 *
 * Fencing: a claim increments asset_jobs.attempt and remembers it. Every later write of this run carries
 * `WHERE id = $job AND attempt = $mine AND status = 'RUNNING'`. When the lease expired and another worker
 * re-claimed the job (attempt + 1), this run's writes match no row: it learns it was fenced out
 * (ROMA_ECONFLICT) and stops without effects. The finish (status, reasons, archive row, app deletions or
 * imports) is ONE transaction that starts by locking the job row under the same fence, so the job's
 * effects are applied exactly once, by the latest attempt only. */
#ifndef ROMA_ASSET_JOB_RUN_H
#define ROMA_ASSET_JOB_RUN_H

#include <cJSON.h>
#include <libpq-fe.h>
#include <signal.h>

#include "errors.h"
#include "services/api/app_store.h"

typedef struct worker_cfg {
    char *database_url;    /* ROMA_DATABASE_URL */
    char *backend;         /* ROMA_BROKER_BACKEND */
    char *secret_key;      /* ROMA_SECRET_KEY */
    char *secret_key_file; /* ROMA_SECRET_KEY_FILE */
    long concurrency;      /* ROMA_ASSET_CONCURRENCY */
    long lease_ms;         /* ROMA_JOB_LEASE_MS */
    long heartbeat_ms;     /* ROMA_JOB_HEARTBEAT_MS */
    long batch;            /* ROMA_ASSET_BATCH_SIZE */
    long archive_ttl_s;    /* ROMA_ARCHIVE_TTL_S */
    char *tmp_dir;         /* ROMA_ASSET_TMP_DIR */
    long max_reasons;      /* ROMA_JOB_MAX_REASONS */
    long import_max_entries;     /* ROMA_IMPORT_MAX_ENTRIES */
    long import_max_entry_bytes; /* ROMA_IMPORT_MAX_ENTRY_BYTES */
    long import_max_bytes;       /* ROMA_IMPORT_MAX_BYTES (inflated, whole package) */
    long test_delay_ms;    /* ROMA_ASSET_TEST_DELAY_MS (test-only) */
    char *log_level;       /* ROMA_LOG_LEVEL */
} worker_cfg;

extern worker_cfg g_wcfg;
extern volatile sig_atomic_t g_stop; /* set by SIGTERM/SIGINT */

typedef struct job {
    char id[33];
    int attempt;            /* fencing token of this run */
    char type[16];          /* exportAsset | importAsset | deleteAsset */
    char project_id[33];
    char instance_id[65];
    char created_by[33];
    char rid[65];           /* the submitting request's id: every log line of the job carries it */
    cJSON *request;         /* owned */
    PGconn *db;             /* the executor thread's connection (borrowed) */
    int slot;               /* lease registry slot = executor index */
} job;

/* The reasons of a job, bounded: the first ROMA_JOB_MAX_REASONS are kept, the rest only counted, so a
 * hostile package with 100,000 bad documents costs one short list (and a bounded status reply). */
typedef struct job_reasons {
    cJSON *list; /* kept reasons (owned) */
    long total;  /* every reason added, kept or not */
} job_reasons;

/* Run results (besides 0 = finished and committed). */
#define JOB_FENCED ROMA_ECONFLICT   /* another attempt owns the job now: stop, touch nothing */
#define JOB_STOPPING ROMA_EUNAVAIL  /* the worker is shutting down: give the job back */

/* Claims job_id for this process. 0 (j filled, lease registered), ROMA_ENOTFOUND when the job is not
 * claimable (finished, or running under a live lease: a duplicate command), ROMA_EIO. */
int job_claim(PGconn *db, const char *job_id, int slot, job *j) ROMA_MUST_USE;

/* Between two batches: sleeps ROMA_ASSET_TEST_DELAY_MS, then reports JOB_FENCED when the lease thread
 * found the lease taken over, JOB_STOPPING on shutdown, else records progress (fenced; never lowers
 * the stored value) and returns 0. */
int job_step(job *j, double progress) ROMA_MUST_USE;

/* BEGIN + lock the job row under the fence. 0, JOB_FENCED (rolled back) or ROMA_EIO (rolled back). */
int job_finish_begin(job *j) ROMA_MUST_USE;
/* Sets the final state inside the finishing transaction and COMMITs: FAILED when reasons holds any,
 * else SUCCEEDED. Reasons beyond the kept ones become one last entry counting them (ROMA.00015007).
 * archive_id or NULL. 0 or ROMA_EIO (rolled back). */
int job_finish_commit(job *j, job_reasons *reasons, const char *archive_id) ROMA_MUST_USE;
/* Rolls the finishing transaction back (error path). */
void job_finish_abort(job *j);

/* Gives the job back after JOB_STOPPING (graceful: no attempt consumed, re-dispatched at once) or an
 * error (the attempt counts; re-dispatched after backoff). Fenced; errors only logged. */
void job_release(job *j, int graceful);

/* Unregisters the lease and frees the request. */
void job_done(job *j);

/* 0 or ROMA_ENOMEM. */
int job_reasons_init(job_reasons *r) ROMA_MUST_USE;
void job_reasons_free(job_reasons *r);
/* Counts a reason and, while fewer than ROMA_JOB_MAX_REASONS are kept, appends {resource_type,
 * resource_name, error_code, error_msg}. name is cut to 64 characters (SPEC), msg to 256, with
 * invalid UTF-8 and control characters replaced by '?': they may come from a hostile package. */
void job_add_reason(job_reasons *r, const char *type, const char *name, const char *code, const char *msg);
/* Like job_add_reason with a printf-formatted message. */
void job_add_reasonf(job_reasons *r, const char *type, const char *name, const char *code, const char *fmt, ...)
    ROMA_PRINTF(5, 6);

/* The role decision for one app of the job's instance, for the job's user, exactly as the direct
 * operation makes it (app_lookup + app_ref_can of app_store.h with need = APP_NEED_*). 1 allowed (*ref
 * filled), 0 refused with the reason added under the name shown (ROMA.00014001 not found, ROMA.12001
 * "You have no permission to <action> the application."), ROMA_EIO. */
int job_app_access(job *j, const char *app_id, unsigned need, const char *action, const char *shown,
                   job_reasons *reasons, app_ref *ref) ROMA_MUST_USE;

/* The lease renewal thread: one private connection, renews every registered job each
 * ROMA_JOB_HEARTBEAT_MS. */
int lease_start(int slots) ROMA_MUST_USE;
void lease_stop(void);

/* Per-module runners, called with a claimed job. 0 when finished (committed), JOB_FENCED, JOB_STOPPING,
 * or another negative code for an error worth a retry. */
int export_run(job *j) ROMA_MUST_USE;
int delete_run(job *j) ROMA_MUST_USE;
int import_run(job *j) ROMA_MUST_USE;

#endif
