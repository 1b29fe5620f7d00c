/* check_kafka.c: KAFKA connectivity through librdkafka: bootstrap from content.broker (every host
 * resolved under the SSRF policy first and given to librdkafka as checked IP addresses), then a
 * metadata request within the job deadline. With ssl_enable the client uses SASL_SSL + PLAIN with
 * ssl_username / ssl_password (how ROMA's MQS exposes Kafka); the server certificate is not verified
 * (the datasource carries no CA) and the success detail says so.
 *
 * Brokers advertised in the metadata are names librdkafka resolves itself: the connect callback
 * re-applies the policy to every address librdkafka connects to, so advertised hosts cannot lead the
 * worker into a denied range. librdkafka reports failures through the error callback; its words
 * ("Connection refused", "SASL authentication error") map to ours. */
#include <errno.h>
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "ds_job.h"

#define KAFKA_DEFAULT_PORT 9092
#define KAFKA_MAX_BROKERS 16

typedef struct kafka_ctx {
    pthread_mutex_t mu;
    char last_error[256];
    int denied;
    int all_down; /* librdkafka reported every bootstrap broker down */
} kafka_ctx;

static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    (void)rk;
    kafka_ctx *k = opaque;
    pthread_mutex_lock(&k->mu);
    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
        k->all_down = 1; /* a summary: keep the cause reported before it */
    } else if (!strstr(k->last_error, "SASL") && !strstr(k->last_error, "uthenticat")) {
        /* an authentication error beats later transport noise */
        snprintf(k->last_error, sizeof k->last_error, "%s", reason ? reason : "");
    }
    pthread_mutex_unlock(&k->mu);
}

static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk, (void)level, (void)fac, (void)buf; /* librdkafka's own log lines stay out of ours */
}

static int connect_cb(int sockfd, const struct sockaddr *addr, int addrlen, const char *id, void *opaque)
{
    (void)id;
    kafka_ctx *k = opaque;
    if (!netpolicy_allows(g_ds.policy, addr)) {
        pthread_mutex_lock(&k->mu);
        k->denied = 1;
        pthread_mutex_unlock(&k->mu);
        return EACCES;
    }
    /* librdkafka's sockets are non-blocking: "in progress" is success, it polls for completion */
    if (connect(sockfd, addr, (socklen_t)addrlen) != 0 && errno != EINPROGRESS) return errno;
    return 0;
}

static int conf_set(rd_kafka_conf_t *conf, const char *key, const char *val, char *err, size_t errlen)
{
    return rd_kafka_conf_set(conf, key, val, err, errlen) == RD_KAFKA_CONF_OK ? 0 : -1;
}

void check_kafka(ds_job *job)
{
    ds_hostport hp[KAFKA_MAX_BROKERS];
    int n = ds_hostports_of(job, "broker", KAFKA_DEFAULT_PORT, hp, KAFKA_MAX_BROKERS);
    if (n < 0) return;
    char bootstrap[2048] = "";
    size_t bl = 0;
    char first_ep[300] = "";
    for (int i = 0; i < n; i++) {
        ds_addrs addrs;
        if (ds_resolve(job, hp[i].host, hp[i].port, &addrs) != 0) {
            ds_hostports_free(hp, n);
            return;
        }
        int w = snprintf(bootstrap + bl, sizeof bootstrap - bl,
                         addrs.a[0].ss.ss_family == AF_INET6 ? "%s[%s]:%d" : "%s%s:%d", bl ? "," : "", addrs.a[0].ip,
                         hp[i].port);
        if (w < 0 || (size_t)w >= sizeof bootstrap - bl) break;
        bl += (size_t)w;
        if (!first_ep[0]) snprintf(first_ep, sizeof first_ep, "%s:%d", hp[i].host, hp[i].port);
    }
    ds_hostports_free(hp, n);
    ds_set_phase(job, DS_PHASE_CONNECT, first_ep);

    kafka_ctx k;
    memset(&k, 0, sizeof k);
    if (pthread_mutex_init(&k.mu, NULL) != 0) {
        ds_fail(job, DS_E_OTHER, "out of resources");
        return;
    }
    char err[256], tmo[24];
    long left = ds_remaining_ms(job);
    snprintf(tmo, sizeof tmo, "%ld", left < 10 ? 10 : left);
    int ssl = ds_bool(job, "ssl_enable", 0);
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_t *rk = NULL;
    if (!conf) {
        ds_fail(job, DS_E_OTHER, "out of memory");
        goto out;
    }
    rd_kafka_conf_set_opaque(conf, &k);
    rd_kafka_conf_set_error_cb(conf, error_cb);
    rd_kafka_conf_set_log_cb(conf, log_cb);
    rd_kafka_conf_set_connect_cb(conf, connect_cb);
    if (conf_set(conf, "bootstrap.servers", bootstrap, err, sizeof err) ||
        conf_set(conf, "client.id", "openroma-datasource-check", err, sizeof err) ||
        conf_set(conf, "socket.timeout.ms", tmo, err, sizeof err) ||
        conf_set(conf, "socket.connection.setup.timeout.ms", tmo, err, sizeof err) ||
        conf_set(conf, "reconnect.backoff.max.ms", "1000", err, sizeof err)) {
        ds_fail(job, DS_E_CONFIG, "invalid Kafka client setting: %.120s", err);
        goto out;
    }
    if (ssl) {
        const char *u = ds_str(job, "ssl_username"), *p = ds_str(job, "ssl_password");
        if (conf_set(conf, "security.protocol", "SASL_SSL", err, sizeof err) ||
            conf_set(conf, "sasl.mechanisms", "PLAIN", err, sizeof err) ||
            conf_set(conf, "sasl.username", u ? u : "", err, sizeof err) ||
            conf_set(conf, "sasl.password", p ? p : "", err, sizeof err) ||
            conf_set(conf, "enable.ssl.certificate.verification", "false", err, sizeof err) ||
            conf_set(conf, "ssl.endpoint.identification.algorithm", "none", err, sizeof err)) {
            ds_fail(job, DS_E_CONFIG, "this Kafka client cannot use SASL_SSL: %.120s", err);
            goto out;
        }
    }
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!rk) {
        ds_fail(job, DS_E_OTHER, "cannot create the Kafka client: %.120s", err);
        goto out; /* conf still ours */
    }
    conf = NULL; /* owned by rk now */
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t me = RD_KAFKA_RESP_ERR__TIMED_OUT;
    /* short metadata rounds until the deadline: librdkafka retries refused brokers forever, so stop as
     * soon as it has declared every broker down for a reason we can name */
    while ((left = ds_remaining_ms(job)) > 0) {
        me = rd_kafka_metadata(rk, 0, NULL, &md, (int)(left < 250 ? left : 250));
        if (me == RD_KAFKA_RESP_ERR_NO_ERROR) break;
        rd_kafka_poll(rk, 0); /* error_cb runs from here: it is how refusals and SASL errors arrive */
        pthread_mutex_lock(&k.mu);
        int give_up = k.denied || (k.all_down && k.last_error[0]);
        pthread_mutex_unlock(&k.mu);
        if (give_up) break;
    }
    rd_kafka_poll(rk, 0);
    if (me == RD_KAFKA_RESP_ERR_NO_ERROR) {
        ds_set_phase(job, DS_PHASE_SESSION, NULL);
        ds_succeed(job, "%s answered a metadata request (%d broker%s advertised)%s", first_ep, md->broker_cnt,
                   md->broker_cnt == 1 ? "" : "s", ssl ? "; SASL_SSL certificate not verified" : "");
        rd_kafka_metadata_destroy(md);
        goto out;
    }
    pthread_mutex_lock(&k.mu);
    char last[256];
    snprintf(last, sizeof last, "%s", k.last_error);
    int denied = k.denied;
    pthread_mutex_unlock(&k.mu);
    if (denied)
        ds_fail(job, DS_E_POLICY, "a broker advertised by %s is in a range the worker may not connect to", first_ep);
    else if (strstr(last, "SASL") || strstr(last, "uthenticat"))
        ds_fail(job, DS_E_AUTH, "%s rejected the SASL user name or password", first_ep);
    else if (strstr(last, "SSL") || strstr(last, "TLS"))
        ds_fail(job, DS_E_TLS, "TLS handshake with %s failed", first_ep);
    else if (strstr(last, "refused"))
        ds_fail(job, DS_E_REFUSED, "nothing listens on %s (is the port right and the broker running?)", first_ep);
    else if (strstr(last, "Authorization") || strstr(last, "authoriz"))
        ds_fail(job, DS_E_PERM, "%s denied the metadata request", first_ep);
    else if (me == RD_KAFKA_RESP_ERR__TIMED_OUT || me == RD_KAFKA_RESP_ERR__TRANSPORT || !last[0])
        ds_fail(job, DS_E_TIMEOUT, "%s did not answer a metadata request within %ld ms", first_ep, job->timeout_ms);
    else
        ds_fail(job, DS_E_OTHER, "%s: %.160s", first_ep, last);
out:
    if (rk) rd_kafka_destroy_flags(rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
    if (conf) rd_kafka_conf_destroy(conf);
    pthread_mutex_destroy(&k.mu);
}
