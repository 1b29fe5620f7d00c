/* db_stress.c: drives common/db.c's prepared-statement cache the way a busy process does, for
 * tests/test_auth_hardening.py, which then reads the PostgreSQL server log for
 * `prepared statement ... already exists / does not exist` errors.
 *   db_stress CONNINFO THREADS STATEMENTS ROUNDS
 * THREADS threads share one pool of THREADS connections; each round every thread borrows a connection,
 * runs STATEMENTS distinct statements on it (interleaved with the other threads' connections) and gives
 * it back. Between rounds one connection is reset (PQreset: a new server session) and another is closed
 * and opened again (a new PGconn that may get a freed one's address). Every statement's answer is
 * checked. Exit 0 when all answers were right, 1 otherwise (with the first wrong one on stderr). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"

typedef struct job {
    db_pool *pool;
    int statements, rounds, bad;
} job;

static void *run(void *arg)
{
    job *j = arg;
    for (int round = 0; round < j->rounds; round++) {
        PGconn *c = db_acquire(j->pool, 10000);
        if (!c) {
            j->bad++;
            continue;
        }
        for (int i = 0; i < j->statements; i++) {
            char sql[96], want[32], param[16];
            /* a distinct text per i: a distinct prepared statement */
            snprintf(sql, sizeof sql, "SELECT $1::int + %d AS v /* db_stress */", i);
            snprintf(param, sizeof param, "%d", round);
            snprintf(want, sizeof want, "%d", round + i);
            const char *p[] = {param};
            PGresult *r = db_exec(c, sql, 1, p);
            if (PQresultStatus(r) != PGRES_TUPLES_OK || strcmp(PQgetvalue(r, 0, 0), want) != 0) {
                if (!j->bad) fprintf(stderr, "statement %d round %d: %s\n", i, round, PQresultErrorMessage(r));
                j->bad++;
            }
            PQclear(r);
        }
        if (round % 3 == 1) PQreset(c);                     /* new session, same PGconn */
        if (round % 3 == 2) {
            PQfinish(c);                                     /* the pool re-opens the slot */
            c = NULL;
        }
        db_release(j->pool, c); /* NULL: the slot goes back unopened */
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: %s CONNINFO THREADS STATEMENTS ROUNDS\n", argv[0]);
        return 2;
    }
    int threads = atoi(argv[2]);
    if (threads < 1 || threads > 64) return 2;
    db_pool *pool = db_pool_new(argv[1], threads);
    if (!pool) return 2;
    pthread_t t[64];
    job jobs[64];
    for (int i = 0; i < threads; i++) {
        jobs[i] = (job){pool, atoi(argv[3]), atoi(argv[4]), 0};
        if (pthread_create(&t[i], NULL, run, &jobs[i]) != 0) return 2;
    }
    int bad = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
        bad += jobs[i].bad;
    }
    db_pool_free(pool);
    printf("db_stress: %d wrong answers\n", bad);
    return bad ? 1 : 0;
}
