/* ds_validate.c: FDI datasource field rules (see ds_validate.h). Table-driven: one table of every known
 * content key (type, limit, enum) applied whenever a key is present, then per-type requirements. */
#include "ds_validate.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util.h"

static const char *const ds_types[DS_TYPES_COUNT] = {
    "DWS",     "MYSQL",  "KAFKA",      "API",      "OBS",       "SAP",      "MRSHBASE", "MRSHDFS", "MRSHIVE",
    "WEBSOCKET", "SQLSERVER", "ORACLE", "POSTGRESQL", "REDIS",   "MONGODB",  "DIS",      "HL7",     "RABBITMQ",
    "SNMP",    "IBMMQ",  "CUSTOMIZED", "ACTIVEMQ", "ARTEMISMQ", "FTP",      "HIVE",     "HANA",    "FIKAFKA",
    "MRSKAFKA", "FIHDFS", "FIHIVE",    "GAUSS200", "GAUSS100",  "LDAP",     "DB2",      "TAURUS",
};

int ds_type_valid(const char *t)
{
    if (!t) return 0;
    for (int i = 0; i < DS_TYPES_COUNT; i++)
        if (!strcmp(ds_types[i], t)) return 1;
    return 0;
}

const char *ds_type_at(int i) { return i >= 0 && i < DS_TYPES_COUNT ? ds_types[i] : NULL; }

/* ---- errors ---- */

static int fail(ds_verr *e, const char *field, const char *fmt, ...) ROMA_PRINTF(3, 4);
static int fail(ds_verr *e, const char *field, const char *fmt, ...)
{
    snprintf(e->field, sizeof e->field, "%s", field);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->reason, sizeof e->reason, fmt, ap);
    va_end(ap);
    return ROMA_EINVAL;
}

/* ---- enums ---- */

static const char *const E_MODE[] = {"default", "professional", "multiAddress", NULL};
static const char *const E_CDC[] = {"xstream", "logminer", NULL};
static const char *const E_FTP_MODE[] = {"active", "passive", NULL};
static const char *const E_FTP_PROTO[] = {"sftp", "ftp", NULL};
static const char *const E_API_METHOD[] = {"POST", "PUT", "DELETE", "PATCH", "GET", NULL};
static const char *const E_WS_AUTH[] = {"none", "basicauth", NULL};
static const char *const E_ENCODING[] = {
    "big5",  "dec8",    "cp850",   "hp8",    "koi8r", "latin1",   "latin2",  "swe7",   "ascii",   "ujis",
    "sjis",  "hebrew",  "tis620",  "koi8u",  "gb2312", "greek",   "cp1250",  "gbk",    "latin5",  "armscii8",
    "utf8",  "ucs2",    "cp866",   "keybcs2", "macce", "macroman", "cp852",  "latin7", "utf8mb4", "cp1251",
    "utf16", "utf16le", "cp1256",  "cp1257", "utf32", "binary",   "geostd8", "cp932",  "eucjpms", "gb18030",
    NULL};
static const char *const E_TRUST_TYPE[] = {"jks", "ts", NULL};
static const char *const E_SSL_AUTH[] = {"one-way", "two-way", NULL};
static const char *const E_KEY_TYPE[] = {"ks", "jks", NULL};
static const char *const E_DIS_DATA[] = {"JSON", NULL};
static const char *const E_DIS_SETTING[] = {"basic", "senior", NULL};
static const char *const E_HL7_POS[] = {"source", "target", NULL};
static const char *const E_LDAP_AUTH[] = {"no", "simple", NULL};
static const char *const E_RABBIT_SSL[] = {"TLS", NULL};
static const char *const E_SNMP_PROTO[] = {"udp", "tcp", NULL};
static const char *const E_GAUSS100[] = {"V100R003C20", "V300R001C00", NULL};
static const char *const E_AUTH_METHOD[] = {"none", "basicauth", "oauth2.0", "hmac", "secret", "md5", "apiGateway",
                                            "keyTop", "hikVision", "huaweiNetworkManagement", "liHe", NULL};
static const char *const E_APP_AUTH[] = {"default", "secret", "jwt", NULL};

static int in_enum(const char *v, const char *const *e)
{
    for (; *e; e++)
        if (!strcmp(v, *e)) return 1;
    return 0;
}

static void enum_text(const char *const *e, char *out, size_t n)
{
    size_t len = 0;
    out[0] = '\0';
    for (int i = 0; e[i] && len + 1 < n; i++) {
        int w = snprintf(out + len, n - len, "%s%s", i ? ", " : "", e[i]);
        if (w < 0 || (size_t)w >= n - len) break;
        len += (size_t)w;
    }
}

/* ---- field kinds ---- */

typedef enum {
    F_STR,    /* string, max code points */
    F_ENUM,   /* string in enums */
    F_BOOL,   /* boolean ("true"/"false" strings normalised) */
    F_INT,    /* integer in [imin, imax] (digit strings normalised) */
    F_PORT,   /* "0".."65535" string (numbers normalised) */
    F_DIGITS, /* string of 1..max digits (non-negative integers normalised) */
    F_OBJ,    /* object, checked elsewhere or free-form */
    F_ARR,    /* array, checked elsewhere */
} fkind;

typedef struct fspec {
    const char *key;
    fkind kind;
    long max; /* F_STR: code points; F_DIGITS: digits */
    const char *const *enums;
    long imin, imax;
    unsigned flags; /* FS_SECRET / FS_TARGET (ds_validate.h) */
} fspec;

#define MB (1024L * 1024L)

/* Every content key the SDK documents (spec §3.5), with its rule. */
static const fspec content_fields[] = {
    {"gauss100_version", F_ENUM, 0, E_GAUSS100, 0, 0, 0},
    {"host", F_STR, 255, NULL, 0, 0, FS_TARGET},
    {"port", F_PORT, 0, NULL, 0, 0, FS_TARGET},
    {"database_name", F_STR, 256, NULL, 0, 0, FS_TARGET},
    {"redis_database", F_DIGITS, 1000, NULL, 0, 0, FS_TARGET},
    {"user_name", F_STR, 256, NULL, 0, 0, FS_TARGET},
    {"password", F_STR, DS_SECRET_MAX, NULL, 0, 0, FS_SECRET},
    {"mode", F_ENUM, 0, E_MODE, 0, 0, FS_TARGET},
    {"cdc_mode", F_ENUM, 0, E_CDC, 0, 0, 0},
    {"multi_oracle_address", F_ARR, 0, NULL, 0, 0, FS_TARGET},
    {"oracle_service_name", F_STR, 64, NULL, 0, 0, FS_TARGET},
    {"ftp_connect_mode", F_ENUM, 0, E_FTP_MODE, 0, 0, 0},
    {"ftp_protocol", F_ENUM, 0, E_FTP_PROTO, 0, 0, FS_TARGET},
    {"address", F_STR, 1024, NULL, 0, 0, FS_TARGET},
    {"ak", F_STR, 256, NULL, 0, 0, 0},
    {"sk", F_STR, DS_SECRET_MAX, NULL, 0, 0, FS_SECRET},
    {"bucket_name", F_STR, 256, NULL, 0, 0, 0},
    {"https", F_BOOL, 0, NULL, 0, 0, FS_TARGET},
    {"url", F_STR, 2048, NULL, 0, 0, FS_TARGET},
    {"api_method", F_ENUM, 0, E_API_METHOD, 0, 0, 0},
    {"auth_method", F_ENUM, 0, E_WS_AUTH, 0, 0, FS_TARGET},
    {"api_auth_detail", F_OBJ, 0, NULL, 0, 0, 0},
    {"broker", F_STR, 1024, NULL, 0, 0, FS_TARGET},
    {"ssl_enable", F_BOOL, 0, NULL, 0, 0, FS_TARGET},
    {"ssl_username", F_STR, 256, NULL, 0, 0, FS_TARGET},
    {"ssl_password", F_STR, DS_SECRET_MAX, NULL, 0, 0, FS_SECRET},
    {"mongodb_auth_source", F_STR, 60, NULL, 0, 0, FS_TARGET},
    {"mongodb_cluster_enable", F_BOOL, 0, NULL, 0, 0, 0},
    {"mongodb_replica_set", F_STR, 256, NULL, 0, 0, 0},
    {"encoding", F_ENUM, 0, E_ENCODING, 0, 0, 0},
    {"mysql_timeout", F_INT, 0, NULL, 1, 20000, 0},
    {"trust_store_password", F_STR, DS_SECRET_MAX, NULL, 0, 0, FS_SECRET},
    {"trust_store", F_STR, 4 * MB, NULL, 0, 0, 0},
    {"trust_store_file_type", F_ENUM, 0, E_TRUST_TYPE, 0, 0, 0},
    {"ssl_auth_method", F_ENUM, 0, E_SSL_AUTH, 0, 0, 0},
    {"key_store", F_STR, 4 * MB, NULL, 0, 0, FS_SECRET},
    {"key_store_file_type", F_ENUM, 0, E_KEY_TYPE, 0, 0, 0},
    {"key_store_password", F_STR, DS_SECRET_MAX, NULL, 0, 0, FS_SECRET},
    {"key_store_key_password", F_STR, DS_SECRET_MAX, NULL, 0, 0, FS_SECRET},
    {"dis_tunnel_name", F_STR, 256, NULL, 0, 0, 0},
    {"dis_data_type", F_ENUM, 0, E_DIS_DATA, 0, 0, 0},
    {"dis_setting_type", F_ENUM, 0, E_DIS_SETTING, 0, 0, 0},
    {"dis_endpoint", F_STR, 1024, NULL, 0, 0, FS_TARGET},
    {"dis_region", F_STR, 256, NULL, 0, 0, 0},
    {"dis_source_project_id", F_STR, 256, NULL, 0, 0, 0},
    {"hl7_position", F_ENUM, 0, E_HL7_POS, 0, 0, 0},
    {"hl7_whitelist_enable", F_BOOL, 0, NULL, 0, 0, 0},
    {"hl7_whitelist", F_STR, 4096, NULL, 0, 0, 0},
    {"ldap_security_auth_type", F_ENUM, 0, E_LDAP_AUTH, 0, 0, 0},
    {"rabbitmq_virtual_host", F_STR, 256, NULL, 0, 0, FS_TARGET},
    {"rabbitmq_ssl_protocol", F_ENUM, 0, E_RABBIT_SSL, 0, 0, 0},
    {"sap_client", F_STR, 10, NULL, 0, 0, 0},
    {"sap_sysnr", F_STR, 256, NULL, 0, 0, 0},
    {"snmp_network_protocol", F_ENUM, 0, E_SNMP_PROTO, 0, 0, FS_TARGET},
    {"snmp_version", F_INT, 0, NULL, 0, 3, 0},
    {"snmp_community", F_STR, 256, NULL, 0, 0, FS_SECRET},
    {"ibmmq_ccs_id", F_STR, 256, NULL, 0, 0, 0},
    {"ibmmq_queue_manager", F_STR, 256, NULL, 0, 0, 0},
    {"ibmmq_channel", F_STR, 256, NULL, 0, 0, 0},
    {"ibmmq_cipher_suite", F_STR, 256, NULL, 0, 0, 0},
    {"hdfs_path", F_STR, 1024, NULL, 0, 0, 0},
    {"principal_name", F_STR, 256, NULL, 0, 0, 0},
    {"config_file_name", F_STR, 256, NULL, 0, 0, 0},
    {"config_file_content", F_STR, 16 * MB, NULL, 0, 0, FS_SECRET},
    {"connection_instance_id", F_STR, 256, NULL, 0, 0, 0},
    {"connector_params", F_OBJ, 0, NULL, 0, 0, 0},
};

static const fspec auth_fields[] = {
    {"auth_method", F_ENUM, 0, E_AUTH_METHOD, 0, 0, FS_TARGET},
    {"app_auth_type", F_ENUM, 0, E_APP_AUTH, 0, 0, 0},
    {"user_name", F_STR, 256, NULL, 0, 0, FS_TARGET},
    {"password", F_STR, DS_SECRET_MAX, NULL, 0, 0, FS_SECRET},
    {"app_key", F_STR, 256, NULL, 0, 0, FS_TARGET},
    {"app_secret", F_STR, DS_SECRET_MAX, NULL, 0, 0, FS_SECRET},
    {"secret", F_STR, DS_SECRET_MAX, NULL, 0, 0, FS_SECRET},
    {"alt_ip", F_STR, 256, NULL, 0, 0, FS_TARGET},
    {"access_token_url", F_STR, 2048, NULL, 0, 0, FS_TARGET},
    {"client_id", F_STR, 256, NULL, 0, 0, FS_TARGET},
    {"client_secret", F_STR, DS_SECRET_MAX, NULL, 0, 0, FS_SECRET},
    {"scope", F_STR, 1024, NULL, 0, 0, 0},
    {"authorization", F_STR, DS_SECRET_MAX, NULL, 0, 0, FS_SECRET},
    {"grant_type", F_STR, 64, NULL, 0, 0, 0},
};

static int all_digits(const char *s, size_t maxlen)
{
    size_t n = strlen(s);
    if (n == 0 || n > maxlen) return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9') return 0;
    return 1;
}

/* Replaces the value of key in obj by a new item (normalisation). 0 or ROMA_ENOMEM. */
static int replace(cJSON *obj, const char *key, cJSON *item)
{
    if (!item) return ROMA_ENOMEM;
    if (!cJSON_ReplaceItemInObjectCaseSensitive(obj, key, item)) {
        cJSON_Delete(item);
        return ROMA_ENOMEM;
    }
    return 0;
}

/* Checks (and normalises) one present field. path = "content.port". */
static int check_field(cJSON *obj, const fspec *f, cJSON *v, const char *path, ds_verr *e)
{
    char buf[32];
    switch (f->kind) {
    case F_STR: {
        if (!cJSON_IsString(v)) return fail(e, path, "must be a string");
        long n = util_utf8_len(v->valuestring);
        if (n < 0) return fail(e, path, "must be valid UTF-8");
        if (n > f->max) return fail(e, path, "must be at most %ld characters", f->max);
        return 0;
    }
    case F_ENUM: {
        if (!cJSON_IsString(v) || !in_enum(v->valuestring, f->enums)) {
            char opts[600];
            enum_text(f->enums, opts, sizeof opts);
            return fail(e, path, "must be one of: %s", opts);
        }
        return 0;
    }
    case F_BOOL:
        if (cJSON_IsBool(v)) return 0;
        if (cJSON_IsString(v) && (!strcmp(v->valuestring, "true") || !strcmp(v->valuestring, "false")))
            return replace(obj, f->key, cJSON_CreateBool(!strcmp(v->valuestring, "true"))) ? fail(e, path, "out of memory") : 0;
        return fail(e, path, "must be a boolean");
    case F_INT: {
        double d;
        if (cJSON_IsNumber(v)) {
            d = v->valuedouble;
        } else if (cJSON_IsString(v) && all_digits(v->valuestring, 9)) {
            d = strtod(v->valuestring, NULL);
        } else {
            return fail(e, path, "must be an integer from %ld to %ld", f->imin, f->imax);
        }
        if (d != floor(d) || d < (double)f->imin || d > (double)f->imax)
            return fail(e, path, "must be an integer from %ld to %ld", f->imin, f->imax);
        if (!strcmp(f->key, "snmp_version") && d == 2) return fail(e, path, "must be 0, 1 or 3");
        if (!cJSON_IsNumber(v) && replace(obj, f->key, cJSON_CreateNumber(d))) return fail(e, path, "out of memory");
        return 0;
    }
    case F_PORT:
        if (cJSON_IsNumber(v)) {
            double d = v->valuedouble;
            if (d != floor(d) || d < 0 || d > 65535) return fail(e, path, "must be a port number from 0 to 65535");
            snprintf(buf, sizeof buf, "%d", (int)d);
            return replace(obj, f->key, cJSON_CreateString(buf)) ? fail(e, path, "out of memory") : 0;
        }
        if (!cJSON_IsString(v) || !all_digits(v->valuestring, 5) || atol(v->valuestring) > 65535)
            return fail(e, path, "must be a port number from 0 to 65535");
        return 0;
    case F_DIGITS:
        if (cJSON_IsNumber(v)) {
            double d = v->valuedouble;
            if (d != floor(d) || d < 0 || d > 1e15) return fail(e, path, "must be a string of digits");
            snprintf(buf, sizeof buf, "%.0f", d);
            return replace(obj, f->key, cJSON_CreateString(buf)) ? fail(e, path, "out of memory") : 0;
        }
        if (!cJSON_IsString(v) || !all_digits(v->valuestring, (size_t)f->max))
            return fail(e, path, "must be a string of 1 to %ld digits", f->max);
        return 0;
    case F_OBJ:
        return cJSON_IsObject(v) ? 0 : fail(e, path, "must be an object");
    case F_ARR:
        return cJSON_IsArray(v) ? 0 : fail(e, path, "must be an array");
    }
    return 0;
}

/* Applies a spec table to every present key of obj. prefix = "content" / "content.api_auth_detail". */
static int check_table(cJSON *obj, const fspec *tab, size_t n, const char *prefix, ds_verr *e)
{
    char path[96];
    for (size_t i = 0; i < n; i++) {
        cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, tab[i].key);
        if (!v || cJSON_IsNull(v)) continue;
        snprintf(path, sizeof path, "%s.%s", prefix, tab[i].key);
        int rc = check_field(obj, &tab[i], v, path, e);
        if (rc != 0) return rc;
    }
    return 0;
}

/* ---- presence helpers ---- */

static const cJSON *get(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return v && !cJSON_IsNull(v) ? v : NULL;
}

static const char *str(const cJSON *obj, const char *key)
{
    const cJSON *v = get(obj, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Every key of the NULL-terminated list must be present (strings non-empty). */
static int require(const cJSON *obj, const char *prefix, ds_verr *e, const char *const *keys)
{
    char path[96];
    for (; *keys; keys++) {
        const cJSON *v = get(obj, *keys);
        if (!v || (cJSON_IsString(v) && v->valuestring[0] == '\0')) {
            snprintf(path, sizeof path, "%s.%s", prefix, *keys);
            return fail(e, path, "is required for this datasource type and mode");
        }
    }
    return 0;
}

#define REQ(...) require(c, "content", e, (const char *const[]){__VA_ARGS__, NULL})

static int url_scheme_is(const char *url, const char *const *schemes)
{
    for (; *schemes; schemes++) {
        size_t n = strlen(*schemes);
        if (!strncasecmp(url, *schemes, n) && url[n] != '\0') return 1;
    }
    return 0;
}

static int check_url(const cJSON *c, const char *const *schemes, const char *what, ds_verr *e)
{
    const char *u = str(c, "url");
    if (u && !url_scheme_is(u, schemes)) return fail(e, "content.url", "must be a %s URL", what);
    return 0;
}

static int is_type(const char *t, const char *const *list)
{
    for (; *list; list++)
        if (!strcmp(t, *list)) return 1;
    return 0;
}

static int check_oracle_addresses(cJSON *c, ds_verr *e)
{
    cJSON *arr = cJSON_GetObjectItemCaseSensitive(c, "multi_oracle_address");
    if (!arr || cJSON_IsNull(arr)) return 0;
    int n = cJSON_GetArraySize(arr);
    if (n < 1 || n > 100) return fail(e, "content.multi_oracle_address", "must hold 1 to 100 addresses");
    char path[96];
    int i = 0;
    cJSON *it;
    cJSON_ArrayForEach(it, arr)
    {
        snprintf(path, sizeof path, "content.multi_oracle_address[%d]", i);
        if (!cJSON_IsObject(it)) return fail(e, path, "must be an object {oracle_address, oracle_port}");
        cJSON *a = cJSON_GetObjectItemCaseSensitive(it, "oracle_address");
        cJSON *p = cJSON_GetObjectItemCaseSensitive(it, "oracle_port");
        snprintf(path, sizeof path, "content.multi_oracle_address[%d].oracle_address", i);
        if (!cJSON_IsString(a) || util_utf8_len(a->valuestring) < 1 || util_utf8_len(a->valuestring) > 30)
            return fail(e, path, "must be a string of 1 to 30 characters");
        snprintf(path, sizeof path, "content.multi_oracle_address[%d].oracle_port", i);
        if (cJSON_IsNumber(p) && p->valuedouble >= 0 && p->valuedouble <= 65535 && p->valuedouble == floor(p->valuedouble)) {
            char buf[16];
            snprintf(buf, sizeof buf, "%d", (int)p->valuedouble);
            if (replace(it, "oracle_port", cJSON_CreateString(buf))) return fail(e, path, "out of memory");
        } else if (!cJSON_IsString(p) || !all_digits(p->valuestring, 10)) {
            return fail(e, path, "must be a port number (1 to 10 digits)");
        }
        i++;
    }
    return 0;
}

static int check_auth_detail(cJSON *c, ds_verr *e)
{
    cJSON *ad = cJSON_GetObjectItemCaseSensitive(c, "api_auth_detail");
    if (!ad || cJSON_IsNull(ad)) return 0;
    int rc = check_table(ad, auth_fields, sizeof auth_fields / sizeof auth_fields[0], "content.api_auth_detail", e);
    if (rc) return rc;
    const char *am = str(ad, "auth_method");
    if (!am) return 0;
    if (!strcmp(am, "basicauth"))
        return require(ad, "content.api_auth_detail", e, (const char *const[]){"user_name", "password", NULL});
    if (!strcmp(am, "oauth2.0")) {
        rc = require(ad, "content.api_auth_detail", e, (const char *const[]){"access_token_url", NULL});
        if (rc) return rc;
        if (!str(ad, "client_id") && !str(ad, "app_key"))
            return fail(e, "content.api_auth_detail.client_id", "is required for oauth2.0");
        if (!str(ad, "client_secret") && !str(ad, "app_secret"))
            return fail(e, "content.api_auth_detail.client_secret", "is required for oauth2.0");
        const char *tu = str(ad, "access_token_url");
        if (!url_scheme_is(tu, (const char *const[]){"http://", "https://", NULL}))
            return fail(e, "content.api_auth_detail.access_token_url", "must be an http or https URL");
    }
    return 0;
}

int ds_validate_content(const char *t, cJSON *c, ds_verr *e)
{
    if (!cJSON_IsObject(c)) return fail(e, "content", "must be an object");
    int rc = check_table(c, content_fields, sizeof content_fields / sizeof content_fields[0], "content", e);
    if (rc) return rc;
    if ((rc = check_oracle_addresses(c, e)) || (rc = check_auth_detail(c, e))) return rc;

    const char *mode = str(c, "mode");
    static const char *const relational[] = {"MYSQL", "TAURUS", "POSTGRESQL", "GAUSS200", "GAUSS100",
                                             "DB2", "SQLSERVER", "HIVE", NULL};
    if (is_type(t, relational)) {
        if (!mode) return fail(e, "content.mode", "is required (default or professional)");
        if (!strcmp(mode, "multiAddress")) return fail(e, "content.mode", "must be default or professional");
        if (!strcmp(mode, "professional")) return REQ("url", "user_name", "password");
        return REQ("host", "port", "database_name", "user_name", "password");
    }
    if (!strcmp(t, "ORACLE")) {
        if (!mode) return fail(e, "content.mode", "is required (default, multiAddress or professional)");
        if (!strcmp(mode, "professional")) return REQ("url", "user_name", "password");
        if (!strcmp(mode, "multiAddress"))
            return REQ("multi_oracle_address", "oracle_service_name", "database_name", "user_name", "password");
        return REQ("host", "port", "database_name", "user_name", "password");
    }
    /* single-mode types: mode, when sent, can only be "default" */
    if (mode && strcmp(mode, "default") != 0) return fail(e, "content.mode", "must be default for %s", t);
    if (!strcmp(t, "DWS") || !strcmp(t, "HANA")) return REQ("host", "port", "database_name", "user_name", "password");
    if (!strcmp(t, "KAFKA")) {
        if ((rc = REQ("broker", "ssl_enable"))) return rc;
        if (cJSON_IsTrue(get(c, "ssl_enable"))) return REQ("ssl_username", "ssl_password");
        return 0;
    }
    if (!strcmp(t, "REDIS") || !strcmp(t, "MONGODB")) return REQ("address");
    if (!strcmp(t, "API")) {
        if ((rc = REQ("url", "api_method"))) return rc;
        return check_url(c, (const char *const[]){"http://", "https://", NULL}, "http or https", e);
    }
    if (!strcmp(t, "FTP")) return REQ("host", "user_name", "password");
    if (!strcmp(t, "OBS")) return REQ("address", "ak", "sk", "bucket_name");
    if (!strcmp(t, "WEBSOCKET")) {
        if ((rc = REQ("url"))) return rc;
        if ((rc = check_url(c, (const char *const[]){"ws://", "wss://", "http://", "https://", NULL}, "ws or wss", e)))
            return rc;
        const char *am = str(c, "auth_method");
        return am && !strcmp(am, "basicauth") ? REQ("user_name", "password") : 0;
    }
    if (!strcmp(t, "LDAP")) {
        if ((rc = REQ("url"))) return rc;
        if ((rc = check_url(c, (const char *const[]){"ldap://", "ldaps://", NULL}, "ldap or ldaps", e))) return rc;
        const char *la = str(c, "ldap_security_auth_type");
        return la && !strcmp(la, "simple") ? REQ("user_name", "password") : 0;
    }
    if (!strcmp(t, "RABBITMQ") || !strcmp(t, "ARTEMISMQ") || !strcmp(t, "IBMMQ"))
        return REQ("host", "port", "user_name", "password");
    if (!strcmp(t, "ACTIVEMQ")) return REQ("broker", "user_name", "password");
    if (!strcmp(t, "SAP")) return REQ("host", "port", "user_name", "password");
    if (!strcmp(t, "SNMP")) return REQ("host", "port");
    if (!strcmp(t, "HL7")) {
        if ((rc = REQ("hl7_position"))) return rc;
        return !strcmp(str(c, "hl7_position"), "target") ? REQ("host", "port") : 0;
    }
    if (!strcmp(t, "DIS")) {
        if ((rc = REQ("ak", "sk", "dis_tunnel_name"))) return rc;
        const char *st = str(c, "dis_setting_type");
        return st && !strcmp(st, "senior") ? REQ("dis_endpoint", "dis_region", "dis_source_project_id") : 0;
    }
    /* MRS*, FI*, CUSTOMIZED: typed fields only */
    return 0;
}

int ds_name_valid(const char *name)
{
    if (!name) return 0;
    long n = util_utf8_len(name);
    if (n < 1 || n > DS_NAME_MAX) return 0;
    return strpbrk(name, "&<>\"'()") == NULL;
}

static int cmp_keys(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Duplicate member names anywhere in the tree. JSON allows them, but cJSON reads the first and
 * PostgreSQL's jsonb keeps the last: a duplicated "password" could slip past sealing or validation
 * under one reading and be used under the other. Sorting the names keeps this O(n log n). */
static int check_duplicates(const cJSON *j, const char *path, ds_verr *e)
{
    char sub[96];
    if (cJSON_IsObject(j)) {
        int n = cJSON_GetArraySize(j);
        if (n > 1) {
            const char **names = malloc((size_t)n * sizeof *names);
            if (!names) return fail(e, path, "out of memory");
            int i = 0;
            for (const cJSON *c = j->child; c; c = c->next) names[i++] = c->string ? c->string : "";
            qsort(names, (size_t)n, sizeof *names, cmp_keys);
            for (i = 1; i < n; i++) {
                if (strcmp(names[i - 1], names[i]) == 0) {
                    snprintf(sub, sizeof sub, "%s%s%.60s", path, *path ? "." : "", names[i]);
                    free(names);
                    return fail(e, sub, "appears more than once");
                }
            }
            free(names);
        }
        for (const cJSON *c = j->child; c; c = c->next) {
            snprintf(sub, sizeof sub, "%s%s%.60s", path, *path ? "." : "", c->string ? c->string : "");
            int rc = check_duplicates(c, sub, e);
            if (rc) return rc;
        }
    } else if (cJSON_IsArray(j)) {
        int i = 0;
        for (const cJSON *c = j->child; c; c = c->next, i++) {
            snprintf(sub, sizeof sub, "%s[%d]", path, i);
            int rc = check_duplicates(c, sub, e);
            if (rc) return rc;
        }
    }
    return 0;
}

int ds_check_duplicates(const cJSON *doc, ds_verr *e) { return check_duplicates(doc, "", e); }

int ds_validate_info(cJSON *info, ds_verr *e)
{
    if (!cJSON_IsObject(info)) return fail(e, "", "the body must be a JSON object");
    int dup = check_duplicates(info, "", e);
    if (dup) return dup;
    const cJSON *name = get(info, "datasource_name");
    if (!name) return fail(e, "datasource_name", "is required");
    if (!cJSON_IsString(name) || !ds_name_valid(name->valuestring))
        return fail(e, "datasource_name", "must be 1 to 255 characters without & < > \" ' ( )");
    const cJSON *type = get(info, "datasource_type");
    if (!type) return fail(e, "datasource_type", "is required");
    if (!cJSON_IsString(type) || !ds_type_valid(type->valuestring))
        return fail(e, "datasource_type", "must be one of the 35 datasource types (MYSQL, POSTGRESQL, API, ...)");
    const cJSON *app = get(info, "app_id");
    if (!app) return fail(e, "app_id", "is required");
    if (!cJSON_IsString(app) || app->valuestring[0] == '\0' || util_utf8_len(app->valuestring) < 0 ||
        util_utf8_len(app->valuestring) > DS_APP_ID_MAX)
        return fail(e, "app_id", "must be the id of an integration app");
    const cJSON *desc = get(info, "description");
    if (desc) {
        long n = cJSON_IsString(desc) ? util_utf8_len(desc->valuestring) : -1;
        if (n < 0 || n > DS_DESCRIPTION_MAX)
            return fail(e, "description", "must be a string of at most %d characters", DS_DESCRIPTION_MAX);
    }
    const cJSON *plugin = get(info, "custom_plugin_id");
    if (plugin) {
        long n = cJSON_IsString(plugin) ? util_utf8_len(plugin->valuestring) : -1;
        if (n < 0 || n > DS_PLUGIN_ID_MAX)
            return fail(e, "custom_plugin_id", "must be a string of at most %d characters", DS_PLUGIN_ID_MAX);
    }
    if (!strcmp(type->valuestring, "CUSTOMIZED") && (!plugin || plugin->valuestring[0] == '\0'))
        return fail(e, "custom_plugin_id", "is required for CUSTOMIZED datasources");
    cJSON *content = cJSON_GetObjectItemCaseSensitive(info, "content");
    if (!content || cJSON_IsNull(content)) return fail(e, "content", "is required");
    return ds_validate_content(type->valuestring, content, e);
}

/* ---- field roles ---- */

int ds_fields_each(unsigned flags, ds_field_fn fn, void *arg)
{
    for (size_t i = 0; i < sizeof content_fields / sizeof content_fields[0]; i++) {
        if (!(content_fields[i].flags & flags)) continue;
        int rc = fn(NULL, content_fields[i].key, arg);
        if (rc) return rc;
    }
    for (size_t i = 0; i < sizeof auth_fields / sizeof auth_fields[0]; i++) {
        if (!(auth_fields[i].flags & flags)) continue;
        int rc = fn(DS_AUTH_KEY, auth_fields[i].key, arg);
        if (rc) return rc;
    }
    return 0;
}

unsigned ds_field_flags(const char *parent, const char *key)
{
    const fspec *tab = parent ? auth_fields : content_fields;
    size_t n = parent ? sizeof auth_fields / sizeof auth_fields[0] : sizeof content_fields / sizeof content_fields[0];
    if (parent && strcmp(parent, DS_AUTH_KEY) != 0) return 0;
    for (size_t i = 0; i < n; i++)
        if (!strcmp(tab[i].key, key)) return tab[i].flags | FS_DECLARED;
    return 0;
}

int ds_secret_name(const char *key)
{
    static const char *const words[] = {"password", "passwd",     "secret",     "token",      "private_key",
                                        "privatekey", "api_key",  "apikey",     "passphrase", "credential",
                                        "authorization", NULL};
    char low[128];
    size_t n = strlen(key);
    if (n >= sizeof low) n = sizeof low - 1;
    for (size_t i = 0; i < n; i++) low[i] = (char)((key[i] >= 'A' && key[i] <= 'Z') ? key[i] - 'A' + 'a' : key[i]);
    low[n] = '\0';
    for (const char *const *w = words; *w; w++)
        if (strstr(low, *w)) return 1;
    return 0;
}

typedef struct target_cmp {
    const cJSON *a, *b;
} target_cmp;

static int target_differs(const char *parent, const char *key, void *arg)
{
    const target_cmp *t = arg;
    const cJSON *pa = parent ? get(t->a, parent) : t->a, *pb = parent ? get(t->b, parent) : t->b;
    const cJSON *va = cJSON_IsObject(pa) ? get(pa, key) : NULL, *vb = cJSON_IsObject(pb) ? get(pb, key) : NULL;
    if (!va && !vb) return 0;
    return !va || !vb || !cJSON_Compare(va, vb, 1);
}

int ds_same_target(const char *type_a, const cJSON *content_a, const char *type_b, const cJSON *content_b)
{
    if (!type_a || !type_b || strcmp(type_a, type_b) != 0) return 0;
    target_cmp t = {content_a, content_b};
    return ds_fields_each(FS_TARGET, target_differs, &t) == 0;
}
