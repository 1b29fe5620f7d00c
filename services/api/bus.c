/* bus.c: process-wide ZeroMQ context plus one thread-local roma_client per API thread (see bus.h). */
#include "bus.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "log.h"
#include "wire.h"

/* Every live client is also on this list so bus_shutdown can close the sockets of threads that never
 * called bus_thread_exit: zmq_ctx_term would otherwise wait for them forever. */
typedef struct bus_node {
    struct bus_node *next, *prev;
    roma_client *client;
} bus_node;

static pthread_mutex_t s_lock = PTHREAD_MUTEX_INITIALIZER;
static void *s_ctx;
static char *s_endpoint;
static bus_node *s_nodes;
static _Thread_local bus_node *t_node;

int bus_init(const char *endpoint)
{
    if (!endpoint || !*endpoint) return ROMA_EINVAL;
    pthread_mutex_lock(&s_lock);
    int rc = 0;
    if (s_ctx) {
        rc = ROMA_EINVAL;
    } else if (!(s_endpoint = strdup(endpoint))) {
        rc = ROMA_ENOMEM;
    } else if (!(s_ctx = zmq_ctx_new())) {
        free(s_endpoint);
        s_endpoint = NULL;
        rc = ROMA_EIO;
    }
    pthread_mutex_unlock(&s_lock);
    if (!rc) log_info(NULL, "bus.init", "broker frontend %s", endpoint);
    return rc;
}

roma_client *bus_client(void)
{
    if (t_node) return t_node->client;
    bus_node *n = calloc(1, sizeof *n);
    if (!n) return NULL;
    pthread_mutex_lock(&s_lock);
    if (s_ctx) n->client = roma_client_new(s_ctx, s_endpoint);
    if (n->client) {
        n->next = s_nodes;
        if (s_nodes) s_nodes->prev = n;
        s_nodes = n;
    }
    pthread_mutex_unlock(&s_lock);
    if (!n->client) {
        free(n);
        return NULL;
    }
    t_node = n;
    return n->client;
}

static void s_unlink_free(bus_node *n)
{
    if (n->prev) n->prev->next = n->next;
    else s_nodes = n->next;
    if (n->next) n->next->prev = n->prev;
    roma_client_free(n->client);
    free(n);
}

void bus_thread_exit(void)
{
    if (!t_node) return;
    pthread_mutex_lock(&s_lock);
    s_unlink_free(t_node);
    pthread_mutex_unlock(&s_lock);
    t_node = NULL;
}

void bus_shutdown(void)
{
    pthread_mutex_lock(&s_lock);
    if (!s_ctx) {
        pthread_mutex_unlock(&s_lock);
        return;
    }
    size_t leftover = 0;
    while (s_nodes) {
        s_unlink_free(s_nodes);
        leftover++;
    }
    t_node = NULL; /* the calling thread's node, if any, was just freed */
    wire_ctx_term(s_ctx);
    s_ctx = NULL;
    free(s_endpoint);
    s_endpoint = NULL;
    pthread_mutex_unlock(&s_lock);
    if (leftover) log_debug(NULL, "bus.shutdown", "closed %zu client socket(s) left by exited threads", leftover);
}

/* Builds the request header; body stays the caller's (the roma_msg is never cleared). */
static int s_prepare(roma_msg *m, const char *kind, const char *type, const char *rid, cJSON *body)
{
    proto_msg_init(m);
    if (!kind || !*kind) return ROMA_EINVAL;
    int rc = proto_msg_set(m, kind, type, rid);
    if (rc) {
        log_warn(rid, "bus.header", "bad kind/type/rid for %s/%s", kind, type ? type : "");
        return rc;
    }
    m->body = body;
    return 0;
}

int bus_call(const char *kind, const char *type, const char *rid, cJSON *body, int timeout_ms, roma_msg *reply)
{
    roma_msg m;
    proto_msg_init(reply);
    int rc = s_prepare(&m, kind, type, rid, body);
    if (rc) return rc;
    roma_client *c = bus_client();
    if (!c) return ROMA_EUNAVAIL;
    return roma_client_call(c, &m, reply, timeout_ms);
}

int bus_publish(const char *kind, const char *type, const char *rid, cJSON *body)
{
    roma_msg m;
    int rc = s_prepare(&m, kind, type, rid, body);
    if (rc) return rc;
    roma_client *c = bus_client();
    if (!c) return ROMA_EUNAVAIL;
    rc = roma_client_send(c, &m);
    if (rc) log_warn(rid, "bus.publish", "%s/%s not sent: %s", kind, type, roma_strerror(rc));
    return rc;
}

int bus_stats(cJSON **out, int timeout_ms)
{
    *out = NULL;
    roma_client *c = bus_client();
    if (!c) return ROMA_EUNAVAIL;
    return roma_client_stats(c, out, timeout_ms);
}
