/* system.c: unauthenticated routes: version discovery (spec §7), liveness and readiness, and the
 * IAM-style POST /v3/auth/tokens that exchanges a local user's name and password for an X-Auth-Token. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "crypto.h"
#include "http.h"
#include "log.h"
#include "routes.h"
#include "util.h"

/* Version object as SEED/DOC-2025 show it (spec §8 #12): flat, links an object, updated an ISO string. */
static cJSON *version_obj(req *r, const char *id)
{
    const char *host = req_header(r, "Host");
    char href[512];
    if (g_api->cfg.public_url && *g_api->cfg.public_url)
        snprintf(href, sizeof href, "%s/%s", g_api->cfg.public_url, id);
    else
        snprintf(href, sizeof href, "http://%s/%s", host ? host : "127.0.0.1", id);
    cJSON *v = cJSON_CreateObject();
    if (!v) return NULL;
    int cur = !strcmp(id, "v2");
    cJSON_AddStringToObject(v, "id", id);
    cJSON_AddStringToObject(v, "version", "");
    cJSON_AddStringToObject(v, "min_version", "");
    cJSON_AddStringToObject(v, "status", cur ? "CURRENT" : "SUPPORTED");
    cJSON_AddStringToObject(v, "updated", cur ? "2020-06-28T12:20:21Z" : "2018-06-28T12:20:21Z");
    cJSON *links = cJSON_AddObjectToObject(v, "links");
    if (links) {
        cJSON_AddStringToObject(links, "rel", "self");
        cJSON_AddStringToObject(links, "href", href);
    }
    return v;
}

static void list_versions(req *r)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *arr = o ? cJSON_AddArrayToObject(o, "versions") : NULL;
    if (!arr) {
        cJSON_Delete(o);
        reply_internal(r, "oom");
        return;
    }
    cJSON_AddItemToArray(arr, version_obj(r, "v1"));
    cJSON_AddItemToArray(arr, version_obj(r, "v2"));
    reply_json(r, 200, o);
    cJSON_Delete(o);
}

static void show_version(req *r)
{
    const char *v = req_param(r, "version");
    if (strcmp(v, "v1") != 0 && strcmp(v, "v2") != 0) {
        reply_error(r, 404, "ROMA.1007", "The requested URL does not exist.");
        return;
    }
    cJSON *o = version_obj(r, v);
    if (!o) {
        reply_internal(r, "oom");
        return;
    }
    reply_json(r, 200, o);
    cJSON_Delete(o);
}

static void healthz(req *r) { reply_json_text(r, 200, "{\"status\":\"ok\"}"); }

static void readyz(req *r)
{
    PGconn *db = req_db_or_reply(r);
    if (!db) return;
    PGresult *res = db_exec(db, "SELECT 1", 0, NULL);
    int ok = db_ok(res, PGRES_TUPLES_OK, r->rid);
    PQclear(res);
    if (!ok) {
        reply_unavailable(r, "database");
        return;
    }
    reply_json_text(r, 200, "{\"status\":\"ready\",\"database\":\"ok\"}");
}

/* IAM error body: {"error":{"code":"...","message":"...","title":"..."}} as IAM answers. */
static void iam_error(req *r, int status, const char *msg)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *e = o ? cJSON_AddObjectToObject(o, "error") : NULL;
    if (e) {
        cJSON_AddNumberToObject(e, "code", status);
        cJSON_AddStringToObject(e, "message", msg);
        cJSON_AddStringToObject(e, "title", status == 401 ? "Unauthorized" : "Bad Request");
    }
    reply_json(r, status, o);
    cJSON_Delete(o);
}

static const cJSON *path_get(const cJSON *o, const char *const *keys)
{
    for (; *keys && o; keys++) o = cJSON_GetObjectItemCaseSensitive(o, *keys);
    return o;
}

static void issue_token(req *r)
{
    const char *end = NULL;
    cJSON *body = r->body_len ? cJSON_ParseWithLengthOpts(r->body, r->body_len + 1 /* our NUL: rejects trailing garbage */, &end, 1) : NULL;
    static const char *const user_path[] = {"auth", "identity", "password", "user", NULL};
    static const char *const proj_path[] = {"auth", "scope", "project", NULL};
    const cJSON *user = path_get(body, user_path);
    const cJSON *proj = path_get(body, proj_path);
    const char *name = json_str(user, "name");
    const char *password = json_str(user, "password");
    const char *pid = json_str(proj, "id");
    const char *pname = json_str(proj, "name");
    if (!name || !password || strlen(name) > 64 || strlen(password) > 256) {
        cJSON_Delete(body);
        iam_error(r, 400, "The request body must carry auth.identity.password.user.name and password.");
        return;
    }
    /* name points into body, which every path below frees early: keep a copy */
    char user_name[65];
    snprintf(user_name, sizeof user_name, "%s", name);
    /* lockout, throttling, equal-time verify and hash upgrade live in auth.c */
    char user_id[33], project_id[33], project_name[256];
    if (auth_password_login(r, name, password, pid, pname, user_id, project_id, project_name) != 0) {
        cJSON_Delete(body);
        return;
    }
    PGconn *db = r->db; /* acquired by auth_password_login */
    PGresult *res;

    char token[70] = "roma-";
    char hash[65], ttl[32];
    if (crypto_random_token(token + 5, sizeof token - 5, 64) != 0) {
        cJSON_Delete(body);
        reply_internal(r, "random");
        return;
    }
    crypto_sha256_hex(token, strlen(token), hash);
    snprintf(ttl, sizeof ttl, "%ld", g_api->cfg.token_ttl_hours);
    const char *q[] = {hash, user_id, project_id, ttl};
    res = db_exec(db,
                  "INSERT INTO tokens (token_hash, user_id, project_id, expires_at)"
                  " VALUES ($1, $2, $3, now() + make_interval(hours => $4::int))"
                  " RETURNING (extract(epoch FROM expires_at) * 1000)::bigint,"
                  " (extract(epoch FROM created_at) * 1000)::bigint",
                  4, q);
    if (!db_ok(res, PGRES_TUPLES_OK, r->rid)) {
        PQclear(res);
        cJSON_Delete(body);
        reply_unavailable(r, "database");
        return;
    }
    char exp[32], iss[32];
    util_fmt_iso_ms(atoll(PQgetvalue(res, 0, 0)), exp);
    util_fmt_iso_ms(atoll(PQgetvalue(res, 0, 1)), iss);
    PQclear(res);
    cJSON_Delete(body);

    cJSON *o = cJSON_CreateObject();
    cJSON *t = o ? cJSON_AddObjectToObject(o, "token") : NULL;
    if (!t) {
        cJSON_Delete(o);
        reply_internal(r, "oom");
        return;
    }
    cJSON_AddStringToObject(t, "expires_at", exp);
    cJSON_AddStringToObject(t, "issued_at", iss);
    cJSON *m = cJSON_AddArrayToObject(t, "methods");
    if (m) cJSON_AddItemToArray(m, cJSON_CreateString("password"));
    cJSON *po = cJSON_AddObjectToObject(t, "project");
    if (po) {
        cJSON_AddStringToObject(po, "id", project_id);
        cJSON_AddStringToObject(po, "name", project_name);
    }
    cJSON *uo = cJSON_AddObjectToObject(t, "user");
    if (uo) {
        cJSON_AddStringToObject(uo, "id", user_id);
        cJSON_AddStringToObject(uo, "name", user_name);
    }
    reply_add_header(r, "X-Subject-Token", token);
    log_info(r->rid, "auth.token_issued", "user %s of project %s", user_id, project_id);
    reply_json(r, 201, o);
    cJSON_Delete(o);
}

const route system_routes[] = {
    {"GET", "/", list_versions, ROUTE_PUBLIC, ERR_SHAPE_ROMA},
    {"GET", "/healthz", healthz, ROUTE_PUBLIC, ERR_SHAPE_ROMA},
    {"GET", "/readyz", readyz, ROUTE_PUBLIC, ERR_SHAPE_ROMA},
    {"GET", "/{version}", show_version, ROUTE_PUBLIC, ERR_SHAPE_ROMA},
    {"POST", "/v3/auth/tokens", issue_token, ROUTE_PUBLIC, ERR_SHAPE_IAM},
    {NULL},
};
