/* worker.h: the worker side of the broker protocol, used by the asset, datasource and topic workers.
 *
 * Threads: roma_worker_run() is the I/O thread. It alone owns the DEALER socket to the broker, sends
 * READY and a HEARTBEAT every interval, and feeds requests to `concurrency` executor threads over
 * inproc PAIR sockets (CZMQ actor style). Handlers run on the executors and may block for minutes
 * (a 10 s connectivity check, a long export) while heartbeats keep flowing.
 *
 * Credit: the worker announces credit = concurrency; the broker never has more than that many
 * requests in flight to it and sends each to the least recently used worker with free credit.
 *
 * Reconnect (Paranoid Pirate): when the broker has been silent for liveness x interval, the DEALER is
 * closed and recreated (after a backoff of 1 s doubling to 32 s) and READY is sent again. When the
 * broker answers DISCONNECT ("I do not know you": it restarted), READY is re-sent on the same socket.
 * Answers to requests taken before a reconnect are still sent; the broker ignores those it forgot.
 *
 * Heartbeat settings come from ROMA_HEARTBEAT_MS (default 1000, 10..60000) and
 * ROMA_HEARTBEAT_LIVENESS (default 3, 1..100) at roma_worker_new(), or roma_worker_set_heartbeat();
 * they must match the broker's. */
#ifndef ROMA_PROTO_WORKER_H
#define ROMA_PROTO_WORKER_H

#include <signal.h>

#include "command.h"
#include "errors.h"

#define ROMA_WORKER_MAX_CONCURRENCY 256
#define ROMA_WORKER_BACKOFF_MIN_MS 1000
#define ROMA_WORKER_BACKOFF_MAX_MS 32000

typedef struct roma_worker roma_worker;

/* Handles one request on an executor thread. reply arrives initialised as the answer to req (type
 * "reply", status 0, no body): set reply->status (0 or negative ROMA_E*) and reply->body (ownership
 * passes to the worker). For req->noreply commands the reply is discarded. Requests whose deadline
 * has passed before an executor picked them up are answered ROMA_ETIMEDOUT without calling the
 * handler. Each executor thread calls the handler serially, so per-thread state (a DB connection)
 * needs no locking: see roma_worker_thread_index(). */
typedef void (*roma_handler)(void *arg, const roma_msg *req, roma_msg *reply);

/* Optional per-executor-thread hooks, run on the executor thread before its first request and after
 * its last (open / close the thread's DB connection). */
typedef void (*roma_thread_hook)(void *arg, int index);

/* kind: "asset" | "datasource" | "topic" | ... (1..23 printable chars). concurrency: 1..256.
 * Creates the worker's own ZeroMQ context; nothing connects until roma_worker_run(). NULL on bad
 * arguments or allocation failure (logged). */
roma_worker *roma_worker_new(const char *backend_endpoint, const char *kind, int concurrency) ROMA_MUST_USE;

/* Overrides the heartbeat interval (10..60000 ms) and liveness (1..100). Call before run. */
void roma_worker_set_heartbeat(roma_worker *w, int interval_ms, int liveness);

/* Sets the executor thread hooks (either may be NULL). Call before run. */
void roma_worker_set_thread_hooks(roma_worker *w, roma_thread_hook init, roma_thread_hook fini, void *arg);

/* Serves requests until *stop becomes non-zero (checked at least every 100 ms; signals are blocked
 * on executor threads so SIGTERM/SIGINT land on the calling thread). Shutdown is a drain: the worker
 * tells the broker to send nothing more (READY with credit 0), answers ROMA_EUNAVAIL to requests not
 * started yet, waits for running handlers to return and forwards their answers, then sends
 * DISCONNECT and joins the executors. Handlers doing long work should watch the same stop flag.
 * Returns 0, or a negative code when it could not start (threads, sockets). Call once per worker. */
int roma_worker_run(roma_worker *w, roma_handler fn, void *arg, volatile sig_atomic_t *stop) ROMA_MUST_USE;

/* Frees the worker and terminates its context. NULL is a no-op. Not while run is active. */
void roma_worker_free(roma_worker *w);

/* Index 0..concurrency-1 of the executor thread calling it, -1 on any other thread. */
int roma_worker_thread_index(void);

#endif
