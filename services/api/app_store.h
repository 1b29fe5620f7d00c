/* app_store.h: the SQL layer of integration apps (tables of migrations/002_apps.sql), and the contract
 * other API modules use to check apps.
 *
 * Model: an app belongs to one instance; a user "sees" an app when app_members holds a row for the pair.
 * The creator's row holds all five roles and is never removed; favorite is per user (on that row).
 * Secrets are sealed with crypto_seal() before they reach SQL and are opened only by app_store_secret_get.
 *
 * Every function runs on the caller's borrowed connection, never opens another, and returns 0 or a
 * negative ROMA_E* code:
 *   ROMA_ENOTFOUND  no such app in the instance
 *   ROMA_EDENIED    the app exists but the user has no member row
 *   ROMA_ECONFLICT  a name or key already exists in the instance (*conflict says which)
 *   ROMA_EINVAL     a referenced user does not belong to the project (members)
 *   ROMA_EIO        database failure (logged with rid)
 *
 * ---- For other modules (datasources, topics, assets) ----
 *   app_ref ref;
 *   int rc = app_lookup(db, instance_id, app_id, r->user_id, &ref);
 *   rc == ROMA_ENOTFOUND -> the app does not exist in this instance
 *   rc == ROMA_EDENIED   -> it exists but the caller is not a member
 *   rc == 0              -> app_ref_can(&ref, APP_ROLE_MODIFY) etc. (admin implies every role)
 * Pass user_id NULL to test existence only (workers). An app row never leaves its instance, so a
 * (instance_id, app_id) pair is a complete reference. Asset export/import use the SQL view
 * app_export_docs and the function app_import_doc() of migrations/002_apps.sql (usable from any
 * process), wrapped here as app_export_doc() / app_import_doc() for API-side callers. */
#ifndef ROMA_API_APP_STORE_H
#define ROMA_API_APP_STORE_H

#include <libpq-fe.h>

#include "app_validate.h"
#include "errors.h"

typedef struct app_ref {
    char id[65];
    char name[APP_NAME_BYTES];
    char created_by[33];
    unsigned roles; /* caller's normalised role mask; 0 when looked up without a user */
    int owner;      /* caller created the app */
} app_ref;

int app_lookup(PGconn *db, const char *instance_id, const char *app_id, const char *user_id, app_ref *out) ROMA_MUST_USE;
/* 1 when ref grants role (one APP_ROLE_* bit); admin grants everything. */
int app_ref_can(const app_ref *ref, unsigned role);

/* Columns of every App row result (create/show/update/list), in this order. */
enum {
    APP_COL_ID = 0,
    APP_COL_NAME,
    APP_COL_REMARK,
    APP_COL_KEY,
    APP_COL_ROLES,        /* "read,access,..." */
    APP_COL_CREATE_TIME,  /* ISO-8601 UTC with millis */
    APP_COL_UPDATE_TIME,
    APP_COL_CREATED_BY,
    APP_COL_CREATED_NAME,
    APP_COL_UPDATED_BY,
    APP_COL_UPDATED_NAME,
    APP_COL_OWNER,        /* "t"/"f" */
    APP_COL_FAVORITE,     /* "t"/"f" */
    APP_COL_TOTAL,        /* list only: count(*) over the filter */
};

enum { APP_CONFLICT_NONE = 0, APP_CONFLICT_NAME, APP_CONFLICT_KEY };

typedef struct app_new {
    const char *project_id, *instance_id, *user_id, *user_name;
    const char *name, *remark, *key, *secret; /* all set: the handler generated key/secret when absent */
    int favorite;
} app_new;

/* INSERT app + owner row in one statement; *out is one App row. */
int app_store_create(PGconn *db, const app_new *in, const char *rid, PGresult **out, int *conflict) ROMA_MUST_USE;
/* One App row as user_id sees it. */
int app_store_show(PGconn *db, const char *instance_id, const char *app_id, const char *user_id, const char *rid,
                   PGresult **out) ROMA_MUST_USE;
/* Applies name/remark (when non-NULL) and the caller's favorite (when >= 0); *out is the App row after. */
int app_store_update(PGconn *db, const char *instance_id, const char *app_id, const char *user_id,
                     const char *user_name, const app_update_req *u, const char *rid, PGresult **out,
                     int *conflict) ROMA_MUST_USE;
int app_store_delete(PGconn *db, const char *instance_id, const char *app_id, const char *rid) ROMA_MUST_USE;
/* *plain is a heap string the caller releases with crypto_free_secret(). */
int app_store_secret_get(PGconn *db, const char *instance_id, const char *app_id, const char *rid,
                         char **plain) ROMA_MUST_USE;
int app_store_secret_set(PGconn *db, const char *instance_id, const char *app_id, const char *secret,
                         const char *user_id, const char *user_name, const char *rid) ROMA_MUST_USE;
/* Apps of user_id matching f, favourites first then newest; *total counts every match. */
int app_store_list(PGconn *db, const char *instance_id, const char *user_id, const app_list_filter *f,
                   const char *rid, PGresult **out, long *total) ROMA_MUST_USE;
/* ValidateRomaApp: exact match on every non-NULL of name/id/key in the whole instance; *out has
 * id, name, remark (0 or 1 row). */
int app_store_validate(PGconn *db, const char *instance_id, const char *name, const char *id, const char *key,
                       const char *rid, PGresult **out) ROMA_MUST_USE;
/* Members (owner first, then by name): columns id, name, roles csv; user_name filters exactly when set. */
int app_store_members(PGconn *db, const char *app_id, const char *owner_id, const char *user_name,
                      const char *rid, PGresult **out) ROMA_MUST_USE;
/* Replaces every member but the owner with m (owner entries in m are ignored); favourites of members who
 * stay are kept. ROMA_EINVAL when a user is not in project_id, *bad_index naming it. */
int app_store_set_members(PGconn *db, const char *app_id, const char *owner_id, const char *project_id,
                          const app_members_req *m, const char *rid, int *bad_index) ROMA_MUST_USE;
/* Users of the project (id, name by name), without the app's members when exclude_members. */
int app_store_candidates(PGconn *db, const char *project_id, const char *app_id, int exclude_members,
                         const char *rid, PGresult **out) ROMA_MUST_USE;

/* Asset helpers (thin wrappers of the SQL contract above). *json is a heap string (free()). */
int app_export_doc(PGconn *db, const char *instance_id, const char *app_id, const char *rid, char **json) ROMA_MUST_USE;
/* Re-creates an exported app; *new_id (>= 37 bytes). ROMA_ECONFLICT on a name/key clash. */
int app_import_doc(PGconn *db, const char *json, const char *project_id, const char *instance_id,
                   const char *user_id, const char *user_name, const char *rid, char *new_id, int *conflict) ROMA_MUST_USE;

#endif
