/* ds_connect.c: StartTestDatasource (POST .../test-connect), ListDatasourceTables (GET .../tables) and
 * ListDatasourceColumns (GET .../columns). The API validates, resolves "******" secrets from the stored
 * row, and asks a datasource worker over the bus (kind "datasource", types "ds.test" / "ds.tables" /
 * "ds.columns", body and reply: services/datasource_worker/dispatch.c). Secrets travel sealed; the
 * worker opens them with the shared ROMA_SECRET_KEY.
 *
 * Deadlines: the worker answers within ROMA_DS_CHECK_TIMEOUT_MS (DNS included); the API waits that plus
 * ROMA_DS_BUS_MARGIN_MS and then answers 503 (FDI.3503) itself: no worker, a lost worker or a stuck one
 * never hold an HTTP thread longer. No database connection is held while waiting.
 *
 * Outcomes: 200 {"result": true, "detail": "..."}; 400 FDI.3016 "Failed to test the connectivity." with
 * the worker's detail (DNS failure / connection refused / timeout / TLS failure / authentication failed /
 * unknown database / permission denied / address denied by policy ...), which never contains a secret.
 * Every completed test is recorded on the row (last_test_* fields of GET). Tables/columns: an unknown
 * table is 400 FDI.3033 [table_name]; types without a listing are 400 FDI.3002. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "config.h"
#include "db.h"
#include "ds_api.h"
#include "ds_secrets.h"
#include "ds_store.h"
#include "log.h"
#include "util.h"

#define DS_KIND "datasource"
#define DS_CHECK_TIMEOUT_CAP_MS 30000

static struct {
    long check_timeout_ms;
    long bus_margin_ms;
} conn_cfg;

static const cfg_entry ds_config_table[] = {
    {"ROMA_DS_CHECK_TIMEOUT_MS", CFG_INT, "10000", "deadline of one datasource connectivity check (same variable as the worker's; capped at 30000)", &conn_cfg.check_timeout_ms, 100, 3600000},
    {"ROMA_DS_BUS_MARGIN_MS", CFG_INT, "1500", "extra time the API waits for a datasource worker's answer beyond the check deadline before answering 503", &conn_cfg.bus_margin_ms, 100, 60000},
};
#define DS_CONFIG_N (sizeof ds_config_table / sizeof ds_config_table[0])

static pthread_once_t cfg_once = PTHREAD_ONCE_INIT;

/* The module's settings, read from the environment on first use (the API's main does not know them). */
static void load_config(void)
{
    char err[256];
    if (cfg_load(ds_config_table, DS_CONFIG_N, err, sizeof err) != 0) {
        log_error(NULL, "config.invalid", "%s; using defaults", err);
        conn_cfg.check_timeout_ms = 10000;
        conn_cfg.bus_margin_ms = 1500;
    }
    if (conn_cfg.check_timeout_ms > DS_CHECK_TIMEOUT_CAP_MS) conn_cfg.check_timeout_ms = DS_CHECK_TIMEOUT_CAP_MS;
}

void ds_config_print(void) { cfg_print_markdown(ds_config_table, DS_CONFIG_N); }

/* ---- talking to the worker --------------------------------------------------------------------------- */

/* Sends a request to a datasource worker; on success *out is the reply body (owned). On failure the
 * 503/500 was replied and NULL returned. body is borrowed. */
static cJSON *ask_worker(req *r, const char *type, cJSON *body)
{
    pthread_once(&cfg_once, load_config);
    if (!cJSON_AddNumberToObject(body, "timeout_ms", (double)conn_cfg.check_timeout_ms)) {
        reply_internal(r, "out of memory");
        return NULL;
    }
    roma_msg reply;
    proto_msg_init(&reply);
    int64_t t0 = util_mono_ms();
    int rc = bus_call(DS_KIND, type, r->rid, body, (int)(conn_cfg.check_timeout_ms + conn_cfg.bus_margin_ms), &reply);
    if (rc == ROMA_ETIMEDOUT || rc == ROMA_EUNAVAIL) {
        log_warn(r->rid, "ds.worker_unavailable", "%s: %s after %lld ms", type,
                 rc == ROMA_ETIMEDOUT ? "no datasource worker answered" : "datasource worker unavailable or lost",
                 (long long)(util_mono_ms() - t0));
        reply_error(r, 503, "FDI.3503",
                    "The datasource connectivity tester is unavailable (%s). Retry later.",
                    rc == ROMA_ETIMEDOUT ? "no worker answered in time" : "no worker, or the worker was lost");
        return NULL;
    }
    if (rc != 0) {
        reply_internal(r, "bus call to the datasource worker failed");
        return NULL;
    }
    if (reply.status != 0 || !cJSON_IsObject(reply.body)) {
        const char *why = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(reply.body, "error"));
        if (reply.status == ROMA_EUNAVAIL || reply.status == ROMA_ETIMEDOUT) {
            /* the worker is draining (SIGTERM) or the request expired in its queue */
            log_warn(r->rid, "ds.worker_unavailable", "%s: worker answered %s", type, roma_strerror(reply.status));
            reply_error(r, 503, "FDI.3503", "The datasource connectivity tester is unavailable (worker stopping). Retry later.");
        } else {
            log_error(r->rid, "ds.worker_error", "%s: worker status %d (%s)", type, reply.status, why ? why : "");
            reply_internal(r, "datasource worker refused the request");
        }
        proto_msg_clear(&reply);
        return NULL;
    }
    cJSON *out = reply.body;
    reply.body = NULL;
    proto_msg_clear(&reply);
    return out;
}

/* The worker request body for a merged info: {datasource_type, content (sealed), sealed: [paths]}. */
static cJSON *worker_body(const cJSON *info)
{
    const cJSON *content = cJSON_GetObjectItemCaseSensitive(info, "content");
    cJSON *b = cJSON_CreateObject();
    cJSON *c = cJSON_Duplicate(content, 1);
    cJSON *paths = ds_secrets_sealed_paths(content);
    if (!b || !c || !paths || !cJSON_AddStringToObject(b, "datasource_type", json_str(info, "datasource_type"))) {
        cJSON_Delete(b);
        cJSON_Delete(c);
        cJSON_Delete(paths);
        return NULL;
    }
    cJSON_AddItemToObject(b, "content", c);
    cJSON_AddItemToObject(b, "sealed", paths);
    return b;
}

/* Loads the stored row, checks the caller may do a with it, and releases the request's DB connection
 * (nothing is held across the bus call). NULL when replied. */
static PGresult *load_row(req *r, ds_action a)
{
    PGconn *db = req_db_or_reply(r);
    if (!db) return NULL;
    PGresult *res = NULL;
    int rc = ds_store_get(db, req_param(r, "instance_id"), req_param(r, "datasource_id"), r->user_id, 0, r->rid, &res);
    db_release(g_api->db, r->db);
    r->db = NULL;
    if (rc != 0) {
        ds_reply_store_error(r, rc);
        return NULL;
    }
    if (ds_authorize_or_reply(r, res, a) != 0) {
        PQclear(res);
        return NULL;
    }
    return res;
}

/* A body that keeps a stored secret ("******") but names another target than the stored row would send
 * that secret wherever the caller likes (e.g. AUTH <stored password> to the caller's own listener): only
 * a caller who could make that change permanently (modify) may do it. 0, or replied. */
static int check_secret_travel_or_reply(req *r, PGresult *stored, const cJSON *info, int kept)
{
    if (kept == 0) return 0;
    cJSON *sc = cJSON_Parse(PQgetvalue(stored, 0, DS_COL_CONTENT));
    if (!sc) {
        reply_internal(r, "stored content unreadable");
        return ROMA_EIO;
    }
    int same = ds_same_target(PQgetvalue(stored, 0, DS_COL_TYPE), sc, json_str(info, "datasource_type"),
                              cJSON_GetObjectItemCaseSensitive(info, "content"));
    cJSON_Delete(sc);
    if (same) return 0;
    return ds_authorize_or_reply(r, stored, DS_DO_MODIFY);
}

/* ---- test-connect ------------------------------------------------------------------------------------ */

void ds_test_connect(req *r)
{
    PGresult *stored = load_row(r, DS_DO_USE);
    if (!stored) return;
    cJSON *body = NULL, *info = NULL, *wb = NULL, *ans = NULL;
    int kept = 0;
    /* no body: test the stored configuration; a body: test what it describes (spec §3.1 INF) */
    if (r->body_len > 0 && !(body = req_json_or_reply(r, 0))) goto out;
    if (ds_merge_or_reply(r, stored, body, &info, &kept) != 0) goto out;
    if (check_secret_travel_or_reply(r, stored, info, kept) != 0) goto out;
    if (!(wb = worker_body(info))) {
        reply_internal(r, "out of memory");
        goto out;
    }
    if (!(ans = ask_worker(r, "ds.test", wb))) goto out;

    int ok = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ans, "ok"));
    const char *detail = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ans, "detail"));
    const char *code = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ans, "code"));
    const cJSON *lat = cJSON_GetObjectItemCaseSensitive(ans, "latency_ms");
    long latency = cJSON_IsNumber(lat) ? (long)lat->valuedouble : 0;
    if (!detail || !*detail) detail = ok ? "" : "the check failed without details";

    /* record the outcome; a failure to record is logged, the caller still gets the answer */
    PGconn *db = req_db_or_reply(r);
    if (!db) goto out; /* replied 503 */
    if (ds_store_record_test(db, req_param(r, "instance_id"), req_param(r, "datasource_id"), ok, latency, detail,
                             util_now_ms(), r->rid) != 0)
        log_warn(r->rid, "ds.record_failed", "test outcome of %.40s not recorded", req_param(r, "datasource_id"));
    log_info(r->rid, "ds.tested", "datasource %.40s (%s): %s in %ld ms", req_param(r, "datasource_id"),
             json_str(info, "datasource_type"), ok ? "ok" : (code ? code : "failed"), latency);
    if (ok) {
        cJSON *o = cJSON_CreateObject();
        if (!o || !cJSON_AddTrueToObject(o, "result") || !cJSON_AddStringToObject(o, "detail", detail)) {
            cJSON_Delete(o);
            reply_internal(r, "out of memory");
            goto out;
        }
        reply_json(r, 200, o);
        cJSON_Delete(o);
    } else {
        reply_error_detail(r, 400, DS_CODE_TEST_FAILED, DS_MSG_TEST_FAILED, detail);
    }
out:
    cJSON_Delete(ans);
    cJSON_Delete(wb);
    cJSON_Delete(info);
    cJSON_Delete(body);
    PQclear(stored);
}

/* ---- tables and columns ------------------------------------------------------------------------------ */

/* position (SDK) or direction_type (newer DOC) must be SOURCE or TARGET. 0 or replied. */
static int check_position_or_reply(req *r)
{
    char pos[16];
    int n = req_query(r, "position", pos, sizeof pos);
    const char *field = "position";
    if (n == -1) {
        n = req_query(r, "direction_type", pos, sizeof pos);
        if (n != -1) field = "direction_type";
    }
    if (n < 0 || (strcmp(pos, "SOURCE") != 0 && strcmp(pos, "TARGET") != 0)) {
        char msg[64];
        snprintf(msg, sizeof msg, "Invalid parameter [%s].", field);
        reply_error_detail(r, 400, DS_CODE_BAD_PARAM, msg, n == -1 ? "is required (SOURCE or TARGET)" : "must be SOURCE or TARGET");
        return ROMA_EINVAL;
    }
    return 0;
}

static void list_meta(req *r, int columns)
{
    if (check_position_or_reply(r) != 0) return;
    char table[300] = "", filter[300] = "";
    if (columns) {
        int n = req_query(r, "table_name", table, sizeof table);
        if (n <= 0 || util_utf8_len(table) < 0 || util_utf8_len(table) > 256) {
            reply_error_detail(r, 400, DS_CODE_BAD_PARAM, "Invalid parameter [table_name].",
                               n <= 0 && n != -2 ? "is required" : "must be 1 to 256 characters");
            return;
        }
    } else {
        int n = req_query(r, "filter", filter, sizeof filter);
        if (n == -2 || (n > 0 && util_utf8_len(filter) < 0)) {
            reply_error_detail(r, 400, DS_CODE_BAD_PARAM, "Invalid parameter [filter].", "must be at most 256 characters");
            return;
        }
    }
    PGresult *stored = load_row(r, DS_DO_USE);
    if (!stored) return;
    cJSON *info = NULL, *wb = NULL, *ans = NULL;
    if (ds_merge_or_reply(r, stored, NULL, &info, NULL) != 0) goto out;
    if (!(wb = worker_body(info)) ||
        (columns ? !cJSON_AddStringToObject(wb, "table_name", table)
                 : (*filter && !cJSON_AddStringToObject(wb, "filter", filter)))) {
        reply_internal(r, "out of memory");
        goto out;
    }
    if (!(ans = ask_worker(r, columns ? "ds.columns" : "ds.tables", wb))) goto out;
    const char *code = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ans, "code"));
    const char *detail = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ans, "detail"));
    if (!detail || !*detail) detail = "the request failed without details";
    if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ans, "ok"))) {
        if (code && !strcmp(code, "not_found"))
            reply_error_detail(r, 400, DS_CODE_BAD_PARAM, "Invalid parameter [table_name].", detail);
        else if (code && !strcmp(code, "unsupported"))
            reply_error_detail(r, 400, DS_CODE_BAD_BODY, "Invalid parameters.", detail);
        else
            reply_error_detail(r, 400, DS_CODE_TEST_FAILED, DS_MSG_TEST_FAILED, detail);
        goto out;
    }
    const char *key = columns ? "columns" : "tables";
    cJSON *list = cJSON_DetachItemFromObjectCaseSensitive(ans, key);
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_IsArray(list)) {
        cJSON_Delete(list);
        cJSON_Delete(o);
        reply_internal(r, "worker answer without a list");
        goto out;
    }
    cJSON_AddItemToObject(o, key, list);
    reply_json(r, 200, o);
    cJSON_Delete(o);
out:
    cJSON_Delete(ans);
    cJSON_Delete(wb);
    cJSON_Delete(info);
    PQclear(stored);
}

void ds_list_tables(req *r) { list_meta(r, 0); }
void ds_list_columns(req *r) { list_meta(r, 1); }
