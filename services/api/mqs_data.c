/* mqs_data.c: placeholder route table; the module's owner replaces this file. */
#include "routes.h"

const route mqs_data_routes[] = {
    {NULL},
};
