/* mqs_config.h: settings of the API's MQS modules (topics.c control plane, mqs_data.c data plane).
 * Loaded from the environment on first use (the API's main.c may also call mqs_config_load() at start
 * and mqs_config_print() for --help-config). */
#ifndef ROMA_API_MQS_CONFIG_H
#define ROMA_API_MQS_CONFIG_H

#include <stddef.h>

#include "errors.h"

typedef struct mqs_config {
    long max_partitions;   /* ROMA_MQS_MAX_PARTITIONS: partitions one instance may hold in total */
    long call_timeout_ms;  /* ROMA_TOPIC_CALL_TIMEOUT_MS: deadline of a call to the topic manager */
    char *rest_address;    /* ROMA_MQS_REST_ADDRESS: rest_connect_address shown by ShowMqsInstance */
    long auth_cache_ms;    /* ROMA_MQS_AUTH_CACHE_MS: how long a data-plane app credential is cached */
    long topic_cache_ms;   /* ROMA_MQS_TOPIC_CACHE_MS: how long the data plane caches a topic + policy */
} mqs_config;

/* The settings, loaded once (thread-safe). Invalid values are logged and replaced by defaults. */
const mqs_config *mqs_cfg(void);

/* Explicit load for main(): 0 or ROMA_EINVAL with a message in err. */
int mqs_config_load(char *err, size_t errlen) ROMA_MUST_USE;
void mqs_config_print(void);

#endif
