/* jobs.c: durable submission, doorbell publish and status read of asset jobs (see jobs.h). */
#include "jobs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "asset_job.h"
#include "bus.h"
#include "crypto.h"
#include "db.h"
#include "log.h"
#include "util.h"

/* sha256 over type, the canonical request text and the upload: two submissions are "the same request"
 * for Idempotency-Key purposes when this matches. */
static int hash_request(const job_submit *in, char out[65])
{
    char *text = cJSON_PrintUnformatted(in->request);
    if (!text) return ROMA_ENOMEM;
    char up[65] = "";
    if (in->upload) crypto_sha256_hex(in->upload, in->upload_len, up);
    size_t n = strlen(in->type) + strlen(text) + strlen(up) + 3;
    char *all = malloc(n);
    if (!all) {
        cJSON_free(text);
        return ROMA_ENOMEM;
    }
    snprintf(all, n, "%s\n%s\n%s", in->type, text, up);
    crypto_sha256_hex(all, strlen(all), out);
    free(all);
    cJSON_free(text);
    return 0;
}

/* Idempotency-Key collided: same request -> reuse that job, different -> ROMA_ECONFLICT. */
static int resolve_existing(PGconn *db, const job_submit *in, const char *hash, char job_id[33], int *existed)
{
    const char *p[] = {in->project_id, in->idempotency_key};
    PGresult *res = db_exec(db, "SELECT id, request_hash FROM asset_jobs WHERE project_id = $1 AND idempotency_key = $2",
                            2, p);
    if (!db_ok(res, PGRES_TUPLES_OK, in->rid)) {
        PQclear(res);
        return ROMA_EIO;
    }
    if (PQntuples(res) != 1) { /* deleted in between (project removed): treat as a database hiccup */
        PQclear(res);
        return ROMA_EIO;
    }
    int same = strcmp(PQgetvalue(res, 0, 1), hash) == 0;
    if (same) {
        snprintf(job_id, 33, "%s", PQgetvalue(res, 0, 0));
        *existed = 1;
    }
    PQclear(res);
    return same ? 0 : ROMA_ECONFLICT;
}

int jobs_submit(PGconn *db, const job_submit *in, long max_attempts, long dispatch_grace_ms, char job_id[33],
                int *existed)
{
    *existed = 0;
    char hash[65];
    if (hash_request(in, hash) != 0) return ROMA_ENOMEM;
    char id[33];
    if (util_hex_id(id) != 0) return ROMA_EIO;
    char *request = cJSON_PrintUnformatted(in->request);
    if (!request) return ROMA_ENOMEM;
    char attempts[24], grace[24];
    snprintf(attempts, sizeof attempts, "%ld", max_attempts);
    snprintf(grace, sizeof grace, "%ld", dispatch_grace_ms);
    const char *key = in->idempotency_key ? in->idempotency_key : "";
    const char *vals[12] = {id, in->project_id, in->instance_id, in->type, request, hash, key, attempts, grace,
                            in->rid, in->created_by ? in->created_by : "", in->upload ? (const char *)in->upload : NULL};
    int lens[12] = {0};
    int fmts[12] = {0};
    lens[11] = (int)in->upload_len;
    fmts[11] = 1; /* the package travels as binary: no hex escaping of a 16 MB upload */
    /* next_dispatch_at = now + grace: the sweeper only re-publishes when no worker claimed the job by then */
    PGresult *res = PQexecParams(
        db,
        "INSERT INTO asset_jobs (id, project_id, instance_id, type, request, request_hash, idempotency_key,"
        " max_attempts, next_dispatch_at, rid, created_by, upload)"
        " VALUES ($1, $2, $3, $4, $5::jsonb, $6, NULLIF($7, ''), $8::int,"
        " now() + make_interval(secs => $9::double precision / 1000), $10, NULLIF($11, ''), $12::bytea)"
        " ON CONFLICT (project_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING RETURNING id",
        12, NULL, vals, lens, fmts, 0);
    cJSON_free(request);
    if (!res) return ROMA_ENOMEM;
    if (!db_ok(res, PGRES_TUPLES_OK, in->rid)) {
        PQclear(res);
        return ROMA_EIO;
    }
    int inserted = PQntuples(res) == 1;
    PQclear(res);
    if (inserted) {
        memcpy(job_id, id, 33);
        return 0;
    }
    return resolve_existing(db, in, hash, job_id, existed);
}

int jobs_publish(const char *job_id, const char *rid)
{
    cJSON *body = cJSON_CreateObject();
    if (!body || !cJSON_AddStringToObject(body, "job_id", job_id)) {
        cJSON_Delete(body);
        log_warn(rid, "job.publish_failed", "job %s: out of memory; the sweeper will dispatch it", job_id);
        return ROMA_ENOMEM;
    }
    int rc = bus_publish(ASSET_JOB_KIND, ASSET_JOB_CMD, rid, body);
    cJSON_Delete(body);
    if (rc != 0)
        log_warn(rid, "job.publish_failed", "job %s: %s; the sweeper will dispatch it", job_id, roma_strerror(rc));
    return rc;
}

static void add_time(cJSON *o, const char *key, const char *epoch_ms_text)
{
    if (!*epoch_ms_text) return; /* NULL column: the field is absent */
    char iso[32];
    util_fmt_iso_s(strtoll(epoch_ms_text, NULL, 10), iso);
    cJSON_AddStringToObject(o, key, iso);
}

cJSON *jobs_show(PGconn *db, const char *project_id, const char *instance_id, const char *job_id, const char *rid,
                 int *rc)
{
    *rc = ROMA_ENOTFOUND;
    if (!util_is_hex32(job_id)) return NULL;
    char maxr[16];
    snprintf(maxr, sizeof maxr, "%d", ASSET_REASONS_REPLY_MAX);
    const char *p[] = {job_id, project_id, instance_id, maxr};
    /* The reply is bounded whatever the row holds (rows written before the worker capped its reasons
     * held 100,000 of them): at most ASSET_REASONS_REPLY_MAX reasons, each text cut to 256 characters. */
    PGresult *res = db_exec(db,
                            "SELECT type, status,"
                            " (SELECT COALESCE(jsonb_agg(jsonb_build_object("
                            "    'resource_type', left(x.e->>'resource_type', 256), 'resource_name', left(x.e->>'resource_name', 256),"
                            "    'error_code', left(x.e->>'error_code', 256), 'error_msg', left(x.e->>'error_msg', 256)) ORDER BY x.n), '[]')"
                            "  FROM (SELECT e, n FROM jsonb_array_elements(CASE jsonb_typeof(reasons) WHEN 'array' THEN reasons"
                            "        ELSE '[]' END) WITH ORDINALITY AS t(e, n) ORDER BY n LIMIT $4::int) x)::text,"
                            " progress, archive_id,"
                            " (extract(epoch FROM COALESCE(begin_time, created_at)) * 1000)::bigint,"
                            " (extract(epoch FROM end_time) * 1000)::bigint"
                            " FROM asset_jobs WHERE id = $1 AND project_id = $2 AND instance_id = $3",
                            4, p);
    if (!db_ok(res, PGRES_TUPLES_OK, rid)) {
        PQclear(res);
        *rc = ROMA_EIO;
        return NULL;
    }
    if (PQntuples(res) == 0) {
        PQclear(res);
        return NULL;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON *reasons = cJSON_Parse(PQgetvalue(res, 0, 2));
    if (!o || !reasons) {
        cJSON_Delete(o);
        cJSON_Delete(reasons);
        PQclear(res);
        *rc = ROMA_ENOMEM;
        return NULL;
    }
    const char *status = PQgetvalue(res, 0, 1);
    cJSON_AddStringToObject(o, "id", job_id);
    cJSON_AddStringToObject(o, "type", PQgetvalue(res, 0, 0));
    /* PENDING is our internal "waiting for a worker"; the API only knows RUNNING/SUCCEEDED/FAILED */
    cJSON_AddStringToObject(o, "status", strcmp(status, "PENDING") == 0 ? "RUNNING" : status);
    /* spec §8 #1: SDK clients parse "reasons", SEED/DOC-style clients read "reason": send both */
    cJSON *dup = cJSON_Duplicate(reasons, 1);
    cJSON_AddItemToObject(o, "reasons", reasons);
    if (dup) cJSON_AddItemToObject(o, "reason", dup);
    /* real column: round to 4 decimals so 0.35 prints as 0.35, not 0.34999999 */
    double prog = strtod(PQgetvalue(res, 0, 3), NULL);
    cJSON_AddNumberToObject(o, "progress_percent", (double)(long)(prog * 10000.0 + 0.5) / 10000.0);
    if (!PQgetisnull(res, 0, 4) && strcmp(status, "SUCCEEDED") == 0)
        cJSON_AddStringToObject(o, "archive_id", PQgetvalue(res, 0, 4));
    add_time(o, "begin_time", PQgetvalue(res, 0, 5));
    add_time(o, "end_time", PQgetvalue(res, 0, 6));
    PQclear(res);
    *rc = 0;
    return o;
}
