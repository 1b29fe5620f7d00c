/* apps.c: the eleven integration-application operations of spec §2 (CreateRomaApp ... CheckCanAuthUsersOfApp):
 * routes, permission checks and JSON shapes. Field rules live in app_validate.c, SQL in app_store.c.
 *
 * Permissions (the caller's normalised roles on the app, admin implying all; APP_NEED_* of app_validate.h,
 * which the asset jobs use too):
 *   show, list, members                any member (read)
 *   update name/remark, delete         admin
 *   update favorite                    any member (favorite is per user)
 *   show/reset secret                  admin
 *   set members, candidates            admin
 * Errors (E-ROMA body): 400 ROMA.13000 invalid parameter (names the field), 400 ROMA.13001 missing body,
 * 404 ROMA.00014001 application not found (also ValidateRomaApp without a match), 400 ROMA.00014002 name
 * exists, 400 ROMA.00014003 key exists, 400 ROMA.00014004 app still used by other resources,
 * 403 ROMA.12001 no permission on the application. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app_store.h"
#include "app_validate.h"
#include "crypto.h"
#include "http.h"
#include "log.h"
#include "routes.h"
#include "util.h"

#define CODE_BAD_PARAM "ROMA.13000"
#define CODE_NO_BODY "ROMA.13001"
#define CODE_NOT_FOUND "ROMA.00014001"
#define CODE_NAME_EXISTS "ROMA.00014002"
#define CODE_KEY_EXISTS "ROMA.00014003"
#define CODE_IN_USE "ROMA.00014004"
#define CODE_NO_PERMISSION "ROMA.12001"

/* ---- replies ----------------------------------------------------------------------------------------- */

static void reply_verr(req *r, const app_verr *e)
{
    reply_error(r, 400, e->kind == APP_VERR_NOBODY ? CODE_NO_BODY : CODE_BAD_PARAM, "%s", e->msg);
}

static void reply_not_found(req *r)
{
    const char *id = req_param(r, "app_id");
    if (id) reply_error(r, 404, CODE_NOT_FOUND, "The application %.64s was not found.", id);
    else reply_error(r, 404, CODE_NOT_FOUND, "The application was not found.");
}

static void reply_conflict(req *r, int conflict)
{
    if (conflict == APP_CONFLICT_KEY)
        reply_error(r, 400, CODE_KEY_EXISTS, "An application with this key already exists in the instance.");
    else
        reply_error(r, 400, CODE_NAME_EXISTS, "An application with this name already exists in the instance.");
}

/* Replies the answer of a failed app_store / app_lookup call. */
static void reply_store_error(req *r, int rc)
{
    switch (rc) {
    case ROMA_ENOTFOUND: reply_not_found(r); break;
    case ROMA_EDENIED:
        reply_error(r, 403, CODE_NO_PERMISSION, "You have no permission to operate the application.");
        break;
    case ROMA_ENOMEM: reply_internal(r, "out of memory"); break;
    default: reply_unavailable(r, "database"); break;
    }
}

/* Sends o, built with every step checked (ok), and frees it; a failed build is the 500. Takes o. */
static void reply_built(req *r, int status, cJSON *o, int ok)
{
    if (!o || !ok) {
        cJSON_Delete(o);
        reply_internal(r, "out of memory");
        return;
    }
    reply_json(r, status, o);
    cJSON_Delete(o);
}

/* Appends item to arr, or frees it when it cannot be appended (or is NULL). 1 on success. */
static int array_take(cJSON *arr, cJSON *item)
{
    if (item && cJSON_AddItemToArray(arr, item)) return 1;
    cJSON_Delete(item);
    return 0;
}

/* ---- access ------------------------------------------------------------------------------------------ */

/* Resolves {app_id} for the caller and checks they hold need (APP_ROLE_* bit). 0, or replied. */
static int app_access_or_reply(req *r, PGconn *db, unsigned need, app_ref *ref)
{
    int rc = app_lookup(db, req_param(r, "instance_id"), req_param(r, "app_id"), r->user_id, ref);
    if (rc == 0 && !app_ref_can(ref, need)) rc = ROMA_EDENIED;
    if (rc != 0) {
        if (rc == ROMA_EIO) log_error(r->rid, "app.lookup_failed", "app lookup failed");
        reply_store_error(r, rc);
    }
    return rc;
}

/* ---- query parameters -------------------------------------------------------------------------------- */

/* Reads query parameter name into buf: *out is NULL when absent or empty. Over-long or badly encoded
 * values get the 400 (returns -1). */
static int query_or_reply(req *r, const char *name, char *buf, size_t len, const char **out)
{
    *out = NULL;
    int n = req_query(r, name, buf, len);
    if (n == -2) {
        reply_error(r, 400, CODE_BAD_PARAM, "Invalid parameter %s: the value is too long or badly encoded.", name);
        return -1;
    }
    if (n > 0) *out = buf;
    return 0;
}

/* A text parameter that goes to SQL: valid UTF-8 of at most max code points. */
static int query_text_or_reply(req *r, const char *name, long max, char *buf, size_t len, const char **out)
{
    if (query_or_reply(r, name, buf, len, out) != 0) return -1;
    if (*out) {
        long n = util_utf8_len(*out);
        if (n < 0 || n > max) {
            reply_error(r, 400, CODE_BAD_PARAM, "Invalid parameter %s: it must be valid text of at most %ld characters.",
                        name, max);
            return -1;
        }
    }
    return 0;
}

/* ---- JSON shapes ------------------------------------------------------------------------------------- */

/* Adds key: {user_id, user_name} to o. 1 on success. */
static int add_user_ref(cJSON *o, const char *key, const char *id, const char *name)
{
    cJSON *u = cJSON_AddObjectToObject(o, key);
    return u && cJSON_AddStringToObject(u, "user_id", id) && cJSON_AddStringToObject(u, "user_name", name);
}

/* App (ServerAppInfo, spec §2.3) from an APP_COL_* row. Never carries the secret. NULL on OOM. */
static cJSON *app_row_json(PGresult *res, int row)
{
#define COL(c) PQgetvalue(res, row, (c))
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    int ok = cJSON_AddStringToObject(o, "id", COL(APP_COL_ID)) && cJSON_AddStringToObject(o, "name", COL(APP_COL_NAME)) &&
             cJSON_AddStringToObject(o, "remark", COL(APP_COL_REMARK));
    cJSON *roles = ok ? cJSON_AddArrayToObject(o, "roles") : NULL;
    ok = roles && app_roles_to_json(app_roles_from_csv(COL(APP_COL_ROLES)), roles) == 0 &&
         cJSON_AddStringToObject(o, "create_time", COL(APP_COL_CREATE_TIME)) &&
         cJSON_AddStringToObject(o, "update_time", COL(APP_COL_UPDATE_TIME));
    ok = ok && add_user_ref(o, "created_user", COL(APP_COL_CREATED_BY), COL(APP_COL_CREATED_NAME)) &&
         add_user_ref(o, "last_updated_user", COL(APP_COL_UPDATED_BY), COL(APP_COL_UPDATED_NAME));
    ok = ok && cJSON_AddBoolToObject(o, "owner", COL(APP_COL_OWNER)[0] == 't') &&
         cJSON_AddStringToObject(o, "key", COL(APP_COL_KEY)) &&
         cJSON_AddBoolToObject(o, "favorite", COL(APP_COL_FAVORITE)[0] == 't');
#undef COL
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/* Replies status with the App of row 0 and frees res. */
static void reply_app_row(req *r, int status, PGresult *res)
{
    cJSON *o = app_row_json(res, 0);
    PQclear(res);
    reply_built(r, status, o, 1);
}

/* {id, secret} of the /secret operations. The plaintext is wiped by the caller. */
static void reply_secret(req *r, const char *app_id, const char *secret)
{
    cJSON *o = cJSON_CreateObject();
    int ok = o && cJSON_AddStringToObject(o, "id", app_id) && cJSON_AddStringToObject(o, "secret", secret);
    reply_built(r, 200, o, ok);
}

/* ---- CreateRomaApp: POST /apps ---------------------------------------------------------------------- */

static void app_create(req *r)
{
    app_create_req in;
    app_verr e;
    if (app_parse_create(r->body, r->body_len, &in, &e) != 0) {
        reply_verr(r, &e);
        return;
    }
    char key[APP_RANDOM_KEY_LEN + 1], secret[APP_RANDOM_SECRET_LEN + 1];
    if ((!in.key && app_random_key(key, sizeof key) != 0) || (!in.secret && app_random_secret(secret, sizeof secret) != 0)) {
        app_create_req_free(&in);
        reply_internal(r, "no randomness for the app key/secret");
        return;
    }
    PGconn *db = req_db_or_reply(r);
    if (!db) {
        app_create_req_free(&in);
        explicit_bzero(secret, sizeof secret);
        return;
    }
    app_new n = {
        .project_id = r->project_id, .instance_id = req_param(r, "instance_id"), .user_id = r->user_id,
        .user_name = r->user_name, .name = in.name, .remark = in.remark, .key = in.key ? in.key : key,
        .secret = in.secret ? in.secret : secret, .favorite = in.favorite,
    };
    PGresult *res = NULL;
    int conflict = APP_CONFLICT_NONE;
    int rc = app_store_create(db, &n, r->rid, &res, &conflict);
    explicit_bzero(secret, sizeof secret);
    app_create_req_free(&in);
    if (rc == ROMA_ECONFLICT) {
        reply_conflict(r, conflict);
        return;
    }
    if (rc != 0) {
        reply_store_error(r, rc);
        return;
    }
    log_info(r->rid, "app.created", "app %s created in instance %s by user %s", PQgetvalue(res, 0, APP_COL_ID),
             n.instance_id, r->user_id);
    reply_app_row(r, 201, res);
}

/* ---- ListRomaApp: GET /apps ------------------------------------------------------------------------- */

static void app_list(req *r)
{
    char offset[32], limit[32], favorite[16], owner[16], role[16], name[APP_NAME_BYTES], key[APP_KEY_MAX * 4 + 1],
        uname[APP_USER_NAME_MAX * 4 + 1];
    const char *v_off, *v_lim, *v_fav, *v_own, *v_role, *v_name, *v_key, *v_user;
    if (query_or_reply(r, "offset", offset, sizeof offset, &v_off) || query_or_reply(r, "limit", limit, sizeof limit, &v_lim) ||
        query_or_reply(r, "favorite", favorite, sizeof favorite, &v_fav) ||
        query_or_reply(r, "owner", owner, sizeof owner, &v_own) ||
        query_or_reply(r, "auth_role", role, sizeof role, &v_role) ||
        query_or_reply(r, "name", name, sizeof name, &v_name) || query_or_reply(r, "key", key, sizeof key, &v_key) ||
        query_or_reply(r, "user_name", uname, sizeof uname, &v_user))
        return;
    app_list_filter f;
    app_verr e;
    if (app_parse_list_filter(v_off, v_lim, v_fav, v_own, v_role, v_name, v_key, v_user, &f, &e) != 0) {
        reply_verr(r, &e);
        return;
    }
    PGconn *db = req_db_or_reply(r);
    if (!db) return;
    PGresult *res = NULL;
    long total = 0;
    int rc = app_store_list(db, req_param(r, "instance_id"), r->user_id, &f, r->rid, &res, &total);
    if (rc != 0) {
        reply_store_error(r, rc);
        return;
    }
    int n = PQntuples(res);
    cJSON *o = cJSON_CreateObject();
    cJSON *apps = NULL;
    int ok = o && cJSON_AddNumberToObject(o, "total", (double)total) && cJSON_AddNumberToObject(o, "size", n) &&
             (apps = cJSON_AddArrayToObject(o, "apps")) != NULL;
    for (int i = 0; ok && i < n; i++) ok = array_take(apps, app_row_json(res, i));
    PQclear(res);
    reply_built(r, 200, o, ok);
}

/* ---- CheckRomaAppDetails: GET /apps/{app_id} -------------------------------------------------------- */

static void app_show(req *r)
{
    PGconn *db = req_db_or_reply(r);
    if (!db) return;
    PGresult *res = NULL;
    int rc = app_store_show(db, req_param(r, "instance_id"), req_param(r, "app_id"), r->user_id, r->rid, &res);
    if (rc != 0) {
        reply_store_error(r, rc);
        return;
    }
    reply_app_row(r, 200, res);
}

/* ---- UpdateRomaApp: PUT /apps/{app_id} -------------------------------------------------------------- */

static void app_update(req *r)
{
    app_update_req u;
    app_verr e;
    if (app_parse_update(r->body, r->body_len, &u, &e) != 0) {
        reply_verr(r, &e);
        return;
    }
    PGconn *db = req_db_or_reply(r);
    app_ref ref;
    /* renaming needs admin; toggling one's own favorite only membership */
    unsigned need = (u.name || u.remark) ? APP_NEED_UPDATE : APP_ROLE_READ;
    if (!db || app_access_or_reply(r, db, need, &ref) != 0) {
        app_update_req_free(&u);
        return;
    }
    PGresult *res = NULL;
    int conflict = APP_CONFLICT_NONE;
    int rc = app_store_update(db, req_param(r, "instance_id"), ref.id, r->user_id, r->user_name, &u, r->rid, &res,
                              &conflict);
    app_update_req_free(&u);
    if (rc == ROMA_ECONFLICT) {
        reply_conflict(r, conflict);
        return;
    }
    if (rc != 0) {
        reply_store_error(r, rc);
        return;
    }
    reply_app_row(r, 200, res);
}

/* ---- DeleteRomaApp: DELETE /apps/{app_id} ----------------------------------------------------------- */

static void app_delete(req *r)
{
    PGconn *db = req_db_or_reply(r);
    app_ref ref;
    if (!db || app_access_or_reply(r, db, APP_NEED_DELETE, &ref) != 0) return;
    int rc = app_store_delete(db, req_param(r, "instance_id"), ref.id, r->rid);
    if (rc == ROMA_ECONFLICT) {
        reply_error(r, 400, CODE_IN_USE, "The application is still used by other resources; delete them first.");
        return;
    }
    if (rc != 0) {
        reply_store_error(r, rc);
        return;
    }
    log_info(r->rid, "app.deleted", "app %s deleted by user %s", ref.id, r->user_id);
    reply_empty(r, 200); /* DOC: 200 with an empty body */
}

/* ---- CheckRomaAppSecret / ResetRomaAppSecret: GET/PUT /apps/{app_id}/secret ------------------------ */

static void app_secret_show(req *r)
{
    PGconn *db = req_db_or_reply(r);
    app_ref ref;
    if (!db || app_access_or_reply(r, db, APP_NEED_SECRET, &ref) != 0) return;
    char *plain = NULL;
    int rc = app_store_secret_get(db, req_param(r, "instance_id"), ref.id, r->rid, &plain);
    if (rc != 0) {
        reply_store_error(r, rc);
        return;
    }
    reply_secret(r, ref.id, plain);
    crypto_free_secret(plain);
}

static void app_secret_reset(req *r)
{
    cJSON *doc = NULL;
    const char *given = NULL;
    app_verr e;
    if (app_parse_secret(r->body, r->body_len, &doc, &given, &e) != 0) {
        reply_verr(r, &e);
        return;
    }
    PGconn *db = req_db_or_reply(r);
    app_ref ref;
    char secret[APP_SECRET_MAX + 1];
    if (!db || app_access_or_reply(r, db, APP_NEED_SECRET, &ref) != 0) {
        cJSON_Delete(doc);
        return;
    }
    if (given) {
        snprintf(secret, sizeof secret, "%s", given); /* validated: at most 128 ASCII characters */
    } else if (app_random_secret(secret, sizeof secret) != 0) {
        cJSON_Delete(doc);
        reply_internal(r, "no randomness for the app secret");
        return;
    }
    cJSON_Delete(doc);
    int rc = app_store_secret_set(db, req_param(r, "instance_id"), ref.id, secret, r->user_id, r->user_name, r->rid);
    if (rc == 0) {
        log_info(r->rid, "app.secret_reset", "secret of app %s reset by user %s", ref.id, r->user_id);
        reply_secret(r, ref.id, secret);
    } else {
        reply_store_error(r, rc);
    }
    explicit_bzero(secret, sizeof secret);
}

/* ---- ValidateRomaApp: GET /validate-apps ------------------------------------------------------------ */

static void app_validate(req *r)
{
    char name[APP_NAME_BYTES], id[APP_ID_MAX * 4 + 1], key[APP_KEY_MAX * 4 + 1];
    const char *v_name, *v_id, *v_key;
    if (query_text_or_reply(r, "name", APP_NAME_MAX, name, sizeof name, &v_name) ||
        query_text_or_reply(r, "id", APP_ID_MAX, id, sizeof id, &v_id) ||
        query_text_or_reply(r, "key", APP_KEY_MAX, key, sizeof key, &v_key))
        return;
    if (!v_name && !v_id && !v_key) {
        reply_error(r, 400, CODE_BAD_PARAM, "Invalid parameter: one of name, id or key is required.");
        return;
    }
    PGconn *db = req_db_or_reply(r);
    if (!db) return;
    PGresult *res = NULL;
    int rc = app_store_validate(db, req_param(r, "instance_id"), v_name, v_id, v_key, r->rid, &res);
    if (rc != 0) {
        reply_store_error(r, rc);
        return;
    }
    if (PQntuples(res) != 1) {
        PQclear(res);
        reply_not_found(r);
        return;
    }
    cJSON *o = cJSON_CreateObject();
    int ok = o && cJSON_AddStringToObject(o, "id", PQgetvalue(res, 0, 0)) &&
             cJSON_AddStringToObject(o, "name", PQgetvalue(res, 0, 1)) &&
             cJSON_AddStringToObject(o, "remark", PQgetvalue(res, 0, 2));
    PQclear(res);
    reply_built(r, 200, o, ok);
}

/* ---- members: GET/PUT /apps/{app_id}/users, GET /apps/{app_id}/candidates --------------------------- */

/* Replies the Members body {total, id, users:[{id, name, roles}]} of ref, optionally one user_name only. */
static void reply_members(req *r, PGconn *db, const app_ref *ref, const char *user_name)
{
    PGresult *res = NULL;
    int rc = app_store_members(db, ref->id, ref->created_by, user_name, r->rid, &res);
    if (rc != 0) {
        reply_store_error(r, rc);
        return;
    }
    int n = PQntuples(res);
    cJSON *o = cJSON_CreateObject();
    cJSON *users = NULL;
    int ok = o && cJSON_AddNumberToObject(o, "total", n) && cJSON_AddStringToObject(o, "id", ref->id) &&
             (users = cJSON_AddArrayToObject(o, "users")) != NULL;
    for (int i = 0; ok && i < n; i++) {
        cJSON *u = cJSON_CreateObject(), *roles = NULL;
        ok = array_take(users, u) && cJSON_AddStringToObject(u, "id", PQgetvalue(res, i, 0)) &&
             cJSON_AddStringToObject(u, "name", PQgetvalue(res, i, 1)) &&
             (roles = cJSON_AddArrayToObject(u, "roles")) != NULL &&
             app_roles_to_json(app_roles_from_csv(PQgetvalue(res, i, 2)), roles) == 0;
    }
    PQclear(res);
    reply_built(r, 200, o, ok);
}

static void app_members_show(req *r)
{
    char uname[APP_USER_NAME_MAX * 4 + 1];
    const char *v_user;
    if (query_text_or_reply(r, "user_name", APP_USER_NAME_MAX, uname, sizeof uname, &v_user) != 0) return;
    PGconn *db = req_db_or_reply(r);
    app_ref ref;
    if (!db || app_access_or_reply(r, db, APP_NEED_SHOW, &ref) != 0) return;
    reply_members(r, db, &ref, v_user);
}

static void app_members_set(req *r)
{
    app_members_req m;
    app_verr e;
    if (app_parse_members(r->body, r->body_len, &m, &e) != 0) {
        reply_verr(r, &e);
        return;
    }
    PGconn *db = req_db_or_reply(r);
    app_ref ref;
    if (!db || app_access_or_reply(r, db, APP_NEED_MEMBERS, &ref) != 0) {
        app_members_req_free(&m);
        return;
    }
    int bad = -1;
    int rc = app_store_set_members(db, ref.id, ref.created_by, r->project_id, &m, r->rid, &bad);
    app_members_req_free(&m);
    if (rc == ROMA_EINVAL) {
        if (bad >= 0)
            reply_error(r, 400, CODE_BAD_PARAM, "Invalid parameter users[%d].id: no such user in the project.", bad);
        else
            reply_error(r, 400, CODE_BAD_PARAM, "Invalid parameter users: a listed user no longer exists.");
        return;
    }
    if (rc != 0) {
        reply_store_error(r, rc);
        return;
    }
    log_info(r->rid, "app.members_set", "members of app %s replaced by user %s", ref.id, r->user_id);
    reply_members(r, db, &ref, NULL);
}

static void app_candidates(req *r)
{
    char filter[72];
    const char *v_filter;
    if (query_or_reply(r, "filter", filter, sizeof filter, &v_filter) != 0) return;
    if (v_filter && strcmp(v_filter, "members") != 0) {
        reply_error(r, 400, CODE_BAD_PARAM, "Invalid parameter filter: the only supported value is members.");
        return;
    }
    PGconn *db = req_db_or_reply(r);
    app_ref ref;
    if (!db || app_access_or_reply(r, db, APP_NEED_MEMBERS, &ref) != 0) return;
    PGresult *res = NULL;
    int rc = app_store_candidates(db, r->project_id, ref.id, v_filter != NULL, r->rid, &res);
    if (rc != 0) {
        reply_store_error(r, rc);
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON *users = o ? cJSON_AddArrayToObject(o, "users") : NULL;
    int ok = users != NULL;
    for (int i = 0; ok && i < PQntuples(res); i++) {
        cJSON *u = cJSON_CreateObject();
        ok = array_take(users, u) && cJSON_AddStringToObject(u, "id", PQgetvalue(res, i, 0)) &&
             cJSON_AddStringToObject(u, "name", PQgetvalue(res, i, 1));
    }
    PQclear(res);
    reply_built(r, 200, o, ok);
}

/* ---- routes ------------------------------------------------------------------------------------------ */

#define INST "/v2/{project_id}/instances/{instance_id}"

const route apps_routes[] = {
    {"POST", INST "/apps", app_create, ROUTE_INSTANCE, ERR_SHAPE_ROMA},
    {"GET", INST "/apps", app_list, ROUTE_INSTANCE, ERR_SHAPE_ROMA},
    {"GET", INST "/apps/{app_id}", app_show, ROUTE_INSTANCE, ERR_SHAPE_ROMA},
    {"PUT", INST "/apps/{app_id}", app_update, ROUTE_INSTANCE, ERR_SHAPE_ROMA},
    {"DELETE", INST "/apps/{app_id}", app_delete, ROUTE_INSTANCE, ERR_SHAPE_ROMA},
    {"GET", INST "/apps/{app_id}/secret", app_secret_show, ROUTE_INSTANCE, ERR_SHAPE_ROMA},
    {"PUT", INST "/apps/{app_id}/secret", app_secret_reset, ROUTE_INSTANCE, ERR_SHAPE_ROMA},
    {"GET", INST "/validate-apps", app_validate, ROUTE_INSTANCE, ERR_SHAPE_ROMA},
    {"GET", INST "/apps/{app_id}/users", app_members_show, ROUTE_INSTANCE, ERR_SHAPE_ROMA},
    {"PUT", INST "/apps/{app_id}/users", app_members_set, ROUTE_INSTANCE, ERR_SHAPE_ROMA},
    {"GET", INST "/apps/{app_id}/candidates", app_candidates, ROUTE_INSTANCE, ERR_SHAPE_ROMA},
    {NULL},
};
