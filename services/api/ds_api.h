/* ds_api.h: what the two halves of the datasource API share: datasources.c (routes, CRUD) and
 * ds_connect.c (test-connect, tables, columns through the datasource worker).
 *
 * Error bodies (E-FDI {error_code, error_msg[, detail]}):
 *   400 FDI.3002 "Invalid parameters."            body missing / not JSON / not an object (detail why)
 *   400 FDI.3033 "Invalid parameter [<field>]."   a field breaks its rule (detail: the rule); app_id not
 *                                                 an app of the instance; query parameters
 *   400 FDI.3016 "Failed to test the connectivity." + detail (test-connect, tables, columns)
 *   403 FDI.3403 "No permission for this datasource." + detail naming the role the operation needs
 *   404 FDI.3080 "The datasource does not exist."  (INF: the spec documents 404 without a code); also
 *                                                 a datasource of an app the caller is not a member of
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
#define DS_CODE_NO_PERMISSION "FDI.3403"
#define DS_MSG_TEST_FAILED "Failed to test the connectivity."

/* 400 FDI.3033 "Invalid parameter [field]." with the rule as detail (FDI.3002 for the body itself). */
void ds_reply_verr(req *r, const ds_verr *e);
void ds_reply_not_found(req *r);
/* Replies the answer to a failed ds_store call. */
void ds_reply_store_error(req *r, int rc);

/* ---- who may do what: the one role rule of every datasource path ----
 * A datasource's rights are the caller's roles on its owning app (app_members; admin implies all, every
 * member holds read). A caller who is not a member of the owning app does not see the datasource at
 * all (404, and absent from lists), as with apps' visibility. A member lacking the role gets 403.
 *   DS_DO_READ      list, show                                              read
 *   DS_DO_USE       test-connect (stored target), tables, columns           access
 *   DS_DO_MODIFY    create (on the body's app), update (stored and new app),
 *                   test-connect sending a stored secret to a changed target modify
 *   DS_DO_DELETE    delete                                                  delete */
typedef enum ds_action { DS_DO_READ = 0, DS_DO_USE, DS_DO_MODIFY, DS_DO_DELETE } ds_action;

/* The APP_ROLE_* bit an action needs. */
unsigned ds_action_role(ds_action a);
/* Checks the caller's roles in a ds_store row (DS_COL_ROLES) against a. 0, or replied (404 / 403). */
int ds_authorize_or_reply(req *r, PGresult *row, ds_action a);
/* 403 FDI.3403 naming the role a needs. */
void ds_reply_denied(req *r, ds_action a);

/* Builds the DatasourceInfo the request asks for: body fields over the stored row (stored may be NULL
 * on create; body may be NULL = "the stored one"), validated, content secrets sealed ("******"
 * resolved from the stored row). On success *info is the merged object (content sealed), *kept (may be
 * NULL) the number of secrets taken from the stored row, and 0 is returned; otherwise the 400 was
 * replied and a negative code returned. */
int ds_merge_or_reply(req *r, PGresult *stored, cJSON *body, cJSON **info, int *kept);

/* test-connect / tables / columns (ds_connect.c). Their settings (ROMA_DS_CHECK_TIMEOUT_MS,
 * ROMA_DS_BUS_MARGIN_MS) are read from the environment on first use; ds_config_print() prints them as
 * Markdown for roma-api --help-config. */
void ds_config_print(void);
void ds_test_connect(req *r);
void ds_list_tables(req *r);
void ds_list_columns(req *r);

#endif
