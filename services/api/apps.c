/* apps.c: placeholder route table; the module's owner replaces this file. */
#include "routes.h"

const route apps_routes[] = {
    {NULL},
};
