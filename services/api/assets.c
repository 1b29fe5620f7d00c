/* assets.c: placeholder route table; the module's owner replaces this file. */
#include "routes.h"

const route assets_routes[] = {
    {NULL},
};
