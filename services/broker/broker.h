/* broker.h: the roma-broker event loop: a ROUTER frontend for clients and a ROUTER backend for
 * workers speaking ROMA1 (proto/wire.h), routing requests by kind to workers with free credit. */
#ifndef ROMA_BROKER_BROKER_H
#define ROMA_BROKER_BROKER_H

#include <signal.h>
#include <stddef.h>

#include "errors.h"

typedef struct broker_config {
    const char *frontend;  /* endpoint to bind for clients, e.g. tcp://127.0.0.1:5555 */
    const char *backend;   /* endpoint to bind for workers, e.g. tcp://127.0.0.1:5556 */
    int heartbeat_ms;      /* interval of HEARTBEATs to workers and of the liveness purge */
    int liveness;          /* missed heartbeats before a worker is dead */
    size_t queue_max;      /* per-kind queue bound */
    int stats_ms;          /* period of the stats log line, 0 = off */
} broker_config;

typedef struct broker broker;

/* Creates the context and binds both sockets. NULL on failure (logged). cfg strings are copied. */
broker *broker_new(const broker_config *cfg) ROMA_MUST_USE;

/* Runs until *stop is set (by a signal handler). Returns 0, or ROMA_EIO when the loop failed. */
int broker_run(broker *b, volatile sig_atomic_t *stop) ROMA_MUST_USE;

/* Closes the sockets (linger 0), terminates the context and frees all state. NULL is a no-op. */
void broker_free(broker *b);

#endif
