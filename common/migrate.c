/* migrate.c: the migration runner (see migrate.h). */
#include "migrate.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "log.h"

#define MIGRATE_LOCK_KEY "727166001" /* arbitrary constant shared by every OpenROMA process */

static int name_cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int is_migration_name(const char *n)
{
    size_t len = strlen(n);
    return len > 8 && n[0] >= '0' && n[0] <= '9' && n[1] >= '0' && n[1] <= '9' && n[2] >= '0' &&
           n[2] <= '9' && n[3] == '_' && !strcmp(n + len - 4, ".sql");
}

/* Reads a whole file into a heap string; NULL on error. */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = NULL;
    if (fseek(f, 0, SEEK_END) == 0) {
        long n = ftell(f);
        if (n >= 0 && fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)n + 1))) {
            if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
                free(buf);
                buf = NULL;
            } else {
                buf[n] = '\0';
            }
        }
    }
    fclose(f);
    return buf;
}

static int apply_one(PGconn *c, const char *dir, const char *name, char *err, size_t errlen)
{
    const char *p[] = {name};
    PGresult *r = db_exec(c, "SELECT 1 FROM schema_migrations WHERE version = $1", 1, p);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        snprintf(err, errlen, "%s: %s", name, PQresultErrorMessage(r));
        PQclear(r);
        return ROMA_EIO;
    }
    int done = PQntuples(r) > 0;
    PQclear(r);
    if (done) return 0;

    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    char *sql = slurp(path);
    if (!sql) {
        snprintf(err, errlen, "cannot read %s", path);
        return ROMA_EIO;
    }
    /* the file's statements, the bookkeeping row and COMMIT are one transaction */
    r = PQexec(c, "BEGIN");
    PQclear(r);
    r = PQexec(c, sql);
    free(sql);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
    if (!ok) snprintf(err, errlen, "%s: %s", name, PQresultErrorMessage(r));
    PQclear(r);
    if (ok) {
        r = db_exec(c, "INSERT INTO schema_migrations (version) VALUES ($1)", 1, p);
        ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        if (!ok) snprintf(err, errlen, "%s: %s", name, PQresultErrorMessage(r));
        PQclear(r);
    }
    r = PQexec(c, ok ? "COMMIT" : "ROLLBACK");
    if (ok && PQresultStatus(r) != PGRES_COMMAND_OK) {
        snprintf(err, errlen, "%s: commit: %s", name, PQresultErrorMessage(r));
        ok = 0;
    }
    PQclear(r);
    if (!ok) return ROMA_EIO;
    log_info(NULL, "migrate.applied", "%s", name);
    return 1;
}

int migrate_apply(PGconn *c, const char *dir, char *err, size_t errlen)
{
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(err, errlen, "cannot open migrations directory %s", dir);
        return ROMA_EINVAL;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!is_migration_name(de->d_name)) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            char **nn = realloc(names, cap * sizeof *names);
            if (!nn) { rc = ROMA_ENOMEM; break; }
            names = nn;
        }
        if (!(names[n] = strdup(de->d_name))) { rc = ROMA_ENOMEM; break; }
        n++;
    }
    closedir(d);
    if (rc == 0) {
        qsort(names, n, sizeof *names, name_cmp);
        PGresult *r = PQexec(c, "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")");
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            snprintf(err, errlen, "advisory lock: %s", PQresultErrorMessage(r));
            rc = ROMA_EIO;
        }
        PQclear(r);
        if (rc == 0) {
            r = PQexec(c, "SET client_min_messages = warning");
            PQclear(r);
            r = PQexec(c, "CREATE TABLE IF NOT EXISTS schema_migrations ("
                          " version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())");
            if (PQresultStatus(r) != PGRES_COMMAND_OK) {
                snprintf(err, errlen, "schema_migrations: %s", PQresultErrorMessage(r));
                rc = ROMA_EIO;
            }
            PQclear(r);
            for (size_t i = 0; rc >= 0 && i < n; i++) {
                int one = apply_one(c, dir, names[i], err, errlen);
                if (one < 0) rc = one;
                else rc += one;
            }
            r = PQexec(c, "SELECT pg_advisory_unlock(" MIGRATE_LOCK_KEY ")");
            PQclear(r);
        }
    }
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
    return rc;
}
