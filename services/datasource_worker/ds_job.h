/* ds_job.h: what every piece of the datasource worker shares: the job (one connectivity check or one
 * metadata query), its result, the outcome codes and the helpers checks use to resolve, connect and
 * report failures in the documented words.
 *
 * Life of a job (runner.c): the executor thread builds it from the broker request (dispatch.c), starts a
 * check thread and waits until the job is done or its deadline passes; either way it answers on time.
 * A check that overruns is abandoned: its thread keeps the job alive through a reference and frees it
 * when the library call finally returns (the library timeouts are set from the same deadline, so that
 * is soon). Secrets in the job are plaintext only in the check thread's memory and are wiped on free.
 *
 * Outcome words (the API puts detail into the FDI.3016 body; keep them actionable, never a secret):
 *   DNS failure / connection refused / timeout / TLS failure / authentication failed /
 *   unknown database / permission denied / address denied by policy */
#ifndef ROMA_DS_JOB_H
#define ROMA_DS_JOB_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <cJSON.h>

#include "errors.h"
#include "netpolicy.h"

typedef enum ds_code {
    DS_OK = 0,
    DS_E_DNS,         /* "DNS failure" */
    DS_E_REFUSED,     /* "connection refused" (also: network unreachable) */
    DS_E_TIMEOUT,     /* "timeout" */
    DS_E_TLS,         /* "TLS failure" */
    DS_E_AUTH,        /* "authentication failed" */
    DS_E_DB,          /* "unknown database" */
    DS_E_PERM,        /* "permission denied" */
    DS_E_POLICY,      /* "address denied by policy" */
    DS_E_CONFIG,      /* "invalid configuration" (the content cannot be used as given) */
    DS_E_PROTOCOL,    /* "protocol error" (the peer answered, but not as the expected server) */
    DS_E_UNSUPPORTED, /* "not supported" */
    DS_E_NOTFOUND,    /* "table not found" (columns) */
    DS_E_OVERLOAD,    /* "worker overloaded" */
    DS_E_OTHER,       /* "connection failed" */
} ds_code;

/* Wire name of a code ("dns", "refused", ...), sent to the API in the reply body. */
const char *ds_code_name(ds_code c);

typedef enum ds_op { DS_OP_TEST = 0, DS_OP_TABLES, DS_OP_COLUMNS } ds_op;

/* What the check is doing now; lets the watchdog word a deadline overrun precisely. */
typedef enum ds_phase { DS_PHASE_START = 0, DS_PHASE_RESOLVE, DS_PHASE_CONNECT, DS_PHASE_SESSION } ds_phase;

#define DS_MAX_SECRETS 16
#define DS_MAX_ADDRS 8
#define DS_DETAIL_MAX 480

typedef struct ds_worker_config {
    long check_timeout_ms; /* ROMA_DS_CHECK_TIMEOUT_MS: default per-check deadline */
    long max_abandoned;    /* ROMA_DS_MAX_ABANDONED: overrunning check threads tolerated at once */
    netpolicy *policy;     /* parsed ROMA_DS_ALLOW_CIDRS / ROMA_DS_DENY_CIDRS */
} ds_worker_config;

extern ds_worker_config g_ds; /* set once by main before the worker runs, then read-only */

typedef struct ds_job {
    /* ---- input (owned) ---- */
    ds_op op;
    char type[24];              /* datasource_type, e.g. "MYSQL" */
    cJSON *content;             /* datasource content with secrets opened (plaintext) */
    char *secrets[DS_MAX_SECRETS]; /* plaintext copies of the opened secrets, for scrubbing; wiped */
    int nsecrets;
    char *filter;               /* tables: fuzzy name filter or NULL */
    char *table;                /* columns: table name */
    char rid[65];
    int64_t started_ms;         /* monotonic */
    int64_t deadline_ms;        /* monotonic: the answer is due then */
    long timeout_ms;            /* deadline - start, for messages */

    /* ---- output (written by the check thread before done) ---- */
    ds_code code;
    char detail[DS_DETAIL_MAX + 32];
    cJSON *data;                /* tables/columns payload (owned) */
    char endpoint[300];         /* "host:port" being tried (guarded by mu), for the watchdog's words */

    /* ---- runner state (mu guards done, refs, phase and endpoint) ---- */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
    int refs;
    int phase;                  /* ds_phase, set through ds_set_phase */
} ds_job;

/* What the executor answers with: a private copy, so an abandoned check thread can keep writing into
 * its job without racing the reply. */
typedef struct ds_outcome {
    ds_code code;
    char detail[DS_DETAIL_MAX + 32];
    cJSON *data; /* owned by the outcome */
} ds_outcome;

/* Resolved, policy-checked addresses of one host. */
typedef struct ds_addr {
    struct sockaddr_storage ss;
    socklen_t len;
    char ip[INET6_ADDRSTRLEN];
} ds_addr;

typedef struct ds_addrs {
    ds_addr a[DS_MAX_ADDRS];
    int n;
} ds_addrs;

/* ---- job helpers (job.c) ---- */
/* Milliseconds left before the deadline (>= 0). */
long ds_remaining_ms(const ds_job *job);
/* Whole seconds left, at least 1, for libraries whose timeouts are in seconds. */
unsigned ds_remaining_s(const ds_job *job);
/* Time left as a struct timeval (at least 1 ms), for libraries that take one. */
struct timeval ds_remaining_tv(const ds_job *job);
/* Records a failure: detail = "<words for code>: <fmt...>". The first failure recorded wins. */
void ds_fail(ds_job *job, ds_code code, const char *fmt, ...) ROMA_PRINTF(3, 4);
/* Records success with an optional note (fmt may be NULL). */
void ds_succeed(ds_job *job, const char *fmt, ...) ROMA_PRINTF(2, 3);
/* Replaces every occurrence of a job secret in s (NUL-terminated, modified in place) by "******". */
void ds_scrub(const ds_job *job, char *s);
/* Content accessors. String fields may also arrive as numbers (port). */
const char *ds_str(const ds_job *job, const char *key);         /* string or NULL */
const char *ds_str_in(const cJSON *obj, const char *key);       /* string or NULL */
int ds_bool(const ds_job *job, const char *key, int dflt);
/* Port from a string or number field; dflt when absent; -1 when present but not 1..65535. */
int ds_port(const ds_job *job, const char *key, int dflt);

/* ---- endpoints (endpoint.c) ---- */
/* Resolves host (an IP literal or a name) under the job's deadline and keeps the addresses the policy
 * allows, in resolver order. On failure records DNS failure / address denied by policy and returns -1. */
int ds_resolve(ds_job *job, const char *host, int port, ds_addrs *out) ROMA_MUST_USE;
/* Splits "h1:p1,h2:p2" into up to max host/port pairs (IPv6 as [addr]:port). Hosts are heap strings
 * (free with ds_hostports_free). dflt_port when a pair has no port. Returns the count, or -1 (invalid). */
typedef struct ds_hostport {
    char *host;
    int port;
} ds_hostport;
int ds_parse_hostports(const char *list, int dflt_port, ds_hostport *out, int max);
void ds_hostports_free(ds_hostport *hp, int n);
/* ds_parse_hostports of content[key]; on a missing or malformed list records a configuration failure
 * naming key and returns -1. */
int ds_hostports_of(ds_job *job, const char *key, int dflt_port, ds_hostport *out, int max);
/* Parses a URL "scheme://[user[:pw]@]host[:port][/path][?query]" (JDBC "jdbc:mysql://..." accepted):
 * copies scheme (without "jdbc:"), host and the first path segment (database). port = dflt when
 * absent. 0 or -1 when malformed. */
int ds_parse_url(const char *url, char *scheme, size_t scheme_len, char *host, size_t host_len, int *port,
                 int dflt_port, char *db, size_t db_len);

/* Where a relational datasource lives: mode "professional" reads content.url (JDBC URL, url_form names
 * the expected shape in the failure), any other mode host / port / database_name. user_name must be set
 * too. 0, or -1 with the configuration failure recorded. */
int ds_db_target(ds_job *job, int dflt_port, const char *url_form, char *host, size_t host_len, int *port, char *db,
                 size_t db_len);

/* ---- TCP (check_tcp.c) ---- */
/* Connects to addr before the job deadline. Returns a connected blocking socket, or -1 with the failure
 * recorded (connection refused / timeout / ...). */
int ds_tcp_connect(ds_job *job, const ds_addr *addr, int port) ROMA_MUST_USE;
/* Resolve + connect to the first reachable allowed address; records the result. Returns the socket or -1. */
int ds_tcp_connect_host(ds_job *job, const char *host, int port, ds_addr *used) ROMA_MUST_USE;
/* Records a connect-level errno as a failure. */
void ds_fail_errno(ds_job *job, int err, const char *endpoint);

/* ---- checks: each fills job->code/detail (and data). ---- */
void check_tcp(ds_job *job);      /* generic reachability for types without a protocol check */
void check_mysql(ds_job *job);    /* MYSQL, TAURUS */
void check_pg(ds_job *job);       /* POSTGRESQL */
void check_redis(ds_job *job);    /* REDIS */
void check_http(ds_job *job);     /* API */
void check_ftp(ds_job *job);      /* FTP (ftp:// and sftp://) */
void check_mongo(ds_job *job);    /* MONGODB */
void check_kafka(ds_job *job);    /* KAFKA */
void check_rabbitmq(ds_job *job); /* RABBITMQ */
void meta_mysql(ds_job *job);     /* tables/columns of MYSQL, TAURUS */
void meta_pg(ds_job *job);        /* tables/columns of POSTGRESQL */

/* One-time library initialisation / cleanup (main thread, before / after the executors). */
int checks_global_init(char *err, size_t errlen) ROMA_MUST_USE;
void checks_global_cleanup(void);

/* ---- runner (runner.c) ---- */
/* Runs fn(job) on a new thread and waits until it finishes or the deadline passes; fills out with the
 * check's result, or with a timeout worded by the job's phase. Always returns by the deadline (+150 ms).
 * Takes one reference to job for the thread; the caller keeps its own (ds_job_release). */
void ds_run_bounded(ds_job *job, void (*fn)(ds_job *), ds_outcome *out);
/* Check threads report progress: phase and the endpoint being worked on (NULL keeps the last). */
void ds_set_phase(ds_job *job, ds_phase phase, const char *endpoint);
ds_job *ds_job_new(void);
void ds_job_release(ds_job *job);
/* Number of abandoned check threads still running (for logs and the overload guard). */
int ds_abandoned_count(void);

#endif
