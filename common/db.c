/* db.c: fixed-size pool of persistent libpq connections (see db.h).
 * Why a pool: opening a PostgreSQL backend costs ~25 ms of fork/page-fault time on this hardware, so a
 * connection per request would cap every service at a few dozen requests per second. */
#include "db.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

struct db_pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char *conninfo;
    int size;
    PGconn **idle;  /* stack of idle connections (may hold NULL = not yet opened) */
    int nidle;
};

db_pool *db_pool_new(const char *conninfo, int size)
{
    if (size < 1) return NULL;
    db_pool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->conninfo = strdup(conninfo);
    p->idle = calloc((size_t)size, sizeof *p->idle);
    if (!p->conninfo || !p->idle) {
        free(p->conninfo);
        free(p->idle);
        free(p);
        return NULL;
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->size = size;
    p->nidle = size; /* every slot starts idle and unopened */
    return p;
}

void db_pool_free(db_pool *p)
{
    if (!p) return;
    for (int i = 0; i < p->nidle; i++)
        if (p->idle[i]) PQfinish(p->idle[i]);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p->idle);
    free(p->conninfo);
    free(p);
}

PGconn *db_connect(const char *conninfo, char *err, size_t errlen)
{
    PGconn *c = PQconnectdb(conninfo);
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (PQstatus(c) != CONNECTION_OK) {
        snprintf(err, errlen, "%s", PQerrorMessage(c));
        size_t n = strlen(err);
        while (n && (err[n - 1] == '\n' || err[n - 1] == '\r')) err[--n] = '\0';
        PQfinish(c);
        return NULL;
    }
    return c;
}

PGconn *db_acquire(db_pool *p, int timeout_ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&p->mu);
    while (p->nidle == 0) {
        if (pthread_cond_timedwait(&p->cv, &p->mu, &until) != 0) {
            pthread_mutex_unlock(&p->mu);
            log_warn(NULL, "db.pool_exhausted", "no free database connection within %d ms", timeout_ms);
            return NULL;
        }
    }
    PGconn *c = p->idle[--p->nidle];
    pthread_mutex_unlock(&p->mu);

    if (c && PQstatus(c) != CONNECTION_OK) {
        PQreset(c);
        if (PQstatus(c) != CONNECTION_OK) {
            PQfinish(c);
            c = NULL;
        }
    }
    if (!c) {
        char err[512];
        c = db_connect(p->conninfo, err, sizeof err);
        if (!c) {
            log_error(NULL, "db.connect_failed", "%s", err);
            pthread_mutex_lock(&p->mu);
            p->idle[p->nidle++] = NULL; /* give the slot back unopened */
            pthread_cond_signal(&p->cv);
            pthread_mutex_unlock(&p->mu);
            return NULL;
        }
    }
    return c;
}

void db_release(db_pool *p, PGconn *c)
{
    if (c) {
        if (PQstatus(c) != CONNECTION_OK) {
            PQfinish(c);
            c = NULL;
        } else if (PQtransactionStatus(c) != PQTRANS_IDLE) {
            /* a handler returned mid-transaction (error path): never hand out a dirty connection */
            PGresult *r = PQexec(c, "ROLLBACK");
            PQclear(r);
            if (PQtransactionStatus(c) != PQTRANS_IDLE) {
                PQfinish(c);
                c = NULL;
            }
        }
    }
    pthread_mutex_lock(&p->mu);
    p->idle[p->nidle++] = c;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

/* ---- prepared statements -------------------------------------------------------------------------------
 * Parsing and planning each statement again is most of PostgreSQL's CPU for our one-row requests, so
 * a statement run outside a transaction block is prepared once per connection (named after a 64-bit
 * hash of its text) and then executed by name. Which (connection, statement) pairs are prepared is
 * remembered in a fixed table; a stale entry (the connection was reset, or a new connection reuses a
 * freed one's address) makes PostgreSQL answer 26000, and we prepare again and retry. That retry is
 * only safe outside a transaction block (inside one, the error would abort the transaction), which is
 * why statements inside transactions always take the plain PQexecParams path. */

#define PREP_SLOTS 8192

typedef struct prep_slot {
    const PGconn *conn;
    uint64_t hash;
} prep_slot;

static prep_slot prep_table[PREP_SLOTS];
static pthread_mutex_t prep_mu = PTHREAD_MUTEX_INITIALIZER;

static uint64_t sql_hash(const char *sql)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a, then mixed with the length */
    size_t n = 0;
    for (const char *p = sql; *p; p++, n++) h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    return h ^ ((uint64_t)n << 48);
}

static size_t prep_index(const PGconn *conn, uint64_t hash)
{
    return (size_t)((hash ^ ((uint64_t)(uintptr_t)conn * 0x9e3779b97f4a7c15ULL)) % PREP_SLOTS);
}

/* 1 when (conn, hash) is believed prepared. */
static int prep_known(const PGconn *conn, uint64_t hash)
{
    pthread_mutex_lock(&prep_mu);
    prep_slot *s = &prep_table[prep_index(conn, hash)];
    int known = s->conn == conn && s->hash == hash;
    pthread_mutex_unlock(&prep_mu);
    return known;
}

/* Records (conn, hash) as prepared; a colliding entry is simply replaced (it will be re-prepared). */
static void prep_remember(const PGconn *conn, uint64_t hash)
{
    pthread_mutex_lock(&prep_mu);
    prep_slot *s = &prep_table[prep_index(conn, hash)];
    s->conn = conn;
    s->hash = hash;
    pthread_mutex_unlock(&prep_mu);
}

static PGresult *exec_prepared(PGconn *conn, const char *sql, int nparams, const char *const *params)
{
    uint64_t h = sql_hash(sql);
    char name[40];
    snprintf(name, sizeof name, "roma_%016llx", (unsigned long long)h);
    for (int attempt = 0; attempt < 2; attempt++) {
        if (!prep_known(conn, h)) {
            PGresult *p = PQprepare(conn, name, sql, nparams, NULL);
            ExecStatusType st = p ? PQresultStatus(p) : PGRES_FATAL_ERROR;
            /* 42P05: already prepared on this connection (our table forgot it): fine */
            int ok = st == PGRES_COMMAND_OK || !strcmp(db_sqlstate(p), "42P05");
            PQclear(p);
            if (!ok) return NULL; /* let the plain path produce the real error */
            prep_remember(conn, h);
        }
        PGresult *r = PQexecPrepared(conn, name, nparams, params, NULL, NULL, 0);
        if (r && PQresultStatus(r) == PGRES_FATAL_ERROR && !strcmp(db_sqlstate(r), "26000") && attempt == 0) {
            PQclear(r); /* the connection lost its statements (reset): prepare again */
            pthread_mutex_lock(&prep_mu);
            prep_table[prep_index(conn, h)].conn = NULL;
            pthread_mutex_unlock(&prep_mu);
            continue;
        }
        return r;
    }
    return NULL;
}

PGresult *db_exec(PGconn *conn, const char *sql, int nparams, const char *const *params)
{
    PGresult *r = NULL;
    if (PQtransactionStatus(conn) == PQTRANS_IDLE) r = exec_prepared(conn, sql, nparams, params);
    if (!r) r = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
    if (!r) r = PQmakeEmptyPGresult(conn, PGRES_FATAL_ERROR);
    return r;
}

int db_ok(PGresult *res, ExecStatusType expect, const char *rid)
{
    if (res && PQresultStatus(res) == expect) return 1;
    const char *msg = res ? PQresultErrorMessage(res) : "no result";
    char buf[512];
    snprintf(buf, sizeof buf, "%s", msg && *msg ? msg : PQresStatus(res ? PQresultStatus(res) : PGRES_FATAL_ERROR));
    size_t n = strlen(buf);
    while (n && buf[n - 1] == '\n') buf[--n] = '\0';
    log_error(rid, "db.error", "sqlstate=%s %s", db_sqlstate(res), buf);
    return 0;
}

int db_command(PGconn *conn, const char *sql, const char *rid)
{
    PGresult *r = PQexec(conn, sql);
    int ok = r && (PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK);
    if (!ok) (void)db_ok(r, PGRES_COMMAND_OK, rid);
    PQclear(r);
    return ok ? 0 : ROMA_EIO;
}

int db_delete_one(PGconn *conn, const char *sql, int nparams, const char *const *params, const char *rid)
{
    PGresult *res = db_exec(conn, sql, nparams, params);
    int rc = 0;
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        rc = !strcmp(db_sqlstate(res), "23503") ? ROMA_ECONFLICT : ROMA_EIO;
        if (rc == ROMA_EIO) (void)db_ok(res, PGRES_COMMAND_OK, rid);
    } else if (atoi(PQcmdTuples(res)) != 1) {
        rc = ROMA_ENOTFOUND;
    }
    PQclear(res);
    return rc;
}

const char *db_sqlstate(const PGresult *res)
{
    const char *s = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    return s ? s : "";
}
