/* job.c: small helpers on a ds_job: deadline arithmetic, recording outcomes in the documented words,
 * scrubbing secrets out of messages, and typed access to the datasource content. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ds_job.h"
#include "util.h"

ds_worker_config g_ds;

static const char *const code_words[] = {
    [DS_OK] = "ok",
    [DS_E_DNS] = "DNS failure",
    [DS_E_REFUSED] = "connection refused",
    [DS_E_TIMEOUT] = "timeout",
    [DS_E_TLS] = "TLS failure",
    [DS_E_AUTH] = "authentication failed",
    [DS_E_DB] = "unknown database",
    [DS_E_PERM] = "permission denied",
    [DS_E_POLICY] = "address denied by policy",
    [DS_E_CONFIG] = "invalid configuration",
    [DS_E_PROTOCOL] = "protocol error",
    [DS_E_UNSUPPORTED] = "not supported",
    [DS_E_NOTFOUND] = "table not found",
    [DS_E_OVERLOAD] = "worker overloaded",
    [DS_E_OTHER] = "connection failed",
};

static const char *const code_names[] = {
    [DS_OK] = "ok",
    [DS_E_DNS] = "dns",
    [DS_E_REFUSED] = "refused",
    [DS_E_TIMEOUT] = "timeout",
    [DS_E_TLS] = "tls",
    [DS_E_AUTH] = "auth",
    [DS_E_DB] = "database",
    [DS_E_PERM] = "permission",
    [DS_E_POLICY] = "policy",
    [DS_E_CONFIG] = "config",
    [DS_E_PROTOCOL] = "protocol",
    [DS_E_UNSUPPORTED] = "unsupported",
    [DS_E_NOTFOUND] = "not_found",
    [DS_E_OVERLOAD] = "overload",
    [DS_E_OTHER] = "other",
};

const char *ds_code_name(ds_code c)
{
    if ((int)c < 0 || (size_t)c >= sizeof code_names / sizeof code_names[0]) return "other";
    return code_names[c];
}

long ds_remaining_ms(const ds_job *job)
{
    int64_t left = job->deadline_ms - util_mono_ms();
    return left > 0 ? (long)left : 0;
}

unsigned ds_remaining_s(const ds_job *job)
{
    long ms = ds_remaining_ms(job);
    /* round down so a seconds-granular library never overruns the deadline; the runner still answers
     * on time if the library takes its full second anyway */
    unsigned s = (unsigned)(ms / 1000);
    return s ? s : 1;
}

struct timeval ds_remaining_tv(const ds_job *job)
{
    long ms = ds_remaining_ms(job);
    if (ms < 1) ms = 1;
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    return tv;
}

void ds_fail(ds_job *job, ds_code code, const char *fmt, ...)
{
    if (job->code != DS_OK || job->detail[0]) return; /* first failure wins: it is the cause */
    char msg[DS_DETAIL_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    job->code = code == DS_OK ? DS_E_OTHER : code;
    snprintf(job->detail, sizeof job->detail, "%s: %s", code_words[job->code], msg);
    ds_scrub(job, job->detail);
}

void ds_succeed(ds_job *job, const char *fmt, ...)
{
    job->code = DS_OK;
    job->detail[0] = '\0';
    if (!fmt) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(job->detail, sizeof job->detail, fmt, ap);
    va_end(ap);
    ds_scrub(job, job->detail);
}

void ds_scrub(const ds_job *job, char *s)
{
    static const char mask[] = "******";
    for (int i = 0; i < job->nsecrets; i++) {
        const char *sec = job->secrets[i];
        size_t sl = sec ? strlen(sec) : 0;
        /* a 1-2 character secret would mask unrelated letters; such a password is not worth hiding
         * from its own owner's error message and cannot be told apart from ordinary text anyway */
        if (sl < 3) continue;
        char *from = s, *hit;
        /* search on after each replacement: a secret made of '*' must not match its own mask forever */
        while ((hit = strstr(from, sec)) != NULL) {
            size_t tail = strlen(hit + sl);
            if (sl >= sizeof mask - 1) {
                memcpy(hit, mask, sizeof mask - 1);
                memmove(hit + sizeof mask - 1, hit + sl, tail + 1);
                from = hit + sizeof mask - 1;
            } else {
                /* shorter than the mask: overwrite with '*' of the same length (no growth) */
                memset(hit, '*', sl);
                from = hit + sl;
            }
        }
    }
}

const char *ds_str_in(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

const char *ds_str(const ds_job *job, const char *key) { return ds_str_in(job->content, key); }

int ds_bool(const ds_job *job, const char *key, int dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(job->content, key);
    if (cJSON_IsBool(v)) return cJSON_IsTrue(v);
    if (cJSON_IsString(v)) {
        if (!strcmp(v->valuestring, "true")) return 1;
        if (!strcmp(v->valuestring, "false")) return 0;
    }
    return dflt;
}

int ds_port(const ds_job *job, const char *key, int dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(job->content, key);
    if (!v || cJSON_IsNull(v)) return dflt;
    long p = -1;
    if (cJSON_IsNumber(v)) {
        p = v->valuedouble >= 1 && v->valuedouble <= 65535 ? (long)v->valuedouble : -1;
    } else if (cJSON_IsString(v)) {
        if (!*v->valuestring) return dflt;
        if (util_parse_long(v->valuestring, &p) != 0) p = -1;
    }
    return p >= 1 && p <= 65535 ? (int)p : -1;
}
