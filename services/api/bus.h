/* bus.h: the API process's connection to the broker: one ZeroMQ context for the process and one
 * roma_client (DEALER socket) per thread, created on first use.
 *
 * Lifecycle: bus_init() before starting civetweb; every thread that used the bus calls
 * bus_thread_exit() before it ends (civetweb's exit_thread callback; the job sweeper at its exit);
 * bus_shutdown() after mg_stop() and after the sweeper joined. Sockets have linger 0, so
 * bus_shutdown never blocks on undelivered messages. */
#ifndef ROMA_API_BUS_H
#define ROMA_API_BUS_H

#include <cJSON.h>

#include "client.h"
#include "command.h"
#include "errors.h"

/* Creates the process context; endpoint is the broker frontend (copied). 0, ROMA_EINVAL when already
 * initialised, ROMA_ENOMEM / ROMA_EIO. */
int bus_init(const char *endpoint) ROMA_MUST_USE;

/* Closes the sockets of threads that did not call bus_thread_exit (only safe once those threads are
 * gone) and terminates the context. No-op when not initialised. */
void bus_shutdown(void);

/* The calling thread's client, created lazily; NULL when the bus is not initialised or the socket
 * could not be created (logged). Never share it with another thread. */
roma_client *bus_client(void);

/* Closes the calling thread's client, if any. Idempotent. */
void bus_thread_exit(void);

/* Request/reply to a worker of `kind`: body is borrowed (not freed, may be NULL). reply is
 * overwritten; on 0 the caller owns it (proto_msg_clear) and reads reply->status / reply->body.
 * Errors as roma_client_call: ROMA_ETIMEDOUT, ROMA_EUNAVAIL, ROMA_EINVAL, ROMA_ETOOBIG, ROMA_EIO. */
int bus_call(const char *kind, const char *type, const char *rid, cJSON *body, int timeout_ms, roma_msg *reply)
    ROMA_MUST_USE;

/* Fire-and-forget command (body borrowed). Never blocks more than a few ms. 0 or ROMA_EUNAVAIL /
 * ROMA_EINVAL / ROMA_ETOOBIG. Job commands may be lost: the database sweeper re-dispatches them. */
int bus_publish(const char *kind, const char *type, const char *rid, cJSON *body) ROMA_MUST_USE;

/* Broker statistics (see roma_client_stats); *out to cJSON_Delete. */
int bus_stats(cJSON **out, int timeout_ms) ROMA_MUST_USE;

#endif
