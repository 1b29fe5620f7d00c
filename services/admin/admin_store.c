/* admin_store.c: parameterized SQL for roma-admin (see admin_store.h). Secrets handled here (passwords,
 * tokens, SKs) are never logged and are wiped from local buffers once used. */
#include "admin_store.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "crypto.h"
#include "db.h"
#include "util.h"

/* Arbitrary constant key of the advisory lock taken by bootstrap ("ROMA" "BOOT"). */
#define BOOTSTRAP_LOCK_KEY "5931061484935294804"

/* Fills err from a failed result and maps the SQLSTATE to an error code. */
static int sql_fail(PGresult *r, const char *what, char *err, size_t errlen) {
    const char *state = db_sqlstate(r);
    const char *msg = PQresultErrorMessage(r);
    char clean[300];
    snprintf(clean, sizeof clean, "%s", msg && *msg ? msg : PQresStatus(PQresultStatus(r)));
    size_t n = strlen(clean);
    while (n > 0 && (clean[n - 1] == '\n' || clean[n - 1] == ' ')) clean[--n] = '\0';
    snprintf(err, errlen, "%s: %s%s%s", what, clean, *state ? " (SQLSTATE " : "", *state ? state : "");
    if (*state) snprintf(err + strlen(err), errlen - strlen(err), ")");
    if (!strcmp(state, "23505")) return ROMA_ECONFLICT; /* unique_violation */
    if (!strcmp(state, "23503")) return ROMA_ENOTFOUND; /* foreign_key_violation */
    if (!strcmp(state, "23514")) return ROMA_EINVAL;    /* check_violation */
    return ROMA_EIO;
}

/* Runs a query expecting rows; on success *out holds the result (caller PQclears). */
static int query(PGconn *c, const char *sql, int n, const char *const *p, const char *what, PGresult **out,
                 char *err, size_t errlen) {
    PGresult *r = db_exec(c, sql, n, p);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        int rc = sql_fail(r, what, err, errlen);
        PQclear(r);
        return rc;
    }
    *out = r;
    return 0;
}

int store_project(PGconn *c, const char *name, const char *id, int reuse, char out_id[33], char *err,
                  size_t errlen) {
    PGresult *r = NULL;
    int rc;
    if (reuse) {
        const char *p[1] = {name};
        if ((rc = query(c, "SELECT id FROM projects WHERE name = $1", 1, p, "looking up project", &r, err, errlen)))
            return rc;
        if (PQntuples(r) == 1) {
            snprintf(out_id, 33, "%s", PQgetvalue(r, 0, 0));
            PQclear(r);
            if (id != NULL && strcmp(id, out_id) != 0) {
                snprintf(err, errlen, "project '%s' already exists with id %s, not %s", name, out_id, id);
                return ROMA_ECONFLICT;
            }
            return 0;
        }
        PQclear(r);
    }
    char newid[33];
    if (id != NULL) snprintf(newid, sizeof newid, "%s", id);
    else if (util_hex_id(newid) != 0) {
        snprintf(err, errlen, "cannot generate a project id: no randomness");
        return ROMA_EIO;
    }
    const char *p[2] = {newid, name};
    if ((rc = query(c, "INSERT INTO projects (id, name) VALUES ($1, $2) RETURNING id", 2, p, "creating project", &r,
                    err, errlen))) {
        if (rc == ROMA_ECONFLICT) snprintf(err, errlen, "a project named '%s' or with id %s already exists", name, newid);
        return rc;
    }
    snprintf(out_id, 33, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    return 0;
}

int store_instance(PGconn *c, const char *project_id, const char *name, const char *id, int reuse,
                   char out_id[37], char *err, size_t errlen) {
    PGresult *r = NULL;
    int rc;
    char lid[37] = "";
    if (id != NULL) { /* ids are compared and stored in lower case */
        snprintf(lid, sizeof lid, "%s", id);
        for (char *q = lid; *q; q++) *q = (char)tolower((unsigned char)*q);
    }
    if (reuse) {
        const char *p[2] = {project_id, name};
        if ((rc = query(c, "SELECT id FROM instances WHERE project_id = $1 AND name = $2", 2, p,
                        "looking up instance", &r, err, errlen)))
            return rc;
        if (PQntuples(r) == 1) {
            snprintf(out_id, 37, "%s", PQgetvalue(r, 0, 0));
            PQclear(r);
            if (id != NULL && strcmp(lid, out_id) != 0) {
                snprintf(err, errlen, "instance '%s' already exists with id %s, not %s", name, out_id, lid);
                return ROMA_ECONFLICT;
            }
            return 0;
        }
        PQclear(r);
    }
    if (id == NULL && util_uuid(lid) != 0) {
        snprintf(err, errlen, "cannot generate an instance id: no randomness");
        return ROMA_EIO;
    }
    const char *p[3] = {lid, project_id, name};
    if ((rc = query(c, "INSERT INTO instances (id, project_id, name) VALUES ($1, $2, $3) RETURNING id", 3, p,
                    "creating instance", &r, err, errlen))) {
        if (rc == ROMA_ECONFLICT)
            snprintf(err, errlen, "an instance named '%s' in project %s, or with id %s, already exists", name,
                     project_id, lid);
        else if (rc == ROMA_ENOTFOUND)
            snprintf(err, errlen, "no project with id %s", project_id);
        return rc;
    }
    snprintf(out_id, 37, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    return 0;
}

int store_user(PGconn *c, const char *project_id, const char *name, const char *password, long iterations, int reuse,
               char out_id[33], int *created, char *err, size_t errlen) {
    PGresult *r = NULL;
    int rc;
    *created = 0;
    if (reuse) {
        const char *p[2] = {project_id, name};
        if ((rc = query(c, "SELECT id, password_hash FROM users WHERE project_id = $1 AND name = $2", 2, p,
                        "looking up user", &r, err, errlen)))
            return rc;
        if (PQntuples(r) == 1) {
            snprintf(out_id, 33, "%s", PQgetvalue(r, 0, 0));
            int same = crypto_password_verify(password, PQgetvalue(r, 0, 1));
            PQclear(r);
            if (same) return 0;
            char *hash = crypto_password_hash(password, iterations);
            if (hash == NULL) {
                snprintf(err, errlen, "cannot hash the password");
                return ROMA_EIO;
            }
            const char *u[2] = {hash, out_id};
            PGresult *w = db_exec(c, "UPDATE users SET password_hash = $1 WHERE id = $2", 2, u);
            rc = PQresultStatus(w) == PGRES_COMMAND_OK ? 0 : sql_fail(w, "updating the user's password", err, errlen);
            PQclear(w);
            free(hash);
            return rc;
        }
        PQclear(r);
    }
    char id[33];
    if (util_hex_id(id) != 0) {
        snprintf(err, errlen, "cannot generate a user id: no randomness");
        return ROMA_EIO;
    }
    char *hash = crypto_password_hash(password, iterations);
    if (hash == NULL) {
        snprintf(err, errlen, "cannot hash the password");
        return ROMA_EIO;
    }
    const char *p[4] = {id, project_id, name, hash};
    rc = query(c, "INSERT INTO users (id, project_id, name, password_hash) VALUES ($1, $2, $3, $4) RETURNING id", 4,
               p, "creating user", &r, err, errlen);
    free(hash);
    if (rc) {
        if (rc == ROMA_ECONFLICT) snprintf(err, errlen, "a user named '%s' already exists in project %s", name, project_id);
        else if (rc == ROMA_ENOTFOUND) snprintf(err, errlen, "no project with id %s", project_id);
        return rc;
    }
    snprintf(out_id, 33, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    *created = 1;
    return 0;
}

/* project_id of a user, or ROMA_ENOTFOUND. */
static int user_project(PGconn *c, const char *user_id, char project_id[33], char *err, size_t errlen) {
    PGresult *r = NULL;
    const char *p[1] = {user_id};
    int rc = query(c, "SELECT project_id FROM users WHERE id = $1", 1, p, "looking up user", &r, err, errlen);
    if (rc) return rc;
    if (PQntuples(r) != 1) {
        PQclear(r);
        snprintf(err, errlen, "no user with id %s", user_id);
        return ROMA_ENOTFOUND;
    }
    snprintf(project_id, 33, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    return 0;
}

int store_token(PGconn *c, const char *user_id, long ttl_hours, char *out, size_t outlen, char *err,
                size_t errlen) {
    char project_id[33], rnd[ADMIN_TOKEN_RANDOM + 1], hash[65], ttl[24];
    int rc;
    if (outlen < ADMIN_TOKEN_LEN + 1) return ROMA_EINVAL;
    if ((rc = user_project(c, user_id, project_id, err, errlen))) return rc;
    if (crypto_random_token(rnd, sizeof rnd, ADMIN_TOKEN_RANDOM) != 0) {
        snprintf(err, errlen, "cannot generate a token: no randomness");
        return ROMA_EIO;
    }
    snprintf(out, outlen, "%s%s", ADMIN_TOKEN_PREFIX, rnd);
    OPENSSL_cleanse(rnd, sizeof rnd);
    /* The API looks tokens up by sha256(hex) of the whole X-Auth-Token value, prefix included. */
    crypto_sha256_hex(out, strlen(out), hash);
    snprintf(ttl, sizeof ttl, "%ld", ttl_hours);
    const char *p[4] = {hash, user_id, project_id, ttl};
    PGresult *r = db_exec(c,
                          "INSERT INTO tokens (token_hash, user_id, project_id, expires_at) "
                          "VALUES ($1, $2, $3, now() + $4::int * interval '1 hour')",
                          4, p);
    rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : sql_fail(r, "storing the token", err, errlen);
    PQclear(r);
    if (rc) OPENSSL_cleanse(out, outlen);
    return rc;
}

/* AK: ADMIN_AK_LEN chars of [A-Z0-9], like Huawei's. Rejection sampling keeps it uniform (252 = 7*36). */
static int random_ak(char ak[ADMIN_AK_LEN + 1]) {
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    unsigned char b[64];
    size_t n = 0;
    while (n < ADMIN_AK_LEN) {
        if (util_random_bytes(b, sizeof b) != 0) return ROMA_EIO;
        for (size_t i = 0; i < sizeof b && n < ADMIN_AK_LEN; i++)
            if (b[i] < 252) ak[n++] = alphabet[b[i] % 36];
    }
    ak[ADMIN_AK_LEN] = '\0';
    return 0;
}

int store_access_key(PGconn *c, const char *user_id, char ak[ADMIN_AK_LEN + 1], char sk[ADMIN_SK_LEN + 1],
                     char *err, size_t errlen) {
    char project_id[33];
    int rc;
    if ((rc = user_project(c, user_id, project_id, err, errlen))) return rc;
    /* ON CONFLICT DO NOTHING instead of catching 23505: inside bootstrap's transaction an error would
     * abort the whole transaction, while an empty RETURNING just means "draw another AK". */
    for (int attempt = 0; attempt < 5; attempt++) {
        if (random_ak(ak) != 0 || crypto_random_token(sk, ADMIN_SK_LEN + 1, ADMIN_SK_LEN) != 0) {
            snprintf(err, errlen, "cannot generate an access key: no randomness");
            return ROMA_EIO;
        }
        char *sealed = crypto_seal(sk);
        if (sealed == NULL) {
            OPENSSL_cleanse(sk, ADMIN_SK_LEN + 1);
            snprintf(err, errlen, "cannot seal the secret key (is the data-encryption key loaded?)");
            return ROMA_EIO;
        }
        const char *p[4] = {ak, user_id, project_id, sealed};
        PGresult *r = db_exec(c,
                              "INSERT INTO access_keys (ak, user_id, project_id, sk_sealed) VALUES ($1, $2, $3, $4) "
                              "ON CONFLICT (ak) DO NOTHING RETURNING ak",
                              4, p);
        free(sealed);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            rc = sql_fail(r, "storing the access key", err, errlen);
            PQclear(r);
            OPENSSL_cleanse(sk, ADMIN_SK_LEN + 1);
            return rc;
        }
        int inserted = PQntuples(r) == 1;
        PQclear(r);
        if (inserted) return 0;
    }
    OPENSSL_cleanse(sk, ADMIN_SK_LEN + 1);
    snprintf(err, errlen, "could not draw an unused access key");
    return ROMA_ECONFLICT;
}

int store_begin_locked(PGconn *c, char *err, size_t errlen) {
    PGresult *r = db_exec(c, "BEGIN", 0, NULL);
    int rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : sql_fail(r, "BEGIN", err, errlen);
    PQclear(r);
    if (rc) return rc;
    const char *p[1] = {BOOTSTRAP_LOCK_KEY};
    r = db_exec(c, "SELECT pg_advisory_xact_lock($1::bigint)", 1, p);
    rc = PQresultStatus(r) == PGRES_TUPLES_OK ? 0 : sql_fail(r, "taking the bootstrap lock", err, errlen);
    PQclear(r);
    if (rc) store_rollback(c);
    return rc;
}

int store_commit(PGconn *c, char *err, size_t errlen) {
    PGresult *r = db_exec(c, "COMMIT", 0, NULL);
    /* COMMIT of a failed transaction reports success with a ROLLBACK tag: check the tag too */
    int rc = 0;
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        rc = sql_fail(r, "COMMIT", err, errlen);
    } else if (strcmp(PQcmdStatus(r), "COMMIT") != 0) {
        snprintf(err, errlen, "COMMIT: the transaction was rolled back");
        rc = ROMA_EIO;
    }
    PQclear(r);
    return rc;
}

void store_rollback(PGconn *c) {
    PGresult *r = db_exec(c, "ROLLBACK", 0, NULL);
    PQclear(r);
}
