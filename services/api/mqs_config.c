/* mqs_config.c: MQS settings of the API (see mqs_config.h). */
#include "mqs_config.h"

#include <pthread.h>
#include <stdio.h>

#include "config.h"
#include "log.h"

static mqs_config cfg;

static const cfg_entry mqs_table[] = {
    {"ROMA_MQS_MAX_PARTITIONS", CFG_INT, "300", "partitions one instance may hold across its topics (max_partitions)", &cfg.max_partitions, 1, 100000},
    {"ROMA_TOPIC_CALL_TIMEOUT_MS", CFG_INT, "10000", "deadline of a call to the topic manager before the API answers 503", &cfg.call_timeout_ms, 100, 600000},
    {"ROMA_MQS_REST_ADDRESS", CFG_STR, "", "rest_connect_address of ShowMqsInstance (empty: the API's own host:port)", &cfg.rest_address, 0, 0},
    {"ROMA_MQS_AUTH_CACHE_MS", CFG_INT, "5000", "how long the data plane caches an app's credentials (a secret reset takes this long to apply)", &cfg.auth_cache_ms, 0, 600000},
    {"ROMA_MQS_TOPIC_CACHE_MS", CFG_INT, "1000", "how long the data plane caches a topic and an app's policy on it (changes through this API apply at once, through another replica after this long; 0 = off)", &cfg.topic_cache_ms, 0, 60000},
};
#define MQS_N (sizeof mqs_table / sizeof mqs_table[0])

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int loaded;

int mqs_config_load(char *err, size_t errlen)
{
    int rc = cfg_load(mqs_table, MQS_N, err, errlen);
    if (rc == 0) loaded = 1;
    return rc;
}

void mqs_config_print(void) { cfg_print_markdown(mqs_table, MQS_N); }

static void load_once(void)
{
    if (loaded) return;
    char err[256];
    if (mqs_config_load(err, sizeof err) != 0) {
        log_error(NULL, "config.invalid", "%s (MQS settings fall back to their defaults)", err);
        cfg.max_partitions = 300;
        cfg.call_timeout_ms = 10000;
        cfg.auth_cache_ms = 5000;
        cfg.topic_cache_ms = 1000;
        cfg.rest_address = NULL;
        loaded = 1;
    }
}

const mqs_config *mqs_cfg(void)
{
    pthread_once(&once, load_once);
    return &cfg;
}
