/* client.c: requester side of the ROMA1 protocol: fire-and-forget commands, request/reply calls
 * with correlation ids and deadlines, STATS and PING (see client.h and wire.h). */
#include "client.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "log.h"
#include "util.h"
#include "wire.h"

/* Outbound queue bound: with ZMQ_IMMEDIATE messages only queue on a live connection, so this caps the
 * burst a single thread can have in flight towards a slow broker before sends fail with EUNAVAIL. */
#define CLIENT_SNDHWM 1000
#define CLIENT_RCVHWM 1000

struct roma_client {
    void *sock;
    char cid_prefix[17]; /* 16 random hex chars: cids are unique across clients and restarts */
    uint64_t seq;
    int sent_once; /* a send succeeded: the connection handshake is behind us */
};

roma_client *roma_client_new(void *zmq_ctx, const char *frontend_endpoint)
{
    assert(zmq_ctx && frontend_endpoint);
    roma_client *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    unsigned char rnd[8];
    if (util_random_bytes(rnd, sizeof rnd) != 0) {
        free(c);
        return NULL;
    }
    util_hex_encode(rnd, sizeof rnd, c->cid_prefix);

    c->sock = zmq_socket(zmq_ctx, ZMQ_DEALER);
    if (!c->sock) {
        log_error(NULL, "bus.client", "zmq_socket: %s", zmq_strerror(errno));
        free(c);
        return NULL;
    }
    int one = 1;
    if (wire_socket_defaults(c->sock, CLIENT_SNDHWM, CLIENT_RCVHWM) != 0 ||
        zmq_setsockopt(c->sock, ZMQ_IMMEDIATE, &one, sizeof one) != 0 ||
        zmq_connect(c->sock, frontend_endpoint) != 0) {
        log_error(NULL, "bus.client", "connect %s: %s", frontend_endpoint, zmq_strerror(errno));
        zmq_close(c->sock);
        free(c);
        return NULL;
    }
    return c;
}

void roma_client_free(roma_client *c)
{
    if (!c) return;
    zmq_close(c->sock);
    free(c);
}

static void s_next_cid(roma_client *c, char cid[PROTO_CID_SIZE])
{
    snprintf(cid, PROTO_CID_SIZE, "%s%016" PRIx64, c->cid_prefix, ++c->seq);
}

/* Sends a multipart message without blocking; when no connection is ready yet (fresh client, broker
 * restarting) waits up to wait_ms for one. ROMA_EUNAVAIL when it could not be queued. */
static int s_send(roma_client *c, const wire_part *parts, int n, int wait_ms)
{
    int64_t end = util_mono_ms() + wait_ms;
    for (;;) {
        if (wire_send(c->sock, parts, n, ZMQ_DONTWAIT) == 0) {
            c->sent_once = 1;
            return 0;
        }
        if (errno != EAGAIN) {
            log_warn(NULL, "bus.send", "zmq_send: %s", zmq_strerror(errno));
            return ROMA_EUNAVAIL;
        }
        int64_t left = end - util_mono_ms();
        if (left <= 0) return ROMA_EUNAVAIL;
        zmq_pollitem_t it = {c->sock, 0, ZMQ_POLLOUT, 0};
        if (zmq_poll(&it, 1, (long)left) < 0 && errno != EINTR) return ROMA_EUNAVAIL;
    }
}

/* Waits until end_mono for a message "ROMA1" <cmd> <cid> [payload] matching cid; everything else
 * (answers to earlier calls that timed out) is dropped. On 0, fr holds the message (caller closes). */
static int s_await(roma_client *c, const char *cmd, const char *cid, int64_t end_mono, wire_frames *fr)
{
    for (;;) {
        int64_t left = end_mono - util_mono_ms();
        if (left <= 0) return ROMA_ETIMEDOUT;
        zmq_pollitem_t it = {c->sock, 0, ZMQ_POLLIN, 0};
        int rc = zmq_poll(&it, 1, (long)left);
        if (rc < 0) {
            if (errno == EINTR) continue;
            return ROMA_EUNAVAIL; /* ETERM: the context is going away */
        }
        if (rc == 0) continue;
        if (wire_recv(c->sock, fr, ZMQ_DONTWAIT) != 0) {
            if (errno == EAGAIN || errno == EINTR) continue;
            return ROMA_EUNAVAIL;
        }
        if (!fr->overflow && wire_is(fr, 0, WIRE_PROTOCOL) && wire_is(fr, 1, cmd) && wire_is(fr, 2, cid))
            return 0;
        log_debug(NULL, "bus.stale", "dropped a %d-frame message not matching cid %s", fr->n, cid);
        wire_frames_close(fr);
    }
}

static int64_t s_min_positive(int64_t a, int64_t b)
{
    if (a <= 0) return b;
    if (b <= 0) return a;
    return a < b ? a : b;
}

/* Sends a REQUEST; cid "" and noreply for fire-and-forget. */
static int s_send_request(roma_client *c, const roma_msg *m, int wait_ms)
{
    char *buf;
    size_t len;
    int rc = proto_encode(m, &buf, &len);
    if (rc) return rc;
    unsigned char dl[8], flags = m->noreply ? WIRE_FLAG_NOREPLY : 0;
    wire_put_u64(dl, (uint64_t)m->deadline_ms);
    wire_part parts[] = {
        WIRE_STR(WIRE_PROTOCOL),       WIRE_STR(WIRE_REQUEST),
        {m->kind, strlen(m->kind), NULL}, {m->cid, strlen(m->cid), NULL},
        {m->rid, strlen(m->rid), NULL},  {dl, sizeof dl, NULL},
        {&flags, 1, NULL},              {buf, len, NULL},
    };
    rc = s_send(c, parts, (int)(sizeof parts / sizeof parts[0]), wait_ms);
    free(buf);
    return rc;
}

int roma_client_send(roma_client *c, const roma_msg *cmd)
{
    assert(c && cmd);
    if (!cmd->kind[0] || !cmd->type[0]) return ROMA_EINVAL;
    roma_msg m = *cmd; /* shallow: the body stays the caller's */
    m.noreply = 1;
    m.cid[0] = '\0';
    m.status = 0;
    /* A client created a moment ago is still in its TCP + ZMTP handshake (a few ms, more under
     * sanitizers or load); give its first message the connect allowance instead of failing it. */
    return s_send_request(c, &m, c->sent_once ? ROMA_CLIENT_SEND_WAIT_MS : ROMA_CLIENT_CONNECT_WAIT_MS);
}

int roma_client_call(roma_client *c, const roma_msg *req, roma_msg *reply, int timeout_ms)
{
    assert(c && req && reply);
    proto_msg_init(reply);
    if (!req->kind[0] || !req->type[0] || timeout_ms <= 0) return ROMA_EINVAL;

    int64_t now = util_now_ms(), mono = util_mono_ms();
    roma_msg m = *req; /* shallow: the body stays the caller's */
    m.noreply = 0;
    m.status = 0;
    m.deadline_ms = s_min_positive(req->deadline_ms, now + timeout_ms);
    if (m.deadline_ms <= now) return ROMA_ETIMEDOUT;
    int64_t end = mono + (m.deadline_ms - now);
    s_next_cid(c, m.cid);

    int wait = (int)(m.deadline_ms - now);
    int rc = s_send_request(c, &m, wait < ROMA_CLIENT_CONNECT_WAIT_MS ? wait : ROMA_CLIENT_CONNECT_WAIT_MS);
    if (rc) return rc;

    wire_frames fr;
    rc = s_await(c, WIRE_REPLY, m.cid, end, &fr);
    if (rc) return rc;
    if (fr.n != 4) {
        rc = ROMA_EIO;
    } else {
        rc = proto_decode(wire_data(&fr, 3), wire_size(&fr, 3), reply);
        if (rc) rc = ROMA_EIO;
    }
    wire_frames_close(&fr);
    if (rc) {
        log_warn(m.rid, "bus.reply", "undecodable reply to %s/%s", m.kind, m.type);
        return rc;
    }
    /* The broker answered on the worker's behalf (no worker before the deadline, worker lost, queue
     * full): surface that as the call's own error so callers need one check for transport failures. */
    if (!strcmp(reply->type, PROTO_TYPE_BROKER_ERROR)) {
        rc = reply->status < 0 ? reply->status : ROMA_EIO;
        proto_msg_clear(reply);
        return rc;
    }
    return 0;
}

/* Sends "ROMA1" <cmd> <cid> and waits for "ROMA1" <answer> <cid> ... within timeout_ms. */
static int s_control(roma_client *c, const char *cmd, const char *answer, int timeout_ms, wire_frames *fr)
{
    if (timeout_ms <= 0) return ROMA_EINVAL;
    char cid[PROTO_CID_SIZE];
    s_next_cid(c, cid);
    int64_t end = util_mono_ms() + timeout_ms;
    wire_part parts[] = {WIRE_STR(WIRE_PROTOCOL), {cmd, strlen(cmd), NULL}, {cid, strlen(cid), NULL}};
    int wait = timeout_ms < ROMA_CLIENT_CONNECT_WAIT_MS ? timeout_ms : ROMA_CLIENT_CONNECT_WAIT_MS;
    int rc = s_send(c, parts, 3, wait);
    if (rc) return rc;
    return s_await(c, answer, cid, end, fr);
}

int roma_client_ping(roma_client *c, int timeout_ms)
{
    assert(c);
    wire_frames fr;
    int rc = s_control(c, WIRE_PING, WIRE_PONG, timeout_ms, &fr);
    if (rc) return rc;
    wire_frames_close(&fr);
    return 0;
}

int roma_client_stats(roma_client *c, cJSON **out, int timeout_ms)
{
    assert(c && out);
    *out = NULL;
    wire_frames fr;
    int rc = s_control(c, WIRE_STATS, WIRE_REPLY, timeout_ms, &fr);
    if (rc) return rc;
    roma_msg m;
    rc = fr.n == 4 ? proto_decode(wire_data(&fr, 3), wire_size(&fr, 3), &m) : ROMA_EINVAL;
    wire_frames_close(&fr);
    if (rc) return ROMA_EIO;
    if (strcmp(m.type, PROTO_TYPE_STATS) != 0 || !cJSON_IsObject(m.body)) {
        proto_msg_clear(&m);
        return ROMA_EIO;
    }
    *out = m.body;
    m.body = NULL;
    proto_msg_clear(&m);
    return 0;
}
