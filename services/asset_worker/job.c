/* job.c: claim, lease, progress, finish and release of asset jobs (see job.h for the fencing rules). */
#include "job.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "asset_job.h"
#include "db.h"
#include "log.h"
#include "util.h"

/* ---- lease registry: one slot per executor thread, renewed by the lease thread ---- */

typedef struct lease_slot {
    char id[33]; /* "" = free */
    int attempt;
    int lost;    /* renewal matched no row: another attempt took the job over */
    int finishing; /* in its finishing transaction: the row lock protects it, and renewing would block */
} lease_slot;

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    lease_slot *slots;
    int n;
    int stop;
    int started;
    pthread_t thread;
    char owner[96];
} ls = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static void lease_set(int slot, const char *id, int attempt)
{
    pthread_mutex_lock(&ls.mu);
    snprintf(ls.slots[slot].id, sizeof ls.slots[slot].id, "%s", id);
    ls.slots[slot].attempt = attempt;
    ls.slots[slot].lost = 0;
    ls.slots[slot].finishing = 0;
    pthread_mutex_unlock(&ls.mu);
}

static void lease_set_finishing(int slot, int on)
{
    pthread_mutex_lock(&ls.mu);
    ls.slots[slot].finishing = on;
    pthread_mutex_unlock(&ls.mu);
}

static int lease_lost(int slot)
{
    pthread_mutex_lock(&ls.mu);
    int lost = ls.slots[slot].lost;
    pthread_mutex_unlock(&ls.mu);
    return lost;
}

/* Renews every registered lease once, on the lease thread's own connection (a job's connection may be
 * busy for seconds). Jobs in their finishing transaction are skipped: they hold the row lock, which
 * already keeps any other claimer out until they commit, and an UPDATE would only queue behind it. */
static void lease_renew_all(PGconn *db)
{
    char ms[24];
    snprintf(ms, sizeof ms, "%ld", g_wcfg.lease_ms);
    for (int i = 0; i < ls.n; i++) {
        lease_slot s;
        pthread_mutex_lock(&ls.mu);
        s = ls.slots[i];
        pthread_mutex_unlock(&ls.mu);
        if (!s.id[0] || s.lost || s.finishing) continue;
        char att[16];
        snprintf(att, sizeof att, "%d", s.attempt);
        const char *p[] = {s.id, att, ms};
        PGresult *res = db_exec(db,
                                "UPDATE asset_jobs SET lease_expires_at = now() + make_interval(secs => $3::float8 / 1000),"
                                " heartbeat_at = now() WHERE id = $1 AND attempt = $2::int AND status = 'RUNNING'",
                                3, p);
        if (db_ok(res, PGRES_COMMAND_OK, NULL) && atoi(PQcmdTuples(res)) == 0) {
            pthread_mutex_lock(&ls.mu);
            /* the slot may have moved on to another job meanwhile: only flag the run we renewed */
            int same = !strcmp(ls.slots[i].id, s.id) && ls.slots[i].attempt == s.attempt;
            if (same) ls.slots[i].lost = 1;
            pthread_mutex_unlock(&ls.mu);
            if (same)
                log_warn(NULL, "job.lease_lost", "job %s attempt %d: lease taken over by a newer attempt", s.id,
                         s.attempt);
        }
        PQclear(res);
    }
}

static void *lease_main(void *arg)
{
    (void)arg;
    PGconn *db = NULL;
    pthread_mutex_lock(&ls.mu);
    while (!ls.stop) {
        pthread_mutex_unlock(&ls.mu);
        if (db && PQstatus(db) != CONNECTION_OK) {
            PQfinish(db);
            db = NULL;
        }
        if (!db) {
            char err[256];
            db = db_connect(g_wcfg.database_url, err, sizeof err);
            if (!db) log_warn(NULL, "lease.db", "cannot connect: %s", err);
        }
        if (db) lease_renew_all(db);
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += g_wcfg.heartbeat_ms / 1000;
        until.tv_nsec += (g_wcfg.heartbeat_ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_mutex_lock(&ls.mu);
        while (!ls.stop && pthread_cond_timedwait(&ls.cv, &ls.mu, &until) == 0) {
        }
    }
    pthread_mutex_unlock(&ls.mu);
    if (db) PQfinish(db);
    return NULL;
}

int lease_start(int slots)
{
    char host[64] = "host";
    (void)gethostname(host, sizeof host - 1);
    snprintf(ls.owner, sizeof ls.owner, "%.63s:%d", host, (int)getpid());
    ls.slots = calloc((size_t)slots, sizeof *ls.slots);
    if (!ls.slots) return ROMA_ENOMEM;
    ls.n = slots;
    ls.stop = 0;
    if (pthread_create(&ls.thread, NULL, lease_main, NULL) != 0) {
        free(ls.slots);
        ls.slots = NULL;
        return ROMA_EIO;
    }
    ls.started = 1;
    return 0;
}

void lease_stop(void)
{
    if (!ls.started) return;
    pthread_mutex_lock(&ls.mu);
    ls.stop = 1;
    pthread_cond_signal(&ls.cv);
    pthread_mutex_unlock(&ls.mu);
    pthread_join(ls.thread, NULL);
    free(ls.slots);
    ls.slots = NULL;
    ls.started = 0;
}

/* ---- the job's own writes ---- */

int job_claim(PGconn *db, const char *job_id, int slot, job *j)
{
    memset(j, 0, sizeof *j);
    if (!util_is_hex32(job_id)) return ROMA_ENOTFOUND;
    char owner[112], ms[24];
    snprintf(owner, sizeof owner, "%s:%d", ls.owner, slot);
    snprintf(ms, sizeof ms, "%ld", g_wcfg.lease_ms);
    const char *p[] = {job_id, owner, ms};
    /* The fenced claim: a new job, or a RUNNING one whose holder stopped renewing its lease. A duplicate
     * command for a job running under a live lease, or a finished one, matches nothing. */
    PGresult *res = db_exec(
        db,
        "UPDATE asset_jobs SET status = 'RUNNING', attempt = attempt + 1, lease_owner = $2,"
        " lease_expires_at = now() + make_interval(secs => $3::float8 / 1000), heartbeat_at = now(),"
        " begin_time = COALESCE(begin_time, now())"
        " WHERE id = $1 AND attempt < max_attempts"
        "   AND (status = 'PENDING' OR (status = 'RUNNING' AND lease_expires_at < now()))"
        " RETURNING attempt, type, project_id, instance_id, COALESCE(created_by, ''), rid, request::text",
        3, p);
    if (!db_ok(res, PGRES_TUPLES_OK, NULL)) {
        PQclear(res);
        return ROMA_EIO;
    }
    if (PQntuples(res) != 1) {
        PQclear(res);
        return ROMA_ENOTFOUND;
    }
    snprintf(j->id, sizeof j->id, "%s", job_id);
    j->attempt = atoi(PQgetvalue(res, 0, 0));
    snprintf(j->type, sizeof j->type, "%s", PQgetvalue(res, 0, 1));
    snprintf(j->project_id, sizeof j->project_id, "%s", PQgetvalue(res, 0, 2));
    snprintf(j->instance_id, sizeof j->instance_id, "%s", PQgetvalue(res, 0, 3));
    snprintf(j->created_by, sizeof j->created_by, "%s", PQgetvalue(res, 0, 4));
    snprintf(j->rid, sizeof j->rid, "%s", PQgetvalue(res, 0, 5));
    j->request = cJSON_Parse(PQgetvalue(res, 0, 6));
    PQclear(res);
    j->db = db;
    j->slot = slot;
    lease_set(slot, j->id, j->attempt);
    if (!j->request) {
        /* cannot happen for a row the API wrote (jsonb); give it back so the attempt budget ends it */
        log_error(j->rid, "job.bad_request", "job %s: stored request does not parse", j->id);
        job_release(j, 0);
        job_done(j);
        return ROMA_ENOTFOUND;
    }
    log_info(j->rid, "job.claimed", "%s job %s attempt %d by %s", j->type, j->id, j->attempt, owner);
    return 0;
}

int job_step(job *j, double progress)
{
    if (g_wcfg.test_delay_ms > 0) util_sleep_ms(g_wcfg.test_delay_ms);
    if (lease_lost(j->slot)) return JOB_FENCED;
    if (g_stop) return JOB_STOPPING;
    char att[16], prog[32];
    snprintf(att, sizeof att, "%d", j->attempt);
    snprintf(prog, sizeof prog, "%.4f", progress < 0 ? 0 : progress > 0.99 ? 0.99 : progress);
    const char *p[] = {j->id, att, prog};
    /* GREATEST: a retry starting over never moves the visible progress backwards */
    PGresult *res = db_exec(j->db,
                            "UPDATE asset_jobs SET progress = GREATEST(progress, $3::real)"
                            " WHERE id = $1 AND attempt = $2::int AND status = 'RUNNING'",
                            3, p);
    int rc = 0;
    if (!db_ok(res, PGRES_COMMAND_OK, j->rid))
        rc = ROMA_EIO;
    else if (atoi(PQcmdTuples(res)) == 0)
        rc = JOB_FENCED;
    PQclear(res);
    return rc;
}

int job_finish_begin(job *j)
{
    if (db_command(j->db, "BEGIN", j->rid) != 0) return ROMA_EIO;
    lease_set_finishing(j->slot, 1);
    char att[16];
    snprintf(att, sizeof att, "%d", j->attempt);
    const char *p[] = {j->id, att};
    /* the row lock makes a concurrent re-claim or sweeper FAIL wait for (and then lose to) our commit */
    PGresult *res = db_exec(j->db,
                            "SELECT 1 FROM asset_jobs WHERE id = $1 AND attempt = $2::int AND status = 'RUNNING' FOR UPDATE",
                            2, p);
    int rc = 0;
    if (!db_ok(res, PGRES_TUPLES_OK, j->rid))
        rc = ROMA_EIO;
    else if (PQntuples(res) != 1)
        rc = JOB_FENCED;
    PQclear(res);
    if (rc != 0) job_finish_abort(j);
    return rc;
}

void job_finish_abort(job *j)
{
    lease_set_finishing(j->slot, 0);
    if (PQtransactionStatus(j->db) != PQTRANS_IDLE && db_command(j->db, "ROLLBACK", j->rid) != 0)
        log_warn(j->rid, "job.rollback_failed", "job %s: the connection is reset on its next use", j->id);
}

int job_finish_commit(job *j, job_reasons *reasons, const char *archive_id)
{
    long kept = cJSON_GetArraySize(reasons->list);
    const char *status = reasons->total > 0 ? "FAILED" : "SUCCEEDED";
    if (reasons->total > kept) { /* the count of what was left out, as one last reason */
        cJSON *o = cJSON_CreateObject();
        char msg[64];
        snprintf(msg, sizeof msg, "%ld more reasons were left out.", reasons->total - kept);
        if (!o || !cJSON_AddStringToObject(o, "resource_type", "job") || !cJSON_AddStringToObject(o, "resource_name", j->id) ||
            !cJSON_AddStringToObject(o, "error_code", ASSET_ERR_REASONS_OMITTED) || !cJSON_AddStringToObject(o, "error_msg", msg) ||
            !cJSON_AddItemToArray(reasons->list, o)) {
            cJSON_Delete(o);
            job_finish_abort(j);
            return ROMA_ENOMEM;
        }
        reasons->total = kept; /* the list now tells the rest itself: a second commit must not add it again */
    }
    char *rtext = cJSON_PrintUnformatted(reasons->list);
    if (!rtext) {
        job_finish_abort(j);
        return ROMA_ENOMEM;
    }
    char att[16];
    snprintf(att, sizeof att, "%d", j->attempt);
    const char *p[] = {j->id, att, status, rtext, archive_id ? archive_id : ""};
    PGresult *res = db_exec(j->db,
                            "UPDATE asset_jobs SET status = $3, progress = 1, reasons = $4::jsonb,"
                            " archive_id = NULLIF($5, ''), end_time = now(), lease_owner = NULL,"
                            " lease_expires_at = NULL, upload = NULL"
                            " WHERE id = $1 AND attempt = $2::int AND status = 'RUNNING'",
                            5, p);
    cJSON_free(rtext);
    int ok = db_ok(res, PGRES_COMMAND_OK, j->rid) && atoi(PQcmdTuples(res)) == 1;
    PQclear(res);
    if (!ok || db_command(j->db, "COMMIT", j->rid) != 0) {
        job_finish_abort(j);
        return ROMA_EIO;
    }
    log_info(j->rid, "job.finished", "%s job %s %s (attempt %d)", j->type, j->id, status, j->attempt);
    return 0;
}

void job_release(job *j, int graceful)
{
    job_finish_abort(j);
    char att[16], delay[24];
    snprintf(att, sizeof att, "%d", j->attempt);
    unsigned short u = 500;
    double r01 = util_random_bytes(&u, sizeof u) == 0 ? (double)(u % 1000) / 1000.0 : 0.5; /* jitter */
    snprintf(delay, sizeof delay, "%lld",
             graceful ? 0LL : (long long)asset_job_backoff_ms(j->attempt - 1, 500, 30000, r01));
    const char *p[] = {j->id, att, graceful ? "t" : "f", delay};
    PGresult *res = db_exec(j->db,
                            "UPDATE asset_jobs SET status = 'PENDING', lease_owner = NULL, lease_expires_at = NULL,"
                            " max_attempts = max_attempts + CASE WHEN $3::bool THEN 1 ELSE 0 END,"
                            " next_dispatch_at = now() + make_interval(secs => $4::float8 / 1000)"
                            " WHERE id = $1 AND attempt = $2::int AND status = 'RUNNING'",
                            4, p);
    if (db_ok(res, PGRES_COMMAND_OK, j->rid))
        log_info(j->rid, "job.released", "job %s attempt %d given back (%s)", j->id, j->attempt,
                 graceful ? "shutdown" : "error, retried after backoff");
    PQclear(res);
}

void job_done(job *j)
{
    if (j->id[0]) lease_set(j->slot, "", 0);
    cJSON_Delete(j->request);
    j->request = NULL;
}

int job_reasons_init(job_reasons *r)
{
    r->total = 0;
    r->list = cJSON_CreateArray();
    return r->list ? 0 : ROMA_ENOMEM;
}

void job_reasons_free(job_reasons *r)
{
    cJSON_Delete(r->list);
    r->list = NULL;
}

/* Length of the valid UTF-8 sequence at s (no overlongs, surrogates or code points above U+10FFFF),
 * 0 when invalid. Stops at NUL: a NUL byte is never a continuation byte. */
static size_t utf8_seq(const unsigned char *s)
{
    unsigned c = s[0], cp, min;
    size_t n;
    if (c < 0x80) return 1;
    if ((c & 0xe0) == 0xc0) n = 2, cp = c & 0x1f, min = 0x80;
    else if ((c & 0xf0) == 0xe0) n = 3, cp = c & 0x0f, min = 0x800;
    else if ((c & 0xf8) == 0xf0) n = 4, cp = c & 0x07, min = 0x10000;
    else return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    return n;
}

#define REASON_NAME_MAX 64 /* code points of resource_name (SPEC 1-64) */
#define REASON_MSG_MAX 256 /* of error_msg (SPEC says 64; ours name the field and its rule) */

/* Copies at most max code points of in to out (>= 4 * max + 1 bytes), each
 * invalid byte or control character replaced by '?'. Reason texts reach jsonb (which refuses invalid
 * UTF-8: the job would fail to finish, forever) and users' terminals. */
static void clip_text(const char *in, char *out, int max)
{
    const unsigned char *p = (const unsigned char *)(in ? in : "");
    size_t o = 0;
    for (int cps = 0; *p && cps < max; cps++) {
        size_t n = utf8_seq(p);
        if (n == 0 || (n == 1 && (*p < 0x20 || *p == 0x7f))) {
            out[o++] = '?';
            p += n ? n : 1;
            continue;
        }
        memcpy(out + o, p, n);
        o += n;
        p += n;
    }
    out[o] = '\0';
}

void job_add_reason(job_reasons *r, const char *type, const char *name, const char *code, const char *msg)
{
    r->total++;
    if (cJSON_GetArraySize(r->list) >= g_wcfg.max_reasons) return;
    char cname[4 * REASON_NAME_MAX + 1], cmsg[4 * REASON_MSG_MAX + 1];
    clip_text(name, cname, REASON_NAME_MAX);
    clip_text(msg, cmsg, REASON_MSG_MAX);
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddStringToObject(o, "resource_type", type) || !cJSON_AddStringToObject(o, "resource_name", cname) ||
        !cJSON_AddStringToObject(o, "error_code", code) || !cJSON_AddStringToObject(o, "error_msg", cmsg) ||
        !cJSON_AddItemToArray(r->list, o))
        cJSON_Delete(o); /* out of memory: the reason is still counted, so the job still FAILs */
}

void job_add_reasonf(job_reasons *r, const char *type, const char *name, const char *code, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    job_add_reason(r, type, name, code, msg);
}

int job_app_access(job *j, const char *app_id, unsigned need, const char *action, const char *shown,
                   job_reasons *reasons, app_ref *ref)
{
    int rc = app_lookup(j->db, j->instance_id, app_id, j->created_by, ref);
    if (rc == 0 && !app_ref_can(ref, need)) rc = ROMA_EDENIED;
    if (rc == 0) return 1;
    if (rc == ROMA_ENOTFOUND)
        job_add_reason(reasons, "application", shown, ASSET_ERR_APP_NOT_FOUND, "The application does not exist.");
    else if (rc == ROMA_EDENIED)
        job_add_reasonf(reasons, "application", shown, ASSET_ERR_NO_PERMISSION, "You have no permission to %s the application.",
                        action);
    else
        return ROMA_EIO;
    return 0;
}
