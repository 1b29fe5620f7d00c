/* dispatch.h: the datasource worker's broker request handler (message types and body: dispatch.c). */
#ifndef ROMA_DS_DISPATCH_H
#define ROMA_DS_DISPATCH_H

#include "command.h"

#define DS_KIND "datasource"
#define DS_MSG_TEST "ds.test"
#define DS_MSG_TABLES "ds.tables"
#define DS_MSG_COLUMNS "ds.columns"

/* roma_handler: runs on an executor thread; answers within the request's check deadline. */
void dispatch_handle(void *arg, const roma_msg *req, roma_msg *reply);

#endif
