/* service.c: the start-up steps shared by the process entry points (see service.h). */
#include "service.h"

#include <stdio.h>
#include <string.h>

#include "crypto.h"
#include "db.h"
#include "log.h"

int service_load_config(const char *svc, const cfg_entry *table, size_t n, char *const *log_level,
                        const char *event)
{
    char err[512];
    if (cfg_load(table, n, err, sizeof err) != 0) {
        log_init(svc, "info");
        log_error(NULL, event, "%s", err);
        return ROMA_EINVAL;
    }
    log_init(svc, *log_level);
    return 0;
}

int service_init_secret_key(const char *key_hex, const char *key_file)
{
    char err[512];
    int rc = crypto_init(key_hex, key_file, 0, err, sizeof err);
    if (rc != 0) log_error(NULL, "config.secret_key", "%s", err);
    return rc;
}

/* Written once before the handler is installed and only read by it afterwards. */
static volatile sig_atomic_t *stop_flag;

static void on_stop_signal(int sig)
{
    (void)sig;
    *stop_flag = 1;
}

void service_install_signals(volatile sig_atomic_t *stop)
{
    stop_flag = stop;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    /* no SA_RESTART: a blocking zmq_poll or sleep returns EINTR, so the loops see the flag at once */
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

int service_check_db(const char *prog, const char *url, const char *probe_sql)
{
    char err[256];
    PGconn *db = db_connect(url, err, sizeof err);
    if (!db) {
        fprintf(stderr, "%s: database unreachable: %s\n", prog, err);
        return 1;
    }
    PGresult *res = db_exec(db, probe_sql, 0, NULL);
    int ok = PQresultStatus(res) == PGRES_TUPLES_OK;
    if (!ok) fprintf(stderr, "%s: %s", prog, PQresultErrorMessage(res));
    PQclear(res);
    PQfinish(db);
    if (ok) printf("ok\n");
    return ok ? 0 : 1;
}
