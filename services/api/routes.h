/* routes.h: the route tables of every API module; each is terminated by an entry with method NULL.
 * A module owns its table (apps.c owns apps_routes, ...); routes.c lists the tables. */
#ifndef ROMA_API_ROUTES_H
#define ROMA_API_ROUTES_H

#include "http.h"

extern const route system_routes[];      /* system.c: /, /v2, /healthz, /readyz, /v3/auth/tokens */
extern const route apps_routes[];        /* apps.c */
extern const route assets_routes[];      /* assets.c */
extern const route datasources_routes[]; /* datasources.c */
extern const route topics_routes[];      /* topics.c: MQS control plane */
extern const route mqs_data_routes[];    /* mqs_data.c: MQS data-plane REST */

extern const route *const route_tables[]; /* NULL-terminated list of the tables above */

#endif
