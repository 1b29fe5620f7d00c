/* cache.c: direct-mapped TTL cache (see cache.h). */
#include "cache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

typedef struct slot {
    char *key;
    char *value;
    int64_t expires_ms; /* monotonic */
} slot;

struct ttl_cache {
    pthread_mutex_t mu;
    size_t n;
    slot *slots;
};

static size_t hash(const char *s)
{
    size_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

ttl_cache *ttl_cache_new(size_t slots)
{
    ttl_cache *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->slots = calloc(slots, sizeof *c->slots);
    if (!c->slots) {
        free(c);
        return NULL;
    }
    c->n = slots;
    pthread_mutex_init(&c->mu, NULL);
    return c;
}

void ttl_cache_free(ttl_cache *c)
{
    if (!c) return;
    for (size_t i = 0; i < c->n; i++) {
        free(c->slots[i].key);
        free(c->slots[i].value);
    }
    free(c->slots);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

int ttl_cache_get(ttl_cache *c, const char *key, char *out, size_t outlen)
{
    int hit = 0;
    pthread_mutex_lock(&c->mu);
    slot *s = &c->slots[hash(key) % c->n];
    if (s->key && !strcmp(s->key, key) && s->expires_ms > util_mono_ms()) {
        size_t l = strlen(s->value);
        if (l >= outlen) l = outlen - 1;
        memcpy(out, s->value, l);
        out[l] = '\0';
        hit = 1;
    }
    pthread_mutex_unlock(&c->mu);
    return hit;
}

void ttl_cache_put(ttl_cache *c, const char *key, const char *value, int64_t ttl_ms)
{
    char *k = strdup(key), *v = strdup(value);
    if (!k || !v) {
        free(k);
        free(v);
        return;
    }
    pthread_mutex_lock(&c->mu);
    slot *s = &c->slots[hash(key) % c->n];
    free(s->key);
    free(s->value);
    s->key = k;
    s->value = v;
    s->expires_ms = util_mono_ms() + ttl_ms;
    pthread_mutex_unlock(&c->mu);
}

void ttl_cache_del(ttl_cache *c, const char *key)
{
    pthread_mutex_lock(&c->mu);
    slot *s = &c->slots[hash(key) % c->n];
    if (s->key && !strcmp(s->key, key)) {
        free(s->key);
        free(s->value);
        s->key = s->value = NULL;
    }
    pthread_mutex_unlock(&c->mu);
}
