/* delete.c: deleteAsset jobs. Phase 1 checks the listed apps in batches (progress, cancellation
 * points); phase 2 deletes them inside the fenced finishing transaction, so the deletions and the job's
 * final state commit together, once. Each app is deleted under a savepoint: one that cannot be deleted
 * (still referenced) becomes a reason instead of aborting the others.
 *
 * Result (INF): every listed resource deleted -> SUCCEEDED with reasons []; otherwise the deletable ones
 * are deleted and the job is FAILED with one reason per resource that was not:
 *   {resource_type: application|task, resource_name: <id>, error_code, error_msg}
 * FDI tasks do not exist in OpenROMA yet: every listed task gets "task not found" (FDI.3081). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "asset_job.h"
#include "db.h"
#include "job.h"
#include "log.h"

/* Deletes one app of the job's instance under a savepoint. 1 deleted, 0 not found, ROMA_ECONFLICT
 * in use, ROMA_EIO. */
static int delete_app(job *j, const char *app_id)
{
    if (db_command(j->db, "SAVEPOINT app_del", j->rid) != 0) return ROMA_EIO;
    const char *p[] = {app_id, j->project_id, j->instance_id};
    PGresult *res = db_exec(j->db, "DELETE FROM apps WHERE id = $1 AND project_id = $2 AND instance_id = $3", 3, p);
    int rc;
    if (PQresultStatus(res) == PGRES_COMMAND_OK) {
        rc = atoi(PQcmdTuples(res)) == 1 ? 1 : 0;
    } else if (!strcmp(db_sqlstate(res), "23503")) { /* foreign_key_violation: referenced elsewhere */
        rc = ROMA_ECONFLICT;
    } else {
        (void)db_ok(res, PGRES_COMMAND_OK, j->rid);
        rc = ROMA_EIO;
    }
    PQclear(res);
    const char *end = rc >= 0 ? "RELEASE SAVEPOINT app_del" : "ROLLBACK TO SAVEPOINT app_del";
    if (rc != ROMA_EIO && db_command(j->db, end, j->rid) != 0) rc = ROMA_EIO;
    return rc;
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

    cJSON *reasons = cJSON_CreateArray();
    if (!reasons) return ROMA_ENOMEM;
    rc = job_finish_begin(j);
    int deleted = 0;
    for (const cJSON *a = apps ? apps->child : NULL; rc == 0 && a; a = a->next) {
        int r = delete_app(j, a->valuestring);
        if (r == 1)
            deleted++;
        else if (r == 0)
            job_add_reason(reasons, "application", a->valuestring, ASSET_ERR_APP_NOT_FOUND, "The application does not exist.");
        else if (r == ROMA_ECONFLICT)
            job_add_reason(reasons, "application", a->valuestring, ASSET_ERR_APP_IN_USE, "The application is still in use.");
        else
            rc = r;
    }
    for (const cJSON *t = tasks ? tasks->child : NULL; rc == 0 && t; t = t->next)
        job_add_reason(reasons, "task", t->valuestring, ASSET_ERR_TASK_NOT_FOUND, "The task does not exist.");
    if (rc == 0) {
        rc = job_finish_commit(j, cJSON_GetArraySize(reasons) ? "FAILED" : "SUCCEEDED", reasons, NULL);
        if (rc == 0) log_info(j->rid, "delete.done", "job %s: %d apps deleted, %d reasons", j->id, deleted, cJSON_GetArraySize(reasons));
    } else if (rc != JOB_FENCED) {
        job_finish_abort(j);
    }
    cJSON_Delete(reasons);
    return rc;
}
