/* db.c: fixed-size pool of persistent libpq connections (see db.h).
 * Why a pool: opening a PostgreSQL backend costs ~25 ms of fork/page-fault time on this hardware, so a
 * connection per request would cap every service at a few dozen requests per second. */
#include "db.h"

#include <libpq-events.h>
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
 * hash of its text) and then executed by name.
 *
 * Which statements a connection holds is recorded ON the connection, through libpq's event procedures
 * (PQregisterEventProc + PQsetInstanceData): the set is created with the connection, emptied when
 * PQreset() gives it a new server session (PGEVT_CONNRESET) and freed by PQfinish() (PGEVT_CONNDESTROY).
 * So the record is exact: it never forgets a statement the server still holds (which made us PREPARE it
 * again, and PostgreSQL log `ERROR: prepared statement "roma_..." already exists`), and never believes
 * in one the server lost (`... does not exist`). An earlier version kept a global table keyed by the
 * PGconn address with replace-on-collision slots: entries of different connections evicted each other
 * under concurrency (and a new connection could inherit a freed one's address), and every eviction cost
 * a failed PREPARE in the server log.
 *
 * A connection is only ever used by one thread at a time (pool, executor or private connection), so the
 * set needs no lock. It holds at most PREP_MAX statements; beyond that a statement takes the unnamed
 * PQexecParams path (no eviction: an evicted entry would be the same bug again). Inside a transaction
 * block statements always take the unnamed path too: a failed PREPARE there would abort the transaction. */

#define PREP_CAP 1024 /* open-addressing slots (power of two) */
#define PREP_MAX 512  /* statements recorded per connection (load factor <= 1/2) */

typedef struct prep_set {
    int n;
    uint64_t slot[PREP_CAP]; /* 0 = empty (sql_hash never returns 0) */
} prep_set;

static uint64_t sql_hash(const char *sql)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a, then mixed with the length */
    size_t n = 0;
    for (const char *p = sql; *p; p++, n++) h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    h ^= (uint64_t)n << 48;
    return h ? h : 1;
}

/* Position of hash in the set: its slot, or the empty slot where it belongs. */
static size_t prep_find(const prep_set *s, uint64_t hash)
{
    size_t i = (size_t)(hash ^ (hash >> 29)) & (PREP_CAP - 1);
    while (s->slot[i] && s->slot[i] != hash) i = (i + 1) & (PREP_CAP - 1);
    return i;
}

static int prep_event(PGEventId id, void *info, void *pass)
{
    (void)pass;
    if (id == PGEVT_CONNRESET) {
        /* a new server session: none of the old statements exist any more */
        prep_set *s = PQinstanceData(((PGEventConnReset *)info)->conn, prep_event);
        if (s) memset(s, 0, sizeof *s);
    } else if (id == PGEVT_CONNDESTROY) {
        free(PQinstanceData(((PGEventConnDestroy *)info)->conn, prep_event));
    }
    return 1; /* every other event (results) is none of our business */
}

/* The connection's statement set, attached on first use. NULL when it cannot be (out of memory). */
static prep_set *prep_set_of(PGconn *conn)
{
    prep_set *s = PQinstanceData(conn, prep_event);
    if (s) return s;
    s = calloc(1, sizeof *s);
    if (!s) return NULL;
    /* registering twice fails harmlessly (the proc is already there, without data) */
    (void)PQregisterEventProc(conn, prep_event, "roma_prep", NULL);
    if (!PQsetInstanceData(conn, prep_event, s)) {
        free(s);
        return NULL;
    }
    return s;
}

/* NULL when the statement should take the unnamed path (set full, out of memory, PREPARE refused). */
static PGresult *exec_prepared(PGconn *conn, const char *sql, int nparams, const char *const *params)
{
    prep_set *s = prep_set_of(conn);
    if (!s) return NULL;
    uint64_t h = sql_hash(sql);
    char name[40];
    snprintf(name, sizeof name, "roma_%016llx", (unsigned long long)h);
    size_t i = prep_find(s, h);
    if (!s->slot[i]) {
        if (s->n >= PREP_MAX) return NULL;
        PGresult *p = PQprepare(conn, name, sql, nparams, NULL);
        int ok = p && PQresultStatus(p) == PGRES_COMMAND_OK;
        if (!ok) log_warn(NULL, "db.prepare_failed", "sqlstate=%s (statement run unprepared)", db_sqlstate(p));
        PQclear(p);
        if (!ok) return NULL; /* the unnamed path produces (and reports) the real error */
        s->slot[i] = h;
        s->n++;
    }
    PGresult *r = PQexecPrepared(conn, name, nparams, params, NULL, NULL, 0);
    if (r && PQresultStatus(r) == PGRES_FATAL_ERROR && !strcmp(db_sqlstate(r), "26000")) {
        /* the session lost its statements behind our back (DISCARD ALL by someone): start over */
        log_warn(NULL, "db.prepared_lost", "the connection's prepared statements vanished; re-preparing");
        PQclear(r);
        memset(s, 0, sizeof *s);
        return NULL;
    }
    return r;
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
