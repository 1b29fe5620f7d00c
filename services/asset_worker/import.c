/* import.c: importAsset jobs: read the uploaded package (asset_jobs.upload) with libarchive, check its
 * manifest and limits, then re-create its apps inside the fenced finishing transaction through the apps
 * module's contract function app_import_doc() (migrations/002_apps.sql).
 *
 * Options (query of ImportAsset, stored in the job request): type AddNew (default) | Merge, prefix
 * (prepended to each app name, and to its key, which is unique per instance too), datasource_overwrite
 * (no datasources in packages yet: ignored).
 *
 * Two passes over the zip (it is in memory; skipping an entry costs no inflating):
 * 1. check: count the entries (ROMA_IMPORT_MAX_ENTRIES), inflate every app document only to count its
 *    bytes (ROMA_IMPORT_MAX_ENTRY_BYTES each, ROMA_IMPORT_MAX_BYTES in all, counted as they inflate,
 *    never taken from the zip's own claims), and read the manifest. A package over a limit, that does
 *    not unzip (ROMA.10011) or has no valid manifest (ROMA.00015005) is FAILED with that one reason and
 *    nothing imported.
 * 2. import: one document at a time (parsed, checked, imported, freed: memory does not grow with the
 *    package), each under a savepoint, so one bad document is one reason and the others still import.
 *
 * Every document goes through the rules of CreateRomaApp (app_check_create_object of app_validate.c,
 * which the worker links: the same code as the API, not a copy) after the prefix is applied; the id, when
 * given, must be a UUID; members follow the AddUserToApp rules (app_check_members_array). A document
 * that breaks a rule is a reason ROMA.13000 naming the field. Errors the database raises for one
 * document's data (classes 22 and 23) are that document's reason too: only connection-level failures
 * give the job back for a retry, so a bad package never burns the attempt budget.
 *
 * - AddNew: an app whose name or key already exists in the instance is not imported: reason
 *   ROMA.00015006.
 * - Merge: such an app is updated in place (remark) as PUT /apps/{id} would for the job's user: the same
 *   role decision (APP_NEED_UPDATE: admin, else reason ROMA.12001) and the same statement
 *   (app_store_update). Its key, secret and members stay as they are. A name matching one app and a key
 *   matching another is ROMA.00015006.
 * - Secrets: a document's secret_grant (export.c) is honoured only when it opens with this deployment's
 *   key AND names the importing user as its exporter, i.e. someone who could read the secret directly
 *   when exporting. Anyone else, and any older package (plain secret_sealed), gets a fresh random secret
 *   (ROMA: "a new secret is generated on import"); so export + import never copies a secret to a user
 *   who could not have read it. A document may also carry a plain "secret": that is the user choosing
 *   one, as create allows, under create's rule.
 * Any reason makes the job FAILED; the apps that could be imported are imported (same as delete). */
#include <archive.h>
#include <archive_entry.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "asset_job.h"
#include "crypto.h"
#include "db.h"
#include "job.h"
#include "json_gate.h"
#include "log.h"
#include "util.h"

#define READ_CHUNK 16384

/* ---- reading the package ---- */

typedef struct pkg_reader {
    struct archive *a;
    long long inflated; /* bytes inflated so far in this pass */
} pkg_reader;

static int pkg_open(pkg_reader *pr, const void *data, size_t len)
{
    pr->inflated = 0;
    pr->a = archive_read_new();
    if (!pr->a) return ROMA_ENOMEM;
    if (archive_read_support_format_zip(pr->a) != ARCHIVE_OK || archive_read_open_memory(pr->a, data, len) != ARCHIVE_OK) {
        archive_read_free(pr->a);
        pr->a = NULL;
        return ROMA_EINVAL;
    }
    return 0;
}

static void pkg_close(pkg_reader *pr)
{
    if (pr->a) archive_read_free(pr->a);
    pr->a = NULL;
}

enum { ENTRY_OTHER = 0, ENTRY_MANIFEST, ENTRY_APP };

static int entry_kind(const char *name)
{
    if (!name) return ENTRY_OTHER;
    size_t n = strlen(name);
    if (!strcmp(name, "manifest.json")) return ENTRY_MANIFEST;
    if (n > 10 && !strncmp(name, "apps/", 5) && !strcmp(name + n - 5, ".json")) return ENTRY_APP;
    return ENTRY_OTHER;
}

/* Inflates the current entry chunk by chunk, counting every byte against the limits as it comes. With
 * out, keeps it as a NUL-terminated heap string (*outlen bytes). 0, ROMA_ETOOBIG (*limit names what
 * was exceeded), ROMA_EINVAL (cannot be inflated) or ROMA_ENOMEM. */
static int read_entry(pkg_reader *pr, char **out, size_t *outlen, const char **limit)
{
    char chunk[READ_CHUNK];
    char *buf = NULL;
    size_t cap = 0, len = 0;
    int rc = 0;
    for (;;) {
        la_ssize_t got = archive_read_data(pr->a, chunk, sizeof chunk);
        if (got < 0) {
            rc = ROMA_EINVAL;
            break;
        }
        if (got == 0) break;
        pr->inflated += got;
        if (pr->inflated > g_wcfg.import_max_bytes) {
            *limit = "ROMA_IMPORT_MAX_BYTES";
            rc = ROMA_ETOOBIG;
            break;
        }
        if (len + (size_t)got > (size_t)g_wcfg.import_max_entry_bytes) {
            *limit = "ROMA_IMPORT_MAX_ENTRY_BYTES";
            rc = ROMA_ETOOBIG;
            break;
        }
        if (out && len + (size_t)got + 1 > cap) {
            size_t ncap = cap ? cap * 2 : 8192;
            while (ncap < len + (size_t)got + 1) ncap *= 2;
            char *nb = realloc(buf, ncap);
            if (!nb) {
                rc = ROMA_ENOMEM;
                break;
            }
            buf = nb;
            cap = ncap;
        }
        if (out) memcpy(buf + len, chunk, (size_t)got);
        len += (size_t)got;
    }
    if (rc != 0 || !out) {
        free(buf);
        return rc;
    }
    if (!buf && !(buf = malloc(1))) return ROMA_ENOMEM;
    buf[len] = '\0';
    *out = buf;
    *outlen = len;
    return 0;
}

/* Every JSON text of a package is parsed here, and only here (one place for the request-body gate). */
static cJSON *pkg_parse_json(const char *text, size_t len, app_verr *err)
{
    /* the same gate as every request body (depth, UTF-8, NUL, duplicate keys) before cJSON sees it */
    json_gate_err ge;
    if (json_gate_check(text, len, json_gate_max_depth(), len + 1, &ge) != 0) {
        err->kind = APP_VERR_PARAM;
        snprintf(err->field, sizeof err->field, "%.47s", ge.code == JSON_GATE_DUP_KEY ? ge.path : "");
        snprintf(err->msg, sizeof err->msg, "%s.", ge.msg);
        return NULL;
    }
    cJSON *doc = NULL;
    return app_parse_json_object(text, len, &doc, err) == 0 ? doc : NULL;
}

/* Pass 1: limits and manifest. 0 with nothing added when the package may be imported; otherwise the
 * one reason is in reasons. ROMA_ENOMEM. */
static int check_package(const void *data, size_t len, const char *file, job_reasons *reasons)
{
    pkg_reader pr;
    int rc = pkg_open(&pr, data, len);
    if (rc == ROMA_ENOMEM) return rc;
    if (rc != 0) {
        job_add_reason(reasons, "package", file, "ROMA.10011", "The package could not be decompressed.");
        return 0;
    }
    struct archive_entry *e;
    long entries = 0;
    int r, manifests = 0, manifest_ok = 0;
    while (rc == 0 && (r = archive_read_next_header(pr.a, &e)) == ARCHIVE_OK) {
        if (++entries > g_wcfg.import_max_entries) {
            job_add_reasonf(reasons, "package", file, ASSET_ERR_PKG_LIMIT,
                            "The package holds more than %ld entries (ROMA_IMPORT_MAX_ENTRIES).", g_wcfg.import_max_entries);
            rc = 1;
            break;
        }
        int kind = entry_kind(archive_entry_pathname(e));
        if (kind == ENTRY_OTHER) continue;
        char *text = NULL;
        size_t tlen = 0;
        const char *limit = "";
        int rr = read_entry(&pr, kind == ENTRY_MANIFEST ? &text : NULL, &tlen, &limit);
        if (rr == ROMA_ENOMEM) {
            rc = rr;
            break;
        }
        if (rr == ROMA_ETOOBIG) {
            job_add_reasonf(reasons, "package", file, ASSET_ERR_PKG_LIMIT, "The package is over a limit (%s: %ld bytes).", limit,
                            !strcmp(limit, "ROMA_IMPORT_MAX_BYTES") ? g_wcfg.import_max_bytes : g_wcfg.import_max_entry_bytes);
            rc = 1;
            break;
        }
        if (rr != 0) {
            job_add_reason(reasons, "package", file, "ROMA.10011", "The package could not be decompressed.");
            rc = 1;
            break;
        }
        if (kind == ENTRY_MANIFEST) {
            app_verr verr;
            cJSON *m = ++manifests == 1 ? pkg_parse_json(text, tlen, &verr) : NULL;
            const char *fmt = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "format"));
            const cJSON *ver = cJSON_GetObjectItemCaseSensitive(m, "version");
            manifest_ok = fmt && !strcmp(fmt, ASSET_PKG_FORMAT) && cJSON_IsNumber(ver) && ver->valuedouble == ASSET_PKG_VERSION;
            cJSON_Delete(m);
            free(text);
        }
    }
    if (rc == 0 && r != ARCHIVE_EOF) {
        job_add_reason(reasons, "package", file, "ROMA.10011", "The package could not be decompressed.");
    } else if (rc == 0 && (manifests != 1 || !manifest_ok)) {
        job_add_reason(reasons, "package", file, ASSET_ERR_BAD_PACKAGE,
                       "Not an openroma-assets version 1 package (one manifest.json).");
    }
    pkg_close(&pr);
    return rc == ROMA_ENOMEM ? rc : 0;
}

/* ---- one document ---- */

/* Error classes of PostgreSQL that mean "this data cannot be stored" (22 data exception, 23 integrity
 * constraint): retrying cannot help, so they are the document's reason, not a job failure. */
static int sqlstate_permanent(const char *state) { return !strncmp(state, "22", 2) || !strncmp(state, "23", 2); }

/* The secret of the imported app (heap, crypto_free_secret): a plain one chosen in the document, the
 * grant's when it opens and names the importing user, else a fresh random one. NULL on OOM/no entropy. */
static char *secret_for(job *j, const cJSON *app, const char *chosen)
{
    if (chosen) return strdup(chosen);
    const char *grant = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(app, "secret_grant"));
    char *open = grant ? crypto_open(grant) : NULL;
    if (open) {
        char *nl = strchr(open, '\n');
        size_t ulen = nl ? (size_t)(nl - open) : 0;
        /* bound to its exporter: only they could read it directly */
        if (nl && *j->created_by && ulen == strlen(j->created_by) && !memcmp(open, j->created_by, ulen) &&
            app_check_secret(nl + 1, "secret", NULL) == 0) {
            char *s = strdup(nl + 1);
            crypto_free_secret(open);
            return s;
        }
        crypto_free_secret(open);
    }
    char fresh[APP_RANDOM_SECRET_LEN + 1];
    if (app_random_secret(fresh, sizeof fresh) != 0) return NULL;
    char *s = strdup(fresh);
    explicit_bzero(fresh, sizeof fresh);
    return s;
}

/* The validated document as app_import_doc() takes it: only checked fields reach SQL. */
static char *clean_doc(const char *id, const char *name, const char *remark, const char *key, const char *sealed,
                       const app_members_req *m)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *mem = o ? cJSON_AddArrayToObject(o, "members") : NULL;
    int ok = mem && (!id || cJSON_AddStringToObject(o, "id", id)) && cJSON_AddStringToObject(o, "name", name) &&
             cJSON_AddStringToObject(o, "remark", remark ? remark : "") && cJSON_AddStringToObject(o, "key", key) &&
             cJSON_AddStringToObject(o, "secret_sealed", sealed);
    for (int i = 0; ok && i < m->n; i++) {
        cJSON *u = cJSON_CreateObject(), *roles = NULL;
        if (!u || !cJSON_AddItemToArray(mem, u)) {
            cJSON_Delete(u);
            ok = 0;
            break;
        }
        ok = cJSON_AddStringToObject(u, "user_id", m->users[i].user_id) && (roles = cJSON_AddArrayToObject(u, "roles")) &&
             app_roles_to_json(m->users[i].roles, roles) == 0;
    }
    char *text = ok ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    return text;
}

/* Merge onto the existing app with this name or key, as PUT /apps/{id} {remark} by the job's user.
 * 1 merged, 0 reason added, ROMA_EIO. */
static int merge_app(job *j, const char *name, const char *key, const char *remark, const char *user_name,
                     job_reasons *reasons)
{
    const char *p[] = {j->instance_id, name, key};
    PGresult *res = db_exec(j->db, "SELECT id FROM apps WHERE instance_id = $1 AND (name = $2 OR key = $3) LIMIT 2", 3, p);
    if (!db_ok(res, PGRES_TUPLES_OK, j->rid)) {
        PQclear(res);
        return ROMA_EIO;
    }
    if (PQntuples(res) != 1) { /* name of one app, key of another (or gone meanwhile): nothing to merge onto */
        PQclear(res);
        job_add_reason(reasons, "application", name, ASSET_ERR_APP_EXISTS, "An application with this name or key already exists.");
        return 0;
    }
    char id[65];
    snprintf(id, sizeof id, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    app_ref ref;
    int rc = job_app_access(j, id, APP_NEED_UPDATE, "modify", name, reasons, &ref);
    if (rc <= 0) return rc;
    app_update_req u = {.doc = NULL, .name = NULL, .remark = remark, .favorite = -1};
    PGresult *row = NULL;
    int conflict;
    rc = app_store_update(j->db, j->instance_id, id, j->created_by, user_name, &u, j->rid, &row, &conflict);
    PQclear(row);
    if (rc == ROMA_EDENIED || rc == ROMA_ENOTFOUND) { /* role revoked or app deleted since the check */
        job_add_reason(reasons, "application", name, ASSET_ERR_NO_PERMISSION, "You have no permission to modify the application.");
        return 0;
    }
    return rc == 0 ? 1 : ROMA_EIO;
}

/* Checks one document and imports it. 1 imported/merged, 0 reason added, ROMA_EIO / ROMA_ENOMEM. */
static int import_doc(job *j, const char *entry, const char *text, size_t len, int merge, const char *prefix,
                      const char *user_name, job_reasons *reasons)
{
    app_verr verr = {0};
    cJSON *doc = pkg_parse_json(text, len, &verr);
    const cJSON *app = cJSON_GetObjectItemCaseSensitive(doc, "app");
    if (!cJSON_IsObject(app)) {
        cJSON_Delete(doc);
        job_add_reasonf(reasons, "application", entry, ASSET_ERR_BAD_PACKAGE, "The document is invalid: %s",
                        doc ? "no \"app\" object." : verr.msg);
        return 0;
    }
    app_create_req cr;
    app_members_req m = {0};
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(app, "id");
    const cJSON *members = cJSON_GetObjectItemCaseSensitive(app, "members");
    char name[APP_NAME_BYTES + 256], key[APP_KEY_MAX * 4 + 256], genkey[APP_RANDOM_KEY_LEN + 1];
    int bad = app_check_create_object(app, &cr, &verr) != 0;
    if (!bad && id && !cJSON_IsNull(id) && !(cJSON_IsString(id) && util_is_uuid(id->valuestring))) {
        snprintf(verr.msg, sizeof verr.msg, "Invalid parameter id: it must be a UUID.");
        bad = 1;
    }
    if (!bad && members && !cJSON_IsNull(members) && app_check_members_array(members, "members", "user_id", &m, &verr) != 0)
        bad = 1;
    if (!bad && !cr.key && app_random_key(genkey, sizeof genkey) != 0) {
        app_members_req_free(&m);
        cJSON_Delete(doc);
        return ROMA_EIO;
    }
    if (!bad) { /* the prefixed values must pass the same rules */
        snprintf(name, sizeof name, "%s%s", prefix, cr.name);
        snprintf(key, sizeof key, "%s%s", prefix, cr.key ? cr.key : genkey);
        bad = app_check_name(name, "name", &verr) != 0 || app_check_key(key, "key", &verr) != 0;
    }
    if (bad) {
        const char *shown = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(app, "name"));
        job_add_reason(reasons, "application", shown ? shown : entry, ASSET_ERR_BAD_FIELD, verr.msg);
        app_members_req_free(&m);
        cJSON_Delete(doc);
        return 0;
    }
    char *secret = secret_for(j, app, cr.secret);
    char *sealed = secret ? crypto_seal(secret) : NULL;
    if (secret) crypto_free_secret(secret);
    char *clean = sealed ? clean_doc(cJSON_IsString(id) ? id->valuestring : NULL, name, cr.remark, key, sealed, &m) : NULL;
    free(sealed);
    app_members_req_free(&m);
    if (!clean) {
        cJSON_Delete(doc);
        return ROMA_ENOMEM;
    }
    int rc = 1;
    if (db_command(j->db, "SAVEPOINT app_imp", j->rid) != 0) rc = ROMA_EIO;
    const char *p[] = {clean, j->project_id, j->instance_id, j->created_by, user_name};
    PGresult *res = rc == 1 ? db_exec(j->db, "SELECT app_import_doc($1::jsonb, $2, $3, $4, $5)", 5, p) : NULL;
    const char *state = res && PQresultStatus(res) != PGRES_TUPLES_OK ? db_sqlstate(res) : "";
    int clash = !strcmp(state, "23505");
    if (res && *state && !clash) {
        if (sqlstate_permanent(state)) {
            log_warn(j->rid, "import.doc_refused", "job %s: %s refused by the database (sqlstate %s)", j->id, entry, state);
            job_add_reasonf(reasons, "application", name, ASSET_ERR_BAD_PACKAGE, "The database refused the application (%s).", state);
            rc = 0;
        } else {
            (void)db_ok(res, PGRES_TUPLES_OK, j->rid);
            rc = ROMA_EIO;
        }
    }
    PQclear(res);
    if ((clash || rc == 0) && db_command(j->db, "ROLLBACK TO SAVEPOINT app_imp", j->rid) != 0) rc = ROMA_EIO;
    else if (rc == 1 && !clash && db_command(j->db, "RELEASE SAVEPOINT app_imp", j->rid) != 0) rc = ROMA_EIO;
    if (rc == 1 && clash) {
        if (merge)
            rc = merge_app(j, name, key, cr.remark, user_name, reasons);
        else {
            job_add_reason(reasons, "application", name, ASSET_ERR_APP_EXISTS, "An application with this name or key already exists.");
            rc = 0;
        }
    }
    cJSON_free(clean);
    cJSON_Delete(doc);
    return rc;
}

/* Pass 2, inside the finishing transaction: every app document, one at a time. 0 or an error. */
static int import_all(job *j, const void *data, size_t len, int merge, const char *prefix, const char *user_name,
                      job_reasons *reasons, int *imported)
{
    pkg_reader pr;
    int rc = pkg_open(&pr, data, len);
    if (rc != 0) return rc == ROMA_ENOMEM ? rc : ROMA_EIO; /* pass 1 opened it */
    struct archive_entry *e;
    while (rc == 0 && archive_read_next_header(pr.a, &e) == ARCHIVE_OK) {
        const char *path = archive_entry_pathname(e);
        if (entry_kind(path) != ENTRY_APP) continue;
        char entry[128];
        snprintf(entry, sizeof entry, "%s", path);
        char *text = NULL;
        size_t tlen = 0;
        const char *limit = "";
        int rr = read_entry(&pr, &text, &tlen, &limit);
        if (rr == ROMA_ENOMEM) {
            rc = rr;
            break;
        }
        if (rr != 0) { /* pass 1 read the same bytes: cannot happen, but never import half a document */
            job_add_reason(reasons, "application", entry, "ROMA.10011", "The document could not be decompressed.");
            continue;
        }
        int r = import_doc(j, entry, text, tlen, merge, prefix, user_name, reasons);
        free(text);
        if (r < 0) rc = r;
        *imported += r > 0;
    }
    pkg_close(&pr);
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
    if (!file) file = "";
    if (!prefix) prefix = "";
    PGresult *up = load_upload(j);
    if (!up) return ROMA_EIO;
    const void *data = PQgetvalue(up, 0, 0);
    size_t len = (size_t)PQgetlength(up, 0, 0);
    job_reasons reasons;
    int rc = job_reasons_init(&reasons);
    if (rc == 0) rc = check_package(data, len, file, &reasons);
    int refused = reasons.total > 0; /* the package as a whole: nothing of it is imported */
    if (rc == 0) rc = job_step(j, 0.3);
    char user_name[65];
    if (rc == 0) rc = user_name_of(j, user_name);
    if (rc == 0) rc = job_finish_begin(j);
    int imported = 0, began = rc == 0;
    if (rc == 0 && !refused) rc = import_all(j, data, len, merge, prefix, user_name, &reasons, &imported);
    if (rc == 0) {
        long nreasons = reasons.total;
        rc = job_finish_commit(j, &reasons, NULL);
        if (rc == 0)
            log_info(j->rid, "import.done", "job %s: %d apps imported (%s), %ld reasons", j->id, imported,
                     merge ? "Merge" : "AddNew", nreasons);
    } else if (began) {
        job_finish_abort(j);
    }
    PQclear(up);
    job_reasons_free(&reasons);
    return rc;
}
