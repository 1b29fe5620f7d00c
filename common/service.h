/* service.h: the start-up steps every OpenROMA process repeats in its main(): loading the configuration
 * table, opening the deployment key, installing the stop signals, and the `--check` database probe of
 * the workers. Each logs the same events the processes logged before it was shared. */
#ifndef ROMA_SERVICE_H
#define ROMA_SERVICE_H

#include <signal.h>
#include <stddef.h>

#include "config.h"
#include "errors.h"

/* cfg_load() on the table, then log_init(svc, *log_level) (log_level: the table's ROMA_LOG_LEVEL
 * destination, read after loading). On a bad setting logs `event` (e.g. "config.invalid") at the
 * default level and returns ROMA_EINVAL: the caller exits 2. */
int service_load_config(const char *svc, const cfg_entry *table, size_t n, char *const *log_level,
                        const char *event) ROMA_MUST_USE;

/* crypto_init() without creating a missing key file; on failure logs "config.secret_key" and returns
 * the error: the caller exits 2. */
int service_init_secret_key(const char *key_hex, const char *key_file) ROMA_MUST_USE;

/* SIGTERM and SIGINT set *stop to 1 (one flag per process: a later call replaces it); SIGPIPE is
 * ignored (a peer closing a socket must not kill the process). */
void service_install_signals(volatile sig_atomic_t *stop);

/* `--check` of a process that needs PostgreSQL: connects to url and runs probe_sql (a query that fails
 * when the process's tables are missing). Prints "ok" and returns 0, or prints the cause on stderr
 * prefixed with prog and returns 1 (the exit code of the probe). */
int service_check_db(const char *prog, const char *url, const char *probe_sql) ROMA_MUST_USE;

#endif
