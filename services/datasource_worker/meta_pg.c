/* meta_pg.c: tables and columns of a POSTGRESQL datasource, from the system catalogs with
 * PQexecParams (filter and names are bound parameters). Tables of the connection's current schema
 * (normally "public") are listed by bare name, tables of other non-system schemas as "schema.table";
 * the columns call accepts either form. A statement_timeout bounds every query by the job deadline.
 * Shapes: meta_common.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "meta_common.h"
#include "sessions.h"

static int set_statement_timeout(ds_job *job, PGconn *c)
{
    char ms[24];
    snprintf(ms, sizeof ms, "%ld", ds_remaining_ms(job) > 0 ? ds_remaining_ms(job) : 1);
    const char *p[1] = {ms};
    PGresult *r = PQexecParams(c, "SELECT set_config('statement_timeout', $1, false)", 1, NULL, p, NULL, NULL, 0);
    int ok = PQresultStatus(r) == PGRES_TUPLES_OK;
    PQclear(r);
    if (!ok) ds_fail(job, DS_E_OTHER, "cannot set a statement timeout on the session");
    return ok ? 0 : -1;
}

static void fail_query(ds_job *job, PGresult *r)
{
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    if (state && !strcmp(state, "57014"))
        ds_fail(job, DS_E_TIMEOUT, "the catalog query did not finish within %ld ms", job->timeout_ms);
    else if (state && !strcmp(state, "42501"))
        ds_fail(job, DS_E_PERM, "the user may not read the table catalog");
    else
        ds_fail(job, DS_E_OTHER, "reading the table catalog failed (SQLSTATE %s)", state ? state : "?");
}

static void list_tables(ds_job *job, PGconn *c)
{
    static const char sql[] =
        "SELECT t FROM (SELECT CASE WHEN n.nspname = current_schema() THEN c.relname::text "
        "               ELSE n.nspname || '.' || c.relname END AS t "
        "  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "  WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
        "  AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%' AND c.relname LIKE $1) s "
        "ORDER BY t COLLATE \"C\" LIMIT 10000";
    char *pattern = meta_like_pattern(job->filter);
    if (!pattern) {
        ds_fail(job, DS_E_OTHER, "out of memory");
        return;
    }
    const char *p[1] = {pattern};
    PGresult *r = PQexecParams(c, sql, 1, NULL, p, NULL, NULL, 0);
    free(pattern);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        fail_query(job, r);
        PQclear(r);
        return;
    }
    cJSON *arr = cJSON_CreateArray();
    for (int i = 0; arr && i < PQntuples(r); i++) {
        cJSON *s = cJSON_CreateString(PQgetvalue(r, i, 0));
        if (!s || !cJSON_AddItemToArray(arr, s)) {
            cJSON_Delete(s);
            cJSON_Delete(arr);
            arr = NULL;
        }
    }
    PQclear(r);
    if (!arr) {
        ds_fail(job, DS_E_OTHER, "out of memory");
        return;
    }
    ds_succeed(job, NULL);
    job->data = arr;
}

static void list_columns(ds_job *job, PGconn *c)
{
    /* "schema.table" or "table" (in current_schema()) */
    char schema[256] = "", table[256];
    const char *dot = strchr(job->table, '.');
    if (dot && (size_t)(dot - job->table) < sizeof schema) {
        snprintf(schema, sizeof schema, "%.*s", (int)(dot - job->table), job->table);
        snprintf(table, sizeof table, "%s", dot + 1);
    } else {
        snprintf(table, sizeof table, "%s", job->table);
    }
    static const char sql[] =
        "SELECT a.attname, format_type(a.atttypid, NULL), "
        "  CASE WHEN a.atttypmod > 0 AND t.typcategory = 'S' THEN (a.atttypmod - 4)::text "
        "       WHEN a.atttypid = 1700 AND a.atttypmod > 0 THEN (((a.atttypmod - 4) >> 16) & 65535)::text "
        "       WHEN t.typcategory = 'N' THEN CASE a.atttypid WHEN 21 THEN '5' WHEN 23 THEN '10' WHEN 20 THEN '19' "
        "            WHEN 700 THEN '8' WHEN 701 THEN '17' ELSE NULL END "
        "       WHEN t.typlen > 0 THEN t.typlen::text END, "
        "  NOT a.attnotnull, "
        "  EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary AND a.attnum = ANY (i.indkey)), "
        "  EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisunique AND NOT i.indisprimary "
        "          AND i.indnatts = 1 AND i.indkey[0] = a.attnum), "
        "  CASE WHEN t.typcategory <> 'N' THEN NULL WHEN a.atttypid = 1700 AND a.atttypmod > 0 "
        "       THEN ((a.atttypmod - 4) & 65535)::text ELSE '0' END "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped "
        "JOIN pg_type t ON t.oid = a.atttypid "
        "WHERE n.nspname = CASE WHEN $1 = '' THEN current_schema() ELSE $1 END AND c.relname = $2 "
        "AND c.relkind IN ('r', 'p', 'v', 'm', 'f') ORDER BY a.attnum LIMIT 10000";
    const char *p[2] = {schema, table};
    PGresult *r = PQexecParams(c, sql, 2, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        fail_query(job, r);
        PQclear(r);
        return;
    }
    if (PQntuples(r) == 0) {
        PQclear(r);
        ds_fail(job, DS_E_NOTFOUND, "no table \"%s\" in database \"%s\" (or it has no columns)", job->table, PQdb(c));
        return;
    }
    cJSON *arr = cJSON_CreateArray();
    for (int i = 0; arr && i < PQntuples(r); i++) {
        if (meta_add_column(arr, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
                            PQgetisnull(r, i, 2) ? NULL : PQgetvalue(r, i, 2), !strcmp(PQgetvalue(r, i, 3), "t"),
                            !strcmp(PQgetvalue(r, i, 4), "t"), !strcmp(PQgetvalue(r, i, 5), "t"),
                            PQgetisnull(r, i, 6) ? NULL : PQgetvalue(r, i, 6)) != 0) {
            cJSON_Delete(arr);
            arr = NULL;
        }
    }
    PQclear(r);
    if (!arr) {
        ds_fail(job, DS_E_OTHER, "out of memory");
        return;
    }
    ds_succeed(job, NULL);
    job->data = arr;
}

void meta_pg(ds_job *job)
{
    PGconn *c = ds_pg_open(job);
    if (!c) return;
    if (set_statement_timeout(job, c) == 0) {
        if (job->op == DS_OP_TABLES) list_tables(job, c);
        else list_columns(job, c);
    }
    PQfinish(c);
}
