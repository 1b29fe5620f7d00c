/* sessions.h: authenticated database sessions shared by the connectivity checks (check_mysql.c,
 * check_pg.c) and the table/column listings (meta_mysql.c, meta_pg.c). Each open function resolves
 * the configured host under the SSRF policy, connects to a checked address before the job deadline and
 * authenticates; on failure it records the outcome in the job's words and returns NULL. */
#ifndef ROMA_DS_SESSIONS_H
#define ROMA_DS_SESSIONS_H

#include <libpq-fe.h>
#include <mysql.h>

#include "ds_job.h"

/* MYSQL / TAURUS. Close with mysql_close(). db_out (may be NULL) receives the database in use. */
MYSQL *ds_mysql_open(ds_job *job, char *db_out, size_t db_len);

/* POSTGRESQL. Close with PQfinish(). */
PGconn *ds_pg_open(ds_job *job);

#endif
