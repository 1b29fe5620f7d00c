/* auth.c: token and AK/SK authentication, instance checks (see auth.h).
 * Identities are cached for a few seconds so a keep-alive client pays no database round trip per
 * request for them; the cache key of a token is its SHA-256, never the token itself. */
#include "auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cache.h"
#include "config.h"
#include "crypto.h"
#include "log.h"
#include "sign.h"
#include "util.h"

#define AUTH_CACHE_TTL_MS 10000

/* ---- settings of password logins (README "Decisions": authentication) ---- */

static struct {
    long iterations;       /* ROMA_PASSWORD_ITERATIONS */
    long user_max;         /* ROMA_LOGIN_MAX_FAILURES */
    long addr_max;         /* ROMA_LOGIN_ADDR_MAX_FAILURES */
    long window_s;         /* ROMA_LOGIN_WINDOW_S */
    long lockout_s;        /* ROMA_LOGIN_LOCKOUT_S */
    int forwarded_for;     /* ROMA_LOGIN_FORWARDED_FOR */
} lcfg;

static const cfg_entry auth_table[] = {
    {"ROMA_PASSWORD_ITERATIONS", CFG_INT, "600000", "PBKDF2-HMAC-SHA256 iterations of new password hashes (OWASP's value; older hashes are re-hashed at the next good login; tests lower it)", &lcfg.iterations, CRYPTO_PBKDF2_ITER_MIN, 5000000},
    {"ROMA_LOGIN_MAX_FAILURES", CFG_INT, "5", "failed logins of one user name within ROMA_LOGIN_WINDOW_S that lock it (401 \"The account is locked.\"; 0 = never)", &lcfg.user_max, 0, 1000},
    {"ROMA_LOGIN_ADDR_MAX_FAILURES", CFG_INT, "50", "failed logins from one client address within ROMA_LOGIN_WINDOW_S after which it gets 429 (0 = never)", &lcfg.addr_max, 0, 1000000},
    {"ROMA_LOGIN_WINDOW_S", CFG_INT, "900", "window in which failed logins are counted", &lcfg.window_s, 1, 86400},
    {"ROMA_LOGIN_LOCKOUT_S", CFG_INT, "900", "how long a locked user name or throttled address is refused", &lcfg.lockout_s, 1, 86400},
    {"ROMA_LOGIN_FORWARDED_FOR", CFG_BOOL, "false", "take the client address from the last X-Forwarded-For entry (only behind a proxy that appends it, like the compose nginx)", &lcfg.forwarded_for, 0, 0},
};
#define AUTH_CFG_N (sizeof auth_table / sizeof auth_table[0])

int auth_config_load(char *err, size_t errlen) { return cfg_load(auth_table, AUTH_CFG_N, err, errlen); }
void auth_config_print(void) { cfg_print_markdown(auth_table, AUTH_CFG_N); }

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

/* ---- password logins (POST /v3/auth/tokens) --------------------------------------------------------------
 * Three defences (issue 8 #12):
 * - cost: PBKDF2-HMAC-SHA256 at ROMA_PASSWORD_ITERATIONS (600,000, OWASP); a hash with fewer iterations
 *   is re-hashed after a good login;
 * - no user enumeration by timing: an unknown (or ambiguous) user name costs a dummy verify of the same
 *   work factor, an old cheaper hash is topped up to it, and both take the same database steps;
 * - throttling that holds across API replicas: failures are counted in PostgreSQL (login_failures) per
 *   user name (unknown names too, so a lock reveals nothing) and per client address. */

/* IAM's error body {"error": {"code", "message", "title"}}, as system.c's token route answers. */
static void iam_reply(req *r, int status, const char *title, const char *msg, long retry_after_s)
{
    if (retry_after_s > 0) {
        char ra[24];
        snprintf(ra, sizeof ra, "%ld", retry_after_s);
        reply_add_header(r, "Retry-After", ra);
    }
    cJSON *o = cJSON_CreateObject();
    cJSON *e = o ? cJSON_AddObjectToObject(o, "error") : NULL;
    if (e) {
        cJSON_AddNumberToObject(e, "code", status);
        cJSON_AddStringToObject(e, "message", msg);
        cJSON_AddStringToObject(e, "title", title);
    }
    reply_json(r, status, o);
    cJSON_Delete(o);
}

/* The client address failures are counted under: the peer, or behind a trusted proxy the last
 * X-Forwarded-For entry (the one that proxy appended; earlier entries are the client's own words). */
static void client_addr(req *r, char out[64])
{
    snprintf(out, 64, "%s", r->ri->remote_addr);
    const char *xff = lcfg.forwarded_for ? req_header(r, "X-Forwarded-For") : NULL;
    if (!xff) return;
    const char *last = strrchr(xff, ',');
    last = last ? last + 1 : xff;
    while (*last == ' ' || *last == '\t') last++;
    size_t n = strcspn(last, " \t");
    if (n > 0 && n < 64) snprintf(out, 64, "%.*s", (int)n, last);
}

/* Seconds a lock still holds on the user name or the address: *user_s / *addr_s (0 = none). */
static int login_locks(PGconn *db, const char *name, const char *addr, long *user_s, long *addr_s, const char *rid)
{
    *user_s = *addr_s = 0;
    const char *p[] = {name, addr};
    PGresult *res = db_exec(db,
                            "SELECT kind, ceil(extract(epoch FROM locked_until - now()))::bigint FROM login_failures"
                            " WHERE ((kind = 'user' AND key = $1) OR (kind = 'addr' AND key = $2))"
                            " AND locked_until > now()",
                            2, p);
    if (!db_ok(res, PGRES_TUPLES_OK, rid)) {
        PQclear(res);
        return ROMA_EIO;
    }
    for (int i = 0; i < PQntuples(res); i++) {
        long s = atol(PQgetvalue(res, i, 1));
        if (s < 1) s = 1;
        if (!strcmp(PQgetvalue(res, i, 0), "user")) *user_s = s;
        else *addr_s = s;
    }
    PQclear(res);
    return 0;
}

/* Counts one failure for (kind, key). A window that expired, or a lock that ended, starts over at 1;
 * reaching max sets the lock. */
static void count_failure(PGconn *db, const char *kind, const char *key, long max, const char *rid)
{
    if (max <= 0) return;
    char smax[24], swin[24], slock[24];
    snprintf(smax, sizeof smax, "%ld", max);
    snprintf(swin, sizeof swin, "%ld", lcfg.window_s);
    snprintf(slock, sizeof slock, "%ld", lcfg.lockout_s);
    const char *p[] = {kind, key, smax, swin, slock};
    PGresult *res = db_exec(
        db,
        "INSERT INTO login_failures AS f (kind, key, window_start, failures, locked_until)"
        " VALUES ($1, $2, now(), 1, CASE WHEN $3::int <= 1 THEN now() + make_interval(secs => $5::int) END)"
        " ON CONFLICT (kind, key) DO UPDATE SET"
        "  window_start = CASE WHEN f.window_start <= now() - make_interval(secs => $4::int)"
        "   OR f.locked_until <= now() THEN now() ELSE f.window_start END,"
        "  failures = CASE WHEN f.window_start <= now() - make_interval(secs => $4::int)"
        "   OR f.locked_until <= now() THEN 1 ELSE f.failures + 1 END,"
        "  locked_until = CASE WHEN f.window_start <= now() - make_interval(secs => $4::int)"
        "   OR f.locked_until <= now()"
        "   THEN CASE WHEN $3::int <= 1 THEN now() + make_interval(secs => $5::int) END"
        "   WHEN f.failures + 1 >= $3::int THEN now() + make_interval(secs => $5::int) ELSE f.locked_until END",
        5, p);
    (void)db_ok(res, PGRES_COMMAND_OK, rid);
    PQclear(res);
}

/* Every 64th failure in this process also removes up to 1000 rows nobody needs any more (expired window,
 * no running lock), so names an attacker invents do not accumulate. */
static void purge_stale(PGconn *db, const char *rid)
{
    static unsigned counter;
    if (__atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED) % 64 != 0) return;
    char swin[24];
    snprintf(swin, sizeof swin, "%ld", lcfg.window_s);
    const char *p[] = {swin};
    PGresult *res = db_exec(db,
                            "DELETE FROM login_failures WHERE ctid IN (SELECT ctid FROM login_failures"
                            " WHERE window_start < now() - make_interval(secs => $1::int)"
                            " AND (locked_until IS NULL OR locked_until < now()) LIMIT 1000)",
                            1, p);
    (void)db_ok(res, PGRES_COMMAND_OK, rid);
    PQclear(res);
}

/* Verifies password against stored (NULL: no such user), always spending the work of the configured
 * iteration count. 1 on match. */
static int verify_equal_time(const char *password, const char *stored)
{
    long want = lcfg.iterations, have = stored ? crypto_password_iterations(stored) : 0;
    int ok = have > 0 && crypto_password_verify(password, stored);
    /* an unknown user or a malformed hash pays everything, an old cheaper hash the difference */
    if (have < want) crypto_password_work(want - have);
    return ok;
}

/* A good login with a hash cheaper than the configured work factor: store a new one (compare-and-set on
 * the old value, so two concurrent logins cannot fight). Failure only costs a log line. */
static void upgrade_hash(PGconn *db, const char *user_id, const char *password, const char *stored, const char *rid)
{
    if (crypto_password_iterations(stored) >= lcfg.iterations) return;
    char *hash = crypto_password_hash(password, lcfg.iterations);
    if (!hash) return;
    const char *p[] = {hash, user_id, stored};
    PGresult *res = db_exec(db, "UPDATE users SET password_hash = $1 WHERE id = $2 AND password_hash = $3", 3, p);
    if (db_ok(res, PGRES_COMMAND_OK, rid))
        log_info(rid, "auth.password_rehashed", "user %s: %ld iterations", user_id, lcfg.iterations);
    PQclear(res);
    free(hash);
}

int auth_password_login(req *r, const char *name, const char *password, const char *project_id,
                        const char *project_name, char user_id[33], char out_project_id[33], char out_project_name[256])
{
    PGconn *db = req_db_or_reply(r);
    if (!db) return ROMA_EUNAVAIL;
    char addr[64];
    client_addr(r, addr);
    long user_lock = 0, addr_lock = 0;
    if (login_locks(db, name, addr, &user_lock, &addr_lock, r->rid) != 0) {
        reply_unavailable(r, "database");
        return ROMA_EIO;
    }
    if (user_lock > 0) {
        /* IAM's answer for a locked account; the same for an unknown name, so it tells nothing */
        log_info(r->rid, "auth.login_locked", "user name %.64s locked for %ld s", name, user_lock);
        iam_reply(r, 401, "Unauthorized", "The account is locked.", user_lock);
        return ROMA_EDENIED;
    }
    if (addr_lock > 0) {
        log_info(r->rid, "auth.login_throttled", "address %s throttled for %ld s", addr, addr_lock);
        iam_reply(r, 429, "Too Many Requests", "Too many failed logins from this address; retry later.", addr_lock);
        return ROMA_EDENIED;
    }
    const char *p[] = {name, project_id ? project_id : "", project_name ? project_name : ""};
    PGresult *res = db_exec(db,
                            "SELECT u.id, u.project_id, u.password_hash, p.name FROM users u"
                            " JOIN projects p ON p.id = u.project_id WHERE u.name = $1"
                            " AND ($2 = '' OR u.project_id = $2) AND ($3 = '' OR p.name = $3)",
                            3, p);
    if (!db_ok(res, PGRES_TUPLES_OK, r->rid)) {
        PQclear(res);
        reply_unavailable(r, "database");
        return ROMA_EIO;
    }
    /* a user name that exists in several projects needs a scope to pick one: like an unknown name */
    const char *stored = PQntuples(res) == 1 ? PQgetvalue(res, 0, 2) : NULL;
    if (!verify_equal_time(password, stored)) {
        PQclear(res);
        count_failure(db, "user", name, lcfg.user_max, r->rid);
        count_failure(db, "addr", addr, lcfg.addr_max, r->rid);
        purge_stale(db, r->rid);
        log_info(r->rid, "auth.password_denied", "token request for user %.64s refused", name);
        iam_reply(r, 401, "Unauthorized", "The username or password is wrong.", 0);
        return ROMA_EDENIED;
    }
    snprintf(user_id, 33, "%s", PQgetvalue(res, 0, 0));
    snprintf(out_project_id, 33, "%s", PQgetvalue(res, 0, 1));
    snprintf(out_project_name, 256, "%s", PQgetvalue(res, 0, 3));
    upgrade_hash(db, user_id, password, stored, r->rid);
    PQclear(res);
    /* a good login clears the name's failures (not the address's: one valid account must not reset a
     * sprayer's count) */
    const char *d[] = {name};
    res = db_exec(db, "DELETE FROM login_failures WHERE kind = 'user' AND key = $1", 1, d);
    (void)db_ok(res, PGRES_COMMAND_OK, r->rid);
    PQclear(res);
    return 0;
}
