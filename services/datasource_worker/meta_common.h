/* meta_common.h: shared shapes of the table and column listings (ListDatasourceTables /
 * ListDatasourceColumns) so MySQL and PostgreSQL answer identically:
 *   tables:  ["name", ...]                   (at most META_MAX_ROWS, in byte order)
 *   columns: [{field_name, field_type, field_length, null_able "YES"|"NO", primary "Y"|"N",
 *              unique "Y"|"N", decimal_digits string|null, is_partition false}, ...]
 * null_able uses JDBC's IS_NULLABLE words and decimal_digits JDBC's DECIMAL_DIGITS semantics (null
 * where not applicable), which is what the documented descriptions paraphrase. */
#ifndef ROMA_DS_META_COMMON_H
#define ROMA_DS_META_COMMON_H

#include <stddef.h>

#include <cJSON.h>

#define META_MAX_ROWS 10000

/* filter -> "%filter%" with the LIKE metacharacters % _ \ escaped by '\'. Heap string or NULL (OOM). */
char *meta_like_pattern(const char *filter);

/* Appends one column object to arr (strings may be NULL = "" except decimal_digits NULL = JSON null).
 * 0 or -1 (out of memory). */
int meta_add_column(cJSON *arr, const char *name, const char *type, const char *length, int nullable, int primary,
                    int unique, const char *decimal_digits);

#endif
