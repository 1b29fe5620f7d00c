/* check_mongo.c: MONGODB connectivity through libmongoc: for every "ip:port" of content.address, a
 * direct connection (directConnection=true: no replica-set discovery, so the server cannot steer the
 * worker to other hosts) to a policy-checked address, authenticated with user_name/password against
 * mongodb_auth_source (default "admin") when a user is configured, then {ping: 1}. Every listed node
 * must pass. The URI is built with the mongoc_uri_set_* setters, never by pasting user text. */
#include <mongoc/mongoc.h>
#include <stdio.h>
#include <string.h>

#include "ds_job.h"

#define MONGO_DEFAULT_PORT 27017
#define MONGO_MAX_NODES 16

static void fail_mongo(ds_job *job, const bson_error_t *e, const char *ep, const char *user)
{
    const char *m = e->message;
    if (e->domain == MONGOC_ERROR_CLIENT && e->code == MONGOC_ERROR_CLIENT_AUTHENTICATE)
        ds_fail(job, DS_E_AUTH, "%s rejected user \"%s\" (wrong user name, password or auth source)", ep,
                user ? user : "");
    else if (strstr(m, "Authentication failed") || strstr(m, "auth failed") || e->code == 18)
        ds_fail(job, DS_E_AUTH, "%s rejected user \"%s\"", ep, user ? user : "");
    else if (strstr(m, "requires authentication") || strstr(m, "not authorized") || e->code == 13)
        ds_fail(job, DS_E_PERM, "%s requires authentication or denies the ping command", ep);
    else if (strstr(m, "refused"))
        ds_fail(job, DS_E_REFUSED, "nothing listens on %s (is the port right and the server running?)", ep);
    else if (strstr(m, "TLS") || strstr(m, "SSL"))
        ds_fail(job, DS_E_TLS, "TLS negotiation with %s failed", ep);
    else if (strstr(m, "timeout") || strstr(m, "Timeout") || strstr(m, "timed out"))
        ds_fail(job, DS_E_TIMEOUT, "%s did not answer within %ld ms", ep, job->timeout_ms);
    else if (strstr(m, "unreachable") || strstr(m, "No route"))
        ds_fail(job, DS_E_REFUSED, "%s is unreachable from the worker (no route)", ep);
    else
        ds_fail(job, DS_E_OTHER, "%s: %.200s", ep, m);
}

static int check_node(ds_job *job, const char *host, int port)
{
    ds_addrs addrs;
    if (ds_resolve(job, host, port, &addrs) != 0) return -1;
    const ds_addr *a = &addrs.a[0];
    char ep[300];
    snprintf(ep, sizeof ep, a->ss.ss_family == AF_INET6 ? "[%s]:%d" : "%s:%d", a->ip, port);
    ds_set_phase(job, DS_PHASE_CONNECT, ep);
    const char *user = ds_str(job, "user_name");
    const char *pass = ds_str(job, "password");
    const char *src = ds_str(job, "mongodb_auth_source");
    int32_t left = (int32_t)ds_remaining_ms(job);
    if (left < 1) left = 1;

    mongoc_uri_t *uri = mongoc_uri_new_for_host_port(a->ip, (uint16_t)port);
    mongoc_client_t *client = NULL;
    bson_t *cmd = NULL;
    bson_t reply;
    bson_init(&reply);
    bson_error_t err;
    memset(&err, 0, sizeof err);
    int rc = -1;
    if (!uri) {
        ds_fail(job, DS_E_CONFIG, "cannot build a MongoDB URI for %s", ep);
        goto out;
    }
    int ok = mongoc_uri_set_option_as_bool(uri, MONGOC_URI_DIRECTCONNECTION, true) &&
             mongoc_uri_set_option_as_int32(uri, MONGOC_URI_CONNECTTIMEOUTMS, left) &&
             mongoc_uri_set_option_as_int32(uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS, left) &&
             mongoc_uri_set_option_as_int32(uri, MONGOC_URI_SOCKETTIMEOUTMS, left) &&
             mongoc_uri_set_option_as_bool(uri, MONGOC_URI_SERVERSELECTIONTRYONCE, true) &&
             mongoc_uri_set_appname(uri, "openroma-datasource-check");
    if (ok && user && *user) {
        ok = mongoc_uri_set_username(uri, user) && mongoc_uri_set_password(uri, pass ? pass : "") &&
             mongoc_uri_set_auth_source(uri, src && *src ? src : "admin");
    }
    if (!ok) {
        ds_fail(job, DS_E_CONFIG, "invalid MongoDB user name, auth source or options");
        goto out;
    }
    client = mongoc_client_new_from_uri(uri);
    cmd = BCON_NEW("ping", BCON_INT32(1));
    if (!client || !cmd) {
        ds_fail(job, DS_E_OTHER, "cannot create the MongoDB client");
        goto out;
    }
    mongoc_client_set_error_api(client, MONGOC_ERROR_API_VERSION_2);
    if (!mongoc_client_command_simple(client, "admin", cmd, NULL, &reply, &err)) {
        fail_mongo(job, &err, ep, user);
        goto out;
    }
    rc = 0;
out:
    bson_destroy(&reply);
    if (cmd) bson_destroy(cmd);
    if (client) mongoc_client_destroy(client);
    if (uri) mongoc_uri_destroy(uri);
    return rc;
}

void check_mongo(ds_job *job)
{
    ds_hostport nodes[MONGO_MAX_NODES];
    int n = ds_hostports_of(job, "address", MONGO_DEFAULT_PORT, nodes, MONGO_MAX_NODES);
    if (n < 0) return;
    int ok = 1;
    for (int i = 0; i < n && ok; i++) ok = check_node(job, nodes[i].host, nodes[i].port) == 0;
    if (ok) ds_succeed(job, "%d MongoDB node%s answered ping%s", n, n > 1 ? "s" : "",
                       ds_str(job, "user_name") ? " after authentication" : "");
    ds_hostports_free(nodes, n);
}
