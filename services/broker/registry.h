/* registry.h: the broker's bookkeeping: kinds, their live workers and credit, per-kind request queues,
 * requests in flight per worker, counters and the STATS document. Pure data structures: no socket I/O
 * (broker.c does that), so every decision about what to send is made in one place.
 *
 * Sizes: at most REG_MAX_KINDS kinds and REG_MAX_WORKERS workers; lookups are linear scans (tens of
 * workers in practice), the per-kind queues are bounded by queue_max. */
#ifndef ROMA_BROKER_REGISTRY_H
#define ROMA_BROKER_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>
#include <zmq.h>

#include "command.h"

#define REG_MAX_KINDS 64
#define REG_MAX_WORKERS 4096
#define REG_MAX_CREDIT 1024 /* a READY announcing more is clamped */
#define REG_ID_MAX 255      /* ZeroMQ routing ids are 1..255 bytes */

typedef struct reg_kind reg_kind;
typedef struct reg_worker reg_worker;

/* A client request, queued in its kind or in flight at a worker. */
typedef struct reg_request {
    struct reg_request *next, *prev;
    reg_kind *kind;
    uint64_t token;       /* set when dispatched */
    unsigned char client[REG_ID_MAX];
    size_t client_len;
    char cid[PROTO_CID_SIZE];
    char rid[PROTO_RID_SIZE];
    int64_t deadline_ms;  /* epoch ms, 0 = none */
    int noreply;
    zmq_msg_t payload;    /* moved out (empty) once sent to a worker */
} reg_request;

typedef struct reg_counters {
    uint64_t requests;   /* accepted from clients */
    uint64_t dispatched; /* sent to a worker */
    uint64_t replies;    /* REPLY forwarded to a client */
    uint64_t done;       /* DONE received (fire-and-forget finished) */
    uint64_t expired;    /* deadline passed while queued (client answered ROMA_ETIMEDOUT) */
    uint64_t lost;       /* in flight at a worker that died or left */
    uint64_t dropped;    /* refused: queue full */
} reg_counters;

struct reg_kind {
    char name[PROTO_KIND_SIZE];
    reg_request *qhead, *qtail;
    size_t qlen;
    reg_worker *workers; /* live workers of this kind */
    size_t nworkers;
    reg_counters c;
};

struct reg_worker {
    reg_worker *next, *prev; /* in its kind's list */
    unsigned char id[REG_ID_MAX];
    size_t id_len;
    char name[2 * 8 + 1];    /* hex of the first 8 id bytes, for logs */
    reg_kind *kind;
    uint32_t credit;         /* announced capacity (0 = draining) */
    uint32_t inflight_n;
    reg_request *inflight;
    int64_t expiry;          /* mono ms: dead after this unless it speaks */
    uint64_t last_used;      /* dispatch sequence number, for least-recently-used choice */
    int64_t since;           /* mono ms of registration */
};

typedef struct reg {
    reg_kind *kinds[REG_MAX_KINDS];
    size_t nkinds;
    size_t nworkers;
    size_t queue_max;
    uint64_t seq;
    int64_t started;         /* mono ms */
    uint64_t malformed;      /* protocol violations seen */
    uint64_t unknown_peers;  /* messages from workers we did not know (DISCONNECT sent) */
} reg;

void reg_init(reg *r, size_t queue_max, int64_t now_mono);
/* Frees every kind, worker and request. */
void reg_clear(reg *r);

/* The kind called name; created when create is set (NULL when absent, REG_MAX_KINDS reached or
 * out of memory). */
reg_kind *reg_kind_get(reg *r, const char *name, int create);

reg_worker *reg_worker_find(reg *r, const void *id, size_t id_len);
/* Registers a worker (NULL when REG_MAX_WORKERS reached or out of memory). */
reg_worker *reg_worker_add(reg *r, const void *id, size_t id_len, reg_kind *k, uint32_t credit, int64_t expiry);
/* Unlinks and frees w. Its in-flight list must have been emptied with reg_inflight_pop first. */
void reg_worker_remove(reg *r, reg_worker *w);
/* The least recently used worker of k with free credit, or NULL. */
reg_worker *reg_worker_pick(reg *r, reg_kind *k);

reg_request *reg_request_new(void);
void reg_request_free(reg_request *q);

/* Per-kind FIFO. push returns ROMA_ETOOBIG when the queue holds queue_max requests. */
int reg_queue_push(reg *r, reg_kind *k, reg_request *q) ROMA_MUST_USE;
void reg_queue_push_front(reg_kind *k, reg_request *q);
reg_request *reg_queue_pop(reg_kind *k);
void reg_queue_unlink(reg_kind *k, reg_request *q);

void reg_inflight_add(reg *r, reg_worker *w, reg_request *q);
/* Removes and returns the request with token from w's in-flight list, NULL when unknown. */
reg_request *reg_inflight_take(reg_worker *w, uint64_t token);
/* Removes and returns any in-flight request of w (NULL when none). */
reg_request *reg_inflight_pop(reg_worker *w);

/* The STATS document (caller cJSON_Deletes), NULL on allocation failure:
 * {"uptime_ms", "workers": total, "queued": total, "malformed", "unknown_peers",
 *  "kinds": {name: {"workers", "credit", "inflight", "queued", "requests", "dispatched", "replies",
 *                   "done", "expired", "lost", "dropped"}},
 *  "worker_list": [{"id", "kind", "credit", "inflight", "age_ms"}]} */
cJSON *reg_stats_json(const reg *r, int64_t now_mono);

/* One-line summary for the periodic log: "workers=3 queued=0 asset[w=1 q=0 f=0 req=5] ..." */
void reg_stats_line(const reg *r, char *buf, size_t cap);

#endif
