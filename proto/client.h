/* client.h: the requester side of the broker protocol (API threads, the job sweeper, tools).
 *
 * A roma_client owns one DEALER socket connected to the broker frontend. ZeroMQ sockets are not
 * thread-safe: use one client per thread (services/api/bus.h keeps one per civetweb thread).
 *
 * The socket uses ZMQ_IMMEDIATE, so nothing is queued while the broker is unreachable: a send either
 * reaches a live connection or fails at once with ROMA_EUNAVAIL (callers answer 503 quickly instead of
 * piling stale requests into a reconnecting pipe). A client created a moment ago has no connection
 * yet, so sends wait briefly for one: calls and a client's first message up to
 * ROMA_CLIENT_CONNECT_WAIT_MS (capped by the call's timeout), later fire-and-forget sends
 * ROMA_CLIENT_SEND_WAIT_MS. */
#ifndef ROMA_PROTO_CLIENT_H
#define ROMA_PROTO_CLIENT_H

#include <cJSON.h>

#include "command.h"
#include "errors.h"

/* How long a fire-and-forget send may wait for a connection before giving up (ms). */
#define ROMA_CLIENT_SEND_WAIT_MS 5
/* How long a call may wait for a connection (capped by its own timeout) before ROMA_EUNAVAIL (ms). */
#define ROMA_CLIENT_CONNECT_WAIT_MS 250

typedef struct roma_client roma_client;

/* Creates a client on zmq_ctx (borrowed, must outlive the client) connected to frontend_endpoint
 * ("tcp://127.0.0.1:5555"). NULL on failure (logged). */
roma_client *roma_client_new(void *zmq_ctx, const char *frontend_endpoint) ROMA_MUST_USE;

/* Closes the socket (linger 0: never blocks) and frees. NULL is a no-op. */
void roma_client_free(roma_client *c);

/* Fire-and-forget: sends cmd (kind, type required) with noreply set and no correlation id. Never
 * blocks longer than ROMA_CLIENT_SEND_WAIT_MS, except for the first message of a client that never
 * sent anything (ROMA_CLIENT_CONNECT_WAIT_MS). Returns 0 once the broker connection accepted the
 * message, ROMA_EUNAVAIL when it could not be queued (no connection, queue full), ROMA_EINVAL /
 * ROMA_ETOOBIG when cmd does not encode. The broker drops commands it cannot queue: callers rely on
 * the database (the job sweeper) for delivery, the bus is only a doorbell. */
int roma_client_send(roma_client *c, const roma_msg *cmd) ROMA_MUST_USE;

/* Request/reply: sends req with a fresh correlation id and deadline = now + timeout_ms (or
 * req->deadline_ms when that is earlier) and waits for the matching answer; replies left over from
 * earlier timed-out calls are discarded. reply is overwritten (fresh storage or cleared message).
 *   0               reply filled with the worker's answer; reply->status is the handler's status
 *   ROMA_ETIMEDOUT  no answer before the deadline (or the broker expired it in its queue)
 *   ROMA_EUNAVAIL   broker unreachable, worker lost while handling it, or broker queue full
 *   ROMA_EINVAL / ROMA_ETOOBIG  req does not encode; ROMA_EIO an undecodable answer
 * On a non-zero return reply is left cleared (nothing to free). */
int roma_client_call(roma_client *c, const roma_msg *req, roma_msg *reply, int timeout_ms) ROMA_MUST_USE;

/* Asks the broker for its statistics (see services/broker/stats: workers per kind, queue lengths,
 * counters). *out receives a cJSON object to cJSON_Delete. 0, ROMA_ETIMEDOUT or ROMA_EUNAVAIL. */
int roma_client_stats(roma_client *c, cJSON **out, int timeout_ms) ROMA_MUST_USE;

/* Liveness probe: PING, wait for PONG. 0, ROMA_ETIMEDOUT or ROMA_EUNAVAIL. */
int roma_client_ping(roma_client *c, int timeout_ms) ROMA_MUST_USE;

#endif
