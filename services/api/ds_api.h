/* ds_api.h: what the two halves of the datasource API share: datasources.c (routes, CRUD) and
 * ds_connect.c (test-connect, tables, columns through the datasource worker).
 *
 * Error bodies (E-FDI {error_code, error_msg[, detail]}):
 *   400 FDI.3002 "Invalid parameters."            body missing / not JSON / not an object (detail why)
 *   400 FDI.3033 "Invalid parameter [<field>]."   a field breaks its rule (detail: the rule); app_id not
 *                                                 an app of the instance; query parameters
 *   400 FDI.3016 "Failed to test the connectivity." + detail (test-connect, tables, columns)
 *   404 FDI.3080 "The datasource does not exist."  (INF: the spec documents 404 without a code)
 *   500 FDI.3000, 503 FDI.3503                    internal / dependency unavailable (http.c) */
#ifndef ROMA_API_DS_API_H
#define ROMA_API_DS_API_H

#include <cJSON.h>
#include <libpq-fe.h>

#include "ds_validate.h"
#include "http.h"

#define DS_CODE_BAD_BODY "FDI.3002"
#define DS_CODE_BAD_PARAM "FDI.3033"
#define DS_CODE_TEST_FAILED "FDI.3016"
#define DS_CODE_NOT_FOUND "FDI.3080"
#define DS_MSG_TEST_FAILED "Failed to test the connectivity."

/* 400 FDI.3033 "Invalid parameter [field]." with the rule as detail (FDI.3002 for the body itself). */
void ds_reply_verr(req *r, const ds_verr *e);
void ds_reply_not_found(req *r);
/* Replies the answer to a failed ds_store call. */
void ds_reply_store_error(req *r, int rc);

/* Builds the DatasourceInfo the request asks for: body fields over the stored row (stored may be NULL
 * on create; body may be NULL = "the stored one"), validated, content secrets sealed ("******"
 * resolved from the stored row). On success *info is the merged object (content sealed) and 0 is
 * returned; otherwise the 400 was replied and a negative code returned. */
int ds_merge_or_reply(req *r, PGresult *stored, cJSON *body, cJSON **info);

/* test-connect / tables / columns (ds_connect.c). Their settings (ROMA_DS_CHECK_TIMEOUT_MS,
 * ROMA_DS_BUS_MARGIN_MS) are read from the environment on first use; ds_config_print() prints them as
 * Markdown for roma-api --help-config. */
void ds_config_print(void);
void ds_test_connect(req *r);
void ds_list_tables(req *r);
void ds_list_columns(req *r);

#endif
