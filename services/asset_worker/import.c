/* import.c: importAsset jobs: read the uploaded package (asset_jobs.upload) with libarchive, check its
 * manifest (export.c describes the format), then re-create its apps inside the fenced finishing
 * transaction through the apps module's contract function app_import_doc() (migrations/002_apps.sql).
 *
 * Options (query of ImportAsset, stored in the job request): type AddNew (default) | Merge, prefix
 * (prepended to each app name, and to its key, which is unique per instance too), datasource_overwrite
 * (no datasources in packages yet: ignored).
 * - AddNew: an app whose name or key already exists in the instance is not imported: reason
 *   ROMA.00015006.
 * - Merge: such an app is updated in place (remark); its key and secret stay as they are.
 * - Secrets: a sealed secret this deployment can open (same ROMA_SECRET_KEY) is kept; otherwise a new
 *   random secret is generated and sealed (ROMA: "a new secret is generated on import").
 * - A package that does not unzip -> FAILED, reason ROMA.10011; wrong format/version -> ROMA.00015005.
 * Any reason makes the job FAILED; the apps that could be imported are imported (same as delete). */
#include <archive.h>
#include <archive_entry.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "asset_job.h"
#include "json_gate.h"
#include "crypto.h"
#include "db.h"
#include "job.h"
#include "log.h"

#define ENTRY_MAX_BYTES (4 * 1024 * 1024)

/* Reads the current entry of a into a NUL-terminated heap buffer. NULL when too big or unreadable. */
static char *read_entry(struct archive *a, struct archive_entry *e)
{
    la_int64_t size = archive_entry_size_is_set(e) ? archive_entry_size(e) : -1;
    if (size > ENTRY_MAX_BYTES) return NULL;
    size_t cap = size >= 0 ? (size_t)size + 1 : 65536, len = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (len + 1 >= cap) {
            if (cap > ENTRY_MAX_BYTES) break;
            char *nb = realloc(buf, cap * 2);
            if (!nb) break;
            buf = nb;
            cap *= 2;
        }
        la_ssize_t got = archive_read_data(a, buf + len, cap - len - 1);
        if (got < 0) break;
        if (got == 0) {
            buf[len] = '\0';
            return buf;
        }
        len += (size_t)got;
    }
    free(buf);
    return NULL;
}

/* Unpacks manifest.json and apps/<id>.json documents. 0 or ROMA_EINVAL (not a readable zip) with
 * *manifest / docs filled as far as they could be. */
static int read_package(const void *data, size_t len, cJSON **manifest, cJSON *docs)
{
    struct archive *a = archive_read_new();
    if (!a) return ROMA_ENOMEM;
    int rc = 0;
    if (archive_read_support_format_zip(a) != ARCHIVE_OK || archive_read_open_memory(a, data, len) != ARCHIVE_OK)
        rc = ROMA_EINVAL;
    struct archive_entry *e;
    int r;
    while (rc == 0 && (r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
        const char *name = archive_entry_pathname(e);
        int is_manifest = name && !strcmp(name, "manifest.json");
        int is_app = name && !strncmp(name, "apps/", 5) && strlen(name) > 10 && !strcmp(name + strlen(name) - 5, ".json");
        if (!is_manifest && !is_app) continue;
        char *text = read_entry(a, e);
        cJSON *doc = text ? json_gate_parse_str(text, NULL) : NULL;
        free(text);
        if (!doc) {
            rc = ROMA_EINVAL;
        } else if (is_manifest) {
            cJSON_Delete(*manifest);
            *manifest = doc;
        } else {
            cJSON_AddItemToArray(docs, doc);
        }
    }
    if (rc == 0 && r != ARCHIVE_EOF) rc = ROMA_EINVAL;
    archive_read_free(a);
    return rc;
}

/* Loads the uploaded package (binary result: raw bytes). */
static PGresult *load_upload(job *j)
{
    const char *p[] = {j->id};
    PGresult *res = PQexecParams(j->db, "SELECT upload FROM asset_jobs WHERE id = $1 AND upload IS NOT NULL", 1, NULL, p,
                                 NULL, NULL, 1);
    if (!res || !db_ok(res, PGRES_TUPLES_OK, j->rid) || PQntuples(res) != 1) {
        PQclear(res);
        return NULL;
    }
    return res;
}

/* Makes doc importable here: prefix the name, replace a secret this deployment cannot open. */
static int prepare_doc(cJSON *app, const char *prefix)
{
    if (!cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(app, "name"))) return ROMA_EINVAL;
    /* the key is unique per instance like the name: prefix both, or a prefixed copy always clashes */
    static const char *const prefixed[] = {"name", "key"};
    for (size_t i = 0; *prefix && i < 2; i++) {
        const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(app, prefixed[i]));
        if (!v) continue;
        size_t n = strlen(prefix) + strlen(v) + 1;
        char *pv = malloc(n);
        if (!pv) return ROMA_ENOMEM;
        snprintf(pv, n, "%s%s", prefix, v);
        cJSON *item = cJSON_CreateString(pv);
        free(pv);
        if (!item || !cJSON_ReplaceItemInObjectCaseSensitive(app, prefixed[i], item)) {
            cJSON_Delete(item);
            return ROMA_ENOMEM;
        }
    }
    const char *sealed = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(app, "secret_sealed"));
    char *open = sealed ? crypto_open(sealed) : NULL;
    if (open) {
        crypto_free_secret(open);
        return 0;
    }
    char fresh[33];
    if (crypto_random_token(fresh, sizeof fresh, 32) != 0) return ROMA_EIO;
    char *resealed = crypto_seal(fresh);
    memset(fresh, 0, sizeof fresh);
    if (!resealed) return ROMA_ENOMEM;
    cJSON_DeleteItemFromObjectCaseSensitive(app, "secret_sealed");
    cJSON_AddStringToObject(app, "secret_sealed", resealed);
    free(resealed);
    return 0;
}

/* Imports one app document under a savepoint. 1 imported/merged, 0 clash (reason added), ROMA_EIO. */
static int import_app(job *j, cJSON *app, int merge, const char *user_name, cJSON *reasons)
{
    const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(app, "name"));
    char *doc = cJSON_PrintUnformatted(app);
    if (!doc) return ROMA_ENOMEM;
    if (db_command(j->db, "SAVEPOINT app_imp", j->rid) != 0) {
        cJSON_free(doc);
        return ROMA_EIO;
    }
    const char *p[] = {doc, j->project_id, j->instance_id, j->created_by, user_name};
    PGresult *res = db_exec(j->db, "SELECT app_import_doc($1::jsonb, $2, $3, $4, $5)", 5, p);
    int rc = 1;
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        int clash = !strcmp(db_sqlstate(res), "23505");
        if (!clash) (void)db_ok(res, PGRES_TUPLES_OK, j->rid);
        rc = clash ? 0 : ROMA_EIO;
    }
    PQclear(res);
    if (rc == 0 && db_command(j->db, "ROLLBACK TO SAVEPOINT app_imp", j->rid) != 0) rc = ROMA_EIO;
    if (rc == 0 && merge) {
        const char *mp[] = {j->project_id, j->instance_id, doc};
        res = db_exec(j->db,
                      "UPDATE apps SET remark = COALESCE($3::jsonb->>'remark', remark), update_time = now()"
                      " WHERE project_id = $1 AND instance_id = $2 AND (name = $3::jsonb->>'name' OR key = $3::jsonb->>'key')",
                      3, mp);
        if (!db_ok(res, PGRES_COMMAND_OK, j->rid)) rc = ROMA_EIO;
        else if (atoi(PQcmdTuples(res)) >= 1) rc = 1;
        PQclear(res);
    }
    if (rc == 0)
        job_add_reason(reasons, "application", name ? name : "", ASSET_ERR_APP_EXISTS,
                       "An application with this name or key already exists.");
    if (rc == 1 && db_command(j->db, "RELEASE SAVEPOINT app_imp", j->rid) != 0) rc = ROMA_EIO;
    cJSON_free(doc);
    return rc;
}

static int user_name_of(job *j, char out[65])
{
    const char *p[] = {j->created_by};
    PGresult *res = db_exec(j->db, "SELECT name FROM users WHERE id = $1", 1, p);
    int ok = db_ok(res, PGRES_TUPLES_OK, j->rid);
    snprintf(out, 65, "%s", ok && PQntuples(res) == 1 ? PQgetvalue(res, 0, 0) : "import");
    PQclear(res);
    return ok ? 0 : ROMA_EIO;
}

int import_run(job *j)
{
    const char *mode = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j->request, "type"));
    const char *prefix = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j->request, "prefix"));
    const char *file = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j->request, "file_name"));
    int merge = mode && !strcmp(mode, "Merge");
    PGresult *up = load_upload(j);
    if (!up) return ROMA_EIO;
    cJSON *manifest = NULL, *docs = cJSON_CreateArray(), *reasons = cJSON_CreateArray();
    int rc = docs && reasons ? 0 : ROMA_ENOMEM;
    if (rc == 0 && read_package(PQgetvalue(up, 0, 0), (size_t)PQgetlength(up, 0, 0), &manifest, docs) != 0)
        job_add_reason(reasons, "package", file ? file : "", "ROMA.10011", "The package could not be decompressed.");
    PQclear(up);
    const char *fmt = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(manifest, "format"));
    const cJSON *ver = cJSON_GetObjectItemCaseSensitive(manifest, "version");
    if (rc == 0 && !cJSON_GetArraySize(reasons) &&
        (!fmt || strcmp(fmt, ASSET_PKG_FORMAT) != 0 || !cJSON_IsNumber(ver) || ver->valueint != ASSET_PKG_VERSION))
        job_add_reason(reasons, "package", file ? file : "", ASSET_ERR_BAD_PACKAGE,
                       "Not an openroma-assets version 1 package.");
    if (rc == 0) rc = job_step(j, 0.3);
    char user_name[65];
    if (rc == 0) rc = user_name_of(j, user_name);
    if (rc == 0) rc = job_finish_begin(j);
    int imported = 0;
    for (cJSON *d = cJSON_GetArraySize(reasons) ? NULL : docs->child; rc == 0 && d; d = d->next) {
        cJSON *app = cJSON_GetObjectItemCaseSensitive(d, "app");
        if (!cJSON_IsObject(app) || prepare_doc(app, prefix ? prefix : "") != 0) {
            job_add_reason(reasons, "application", "", ASSET_ERR_BAD_PACKAGE, "An application document is invalid.");
            continue;
        }
        int r = import_app(j, app, merge, user_name, reasons);
        if (r < 0) rc = r;
        imported += r > 0;
    }
    if (rc == 0) {
        rc = job_finish_commit(j, cJSON_GetArraySize(reasons) ? "FAILED" : "SUCCEEDED", reasons, NULL);
        if (rc == 0) log_info(j->rid, "import.done", "job %s: %d apps imported (%s)", j->id, imported, merge ? "Merge" : "AddNew");
    } else if (rc != JOB_FENCED) {
        job_finish_abort(j);
    }
    cJSON_Delete(manifest);
    cJSON_Delete(docs);
    cJSON_Delete(reasons);
    return rc;
}
