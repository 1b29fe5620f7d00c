/* meta_common.c: helpers shared by the MySQL and PostgreSQL table/column listings (see meta_common.h). */
#include "meta_common.h"

#include <stdlib.h>
#include <string.h>

char *meta_like_pattern(const char *filter)
{
    size_t n = filter ? strlen(filter) : 0;
    char *p = malloc(2 * n + 3);
    if (!p) return NULL;
    size_t j = 0;
    p[j++] = '%';
    for (size_t i = 0; i < n; i++) {
        if (filter[i] == '%' || filter[i] == '_' || filter[i] == '\\') p[j++] = '\\';
        p[j++] = filter[i];
    }
    p[j++] = '%';
    p[j] = '\0';
    return p;
}

int meta_add_column(cJSON *arr, const char *name, const char *type, const char *length, int nullable, int primary,
                    int unique, const char *decimal_digits)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return -1;
    int ok = cJSON_AddStringToObject(o, "field_name", name ? name : "") &&
             cJSON_AddStringToObject(o, "field_type", type ? type : "") &&
             cJSON_AddStringToObject(o, "field_length", length ? length : "") &&
             cJSON_AddStringToObject(o, "null_able", nullable ? "YES" : "NO") &&
             cJSON_AddStringToObject(o, "primary", primary ? "Y" : "N") &&
             cJSON_AddStringToObject(o, "unique", unique ? "Y" : "N") &&
             (decimal_digits ? cJSON_AddStringToObject(o, "decimal_digits", decimal_digits) != NULL
                             : cJSON_AddNullToObject(o, "decimal_digits") != NULL) &&
             cJSON_AddFalseToObject(o, "is_partition");
    if (!ok || !cJSON_AddItemToArray(arr, o)) {
        cJSON_Delete(o);
        return -1;
    }
    return 0;
}
