/* check_redis.c: REDIS connectivity: for every "ip:port" of content.address, connect (our deadline-bound
 * TCP connect to a policy-checked address, handed to hiredis with redisConnectFd), AUTH with
 * content.password (and user_name, Redis 6 ACL style, when given), SELECT content.redis_database when
 * set, then PING. Every listed node must pass; the first failure names its node. */
#include <errno.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "ds_job.h"

#define REDIS_DEFAULT_PORT 6379
#define REDIS_MAX_NODES 16

/* Records the failure of a command reply or of the context. */
static void fail_reply(ds_job *job, redisContext *c, redisReply *r, const char *ep, const char *what)
{
    if (!r) {
        if (c->err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ETIMEDOUT))
            ds_fail(job, DS_E_TIMEOUT, "%s did not answer %s within %ld ms", ep, what, job->timeout_ms);
        else if (c->err == REDIS_ERR_EOF)
            ds_fail(job, DS_E_PROTOCOL, "%s closed the connection on %s (is it a Redis server?)", ep, what);
        else if (c->err == REDIS_ERR_PROTOCOL)
            ds_fail(job, DS_E_PROTOCOL, "%s did not answer like a Redis server", ep);
        else
            ds_fail(job, DS_E_OTHER, "%s: %s failed (%s)", ep, what, c->errstr);
        return;
    }
    const char *s = r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply";
    if (strstr(s, "WRONGPASS") || strstr(s, "invalid password") || strstr(s, "invalid username-password"))
        ds_fail(job, DS_E_AUTH, "%s rejected the password", ep);
    else if (strstr(s, "without any password configured") || strstr(s, "no password is set"))
        ds_fail(job, DS_E_AUTH, "%s has no password configured but one was given", ep);
    else if (strstr(s, "NOAUTH"))
        ds_fail(job, DS_E_AUTH, "%s requires a password", ep);
    else if (strstr(s, "NOPERM"))
        ds_fail(job, DS_E_PERM, "the user may not run %s on %s", what, ep);
    else if (strstr(s, "DB index is out of range") || strstr(s, "invalid DB index"))
        ds_fail(job, DS_E_DB, "database %s does not exist on %s", ds_str(job, "redis_database"), ep);
    else
        ds_fail(job, DS_E_OTHER, "%s: %s failed: %.120s", ep, what, s);
}

/* Checks one node; 0 ok, -1 failed (recorded). */
static int check_node(ds_job *job, const char *host, int port, char *version, size_t vlen)
{
    ds_addr used;
    int fd = ds_tcp_connect_host(job, host, port, &used);
    if (fd < 0) return -1;
    char ep[300];
    snprintf(ep, sizeof ep, used.ss.ss_family == AF_INET6 ? "[%s]:%d" : "%s:%d", used.ip, port);
    redisContext *c = redisConnectFd(fd);
    if (!c || c->err) {
        ds_fail(job, DS_E_OTHER, "%s: cannot set up the Redis client", ep);
        if (c) redisFree(c); /* closes fd */
        else close(fd);
        return -1;
    }
    ds_set_phase(job, DS_PHASE_SESSION, ep);
    const char *pass = ds_str(job, "password");
    const char *user = ds_str(job, "user_name");
    const char *db = ds_str(job, "redis_database");
    redisReply *r;
    int rc = -1;
    if (redisSetTimeout(c, ds_remaining_tv(job)) != REDIS_OK) {
        ds_fail(job, DS_E_OTHER, "%s: cannot set the socket timeout", ep);
        goto out;
    }
    if (pass && *pass) {
        r = user && *user ? redisCommand(c, "AUTH %s %s", user, pass) : redisCommand(c, "AUTH %s", pass);
        if (!r || r->type == REDIS_REPLY_ERROR) {
            fail_reply(job, c, r, ep, "AUTH");
            if (r) freeReplyObject(r);
            goto out;
        }
        freeReplyObject(r);
    }
    if (db && *db && strcmp(db, "0") != 0) {
        (void)redisSetTimeout(c, ds_remaining_tv(job));
        r = redisCommand(c, "SELECT %s", db);
        if (!r || r->type == REDIS_REPLY_ERROR) {
            fail_reply(job, c, r, ep, "SELECT");
            if (r) freeReplyObject(r);
            goto out;
        }
        freeReplyObject(r);
    }
    (void)redisSetTimeout(c, ds_remaining_tv(job));
    r = redisCommand(c, "PING");
    if (!r || r->type == REDIS_REPLY_ERROR || !(r->type == REDIS_REPLY_STATUS && !strcmp(r->str, "PONG"))) {
        fail_reply(job, c, r, ep, "PING");
        if (r) freeReplyObject(r);
        goto out;
    }
    freeReplyObject(r);
    /* server version for the success note; failure here is not a connectivity failure */
    (void)redisSetTimeout(c, ds_remaining_tv(job));
    r = redisCommand(c, "INFO server");
    if (r && r->type == REDIS_REPLY_STRING) {
        const char *v = strstr(r->str, "redis_version:");
        if (v) snprintf(version, vlen, "%.*s", (int)strcspn(v + 14, "\r\n"), v + 14);
    }
    if (r) freeReplyObject(r);
    rc = 0;
out:
    redisFree(c);
    return rc;
}

void check_redis(ds_job *job)
{
    ds_hostport nodes[REDIS_MAX_NODES];
    int n = ds_hostports_of(job, "address", REDIS_DEFAULT_PORT, nodes, REDIS_MAX_NODES);
    if (n < 0) return;
    char version[32] = "?";
    int ok = 1;
    for (int i = 0; i < n && ok; i++) ok = check_node(job, nodes[i].host, nodes[i].port, version, sizeof version) == 0;
    if (ok)
        ds_succeed(job, "%d Redis node%s answered PING after authentication (server %s)", n, n > 1 ? "s" : "", version);
    ds_hostports_free(nodes, n);
}
