/* meta_mysql.c: tables and columns of a MYSQL / TAURUS datasource, read from information_schema of the
 * datasource's database with prepared statements (the filter and the table name are bound parameters,
 * never pasted into SQL). Shapes: meta_common.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "meta_common.h"
#include "sessions.h"

#define COLS 9
#define CELL 512

typedef struct row_buf {
    char cell[COLS][CELL];
    unsigned long len[COLS];
    my_bool null[COLS];
    MYSQL_BIND bind[COLS];
} row_buf;

static void bind_results(row_buf *rb, int n)
{
    memset(rb->bind, 0, sizeof rb->bind);
    for (int i = 0; i < n; i++) {
        rb->bind[i].buffer_type = MYSQL_TYPE_STRING;
        rb->bind[i].buffer = rb->cell[i];
        rb->bind[i].buffer_length = CELL - 1;
        rb->bind[i].length = &rb->len[i];
        rb->bind[i].is_null = &rb->null[i];
    }
}

static const char *cell(row_buf *rb, int i)
{
    if (rb->null[i]) return NULL;
    unsigned long l = rb->len[i] < CELL - 1 ? rb->len[i] : CELL - 1; /* longer values were truncated */
    rb->cell[i][l] = '\0';
    return rb->cell[i];
}

/* Prepares sql, binds one string parameter, executes and binds n result columns. NULL on failure
 * (recorded). */
static MYSQL_STMT *run(ds_job *job, MYSQL *m, const char *sql, const char *param, row_buf *rb, int n)
{
    MYSQL_STMT *st = mysql_stmt_init(m);
    if (!st) {
        ds_fail(job, DS_E_OTHER, "out of memory");
        return NULL;
    }
    MYSQL_BIND pb;
    memset(&pb, 0, sizeof pb);
    unsigned long plen = (unsigned long)strlen(param);
    pb.buffer_type = MYSQL_TYPE_STRING;
    pb.buffer = (void *)param;
    pb.buffer_length = plen;
    pb.length = &plen;
    bind_results(rb, n);
    if (mysql_stmt_prepare(st, sql, (unsigned long)strlen(sql)) || mysql_stmt_bind_param(st, &pb) ||
        mysql_stmt_execute(st) || mysql_stmt_bind_result(st, rb->bind) || mysql_stmt_store_result(st)) {
        unsigned e = mysql_stmt_errno(st);
        if (e == 1142 || e == 1044)
            ds_fail(job, DS_E_PERM, "the user may not read the table catalog (MySQL error %u)", e);
        else
            ds_fail(job, DS_E_OTHER, "reading the table catalog failed (MySQL error %u: %.160s)", e, mysql_stmt_error(st));
        mysql_stmt_close(st);
        return NULL;
    }
    return st;
}

static void list_tables(ds_job *job, MYSQL *m)
{
    static const char sql[] = "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() "
                              "AND table_name LIKE ? ORDER BY BINARY table_name LIMIT 10000";
    char *pattern = meta_like_pattern(job->filter);
    row_buf *rb = malloc(sizeof *rb);
    cJSON *arr = cJSON_CreateArray();
    MYSQL_STMT *st = NULL;
    if (!pattern || !rb || !arr) {
        ds_fail(job, DS_E_OTHER, "out of memory");
        goto out;
    }
    st = run(job, m, sql, pattern, rb, 1);
    if (!st) goto out;
    int fr;
    while ((fr = mysql_stmt_fetch(st)) == 0 || fr == MYSQL_DATA_TRUNCATED) {
        const char *name = cell(rb, 0);
        cJSON *s = cJSON_CreateString(name ? name : "");
        if (!s || !cJSON_AddItemToArray(arr, s)) {
            cJSON_Delete(s);
            ds_fail(job, DS_E_OTHER, "out of memory");
            goto out;
        }
    }
    if (fr != MYSQL_NO_DATA) {
        ds_fail(job, DS_E_OTHER, "reading the table list failed (MySQL error %u)", mysql_stmt_errno(st));
        goto out;
    }
    ds_succeed(job, NULL);
    job->data = arr;
    arr = NULL;
out:
    if (st) mysql_stmt_close(st);
    cJSON_Delete(arr);
    free(rb);
    free(pattern);
}

static int is_numeric(const char *t)
{
    static const char *const num[] = {"tinyint", "smallint", "mediumint", "int", "integer", "bigint", "decimal",
                                      "numeric", "float", "double", "real", "bit", NULL};
    for (int i = 0; num[i]; i++)
        if (!strcasecmp(t, num[i])) return 1;
    return 0;
}

static void list_columns(ds_job *job, MYSQL *m, const char *db)
{
    static const char sql[] =
        "SELECT column_name, data_type, character_maximum_length, numeric_precision, numeric_scale, "
        "datetime_precision, is_nullable, column_key, column_type FROM information_schema.columns "
        "WHERE table_schema = DATABASE() AND table_name = ? ORDER BY ordinal_position LIMIT 10000";
    row_buf *rb = malloc(sizeof *rb);
    cJSON *arr = cJSON_CreateArray();
    MYSQL_STMT *st = NULL;
    if (!rb || !arr) {
        ds_fail(job, DS_E_OTHER, "out of memory");
        goto out;
    }
    st = run(job, m, sql, job->table, rb, COLS);
    if (!st) goto out;
    int fr, n = 0;
    while ((fr = mysql_stmt_fetch(st)) == 0 || fr == MYSQL_DATA_TRUNCATED) {
        const char *type = cell(rb, 1) ? cell(rb, 1) : "";
        char upper[64];
        snprintf(upper, sizeof upper, "%.63s", type);
        for (char *c = upper; *c; c++)
            if (*c >= 'a' && *c <= 'z') *c = (char)(*c - 'a' + 'A');
        const char *len = cell(rb, 2) ? cell(rb, 2) : cell(rb, 3) ? cell(rb, 3) : cell(rb, 5);
        const char *scale = is_numeric(type) ? (cell(rb, 4) ? cell(rb, 4) : "0") : NULL;
        const char *nullable = cell(rb, 6), *key = cell(rb, 7);
        if (meta_add_column(arr, cell(rb, 0), upper, len, nullable && !strcmp(nullable, "YES"),
                            key && !strcmp(key, "PRI"), key && !strcmp(key, "UNI"), scale) != 0) {
            ds_fail(job, DS_E_OTHER, "out of memory");
            goto out;
        }
        n++;
    }
    if (fr != MYSQL_NO_DATA) {
        ds_fail(job, DS_E_OTHER, "reading the columns failed (MySQL error %u)", mysql_stmt_errno(st));
        goto out;
    }
    if (n == 0) {
        /* a MySQL table always has a column: none means no such table (or no privilege on it) */
        ds_fail(job, DS_E_NOTFOUND, "no table \"%s\" in database \"%s\" (or the user may not see it)", job->table, db);
        goto out;
    }
    ds_succeed(job, NULL);
    job->data = arr;
    arr = NULL;
out:
    if (st) mysql_stmt_close(st);
    cJSON_Delete(arr);
    free(rb);
}

void meta_mysql(ds_job *job)
{
    mysql_thread_init();
    char db[256];
    MYSQL *m = ds_mysql_open(job, db, sizeof db);
    if (m) {
        unsigned left = ds_remaining_s(job);
        (void)mysql_options(m, MYSQL_OPT_READ_TIMEOUT, &left);
        if (job->op == DS_OP_TABLES) list_tables(job, m);
        else list_columns(job, m, db);
        mysql_close(m);
    }
    mysql_thread_end();
}
