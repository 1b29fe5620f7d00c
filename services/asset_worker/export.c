/* export.c: exportAsset jobs: stream the selected apps into a zip (libarchive) in a temporary file, then
 * store it as asset_archives + 256 KiB chunks in the fenced finishing transaction.
 *
 * Package layout (format "openroma-assets", version 1; human-readable, pretty-printed JSON):
 *   apps/<app_id>.json  {"kind":"application","format_version":1,"app":<app_export_docs.doc>}
 *   manifest.json       {"format":"openroma-assets","version":1,"exported_at":ISO,"project_id",
 *                        "instance_id","apps":[{"id","name"}],"tasks":[]}  (written last)
 * The app document (migrations/002_apps.sql view app_export_docs) carries everything needed to re-create
 * the app. Its secret is never in clear: when the exporting user may read it (APP_NEED_SECRET) it travels
 * as a sealed grant bound to that user (seal_grant below), which only a deployment holding the same
 * ROMA_SECRET_KEY can open and which import honours only for the same user; otherwise the document has
 * no secret and import generates a new one (what ROMA does: the secret is a "non-asset", fdi spec
 * §7.2). A downloadable file never holds a usable secret.
 *
 * Roles: an app is exported only when the job's user may show it (the decision of GET /apps/{id}).
 *
 * Memory: apps are read with keyset paging (id > last id, ROMA_ASSET_BATCH_SIZE rows) and written to the
 * zip as they come; only the manifest's {id,name} list grows with the export (about 100 B per app). */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "asset_job.h"
#include "crypto.h"
#include "db.h"
#include "job.h"
#include "log.h"
#include "util.h"

#define CHUNK_BYTES (256 * 1024)

typedef struct zip_out {
    struct archive *a;
    int fd;
    time_t now;
} zip_out;

static int zip_open(zip_out *z, const char *rid)
{
    char path[512];
    snprintf(path, sizeof path, "%s/roma-export-XXXXXX", g_wcfg.tmp_dir);
    z->fd = mkstemp(path);
    if (z->fd < 0) {
        log_error(rid, "export.tmpfile", "cannot create a temporary file in %s: %s", g_wcfg.tmp_dir, strerror(errno));
        return ROMA_EIO;
    }
    unlink(path); /* anonymous from now on: a crash leaves nothing behind */
    z->now = time(NULL);
    z->a = archive_write_new();
    if (!z->a || archive_write_set_format_zip(z->a) != ARCHIVE_OK ||
        archive_write_set_bytes_in_last_block(z->a, 1) != ARCHIVE_OK || archive_write_open_fd(z->a, z->fd) != ARCHIVE_OK) {
        log_error(rid, "export.archive", "cannot start the zip: %s", z->a ? archive_error_string(z->a) : "oom");
        if (z->a) archive_write_free(z->a);
        z->a = NULL;
        close(z->fd);
        z->fd = -1;
        return ROMA_EIO;
    }
    return 0;
}

static int zip_add(zip_out *z, const char *name, const char *data, size_t len, const char *rid)
{
    struct archive_entry *e = archive_entry_new();
    if (!e) return ROMA_ENOMEM;
    archive_entry_set_pathname(e, name);
    archive_entry_set_size(e, (la_int64_t)len);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_mtime(e, z->now, 0);
    int rc = 0;
    if (archive_write_header(z->a, e) != ARCHIVE_OK || archive_write_data(z->a, data, len) != (la_ssize_t)len) {
        log_error(rid, "export.archive", "cannot write %s: %s", name, archive_error_string(z->a));
        rc = ROMA_EIO;
    }
    archive_entry_free(e);
    return rc;
}

/* Closes the zip writer (keeps the fd). */
static int zip_close(zip_out *z, const char *rid)
{
    int rc = archive_write_close(z->a) == ARCHIVE_OK ? 0 : ROMA_EIO;
    if (rc) log_error(rid, "export.archive", "cannot finish the zip: %s", archive_error_string(z->a));
    archive_write_free(z->a);
    z->a = NULL;
    return rc;
}

static void zip_discard(zip_out *z)
{
    if (z->a) archive_write_free(z->a);
    if (z->fd >= 0) close(z->fd);
    z->a = NULL;
    z->fd = -1;
}

static int zip_add_json(zip_out *z, const char *name, const cJSON *doc, const char *rid)
{
    char *text = cJSON_Print(doc);
    if (!text) return ROMA_ENOMEM;
    int rc = zip_add(z, name, text, strlen(text), rid);
    cJSON_free(text);
    return rc;
}

/* The secret of an exported app travels only as a grant: the app's secret and the exporting user's id,
 * sealed together with the deployment key ("<user id>\n<secret>", AES-256-GCM: it can be neither read
 * nor re-addressed without the key). Import restores the secret only for that same user, who could read
 * it directly when exporting (APP_NEED_SECRET); anyone else importing the package gets a fresh secret
 * (import.c). Replaces doc's secret_sealed with secret_grant; leaves no secret at all when the exporter
 * may not read it. 0 or ROMA_ENOMEM. */
static int seal_grant(job *j, cJSON *doc, int may_read_secret)
{
    char *plain = may_read_secret ? crypto_open(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(doc, "secret_sealed"))) : NULL;
    cJSON_DeleteItemFromObjectCaseSensitive(doc, "secret_sealed");
    if (!plain) {
        if (may_read_secret) log_warn(j->rid, "export.unseal_failed", "job %s: a secret cannot be opened (wrong key?): exported without it", j->id);
        return 0;
    }
    size_t n = strlen(j->created_by) + strlen(plain) + 2;
    char *text = malloc(n);
    if (text) snprintf(text, n, "%s\n%s", j->created_by, plain);
    crypto_free_secret(plain);
    char *grant = text ? crypto_seal(text) : NULL;
    if (text) {
        explicit_bzero(text, n);
        free(text);
    }
    int ok = grant && cJSON_AddStringToObject(doc, "secret_grant", grant);
    free(grant);
    return ok ? 0 : ROMA_ENOMEM;
}

/* Writes one page of apps into the zip and the manifest list. Returns rows read (>= 0) or an error;
 * *last receives the last id (the keyset cursor). Each app is exported only when the job's user may
 * show it (app_lookup + app_ref_can(APP_NEED_SHOW), as GET /apps/{id} decides); a listed app they may
 * not show is a reason ROMA.12001. A full export (ids_json NULL) covers the apps the user is a member
 * of, as ListRomaApp does. */
static int export_page(job *j, zip_out *z, const char *ids_json, const char *after, cJSON *manifest_apps,
                       cJSON *found, job_reasons *reasons, char last[128])
{
    char limit[24];
    snprintf(limit, sizeof limit, "%ld", g_wcfg.batch);
    const char *p[] = {j->project_id, j->instance_id, after, limit, ids_json, j->created_by};
    PGresult *res = db_exec(j->db,
                            "SELECT d.id, d.doc::text FROM app_export_docs d"
                            " WHERE d.project_id = $1 AND d.instance_id = $2 AND d.id > $3"
                            "   AND CASE WHEN $5::jsonb IS NULL"
                            "            THEN EXISTS (SELECT 1 FROM app_members m WHERE m.app_id = d.id AND m.user_id = $6)"
                            "            ELSE d.id IN (SELECT jsonb_array_elements_text($5::jsonb)) END"
                            " ORDER BY d.id LIMIT $4::int",
                            6, p);
    if (!db_ok(res, PGRES_TUPLES_OK, j->rid)) {
        PQclear(res);
        return ROMA_EIO;
    }
    int n = PQntuples(res), rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        const char *id = PQgetvalue(res, i, 0);
        snprintf(last, 128, "%s", id);
        if (found) cJSON_AddItemToArray(found, cJSON_CreateString(id));
        app_ref ref;
        int acc = job_app_access(j, id, APP_NEED_SHOW, "export", id, reasons, &ref);
        if (acc < 0) {
            rc = acc;
            break;
        }
        if (acc == 0) continue;
        cJSON *wrap = cJSON_CreateObject();
        cJSON *doc = cJSON_Parse(PQgetvalue(res, i, 1));
        cJSON *entry = cJSON_CreateObject();
        if (!wrap || !doc || !entry || seal_grant(j, doc, app_ref_can(&ref, APP_NEED_SECRET)) != 0) {
            cJSON_Delete(wrap);
            cJSON_Delete(doc);
            cJSON_Delete(entry);
            rc = ROMA_ENOMEM;
            break;
        }
        const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(doc, "name"));
        cJSON_AddStringToObject(entry, "id", id);
        cJSON_AddStringToObject(entry, "name", name ? name : "");
        cJSON_AddItemToArray(manifest_apps, entry);
        cJSON_AddStringToObject(wrap, "kind", "application");
        cJSON_AddNumberToObject(wrap, "format_version", ASSET_PKG_VERSION);
        cJSON_AddItemToObject(wrap, "app", doc);
        char path[160];
        snprintf(path, sizeof path, "apps/%.100s.json", id);
        rc = zip_add_json(z, path, wrap, j->rid);
        cJSON_Delete(wrap);
    }
    PQclear(res);
    return rc ? rc : n;
}

/* Inside the finishing transaction: stores the temp file as an archive of chunks. */
static int store_archive(job *j, int fd, const char *archive_id)
{
    struct stat st;
    if (fstat(fd, &st) != 0 || lseek(fd, 0, SEEK_SET) != 0) return ROMA_EIO;
    unsigned char *buf = malloc(CHUNK_BYTES);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!buf || !md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
        free(buf);
        EVP_MD_CTX_free(md);
        return ROMA_ENOMEM;
    }
    int rc = 0, seq = 0;
    for (;;) {
        ssize_t got = 0;
        while (got < CHUNK_BYTES) { /* fill whole chunks: only the last may be short */
            ssize_t r = read(fd, buf + got, (size_t)(CHUNK_BYTES - got));
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) {
                if (r < 0) rc = ROMA_EIO;
                break;
            }
            got += r;
        }
        if (rc || got == 0) break;
        EVP_DigestUpdate(md, buf, (size_t)got);
        char seqs[16];
        snprintf(seqs, sizeof seqs, "%d", seq);
        const char *vals[] = {archive_id, seqs, (const char *)buf};
        int lens[] = {0, 0, (int)got};
        int fmts[] = {0, 0, 1};
        PGresult *res = PQexecParams(j->db, "INSERT INTO asset_archive_chunks (archive_id, seq, data) VALUES ($1, $2::int, $3)",
                                     3, NULL, vals, lens, fmts, 0);
        int ok = res && db_ok(res, PGRES_COMMAND_OK, j->rid);
        PQclear(res);
        if (!ok) {
            rc = ROMA_EIO;
            break;
        }
        seq++;
        if (got < CHUNK_BYTES) break;
    }
    unsigned char digest[32];
    unsigned int dlen = 0;
    EVP_DigestFinal_ex(md, digest, &dlen);
    EVP_MD_CTX_free(md);
    free(buf);
    if (rc) return rc;
    char hex[65], size[24], chunks[16], ttl[24];
    util_hex_encode(digest, 32, hex);
    snprintf(size, sizeof size, "%lld", (long long)st.st_size);
    snprintf(chunks, sizeof chunks, "%d", seq);
    snprintf(ttl, sizeof ttl, "%ld", g_wcfg.archive_ttl_s);
    /* job_id is UNIQUE: even a fencing bug could not attach two archives to one job */
    const char *p[] = {archive_id, j->id, j->project_id, j->instance_id, size, hex, chunks, ttl};
    PGresult *res = db_exec(j->db,
                            "INSERT INTO asset_archives (id, job_id, project_id, instance_id, size, sha256, chunks, expires_at)"
                            " VALUES ($1, $2, $3, $4, $5::bigint, $6, $7::int, now() + make_interval(secs => $8::int))",
                            8, p);
    int ok = db_ok(res, PGRES_COMMAND_OK, j->rid);
    PQclear(res);
    return ok ? 0 : ROMA_EIO;
}

/* Apps of the instance, for the progress of a full export. */
static int count_apps(job *j, long *total)
{
    const char *p[] = {j->project_id, j->instance_id};
    PGresult *res = db_exec(j->db, "SELECT count(*) FROM apps WHERE project_id = $1 AND instance_id = $2", 2, p);
    int ok = db_ok(res, PGRES_TUPLES_OK, j->rid);
    if (ok) *total = atol(PQgetvalue(res, 0, 0));
    PQclear(res);
    return ok ? 0 : ROMA_EIO;
}

/* Reasons for requested apps that were not exported (unknown, or in another instance). */
static void add_missing(job_reasons *reasons, const cJSON *wanted, const cJSON *found)
{
    for (const cJSON *w = wanted ? wanted->child : NULL; w; w = w->next) {
        int hit = 0;
        for (const cJSON *f = found->child; f && !hit; f = f->next) hit = !strcmp(f->valuestring, w->valuestring);
        if (!hit) job_add_reason(reasons, "application", w->valuestring, ASSET_ERR_APP_NOT_FOUND, "The application does not exist.");
    }
}

int export_run(job *j)
{
    const cJSON *apps = cJSON_GetObjectItemCaseSensitive(j->request, "apps");
    const cJSON *tasks = cJSON_GetObjectItemCaseSensitive(j->request, "tasks");
    int napps = cJSON_GetArraySize(apps), ntasks = cJSON_GetArraySize(tasks);
    int full = napps == 0 && ntasks == 0; /* both lists empty: export the whole instance */
    char *ids_json = full ? NULL : cJSON_PrintUnformatted(apps);
    cJSON *manifest = cJSON_CreateObject();
    cJSON *m_apps = manifest ? cJSON_AddArrayToObject(manifest, "apps") : NULL;
    cJSON *m_tasks = manifest ? cJSON_AddArrayToObject(manifest, "tasks") : NULL;
    cJSON *found = full ? NULL : cJSON_CreateArray();
    job_reasons reasons;
    int rinit = job_reasons_init(&reasons);
    zip_out z = {NULL, -1, 0};
    int rc = (!full && !ids_json) || !m_apps || !m_tasks || (!full && !found) || rinit != 0 ? ROMA_ENOMEM : 0;
    long total = 0, done = 0;
    if (rc == 0 && full) rc = count_apps(j, &total);
    if (!full) total = napps; /* listed ids: the list is the total (unknown ones become reasons) */
    if (rc == 0) rc = zip_open(&z, j->rid);
    char cursor[128] = "";
    while (rc == 0) {
        int n = export_page(j, &z, ids_json, cursor, m_apps, found, &reasons, cursor);
        if (n < 0) {
            rc = n;
            break;
        }
        done += n;
        if (n < g_wcfg.batch) break; /* last page: the finish records progress 1 */
        rc = job_step(j, total ? 0.05 + 0.85 * (double)done / (double)total : 0.9);
    }
    if (rc == 0) {
        if (!full) add_missing(&reasons, apps, found);
        for (const cJSON *t = tasks ? tasks->child : NULL; t; t = t->next) /* FDI tasks do not exist yet */
            job_add_reason(&reasons, "task", t->valuestring, ASSET_ERR_TASK_NOT_FOUND, "The task does not exist.");
        char iso[32];
        util_fmt_iso_s(util_now_ms(), iso);
        cJSON_AddStringToObject(manifest, "format", ASSET_PKG_FORMAT);
        cJSON_AddNumberToObject(manifest, "version", ASSET_PKG_VERSION);
        cJSON_AddStringToObject(manifest, "exported_at", iso);
        cJSON_AddStringToObject(manifest, "project_id", j->project_id);
        cJSON_AddStringToObject(manifest, "instance_id", j->instance_id);
        rc = zip_add_json(&z, "manifest.json", manifest, j->rid);
    }
    if (rc == 0) rc = zip_close(&z, j->rid);
    char archive_id[33] = "";
    int failed = reasons.total > 0;
    if (rc == 0 && !failed && util_hex_id(archive_id) != 0) rc = ROMA_EIO;
    if (rc == 0) rc = job_finish_begin(j);
    if (rc == 0 && !failed && (rc = store_archive(j, z.fd, archive_id)) != 0) job_finish_abort(j);
    if (rc == 0) {
        /* an export missing requested resources is FAILED without an archive: a partial package would
         * silently lack what the user asked for */
        rc = job_finish_commit(j, &reasons, failed ? NULL : archive_id);
        if (rc == 0)
            log_info(j->rid, "export.done", "job %s: %ld apps%s%s", j->id, done, failed ? "" : ", archive ",
                     failed ? "" : archive_id);
    }
    zip_discard(&z);
    job_reasons_free(&reasons);
    cJSON_Delete(found);
    cJSON_Delete(manifest);
    cJSON_free(ids_json);
    return rc;
}
