/* delete.c: deleteAsset jobs. Phase 1 checks the listed apps in batches (progress, cancellation
 * points); phase 2 deletes them inside the fenced finishing transaction, so the deletions and the job's
 * final state commit together, once. Each app is deleted under a savepoint: one that cannot be deleted
 * (still referenced) becomes a reason instead of aborting the others.
 *
 * Roles: each app is checked for the job's user exactly as DELETE /apps/{id} checks the caller (the
 * worker links services/api/app_store.c: one place decides); an app the user may not delete is a
 * reason ROMA.12001 and stays.
 *
 * Result (INF): every listed resource deleted -> SUCCEEDED with reasons []; otherwise the deletable ones
 * are deleted and the job is FAILED with one reason per resource that was not:
 *   {resource_type: application|task, resource_name: <id>, error_code, error_msg}
 * (404 ROMA.00014001 not found, ROMA.12001 no permission, ROMA.00014002 still referenced).
 * FDI tasks do not exist in OpenROMA yet: every listed task gets "task not found" (FDI.3081). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "asset_job.h"
#include "db.h"
#include "job.h"
#include "log.h"

/* Deletes one app of the job's instance as the direct DELETE /apps/{id} would for the job's user: the
 * same lookup and role decision (app_lookup + app_ref_can with APP_NEED_DELETE, app_store.h) and the
 * same statement (app_store_delete), under a savepoint so a refusal leaves the others untouched.
 * 1 deleted, or 0 with a reason added, or ROMA_EIO. */
static int delete_app(job *j, const char *app_id, job_reasons *reasons)
{
    app_ref ref;
    int rc = job_app_access(j, app_id, APP_NEED_DELETE, "delete", app_id, reasons, &ref);
    if (rc <= 0) return rc;
    if (db_command(j->db, "SAVEPOINT app_del", j->rid) != 0) return ROMA_EIO;
    rc = app_store_delete(j->db, j->instance_id, app_id, j->rid);
    const char *end = rc == 0 || rc == ROMA_ENOTFOUND ? "RELEASE SAVEPOINT app_del" : "ROLLBACK TO SAVEPOINT app_del";
    if (db_command(j->db, end, j->rid) != 0) return ROMA_EIO;
    if (rc == ROMA_ENOTFOUND) /* deleted since the check */
        job_add_reason(reasons, "application", app_id, ASSET_ERR_APP_NOT_FOUND, "The application does not exist.");
    else if (rc == ROMA_ECONFLICT)
        job_add_reason(reasons, "application", app_id, ASSET_ERR_APP_IN_USE, "The application is still in use.");
    else if (rc != 0)
        return ROMA_EIO;
    return rc == 0;
}

int delete_run(job *j)
{
    const cJSON *apps = cJSON_GetObjectItemCaseSensitive(j->request, "apps");
    const cJSON *tasks = cJSON_GetObjectItemCaseSensitive(j->request, "tasks");
    int napps = cJSON_GetArraySize(apps);
    /* phase 1: walk the list in batches; the work is in phase 2, this gives progress and lets a
     * shutdown or a lost lease stop the job before it commits anything */
    int done = 0, rc = 0;
    while (rc == 0 && done < napps) {
        done += (int)g_wcfg.batch;
        if (done > napps) done = napps;
        rc = job_step(j, 0.8 * (double)done / (double)napps);
    }
    if (rc != 0) return rc;

    job_reasons reasons;
    if (job_reasons_init(&reasons) != 0) return ROMA_ENOMEM;
    rc = job_finish_begin(j);
    int deleted = 0;
    for (const cJSON *a = apps ? apps->child : NULL; rc == 0 && a; a = a->next) {
        int r = 0;
        if (cJSON_IsString(a)) /* the API stores ids as strings; anything else is a reason, never a retry */
            r = delete_app(j, a->valuestring, &reasons);
        else
            job_add_reason(&reasons, "application", "", ASSET_ERR_BAD_FIELD, "The application id must be a string.");
        if (r < 0) rc = r;
        deleted += r == 1;
    }
    for (const cJSON *t = tasks ? tasks->child : NULL; rc == 0 && t; t = t->next)
        job_add_reason(&reasons, "task", cJSON_GetStringValue(t), ASSET_ERR_TASK_NOT_FOUND, "The task does not exist.");
    if (rc == 0) {
        long nreasons = reasons.total;
        rc = job_finish_commit(j, &reasons, NULL);
        if (rc == 0) log_info(j->rid, "delete.done", "job %s: %d apps deleted, %ld reasons", j->id, deleted, nreasons);
    } else if (rc != JOB_FENCED) {
        job_finish_abort(j);
    }
    job_reasons_free(&reasons);
    return rc;
}
