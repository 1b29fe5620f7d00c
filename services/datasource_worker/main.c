/* main.c: the roma-datasource-worker process: configuration, client-library initialisation, the SSRF
 * policy, and the broker worker loop that runs connectivity checks and table/column listings
 * (dispatch.c) on ROMA_DS_CONCURRENCY executor threads.
 *
 *   roma-datasource-worker                serve (SIGTERM/SIGINT: stop taking work, finish running checks
 *                                         (each ends by its deadline), exit 0)
 *   roma-datasource-worker --check        health probe: exit 0 when the configuration, the secret key and
 *                                         the CIDR lists load and the broker backend accepts a TCP
 *                                         connection; 1 otherwise
 *   roma-datasource-worker --help-config  the settings below as Markdown
 *
 * The worker needs no database: the API records check outcomes. It needs ROMA_SECRET_KEY (the same
 * key as roma-api) to open the sealed secrets that travel in check requests. */
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "dispatch.h"
#include "ds_job.h"
#include "log.h"
#include "platform.h"
#include "service.h"
#include "util.h"
#include "worker.h"

/* Loopback, unspecified ("this host"), link-local and the cloud metadata address. */
#define DS_DEFAULT_DENY "127.0.0.0/8,::1/128,0.0.0.0/8,::/128,169.254.0.0/16,fe80::/10,fd00:ec2::254/128"

/* The hard cap of a check deadline: a longer configured value is clamped to it. */
#define DS_CHECK_TIMEOUT_CAP_MS 30000

static struct {
    char *backend;
    char *secret_key;
    char *secret_key_file;
    char *log_level;
    char *allow_cidrs;
    char *deny_cidrs;
    int deny_platform;
    char *database_url;
    char *broker_frontend;
    char *http_listen;
    long http_port;
    char *deny_endpoints;
    long check_timeout_ms;
    long concurrency;
    long max_abandoned;
} cfg;

static const cfg_entry config_table[] = {
    {"ROMA_BROKER_BACKEND", CFG_STR, "tcp://127.0.0.1:5556", "broker endpoint for workers", &cfg.backend, 0, 0},
    {"ROMA_SECRET_KEY", CFG_STR, "", "64 hex chars: the deployment key (opens the sealed secrets sent with each check)", &cfg.secret_key, 0, 0},
    {"ROMA_SECRET_KEY_FILE", CFG_STR, "var/secret.key", "file holding the key when ROMA_SECRET_KEY is empty", &cfg.secret_key_file, 0, 0},
    {"ROMA_DS_CHECK_TIMEOUT_MS", CFG_INT, "10000", "deadline of one connectivity check or table listing, DNS included (values above 30000 are capped)", &cfg.check_timeout_ms, 100, 3600000},
    {"ROMA_DS_CONCURRENCY", CFG_INT, "4", "checks this process runs at once (executor threads)", &cfg.concurrency, 1, ROMA_WORKER_MAX_CONCURRENCY},
    {"ROMA_DS_ALLOW_CIDRS", CFG_STR, "", "comma-separated CIDRs checks may connect to; empty = any address not denied", &cfg.allow_cidrs, 0, 0},
    {"ROMA_DS_DENY_CIDRS", CFG_STR, DS_DEFAULT_DENY, "comma-separated CIDRs checks never connect to (wins over the allow list; IPv4-mapped IPv6 included): loopback, unspecified, link-local, cloud metadata; private ranges are allowed. Setting it replaces the whole list", &cfg.deny_cidrs, 0, 0},
    {"ROMA_DS_DENY_PLATFORM", CFG_BOOL, "true", "refuse the platform's own endpoints (database, broker, API, ROMA_DS_DENY_ENDPOINTS) whatever the CIDR lists say; false only for a deliberately open lab setup", &cfg.deny_platform, 0, 0},
    {"ROMA_DATABASE_URL", CFG_STR, "postgresql://roma:roma@127.0.0.1:5432/roma", "the platform database: only its host:port is read, to deny it to checks", &cfg.database_url, 0, 0},
    {"ROMA_BROKER_FRONTEND", CFG_STR, "tcp://127.0.0.1:5555", "the broker's requester endpoint (denied to checks, like the backend)", &cfg.broker_frontend, 0, 0},
    {"ROMA_HTTP_LISTEN", CFG_STR, "127.0.0.1", "the API's listen address (with ROMA_HTTP_PORT: denied to checks)", &cfg.http_listen, 0, 0},
    {"ROMA_HTTP_PORT", CFG_INT, "8080", "the API's port (denied to checks on every local address)", &cfg.http_port, 1, 65535},
    {"ROMA_DS_DENY_ENDPOINTS", CFG_STR, "", "further host:port endpoints of the platform checks may not reach (a load balancer or gateway in front of the API)", &cfg.deny_endpoints, 0, 0},
    {"ROMA_DS_MAX_ABANDONED", CFG_INT, "64", "checks still blocked past their deadline tolerated before new checks are refused (worker overloaded)", &cfg.max_abandoned, 1, 10000},
    {"ROMA_LOG_LEVEL", CFG_STR, "info", "debug, info, warn or error", &cfg.log_level, 0, 0},
};
#define CONFIG_N (sizeof config_table / sizeof config_table[0])

static volatile sig_atomic_t stop_requested;

/* --check: can we reach the broker backend's TCP port? 0 yes. */
static int probe_backend(const char *endpoint)
{
    char host[256];
    int port = 0;
    if (sscanf(endpoint, "tcp://%255[^:]:%d", host, &port) != 2 || port <= 0) {
        fprintf(stderr, "roma-datasource-worker: cannot probe broker endpoint %s (not tcp://host:port)\n", endpoint);
        return 1;
    }
    if (!strcmp(host, "*")) snprintf(host, sizeof host, "127.0.0.1");
    ds_job *job = ds_job_new();
    if (!job) return 1;
    job->started_ms = util_mono_ms();
    job->timeout_ms = 2000;
    job->deadline_ms = job->started_ms + job->timeout_ms;
    netpolicy *saved = g_ds.policy;
    g_ds.policy = NULL; /* the broker is infrastructure, not a datasource: no SSRF policy */
    int fd = ds_tcp_connect_host(job, host, port, NULL);
    g_ds.policy = saved;
    if (fd < 0) fprintf(stderr, "roma-datasource-worker: broker %s: %s\n", endpoint, job->detail);
    else close(fd);
    ds_job_release(job);
    return fd < 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
    /* first: a SIGTERM arriving while the libraries initialise must still mean a clean stop */
    service_install_signals(&stop_requested);

    int check_only = argc > 1 && !strcmp(argv[1], "--check");
    if (!check_only && cfg_handle_args(argc, argv, config_table, CONFIG_N)) return 0;
    if (service_load_config("datasource-worker", config_table, CONFIG_N, &cfg.log_level, "config.invalid") != 0)
        return 2;
    if (cfg.check_timeout_ms > DS_CHECK_TIMEOUT_CAP_MS) {
        log_warn(NULL, "config.capped", "ROMA_DS_CHECK_TIMEOUT_MS=%ld capped at %d", cfg.check_timeout_ms,
                 DS_CHECK_TIMEOUT_CAP_MS);
        cfg.check_timeout_ms = DS_CHECK_TIMEOUT_CAP_MS;
    }
    int rc = 1;
    roma_worker *w = NULL;
    int libs = 0;
    char err[512];
    if (service_init_secret_key(cfg.secret_key, cfg.secret_key_file) != 0) {
        rc = 2;
        goto out;
    }
    if (netpolicy_parse(cfg.allow_cidrs, cfg.deny_cidrs, &g_ds.policy, err, sizeof err) != 0) {
        log_error(NULL, "config.cidrs", "ROMA_DS_ALLOW_CIDRS / ROMA_DS_DENY_CIDRS: %s", err);
        rc = 2;
        goto out;
    }
    if (cfg.deny_platform) {
        platform_endpoints pe = {cfg.database_url, cfg.broker_frontend, cfg.backend, cfg.http_listen, cfg.http_port,
                                 cfg.deny_endpoints};
        if (platform_deny(g_ds.policy, &pe, err, sizeof err) != 0) {
            log_error(NULL, "config.platform_endpoints", "%s", err);
            rc = 2;
            goto out;
        }
    } else {
        log_warn(NULL, "policy.platform_open", "ROMA_DS_DENY_PLATFORM=false: checks may reach the platform's own endpoints");
    }
    g_ds.check_timeout_ms = cfg.check_timeout_ms;
    g_ds.max_abandoned = cfg.max_abandoned;
    if (check_only) {
        rc = probe_backend(cfg.backend);
        if (rc == 0) printf("ok\n");
        goto out;
    }
    if (checks_global_init(err, sizeof err) != 0) {
        log_error(NULL, "startup.libraries", "%s", err);
        goto out;
    }
    libs = 1;

    w = roma_worker_new(cfg.backend, DS_KIND, (int)cfg.concurrency);
    if (!w) goto out;
    log_info(NULL, "worker.started",
             "datasource worker on %s: concurrency %ld, check deadline %ld ms, %zu allow / %zu deny CIDRs, "
             "%zu denied platform endpoints",
             cfg.backend, cfg.concurrency, cfg.check_timeout_ms, netpolicy_count(g_ds.policy, 0),
             netpolicy_count(g_ds.policy, 1), netpolicy_count(g_ds.policy, 2));
    if (roma_worker_run(w, dispatch_handle, NULL, &stop_requested) != 0) {
        log_error(NULL, "worker.failed", "the worker loop could not start");
        goto out;
    }
    rc = 0;
out:
    roma_worker_free(w);
    if (libs) {
        /* abandoned checks may still be inside a client library: give them a moment, and skip the
         * global teardown (unsafe under their feet) if they are still there; exit reclaims it all */
        for (int i = 0; i < 20 && ds_abandoned_count() > 0; i++) util_sleep_ms(100);
        if (ds_abandoned_count() == 0) checks_global_cleanup();
        else log_warn(NULL, "worker.exit", "%d abandoned checks still running at exit", ds_abandoned_count());
    }
    netpolicy_free(g_ds.policy);
    cfg_free(config_table, CONFIG_N);
    if (rc == 0 && !check_only) log_info(NULL, "worker.stopped", "clean exit");
    return rc;
}
