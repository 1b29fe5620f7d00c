/* app_store.c: SQL of integration apps and their members (see app_store.h). Each operation is one
 * statement (one round trip) on the caller's connection; multi-step changes are CTEs so they stay atomic
 * without an explicit transaction. */
#include "app_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "db.h"
#include "log.h"
#include "util.h"

#define ISO_MS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

/* The App row (APP_COL_* order): a = apps, m = the caller's app_members row. */
#define APP_COLS                                                                                             \
    "a.id, a.name, a.remark, a.key, array_to_string(m.roles, ','), " ISO_MS("a.create_time") ", "           \
    ISO_MS("a.update_time") ", a.created_by, a.created_user_name, a.last_updated_user_id,"                \
    " a.last_updated_user_name, a.created_by = m.user_id, m.favorite"

#define ALL_ROLES "ARRAY['read', 'access', 'delete', 'modify', 'admin']"

/* ---- helpers ----------------------------------------------------------------------------------------- */

/* Which uniqueness rule a failed statement broke, from the constraint names of 002_apps.sql. */
static int conflict_of(const PGresult *res)
{
    if (strcmp(db_sqlstate(res), "23505") != 0) return APP_CONFLICT_NONE;
    const char *c = PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME);
    if (c && !strcmp(c, "apps_instance_key_uniq")) return APP_CONFLICT_KEY;
    return APP_CONFLICT_NAME; /* apps_instance_name_uniq; no other unique rule can fire on these statements */
}

/* A statement that may break a uniqueness rule: a clash is an answer, not an error, so it is not logged. */
static int exec_unique(PGresult *res, ExecStatusType want, const char *rid, int *conflict)
{
    if (conflict) *conflict = APP_CONFLICT_NONE;
    if (PQresultStatus(res) == want) return 0;
    int c = conflict_of(res);
    if (c != APP_CONFLICT_NONE) {
        if (conflict) *conflict = c;
        return ROMA_ECONFLICT;
    }
    (void)db_ok(res, want, rid);
    return ROMA_EIO;
}

/* Runs a SELECT. 0 with *out = the result (caller PQclear()s), or ROMA_EIO (logged) with *out = NULL. */
static int query_rows(PGconn *db, const char *sql, int n, const char *const *p, const char *rid, PGresult **out)
{
    PGresult *res = db_exec(db, sql, n, p);
    if (!db_ok(res, PGRES_TUPLES_OK, rid)) {
        PQclear(res);
        *out = NULL;
        return ROMA_EIO;
    }
    *out = res;
    return 0;
}

/* Ids are UUIDs: anything else cannot name an app and needs no query. */
static int plausible_id(const char *app_id) { return app_id && util_is_uuid(app_id); }

/* ---- lookup ------------------------------------------------------------------------------------------ */

int app_lookup(PGconn *db, const char *instance_id, const char *app_id, const char *user_id, app_ref *out)
{
    memset(out, 0, sizeof *out);
    if (!plausible_id(app_id)) return ROMA_ENOTFOUND;
    const char *p[] = {app_id, instance_id, user_id};
    PGresult *res;
    if (query_rows(db,
                   "SELECT a.id, a.name, a.created_by, array_to_string(m.roles, ','), m.user_id IS NOT NULL"
                   " FROM apps a LEFT JOIN app_members m ON m.app_id = a.id AND m.user_id = $3"
                   " WHERE a.id = $1 AND a.instance_id = $2",
                   3, p, NULL, &res) != 0)
        return ROMA_EIO;
    if (PQntuples(res) != 1) {
        PQclear(res);
        return ROMA_ENOTFOUND;
    }
    snprintf(out->id, sizeof out->id, "%s", PQgetvalue(res, 0, 0));
    snprintf(out->name, sizeof out->name, "%s", PQgetvalue(res, 0, 1));
    snprintf(out->created_by, sizeof out->created_by, "%s", PQgetvalue(res, 0, 2));
    int member = PQgetvalue(res, 0, 4)[0] == 't';
    out->roles = member ? app_roles_from_csv(PQgetvalue(res, 0, 3)) : 0;
    out->owner = user_id && !strcmp(out->created_by, user_id);
    PQclear(res);
    if (user_id && !member) return ROMA_EDENIED;
    return 0;
}

int app_ref_can(const app_ref *ref, unsigned role)
{
    return (ref->roles & APP_ROLE_ADMIN) || (ref->roles & role) == role;
}

/* ---- create / show / update / delete ----------------------------------------------------------------- */

int app_store_create(PGconn *db, const app_new *in, const char *rid, PGresult **out, int *conflict)
{
    *out = NULL;
    char *sealed = crypto_seal(in->secret);
    if (!sealed) {
        log_error(rid, "app.seal_failed", "cannot seal the app secret");
        return ROMA_EIO;
    }
    const char *p[] = {in->project_id, in->instance_id, in->name, in->remark ? in->remark : "", in->key, sealed,
                       in->user_id, in->user_name, in->favorite ? "true" : "false"};
    PGresult *res = db_exec(db,
                            "WITH a AS (INSERT INTO apps (project_id, instance_id, name, remark, key, secret_sealed,"
                            " created_by, created_user_name, last_updated_user_id, last_updated_user_name)"
                            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $7, $8) RETURNING *),"
                            " m AS (INSERT INTO app_members (app_id, user_id, roles, favorite)"
                            " SELECT id, $7, " ALL_ROLES ", $9::boolean FROM a RETURNING *)"
                            " SELECT " APP_COLS " FROM a, m",
                            9, p);
    free(sealed);
    int rc = exec_unique(res, PGRES_TUPLES_OK, rid, conflict);
    if (rc == 0 && PQntuples(res) != 1) rc = ROMA_EIO;
    if (rc != 0) {
        PQclear(res);
        return rc;
    }
    *out = res;
    return 0;
}

int app_store_show(PGconn *db, const char *instance_id, const char *app_id, const char *user_id, const char *rid,
                   PGresult **out)
{
    *out = NULL;
    if (!plausible_id(app_id)) return ROMA_ENOTFOUND;
    const char *p[] = {app_id, instance_id, user_id};
    /* LEFT JOIN: one round trip tells "no such app" (no row) from "not yours" (row without member data) */
    PGresult *res;
    if (query_rows(db,
                   "SELECT " APP_COLS " FROM apps a LEFT JOIN app_members m ON m.app_id = a.id AND m.user_id = $3"
                   " WHERE a.id = $1 AND a.instance_id = $2",
                   3, p, rid, &res) != 0)
        return ROMA_EIO;
    int rc = PQntuples(res) != 1 ? ROMA_ENOTFOUND : PQgetisnull(res, 0, APP_COL_ROLES) ? ROMA_EDENIED : 0;
    if (rc != 0) {
        PQclear(res);
        return rc;
    }
    *out = res;
    return 0;
}

int app_store_update(PGconn *db, const char *instance_id, const char *app_id, const char *user_id,
                     const char *user_name, const app_update_req *u, const char *rid, PGresult **out, int *conflict)
{
    *out = NULL;
    if (conflict) *conflict = APP_CONFLICT_NONE;
    if (!plausible_id(app_id)) return ROMA_ENOTFOUND;
    const char *fav = u->favorite < 0 ? NULL : u->favorite ? "true" : "false";
    const char *p[] = {app_id, instance_id, user_id, u->name, u->remark, user_name, fav};
    /* Attribute changes need admin (checked by the caller and again here, so a role revoked in between
     * cannot slip through); favorite is the caller's own flag on their member row. Without name/remark the
     * app row is returned untouched (update_time unchanged). */
    PGresult *res = db_exec(
        db,
        "WITH a AS (UPDATE apps SET name = COALESCE($4, name), remark = COALESCE($5, remark),"
        "  update_time = CASE WHEN $4::text IS NULL AND $5::text IS NULL THEN update_time ELSE now() END,"
        "  last_updated_user_id = CASE WHEN $4::text IS NULL AND $5::text IS NULL THEN last_updated_user_id ELSE $3 END,"
        "  last_updated_user_name = CASE WHEN $4::text IS NULL AND $5::text IS NULL THEN last_updated_user_name ELSE $6 END"
        "  WHERE id = $1 AND instance_id = $2 AND (($4::text IS NULL AND $5::text IS NULL) OR EXISTS ("
        "   SELECT 1 FROM app_members x WHERE x.app_id = $1 AND x.user_id = $3 AND 'admin' = ANY (x.roles)))"
        "  RETURNING *),"
        " m AS (UPDATE app_members SET favorite = COALESCE($7::boolean, favorite)"
        "  WHERE app_id = $1 AND user_id = $3 AND app_id IN (SELECT id FROM a) RETURNING *)"
        " SELECT " APP_COLS " FROM a, m",
        7, p);
    int rc = exec_unique(res, PGRES_TUPLES_OK, rid, conflict);
    if (rc == 0 && PQntuples(res) != 1) rc = ROMA_EDENIED; /* deleted or role revoked since the check */
    if (rc != 0) {
        PQclear(res);
        return rc;
    }
    *out = res;
    return 0;
}

/* ROMA_ECONFLICT here means another module's rows still reference the app (foreign key, SQLSTATE 23503). */
int app_store_delete(PGconn *db, const char *instance_id, const char *app_id, const char *rid)
{
    if (!plausible_id(app_id)) return ROMA_ENOTFOUND;
    const char *p[] = {app_id, instance_id};
    return db_delete_one(db, "DELETE FROM apps WHERE id = $1 AND instance_id = $2", 2, p, rid);
}

/* ---- secret ------------------------------------------------------------------------------------------ */

int app_store_secret_get(PGconn *db, const char *instance_id, const char *app_id, const char *rid, char **plain)
{
    *plain = NULL;
    if (!plausible_id(app_id)) return ROMA_ENOTFOUND;
    const char *p[] = {app_id, instance_id};
    PGresult *res;
    if (query_rows(db, "SELECT secret_sealed FROM apps WHERE id = $1 AND instance_id = $2", 2, p, rid, &res) != 0)
        return ROMA_EIO;
    if (PQntuples(res) != 1) {
        PQclear(res);
        return ROMA_ENOTFOUND;
    }
    *plain = crypto_open(PQgetvalue(res, 0, 0));
    PQclear(res);
    if (!*plain) {
        log_error(rid, "app.unseal_failed", "the sealed secret of app %s cannot be opened (wrong key?)", app_id);
        return ROMA_EIO;
    }
    return 0;
}

int app_store_secret_set(PGconn *db, const char *instance_id, const char *app_id, const char *secret,
                         const char *user_id, const char *user_name, const char *rid)
{
    if (!plausible_id(app_id)) return ROMA_ENOTFOUND;
    char *sealed = crypto_seal(secret);
    if (!sealed) {
        log_error(rid, "app.seal_failed", "cannot seal the app secret");
        return ROMA_EIO;
    }
    const char *p[] = {app_id, instance_id, sealed, user_id, user_name};
    PGresult *res = db_exec(db,
                            "UPDATE apps SET secret_sealed = $3, update_time = now(), last_updated_user_id = $4,"
                            " last_updated_user_name = $5 WHERE id = $1 AND instance_id = $2",
                            5, p);
    free(sealed);
    int rc = 0;
    if (!db_ok(res, PGRES_COMMAND_OK, rid)) rc = ROMA_EIO;
    else if (atoi(PQcmdTuples(res)) != 1) rc = ROMA_ENOTFOUND;
    PQclear(res);
    return rc;
}

/* ---- list -------------------------------------------------------------------------------------------- */

/* "%<s with \ % _ escaped>%" for LIKE ... ESCAPE '\'. Heap; NULL on OOM. */
static char *like_pattern(const char *s)
{
    size_t n = strlen(s);
    char *out = malloc(2 * n + 3);
    if (!out) return NULL;
    char *o = out;
    *o++ = '%';
    for (const char *p = s; *p; p++) {
        if (*p == '\\' || *p == '%' || *p == '_') *o++ = '\\';
        *o++ = *p;
    }
    *o++ = '%';
    *o = '\0';
    return out;
}

#define LIST_MAX_PARAMS 10

typedef struct list_query {
    char where[1024];
    const char *params[LIST_MAX_PARAMS];
    int n;
    char role[16];              /* auth_role word */
    char *name_like, *key_like; /* heap */
} list_query;

/* Appends " AND <cond>" where cond uses $N for the next parameter (given as %d). */
static void where_add(list_query *q, const char *cond_fmt, const char *value)
{
    size_t off = strlen(q->where);
    q->params[q->n++] = value;
    char cond[256];
    snprintf(cond, sizeof cond, cond_fmt, q->n);
    snprintf(q->where + off, sizeof q->where - off, " AND %s", cond);
}

static int list_query_build(list_query *q, const char *instance_id, const char *user_id, const app_list_filter *f)
{
    memset(q, 0, sizeof *q);
    q->params[q->n++] = instance_id; /* $1 */
    q->params[q->n++] = user_id;     /* $2 */
    snprintf(q->where, sizeof q->where, "a.instance_id = $1");
    if (f->favorite >= 0) where_add(q, "m.favorite = $%d::boolean", f->favorite ? "true" : "false");
    if (f->owner == 1) snprintf(q->where + strlen(q->where), sizeof q->where - strlen(q->where), " AND a.created_by = $2");
    if (f->owner == 0) snprintf(q->where + strlen(q->where), sizeof q->where - strlen(q->where), " AND a.created_by <> $2");
    if (f->auth_role) {
        app_roles_to_csv(f->auth_role, q->role, sizeof q->role); /* one bit: one word */
        /* admin holds every right, so it matches any asked role */
        where_add(q, "($%d = ANY (m.roles) OR 'admin' = ANY (m.roles))", q->role);
    }
    if (f->name) {
        if (!(q->name_like = like_pattern(f->name))) return ROMA_ENOMEM;
        where_add(q, "a.name ILIKE $%d ESCAPE '\\'", q->name_like);
    }
    if (f->key) {
        if (!(q->key_like = like_pattern(f->key))) return ROMA_ENOMEM;
        where_add(q, "a.key ILIKE $%d ESCAPE '\\'", q->key_like);
    }
    if (f->user_name)
        where_add(q, "EXISTS (SELECT 1 FROM app_members m2 JOIN users u ON u.id = m2.user_id"
                     " WHERE m2.app_id = a.id AND u.name = $%d)", f->user_name);
    return 0;
}

static void list_query_free(list_query *q)
{
    free(q->name_like);
    free(q->key_like);
}

int app_store_list(PGconn *db, const char *instance_id, const char *user_id, const app_list_filter *f,
                   const char *rid, PGresult **out, long *total)
{
    *out = NULL;
    *total = 0;
    list_query q;
    if (list_query_build(&q, instance_id, user_id, f) != 0) {
        list_query_free(&q);
        return ROMA_ENOMEM;
    }
    char lim[24], off[24], sql[2048];
    snprintf(lim, sizeof lim, "%ld", f->limit);
    snprintf(off, sizeof off, "%ld", f->offset);
    int nl = q.n + 1, no = q.n + 2;
    q.params[q.n++] = lim;
    q.params[q.n++] = off;
    /* count(*) OVER () gives the total with the page in one round trip */
    snprintf(sql, sizeof sql,
             "SELECT " APP_COLS ", count(*) OVER () FROM apps a JOIN app_members m ON m.app_id = a.id AND m.user_id = $2"
             " WHERE %s ORDER BY m.favorite DESC, a.create_time DESC, a.id LIMIT $%d::int OFFSET $%d::bigint",
             q.where, nl, no);
    PGresult *res;
    if (query_rows(db, sql, q.n, q.params, rid, &res) != 0) {
        list_query_free(&q);
        return ROMA_EIO;
    }
    if (PQntuples(res) > 0) {
        *total = atol(PQgetvalue(res, 0, APP_COL_TOTAL));
    } else if (f->offset > 0) {
        /* a page past the end has no row to carry the window count: count separately */
        snprintf(sql, sizeof sql,
                 "SELECT count(*) FROM apps a JOIN app_members m ON m.app_id = a.id AND m.user_id = $2 WHERE %s",
                 q.where);
        PGresult *c;
        if (query_rows(db, sql, q.n - 2, q.params, rid, &c) != 0) {
            PQclear(res);
            list_query_free(&q);
            return ROMA_EIO;
        }
        *total = atol(PQgetvalue(c, 0, 0));
        PQclear(c);
    }
    list_query_free(&q);
    *out = res;
    return 0;
}

/* ---- validate ---------------------------------------------------------------------------------------- */

int app_store_validate(PGconn *db, const char *instance_id, const char *name, const char *id, const char *key,
                       const char *rid, PGresult **out)
{
    const char *p[] = {instance_id, name, id, key};
    return query_rows(db,
                      "SELECT id, name, remark FROM apps WHERE instance_id = $1 AND ($2::text IS NULL OR name = $2)"
                      " AND ($3::text IS NULL OR id = $3) AND ($4::text IS NULL OR key = $4) LIMIT 1",
                      4, p, rid, out);
}

/* ---- members ----------------------------------------------------------------------------------------- */

int app_store_members(PGconn *db, const char *app_id, const char *owner_id, const char *user_name, const char *rid,
                      PGresult **out)
{
    const char *p[] = {app_id, owner_id, user_name};
    return query_rows(db,
                      "SELECT u.id, u.name, array_to_string(m.roles, ',') FROM app_members m"
                      " JOIN users u ON u.id = m.user_id WHERE m.app_id = $1 AND ($3::text IS NULL OR u.name = $3)"
                      " ORDER BY m.user_id = $2 DESC, u.name, u.id",
                      3, p, rid, out);
}

/* The wanted set as JSON [{"id":..,"roles":"read,access"},..]: passing it as one jsonb parameter avoids
 * building SQL array literals (and their quoting) by hand. Heap; NULL on OOM. */
static char *members_json(const app_members_req *m)
{
    cJSON *arr = cJSON_CreateArray();
    if (!arr) return NULL;
    for (int i = 0; i < m->n; i++) {
        char roles[48];
        app_roles_to_csv(m->users[i].roles, roles, sizeof roles);
        cJSON *o = cJSON_CreateObject();
        if (o && !cJSON_AddItemToArray(arr, o)) {
            cJSON_Delete(o);
            o = NULL;
        }
        /* from here arr owns o */
        if (!o || !cJSON_AddStringToObject(o, "id", m->users[i].user_id) || !cJSON_AddStringToObject(o, "roles", roles)) {
            cJSON_Delete(arr);
            return NULL;
        }
    }
    char *s = cJSON_PrintUnformatted(arr);
    cJSON_Delete(arr);
    return s;
}

int app_store_set_members(PGconn *db, const char *app_id, const char *owner_id, const char *project_id,
                          const app_members_req *m, const char *rid, int *bad_index)
{
    *bad_index = -1;
    char *want = members_json(m);
    if (!want) return ROMA_ENOMEM;
    const char *p[] = {app_id, want, owner_id, project_id};
    /* One atomic statement: find the first listed user outside the project; only when there is none,
     * delete the members not listed (never the owner) and upsert the listed ones (keeping their favorite). */
    PGresult *res = db_exec(
        db,
        "WITH want AS (SELECT e->>'id' AS user_id, string_to_array(e->>'roles', ',') AS roles, t.ord"
        "  FROM jsonb_array_elements($2::jsonb) WITH ORDINALITY AS t(e, ord)),"
        " bad AS (SELECT min(w.ord) AS ord FROM want w LEFT JOIN users u ON u.id = w.user_id AND u.project_id = $4"
        "  WHERE u.id IS NULL),"
        " del AS (DELETE FROM app_members x WHERE x.app_id = $1 AND x.user_id <> $3"
        "  AND x.user_id NOT IN (SELECT user_id FROM want) AND (SELECT ord FROM bad) IS NULL RETURNING 1),"
        " ins AS (INSERT INTO app_members (app_id, user_id, roles)"
        "  SELECT $1, user_id, roles FROM want WHERE user_id <> $3 AND (SELECT ord FROM bad) IS NULL"
        "  ON CONFLICT (app_id, user_id) DO UPDATE SET roles = EXCLUDED.roles RETURNING 1)"
        " SELECT (SELECT ord FROM bad), (SELECT count(*) FROM del), (SELECT count(*) FROM ins)",
        4, p);
    cJSON_free(want);
    int rc = 0;
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        /* a user deleted concurrently (23503) is the same answer as an unknown user */
        rc = !strcmp(db_sqlstate(res), "23503") ? ROMA_EINVAL : ROMA_EIO;
        if (rc == ROMA_EIO) (void)db_ok(res, PGRES_TUPLES_OK, rid);
    } else if (!PQgetisnull(res, 0, 0)) {
        *bad_index = atoi(PQgetvalue(res, 0, 0)) - 1;
        rc = ROMA_EINVAL;
    }
    PQclear(res);
    return rc;
}

int app_store_candidates(PGconn *db, const char *project_id, const char *app_id, int exclude_members, const char *rid,
                         PGresult **out)
{
    const char *p[] = {project_id, app_id, exclude_members ? "true" : "false"};
    return query_rows(db,
                      "SELECT u.id, u.name FROM users u WHERE u.project_id = $1 AND (NOT $3::boolean OR NOT EXISTS"
                      " (SELECT 1 FROM app_members m WHERE m.app_id = $2 AND m.user_id = u.id))"
                      " ORDER BY u.name, u.id LIMIT 1000",
                      3, p, rid, out);
}

/* ---- assets ------------------------------------------------------------------------------------------ */

int app_export_doc(PGconn *db, const char *instance_id, const char *app_id, const char *rid, char **json)
{
    *json = NULL;
    if (!plausible_id(app_id)) return ROMA_ENOTFOUND;
    const char *p[] = {instance_id, app_id};
    PGresult *res;
    if (query_rows(db, "SELECT doc::text FROM app_export_docs WHERE instance_id = $1 AND id = $2", 2, p, rid, &res) != 0)
        return ROMA_EIO;
    int rc = PQntuples(res) == 1 ? 0 : ROMA_ENOTFOUND;
    if (rc == 0 && !(*json = strdup(PQgetvalue(res, 0, 0)))) rc = ROMA_ENOMEM;
    PQclear(res);
    return rc;
}

int app_import_doc(PGconn *db, const char *json, const char *project_id, const char *instance_id, const char *user_id,
                   const char *user_name, const char *rid, char *new_id, int *conflict)
{
    new_id[0] = '\0';
    const char *p[] = {json, project_id, instance_id, user_id, user_name};
    PGresult *res = db_exec(db, "SELECT app_import_doc($1::jsonb, $2, $3, $4, $5)", 5, p);
    int rc = exec_unique(res, PGRES_TUPLES_OK, rid, conflict);
    if (rc == 0) snprintf(new_id, 37, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    return rc;
}
