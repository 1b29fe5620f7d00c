/* config.c: loads a declarative cfg_entry table from the environment (see config.h). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util.h"

static int parse_bool(const char *s, int *out)
{
    if (!strcasecmp(s, "1") || !strcasecmp(s, "true") || !strcasecmp(s, "yes") || !strcasecmp(s, "on")) {
        *out = 1;
        return 0;
    }
    if (!strcasecmp(s, "0") || !strcasecmp(s, "false") || !strcasecmp(s, "no") || !strcasecmp(s, "off")) {
        *out = 0;
        return 0;
    }
    return ROMA_EINVAL;
}

int cfg_load(const cfg_entry *table, size_t n, char *err, size_t errlen)
{
    for (size_t i = 0; i < n; i++) {
        const cfg_entry *e = &table[i];
        const char *v = getenv(e->name);
        if (!v || !*v) v = e->def;
        switch (e->type) {
        case CFG_STR: {
            char **dst = e->dst;
            free(*dst);
            *dst = strdup(v);
            if (!*dst) {
                snprintf(err, errlen, "%s: out of memory", e->name);
                return ROMA_ENOMEM;
            }
            break;
        }
        case CFG_INT: {
            long x;
            if (util_parse_long(v, &x) != 0 || x < e->min || x > e->max) {
                snprintf(err, errlen, "%s=%s: expected an integer in [%ld, %ld]", e->name, v, e->min, e->max);
                return ROMA_EINVAL;
            }
            *(long *)e->dst = x;
            break;
        }
        case CFG_BOOL:
            if (parse_bool(v, (int *)e->dst) != 0) {
                snprintf(err, errlen, "%s=%s: expected true or false", e->name, v);
                return ROMA_EINVAL;
            }
            break;
        }
    }
    return 0;
}

void cfg_free(const cfg_entry *table, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (table[i].type == CFG_STR) {
            char **dst = table[i].dst;
            free(*dst);
            *dst = NULL;
        }
    }
}

void cfg_print_markdown(const cfg_entry *table, size_t n)
{
    printf("| variable | default | meaning |\n|---|---|---|\n");
    for (size_t i = 0; i < n; i++) {
        const cfg_entry *e = &table[i];
        if (e->type == CFG_INT)
            printf("| `%s` | `%s` | %s (%ld–%ld) |\n", e->name, e->def, e->doc, e->min, e->max);
        else
            printf("| `%s` | `%s` | %s |\n", e->name, e->def, e->doc);
    }
}

int cfg_handle_args(int argc, char **argv, const cfg_entry *table, size_t n)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help-config")) {
            cfg_print_markdown(table, n);
            return 1;
        }
        if (!strcmp(argv[i], "--version")) {
            printf("OpenROMA 0.1.0\n");
            return 1;
        }
    }
    return 0;
}
