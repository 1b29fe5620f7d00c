/* wire.h: the ZeroMQ frames between clients, the broker and workers (protocol "ROMA1"), plus small
 * helpers to receive and send multipart messages.
 *
 * Topology: clients (API threads, the job sweeper, tools) hold a DEALER connected to the broker's
 * ROUTER frontend; workers hold a DEALER connected to the broker's ROUTER backend. The ROUTER adds /
 * strips the peer identity frame, which is not shown below. There is no empty delimiter frame.
 * Every message starts with the protocol frame "ROMA1" and a command frame (ASCII, no NUL).
 * Numbers are fixed-width big-endian binary: u8, u32, i64/u64. The payload is a msgpack roma_msg
 * (proto/command.h); the broker never decodes payloads, it routes on the frames.
 *
 * Frontend (client <-> broker):
 *   REQUEST  c->b  "ROMA1" "REQUEST" kind cid rid deadline:i64 flags:u8 payload
 *            kind: 1..23 bytes; cid: 0..32 (empty allowed with NOREPLY); rid: 0..64;
 *            deadline: epoch ms, 0 = none; flags bit 0 = WIRE_FLAG_NOREPLY (no answer of any kind).
 *   REPLY    b->c  "ROMA1" "REPLY" cid payload
 *            payload type "reply" (from the worker, status = handler status), "broker.error" (the
 *            broker answering: ROMA_ETIMEDOUT deadline passed in the queue, ROMA_EUNAVAIL worker
 *            lost / queue full / too many kinds; body {"error": text}) or "stats" (answer to STATS).
 *   STATS    c->b  "ROMA1" "STATS" cid          -> REPLY cid payload(type "stats", body = statistics)
 *   PING     c->b  "ROMA1" "PING" cid           -> "ROMA1" "PONG" cid
 *
 * Backend (worker <-> broker):
 *   READY      w->b  "ROMA1" "READY" kind credit:u32
 *              Registers the worker (or, from a registered worker, updates its credit: credit 0 =
 *              drain, send me nothing more). credit = requests it may hold at once.
 *   HEARTBEAT  both  "ROMA1" "HEARTBEAT"
 *              Each side sends one every ROMA_HEARTBEAT_MS; any message counts as a sign of life; a
 *              peer silent for ROMA_HEARTBEAT_LIVENESS intervals is dead.
 *   REQUEST    b->w  "ROMA1" "REQUEST" token:u64 flags:u8 payload
 *              token: broker-chosen id of this delivery (random start per broker run).
 *   REPLY      w->b  "ROMA1" "REPLY" token payload    (request expected an answer)
 *   DONE       w->b  "ROMA1" "DONE" token             (NOREPLY request finished: returns the credit)
 *   DISCONNECT w->b  "ROMA1" "DISCONNECT"             worker leaving: forget me now
 *   DISCONNECT b->w  "ROMA1" "DISCONNECT"             "I do not know you" (broker restarted or purged
 *              you): the worker re-sends READY on the same socket.
 * The broker ignores REPLY/DONE tokens it does not have in flight for that worker (late answers after
 * a purge or a broker restart). */
#ifndef ROMA_PROTO_WIRE_H
#define ROMA_PROTO_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include <zmq.h>

#include "errors.h"

#define WIRE_PROTOCOL "ROMA1"

#define WIRE_REQUEST "REQUEST"
#define WIRE_REPLY "REPLY"
#define WIRE_STATS "STATS"
#define WIRE_PING "PING"
#define WIRE_PONG "PONG"
#define WIRE_READY "READY"
#define WIRE_HEARTBEAT "HEARTBEAT"
#define WIRE_DONE "DONE"
#define WIRE_DISCONNECT "DISCONNECT"

#define WIRE_FLAG_NOREPLY 0x01u

/* More frames than any valid message has (REQUEST from a client through a ROUTER: identity + 8). */
#define WIRE_MAX_FRAMES 12

/* Inbound frame size cap set as ZMQ_MAXMSGSIZE on every socket of the protocol: a peer that sends a
 * bigger frame is disconnected by libzmq before the frame is buffered. */
#define WIRE_MAX_FRAME_BYTES ((int64_t)16 * 1024 * 1024 + 4096)

/* Default heartbeat settings (overridden by ROMA_HEARTBEAT_MS / ROMA_HEARTBEAT_LIVENESS). */
#define WIRE_HEARTBEAT_MS_DEFAULT 1000
#define WIRE_HEARTBEAT_LIVENESS_DEFAULT 3

/* One received multipart message. n frames are initialised (close with wire_frames_close). */
typedef struct wire_frames {
    int n;
    int overflow; /* the message had more than WIRE_MAX_FRAMES frames (extra ones were discarded) */
    zmq_msg_t f[WIRE_MAX_FRAMES];
} wire_frames;

/* Receives one whole multipart message. flags: 0 or ZMQ_DONTWAIT. Returns 0, or ROMA_EIO with errno
 * from libzmq left intact (EAGAIN, EINTR, ETERM...); on error nothing needs closing. */
int wire_recv(void *sock, wire_frames *fr, int flags) ROMA_MUST_USE;
void wire_frames_close(wire_frames *fr);

static inline const void *wire_data(wire_frames *fr, int i) { return zmq_msg_data(&fr->f[i]); }
static inline size_t wire_size(wire_frames *fr, int i) { return zmq_msg_size(&fr->f[i]); }
/* 1 when frame i exists and holds exactly the bytes of s. */
int wire_is(wire_frames *fr, int i, const char *s);
/* Copies frame i into a NUL-terminated buffer if it is a valid header string for cap (see
 * proto_header_ok). 0 or ROMA_EINVAL. */
int wire_str(wire_frames *fr, int i, char *dst, size_t cap) ROMA_MUST_USE;

/* One frame to send: either bytes (copied) or, when msg is non-NULL, a zmq_msg_t whose content is
 * moved out zero-copy (the msg is left empty on success and untouched on failure). */
typedef struct wire_part {
    const void *data;
    size_t len;
    zmq_msg_t *msg;
} wire_part;

#define WIRE_STR(s) ((wire_part){(s), sizeof(s) - 1, NULL})

/* Sends parts as one multipart message. flags: 0 or ZMQ_DONTWAIT. libzmq delivers multipart messages
 * atomically, so a failure can only happen on the first frame (nothing sent). Returns 0 or ROMA_EIO
 * with errno intact (EAGAIN: peer's queue full / no connected peer; EHOSTUNREACH: unknown identity
 * on a ZMQ_ROUTER_MANDATORY socket). */
int wire_send(void *sock, const wire_part *parts, int n, int flags) ROMA_MUST_USE;

/* zmq_ctx_term, restarted when a signal interrupts it (it returns EINTR then and the context would
 * leak). Every socket of ctx must be closed first. NULL is a no-op. */
void wire_ctx_term(void *ctx);

/* Sets the options every socket of the protocol uses: linger 0 (never block zmq_ctx_term), the
 * inbound frame cap and the given high-water marks. Returns 0 or ROMA_EIO. */
int wire_socket_defaults(void *sock, int sndhwm, int rcvhwm) ROMA_MUST_USE;

static inline void wire_put_u32(unsigned char b[4], uint32_t v)
{
    b[0] = (unsigned char)(v >> 24); b[1] = (unsigned char)(v >> 16);
    b[2] = (unsigned char)(v >> 8);  b[3] = (unsigned char)v;
}
static inline uint32_t wire_get_u32(const unsigned char b[4])
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}
static inline void wire_put_u64(unsigned char b[8], uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8) b[i] = (unsigned char)v;
}
static inline uint64_t wire_get_u64(const unsigned char b[8])
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v = v << 8 | b[i];
    return v;
}

#endif
