/* admin_store.h: the SQL behind roma-admin: create or reuse projects, instances and users, issue tokens
 * and AK/SK pairs. Every statement is parameterized. Functions return 0 or a negative code from errors.h
 * (ROMA_EINVAL bad argument, ROMA_ENOTFOUND missing parent row, ROMA_ECONFLICT name/id clash,
 * ROMA_EIO database or crypto failure) with a human-readable message in err. */
#ifndef ROMA_ADMIN_STORE_H
#define ROMA_ADMIN_STORE_H

#include <libpq-fe.h>
#include <stddef.h>

#include "errors.h"

#define ADMIN_TOKEN_PREFIX "roma-"
#define ADMIN_TOKEN_RANDOM 64
#define ADMIN_TOKEN_LEN (sizeof ADMIN_TOKEN_PREFIX - 1 + ADMIN_TOKEN_RANDOM)
#define ADMIN_AK_LEN 20
#define ADMIN_SK_LEN 40

/* reuse = 0: always insert (a name clash is ROMA_ECONFLICT). reuse = 1: return the existing row with
 * that name, or insert one; a requested id that differs from the existing row's is ROMA_ECONFLICT.
 * id may be NULL (a random one is generated). */
int store_project(PGconn *c, const char *name, const char *id, int reuse, char out_id[33], char *err,
                  size_t errlen) ROMA_MUST_USE;
int store_instance(PGconn *c, const char *project_id, const char *name, const char *id, int reuse,
                   char out_id[37], char *err, size_t errlen) ROMA_MUST_USE;
/* With reuse, an existing user's password hash is replaced when the password does not verify, so the
 * user ends up with exactly the password given. *created reports whether a row was inserted. New hashes
 * use `iterations` PBKDF2 rounds (ROMA_PASSWORD_ITERATIONS). */
int store_user(PGconn *c, const char *project_id, const char *name, const char *password, long iterations, int reuse,
               char out_id[33], int *created, char *err, size_t errlen) ROMA_MUST_USE;

/* New X-Auth-Token for user_id valid ttl_hours; only its SHA-256 is stored. out: ADMIN_TOKEN_LEN + 1. */
int store_token(PGconn *c, const char *user_id, long ttl_hours, char *out, size_t outlen, char *err,
                size_t errlen) ROMA_MUST_USE;
/* New AK/SK pair for user_id; the SK is stored sealed (crypto_init must have run). */
int store_access_key(PGconn *c, const char *user_id, char ak[ADMIN_AK_LEN + 1], char sk[ADMIN_SK_LEN + 1],
                     char *err, size_t errlen) ROMA_MUST_USE;

/* Transaction helpers for bootstrap: BEGIN + a transaction-scoped advisory lock serialising concurrent
 * bootstraps; COMMIT; ROLLBACK (best effort). */
int store_begin_locked(PGconn *c, char *err, size_t errlen) ROMA_MUST_USE;
int store_commit(PGconn *c, char *err, size_t errlen) ROMA_MUST_USE;
void store_rollback(PGconn *c);

#endif
