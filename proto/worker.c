/* worker.c: worker side of the ROMA1 protocol: one I/O thread owning the broker DEALER (READY,
 * heartbeats, reconnects) feeding handler executor threads over inproc PAIR sockets (see worker.h). */
#include "worker.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "log.h"
#include "util.h"
#include "wire.h"

#define WORKER_TICK_MS 100      /* upper bound on how long the I/O loop sleeps (stop flag latency) */
#define WORKER_RECV_BATCH 256   /* messages taken from one socket per loop turn (fairness) */
#define WORKER_SNDHWM 10000
#define WORKER_RCVHWM 10000
#define PIPE_TERM "$TERM"

/* A request received from the broker and not yet handed to an executor. The broker never has more
 * than `credit` requests in flight to one registration, so this only fills up after a re-registration
 * while old handlers still run; it is bounded anyway. */
typedef struct pending {
    struct pending *next;
    unsigned char token[8];
    unsigned char flags;
    zmq_msg_t payload;
} pending;

typedef struct executor {
    roma_worker *w;
    int index;
    pthread_t thread;
    int started;
    int busy;
    void *pipe; /* I/O-thread end */
    void *peer; /* executor end, created here and handed to the thread (pthread_create is a barrier) */
} executor;

struct roma_worker {
    void *ctx;
    char *endpoint;
    char kind[PROTO_KIND_SIZE];
    int concurrency;
    int hb_ms, liveness;
    roma_thread_hook init, fini;
    void *hook_arg;
    roma_handler fn;
    void *fn_arg;
    int ran;

    /* I/O thread state */
    void *dealer;
    executor *ex;
    int busy;
    pending *qhead, *qtail;
    int qlen, qmax;
    int64_t broker_expiry; /* mono ms: broker considered gone after this */
    int64_t next_hb;
    int64_t reconnect_at;  /* mono ms, 0 = no reconnect scheduled */
    int64_t last_ready;
    int backoff_ms;
    int draining;
};

static _Thread_local int t_index = -1;

int roma_worker_thread_index(void) { return t_index; }

static int s_env_int(const char *name, int def, long min, long max)
{
    const char *v = getenv(name);
    long x;
    if (!v || !*v) return def;
    if (util_parse_long(v, &x) != 0 || x < min || x > max) {
        log_warn(NULL, "worker.config", "%s=%s out of range [%ld, %ld], using %d", name, v, min, max, def);
        return def;
    }
    return (int)x;
}

roma_worker *roma_worker_new(const char *backend_endpoint, const char *kind, int concurrency)
{
    if (!backend_endpoint || !kind || !*kind || !proto_header_ok(kind, strlen(kind), PROTO_KIND_SIZE) ||
        concurrency < 1 || concurrency > ROMA_WORKER_MAX_CONCURRENCY) {
        log_error(NULL, "worker.new", "bad arguments (kind '%s', concurrency %d)", kind ? kind : "", concurrency);
        return NULL;
    }
    roma_worker *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    w->endpoint = strdup(backend_endpoint);
    w->ctx = zmq_ctx_new();
    if (!w->endpoint || !w->ctx) {
        log_error(NULL, "worker.new", "out of memory or zmq_ctx_new failed");
        roma_worker_free(w);
        return NULL;
    }
    memcpy(w->kind, kind, strlen(kind) + 1);
    w->concurrency = concurrency;
    w->hb_ms = s_env_int("ROMA_HEARTBEAT_MS", WIRE_HEARTBEAT_MS_DEFAULT, 10, 60000);
    w->liveness = s_env_int("ROMA_HEARTBEAT_LIVENESS", WIRE_HEARTBEAT_LIVENESS_DEFAULT, 1, 100);
    w->qmax = 4 * concurrency + 16;
    w->backoff_ms = ROMA_WORKER_BACKOFF_MIN_MS;
    return w;
}

void roma_worker_set_heartbeat(roma_worker *w, int interval_ms, int liveness)
{
    assert(w && !w->ran);
    assert(interval_ms >= 10 && interval_ms <= 60000 && liveness >= 1 && liveness <= 100);
    w->hb_ms = interval_ms;
    w->liveness = liveness;
}

void roma_worker_set_thread_hooks(roma_worker *w, roma_thread_hook init, roma_thread_hook fini, void *arg)
{
    assert(w && !w->ran);
    w->init = init;
    w->fini = fini;
    w->hook_arg = arg;
}

void roma_worker_free(roma_worker *w)
{
    if (!w) return;
    if (w->dealer) zmq_close(w->dealer);
    wire_ctx_term(w->ctx);
    free(w->endpoint);
    free(w);
}

/* ------------------------------------------------------------------------------------------------ */
/* Executor threads                                                                                  */

/* Sets an error status; without memory for the {"error": ...} body the status alone still travels. */
static void s_reply_error(roma_msg *reply, int status, const char *why)
{
    if (proto_reply_error(reply, status, why) != 0) reply->status = status;
}

/* Runs one request: decode, deadline check, handler, encode. Always answers the I/O thread with
 * [token][flags][payload] (payload empty for NOREPLY) so it can return the credit to the broker. */
static void s_execute(roma_worker *w, void *pipe, wire_frames *fr)
{
    unsigned char flags = *(const unsigned char *)wire_data(fr, 1);
    int noreply = (flags & WIRE_FLAG_NOREPLY) != 0;
    roma_msg req, reply;
    char *buf = NULL;
    size_t len = 0;

    int rc = proto_decode(wire_data(fr, 2), wire_size(fr, 2), &req);
    proto_reply_init(&reply, &req);
    if (rc) {
        log_warn(NULL, "worker.decode", "undecodable request dropped: %s", roma_strerror(rc));
        s_reply_error(&reply, ROMA_EINVAL, "undecodable request");
    } else if (req.deadline_ms && util_now_ms() >= req.deadline_ms) {
        log_info(req.rid, "worker.expired", "%s/%s: deadline passed before it started, skipped", req.kind, req.type);
        s_reply_error(&reply, ROMA_ETIMEDOUT, "deadline passed before the request started");
    } else {
        w->fn(w->fn_arg, &req, &reply);
    }

    if (!noreply) {
        rc = proto_encode(&reply, &buf, &len);
        if (rc) {
            /* The handler's answer cannot travel (body too big, NaN...): tell the caller why instead
             * of letting it wait for its deadline. */
            log_error(req.rid, "worker.encode", "%s/%s: reply not encodable: %s", req.kind, req.type, roma_strerror(rc));
            proto_msg_clear(&reply);
            proto_reply_init(&reply, &req);
            if (proto_reply_error(&reply, rc, "reply could not be encoded") == 0 &&
                proto_encode(&reply, &buf, &len) != 0)
                buf = NULL, len = 0;
        }
    }
    proto_msg_clear(&reply);
    proto_msg_clear(&req);

    wire_part parts[] = {{wire_data(fr, 0), 8, NULL}, {&flags, 1, NULL}, {buf, buf ? len : 0, NULL}};
    if (wire_send(pipe, parts, 3, 0) != 0)
        log_error(NULL, "worker.pipe", "executor %d: send to I/O thread: %s", t_index, zmq_strerror(errno));
    free(buf);
}

static void *s_executor_main(void *arg)
{
    executor *e = arg;
    roma_worker *w = e->w;
    void *pipe = e->peer;
    t_index = e->index;
    if (w->init) w->init(w->hook_arg, e->index);
    for (;;) {
        wire_frames fr;
        if (wire_recv(pipe, &fr, 0) != 0) {
            if (errno == EINTR) continue;
            log_error(NULL, "worker.pipe", "executor %d: recv: %s", e->index, zmq_strerror(errno));
            break;
        }
        if (fr.n == 1 && wire_is(&fr, 0, PIPE_TERM)) {
            wire_frames_close(&fr);
            break;
        }
        /* the I/O thread only ever sends well-formed [token][flags][payload] */
        assert(fr.n == 3 && wire_size(&fr, 0) == 8 && wire_size(&fr, 1) == 1);
        s_execute(w, pipe, &fr);
        wire_frames_close(&fr);
    }
    if (w->fini) w->fini(w->hook_arg, e->index);
    zmq_close(pipe);
    return NULL;
}

/* Stops and joins every started executor, then closes the I/O-thread ends. */
static void s_stop_executors(roma_worker *w)
{
    for (int i = 0; i < w->concurrency; i++) {
        executor *e = &w->ex[i];
        if (e->started) {
            if (zmq_send(e->pipe, PIPE_TERM, strlen(PIPE_TERM), 0) < 0)
                log_error(NULL, "worker.pipe", "executor %d: cannot send $TERM: %s", i, zmq_strerror(errno));
            else
                pthread_join(e->thread, NULL);
        } else if (e->peer) {
            zmq_close(e->peer);
        }
        if (e->pipe) zmq_close(e->pipe);
    }
    free(w->ex);
    w->ex = NULL;
}

static int s_start_executors(roma_worker *w)
{
    w->ex = calloc((size_t)w->concurrency, sizeof *w->ex);
    if (!w->ex) return ROMA_ENOMEM;
    /* Signals go to the I/O thread (it watches the stop flag); executors inherit this mask. */
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGHUP);
    sigaddset(&block, SIGQUIT);
    sigaddset(&block, SIGUSR1);
    sigaddset(&block, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    int rc = 0;
    for (int i = 0; i < w->concurrency && !rc; i++) {
        executor *e = &w->ex[i];
        char ep[96];
        snprintf(ep, sizeof ep, "inproc://roma-worker-%p-%d", (void *)w, i);
        e->w = w;
        e->index = i;
        e->pipe = zmq_socket(w->ctx, ZMQ_PAIR);
        e->peer = zmq_socket(w->ctx, ZMQ_PAIR);
        if (!e->pipe || !e->peer || wire_socket_defaults(e->pipe, 100, 100) != 0 ||
            wire_socket_defaults(e->peer, 100, 100) != 0 || zmq_bind(e->pipe, ep) != 0 ||
            zmq_connect(e->peer, ep) != 0) {
            log_error(NULL, "worker.start", "executor %d pipe: %s", i, zmq_strerror(errno));
            rc = ROMA_EIO;
        } else if (pthread_create(&e->thread, NULL, s_executor_main, e) != 0) {
            log_error(NULL, "worker.start", "executor %d: pthread_create failed", i);
            rc = ROMA_EIO;
        } else {
            e->started = 1;
        }
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc) s_stop_executors(w);
    return rc;
}

/* ------------------------------------------------------------------------------------------------ */
/* Broker connection                                                                                 */

static void s_send_ready(roma_worker *w, uint32_t credit)
{
    if (!w->dealer) return;
    unsigned char c[4];
    wire_put_u32(c, credit);
    wire_part parts[] = {WIRE_STR(WIRE_PROTOCOL), WIRE_STR(WIRE_READY), {w->kind, strlen(w->kind), NULL}, {c, 4, NULL}};
    if (wire_send(w->dealer, parts, 4, ZMQ_DONTWAIT) != 0)
        log_warn(NULL, "worker.ready", "READY not queued: %s", zmq_strerror(errno));
    w->last_ready = util_mono_ms();
}

static void s_send_simple(roma_worker *w, const char *cmd)
{
    if (!w->dealer) return; /* between a failed reconnect and the next attempt */
    wire_part parts[] = {WIRE_STR(WIRE_PROTOCOL), {cmd, strlen(cmd), NULL}};
    /* EAGAIN (queue full while the broker is away) just loses a heartbeat: nothing to do */
    if (wire_send(w->dealer, parts, 2, ZMQ_DONTWAIT) != 0 && errno != EAGAIN)
        log_warn(NULL, "worker.send", "%s: %s", cmd, zmq_strerror(errno));
}

/* (Re)creates the DEALER and queues READY. Without ZMQ_IMMEDIATE the READY waits in the pipe until
 * the TCP connection is up, so registration happens as soon as the broker is reachable. */
static int s_connect(roma_worker *w)
{
    if (w->dealer) zmq_close(w->dealer);
    w->dealer = zmq_socket(w->ctx, ZMQ_DEALER);
    if (!w->dealer) {
        log_error(NULL, "worker.connect", "zmq_socket: %s", zmq_strerror(errno));
        return ROMA_EIO;
    }
    if (wire_socket_defaults(w->dealer, WORKER_SNDHWM, WORKER_RCVHWM) != 0 ||
        zmq_connect(w->dealer, w->endpoint) != 0) {
        log_error(NULL, "worker.connect", "connect %s: %s", w->endpoint, zmq_strerror(errno));
        zmq_close(w->dealer);
        w->dealer = NULL;
        return ROMA_EIO;
    }
    int64_t now = util_mono_ms();
    s_send_ready(w, w->draining ? 0 : (uint32_t)w->concurrency);
    w->broker_expiry = now + (int64_t)w->hb_ms * w->liveness;
    w->next_hb = now + w->hb_ms;
    return 0;
}

/* Answers a request the worker will not run (stopping, overloaded) straight from the I/O thread.
 * The broker routes REPLY by token and the client matches on the broker's cid frame, so a reply
 * with an empty header is enough. */
static void s_refuse(roma_worker *w, const unsigned char token[8], unsigned char flags, const char *why)
{
    if (flags & WIRE_FLAG_NOREPLY) {
        log_warn(NULL, "worker.refuse", "command dropped (%s): the DB sweeper will re-dispatch it", why);
        wire_part parts[] = {WIRE_STR(WIRE_PROTOCOL), WIRE_STR(WIRE_DONE), {token, 8, NULL}};
        if (wire_send(w->dealer, parts, 3, ZMQ_DONTWAIT) != 0)
            log_warn(NULL, "worker.send", "DONE: %s", zmq_strerror(errno));
        return;
    }
    roma_msg r;
    char *buf = NULL;
    size_t len = 0;
    proto_msg_init(&r);
    memcpy(r.type, PROTO_TYPE_REPLY, sizeof PROTO_TYPE_REPLY);
    if (proto_reply_error(&r, ROMA_EUNAVAIL, why) != 0 || proto_encode(&r, &buf, &len) != 0) {
        proto_msg_clear(&r);
        return; /* out of memory: the caller times out */
    }
    proto_msg_clear(&r);
    wire_part parts[] = {WIRE_STR(WIRE_PROTOCOL), WIRE_STR(WIRE_REPLY), {token, 8, NULL}, {buf, len, NULL}};
    if (wire_send(w->dealer, parts, 4, ZMQ_DONTWAIT) != 0)
        log_warn(NULL, "worker.send", "REPLY: %s", zmq_strerror(errno));
    free(buf);
}

static void s_on_request(roma_worker *w, wire_frames *fr)
{
    if (fr->n != 5 || wire_size(fr, 2) != 8 || wire_size(fr, 3) != 1) {
        log_warn(NULL, "worker.protocol", "malformed REQUEST (%d frames) dropped", fr->n);
        return;
    }
    const unsigned char *token = wire_data(fr, 2);
    unsigned char flags = *(const unsigned char *)wire_data(fr, 3);
    if (w->draining) {
        s_refuse(w, token, flags, "worker stopping");
        return;
    }
    if (w->qlen >= w->qmax) {
        s_refuse(w, token, flags, "worker overloaded");
        return;
    }
    pending *p = malloc(sizeof *p);
    if (!p || zmq_msg_init(&p->payload) != 0) {
        free(p);
        s_refuse(w, token, flags, "worker out of memory");
        return;
    }
    if (zmq_msg_move(&p->payload, &fr->f[4]) != 0) {
        zmq_msg_close(&p->payload);
        free(p);
        s_refuse(w, token, flags, "worker could not queue the request");
        return;
    }
    memcpy(p->token, token, 8);
    p->flags = flags;
    p->next = NULL;
    if (w->qtail) w->qtail->next = p;
    else w->qhead = p;
    w->qtail = p;
    w->qlen++;
}

static void s_on_broker(roma_worker *w)
{
    for (int k = 0; k < WORKER_RECV_BATCH; k++) {
        wire_frames fr;
        if (wire_recv(w->dealer, &fr, ZMQ_DONTWAIT) != 0) {
            if (errno != EAGAIN && errno != EINTR) log_warn(NULL, "worker.recv", "%s", zmq_strerror(errno));
            return;
        }
        int64_t now = util_mono_ms();
        /* any message is a sign of life: reset liveness and the reconnect backoff */
        w->broker_expiry = now + (int64_t)w->hb_ms * w->liveness;
        w->reconnect_at = 0;
        w->backoff_ms = ROMA_WORKER_BACKOFF_MIN_MS;
        if (fr.overflow || !wire_is(&fr, 0, WIRE_PROTOCOL) || fr.n < 2) {
            log_warn(NULL, "worker.protocol", "non-ROMA1 message (%d frames) dropped", fr.n);
        } else if (wire_is(&fr, 1, WIRE_HEARTBEAT)) {
            /* nothing more to do */
        } else if (wire_is(&fr, 1, WIRE_REQUEST)) {
            s_on_request(w, &fr);
        } else if (wire_is(&fr, 1, WIRE_DISCONNECT)) {
            /* The broker does not know us (it restarted, or purged us). Several queued heartbeats can
             * each earn a DISCONNECT: one READY per half interval is enough. */
            if (now - w->last_ready >= w->hb_ms / 2) {
                log_info(NULL, "worker.register", "broker does not know this worker: sending READY (kind %s)", w->kind);
                s_send_ready(w, w->draining ? 0 : (uint32_t)w->concurrency);
            }
        } else {
            log_warn(NULL, "worker.protocol", "unknown command dropped");
        }
        wire_frames_close(&fr);
    }
}

/* An executor finished: return the credit (DONE) or forward the answer (REPLY). */
static void s_on_executor(roma_worker *w, executor *e)
{
    wire_frames fr;
    if (wire_recv(e->pipe, &fr, ZMQ_DONTWAIT) != 0) return;
    e->busy = 0;
    w->busy--;
    assert(fr.n == 3);
    unsigned char flags = *(const unsigned char *)wire_data(&fr, 1);
    int done = (flags & WIRE_FLAG_NOREPLY) || wire_size(&fr, 2) == 0;
    wire_part parts[] = {WIRE_STR(WIRE_PROTOCOL), done ? WIRE_STR(WIRE_DONE) : WIRE_STR(WIRE_REPLY),
                         {wire_data(&fr, 0), 8, NULL}, {NULL, 0, &fr.f[2]}};
    if (!w->dealer || wire_send(w->dealer, parts, done ? 3 : 4, ZMQ_DONTWAIT) != 0)
        log_warn(NULL, "worker.send", "answer dropped (broker unreachable): %s",
                 w->dealer ? zmq_strerror(errno) : "no socket");
    wire_frames_close(&fr);
}

/* Hands queued requests to idle executors. */
static void s_dispatch(roma_worker *w)
{
    for (int i = 0; i < w->concurrency && w->qhead; i++) {
        executor *e = &w->ex[i];
        if (e->busy) continue;
        pending *p = w->qhead;
        wire_part parts[] = {{p->token, 8, NULL}, {&p->flags, 1, NULL}, {NULL, 0, &p->payload}};
        if (wire_send(e->pipe, parts, 3, ZMQ_DONTWAIT) != 0) {
            log_error(NULL, "worker.pipe", "executor %d: %s", i, zmq_strerror(errno));
            continue;
        }
        e->busy = 1;
        w->busy++;
        w->qhead = p->next;
        if (!w->qhead) w->qtail = NULL;
        w->qlen--;
        zmq_msg_close(&p->payload);
        free(p);
    }
}

static void s_timers(roma_worker *w)
{
    int64_t now = util_mono_ms();
    if (now >= w->next_hb) {
        s_send_simple(w, WIRE_HEARTBEAT);
        w->next_hb = now + w->hb_ms;
    }
    if (now < w->broker_expiry) return;
    /* Paranoid Pirate: the broker has been silent for liveness x interval. libzmq reconnects TCP by
     * itself, but a half-open connection never heals, so recreate the socket, with a doubling backoff
     * so a long broker outage does not make every worker churn sockets. */
    if (!w->reconnect_at) {
        log_warn(NULL, "worker.broker_lost", "no broker heartbeat for %d ms, reconnecting in %d ms",
                 w->hb_ms * w->liveness, w->backoff_ms);
        w->reconnect_at = now + w->backoff_ms;
    } else if (now >= w->reconnect_at) {
        w->reconnect_at = 0;
        if (w->backoff_ms < ROMA_WORKER_BACKOFF_MAX_MS) w->backoff_ms *= 2;
        if (w->backoff_ms > ROMA_WORKER_BACKOFF_MAX_MS) w->backoff_ms = ROMA_WORKER_BACKOFF_MAX_MS;
        if (s_connect(w) == 0)
            log_info(NULL, "worker.reconnect", "socket recreated, READY queued to %s", w->endpoint);
        else
            w->broker_expiry = now + w->hb_ms; /* retry later */
    }
}

static void s_begin_drain(roma_worker *w)
{
    w->draining = 1;
    log_info(NULL, "worker.drain", "stopping: %d handler(s) running, %d queued request(s) refused", w->busy, w->qlen);
    if (w->dealer) s_send_ready(w, 0); /* credit 0: the broker sends nothing more */
    while (w->qhead) {
        pending *p = w->qhead;
        w->qhead = p->next;
        if (w->dealer) s_refuse(w, p->token, p->flags, "worker stopping");
        zmq_msg_close(&p->payload);
        free(p);
    }
    w->qtail = NULL;
    w->qlen = 0;
}

int roma_worker_run(roma_worker *w, roma_handler fn, void *arg, volatile sig_atomic_t *stop)
{
    assert(w && fn && stop && !w->ran);
    w->ran = 1;
    w->fn = fn;
    w->fn_arg = arg;
    int rc = s_start_executors(w);
    if (rc) return rc;
    zmq_pollitem_t *items = calloc((size_t)w->concurrency + 1, sizeof *items);
    if (!items) {
        s_stop_executors(w);
        return ROMA_ENOMEM;
    }
    rc = s_connect(w);
    log_info(NULL, "worker.start", "kind %s, %d executor(s), broker %s, heartbeat %d ms x %d", w->kind,
             w->concurrency, w->endpoint, w->hb_ms, w->liveness);

    while (!rc) {
        if (*stop && !w->draining) s_begin_drain(w);
        if (w->draining && w->busy == 0) break;
        int n = 0;
        if (w->dealer) items[n++] = (zmq_pollitem_t){w->dealer, 0, ZMQ_POLLIN, 0};
        int first_pipe = n;
        for (int i = 0; i < w->concurrency; i++) items[n++] = (zmq_pollitem_t){w->ex[i].pipe, 0, ZMQ_POLLIN, 0};
        int64_t wait = w->next_hb - util_mono_ms();
        if (wait > WORKER_TICK_MS) wait = WORKER_TICK_MS;
        if (wait < 0) wait = 0;
        if (zmq_poll(items, n, (long)wait) < 0) {
            if (errno == EINTR) continue;
            log_error(NULL, "worker.poll", "%s", zmq_strerror(errno));
            break;
        }
        if (first_pipe && (items[0].revents & ZMQ_POLLIN)) s_on_broker(w);
        for (int i = 0; i < w->concurrency; i++)
            if (items[first_pipe + i].revents & ZMQ_POLLIN) s_on_executor(w, &w->ex[i]);
        if (!w->draining) s_dispatch(w);
        s_timers(w);
    }

    if (!w->draining) s_begin_drain(w); /* the loop ended on an error */
    if (w->dealer) s_send_simple(w, WIRE_DISCONNECT);
    s_stop_executors(w);
    free(items);
    if (w->dealer) {
        zmq_close(w->dealer);
        w->dealer = NULL;
    }
    log_info(NULL, "worker.stop", "kind %s stopped", w->kind);
    return rc;
}
