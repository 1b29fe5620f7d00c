/* broker.c: the roma-broker event loop and the ROMA1 protocol state machine (frames in proto/wire.h,
 * bookkeeping in registry.c). Single-threaded: one zmq_poll over the frontend and backend ROUTERs. */
#include "broker.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "command.h"
#include "log.h"
#include "registry.h"
#include "util.h"
#include "wire.h"

#define BROKER_RECV_BATCH 512   /* messages taken from one socket per loop turn (fairness) */
#define BROKER_EXPIRE_MS 50     /* how often queued requests are checked against their deadline */
#define BROKER_HWM 100000       /* per-peer queues; credit keeps worker queues far below this */
#define BROKER_WARN_EVERY_MS 1000 /* rate limit of "malformed message" warnings */

struct broker {
    broker_config cfg;
    char *frontend, *backend;
    void *ctx, *front, *back;
    reg r;
    uint64_t next_token;
    int64_t next_hb, next_expire, next_stats, last_warn;
};

/* ------------------------------------------------------------------------------------------------ */
/* Setup                                                                                             */

static void *s_bind(void *ctx, const char *endpoint)
{
    void *s = zmq_socket(ctx, ZMQ_ROUTER);
    int one = 1;
    if (!s) return NULL;
    /* ROUTER_MANDATORY turns "peer gone" into EHOSTUNREACH instead of a silent drop: a dead worker
     * is noticed on the next heartbeat we send it, long before its liveness runs out. */
    if (wire_socket_defaults(s, BROKER_HWM, BROKER_HWM) != 0 ||
        zmq_setsockopt(s, ZMQ_ROUTER_MANDATORY, &one, sizeof one) != 0 || zmq_bind(s, endpoint) != 0) {
        log_error(NULL, "broker.bind", "%s: %s", endpoint, zmq_strerror(errno));
        zmq_close(s);
        return NULL;
    }
    return s;
}

broker *broker_new(const broker_config *cfg)
{
    assert(cfg && cfg->frontend && cfg->backend && cfg->heartbeat_ms > 0 && cfg->liveness > 0);
    broker *b = calloc(1, sizeof *b);
    if (!b) return NULL;
    b->cfg = *cfg;
    b->frontend = strdup(cfg->frontend);
    b->backend = strdup(cfg->backend);
    b->ctx = zmq_ctx_new();
    if (!b->frontend || !b->backend || !b->ctx) goto fail;
    b->cfg.frontend = b->frontend;
    b->cfg.backend = b->backend;
    if (!(b->front = s_bind(b->ctx, b->frontend)) || !(b->back = s_bind(b->ctx, b->backend))) goto fail;
    /* Tokens start at a random point so that late answers to a previous broker run cannot match. */
    if (util_random_bytes(&b->next_token, sizeof b->next_token) != 0) goto fail;
    int64_t now = util_mono_ms();
    reg_init(&b->r, cfg->queue_max, now);
    b->next_hb = now + cfg->heartbeat_ms;
    b->next_expire = now + BROKER_EXPIRE_MS;
    b->next_stats = cfg->stats_ms ? now + cfg->stats_ms : INT64_MAX;
    return b;
fail:
    broker_free(b);
    return NULL;
}

void broker_free(broker *b)
{
    if (!b) return;
    reg_clear(&b->r);
    if (b->front) zmq_close(b->front);
    if (b->back) zmq_close(b->back);
    if (b->ctx) {
        if (zmq_ctx_shutdown(b->ctx) != 0)
            log_warn(NULL, "broker.stop", "zmq_ctx_shutdown: %s", zmq_strerror(errno));
        wire_ctx_term(b->ctx);
    }
    free(b->frontend);
    free(b->backend);
    free(b);
}

/* ------------------------------------------------------------------------------------------------ */
/* Sending                                                                                           */

static void s_malformed(broker *b, const char *side, const char *what)
{
    b->r.malformed++;
    int64_t now = util_mono_ms();
    if (now - b->last_warn < BROKER_WARN_EVERY_MS) return;
    b->last_warn = now;
    log_warn(NULL, "broker.malformed", "%s: %s (dropped; %llu malformed so far)", side, what,
             (unsigned long long)b->r.malformed);
}

/* Sends "ROMA1" "REPLY" cid payload to a client. A client that went away is not an error. */
static void s_to_client(broker *b, const reg_request *q, wire_part payload)
{
    wire_part parts[] = {{q->client, q->client_len, NULL}, WIRE_STR(WIRE_PROTOCOL), WIRE_STR(WIRE_REPLY),
                         {q->cid, strlen(q->cid), NULL}, payload};
    if (wire_send(b->front, parts, 5, ZMQ_DONTWAIT) != 0)
        log_debug(q->rid, "broker.client_gone", "reply to %s not delivered: %s", q->cid, zmq_strerror(errno));
}

/* The broker answers on the worker's behalf: type "broker.error", status, {"error": why}. */
static void s_error_reply(broker *b, const reg_request *q, int status, const char *why)
{
    if (q->noreply) return;
    roma_msg m;
    char *buf = NULL;
    size_t len = 0;
    proto_msg_init(&m);
    memcpy(m.type, PROTO_TYPE_BROKER_ERROR, sizeof PROTO_TYPE_BROKER_ERROR);
    memcpy(m.kind, q->kind ? q->kind->name : "", q->kind ? strlen(q->kind->name) + 1 : 1);
    memcpy(m.rid, q->rid, sizeof m.rid);
    memcpy(m.cid, q->cid, sizeof m.cid);
    int rc = proto_reply_error(&m, status, why);
    if (!rc) rc = proto_encode(&m, &buf, &len);
    proto_msg_clear(&m);
    if (rc) {
        log_error(q->rid, "broker.encode", "error reply not built: %s", roma_strerror(rc));
        return;
    }
    s_to_client(b, q, (wire_part){buf, len, NULL});
    free(buf);
}

static void s_log_workers(const reg_kind *k, size_t before, const char *why, const char *worker_name)
{
    log_info(NULL, "broker.workers", "kind %s: live workers %zu -> %zu (%s %s)", k->name, before, k->nworkers,
             worker_name, why);
}

/* Forgets a worker. Callers waiting on requests it held get ROMA_EUNAVAIL "worker lost" at once
 * instead of waiting for their deadline; fire-and-forget commands are only logged: the job rows
 * stay leased in PostgreSQL and the sweeper re-dispatches them. */
static void s_worker_lost(broker *b, reg_worker *w, const char *why)
{
    reg_kind *k = w->kind;
    size_t before = k->nworkers;
    reg_request *q;
    while ((q = reg_inflight_pop(w))) {
        k->c.lost++;
        if (q->noreply)
            log_warn(q->rid, "broker.lost", "%s command in flight at lost worker %s (the sweeper re-dispatches it)",
                     k->name, w->name);
        else
            s_error_reply(b, q, ROMA_EUNAVAIL, "worker lost");
        reg_request_free(q);
    }
    char name[sizeof w->name];
    memcpy(name, w->name, sizeof name);
    reg_worker_remove(&b->r, w); /* frees w */
    s_log_workers(k, before, why, name);
}

/* Sends q to the least recently used worker of k with free credit. Returns 1 when sent, 0 when no
 * worker can take it (q untouched). A worker whose connection is gone is purged on the spot and the
 * next one tried. */
static int s_dispatch(broker *b, reg_kind *k, reg_request *q)
{
    reg_worker *w;
    while ((w = reg_worker_pick(&b->r, k))) {
        unsigned char token[8], flags = q->noreply ? WIRE_FLAG_NOREPLY : 0;
        q->token = b->next_token++;
        wire_put_u64(token, q->token);
        wire_part parts[] = {{w->id, w->id_len, NULL}, WIRE_STR(WIRE_PROTOCOL), WIRE_STR(WIRE_REQUEST),
                             {token, 8, NULL}, {&flags, 1, NULL}, {NULL, 0, &q->payload}};
        if (wire_send(b->back, parts, 6, ZMQ_DONTWAIT) == 0) {
            reg_inflight_add(&b->r, w, q);
            k->c.dispatched++;
            return 1;
        }
        /* EHOSTUNREACH: its connection closed (killed process); EAGAIN: it stopped reading */
        s_worker_lost(b, w, errno == EHOSTUNREACH ? "disconnected" : "not reading");
    }
    return 0;
}

static int s_expired(const reg_request *q, int64_t now_ms) { return q->deadline_ms && now_ms >= q->deadline_ms; }

static void s_expire(broker *b, reg_request *q)
{
    q->kind->c.expired++;
    if (q->noreply)
        log_warn(q->rid, "broker.expired", "%s command expired in the queue (no %s worker)", q->kind->name, q->kind->name);
    else
        s_error_reply(b, q, ROMA_ETIMEDOUT, "no worker available before the deadline");
    reg_request_free(q);
}

/* Moves queued requests of k to workers while credit lasts; drops expired ones on the way. */
static void s_drain(broker *b, reg_kind *k)
{
    int64_t now = util_now_ms();
    reg_request *q;
    while ((q = k->qhead)) {
        reg_queue_unlink(k, q);
        if (s_expired(q, now)) {
            s_expire(b, q);
            continue;
        }
        if (!s_dispatch(b, k, q)) {
            reg_queue_push_front(k, q);
            break;
        }
    }
}

/* ------------------------------------------------------------------------------------------------ */
/* Frontend: clients                                                                                 */

static void s_client_request(broker *b, wire_frames *fr)
{
    char kind[PROTO_KIND_SIZE], cid[PROTO_CID_SIZE], rid[PROTO_RID_SIZE];
    if (fr->n != 9 || wire_str(fr, 3, kind, sizeof kind) || !kind[0] || wire_str(fr, 4, cid, sizeof cid) ||
        wire_str(fr, 5, rid, sizeof rid) || wire_size(fr, 6) != 8 || wire_size(fr, 7) != 1 ||
        wire_size(fr, 0) > REG_ID_MAX) {
        s_malformed(b, "frontend", "bad REQUEST frames");
        return;
    }
    int noreply = (*(const unsigned char *)wire_data(fr, 7) & WIRE_FLAG_NOREPLY) != 0;
    int64_t deadline = (int64_t)wire_get_u64(wire_data(fr, 6));
    if ((!noreply && !cid[0]) || deadline < 0) {
        s_malformed(b, "frontend", "REQUEST without cid or with a negative deadline");
        return;
    }
    reg_request *q = reg_request_new();
    if (!q) {
        log_error(rid, "broker.oom", "request dropped: out of memory");
        return;
    }
    memcpy(q->client, wire_data(fr, 0), wire_size(fr, 0));
    q->client_len = wire_size(fr, 0);
    memcpy(q->cid, cid, sizeof cid);
    memcpy(q->rid, rid, sizeof rid);
    q->deadline_ms = deadline;
    q->noreply = noreply;

    reg_kind *k = reg_kind_get(&b->r, kind, 1);
    if (!k) {
        log_warn(rid, "broker.kinds", "request for kind %s refused: %d kinds already known", kind, REG_MAX_KINDS);
        s_error_reply(b, q, ROMA_EUNAVAIL, "too many kinds");
        reg_request_free(q);
        return;
    }
    q->kind = k;
    k->c.requests++;
    if (s_expired(q, util_now_ms())) {
        s_expire(b, q);
        return;
    }
    if (zmq_msg_move(&q->payload, &fr->f[8]) != 0) {
        log_error(rid, "broker.request", "zmq_msg_move: %s", zmq_strerror(errno));
        reg_request_free(q);
        return;
    }
    /* FIFO per kind: a non-empty queue means no worker has credit, so go behind it */
    if (!k->qhead && s_dispatch(b, k, q)) return;
    if (reg_queue_push(&b->r, k, q) != 0) {
        k->c.dropped++;
        if (noreply)
            log_warn(rid, "broker.dropped", "%s queue full (%zu): command dropped, the sweeper re-dispatches it",
                     kind, k->qlen);
        else
            s_error_reply(b, q, ROMA_EUNAVAIL, "queue full");
        reg_request_free(q);
    }
}

static void s_client_stats(broker *b, wire_frames *fr, const char *cid)
{
    roma_msg m;
    char *buf = NULL;
    size_t len = 0;
    proto_msg_init(&m);
    memcpy(m.type, PROTO_TYPE_STATS, sizeof PROTO_TYPE_STATS);
    memcpy(m.cid, cid, strlen(cid) + 1);
    m.body = reg_stats_json(&b->r, util_mono_ms());
    int rc = m.body ? proto_encode(&m, &buf, &len) : ROMA_ENOMEM;
    proto_msg_clear(&m);
    if (rc) {
        log_error(NULL, "broker.stats", "STATS answer not built: %s", roma_strerror(rc));
        return;
    }
    wire_part parts[] = {{wire_data(fr, 0), wire_size(fr, 0), NULL}, WIRE_STR(WIRE_PROTOCOL), WIRE_STR(WIRE_REPLY),
                         {cid, strlen(cid), NULL}, {buf, len, NULL}};
    if (wire_send(b->front, parts, 5, ZMQ_DONTWAIT) != 0)
        log_debug(NULL, "broker.client_gone", "STATS answer not delivered: %s", zmq_strerror(errno));
    free(buf);
}

static void s_on_frontend(broker *b, wire_frames *fr)
{
    char cid[PROTO_CID_SIZE];
    if (fr->overflow || fr->n < 3 || !wire_is(fr, 1, WIRE_PROTOCOL)) {
        s_malformed(b, "frontend", "not a ROMA1 message");
    } else if (wire_is(fr, 2, WIRE_REQUEST)) {
        s_client_request(b, fr);
    } else if (fr->n == 4 && wire_str(fr, 3, cid, sizeof cid) == 0 && wire_is(fr, 2, WIRE_PING)) {
        wire_part parts[] = {{wire_data(fr, 0), wire_size(fr, 0), NULL}, WIRE_STR(WIRE_PROTOCOL),
                             WIRE_STR(WIRE_PONG), {cid, strlen(cid), NULL}};
        if (wire_send(b->front, parts, 4, ZMQ_DONTWAIT) != 0)
            log_debug(NULL, "broker.client_gone", "PONG not delivered: %s", zmq_strerror(errno));
    } else if (fr->n == 4 && wire_str(fr, 3, cid, sizeof cid) == 0 && wire_is(fr, 2, WIRE_STATS)) {
        s_client_stats(b, fr, cid);
    } else {
        s_malformed(b, "frontend", "unknown command");
    }
}

/* ------------------------------------------------------------------------------------------------ */
/* Backend: workers                                                                                  */

static void s_to_worker(broker *b, const void *id, size_t id_len, const char *cmd)
{
    wire_part parts[] = {{id, id_len, NULL}, WIRE_STR(WIRE_PROTOCOL), {cmd, strlen(cmd), NULL}};
    if (wire_send(b->back, parts, 3, ZMQ_DONTWAIT) != 0)
        log_debug(NULL, "broker.send", "%s not delivered: %s", cmd, zmq_strerror(errno));
}

static void s_worker_ready(broker *b, wire_frames *fr, reg_worker *w, int64_t expiry)
{
    char kind[PROTO_KIND_SIZE];
    if (fr->n != 5 || wire_str(fr, 3, kind, sizeof kind) || !kind[0] || wire_size(fr, 4) != 4) {
        s_malformed(b, "backend", "bad READY frames");
        return;
    }
    uint32_t credit = wire_get_u32(wire_data(fr, 4));
    if (w && strcmp(w->kind->name, kind) != 0) {
        s_worker_lost(b, w, "re-registered under another kind");
        w = NULL;
    }
    if (w) {
        /* a known worker re-announcing itself: only its credit changes (0 = draining) */
        w->credit = credit > REG_MAX_CREDIT ? REG_MAX_CREDIT : credit;
        w->expiry = expiry;
        if (!credit) log_info(NULL, "broker.drain", "worker %s (%s) is draining", w->name, kind);
    } else {
        reg_kind *k = reg_kind_get(&b->r, kind, 1);
        size_t before = k ? k->nworkers : 0;
        w = k ? reg_worker_add(&b->r, wire_data(fr, 0), wire_size(fr, 0), k, credit, expiry) : NULL;
        if (!w) {
            log_warn(NULL, "broker.workers", "READY from a %s worker refused: too many kinds or workers", kind);
            return;
        }
        s_log_workers(k, before, "ready", w->name);
    }
    s_drain(b, w->kind);
}

/* REPLY / DONE from a known worker: forward the answer, free the credit, feed the queue. */
static void s_worker_answer(broker *b, wire_frames *fr, reg_worker *w, int is_reply)
{
    if (fr->n != (is_reply ? 5 : 4) || wire_size(fr, 3) != 8) {
        s_malformed(b, "backend", "bad REPLY/DONE frames");
        return;
    }
    reg_request *q = reg_inflight_take(w, wire_get_u64(wire_data(fr, 3)));
    if (!q) {
        /* an answer to a request already given up on (worker re-registered, broker restarted) */
        log_debug(NULL, "broker.stale", "answer for an unknown token from worker %s ignored", w->name);
        return;
    }
    reg_kind *k = w->kind;
    if (!is_reply) {
        k->c.done++;
        s_error_reply(b, q, ROMA_EIO, "worker sent no answer"); /* no-op for noreply */
    } else if (!q->noreply) {
        k->c.replies++;
        s_to_client(b, q, (wire_part){NULL, 0, &fr->f[4]});
    }
    reg_request_free(q);
    s_drain(b, k);
}

static void s_on_backend(broker *b, wire_frames *fr)
{
    if (fr->overflow || fr->n < 3 || !wire_is(fr, 1, WIRE_PROTOCOL) || wire_size(fr, 0) == 0 ||
        wire_size(fr, 0) > REG_ID_MAX) {
        s_malformed(b, "backend", "not a ROMA1 message");
        return;
    }
    reg_worker *w = reg_worker_find(&b->r, wire_data(fr, 0), wire_size(fr, 0));
    int64_t expiry = util_mono_ms() + (int64_t)b->cfg.heartbeat_ms * b->cfg.liveness;
    if (wire_is(fr, 2, WIRE_READY)) {
        s_worker_ready(b, fr, w, expiry);
        return;
    }
    if (!w) {
        /* A worker we do not know: we restarted, or purged it. Ask it to register again. */
        if (!wire_is(fr, 2, WIRE_DISCONNECT)) {
            b->r.unknown_peers++;
            s_to_worker(b, wire_data(fr, 0), wire_size(fr, 0), WIRE_DISCONNECT);
        }
        return;
    }
    w->expiry = expiry;
    if (wire_is(fr, 2, WIRE_HEARTBEAT)) {
        /* liveness refreshed above */
    } else if (wire_is(fr, 2, WIRE_REPLY)) {
        s_worker_answer(b, fr, w, 1);
    } else if (wire_is(fr, 2, WIRE_DONE)) {
        s_worker_answer(b, fr, w, 0);
    } else if (wire_is(fr, 2, WIRE_DISCONNECT)) {
        s_worker_lost(b, w, "left");
    } else {
        s_malformed(b, "backend", "unknown command");
    }
}

/* ------------------------------------------------------------------------------------------------ */
/* Timers                                                                                            */

/* Heartbeats every worker and purges the dead. The loop visits EVERY worker of every kind: the
 * zguide Majordomo purge stopped at the first live worker, so dead ones queued behind it were never
 * removed (zguide#579). The next pointer is saved first because s_worker_lost frees w. */
static void s_heartbeat(broker *b)
{
    int64_t now = util_mono_ms();
    for (size_t i = 0; i < b->r.nkinds; i++) {
        reg_worker *next;
        for (reg_worker *w = b->r.kinds[i]->workers; w; w = next) {
            next = w->next;
            if (now > w->expiry) {
                s_worker_lost(b, w, "missed heartbeats");
                continue;
            }
            wire_part parts[] = {{w->id, w->id_len, NULL}, WIRE_STR(WIRE_PROTOCOL), WIRE_STR(WIRE_HEARTBEAT)};
            if (wire_send(b->back, parts, 3, ZMQ_DONTWAIT) != 0 && errno == EHOSTUNREACH)
                s_worker_lost(b, w, "disconnected");
        }
    }
}

static void s_expire_queues(broker *b)
{
    int64_t now = util_now_ms();
    for (size_t i = 0; i < b->r.nkinds; i++) {
        reg_kind *k = b->r.kinds[i];
        reg_request *next;
        for (reg_request *q = k->qhead; q; q = next) {
            next = q->next;
            if (s_expired(q, now)) {
                reg_queue_unlink(k, q);
                s_expire(b, q);
            }
        }
    }
}

static void s_log_stats(broker *b, const char *event)
{
    char line[1800];
    reg_stats_line(&b->r, line, sizeof line);
    log_info(NULL, event, "%s", line);
}

static int s_any_queued(const broker *b)
{
    for (size_t i = 0; i < b->r.nkinds; i++)
        if (b->r.kinds[i]->qlen) return 1;
    return 0;
}

/* ------------------------------------------------------------------------------------------------ */
/* Loop                                                                                              */

static void s_recv_batch(broker *b, void *sock, int front)
{
    for (int i = 0; i < BROKER_RECV_BATCH; i++) {
        wire_frames fr;
        if (wire_recv(sock, &fr, ZMQ_DONTWAIT) != 0) return;
        if (front) s_on_frontend(b, &fr);
        else s_on_backend(b, &fr);
        wire_frames_close(&fr);
    }
}

int broker_run(broker *b, volatile sig_atomic_t *stop)
{
    assert(b && stop);
    int rc = 0;
    log_info(NULL, "broker.start", "frontend %s, backend %s, heartbeat %d ms x %d, queue max %zu", b->frontend,
             b->backend, b->cfg.heartbeat_ms, b->cfg.liveness, b->cfg.queue_max);
    while (!*stop) {
        int64_t now = util_mono_ms();
        int64_t wake = b->next_hb < b->next_stats ? b->next_hb : b->next_stats;
        if (s_any_queued(b) && b->next_expire < wake) wake = b->next_expire;
        long timeout = wake > now ? (long)(wake - now) : 0;
        zmq_pollitem_t items[] = {{b->back, 0, ZMQ_POLLIN, 0}, {b->front, 0, ZMQ_POLLIN, 0}};
        if (zmq_poll(items, 2, timeout) < 0) {
            if (errno == EINTR) continue; /* a signal: re-check *stop */
            log_error(NULL, "broker.poll", "%s", zmq_strerror(errno));
            rc = ROMA_EIO;
            break;
        }
        /* workers first: their answers free credit for the requests read next */
        if (items[0].revents & ZMQ_POLLIN) s_recv_batch(b, b->back, 0);
        if (items[1].revents & ZMQ_POLLIN) s_recv_batch(b, b->front, 1);

        now = util_mono_ms();
        if (now >= b->next_hb) {
            s_heartbeat(b);
            b->next_hb = now + b->cfg.heartbeat_ms;
        }
        if (now >= b->next_expire) {
            s_expire_queues(b);
            b->next_expire = now + BROKER_EXPIRE_MS;
        }
        if (now >= b->next_stats) {
            s_log_stats(b, "broker.stats");
            b->next_stats = now + b->cfg.stats_ms;
        }
    }
    s_log_stats(b, "broker.stop");
    return rc;
}
