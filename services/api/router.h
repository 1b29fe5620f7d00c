/* router.h: matches a request to a route of routes.c, reads its body, authenticates it, checks the
 * project and instance of its path, runs the handler and logs one line per request. */
#ifndef ROMA_API_ROUTER_H
#define ROMA_API_ROUTER_H

#include <civetweb.h>

/* civetweb request handler registered for "/" (every path). */
int router_handle(struct mg_connection *conn, void *cbdata);
/* civetweb http_error callback: E-ROMA JSON for errors civetweb raises itself (malformed requests). */
int router_http_error(struct mg_connection *conn, int status, const char *errmsg);
/* civetweb connection_close callback: answers the absolute-URI requests civetweb drops silently. */
void router_connection_close(const struct mg_connection *conn);

#endif
