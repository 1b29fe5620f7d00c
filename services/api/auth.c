/* auth.c: token and AK/SK authentication, instance checks (see auth.h).
 * Identities are cached for a few seconds so a keep-alive client pays no database round trip per
 * request for them; the cache key of a token is its SHA-256, never the token itself. */
#include "auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cache.h"
#include "crypto.h"
#include "log.h"
#include "sign.h"
#include "util.h"

#define AUTH_CACHE_TTL_MS 10000

static ttl_cache *id_cache;   /* "t:<sha256>" -> "project|user|name|expires_ms"; "ak:<AK>" -> "project|user|name|sealed" */
static ttl_cache *inst_cache; /* "<project>/<instance>" -> "1" */

int auth_init(void)
{
    id_cache = ttl_cache_new(4096);
    inst_cache = ttl_cache_new(1024);
    return id_cache && inst_cache ? 0 : ROMA_ENOMEM;
}

void auth_shutdown(void)
{
    ttl_cache_free(id_cache);
    ttl_cache_free(inst_cache);
    id_cache = inst_cache = NULL;
}

static void reply_401(req *r, const char *code, const char *msg)
{
    log_info(r->rid, "auth.denied", "%s", msg);
    reply_error(r, 401, code, "%s", msg);
}

/* Splits "a|b|c|d" into up to 4 fields in place. */
static int split4(char *s, char *f[4])
{
    for (int i = 0; i < 4; i++) {
        f[i] = s;
        char *bar = i < 3 ? strchr(s, '|') : NULL;
        if (i < 3 && !bar) return ROMA_EINVAL;
        if (bar) {
            *bar = '\0';
            s = bar + 1;
        }
    }
    return 0;
}

/* Fetches the identity row for a credential (token hash or AK) through the cache: val receives
 * "project|user|name|<4th column>" split into f[4]. 0 on success; otherwise the reply (401 with
 * denied_msg, 503, 500) is sent and a negative code returned. */
static int load_identity(req *r, const char *cache_key, const char *sql, const char *param,
                         const char *denied_msg, char *val, size_t vallen, char *f[4])
{
    if (!ttl_cache_get(id_cache, cache_key, val, vallen)) {
        PGconn *db = req_db_or_reply(r);
        if (!db) return ROMA_EUNAVAIL;
        const char *p[] = {param};
        PGresult *res = db_exec(db, sql, 1, p);
        if (!db_ok(res, PGRES_TUPLES_OK, r->rid)) {
            PQclear(res);
            reply_unavailable(r, "database");
            return ROMA_EIO;
        }
        if (PQntuples(res) != 1) {
            PQclear(res);
            reply_401(r, "ROMA.1002", denied_msg);
            return ROMA_EDENIED;
        }
        snprintf(val, vallen, "%s|%s|%s|%s", PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1),
                 PQgetvalue(res, 0, 2), PQgetvalue(res, 0, 3));
        PQclear(res);
        ttl_cache_put(id_cache, cache_key, val, AUTH_CACHE_TTL_MS);
    }
    if (split4(val, f) != 0) {
        reply_internal(r, "identity cache entry malformed");
        return ROMA_EINVAL;
    }
    return 0;
}

static void set_identity(req *r, const char *project, const char *user, const char *name)
{
    snprintf(r->project_id, sizeof r->project_id, "%s", project);
    snprintf(r->user_id, sizeof r->user_id, "%s", user);
    snprintf(r->user_name, sizeof r->user_name, "%s", name);
}

static int auth_token(req *r, const char *token)
{
    char hash[65], key[70], val[512];
    crypto_sha256_hex(token, strlen(token), hash);
    snprintf(key, sizeof key, "t:%s", hash);
    char *f[4];
    int rc = load_identity(r, key,
                           "SELECT t.project_id, t.user_id, u.name,"
                           " (extract(epoch FROM t.expires_at) * 1000)::bigint"
                           " FROM tokens t JOIN users u ON u.id = t.user_id"
                           " WHERE t.token_hash = $1 AND t.expires_at > now()",
                           hash, "The authentication token is invalid or has expired.", val, sizeof val, f);
    if (rc != 0) return rc;
    long long exp = atoll(f[3]);
    if (exp <= util_now_ms()) {
        ttl_cache_del(id_cache, key);
        reply_401(r, "ROMA.1002", "The authentication token is invalid or has expired.");
        return ROMA_EDENIED;
    }
    set_identity(r, f[0], f[1], f[2]);
    return 0;
}

/* The client asks for the body not to be hashed (the SDKs do so for uploads; sign_check_policy judges). */
static int request_unsigned_payload(req *r)
{
    const char *v = req_header(r, "X-Sdk-Content-Sha256");
    return v && !strcmp(v, "UNSIGNED-PAYLOAD");
}

int auth_parse_signature(req *r, const char *authorization, sign_auth *a, const char **why)
{
    if (sign_parse_authorization(authorization, a) != 0) {
        *why = "The Authorization header is malformed.";
        return ROMA_EDENIED;
    }
    const char *date = req_header(r, "X-Sdk-Date");
    long long date_ms;
    if (!date || sign_parse_sdk_date(date, &date_ms) != 0) {
        *why = "The X-Sdk-Date header is missing or malformed.";
        return ROMA_EDENIED;
    }
    long long skew = date_ms - util_now_ms();
    if (skew < 0) skew = -skew;
    if (skew > g_api->cfg.clock_skew_s * 1000LL) {
        *why = "The X-Sdk-Date header is too far from the server time.";
        return ROMA_EDENIED;
    }
    int raw_body = r->route && (r->route->flags & ROUTE_RAW_BODY);
    return sign_check_policy(a->signed_headers, request_unsigned_payload(r), req_header(r, "Content-Type"), raw_body,
                             why);
}

int auth_check_signature(req *r, const sign_auth *a, const char *sk, const char **why)
{
    sign_header hdrs[64];
    size_t nh = 0;
    for (int i = 0; i < r->ri->num_headers && nh < 64; i++)
        hdrs[nh++] = (sign_header){r->ri->http_headers[i].name, r->ri->http_headers[i].value};
    char body_hash[65];
    /* auth_parse_signature allowed UNSIGNED-PAYLOAD only where the SDKs use it */
    if (request_unsigned_payload(r))
        snprintf(body_hash, sizeof body_hash, "UNSIGNED-PAYLOAD");
    else
        crypto_sha256_hex(r->body, r->body_len, body_hash);
    char *creq = sign_canonical_request(r->method, r->path, r->query ? r->query : "", hdrs, nh, a->signed_headers,
                                        body_hash);
    if (!creq) {
        *why = "A header named in SignedHeaders is missing from the request.";
        return ROMA_EINVAL;
    }
    char sig[65];
    /* X-Sdk-Date was checked by auth_parse_signature */
    sign_compute(creq, req_header(r, "X-Sdk-Date"), sk, sig);
    free(creq);
    if (!crypto_streq_ct(sig, a->signature)) {
        *why = "The request signature does not match.";
        return ROMA_EDENIED;
    }
    return 0;
}

static int auth_signature(req *r, const char *authorization)
{
    sign_auth a;
    const char *why;
    if (auth_parse_signature(r, authorization, &a, &why) != 0) {
        reply_401(r, "ROMA.1002", why);
        return ROMA_EDENIED;
    }

    char key[160], val[1024];
    snprintf(key, sizeof key, "ak:%s", a.access);
    char *f[4];
    int rc = load_identity(r, key,
                           "SELECT k.project_id, k.user_id, u.name, k.sk_sealed FROM access_keys k"
                           " JOIN users u ON u.id = k.user_id WHERE k.ak = $1",
                           a.access, "The access key is unknown.", val, sizeof val, f);
    if (rc != 0) return rc;
    const char *xpid = req_header(r, "X-Project-Id");
    if (xpid && strcmp(xpid, f[0]) != 0) {
        reply_401(r, "ROMA.1002", "X-Project-Id does not match the access key's project.");
        return ROMA_EDENIED;
    }
    char *sk = crypto_open(f[3]);
    if (!sk) {
        reply_internal(r, "cannot unseal secret key (wrong ROMA_SECRET_KEY?)");
        return ROMA_EIO;
    }
    rc = auth_check_signature(r, &a, sk, &why);
    crypto_free_secret(sk);
    if (rc != 0) {
        reply_401(r, "ROMA.1002", why);
        return ROMA_EDENIED;
    }
    set_identity(r, f[0], f[1], f[2]);
    r->auth_by_ak = 1;
    return 0;
}

int auth_request_or_reply(req *r)
{
    const char *authz = req_header(r, "Authorization");
    if (authz && !strncasecmp(authz, "SDK-HMAC-SHA256", 15)) return auth_signature(r, authz);
    const char *token = req_header(r, "X-Auth-Token");
    if (token && *token) {
        if (strlen(token) > 100000) {
            reply_401(r, "ROMA.1002", "The authentication token is invalid or has expired.");
            return ROMA_EDENIED;
        }
        return auth_token(r, token);
    }
    reply_401(r, "ROMA.1000", "The request carries no X-Auth-Token and no SDK-HMAC-SHA256 signature.");
    return ROMA_EDENIED;
}

int auth_instance_or_reply(req *r, const char *instance_id)
{
    char key[160], v[4];
    snprintf(key, sizeof key, "%s/%.100s", r->project_id, instance_id);
    if (ttl_cache_get(inst_cache, key, v, sizeof v)) return 0;
    PGconn *db = req_db_or_reply(r);
    if (!db) return ROMA_EUNAVAIL;
    const char *p[] = {instance_id, r->project_id};
    PGresult *res = db_exec(db, "SELECT 1 FROM instances WHERE id = $1 AND project_id = $2", 2, p);
    if (!db_ok(res, PGRES_TUPLES_OK, r->rid)) {
        PQclear(res);
        reply_unavailable(r, "database");
        return ROMA_EIO;
    }
    int found = PQntuples(res) == 1;
    PQclear(res);
    if (!found) {
        /* LINK documents instance-not-found as 500 ROMA.00110002; the other families get a 404 with the
         * same code and text (README: "Error bodies"). */
        int status = r->route && r->route->shape == ERR_SHAPE_LINK ? 500 : 404;
        reply_error(r, status, "ROMA.00110002", "The instance does not exist. project_id: %s, instance_id: %.64s",
                    r->project_id, instance_id);
        return ROMA_ENOTFOUND;
    }
    ttl_cache_put(inst_cache, key, "1", 60000);
    return 0;
}
