/* hello.c: the HTTP baseline of bench/bench_http.py: a civetweb server configured like roma-api
 * (keep-alive, tcp_nodelay, num_threads 32) whose only handler answers a fixed 100-byte JSON body with
 * one mg_write per response (headers and body together: environment.md's Nagle trap). It measures what
 * civetweb itself costs on this machine, so "show-app / hello" is the share of the HTTP ceiling the API
 * keeps after authentication, routing, the database and JSON.
 *   build/release/bench/hello PORT     serves until SIGTERM/SIGINT */
#include <civetweb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

static const char body[] =
    "{\"id\":\"0123456789abcdef0123456789abcdef\",\"name\":\"hello\",\"status\":\"ok\",\"remark\":\"civetweb baseline\"}";

static int hello(struct mg_connection *conn, void *data)
{
    (void)data;
    char buf[512];
    int n = snprintf(buf, sizeof buf,
                     "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                     sizeof body - 1, body);
    mg_write(conn, buf, (size_t)n);
    return 200;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: hello PORT\n");
        return 2;
    }
    char ports[64];
    snprintf(ports, sizeof ports, "127.0.0.1:%s", argv[1]);
    const char *options[] = {
        "listening_ports", ports, "num_threads", "32", "enable_keep_alive", "yes", "tcp_nodelay", "1",
        "keep_alive_timeout_ms", "60000", "request_timeout_ms", "60000", NULL,
    };
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    struct mg_callbacks cb;
    memset(&cb, 0, sizeof cb);
    mg_init_library(0);
    struct mg_context *ctx = mg_start(&cb, NULL, options);
    if (!ctx) {
        fprintf(stderr, "hello: cannot listen on %s\n", ports);
        return 1;
    }
    mg_set_request_handler(ctx, "/", hello, NULL);
    printf("hello: listening on http://%s\n", ports);
    fflush(stdout);
    while (!stop) usleep(100 * 1000);
    mg_stop(ctx);
    mg_exit_library();
    return 0;
}
