/* registry.c: kinds, workers, queues and counters of the broker (see registry.h). */
#include "registry.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

void reg_init(reg *r, size_t queue_max, int64_t now_mono)
{
    memset(r, 0, sizeof *r);
    r->queue_max = queue_max;
    r->started = now_mono;
}

void reg_clear(reg *r)
{
    for (size_t i = 0; i < r->nkinds; i++) {
        reg_kind *k = r->kinds[i];
        reg_request *q;
        while ((q = reg_queue_pop(k))) reg_request_free(q);
        while (k->workers) {
            reg_worker *w = k->workers;
            while ((q = reg_inflight_pop(w))) reg_request_free(q);
            reg_worker_remove(r, w);
        }
        free(k);
        r->kinds[i] = NULL;
    }
    r->nkinds = 0;
}

reg_kind *reg_kind_get(reg *r, const char *name, int create)
{
    for (size_t i = 0; i < r->nkinds; i++)
        if (!strcmp(r->kinds[i]->name, name)) return r->kinds[i];
    if (!create || r->nkinds == REG_MAX_KINDS) return NULL;
    size_t n = strlen(name);
    assert(n > 0 && n < PROTO_KIND_SIZE);
    reg_kind *k = calloc(1, sizeof *k);
    if (!k) return NULL;
    memcpy(k->name, name, n + 1);
    r->kinds[r->nkinds++] = k;
    return k;
}

reg_worker *reg_worker_find(reg *r, const void *id, size_t id_len)
{
    for (size_t i = 0; i < r->nkinds; i++)
        for (reg_worker *w = r->kinds[i]->workers; w; w = w->next)
            if (w->id_len == id_len && !memcmp(w->id, id, id_len)) return w;
    return NULL;
}

reg_worker *reg_worker_add(reg *r, const void *id, size_t id_len, reg_kind *k, uint32_t credit, int64_t expiry)
{
    assert(id_len > 0 && id_len <= REG_ID_MAX);
    if (r->nworkers >= REG_MAX_WORKERS) return NULL;
    reg_worker *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    memcpy(w->id, id, id_len);
    w->id_len = id_len;
    util_hex_encode(w->id, id_len < 8 ? id_len : 8, w->name);
    w->kind = k;
    w->credit = credit > REG_MAX_CREDIT ? REG_MAX_CREDIT : credit;
    w->expiry = expiry;
    w->since = util_mono_ms();
    /* last_used 0: a new worker is the least recently used, so it gets the next request */
    w->next = k->workers;
    if (k->workers) k->workers->prev = w;
    k->workers = w;
    k->nworkers++;
    r->nworkers++;
    return w;
}

void reg_worker_remove(reg *r, reg_worker *w)
{
    assert(w->inflight == NULL);
    reg_kind *k = w->kind;
    if (w->prev) w->prev->next = w->next;
    else k->workers = w->next;
    if (w->next) w->next->prev = w->prev;
    k->nworkers--;
    r->nworkers--;
    free(w);
}

reg_worker *reg_worker_pick(reg *r, reg_kind *k)
{
    (void)r;
    reg_worker *best = NULL;
    for (reg_worker *w = k->workers; w; w = w->next)
        if (w->inflight_n < w->credit && (!best || w->last_used < best->last_used)) best = w;
    return best;
}

reg_request *reg_request_new(void)
{
    reg_request *q = calloc(1, sizeof *q);
    if (!q) return NULL;
    if (zmq_msg_init(&q->payload) != 0) {
        free(q);
        return NULL;
    }
    return q;
}

void reg_request_free(reg_request *q)
{
    if (!q) return;
    zmq_msg_close(&q->payload);
    free(q);
}

/* Doubly linked list helpers shared by queues and in-flight lists. */
static void s_link_tail(reg_request **head, reg_request **tail, reg_request *q)
{
    q->next = NULL;
    q->prev = *tail;
    if (*tail) (*tail)->next = q;
    else *head = q;
    *tail = q;
}

static void s_unlink(reg_request **head, reg_request **tail, reg_request *q)
{
    if (q->prev) q->prev->next = q->next;
    else *head = q->next;
    if (q->next) q->next->prev = q->prev;
    else if (tail) *tail = q->prev;
    q->next = q->prev = NULL;
}

int reg_queue_push(reg *r, reg_kind *k, reg_request *q)
{
    if (k->qlen >= r->queue_max) return ROMA_ETOOBIG;
    q->kind = k;
    s_link_tail(&k->qhead, &k->qtail, q);
    k->qlen++;
    return 0;
}

void reg_queue_push_front(reg_kind *k, reg_request *q)
{
    q->kind = k;
    q->prev = NULL;
    q->next = k->qhead;
    if (k->qhead) k->qhead->prev = q;
    else k->qtail = q;
    k->qhead = q;
    k->qlen++;
}

reg_request *reg_queue_pop(reg_kind *k)
{
    reg_request *q = k->qhead;
    if (q) reg_queue_unlink(k, q);
    return q;
}

void reg_queue_unlink(reg_kind *k, reg_request *q)
{
    s_unlink(&k->qhead, &k->qtail, q);
    k->qlen--;
}

void reg_inflight_add(reg *r, reg_worker *w, reg_request *q)
{
    q->prev = NULL;
    q->next = w->inflight;
    if (w->inflight) w->inflight->prev = q;
    w->inflight = q;
    w->inflight_n++;
    w->last_used = ++r->seq;
}

reg_request *reg_inflight_take(reg_worker *w, uint64_t token)
{
    for (reg_request *q = w->inflight; q; q = q->next) {
        if (q->token == token) {
            s_unlink(&w->inflight, NULL, q);
            w->inflight_n--;
            return q;
        }
    }
    return NULL;
}

reg_request *reg_inflight_pop(reg_worker *w)
{
    reg_request *q = w->inflight;
    if (q) {
        s_unlink(&w->inflight, NULL, q);
        w->inflight_n--;
    }
    return q;
}

/* ------------------------------------------------------------------------------------------------ */
/* Statistics                                                                                        */

static int s_num(cJSON *o, const char *name, double v) { return cJSON_AddNumberToObject(o, name, v) != NULL; }

static int s_kind_json(const reg_kind *k, cJSON *o)
{
    uint64_t credit = 0, inflight = 0;
    for (const reg_worker *w = k->workers; w; w = w->next) {
        credit += w->credit;
        inflight += w->inflight_n;
    }
    return s_num(o, "workers", (double)k->nworkers) && s_num(o, "credit", (double)credit) &&
           s_num(o, "inflight", (double)inflight) && s_num(o, "queued", (double)k->qlen) &&
           s_num(o, "requests", (double)k->c.requests) && s_num(o, "dispatched", (double)k->c.dispatched) &&
           s_num(o, "replies", (double)k->c.replies) && s_num(o, "done", (double)k->c.done) &&
           s_num(o, "expired", (double)k->c.expired) && s_num(o, "lost", (double)k->c.lost) &&
           s_num(o, "dropped", (double)k->c.dropped);
}

cJSON *reg_stats_json(const reg *r, int64_t now_mono)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *kinds = cJSON_CreateObject();
    cJSON *list = cJSON_CreateArray();
    size_t queued = 0;
    int ok = o && kinds && list;
    for (size_t i = 0; ok && i < r->nkinds; i++) {
        const reg_kind *k = r->kinds[i];
        cJSON *ko = cJSON_CreateObject();
        ok = ko && s_kind_json(k, ko) && cJSON_AddItemToObject(kinds, k->name, ko);
        if (!ok) cJSON_Delete(ko);
        queued += k->qlen;
        for (const reg_worker *w = k->workers; ok && w; w = w->next) {
            cJSON *wo = cJSON_CreateObject();
            ok = wo && cJSON_AddStringToObject(wo, "id", w->name) && cJSON_AddStringToObject(wo, "kind", k->name) &&
                 s_num(wo, "credit", w->credit) && s_num(wo, "inflight", w->inflight_n) &&
                 s_num(wo, "age_ms", (double)(now_mono - w->since)) && cJSON_AddItemToArray(list, wo);
            if (!ok) cJSON_Delete(wo);
        }
    }
    ok = ok && s_num(o, "uptime_ms", (double)(now_mono - r->started)) && s_num(o, "workers", (double)r->nworkers) &&
         s_num(o, "queued", (double)queued) && s_num(o, "malformed", (double)r->malformed) &&
         s_num(o, "unknown_peers", (double)r->unknown_peers);
    if (ok && cJSON_AddItemToObject(o, "kinds", kinds)) {
        kinds = NULL;
        if (cJSON_AddItemToObject(o, "worker_list", list)) return o;
    }
    cJSON_Delete(kinds);
    cJSON_Delete(list);
    cJSON_Delete(o);
    return NULL;
}

void reg_stats_line(const reg *r, char *buf, size_t cap)
{
    size_t queued = 0, pos;
    for (size_t i = 0; i < r->nkinds; i++) queued += r->kinds[i]->qlen;
    int n = snprintf(buf, cap, "workers=%zu queued=%zu malformed=%llu", r->nworkers, queued,
                     (unsigned long long)r->malformed);
    pos = n < 0 ? 0 : (size_t)n;
    for (size_t i = 0; i < r->nkinds && pos < cap; i++) {
        const reg_kind *k = r->kinds[i];
        uint64_t inflight = 0;
        for (const reg_worker *w = k->workers; w; w = w->next) inflight += w->inflight_n;
        n = snprintf(buf + pos, cap - pos, " %s[w=%zu q=%zu f=%llu req=%llu rep=%llu exp=%llu lost=%llu drop=%llu]",
                     k->name, k->nworkers, k->qlen, (unsigned long long)inflight, (unsigned long long)k->c.requests,
                     (unsigned long long)k->c.replies, (unsigned long long)k->c.expired,
                     (unsigned long long)k->c.lost, (unsigned long long)k->c.dropped);
        if (n < 0) break;
        pos += (size_t)n;
    }
}
