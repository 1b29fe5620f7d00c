/* main.c: roma-admin, the operator CLI: applies migrations and creates projects, instances, users,
 * tokens and AK/SK pairs (bootstrap does all of it idempotently for `make run`).
 * Values go to stdout (one per line, or KEY=value lines for bootstrap); messages go to stderr.
 * Exit codes: 0 success, 1 usage or configuration error, 2 database error. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/crypto.h>

#include "admin_store.h"
#include "config.h"
#include "crypto.h"
#include "db.h"
#include "log.h"
#include "migrate.h"
#include "util.h"

#define EXIT_USAGE 1
#define EXIT_DB 2

static char *cfg_database_url, *cfg_secret_key, *cfg_secret_key_file, *cfg_migrations_dir, *cfg_log_level;
static long cfg_password_iterations;

static const cfg_entry CONFIG[] = {
    {"ROMA_DATABASE_URL", CFG_STR, "postgresql://roma:roma@127.0.0.1:5432/roma",
     "PostgreSQL connection (libpq URL or key=value conninfo)", &cfg_database_url},
    {"ROMA_SECRET_KEY", CFG_STR, "", "data-encryption key, 64 hex chars (wins over ROMA_SECRET_KEY_FILE)",
     &cfg_secret_key},
    {"ROMA_SECRET_KEY_FILE", CFG_STR, "var/secret.key",
     "file holding the data-encryption key; created (mode 0600) by ak-create/bootstrap when missing",
     &cfg_secret_key_file},
    {"ROMA_MIGRATIONS_DIR", CFG_STR, "migrations", "directory of the numbered NNN_name.sql migrations",
     &cfg_migrations_dir},
    {"ROMA_LOG_LEVEL", CFG_STR, "warn", "debug|info|warn|error (JSON lines on stderr)", &cfg_log_level},
    /* same variable and default as roma-api's (common/crypto.h: OWASP's PBKDF2-HMAC-SHA256 value) */
    {"ROMA_PASSWORD_ITERATIONS", CFG_INT, "600000",
     "PBKDF2-HMAC-SHA256 iterations of the password hashes user-create/bootstrap store (tests lower it)",
     &cfg_password_iterations, CRYPTO_PBKDF2_ITER_MIN, 5000000},
};
#define NCONFIG (sizeof CONFIG / sizeof CONFIG[0])

static const char USAGE[] =
    "usage: roma-admin <command> [options]\n"
    "  migrate                                                apply pending migrations\n"
    "  project-create  --name N [--id 32hex]                  prints the project id\n"
    "  instance-create --project P --name N [--id uuid]       prints the instance id\n"
    "  user-create     --project P --name N --password PW     prints the user id\n"
    "  token-create    --user U [--ttl-hours H]               prints a new X-Auth-Token (default 24 h)\n"
    "  ak-create       --user U                               prints \"AK SK\"\n"
    "  bootstrap --project-name N --instance-name N --user-name U --password PW\n"
    "            [--project-id 32hex] [--instance-id uuid] [--ttl-hours H]\n"
    "      idempotent: reuses the project/instance/user with these names (the user's password is set\n"
    "      to PW), issues a fresh token and AK/SK, prints ROMA_PROJECT_ID=, ROMA_INSTANCE_ID=,\n"
    "      ROMA_USER_ID=, ROMA_TOKEN=, ROMA_AK=, ROMA_SK= lines\n"
    "  --password - reads the password from the first line of stdin (keeps it out of `ps`).\n"
    "  roma-admin --help-config lists the environment variables.\n"
    "exit status: 0 ok, 1 usage or configuration error, 2 database error\n";

/* ---- options ------------------------------------------------------------------------------------- */

enum {
    O_NAME, O_ID, O_PROJECT, O_USER, O_PASSWORD, O_TTL, O_PROJECT_NAME, O_INSTANCE_NAME, O_USER_NAME,
    O_PROJECT_ID, O_INSTANCE_ID, O_COUNT
};
static const char *const OPT_FLAGS[O_COUNT] = {
    "--name", "--id", "--project", "--user", "--password", "--ttl-hours", "--project-name", "--instance-name",
    "--user-name", "--project-id", "--instance-id",
};
#define BIT(o) (1u << (o))

typedef struct opts {
    const char *v[O_COUNT];
    char *password; /* heap copy, wiped by opts_free */
} opts;

static void opts_free(opts *o) {
    crypto_free_secret(o->password);
    o->password = NULL;
}

static int usage_error(const char *fmt, const char *arg) {
    fprintf(stderr, "roma-admin: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n%s", USAGE);
    return EXIT_USAGE;
}

/* Reads the password from stdin's first line. NULL on EOF/error. */
static char *read_password_stdin(void) {
    char buf[1100];
    if (fgets(buf, sizeof buf, stdin) == NULL) return NULL;
    size_t n = strcspn(buf, "\r\n");
    buf[n] = '\0';
    char *s = strdup(buf);
    OPENSSL_cleanse(buf, sizeof buf);
    return s;
}

/* Parses argv[2..] ("--flag value" or "--flag=value") allowing only the flags in `allowed`, requiring
 * those in `required`. Returns 0 or EXIT_USAGE (message printed). */
static int parse_opts(int argc, char **argv, unsigned allowed, unsigned required, opts *o) {
    memset(o, 0, sizeof *o);
    for (int i = 2; i < argc; i++) {
        char *a = argv[i], *val = NULL;
        char *eq = strchr(a, '=');
        size_t flen = eq ? (size_t)(eq - a) : strlen(a);
        int which = -1;
        for (int k = 0; k < O_COUNT; k++)
            if (strlen(OPT_FLAGS[k]) == flen && !strncmp(a, OPT_FLAGS[k], flen)) which = k;
        if (which < 0 || !(allowed & BIT(which))) return usage_error("unknown option %s", a);
        if (o->v[which] != NULL) return usage_error("option %s given twice", OPT_FLAGS[which]);
        if (eq) val = eq + 1;
        else if (i + 1 < argc) val = argv[++i];
        else return usage_error("option %s needs a value", a);
        if (which == O_PASSWORD) {
            o->password = strcmp(val, "-") == 0 ? read_password_stdin() : strdup(val);
            if (o->password == NULL) return usage_error("%s", "cannot read the password");
            /* Why: argv is visible in /proc/<pid>/cmdline to every local user; blank our copy there.
             * (A window remains between exec and this line: prefer --password -.) */
            OPENSSL_cleanse(val, strlen(val));
            o->v[which] = o->password;
        } else {
            o->v[which] = val;
        }
    }
    for (int k = 0; k < O_COUNT; k++)
        if ((required & BIT(k)) && o->v[k] == NULL) return usage_error("missing option %s", OPT_FLAGS[k]);
    return 0;
}

static int valid_name(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n > 255 || util_utf8_len(s) < 0) return 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f) return 0;
    return 1;
}

/* Checks the values common to several commands. */
static int validate(const opts *o, int id_is_uuid) {
    static const int names[] = {O_NAME, O_PROJECT_NAME, O_INSTANCE_NAME, O_USER_NAME};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (o->v[names[i]] && !valid_name(o->v[names[i]]))
            return usage_error("%s must be 1-255 bytes of printable UTF-8", OPT_FLAGS[names[i]]);
    static const int hex32[] = {O_PROJECT, O_USER, O_PROJECT_ID};
    for (size_t i = 0; i < sizeof hex32 / sizeof hex32[0]; i++)
        if (o->v[hex32[i]] && !util_is_hex32(o->v[hex32[i]]))
            return usage_error("%s must be 32 lower-case hex characters", OPT_FLAGS[hex32[i]]);
    if (o->v[O_ID] && !(id_is_uuid ? util_is_uuid(o->v[O_ID]) : util_is_hex32(o->v[O_ID])))
        return usage_error("--id must be %s", id_is_uuid ? "a UUID (8-4-4-4-12 hex)" : "32 lower-case hex characters");
    if (o->v[O_INSTANCE_ID] && !util_is_uuid(o->v[O_INSTANCE_ID]))
        return usage_error("%s must be a UUID (8-4-4-4-12 hex)", "--instance-id");
    if (o->v[O_PASSWORD] && (o->v[O_PASSWORD][0] == '\0' || strlen(o->v[O_PASSWORD]) > 1024))
        return usage_error("%s must be 1-1024 bytes", "--password");
    return 0;
}

static int ttl_hours(const opts *o, long *out) {
    *out = 24;
    if (o->v[O_TTL] == NULL) return 0;
    if (util_parse_long(o->v[O_TTL], out) != 0 || *out < 1 || *out > 8760)
        return usage_error("--ttl-hours must be an integer from 1 to 8760, not '%s'", o->v[O_TTL]);
    return 0;
}

/* ---- helpers ------------------------------------------------------------------------------------- */

static PGconn *connect_db(void) {
    char err[512];
    PGconn *c = db_connect(cfg_database_url, err, sizeof err);
    if (c == NULL) fprintf(stderr, "roma-admin: cannot connect to the database: %s\n", err);
    return c;
}

static int db_error(const char *err) {
    fprintf(stderr, "roma-admin: %s\n", err);
    return EXIT_DB;
}

/* Loads (or on first use creates) the data-encryption key that seals SKs. */
static int load_key(void) {
    char err[512];
    if (cfg_secret_key[0] == '\0') {
        /* a fresh checkout has no var/: create the key file's directory (one level, private) */
        char dir[1024];
        snprintf(dir, sizeof dir, "%s", cfg_secret_key_file);
        char *slash = strrchr(dir, '/');
        if (slash != NULL && slash != dir) {
            *slash = '\0';
            if (mkdir(dir, 0700) != 0 && errno != EEXIST)
                fprintf(stderr, "roma-admin: cannot create directory %s: %s\n", dir, strerror(errno));
        }
    }
    if (crypto_init(cfg_secret_key, cfg_secret_key_file, 1, err, sizeof err) != 0) {
        fprintf(stderr, "roma-admin: %s\n", err);
        return EXIT_USAGE;
    }
    return 0;
}

static int finish_output(void) {
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "roma-admin: cannot write to stdout: %s\n", strerror(errno));
        return EXIT_USAGE;
    }
    return 0;
}

/* ---- commands ------------------------------------------------------------------------------------ */

static int cmd_migrate(int argc, char **argv) {
    opts o;
    int rc = parse_opts(argc, argv, 0, 0, &o);
    if (rc) return rc;
    PGconn *c = connect_db();
    if (c == NULL) return EXIT_DB;
    char err[512] = "";
    int n = migrate_apply(c, cfg_migrations_dir, err, sizeof err);
    PQfinish(c);
    if (n < 0) {
        fprintf(stderr, "roma-admin: migrate (%s): %s\n", cfg_migrations_dir, err[0] ? err : roma_strerror(n));
        return EXIT_DB;
    }
    fprintf(stderr, "roma-admin: %d migration(s) applied\n", n);
    return 0;
}

static int cmd_project_create(int argc, char **argv) {
    opts o;
    int rc = parse_opts(argc, argv, BIT(O_NAME) | BIT(O_ID), BIT(O_NAME), &o);
    if (rc || (rc = validate(&o, 0))) return rc;
    PGconn *c = connect_db();
    if (c == NULL) return EXIT_DB;
    char id[33], err[512];
    rc = store_project(c, o.v[O_NAME], o.v[O_ID], 0, id, err, sizeof err);
    PQfinish(c);
    if (rc) return db_error(err);
    printf("%s\n", id);
    return finish_output();
}

static int cmd_instance_create(int argc, char **argv) {
    opts o;
    int rc = parse_opts(argc, argv, BIT(O_PROJECT) | BIT(O_NAME) | BIT(O_ID), BIT(O_PROJECT) | BIT(O_NAME), &o);
    if (rc || (rc = validate(&o, 1))) return rc;
    PGconn *c = connect_db();
    if (c == NULL) return EXIT_DB;
    char id[37], err[512];
    rc = store_instance(c, o.v[O_PROJECT], o.v[O_NAME], o.v[O_ID], 0, id, err, sizeof err);
    PQfinish(c);
    if (rc) return db_error(err);
    printf("%s\n", id);
    return finish_output();
}

static int cmd_user_create(int argc, char **argv) {
    opts o;
    unsigned need = BIT(O_PROJECT) | BIT(O_NAME) | BIT(O_PASSWORD);
    int rc = parse_opts(argc, argv, need, need, &o);
    if (rc || (rc = validate(&o, 0))) {
        opts_free(&o);
        return rc;
    }
    PGconn *c = connect_db();
    if (c == NULL) {
        opts_free(&o);
        return EXIT_DB;
    }
    char id[33], err[512];
    int created;
    rc = store_user(c, o.v[O_PROJECT], o.v[O_NAME], o.password, cfg_password_iterations, 0, id, &created, err, sizeof err);
    PQfinish(c);
    opts_free(&o);
    if (rc) return db_error(err);
    printf("%s\n", id);
    return finish_output();
}

static int cmd_token_create(int argc, char **argv) {
    opts o;
    long ttl;
    int rc = parse_opts(argc, argv, BIT(O_USER) | BIT(O_TTL), BIT(O_USER), &o);
    if (rc || (rc = validate(&o, 0)) || (rc = ttl_hours(&o, &ttl))) return rc;
    PGconn *c = connect_db();
    if (c == NULL) return EXIT_DB;
    char token[ADMIN_TOKEN_LEN + 1], err[512];
    rc = store_token(c, o.v[O_USER], ttl, token, sizeof token, err, sizeof err);
    PQfinish(c);
    if (rc) return db_error(err);
    printf("%s\n", token);
    OPENSSL_cleanse(token, sizeof token);
    return finish_output();
}

static int cmd_ak_create(int argc, char **argv) {
    opts o;
    int rc = parse_opts(argc, argv, BIT(O_USER), BIT(O_USER), &o);
    if (rc || (rc = validate(&o, 0)) || (rc = load_key())) return rc;
    PGconn *c = connect_db();
    if (c == NULL) return EXIT_DB;
    char ak[ADMIN_AK_LEN + 1], sk[ADMIN_SK_LEN + 1], err[512];
    rc = store_access_key(c, o.v[O_USER], ak, sk, err, sizeof err);
    PQfinish(c);
    if (rc) return db_error(err);
    printf("%s %s\n", ak, sk);
    OPENSSL_cleanse(sk, sizeof sk);
    return finish_output();
}

static int cmd_bootstrap(int argc, char **argv) {
    opts o;
    long ttl;
    unsigned need = BIT(O_PROJECT_NAME) | BIT(O_INSTANCE_NAME) | BIT(O_USER_NAME) | BIT(O_PASSWORD);
    int rc = parse_opts(argc, argv, need | BIT(O_PROJECT_ID) | BIT(O_INSTANCE_ID) | BIT(O_TTL), need, &o);
    if (rc || (rc = validate(&o, 0)) || (rc = ttl_hours(&o, &ttl)) || (rc = load_key())) {
        opts_free(&o);
        return rc;
    }
    PGconn *c = connect_db();
    if (c == NULL) {
        opts_free(&o);
        return EXIT_DB;
    }
    char pid[33], iid[37], uid[33], token[ADMIN_TOKEN_LEN + 1], ak[ADMIN_AK_LEN + 1], sk[ADMIN_SK_LEN + 1];
    char err[512];
    int created;
    /* One transaction under an advisory lock: two concurrent bootstraps cannot both insert, and a
     * failure half-way leaves nothing behind. */
    rc = store_begin_locked(c, err, sizeof err);
    if (!rc) rc = store_project(c, o.v[O_PROJECT_NAME], o.v[O_PROJECT_ID], 1, pid, err, sizeof err);
    if (!rc) rc = store_instance(c, pid, o.v[O_INSTANCE_NAME], o.v[O_INSTANCE_ID], 1, iid, err, sizeof err);
    if (!rc) rc = store_user(c, pid, o.v[O_USER_NAME], o.password, cfg_password_iterations, 1, uid, &created, err, sizeof err);
    opts_free(&o);
    if (!rc) rc = store_token(c, uid, ttl, token, sizeof token, err, sizeof err);
    if (!rc) {
        rc = store_access_key(c, uid, ak, sk, err, sizeof err);
        if (rc) OPENSSL_cleanse(token, sizeof token);
    }
    if (!rc) {
        rc = store_commit(c, err, sizeof err);
        if (rc) {
            OPENSSL_cleanse(token, sizeof token);
            OPENSSL_cleanse(sk, sizeof sk);
        }
    } else {
        store_rollback(c);
    }
    PQfinish(c);
    if (rc) return db_error(err);
    printf("ROMA_PROJECT_ID=%s\nROMA_INSTANCE_ID=%s\nROMA_USER_ID=%s\nROMA_TOKEN=%s\nROMA_AK=%s\nROMA_SK=%s\n", pid, iid,
           uid, token, ak, sk);
    OPENSSL_cleanse(token, sizeof token);
    OPENSSL_cleanse(sk, sizeof sk);
    return finish_output();
}

static const struct {
    const char *name;
    int (*fn)(int, char **);
} COMMANDS[] = {
    {"migrate", cmd_migrate},         {"project-create", cmd_project_create}, {"instance-create", cmd_instance_create},
    {"user-create", cmd_user_create}, {"token-create", cmd_token_create},     {"ak-create", cmd_ak_create},
    {"bootstrap", cmd_bootstrap},
};

int main(int argc, char **argv) {
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help"))) {
        fputs(USAGE, stdout);
        return 0;
    }
    if (argc >= 2 && argv[1][0] == '-' && cfg_handle_args(2, argv, CONFIG, NCONFIG)) return 0;
    if (argc < 2) {
        fputs(USAGE, stderr);
        return EXIT_USAGE;
    }
    int (*fn)(int, char **) = NULL;
    for (size_t i = 0; i < sizeof COMMANDS / sizeof COMMANDS[0]; i++)
        if (!strcmp(argv[1], COMMANDS[i].name)) fn = COMMANDS[i].fn;
    if (fn == NULL) return usage_error("unknown command '%s'", argv[1]);

    char err[512];
    if (cfg_load(CONFIG, NCONFIG, err, sizeof err) != 0) {
        fprintf(stderr, "roma-admin: %s\n", err);
        cfg_free(CONFIG, NCONFIG);
        return EXIT_USAGE;
    }
    log_init("admin", cfg_log_level);
    int rc = fn(argc, argv);
    if (cfg_secret_key != NULL) OPENSSL_cleanse(cfg_secret_key, strlen(cfg_secret_key));
    cfg_free(CONFIG, NCONFIG);
    return rc;
}
