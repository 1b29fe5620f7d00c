/* db.h: the PostgreSQL connection pool and small libpq helpers.
 * A new libpq connection costs ~25 ms on this hardware, so every process holds a fixed pool of
 * persistent connections. Connections are opened lazily, checked on release and re-opened when broken.
 * Thread-safe (mutex + condition variable). */
#ifndef ROMA_DB_H
#define ROMA_DB_H

#include <libpq-fe.h>
#include "errors.h"

typedef struct db_pool db_pool;

/* conninfo is copied. size >= 1. Returns NULL on allocation failure (no connection is opened yet). */
db_pool *db_pool_new(const char *conninfo, int size) ROMA_MUST_USE;
void db_pool_free(db_pool *pool);

/* Borrows a connection, waiting up to timeout_ms for a free slot. NULL when none could be had or the
 * server is unreachable (logged). The connection must go back through db_release(). */
PGconn *db_acquire(db_pool *pool, int timeout_ms) ROMA_MUST_USE;
/* Returns a connection; rolls back an open transaction and resets a broken connection. */
void db_release(db_pool *pool, PGconn *conn);

/* PQexecParams with text parameters and text results. Never returns NULL: on allocation failure
 * libpq's fatal result is synthesised. Caller PQclear()s. */
PGresult *db_exec(PGconn *conn, const char *sql, int nparams, const char *const *params) ROMA_MUST_USE;

/* 1 when res has the expected status; otherwise logs the error (with rid) and returns 0. */
int db_ok(PGresult *res, ExecStatusType expect, const char *rid);

/* Runs a statement expecting no rows back (BEGIN, COMMIT, ...). 0 or ROMA_EIO. */
int db_command(PGconn *conn, const char *sql, const char *rid) ROMA_MUST_USE;

/* Runs a DELETE (or UPDATE) of one row with text parameters. 0 when exactly one row was affected;
 * ROMA_ENOTFOUND when none; ROMA_ECONFLICT when a foreign key of another table still references the
 * row (SQLSTATE 23503); ROMA_EIO (logged) on any other error. */
int db_delete_one(PGconn *conn, const char *sql, int nparams, const char *const *params, const char *rid) ROMA_MUST_USE;

/* SQLSTATE of a failed result ("23505" unique violation...), or "" */
const char *db_sqlstate(const PGresult *res);

/* One-shot connection used by tools and the migration runner (not pooled). NULL on failure, error in err. */
PGconn *db_connect(const char *conninfo, char *err, size_t errlen) ROMA_MUST_USE;

#endif
