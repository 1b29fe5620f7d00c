/* check_mysql.c: MYSQL and TAURUS (GaussDB for MySQL) sessions through MariaDB Connector/C, and the
 * connectivity check built on them: connect to a policy-checked address, authenticate, select the
 * database. MariaDB error numbers map to the documented words:
 *   1045/1698 authentication failed, 1049 unknown database, 1044/1130/1129 permission denied,
 *   2002/2003 connection refused or timeout (from the OS error in the message), 2005 DNS failure,
 *   2026 TLS failure, 2013/2006 timeout or connection closed during the handshake. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sessions.h"
#include "util.h"

#define MYSQL_DEFAULT_PORT 3306

/* Auth plugins the worker lets a server ask for: none of them sends the password in clear text
 * (mysql_clear_password and "dialog" would, to whatever server the datasource names). */
#define MYSQL_SAFE_AUTH "mysql_native_password,client_ed25519,caching_sha2_password,sha256_password"

static void fail_mysql(ds_job *job, MYSQL *m, const char *ep, const char *user, const char *db)
{
    unsigned e = mysql_errno(m);
    const char *msg = mysql_error(m);
    switch (e) {
    case 1045: /* ER_ACCESS_DENIED_ERROR */
    case 1698: /* ER_ACCESS_DENIED_NO_PASSWORD_ERROR */
        ds_fail(job, DS_E_AUTH, "%s rejected user \"%s\" (wrong user name or password)", ep, user);
        return;
    case 1049: /* ER_BAD_DB_ERROR */
        ds_fail(job, DS_E_DB, "database \"%s\" does not exist on %s", db, ep);
        return;
    case 1044: /* ER_DBACCESS_DENIED_ERROR */
        ds_fail(job, DS_E_PERM, "user \"%s\" may not use database \"%s\" on %s", user, db, ep);
        return;
    case 1130: /* ER_HOST_NOT_PRIVILEGED */
    case 1129: /* ER_HOST_IS_BLOCKED */
        ds_fail(job, DS_E_PERM, "%s does not accept connections from the worker's address", ep);
        return;
    case 1040: /* ER_CON_COUNT_ERROR */
        ds_fail(job, DS_E_OTHER, "%s has too many connections", ep);
        return;
    case 2005: /* CR_UNKNOWN_HOST */
        ds_fail(job, DS_E_DNS, "cannot resolve %s", ep);
        return;
    case 2026: /* CR_SSL_CONNECTION_ERROR */
        ds_fail(job, DS_E_TLS, "TLS handshake with %s failed", ep);
        return;
    case 2059: /* CR_AUTH_PLUGIN_CANNOT_LOAD */
        ds_fail(job, DS_E_AUTH, "%s asks for an authentication plugin the worker does not allow (only %s)", ep,
                MYSQL_SAFE_AUTH);
        return;
    case 2019: /* CR_CANT_READ_CHARSET */
        ds_fail(job, DS_E_CONFIG, "unknown encoding for %s", ep);
        return;
    case 2002: /* CR_CONNECTION_ERROR */
    case 2003: /* CR_CONN_HOST_ERROR */
        /* the OS error is only in the text: "(111)" refused, "(110)" / "timeout" timed out */
        if (strstr(msg, "(111") || strstr(msg, "refused"))
            ds_fail(job, DS_E_REFUSED, "nothing listens on %s (is the port right and the server running?)", ep);
        else if (strstr(msg, "(110") || strcasestr(msg, "timeout") || strcasestr(msg, "timed out") ||
                 ds_remaining_ms(job) == 0)
            ds_fail(job, DS_E_TIMEOUT, "no connection to %s within %ld ms", ep, job->timeout_ms);
        else if (strstr(msg, "(113") || strstr(msg, "(101"))
            ds_fail(job, DS_E_REFUSED, "%s is unreachable from the worker (no route)", ep);
        else
            ds_fail(job, DS_E_OTHER, "cannot connect to %s (MySQL error %u)", ep, e);
        return;
    case 2013: /* CR_SERVER_LOST */
    case 2006: /* CR_SERVER_GONE_ERROR */
        if (ds_remaining_ms(job) < 1000 || strcasestr(msg, "timeout") || strcasestr(msg, "timed out") ||
            strstr(msg, "error: 110"))
            ds_fail(job, DS_E_TIMEOUT, "%s accepted the connection but did not complete the MySQL handshake within %ld ms",
                    ep, job->timeout_ms);
        else
            ds_fail(job, DS_E_PROTOCOL, "%s closed the connection during the handshake (is it a MySQL server?)", ep);
        return;
    case 2012: /* CR_SERVER_HANDSHAKE_ERR */
    case 2027: /* CR_MALFORMED_PACKET */
    case 2007: /* CR_VERSION_ERROR */
        ds_fail(job, DS_E_PROTOCOL, "%s did not answer like a MySQL server", ep);
        return;
    default:
        ds_fail(job, DS_E_OTHER, "%s: MySQL error %u: %.200s", ep, e, msg);
        return;
    }
}

MYSQL *ds_mysql_open(ds_job *job, char *db_out, size_t db_len)
{
    const char *user = ds_str(job, "user_name");
    const char *pass = ds_str(job, "password");
    const char *encoding = ds_str(job, "encoding");
    char host[256], db[256];
    int port;
    if (ds_db_target(job, MYSQL_DEFAULT_PORT, "jdbc:mysql://host:port/database", host, sizeof host, &port, db, sizeof db) != 0)
        return NULL;
    if (db_out) snprintf(db_out, db_len, "%s", db);

    /* mysql_timeout (seconds, content) may shorten the deadline, never lengthen it */
    int64_t deadline = job->deadline_ms;
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(job->content, "mysql_timeout");
    if (cJSON_IsNumber(mt) && mt->valuedouble >= 1) {
        int64_t own = job->started_ms + (int64_t)(mt->valuedouble * 1000);
        if (own < deadline) deadline = own;
    }

    ds_addrs addrs;
    if (ds_resolve(job, host, port, &addrs) != 0) return NULL;
    for (int i = 0; i < addrs.n; i++) {
        char ep[300];
        snprintf(ep, sizeof ep, addrs.a[i].ss.ss_family == AF_INET6 ? "[%s]:%d" : "%s:%d", addrs.a[i].ip, port);
        ds_set_phase(job, DS_PHASE_SESSION, ep);
        MYSQL *m = mysql_init(NULL);
        if (!m) {
            ds_fail(job, DS_E_OTHER, "out of memory");
            return NULL;
        }
        /* whole seconds, rounded up: the library may overrun the deadline by < 1 s, the runner answers
         * on time regardless (runner.c) */
        int64_t left = deadline - util_mono_ms();
        unsigned secs = left > 0 ? (unsigned)((left + 999) / 1000) : 1;
        unsigned proto = MYSQL_PROTOCOL_TCP;
        my_bool no = 0;
        int bad = mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &secs) | mysql_options(m, MYSQL_OPT_READ_TIMEOUT, &secs) |
                  mysql_options(m, MYSQL_OPT_WRITE_TIMEOUT, &secs) | mysql_options(m, MYSQL_OPT_PROTOCOL, &proto) |
                  /* a hostile server could otherwise ask the client to upload local files */
                  mysql_options(m, MYSQL_OPT_LOCAL_INFILE, &no) |
                  mysql_options(m, MARIADB_OPT_RESTRICTED_AUTH, MYSQL_SAFE_AUTH);
        if (encoding && *encoding) bad |= mysql_options(m, MYSQL_SET_CHARSET_NAME, encoding);
        if (bad) {
            mysql_close(m);
            ds_fail(job, DS_E_OTHER, "cannot set MySQL client options");
            return NULL;
        }
        /* connect to the checked IP literal, never to the name (see endpoint.c) */
        if (mysql_real_connect(m, addrs.a[i].ip, user, pass ? pass : "", *db ? db : NULL, (unsigned)port, NULL,
                               CLIENT_REMEMBER_OPTIONS))
            return m;
        unsigned err = mysql_errno(m);
        if (err != 2002 && err != 2003) {
            fail_mysql(job, m, ep, user, db);
            mysql_close(m);
            return NULL;
        }
        mysql_close(m);
        /* Connector/C words a refused or timed-out connect as "(115)" (EINPROGRESS): ask the network
         * ourselves, under the deadline, to tell refused / unreachable / timeout apart */
        int probe = ds_tcp_connect(job, &addrs.a[i], port);
        if (probe >= 0) {
            close(probe); /* reachable now: a transient refusal, say so in general words */
            ds_fail(job, DS_E_OTHER, "cannot connect to %s (the MySQL client could not connect; it answers now)", ep);
            return NULL;
        }
        if (i + 1 < addrs.n && job->code == DS_E_REFUSED && ds_remaining_ms(job) > 0) {
            job->code = DS_OK; /* another address of the name may answer */
            job->detail[0] = '\0';
            continue;
        }
        return NULL;
    }
    return NULL;
}

void check_mysql(ds_job *job)
{
    mysql_thread_init();
    char db[256];
    MYSQL *m = ds_mysql_open(job, db, sizeof db);
    if (m) {
        const char *ver = mysql_get_server_info(m);
        ds_succeed(job, "connected to %s and authenticated as \"%s\"%s%s%s (server %s)", job->endpoint,
                   ds_str(job, "user_name"), *db ? ", database \"" : "", db, *db ? "\"" : "", ver ? ver : "?");
        mysql_close(m);
    }
    mysql_thread_end();
}
