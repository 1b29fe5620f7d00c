/* routes.c: the list of route tables the router searches, in order. */
#include "routes.h"

const route *const route_tables[] = {
    system_routes, apps_routes, assets_routes, datasources_routes, topics_routes, mqs_data_routes, NULL,
};
