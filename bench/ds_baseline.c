/* ds_baseline.c: the baseline of bench/bench_datasources.py: how many connect + authenticate + close
 * cycles per second the client library itself does against a server, in a loop on THREADS threads,
 * with nothing else around it (no HTTP, no bus, no policy, no process hop).
 *
 *   ds_baseline mysql HOST PORT USER PASSWORD DB SECONDS THREADS
 *   ds_baseline pg    HOST PORT USER PASSWORD DB SECONDS THREADS
 * Prints one line: "<n> connects in <s> s: <rate> connects/s, <failures> failures". Exit 1 on any
 * failure (a wrong password would otherwise measure the rejection path). */
#include <libpq-fe.h>
#include <mysql.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *kind, *host, *user, *pass, *db;
static int port;
static double seconds;
static atomic_long done, failed;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int one_mysql(void)
{
    MYSQL *m = mysql_init(NULL);
    if (!m) return -1;
    unsigned secs = 10, proto = MYSQL_PROTOCOL_TCP;
    mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &secs);
    mysql_options(m, MYSQL_OPT_PROTOCOL, &proto);
    int ok = mysql_real_connect(m, host, user, pass, db, (unsigned)port, NULL, 0) != NULL;
    if (!ok && atomic_load(&failed) == 0) fprintf(stderr, "mysql: %s\n", mysql_error(m));
    mysql_close(m);
    return ok ? 0 : -1;
}

static int one_pg(void)
{
    char portbuf[16];
    snprintf(portbuf, sizeof portbuf, "%d", port);
    const char *keys[] = {"hostaddr", "port", "dbname", "user", "password", "connect_timeout", "gssencmode", NULL};
    const char *vals[] = {host, portbuf, db, user, pass, "10", "disable", NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 0);
    int ok = c && PQstatus(c) == CONNECTION_OK;
    if (!ok && atomic_load(&failed) == 0) fprintf(stderr, "pg: %s", c ? PQerrorMessage(c) : "oom\n");
    PQfinish(c);
    return ok ? 0 : -1;
}

static void *loop(void *arg)
{
    (void)arg;
    int is_mysql = !strcmp(kind, "mysql");
    if (is_mysql) mysql_thread_init();
    double end = now_s() + seconds;
    while (now_s() < end) {
        if ((is_mysql ? one_mysql() : one_pg()) == 0) atomic_fetch_add(&done, 1);
        else atomic_fetch_add(&failed, 1);
    }
    if (is_mysql) mysql_thread_end();
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 9 || (strcmp(argv[1], "mysql") != 0 && strcmp(argv[1], "pg") != 0)) {
        fprintf(stderr, "usage: %s mysql|pg HOST PORT USER PASSWORD DB SECONDS THREADS\n", argv[0]);
        return 2;
    }
    kind = argv[1], host = argv[2], port = atoi(argv[3]), user = argv[4], pass = argv[5], db = argv[6];
    seconds = atof(argv[7]);
    int threads = atoi(argv[8]);
    if (threads < 1 || threads > 256 || seconds <= 0) return 2;
    if (!strcmp(kind, "mysql") && mysql_library_init(0, NULL, NULL) != 0) return 1;
    pthread_t th[256];
    double t0 = now_s();
    for (int i = 0; i < threads; i++)
        if (pthread_create(&th[i], NULL, loop, NULL) != 0) return 1;
    for (int i = 0; i < threads; i++) pthread_join(th[i], NULL);
    double took = now_s() - t0;
    long n = atomic_load(&done), f = atomic_load(&failed);
    printf("%ld connects in %.2f s: %.1f connects/s, %ld failures\n", n, took, (double)n / took, f);
    if (!strcmp(kind, "mysql")) mysql_library_end();
    return f ? 1 : 0;
}
