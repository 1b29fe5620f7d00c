/* ds_store.c: the SQL of FDI datasources (see ds_store.h). */
#include "ds_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "log.h"
#include "util.h"

/* The DS_COL_* projection; d = datasources, a = apps, m = the caller's app_members row. */
#define DS_SELECT                                                                                           \
    "d.id, d.name, d.type, d.description, d.app_id, a.name, d.instance_id, d.custom_plugin_id, "            \
    "d.content::text, d.create_time, d.update_time, d.last_test_result, d.last_test_time, "                  \
    "d.last_test_latency_ms, d.last_test_detail, array_to_string(m.roles, ',')"
#define DS_JOIN(user_param)                                                                                 \
    " JOIN apps a ON a.id = d.app_id LEFT JOIN app_members m ON m.app_id = d.app_id AND m.user_id = " user_param

/* Datasource ids are 32 hex: anything else cannot exist (and must not reach the text = compare). */
static int plausible_id(const char *id) { return id && util_is_hex32(id); }

static int rows_or_eio(PGresult *res, const char *rid, PGresult **out)
{
    if (!db_ok(res, PGRES_TUPLES_OK, rid)) {
        PQclear(res);
        *out = NULL;
        return ROMA_EIO;
    }
    *out = res;
    return 0;
}

int ds_store_create(PGconn *db, const ds_row_in *in, const char *rid, PGresult **out)
{
    char now[24];
    snprintf(now, sizeof now, "%lld", (long long)in->now_ms);
    const char *p[] = {in->id,          in->project_id,       in->instance_id, in->app_id, in->name, in->type,
                       in->description, in->custom_plugin_id, in->content,     in->user_id, now};
    PGresult *res = db_exec(db,
                            "WITH d AS (INSERT INTO datasources (id, project_id, instance_id, app_id, name, type, "
                            "description, custom_plugin_id, content, created_by, updated_by, create_time, update_time) "
                            "SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10, $10, $11::bigint, $11::bigint "
                            "WHERE EXISTS (SELECT 1 FROM apps WHERE id = $4 AND instance_id = $3) RETURNING *) "
                            "SELECT " DS_SELECT " FROM d" DS_JOIN("$10"),
                            11, p);
    int rc = rows_or_eio(res, rid, out);
    if (rc == 0 && PQntuples(*out) != 1) {
        /* the app vanished between the handler's check and the insert */
        PQclear(*out);
        *out = NULL;
        return ROMA_EINVAL;
    }
    return rc;
}

int ds_store_get(PGconn *db, const char *instance_id, const char *id, const char *user_id, int for_update,
                 const char *rid, PGresult **out)
{
    *out = NULL;
    if (!plausible_id(id)) return ROMA_ENOTFOUND;
    const char *p[] = {id, instance_id, user_id};
    PGresult *res = db_exec(db,
                            for_update ? "SELECT " DS_SELECT " FROM datasources d" DS_JOIN("$3")
                                         " WHERE d.id = $1 AND d.instance_id = $2 FOR UPDATE OF d"
                                       : "SELECT " DS_SELECT " FROM datasources d" DS_JOIN("$3")
                                         " WHERE d.id = $1 AND d.instance_id = $2",
                            3, p);
    int rc = rows_or_eio(res, rid, out);
    if (rc == 0 && PQntuples(*out) != 1) {
        PQclear(*out);
        *out = NULL;
        return ROMA_ENOTFOUND;
    }
    return rc;
}

int ds_store_update(PGconn *db, const ds_row_in *in, const char *rid, PGresult **out)
{
    *out = NULL;
    if (!plausible_id(in->id)) return ROMA_ENOTFOUND;
    char now[24];
    snprintf(now, sizeof now, "%lld", (long long)in->now_ms);
    const char *p[] = {in->id,          in->instance_id,      in->app_id,  in->name,    in->type,
                       in->description, in->custom_plugin_id, in->content, in->user_id, now};
    PGresult *res = db_exec(db,
                            "WITH d AS (UPDATE datasources SET app_id = $3, name = $4, type = $5, description = $6, "
                            "custom_plugin_id = $7, content = $8::jsonb, updated_by = $9, "
                            "update_time = GREATEST($10::bigint, create_time) "
                            "WHERE id = $1 AND instance_id = $2 "
                            "AND EXISTS (SELECT 1 FROM apps WHERE id = $3 AND instance_id = $2) RETURNING *) "
                            "SELECT " DS_SELECT " FROM d" DS_JOIN("$9"),
                            10, p);
    int rc = rows_or_eio(res, rid, out);
    if (rc == 0 && PQntuples(*out) != 1) {
        PQclear(*out);
        *out = NULL;
        return ROMA_ENOTFOUND;
    }
    return rc;
}

int ds_store_delete(PGconn *db, const char *instance_id, const char *id, const char *rid)
{
    if (!plausible_id(id)) return ROMA_ENOTFOUND;
    const char *p[] = {id, instance_id};
    /* ROMA_ECONFLICT: a row of another module (an FDI task) still references the datasource */
    return db_delete_one(db, "DELETE FROM datasources WHERE id = $1 AND instance_id = $2", 2, p, rid);
}

/* Two static statements instead of splicing ASC/DESC into SQL text. Only datasources of apps the caller
 * is a member of are listed (every member holds read: the role rule of ds_api.h). */
#define DS_LIST_WHERE                                                                                       \
    " WHERE d.instance_id = $1 AND m.user_id IS NOT NULL AND ($3::text IS NULL OR d.type = $3) "                                      \
    "AND ($4::text IS NULL OR strpos(d.name, $4) > 0) AND ($5::text IS NULL OR d.app_id = $5) "             \
    "AND ($6::text IS NULL OR d.custom_plugin_id = $6)"
#define DS_LIST(dir)                                                                                        \
    "SELECT " DS_SELECT ", count(*) OVER () FROM datasources d" DS_JOIN("$2") DS_LIST_WHERE                 \
    " ORDER BY d.create_time " dir ", d.id " dir " LIMIT $7::bigint OFFSET $8::bigint"

int ds_store_list(PGconn *db, const char *instance_id, const char *user_id, const ds_list_filter *f,
                  const char *rid, PGresult **out, long *total)
{
    char lim[24], off[24];
    snprintf(lim, sizeof lim, "%ld", f->limit);
    snprintf(off, sizeof off, "%ld", f->offset);
    const char *p[] = {instance_id, user_id, f->type, f->name, f->app_id, f->custom_plugin_id, lim, off};
    PGresult *res = db_exec(db, f->ascending ? DS_LIST("ASC") : DS_LIST("DESC"), 8, p);
    int rc = rows_or_eio(res, rid, out);
    if (rc != 0) return rc;
    *total = 0;
    if (PQntuples(*out) > 0) {
        *total = atol(PQgetvalue(*out, 0, DS_COL_TOTAL));
        return 0;
    }
    if (f->offset == 0) return 0;
    /* an empty page past the end: the window count is not there, ask for it */
    const char *pc[] = {instance_id, user_id, f->type, f->name, f->app_id, f->custom_plugin_id};
    res = db_exec(db, "SELECT count(*) FROM datasources d" DS_JOIN("$2") DS_LIST_WHERE, 6, pc);
    if (!db_ok(res, PGRES_TUPLES_OK, rid)) {
        PQclear(res);
        PQclear(*out);
        *out = NULL;
        return ROMA_EIO;
    }
    *total = atol(PQgetvalue(res, 0, 0));
    PQclear(res);
    return 0;
}

int ds_store_record_test(PGconn *db, const char *instance_id, const char *id, int ok, long latency_ms,
                         const char *detail, int64_t when_ms, const char *rid)
{
    char lat[24], when[24];
    snprintf(lat, sizeof lat, "%ld", latency_ms);
    snprintf(when, sizeof when, "%lld", (long long)when_ms);
    const char *p[] = {id, instance_id, ok ? "true" : "false", when, lat, detail};
    /* The outcome of a test is a convenience, not a record of truth: commit it without waiting for the WAL
     * flush (set_config(..., true) lasts until this statement's implicit transaction commits), so a burst
     * of tests does not queue behind fsyncs. A crash may forget the last few hundred ms of outcomes. */
    PGresult *res = db_exec(db,
                            "WITH async AS (SELECT set_config('synchronous_commit', 'off', true)) "
                            "UPDATE datasources SET last_test_result = $3::boolean, last_test_time = $4::bigint, "
                            "last_test_latency_ms = $5::integer, last_test_detail = $6 FROM async "
                            "WHERE id = $1 AND instance_id = $2",
                            6, p);
    int rc = db_ok(res, PGRES_COMMAND_OK, rid) ? 0 : ROMA_EIO;
    PQclear(res);
    return rc;
}
