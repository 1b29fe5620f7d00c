/* assets.c: the five integration-asset operations (core spec §4, fdi spec §7): ExportAsset, ImportAsset,
 * DeleteAsset submit jobs; CheckAssetJobStatus and DownloadAssetArchive read their results.
 *
 * Submission is synchronous validation + a committed job row + a doorbell on the bus (jobs.h); a bad
 * body is a 400 here, never a FAILED job. Replies 200 {"job_id"} with `Location: <job path>` and
 * `Retry-After: 1`. An `Idempotency-Key` header (1..128 printable ASCII) makes a submission repeatable:
 * same key + same request -> the same job_id (200, nothing new runs); same key + different request ->
 * 422 ROMA.13002.
 *
 * Decisions where the spec is silent (INF, documented in common/asset_job.h for codes):
 * - body items may be {"id": s}, {"task_id": s} or bare strings (fdi spec §8); ids are 1..64 chars
 *   (the SEED delete example has 36-char task ids although SPEC says 32); duplicates are dropped.
 * - `apps` is required for export and delete, `tasks` for delete only (spec §8 #4); null counts as [].
 * - export with both lists empty exports EVERY app and task of the instance (full backup).
 * - archives stay downloadable until they expire (ROMA_ARCHIVE_TTL_S of the worker), not once: a user
 *   retrying a broken download gets the file again.
 * - unknown job -> 404 ROMA.00015001; unknown/expired archive -> 404 ROMA.00015002. */
#include <civetweb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "app_validate.h"
#include "asset_job.h"
#include "http.h"
#include "jobs.h"
#include "log.h"
#include "multipart.h"
#include "routes.h"
#include "sweeper.h"
#include "util.h"

#define ASSET_LIST_MAX 100
#define ASSET_ID_MAX 64
#define IDEM_KEY_MAX 128
#define IMPORT_FIELD "ImportAssetRequestBody"

/* Appends the ids of body[key] to out (a JSON array of strings). Returns 0, or replies 400 and
 * returns ROMA_EINVAL. */
static int parse_id_list(req *r, const cJSON *body, const char *key, int required, cJSON *out)
{
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(body, key);
    if (!list) {
        if (!required) return 0;
        reply_bad_param(r, "The parameter %s is required.", key);
        return ROMA_EINVAL;
    }
    if (cJSON_IsNull(list)) return 0; /* Go SDK clients serialise a nil slice as null */
    if (!cJSON_IsArray(list)) {
        reply_bad_param(r, "The parameter %s must be an array.", key);
        return ROMA_EINVAL;
    }
    int n = cJSON_GetArraySize(list);
    if (n > ASSET_LIST_MAX) {
        reply_bad_param(r, "The parameter %s has %d items; at most %d are allowed.", key, n, ASSET_LIST_MAX);
        return ROMA_EINVAL;
    }
    int i = 0;
    for (const cJSON *it = list->child; it; it = it->next, i++) {
        const cJSON *id = it;
        if (cJSON_IsObject(it)) {
            id = cJSON_GetObjectItemCaseSensitive(it, "id");
            if (!id) id = cJSON_GetObjectItemCaseSensitive(it, "task_id");
        }
        if (!cJSON_IsString(id)) {
            reply_bad_param(r, "The parameter %s[%d].id is required and must be a string.", key, i);
            return ROMA_EINVAL;
        }
        long len = util_utf8_len(id->valuestring);
        if (len < 1 || len > ASSET_ID_MAX) {
            reply_bad_param(r, "The parameter %s[%d].id must be 1 to %d characters.", key, i, ASSET_ID_MAX);
            return ROMA_EINVAL;
        }
        int dup = 0;
        for (const cJSON *o = out->child; o && !dup; o = o->next) dup = !strcmp(o->valuestring, id->valuestring);
        if (!dup && !cJSON_AddItemToArray(out, cJSON_CreateString(id->valuestring))) {
            reply_internal(r, "oom");
            return ROMA_ENOMEM;
        }
    }
    return 0;
}

/* Reads and checks the Idempotency-Key header. *key = NULL when absent. 0 or replies 400. */
static int idempotency_key_or_reply(req *r, const char **key)
{
    *key = req_header(r, "Idempotency-Key");
    if (!*key) return 0;
    size_t n = strlen(*key);
    int ok = n >= 1 && n <= IDEM_KEY_MAX;
    for (size_t i = 0; ok && i < n; i++) ok = (*key)[i] > 0x20 && (*key)[i] < 0x7f;
    if (!ok) {
        reply_bad_param(r, "The Idempotency-Key header must be 1 to %d printable ASCII characters.", IDEM_KEY_MAX);
        return ROMA_EINVAL;
    }
    return 0;
}

/* Commits the job, rings the bus, replies. Takes nothing over: request/upload stay the caller's. */
static void submit_job(req *r, const char *type, const cJSON *request, const void *upload, size_t upload_len)
{
    const char *key;
    if (idempotency_key_or_reply(r, &key) != 0) return;
    PGconn *db = req_db_or_reply(r);
    if (!db) return;
    const char *project = req_param(r, "project_id"), *instance = req_param(r, "instance_id");
    job_submit in = {project, instance, type, request, key, upload, upload_len, r->user_id, r->rid};
    char job_id[33];
    int existed = 0;
    int rc = jobs_submit(db, &in, g_sweeper_cfg.max_attempts, g_sweeper_cfg.dispatch_grace_ms, job_id, &existed);
    if (rc == ROMA_ECONFLICT) {
        reply_error(r, 422, "ROMA.13002",
                    "The Idempotency-Key was already used with a different request; use a new key.");
        return;
    }
    if (rc != 0) {
        reply_unavailable(r, "database");
        return;
    }
    /* the row is committed: only now may a worker hear about it */
    if (!existed) (void)jobs_publish(job_id, r->rid);
    log_info(r->rid, existed ? "job.replayed" : "job.submitted", "%s job %s", type, job_id);
    char loc[256];
    snprintf(loc, sizeof loc, "/v2/%s/instances/%s/assets/jobs/%s", project, instance, job_id);
    reply_add_header(r, "Location", loc);
    reply_add_header(r, "Retry-After", "1");
    char body[64];
    snprintf(body, sizeof body, "{\"job_id\":\"%s\"}", job_id);
    reply_json_text(r, 200, body);
}

/* Export and delete share one body shape: {apps:[{id}], tasks:[{id}]}. */
static void submit_list_job(req *r, const char *type, int tasks_required)
{
    if (r->body_len == 0) {
        reply_error(r, 400, "ROMA.13001", "The request body is missing.");
        return;
    }
    cJSON *body = req_json_or_reply(r, 0);
    if (!body) return;
    cJSON *norm = cJSON_CreateObject();
    cJSON *apps = norm ? cJSON_AddArrayToObject(norm, "apps") : NULL;
    cJSON *tasks = norm ? cJSON_AddArrayToObject(norm, "tasks") : NULL;
    if (!apps || !tasks) {
        reply_internal(r, "oom");
    } else if (parse_id_list(r, body, "apps", 1, apps) == 0 && parse_id_list(r, body, "tasks", tasks_required, tasks) == 0) {
        submit_job(r, type, norm, NULL, 0);
    }
    cJSON_Delete(norm);
    cJSON_Delete(body);
}

static void export_asset(req *r) { submit_list_job(r, "exportAsset", 0); }
static void delete_asset(req *r) { submit_list_job(r, "deleteAsset", 1); }

/* ---- ImportAsset: multipart/form-data with the zip in the field ImportAssetRequestBody ---- */

/* Copies the value of `attr="..."` (or attr=token) from a header line into out. 1 when found. */
static int header_attr(const char *line, size_t line_len, const char *attr, char *out, size_t outlen)
{
    size_t an = strlen(attr);
    for (size_t i = 0; i + an + 1 < line_len; i++) {
        if ((i > 0 && line[i - 1] != ' ' && line[i - 1] != ';') || strncasecmp(line + i, attr, an) != 0 ||
            line[i + an] != '=')
            continue;
        const char *v = line + i + an + 1, *end = line + line_len;
        int quoted = v < end && *v == '"';
        if (quoted) v++;
        size_t n = 0;
        while (v + n < end && (quoted ? v[n] != '"' : (v[n] != ';' && v[n] != ' '))) n++;
        if (n >= outlen) n = outlen - 1;
        memcpy(out, v, n);
        out[n] = '\0';
        return 1;
    }
    return 0;
}

/* The filename of the part whose content starts at data (found by multipart_field): its header lines
 * are the ones between the boundary line ("--...") and the blank line just before data. */
static void part_filename(const char *body, const char *data, char *out, size_t outlen)
{
    out[0] = '\0';
    const char *line_end = data - 4; /* data is preceded by "\r\n\r\n" */
    while (line_end > body) {
        const char *start = line_end;
        while (start > body && !(start[-1] == '\n' && start - 1 > body && start[-2] == '\r')) start--;
        size_t len = (size_t)(line_end - start);
        if (len >= 2 && start[0] == '-' && start[1] == '-') return; /* reached the boundary line */
        if (len > 20 && !strncasecmp(start, "Content-Disposition:", 20) && header_attr(start, len, "filename", out, outlen))
            return;
        line_end = start - 2;
    }
}

/* DOC rule for ROMA.10013: a .zip whose name starts with a letter or digit, specials only + - _ */
static int zip_name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n < 5 || strcasecmp(name + n - 4, ".zip") != 0) return 0;
    for (size_t i = 0; i < n - 4; i++) {
        char c = name[i];
        int alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || (c & 0x80);
        if (i == 0 && !alnum) return 0;
        if (!alnum && c != '+' && c != '-' && c != '_') return 0;
    }
    return 1;
}

static void import_asset(req *r)
{
    /* req_query() empties the buffer of an absent parameter: defaults are applied after */
    char mode[16], prefix[256], overwrite[8];
    int n = req_query(r, "type", mode, sizeof mode);
    if (n == -1) n = req_query(r, "mode", mode, sizeof mode); /* older DOC name (spec §8 #5) */
    if (n == -1) snprintf(mode, sizeof mode, "AddNew");
    if (n == -2 || (strcmp(mode, "AddNew") != 0 && strcmp(mode, "Merge") != 0)) {
        reply_bad_param(r, "The parameter type must be AddNew or Merge.");
        return;
    }
    n = req_query(r, "prefix", prefix, sizeof prefix);
    if (n == -1) prefix[0] = '\0';
    /* the prefix becomes part of every name: it must be name characters itself (app_validate.c);
     * a prefixed name or key that then breaks its rule is that app's reason in the job */
    app_verr verr;
    if (n == -2 || util_utf8_len(prefix) < 0 || util_utf8_len(prefix) > 64 ||
        (prefix[0] && app_check_name(prefix, "prefix", &verr) != 0)) {
        reply_bad_param(r, "The parameter prefix must be at most 64 characters of those allowed in application names.");
        return;
    }
    n = req_query(r, "datasource_overwrite", overwrite, sizeof overwrite);
    if (n == -1) snprintf(overwrite, sizeof overwrite, "false");
    if (n == -2 || (strcmp(overwrite, "true") != 0 && strcmp(overwrite, "false") != 0)) {
        reply_bad_param(r, "The parameter datasource_overwrite must be true or false.");
        return;
    }
    if (r->body_len == 0) {
        reply_error(r, 400, "ROMA.13001", "The request body is missing.");
        return;
    }
    const char *data;
    size_t len;
    if (multipart_field(req_header(r, "Content-Type"), r->body, r->body_len, IMPORT_FIELD, &data, &len) != 0) {
        reply_bad_param(r, "The request must be multipart/form-data with the file field " IMPORT_FIELD ".");
        return;
    }
    char filename[256];
    part_filename(r->body, data, filename, sizeof filename);
    if (!zip_name_ok(filename)) {
        reply_error(r, 400, "ROMA.10013",
                    "Only .zip files are accepted; the name must start with a letter or digit and may only contain + - _ as special characters.");
        return;
    }
    /* a zip starts with a local file header (or is an empty archive's end record) */
    if (len < 22 || memcmp(data, "PK", 2) != 0 || (data[2] != 3 && data[2] != 5)) {
        reply_error(r, 400, "ROMA.10011", "The file could not be decompressed: it is not a zip archive.");
        return;
    }
    cJSON *norm = cJSON_CreateObject();
    if (!norm || !cJSON_AddStringToObject(norm, "type", mode) || !cJSON_AddStringToObject(norm, "prefix", prefix) ||
        !cJSON_AddBoolToObject(norm, "datasource_overwrite", !strcmp(overwrite, "true")) ||
        !cJSON_AddStringToObject(norm, "file_name", filename)) {
        cJSON_Delete(norm);
        reply_internal(r, "oom");
        return;
    }
    submit_job(r, "importAsset", norm, data, len);
    cJSON_Delete(norm);
}

static void show_job(req *r)
{
    PGconn *db = req_db_or_reply(r);
    if (!db) return;
    int rc;
    cJSON *job = jobs_show(db, req_param(r, "project_id"), req_param(r, "instance_id"), req_param(r, "job_id"),
                           r->rid, &rc);
    if (!job) {
        if (rc == ROMA_ENOTFOUND)
            reply_error(r, 404, ASSET_ERR_JOB_NOT_FOUND, "The asset job does not exist.");
        else
            reply_unavailable(r, "database");
        return;
    }
    reply_json(r, 200, job);
    cJSON_Delete(job);
}

/* Streams the archive chunk by chunk (never the whole zip in memory). The status line and headers are
 * written by hand because reply_raw() needs the whole body; tcp_nodelay is on, so the separate writes
 * do not hit the Nagle stall described in http.h. */
static void download_archive(req *r)
{
    const char *id = req_param(r, "archive_id");
    PGconn *db = req_db_or_reply(r);
    if (!db) return;
    const char *p[] = {id, req_param(r, "project_id"), req_param(r, "instance_id")};
    PGresult *res = util_is_hex32(id)
                        ? db_exec(db,
                                  "SELECT size, chunks FROM asset_archives WHERE id = $1 AND project_id = $2"
                                  " AND instance_id = $3 AND expires_at > now()",
                                  3, p)
                        : NULL;
    if (res && !db_ok(res, PGRES_TUPLES_OK, r->rid)) {
        PQclear(res);
        reply_unavailable(r, "database");
        return;
    }
    if (!res || PQntuples(res) == 0) {
        PQclear(res);
        reply_error(r, 404, ASSET_ERR_ARCHIVE_NOT_FOUND, "The asset archive does not exist or has expired.");
        return;
    }
    long long size = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    int chunks = atoi(PQgetvalue(res, 0, 1));
    PQclear(res);
    r->status = 200;
    int hw = mg_printf(r->conn,
              "HTTP/1.1 200 OK\r\nX-Request-Id: %s\r\nContent-Length: %lld\r\nContent-Type: application/zip\r\n"
              "Content-Disposition: attachment; filename=\"assets-%s.zip\"\r\n%s\r\n",
              r->rid, size, id, r->extra_headers ? r->extra_headers : "");
    long long sent = 0;
    for (int seq = 0; hw > 0 && seq < chunks; seq++) {
        char seqs[16];
        snprintf(seqs, sizeof seqs, "%d", seq);
        const char *cp[] = {id, seqs};
        /* binary result: the chunk arrives as raw bytes, no bytea hex decoding */
        PGresult *c = PQexecParams(db, "SELECT data FROM asset_archive_chunks WHERE archive_id = $1 AND seq = $2::int", 2,
                                   NULL, cp, NULL, NULL, 1);
        if (!c || !db_ok(c, PGRES_TUPLES_OK, r->rid) || PQntuples(c) != 1) {
            PQclear(c);
            break; /* headers are out: all we can do is cut the connection short */
        }
        int len = PQgetlength(c, 0, 0);
        int w = mg_write(r->conn, PQgetvalue(c, 0, 0), (size_t)len);
        PQclear(c);
        if (w != len) break;
        sent += len;
    }
    if (sent != size) log_warn(r->rid, "archive.download_cut", "archive %s: sent %lld of %lld bytes", id, sent, size);
}

#define ASSETS "/v2/{project_id}/instances/{instance_id}/assets"
const route assets_routes[] = {
    {"POST", ASSETS "/export", export_asset, ROUTE_INSTANCE, ERR_SHAPE_ROMA},
    {"POST", ASSETS "/import", import_asset, ROUTE_INSTANCE | ROUTE_RAW_BODY, ERR_SHAPE_ROMA},
    {"POST", ASSETS "/delete", delete_asset, ROUTE_INSTANCE, ERR_SHAPE_ROMA},
    {"GET", ASSETS "/jobs/{job_id}", show_job, ROUTE_INSTANCE, ERR_SHAPE_ROMA},
    {"GET", ASSETS "/archives/{archive_id}", download_archive, ROUTE_INSTANCE, ERR_SHAPE_ROMA},
    {NULL},
};
