/* cache.h: a small fixed-size, thread-safe TTL cache of string -> string, used to avoid one database
 * round trip per request for hot, rarely-changing facts (token -> identity, instance existence).
 * Collisions simply overwrite (direct-mapped); correctness never depends on a hit. */
#ifndef ROMA_API_CACHE_H
#define ROMA_API_CACHE_H

#include <stddef.h>
#include <stdint.h>

typedef struct ttl_cache ttl_cache;

ttl_cache *ttl_cache_new(size_t slots);
void ttl_cache_free(ttl_cache *c);
/* Copies the value into out (NUL-terminated, truncated to outlen) and returns 1 on a live hit. */
int ttl_cache_get(ttl_cache *c, const char *key, char *out, size_t outlen);
void ttl_cache_put(ttl_cache *c, const char *key, const char *value, int64_t ttl_ms);
void ttl_cache_del(ttl_cache *c, const char *key);

#endif
