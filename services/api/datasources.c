/* datasources.c: the FDI datasource routes (spec §3) and the five CRUD operations: CreateDatasourceInfo,
 * ListDatasources, ShowDataourceDetail, UpdateDatasourceInfo, DeleteDatasourceInfoById. Field rules
 * live in ds_validate.c, secret handling in ds_secrets.c, SQL in ds_store.c, and test-connect /
 * tables / columns in ds_connect.c. Error bodies: ds_api.h.
 *
 * Decisions (README):
 * - Roles: one rule for every path (ds_api.h, ds_authorize_or_reply): a datasource is visible to the
 *   members of its app; read to list/show, access to test/list tables, modify to create/update (and to
 *   send a stored secret to a changed target), delete to delete.
 * - app_id must name an app of the instance whose member the caller is (else 400 [app_id]);
 *   app_permission in responses is the caller's roles on that app (admin expands to all four).
 * - Update is a merge: top-level fields absent from the body keep their stored values; a content sent
 *   replaces the stored content (secrets sent as "******" keep their stored values). The result is
 *   validated as a whole, so a type change needs a content that fits the new type.
 * - "******" on create is refused (nothing stored to keep).
 * - The response adds last_test_result (bool), last_test_time (epoch ms), last_test_latency_ms and
 *   last_test_detail once the datasource was tested; SDK clients ignore unknown fields.
 * - List: limit default 10, above 999 -> 999, below 1 -> 10; offset below 0 -> 0; sort_field only
 *   CREATED_DATE; sort_type ASC|DESC (default DESC, newest first); name is a case-sensitive substring. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "app_store.h"
#include "app_validate.h"
#include "json_gate.h"
#include "crypto.h"
#include "db.h"
#include "ds_api.h"
#include "ds_secrets.h"
#include "ds_store.h"
#include "ds_validate.h"
#include "log.h"
#include "routes.h"
#include "util.h"

#define LIST_LIMIT_DEFAULT 10
#define LIST_LIMIT_MAX 999

/* ---- replies ----------------------------------------------------------------------------------------- */

void ds_reply_verr(req *r, const ds_verr *e)
{
    char msg[160];
    if (!e->field[0]) {
        reply_error_detail(r, 400, DS_CODE_BAD_BODY, "Invalid parameters.", e->reason);
        return;
    }
    snprintf(msg, sizeof msg, "Invalid parameter [%s].", e->field);
    reply_error_detail(r, 400, DS_CODE_BAD_PARAM, msg, e->reason);
}

static void reply_param(req *r, const char *field, const char *reason)
{
    ds_verr e;
    snprintf(e.field, sizeof e.field, "%s", field);
    snprintf(e.reason, sizeof e.reason, "%s", reason);
    ds_reply_verr(r, &e);
}

void ds_reply_not_found(req *r) { reply_error(r, 404, DS_CODE_NOT_FOUND, "The datasource does not exist."); }

void ds_reply_store_error(req *r, int rc)
{
    switch (rc) {
    case ROMA_ENOTFOUND: ds_reply_not_found(r); break;
    case ROMA_EINVAL: reply_param(r, "app_id", "must be the id of an integration app of this instance"); break;
    case ROMA_ECONFLICT:
        reply_param(r, "datasource_id", "the datasource is still used by data integration tasks; delete them first");
        break;
    case ROMA_ENOMEM: reply_internal(r, "out of memory"); break;
    default: reply_unavailable(r, "database"); break;
    }
}

/* ---- roles ------------------------------------------------------------------------------------------ */

static const struct {
    unsigned role;
    const char *word;
} action_roles[] = {
    [DS_DO_READ] = {APP_ROLE_READ, "read"},
    [DS_DO_USE] = {APP_ROLE_ACCESS, "access"},
    [DS_DO_MODIFY] = {APP_ROLE_MODIFY, "modify"},
    [DS_DO_DELETE] = {APP_ROLE_DELETE, "delete"},
};

unsigned ds_action_role(ds_action a) { return action_roles[a].role; }

void ds_reply_denied(req *r, ds_action a)
{
    char why[120];
    snprintf(why, sizeof why, "this operation needs the %s role on the datasource's integration app",
             action_roles[a].word);
    reply_error_detail(r, 403, DS_CODE_NO_PERMISSION, "No permission for this datasource.", why);
}

int ds_authorize_or_reply(req *r, PGresult *row, ds_action a)
{
    /* NULL roles: no app_members row for the caller (ds_store's LEFT JOIN) */
    if (PQgetisnull(row, 0, DS_COL_ROLES)) {
        ds_reply_not_found(r);
        return ROMA_ENOTFOUND;
    }
    app_ref ref;
    memset(&ref, 0, sizeof ref);
    ref.roles = app_roles_from_csv(PQgetvalue(row, 0, DS_COL_ROLES));
    if (!app_ref_can(&ref, ds_action_role(a))) {
        log_info(r->rid, "ds.denied", "user %s lacks %s on datasource %.40s", r->user_id, action_roles[a].word,
                 PQgetvalue(row, 0, DS_COL_ID));
        ds_reply_denied(r, a);
        return ROMA_EDENIED;
    }
    return 0;
}

/* ---- row -> JSON -------------------------------------------------------------------------------------- */

static const char *cell(PGresult *res, int i, int col) { return PQgetisnull(res, i, col) ? NULL : PQgetvalue(res, i, col); }

/* The caller's rights via the owning app: admin implies the four datasource rights. */
static cJSON *app_permission(const char *roles_csv)
{
    static const char *const rights[] = {"read", "access", "delete", "modify"};
    cJSON *arr = cJSON_CreateArray();
    if (!arr || !roles_csv) return arr;
    int admin = strstr(roles_csv, "admin") != NULL;
    for (size_t i = 0; i < sizeof rights / sizeof rights[0]; i++) {
        char needle[16];
        snprintf(needle, sizeof needle, "%s", rights[i]);
        int has = admin;
        /* roles_csv is "read,access,..." of known words: a token compare is enough */
        for (const char *p = roles_csv; !has && *p;) {
            size_t n = strcspn(p, ",");
            has = n == strlen(needle) && !strncmp(p, needle, n);
            p += n;
            if (*p == ',') p++;
        }
        if (has && !cJSON_AddItemToArray(arr, cJSON_CreateString(rights[i]))) {
            cJSON_Delete(arr);
            return NULL;
        }
    }
    return arr;
}

/* The Datasource response object of row i; content secrets masked. NULL on allocation failure or a
 * corrupt content (logged). */
static cJSON *row_json(req *r, PGresult *res, int i)
{
    cJSON *content = json_gate_parse_str(PQgetvalue(res, i, DS_COL_CONTENT), NULL);
    if (!content || ds_secrets_mask(content) != 0) {
        log_error(r->rid, "ds.corrupt", "datasource %s: stored content unreadable", PQgetvalue(res, i, DS_COL_ID));
        cJSON_Delete(content);
        return NULL;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON *perm = app_permission(cell(res, i, DS_COL_ROLES));
    const char *desc = cell(res, i, DS_COL_DESCRIPTION), *plugin = cell(res, i, DS_COL_PLUGIN_ID);
    int ok = o && perm && cJSON_AddStringToObject(o, "datasource_id", PQgetvalue(res, i, DS_COL_ID)) &&
             cJSON_AddStringToObject(o, "datasource_name", PQgetvalue(res, i, DS_COL_NAME)) &&
             cJSON_AddStringToObject(o, "datasource_type", PQgetvalue(res, i, DS_COL_TYPE)) &&
             cJSON_AddStringToObject(o, "description", desc ? desc : "") &&
             cJSON_AddStringToObject(o, "app_id", PQgetvalue(res, i, DS_COL_APP_ID)) &&
             cJSON_AddStringToObject(o, "app_name", PQgetvalue(res, i, DS_COL_APP_NAME)) &&
             cJSON_AddStringToObject(o, "instance_id", PQgetvalue(res, i, DS_COL_INSTANCE_ID)) &&
             (!plugin || cJSON_AddStringToObject(o, "custom_plugin_id", plugin)) &&
             cJSON_AddNumberToObject(o, "create_time", strtod(PQgetvalue(res, i, DS_COL_CREATE_TIME), NULL)) &&
             cJSON_AddNumberToObject(o, "update_time", strtod(PQgetvalue(res, i, DS_COL_UPDATE_TIME), NULL));
    if (ok) {
        cJSON_AddItemToObject(o, "content", content);
        content = NULL;
        cJSON_AddItemToObject(o, "app_permission", perm);
        perm = NULL;
    }
    const char *tr = cell(res, i, DS_COL_TEST_RESULT);
    if (ok && tr) {
        const char *det = cell(res, i, DS_COL_TEST_DETAIL);
        ok = cJSON_AddBoolToObject(o, "last_test_result", tr[0] == 't') &&
             cJSON_AddNumberToObject(o, "last_test_time", strtod(PQgetvalue(res, i, DS_COL_TEST_TIME), NULL)) &&
             cJSON_AddNumberToObject(o, "last_test_latency_ms", strtod(PQgetvalue(res, i, DS_COL_TEST_LATENCY), NULL)) &&
             cJSON_AddStringToObject(o, "last_test_detail", det ? det : "");
    }
    cJSON_Delete(content);
    cJSON_Delete(perm);
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static void reply_row(req *r, int status, PGresult *res)
{
    cJSON *o = row_json(r, res, 0);
    if (!o) {
        reply_internal(r, "datasource response");
        return;
    }
    reply_json(r, status, o);
    cJSON_Delete(o);
}

/* ---- merge + validate + seal ------------------------------------------------------------------------- */

static const char *const top_fields[] = {"datasource_name", "datasource_type", "app_id", "description",
                                         "custom_plugin_id", "content", NULL};

/* Puts a copy of src[key] into dst (replacing); absent in src = untouched; null = removed. 0 or -1. */
static int overlay(cJSON *dst, const cJSON *src, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(src, key);
    if (!v) return 0;
    cJSON_DeleteItemFromObjectCaseSensitive(dst, key);
    if (cJSON_IsNull(v)) return 0;
    cJSON *copy = cJSON_Duplicate(v, 1);
    if (!copy || !cJSON_AddItemToObject(dst, key, copy)) {
        cJSON_Delete(copy);
        return -1;
    }
    return 0;
}

/* The stored row as a DatasourceInfo object; content masked when masked, else as stored (sealed). */
static cJSON *stored_info(PGresult *res, int masked)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *content = json_gate_parse_str(PQgetvalue(res, 0, DS_COL_CONTENT), NULL);
    const char *desc = cell(res, 0, DS_COL_DESCRIPTION), *plugin = cell(res, 0, DS_COL_PLUGIN_ID);
    int ok = o && content && (!masked || ds_secrets_mask(content) == 0) &&
             cJSON_AddStringToObject(o, "datasource_name", PQgetvalue(res, 0, DS_COL_NAME)) &&
             cJSON_AddStringToObject(o, "datasource_type", PQgetvalue(res, 0, DS_COL_TYPE)) &&
             cJSON_AddStringToObject(o, "app_id", PQgetvalue(res, 0, DS_COL_APP_ID)) &&
             (!desc || cJSON_AddStringToObject(o, "description", desc)) &&
             (!plugin || cJSON_AddStringToObject(o, "custom_plugin_id", plugin));
    if (ok) {
        cJSON_AddItemToObject(o, "content", content);
        return o;
    }
    cJSON_Delete(content);
    cJSON_Delete(o);
    return NULL;
}

int ds_merge_or_reply(req *r, PGresult *stored, cJSON *body, cJSON **out, int *kept)
{
    *out = NULL;
    ds_verr e = {"", ""};
    if (body && ds_check_duplicates(body, &e) != 0) {
        ds_reply_verr(r, &e);
        return ROMA_EINVAL;
    }
    cJSON *info = stored ? stored_info(stored, 1) : cJSON_CreateObject();
    cJSON *stored_content = NULL;
    if (!info) goto oom;
    for (int i = 0; body && top_fields[i]; i++)
        if (overlay(info, body, top_fields[i]) != 0) goto oom;
    if (ds_validate_info(info, &e) != 0) {
        cJSON_Delete(info);
        ds_reply_verr(r, &e);
        return ROMA_EINVAL;
    }
    if (stored && !(stored_content = json_gate_parse_str(PQgetvalue(stored, 0, DS_COL_CONTENT), NULL))) goto oom;
    int rc = ds_secrets_seal(cJSON_GetObjectItemCaseSensitive(info, "content"), stored_content, &e, kept);
    cJSON_Delete(stored_content);
    if (rc == ROMA_EINVAL) {
        cJSON_Delete(info);
        ds_reply_verr(r, &e);
        return rc;
    }
    if (rc != 0) {
        cJSON_Delete(info);
        reply_internal(r, rc == ROMA_EIO ? "sealing a datasource secret failed" : "out of memory");
        return rc;
    }
    *out = info;
    return 0;
oom:
    cJSON_Delete(info);
    reply_internal(r, "out of memory");
    return ROMA_ENOMEM;
}

/* app_id must be an app of this instance the caller belongs to, with the role a needs. 0, or replied. */
static int check_app_or_reply(req *r, PGconn *db, const char *app_id, ds_action a)
{
    app_ref ref;
    int rc = app_lookup(db, req_param(r, "instance_id"), app_id, r->user_id, &ref);
    if (rc == 0 && app_ref_can(&ref, ds_action_role(a))) return 0;
    if (rc == 0) {
        ds_reply_denied(r, a);
        return ROMA_EDENIED;
    }
    if (rc == ROMA_ENOTFOUND)
        reply_param(r, "app_id", "no integration app with this id exists in the instance");
    else if (rc == ROMA_EDENIED)
        reply_param(r, "app_id", "you are not a member of this integration app");
    else
        ds_reply_store_error(r, rc);
    return rc;
}

/* Fills a ds_row_in from a merged info (content printed into *content_text, caller frees). */
static int row_in_from(req *r, const cJSON *info, ds_row_in *in, char **content_text)
{
    *content_text = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(info, "content"));
    if (!*content_text) return ROMA_ENOMEM;
    in->project_id = r->project_id;
    in->instance_id = req_param(r, "instance_id");
    in->app_id = json_str(info, "app_id");
    in->name = json_str(info, "datasource_name");
    in->type = json_str(info, "datasource_type");
    in->description = json_str(info, "description");
    in->custom_plugin_id = json_str(info, "custom_plugin_id");
    in->content = *content_text;
    in->user_id = r->user_id;
    in->now_ms = util_now_ms();
    return 0;
}

/* ---- handlers ---------------------------------------------------------------------------------------- */

static void ds_create(req *r)
{
    cJSON *body = req_json_or_reply(r, 0);
    if (!body) return;
    cJSON *info = NULL;
    char *content_text = NULL;
    PGresult *res = NULL;
    if (ds_merge_or_reply(r, NULL, body, &info, NULL) != 0) goto out;
    PGconn *db = req_db_or_reply(r);
    if (!db || check_app_or_reply(r, db, json_str(info, "app_id"), DS_DO_MODIFY) != 0) goto out;
    char id[33];
    ds_row_in in;
    memset(&in, 0, sizeof in);
    if (util_hex_id(id) != 0 || row_in_from(r, info, &in, &content_text) != 0) {
        reply_internal(r, "id or content");
        goto out;
    }
    in.id = id;
    int rc = ds_store_create(db, &in, r->rid, &res);
    if (rc != 0) {
        ds_reply_store_error(r, rc);
        goto out;
    }
    log_info(r->rid, "ds.created", "datasource %s (%s) in instance %s", id, in.type, in.instance_id);
    reply_row(r, 201, res);
out:
    PQclear(res);
    free(content_text);
    cJSON_Delete(info);
    cJSON_Delete(body);
}

static void ds_show(req *r)
{
    PGconn *db = req_db_or_reply(r);
    if (!db) return;
    PGresult *res = NULL;
    int rc = ds_store_get(db, req_param(r, "instance_id"), req_param(r, "datasource_id"), r->user_id, 0, r->rid, &res);
    if (rc != 0) {
        ds_reply_store_error(r, rc);
        return;
    }
    if (ds_authorize_or_reply(r, res, DS_DO_READ) == 0) reply_row(r, 200, res);
    PQclear(res);
}

static void ds_update(req *r)
{
    cJSON *body = req_json_or_reply(r, 0);
    if (!body) return;
    cJSON *info = NULL;
    char *content_text = NULL;
    PGresult *stored = NULL, *res = NULL;
    PGconn *db = req_db_or_reply(r);
    if (!db) goto out;
    /* the row is locked while merging so a concurrent update's secrets are not overwritten with older ones;
     * an early return leaves the transaction to db_release, which rolls it back */
    if (db_command(db, "BEGIN", r->rid) != 0) {
        reply_unavailable(r, "database");
        goto out;
    }
    int rc = ds_store_get(db, req_param(r, "instance_id"), req_param(r, "datasource_id"), r->user_id, 1, r->rid, &stored);
    if (rc != 0) {
        ds_reply_store_error(r, rc);
        goto out;
    }
    /* modify on the stored app, and on the app the body moves it to */
    if (ds_authorize_or_reply(r, stored, DS_DO_MODIFY) != 0) goto out;
    if (ds_merge_or_reply(r, stored, body, &info, NULL) != 0) goto out;
    if (check_app_or_reply(r, db, json_str(info, "app_id"), DS_DO_MODIFY) != 0) goto out;
    ds_row_in in;
    memset(&in, 0, sizeof in);
    if (row_in_from(r, info, &in, &content_text) != 0) {
        reply_internal(r, "content");
        goto out;
    }
    in.id = req_param(r, "datasource_id");
    rc = ds_store_update(db, &in, r->rid, &res);
    if (rc != 0) {
        ds_reply_store_error(r, rc);
        goto out;
    }
    if (db_command(db, "COMMIT", r->rid) != 0) {
        reply_unavailable(r, "database");
        goto out;
    }
    log_info(r->rid, "ds.updated", "datasource %s (%s)", in.id, in.type);
    reply_row(r, 200, res);
out:
    PQclear(stored);
    PQclear(res);
    free(content_text);
    cJSON_Delete(info);
    cJSON_Delete(body);
}

static void ds_delete(req *r)
{
    PGconn *db = req_db_or_reply(r);
    if (!db) return;
    const char *id = req_param(r, "datasource_id");
    PGresult *row = NULL;
    int rc = ds_store_get(db, req_param(r, "instance_id"), id, r->user_id, 0, r->rid, &row);
    if (rc != 0) {
        ds_reply_store_error(r, rc);
        return;
    }
    rc = ds_authorize_or_reply(r, row, DS_DO_DELETE);
    PQclear(row);
    if (rc != 0) return;
    rc = ds_store_delete(db, req_param(r, "instance_id"), id, r->rid);
    if (rc != 0) {
        ds_reply_store_error(r, rc);
        return;
    }
    log_info(r->rid, "ds.deleted", "datasource %.40s", id);
    reply_empty(r, 204);
}

/* Reads an optional integer query parameter. 1 present, 0 absent, -1 invalid (replied). */
static int query_long(req *r, const char *name, long *out)
{
    char buf[32];
    int n = req_query(r, name, buf, sizeof buf);
    if (n == -1 || (n == 0)) return 0;
    if (n < 0 || util_parse_long(buf, out) != 0) {
        reply_param(r, name, "must be an integer");
        return -1;
    }
    return 1;
}

/* Reads an optional string query parameter into buf. 1 present, 0 absent, -1 too long (replied). */
static int query_str(req *r, const char *name, char *buf, size_t len)
{
    int n = req_query(r, name, buf, len);
    if (n == -1 || n == 0) return 0;
    if (n < 0 || util_utf8_len(buf) < 0) {
        reply_param(r, name, "is too long or not valid UTF-8");
        return -1;
    }
    return 1;
}

static void ds_list(req *r)
{
    ds_list_filter f;
    memset(&f, 0, sizeof f);
    char type[32], name[1100], app_id[300], plugin[300], sfield[32], stype[16];
    long limit = LIST_LIMIT_DEFAULT, offset = 0;
    int q;
    if ((q = query_long(r, "limit", &limit)) < 0) return;
    if (q == 0 || limit < 1) limit = LIST_LIMIT_DEFAULT;
    if (limit > LIST_LIMIT_MAX) limit = LIST_LIMIT_MAX;
    if (query_long(r, "offset", &offset) < 0) return;
    if (offset < 0) offset = 0;
    f.limit = limit;
    f.offset = offset;
    if ((q = query_str(r, "datasource_type", type, sizeof type)) < 0) return;
    if (q > 0) {
        if (!ds_type_valid(type)) {
            reply_param(r, "datasource_type", "must be one of the 35 datasource types");
            return;
        }
        f.type = type;
    }
    if ((q = query_str(r, "name", name, sizeof name)) < 0) return;
    if (q > 0) f.name = name;
    if ((q = query_str(r, "app_id", app_id, sizeof app_id)) < 0) return;
    if (q > 0) f.app_id = app_id;
    if ((q = query_str(r, "custom_plugin_id", plugin, sizeof plugin)) < 0) return;
    if (q > 0) f.custom_plugin_id = plugin;
    if ((q = query_str(r, "sort_field", sfield, sizeof sfield)) < 0) return;
    if (q > 0 && strcmp(sfield, "CREATED_DATE") != 0) {
        reply_param(r, "sort_field", "must be CREATED_DATE");
        return;
    }
    if ((q = query_str(r, "sort_type", stype, sizeof stype)) < 0) return;
    if (q > 0 && strcasecmp(stype, "ASC") != 0 && strcasecmp(stype, "DESC") != 0) {
        reply_param(r, "sort_type", "must be ASC or DESC");
        return;
    }
    f.ascending = q > 0 && !strcasecmp(stype, "ASC");

    PGconn *db = req_db_or_reply(r);
    if (!db) return;
    PGresult *res = NULL;
    long total = 0;
    int rc = ds_store_list(db, req_param(r, "instance_id"), r->user_id, &f, r->rid, &res, &total);
    if (rc != 0) {
        ds_reply_store_error(r, rc);
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON *arr = o ? cJSON_AddArrayToObject(o, "entities") : NULL;
    int ok = arr && cJSON_AddNumberToObject(o, "total", (double)total) &&
             cJSON_AddNumberToObject(o, "size", PQntuples(res));
    for (int i = 0; ok && i < PQntuples(res); i++) {
        cJSON *e = row_json(r, res, i);
        ok = e && cJSON_AddItemToArray(arr, e);
        if (!ok) cJSON_Delete(e);
    }
    PQclear(res);
    if (!ok) {
        cJSON_Delete(o);
        reply_internal(r, "datasource list");
        return;
    }
    reply_json(r, 200, o);
    cJSON_Delete(o);
}

#define DS "/v2/{project_id}/fdi/instances/{instance_id}/datasources"

const route datasources_routes[] = {
    {"POST", DS, ds_create, ROUTE_INSTANCE, ERR_SHAPE_FDI},
    {"GET", DS, ds_list, ROUTE_INSTANCE, ERR_SHAPE_FDI},
    {"GET", DS "/{datasource_id}", ds_show, ROUTE_INSTANCE, ERR_SHAPE_FDI},
    {"PUT", DS "/{datasource_id}", ds_update, ROUTE_INSTANCE, ERR_SHAPE_FDI},
    {"DELETE", DS "/{datasource_id}", ds_delete, ROUTE_INSTANCE, ERR_SHAPE_FDI},
    {"POST", DS "/{datasource_id}/test-connect", ds_test_connect, ROUTE_INSTANCE, ERR_SHAPE_FDI},
    {"GET", DS "/{datasource_id}/tables", ds_list_tables, ROUTE_INSTANCE, ERR_SHAPE_FDI},
    {"GET", DS "/{datasource_id}/columns", ds_list_columns, ROUTE_INSTANCE, ERR_SHAPE_FDI},
    {NULL},
};
