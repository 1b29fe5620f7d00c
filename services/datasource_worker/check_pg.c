/* check_pg.c: POSTGRESQL sessions through libpq's non-blocking connect (PQconnectStartParams +
 * PQconnectPoll driven by poll() against the job deadline, so the millisecond deadline holds through
 * TCP connect, TLS negotiation and authentication), and the connectivity check built on them.
 *
 * The checked IP goes in hostaddr and the configured name in host: libpq connects to hostaddr and uses
 * host only for TLS (SNI, certificate name), so nothing re-resolves the name. Parameters are passed as
 * keyword/value arrays with expand_dbname = 0: a database name cannot smuggle in conninfo options.
 * Server messages map to the documented words (authentication failed, unknown database, permission
 * denied, connection refused, timeout, TLS failure). */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sessions.h"

#define PG_DEFAULT_PORT 5432

static void fail_pg(ds_job *job, PGconn *c, const char *ep, const char *user, const char *db)
{
    const char *msg = c ? PQerrorMessage(c) : "";
    if (strstr(msg, "password authentication failed") || strstr(msg, "authentication failed") ||
        strstr(msg, "no password supplied") || strstr(msg, "password is required"))
        ds_fail(job, DS_E_AUTH, "%s rejected user \"%s\" (wrong user name or password)", ep, user);
    else if (strstr(msg, "does not exist") && strstr(msg, "database"))
        ds_fail(job, DS_E_DB, "database \"%s\" does not exist on %s", db, ep);
    else if (strstr(msg, "role") && strstr(msg, "does not exist"))
        ds_fail(job, DS_E_AUTH, "%s has no user \"%s\"", ep, user);
    else if (strstr(msg, "no pg_hba.conf entry"))
        ds_fail(job, DS_E_PERM, "%s does not accept this user/database from the worker's address (pg_hba.conf)", ep);
    else if (strstr(msg, "permission denied") || strstr(msg, "not permitted to log in") ||
             strstr(msg, "not allowed to connect"))
        ds_fail(job, DS_E_PERM, "user \"%s\" may not connect to database \"%s\" on %s", user, db, ep);
    else if (strstr(msg, "Connection refused"))
        ds_fail(job, DS_E_REFUSED, "nothing listens on %s (is the port right and the server running?)", ep);
    else if (strstr(msg, "timeout") || strstr(msg, "timed out"))
        ds_fail(job, DS_E_TIMEOUT, "%s did not answer within %ld ms", ep, job->timeout_ms);
    else if (strstr(msg, "SSL") || strstr(msg, "certificate"))
        ds_fail(job, DS_E_TLS, "TLS negotiation with %s failed", ep);
    else if (strstr(msg, "too many") || strstr(msg, "remaining connection slots"))
        ds_fail(job, DS_E_OTHER, "%s has too many connections", ep);
    else if (strstr(msg, "No route") || strstr(msg, "unreachable"))
        ds_fail(job, DS_E_REFUSED, "%s is unreachable from the worker (no route)", ep);
    else if (strstr(msg, "server closed the connection") || strstr(msg, "expected authentication request") ||
             strstr(msg, "invalid") || strstr(msg, "received invalid response"))
        ds_fail(job, DS_E_PROTOCOL, "%s did not answer like a PostgreSQL server", ep);
    else {
        /* unknown: the first line of libpq's message, trimmed (scrubbed of secrets by ds_fail) */
        char line[200];
        snprintf(line, sizeof line, "%s", msg);
        line[strcspn(line, "\r\n")] = '\0';
        ds_fail(job, DS_E_OTHER, "%s: %s", ep, line);
    }
}

/* Drives a started connection to completion or deadline. 1 connected, 0 failed (recorded). */
static int pg_finish_connect(ds_job *job, PGconn *c, const char *ep, const char *user, const char *db)
{
    PostgresPollingStatusType st = PGRES_POLLING_WRITING;
    for (;;) {
        if (st == PGRES_POLLING_OK) return 1;
        if (st == PGRES_POLLING_FAILED) {
            fail_pg(job, c, ep, user, db);
            return 0;
        }
        long left = ds_remaining_ms(job);
        if (left <= 0) {
            if (PQstatus(c) == CONNECTION_STARTED || PQstatus(c) == CONNECTION_MADE)
                ds_fail(job, DS_E_TIMEOUT, "no connection to %s within %ld ms", ep, job->timeout_ms);
            else
                ds_fail(job, DS_E_TIMEOUT, "%s accepted the connection but did not complete the PostgreSQL handshake "
                                           "within %ld ms", ep, job->timeout_ms);
            return 0;
        }
        if (PQstatus(c) == CONNECTION_AWAITING_RESPONSE || PQstatus(c) == CONNECTION_AUTH_OK)
            ds_set_phase(job, DS_PHASE_SESSION, NULL);
        struct pollfd pfd = {.fd = PQsocket(c), .events = st == PGRES_POLLING_READING ? POLLIN : POLLOUT};
        if (pfd.fd < 0) {
            fail_pg(job, c, ep, user, db);
            return 0;
        }
        int pr = poll(&pfd, 1, (int)left);
        if (pr < 0) continue; /* EINTR: re-check the deadline */
        if (pr == 0) continue;
        st = PQconnectPoll(c);
    }
}

PGconn *ds_pg_open(ds_job *job)
{
    const char *user = ds_str(job, "user_name");
    const char *pass = ds_str(job, "password");
    const char *encoding = ds_str(job, "encoding");
    char host[256], db[256];
    int port;
    if (ds_db_target(job, PG_DEFAULT_PORT, "jdbc:postgresql://host:port/database", host, sizeof host, &port, db, sizeof db) != 0)
        return NULL;
    if (!*db) snprintf(db, sizeof db, "%s", user); /* libpq's own default */

    ds_addrs addrs;
    if (ds_resolve(job, host, port, &addrs) != 0) return NULL;
    for (int i = 0; i < addrs.n; i++) {
        char ep[300], portbuf[8], timeout[16];
        snprintf(ep, sizeof ep, addrs.a[i].ss.ss_family == AF_INET6 ? "[%s]:%d" : "%s:%d", addrs.a[i].ip, port);
        snprintf(portbuf, sizeof portbuf, "%d", port);
        /* libpq's own timer is a backstop only (whole seconds); the poll loop enforces the deadline */
        snprintf(timeout, sizeof timeout, "%u", ds_remaining_s(job) + 1);
        ds_set_phase(job, DS_PHASE_CONNECT, ep);
        const char *keys[16], *vals[16];
        int k = 0;
        keys[k] = "hostaddr", vals[k++] = addrs.a[i].ip;
        keys[k] = "host", vals[k++] = host;
        keys[k] = "port", vals[k++] = portbuf;
        keys[k] = "dbname", vals[k++] = db;
        keys[k] = "user", vals[k++] = user;
        keys[k] = "password", vals[k++] = pass ? pass : "";
        keys[k] = "connect_timeout", vals[k++] = timeout;
        keys[k] = "application_name", vals[k++] = "openroma-datasource-check";
        keys[k] = "gssencmode", vals[k++] = "disable"; /* no Kerberos lookups under a deadline */
        /* never read ~/.pgpass, service files or PG* environment of the worker for a user's datasource */
        keys[k] = "passfile", vals[k++] = "/dev/null";
        if (encoding && *encoding) keys[k] = "client_encoding", vals[k++] = encoding;
        keys[k] = NULL, vals[k] = NULL;
        PGconn *c = PQconnectStartParams(keys, vals, 0);
        if (!c) {
            ds_fail(job, DS_E_OTHER, "out of memory");
            return NULL;
        }
        if (PQstatus(c) != CONNECTION_BAD && pg_finish_connect(job, c, ep, user, db)) {
            ds_set_phase(job, DS_PHASE_SESSION, ep);
            return c;
        }
        if (PQstatus(c) == CONNECTION_BAD && job->code == DS_OK) fail_pg(job, c, ep, user, db);
        PQfinish(c);
        if (i + 1 < addrs.n && job->code == DS_E_REFUSED && ds_remaining_ms(job) > 0) {
            job->code = DS_OK;
            job->detail[0] = '\0';
            continue;
        }
        return NULL;
    }
    return NULL;
}

void check_pg(ds_job *job)
{
    PGconn *c = ds_pg_open(job);
    if (!c) return;
    const char *ver = PQparameterStatus(c, "server_version");
    ds_succeed(job, "connected to %s and authenticated as \"%s\", database \"%s\" (server %s)", job->endpoint,
               PQuser(c), PQdb(c), ver ? ver : "?");
    PQfinish(c);
}
