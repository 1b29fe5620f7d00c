/* ds_store.h: the SQL of FDI datasources (table of migrations/004_datasources.sql). Every statement is
 * parameterized and runs on the caller's borrowed connection. Functions return 0 or a negative
 * ROMA_E* code: ROMA_ENOTFOUND (no such datasource in the instance), ROMA_ECONFLICT (delete: still
 * referenced by another module's rows), ROMA_EINVAL (the app does not exist), ROMA_EIO (database
 * failure, logged with rid).
 *
 * Row results (create / get / update / list) have the DS_COL_* columns below; content is the stored
 * JSON text (secrets sealed), roles is the caller's app roles as "read,access,..." (NULL when the caller
 * is not a member of the owning app). */
#ifndef ROMA_API_DS_STORE_H
#define ROMA_API_DS_STORE_H

#include <libpq-fe.h>
#include <stdint.h>

#include "errors.h"

enum {
    DS_COL_ID = 0,
    DS_COL_NAME,
    DS_COL_TYPE,
    DS_COL_DESCRIPTION,    /* NULL when never set */
    DS_COL_APP_ID,
    DS_COL_APP_NAME,
    DS_COL_INSTANCE_ID,
    DS_COL_PLUGIN_ID,      /* NULL when never set */
    DS_COL_CONTENT,        /* JSON text */
    DS_COL_CREATE_TIME,    /* epoch ms */
    DS_COL_UPDATE_TIME,
    DS_COL_TEST_RESULT,    /* "t"/"f"/NULL */
    DS_COL_TEST_TIME,
    DS_COL_TEST_LATENCY,
    DS_COL_TEST_DETAIL,
    DS_COL_ROLES,
    DS_COL_TOTAL,          /* list only */
};

typedef struct ds_row_in {
    const char *id, *project_id, *instance_id, *app_id;
    const char *name, *type;
    const char *description;      /* NULL = absent */
    const char *custom_plugin_id; /* NULL = absent */
    const char *content;          /* JSON text, secrets sealed */
    const char *user_id;          /* caller (created_by / updated_by, and whose roles the row shows) */
    int64_t now_ms;
} ds_row_in;

typedef struct ds_list_filter {
    const char *type, *name, *app_id, *custom_plugin_id; /* NULL = no filter; name is a substring */
    int ascending;                                        /* sort by create time */
    long limit, offset;
} ds_list_filter;

int ds_store_create(PGconn *db, const ds_row_in *in, const char *rid, PGresult **out) ROMA_MUST_USE;
/* for_update: lock the row (the caller opened a transaction). */
int ds_store_get(PGconn *db, const char *instance_id, const char *id, const char *user_id, int for_update,
                 const char *rid, PGresult **out) ROMA_MUST_USE;
int ds_store_update(PGconn *db, const ds_row_in *in, const char *rid, PGresult **out) ROMA_MUST_USE;
int ds_store_delete(PGconn *db, const char *instance_id, const char *id, const char *rid) ROMA_MUST_USE;
int ds_store_list(PGconn *db, const char *instance_id, const char *user_id, const ds_list_filter *f,
                  const char *rid, PGresult **out, long *total) ROMA_MUST_USE;
/* Records the outcome of a completed connectivity test. */
int ds_store_record_test(PGconn *db, const char *instance_id, const char *id, int ok, long latency_ms,
                         const char *detail, int64_t when_ms, const char *rid) ROMA_MUST_USE;

#endif
