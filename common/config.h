/* config.h: declarative configuration from environment variables (PgBouncer-style table).
 * Each process declares a cfg_entry table; cfg_load() fills the destinations from the environment,
 * falling back to the documented default, and validates ranges. `<binary> --help-config` prints the
 * table as Markdown (the README tables are generated from it). */
#ifndef ROMA_CONFIG_H
#define ROMA_CONFIG_H

#include <stddef.h>
#include "errors.h"

typedef enum { CFG_STR, CFG_INT, CFG_BOOL } cfg_type;

typedef struct cfg_entry {
    const char *name;  /* environment variable, e.g. "ROMA_HTTP_PORT" */
    cfg_type type;
    const char *def;   /* default as text ("" allowed for strings) */
    const char *doc;   /* one-line description */
    void *dst;         /* CFG_STR: char ** (heap, freed by cfg_free); CFG_INT: long *; CFG_BOOL: int * */
    long min, max;     /* CFG_INT bounds (inclusive) */
} cfg_entry;

/* Returns 0, or ROMA_EINVAL with a message in err naming the variable. */
int cfg_load(const cfg_entry *table, size_t n, char *err, size_t errlen) ROMA_MUST_USE;
void cfg_free(const cfg_entry *table, size_t n);
void cfg_print_markdown(const cfg_entry *table, size_t n);

/* Handles --help-config / --version argv flags for a process; returns 1 when it printed and the caller should exit 0. */
int cfg_handle_args(int argc, char **argv, const cfg_entry *table, size_t n);

#endif
