/* mqs_auth.c: data-plane app authentication (see mqs_auth.h). */
#include "mqs_auth.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cache.h"
#include "crypto.h"
#include "auth.h"
#include "log.h"
#include "mqs_config.h"
#include "topic_cmd.h"
#include "sign.h"

#define CANDIDATES_MAX 4   /* apps sharing one key across instances that we try */
#define KEY_MAX 200        /* app keys are 3-200 characters */
#define SECRET_MAX 256

typedef struct candidate {
    char id[65];
    char instance_id[65];
    char sealed[512];
} candidate;

static ttl_cache *cred_cache;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;
static void cache_init(void) { cred_cache = ttl_cache_new(2048); }

static int deny(req *r, const char *why)
{
    log_info(r->rid, "mqs.auth_denied", "%s", why);
    reply_error(r, 401, MQS_E_AUTH, "%s", why);
    return ROMA_EDENIED;
}

/* Parses the cache value "id|instance|sealed\n..." into c. Returns the number of candidates. */
static int parse_candidates(char *v, candidate *c)
{
    int n = 0;
    char *save = NULL;
    for (char *line = strtok_r(v, "\n", &save); line && n < CANDIDATES_MAX; line = strtok_r(NULL, "\n", &save)) {
        char *b1 = strchr(line, '|'), *b2 = b1 ? strchr(b1 + 1, '|') : NULL;
        if (!b2) continue;
        *b1 = *b2 = '\0';
        snprintf(c[n].id, sizeof c[n].id, "%s", line);
        snprintf(c[n].instance_id, sizeof c[n].instance_id, "%s", b1 + 1);
        snprintf(c[n].sealed, sizeof c[n].sealed, "%s", b2 + 1);
        n++;
    }
    return n;
}

/* The apps holding this key (narrowed to X-Instance-Id when given). >= 0 candidates, or a negative code
 * after replying 503. *cached tells whether the list came from the cache (and may be stale: an app
 * created with the same key since then is missing); fresh skips the cache. */
static int load_candidates(req *r, const char *key, candidate *c, int fresh, int *cached)
{
    pthread_once(&cache_once, cache_init);
    const char *inst = req_header(r, "X-Instance-Id");
    if (inst && strlen(inst) > 64) inst = NULL;
    char ck[KEY_MAX + 80], val[CANDIDATES_MAX * 700];
    snprintf(ck, sizeof ck, "mqsapp:%s|%s", inst ? inst : "", key);
    *cached = 1;
    if (fresh || !cred_cache || !ttl_cache_get(cred_cache, ck, val, sizeof val)) {
        *cached = 0;
        PGconn *db = req_db_or_reply(r);
        if (!db) return ROMA_EUNAVAIL;
        const char *p[] = {key, inst ? inst : ""};
        PGresult *res = db_exec(db,
                                "SELECT id, instance_id, secret_sealed FROM apps WHERE key = $1"
                                " AND ($2 = '' OR instance_id = $2) ORDER BY create_time LIMIT 4",
                                2, p);
        if (!db_ok(res, PGRES_TUPLES_OK, r->rid)) {
            PQclear(res);
            reply_unavailable(r, "database");
            return ROMA_EIO;
        }
        size_t len = 0;
        val[0] = '\0';
        for (int i = 0; i < PQntuples(res); i++) {
            int w = snprintf(val + len, sizeof val - len, "%s|%s|%s\n", PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
                             PQgetvalue(res, i, 2));
            if (w < 0 || (size_t)w >= sizeof val - len) break;
            len += (size_t)w;
        }
        PQclear(res);
        if (cred_cache && mqs_cfg()->auth_cache_ms > 0) ttl_cache_put(cred_cache, ck, val, mqs_cfg()->auth_cache_ms);
    }
    return parse_candidates(val, c);
}

static void accept_app(req *r, const candidate *c, mqs_app *app, const char *how)
{
    snprintf(app->id, sizeof app->id, "%s", c->id);
    snprintf(app->instance_id, sizeof app->instance_id, "%s", c->instance_id);
    log_debug(r->rid, "mqs.auth_ok", "app %s (%s)", c->id, how);
}

/* ---- HTTP Basic ---- */

static int auth_basic(req *r, const char *b64, mqs_app *app)
{
    while (*b64 == ' ') b64++;
    if (strlen(b64) > 4 * (KEY_MAX + SECRET_MAX) / 3 + 8) return deny(r, "The Basic credentials are too long.");
    size_t n = 0;
    unsigned char *raw = crypto_b64_decode(b64, &n);
    if (!raw) return deny(r, "The Basic credentials are not valid base64.");
    char cred[KEY_MAX + SECRET_MAX + 2];
    if (n >= sizeof cred || memchr(raw, '\0', n)) {
        free(raw);
        return deny(r, "The Basic credentials are malformed.");
    }
    memcpy(cred, raw, n);
    cred[n] = '\0';
    free(raw);
    char *colon = strchr(cred, ':');
    if (!colon || colon == cred) {
        memset(cred, 0, sizeof cred);
        return deny(r, "The Basic credentials must be <app key>:<app secret>.");
    }
    *colon = '\0';
    const char *key = cred, *secret = colon + 1;
    candidate c[CANDIDATES_MAX];
    int rc = ROMA_EDENIED, cached = 0;
    /* a miss on a cached list is retried once from the database (the list may predate the app) */
    for (int pass = 0; pass < 2 && rc == ROMA_EDENIED && (pass == 0 || cached); pass++) {
        int nc = load_candidates(r, key, c, pass, &cached);
        if (nc < 0) rc = nc;
        for (int i = 0; i < nc && rc == ROMA_EDENIED; i++) {
            char *plain = crypto_open(c[i].sealed);
            if (!plain) {
                log_error(r->rid, "mqs.auth_unseal", "cannot unseal the secret of app %s (wrong ROMA_SECRET_KEY?)", c[i].id);
                continue;
            }
            if (crypto_streq_ct(plain, secret)) {
                accept_app(r, &c[i], app, "basic");
                rc = 0;
            }
            crypto_free_secret(plain);
        }
    }
    memset(cred, 0, sizeof cred);
    if (rc == ROMA_EDENIED) return deny(r, "The app key or secret is wrong.");
    return rc;
}

/* ---- SDK-HMAC-SHA256 with the app key/secret ---- */

static int auth_hmac(req *r, const char *authz, mqs_app *app)
{
    sign_auth a;
    const char *why;
    if (auth_parse_signature(r, authz, &a, &why) != 0) return deny(r, why);
    if (strlen(a.access) > KEY_MAX) return deny(r, "The app key is unknown.");
    candidate c[CANDIDATES_MAX];
    int cached = 0, nc = 0;
    /* a miss on a cached list is retried once from the database (the list may predate the app) */
    for (int pass = 0; pass < 2 && (pass == 0 || cached); pass++) {
        nc = load_candidates(r, a.access, c, pass, &cached);
        if (nc < 0) return nc;
        for (int i = 0; i < nc; i++) {
            char *sk = crypto_open(c[i].sealed);
            if (!sk) {
                log_error(r->rid, "mqs.auth_unseal", "cannot unseal the secret of app %s (wrong ROMA_SECRET_KEY?)", c[i].id);
                continue;
            }
            int rc = auth_check_signature(r, &a, sk, &why);
            crypto_free_secret(sk);
            if (rc == ROMA_EINVAL) return deny(r, why); /* a missing signed header fails every key alike */
            if (rc == 0) {
                accept_app(r, &c[i], app, "hmac");
                return 0;
            }
        }
    }
    if (nc == 0) return deny(r, "The app key is unknown.");
    return deny(r, "The request signature does not match.");
}

int mqs_auth_app_or_reply(req *r, mqs_app *app)
{
    memset(app, 0, sizeof *app);
    const char *authz = req_header(r, "Authorization");
    if (authz && !strncasecmp(authz, "SDK-HMAC-SHA256 ", 16)) return auth_hmac(r, authz, app);
    if (authz && !strncasecmp(authz, "Basic ", 6)) return auth_basic(r, authz + 6, app);
    return deny(r, "Authenticate with the app key and secret: an SDK-HMAC-SHA256 signature or HTTP Basic.");
}
