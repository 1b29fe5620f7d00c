/* check_rabbitmq.c: RABBITMQ connectivity through librabbitmq (rabbitmq-c): AMQP 0-9-1 connection to a
 * policy-checked address of content.host:port (default 5672), login with user_name/password into
 * rabbitmq_virtual_host (default "/"), then a clean close. Socket, handshake and RPC timeouts come from
 * the job deadline. With ssl_enable the connection uses TLS without certificate verification (the
 * datasource's trust store is a JKS blob the C client cannot use); the detail says so. */
#include <amqp.h>
#include <amqp_ssl_socket.h>
#include <amqp_tcp_socket.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>

#include "ds_job.h"

#define RABBIT_DEFAULT_PORT 5672

static void fail_login(ds_job *job, amqp_rpc_reply_t r, const char *ep, const char *user, const char *vhost)
{
    if (r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION && r.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
        const amqp_connection_close_t *c = r.reply.decoded;
        if (c && c->reply_code == 403)
            ds_fail(job, DS_E_AUTH, "%s rejected user \"%s\" (wrong user name or password)", ep, user);
        else if (c && c->reply_code == 530)
            ds_fail(job, DS_E_PERM, "user \"%s\" may not use virtual host \"%s\" on %s", user, vhost, ep);
        else
            ds_fail(job, DS_E_OTHER, "%s closed the connection (AMQP code %d)", ep, c ? c->reply_code : 0);
        return;
    }
    if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION) {
        int e = r.library_error;
        if (e == AMQP_STATUS_TIMEOUT)
            ds_fail(job, DS_E_TIMEOUT, "%s did not complete the AMQP handshake within %ld ms", ep, job->timeout_ms);
        else if (e == AMQP_STATUS_CONNECTION_CLOSED || e == AMQP_STATUS_SOCKET_CLOSED ||
                 e == AMQP_STATUS_SOCKET_ERROR)
            /* older brokers drop the socket on bad credentials instead of sending connection.close 403 */
            ds_fail(job, DS_E_AUTH, "%s closed the connection during login (wrong user name or password, or "
                                    "virtual host \"%s\" refused)", ep, vhost);
        else if (e == AMQP_STATUS_SSL_ERROR || e == AMQP_STATUS_SSL_CONNECTION_FAILED)
            ds_fail(job, DS_E_TLS, "TLS handshake with %s failed", ep);
        else
            ds_fail(job, DS_E_PROTOCOL, "%s: %s", ep, amqp_error_string2(e));
        return;
    }
    ds_fail(job, DS_E_OTHER, "%s: login failed", ep);
}

void check_rabbitmq(ds_job *job)
{
    const char *host = ds_str(job, "host");
    int port = ds_port(job, "port", RABBIT_DEFAULT_PORT);
    const char *user = ds_str(job, "user_name");
    const char *pass = ds_str(job, "password");
    const char *vhost = ds_str(job, "rabbitmq_virtual_host");
    int ssl = ds_bool(job, "ssl_enable", 0);
    if (!vhost || !*vhost) vhost = "/";
    if (!host || port < 0) {
        ds_fail(job, DS_E_CONFIG, "host and port are required");
        return;
    }
    ds_addrs addrs;
    if (ds_resolve(job, host, port, &addrs) != 0) return;
    const ds_addr *a = &addrs.a[0];
    char ep[300];
    snprintf(ep, sizeof ep, a->ss.ss_family == AF_INET6 ? "[%s]:%d" : "%s:%d", a->ip, port);
    ds_set_phase(job, DS_PHASE_CONNECT, ep);

    amqp_connection_state_t conn = amqp_new_connection();
    if (!conn) {
        ds_fail(job, DS_E_OTHER, "out of memory");
        return;
    }
    amqp_socket_t *sock = ssl ? amqp_ssl_socket_new(conn) : amqp_tcp_socket_new(conn);
    if (!sock) {
        ds_fail(job, DS_E_OTHER, "cannot create the AMQP socket");
        amqp_destroy_connection(conn);
        return;
    }
    if (ssl) {
        amqp_ssl_socket_set_verify_peer(sock, 0);
        amqp_ssl_socket_set_verify_hostname(sock, 0);
    }
    struct timeval tv = ds_remaining_tv(job);
    /* the checked IP literal: librabbitmq's getaddrinfo on it does no DNS */
    int st = amqp_socket_open_noblock(sock, a->ip, port, &tv);
    if (st != AMQP_STATUS_OK) {
        if (st == AMQP_STATUS_TIMEOUT || st == AMQP_STATUS_SOCKET_ERROR) {
            /* rabbitmq-c folds refusals into a generic socket error: tell them apart by the clock */
            if (ds_remaining_ms(job) == 0 || st == AMQP_STATUS_TIMEOUT)
                ds_fail(job, DS_E_TIMEOUT, "no connection to %s within %ld ms", ep, job->timeout_ms);
            else
                ds_fail(job, DS_E_REFUSED, "nothing listens on %s (is the port right and the broker running?)", ep);
        } else if (st == AMQP_STATUS_SSL_ERROR || st == AMQP_STATUS_SSL_CONNECTION_FAILED) {
            ds_fail(job, DS_E_TLS, "TLS handshake with %s failed", ep);
        } else {
            ds_fail(job, DS_E_OTHER, "cannot connect to %s (%s)", ep, amqp_error_string2(st));
        }
        amqp_destroy_connection(conn);
        return;
    }
    ds_set_phase(job, DS_PHASE_SESSION, ep);
    tv = ds_remaining_tv(job);
    (void)amqp_set_handshake_timeout(conn, &tv);
    (void)amqp_set_rpc_timeout(conn, &tv);
    amqp_rpc_reply_t r = amqp_login(conn, vhost, 0, 131072, 0, AMQP_SASL_METHOD_PLAIN, user ? user : "",
                                    pass ? pass : "");
    if (r.reply_type == AMQP_RESPONSE_NORMAL) {
        ds_succeed(job, "logged in to %s as \"%s\", virtual host \"%s\"%s", ep, user ? user : "", vhost,
                   ssl ? " (TLS, certificate not verified)" : "");
        (void)amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
    } else {
        fail_login(job, r, ep, user ? user : "", vhost);
    }
    amqp_destroy_connection(conn);
}
