/* migrate.h: applies the numbered SQL files of migrations/ (NNN_name.sql) in order, once each.
 * Safe when several processes start at the same moment: the whole run holds a session advisory lock,
 * so the second replica waits and then finds nothing left to apply. Each file runs in one transaction
 * together with its schema_migrations row. */
#ifndef ROMA_MIGRATE_H
#define ROMA_MIGRATE_H

#include <libpq-fe.h>
#include <stddef.h>
#include "errors.h"

/* Returns the number of files applied (>= 0), or ROMA_EIO / ROMA_EINVAL with a message in err. */
int migrate_apply(PGconn *conn, const char *dir, char *err, size_t errlen) ROMA_MUST_USE;

#endif
