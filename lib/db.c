/* PostgreSQL: one connection per worker, prepared statements, deadlines on
 * every call, reconnect on the next call after a failure. */
#include "lib/db.h"

#include <assert.h>
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/arena.h"
#include "lib/clock.h"
#include "lib/config.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/banned.h"

/* how much longer than statement_timeout the client waits for an answer */
#define CLIENT_MARGIN_MS 500
#define TX_RETRIES       3
/* distinct ms_db_exec_sql texts prepared per connection (the listing has a
 * few hundred filter and sort combinations at most) */
#define DYN_MAX 512

struct ms_db {
    char *url;
    const struct ms_sql_stmt *stmts;
    int nstmts;
    int connect_timeout_ms;
    int statement_timeout_ms;
    PGconn *conn;
    int in_tx;
    char sqlstate[6];
    char channel[64]; /* LISTENed to on every connection ("" for none) */
    int notified;     /* a NOTIFY arrived since the last ms_db_wait_notify */
    /* statements of ms_db_exec_sql prepared on this connection, by text */
    struct dyn_stmt {
        uint64_t hash;
        char *sql;
        char name[16];
    } dyn[DYN_MAX];
    int ndyn;
};

void ms_db_pqclear(void *res)
{
    PQclear(res);
}

struct ms_db *ms_db_new(const char *url, const struct ms_sql_stmt *stmts, int n,
                        int connect_timeout_ms, int statement_timeout_ms)
{
    struct ms_db *db = calloc(1, sizeof(*db));

    if (!db)
        return NULL;
    db->url = strdup(url);
    if (!db->url) {
        free(db);
        return NULL;
    }
    db->stmts = stmts;
    db->nstmts = n;
    db->connect_timeout_ms = connect_timeout_ms;
    db->statement_timeout_ms = statement_timeout_ms;
    return db;
}

static void drop(struct ms_db *db)
{
    if (db->conn)
        PQfinish(db->conn);
    db->conn = NULL;
    db->in_tx = 0;
    /* prepared statements die with their connection */
    for (int i = 0; i < db->ndyn; i++)
        free(db->dyn[i].sql);
    db->ndyn = 0;
}

void ms_db_free(struct ms_db *db)
{
    if (!db)
        return;
    drop(db);
    free(db->url);
    free(db);
}

/* Wait until the connection's socket is readable (or writable): 1 ready,
 * 0 deadline passed, -1 error. */
static int wait_socket(PGconn *conn, int for_write, int64_t deadline_us)
{
    struct pollfd pfd = { .fd = PQsocket(conn), .events = for_write ? POLLOUT : POLLIN };

    if (pfd.fd < 0)
        return -1;
    for (;;) {
        int64_t left_ms = (deadline_us - ms_clock_mono_us()) / 1000;
        int rc;

        if (left_ms <= 0)
            return 0;
        rc = poll(&pfd, 1, (int)left_ms);
        if (rc > 0)
            return 1;
        if (rc == 0)
            return 0;
        if (errno != EINTR)
            return -1;
    }
}

/* Collect the results of the query in flight until deadline; the last one
 * goes to *out. 0, or MS_EUNAVAIL when the server does not answer in time or
 * the connection broke (then it is dropped). */
static int collect(struct ms_db *db, int64_t deadline_us, PGresult **out)
{
    PGresult *last = NULL, *r;

    for (;;) {
        if (!PQconsumeInput(db->conn))
            goto lost;
        while (!PQisBusy(db->conn)) {
            r = PQgetResult(db->conn);
            if (!r) {
                *out = last;
                if (!last)
                    goto lost;
                return MS_OK;
            }
            PQclear(last);
            last = r;
            if (PQstatus(db->conn) == CONNECTION_BAD)
                goto lost;
        }
        int w = wait_socket(db->conn, 0, deadline_us);
        if (w == 0) {
            ms_log(MS_LOG_WARN, "postgresql did not answer within %d ms; dropping the connection",
                   db->statement_timeout_ms + CLIENT_MARGIN_MS);
            PQclear(last);
            drop(db);
            return MS_EUNAVAIL;
        }
        if (w < 0)
            goto lost;
    }
lost:
    ms_log(MS_LOG_WARN, "lost the postgresql connection: %s", PQerrorMessage(db->conn));
    PQclear(last);
    drop(db);
    return MS_EUNAVAIL;
}

static int result_ok(const PGresult *r)
{
    ExecStatusType st = PQresultStatus(r);

    return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
}

/* Prepare every statement of the table on a fresh connection. */
/* After PQsend…(): sent is its result. The statement's result into *r, or
 * MS_EUNAVAIL when it could not be sent or did not come back in time (the
 * connection is then dropped). */
static int await_result(struct ms_db *db, int sent, const char *what, int64_t deadline,
                        PGresult **r)
{
    if (!sent) {
        ms_log(MS_LOG_WARN, "could not send %s: %s", what, PQerrorMessage(db->conn));
        drop(db);
        return MS_EUNAVAIL;
    }
    return collect(db, deadline, r);
}

static int prepare_all(struct ms_db *db)
{
    for (int i = 0; i < db->nstmts; i++) {
        int64_t deadline =
            ms_clock_mono_us() + (int64_t)(db->statement_timeout_ms + CLIENT_MARGIN_MS) * 1000;
        PGresult *r = NULL;
        int rc;

        rc = await_result(db,
                          PQsendPrepare(db->conn, db->stmts[i].name, db->stmts[i].text,
                                        db->stmts[i].nparams, NULL),
                          db->stmts[i].name, deadline, &r);
        if (rc < 0)
            return rc;
        if (!result_ok(r)) {
            ms_log(MS_LOG_ERROR, "could not prepare %s: %s %s", db->stmts[i].name,
                   PQresultErrorField(r, PG_DIAG_SQLSTATE) ?: "",
                   PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) ?: "");
            PQclear(r);
            drop(db);
            return MS_EINTERNAL;
        }
        PQclear(r);
    }
    return MS_OK;
}

/* LISTEN on a fresh connection. A NOTIFY sent while we were not connected
 * is lost; the relay's timer is the safety net for that. */
static int listen_channel(struct ms_db *db)
{
    char sql[96];
    PGresult *r = NULL;
    int64_t deadline =
        ms_clock_mono_us() + (int64_t)(db->statement_timeout_ms + CLIENT_MARGIN_MS) * 1000;
    int rc;

    if (!db->channel[0])
        return MS_OK;
    /* the channel is an identifier checked by ms_db_listen: it cannot be a parameter */
    snprintf(sql, sizeof sql, "LISTEN %s", db->channel);
    rc = await_result(db, PQsendQueryParams(db->conn, sql, 0, NULL, NULL, NULL, NULL, 0), sql,
                      deadline, &r);
    if (rc < 0)
        return rc;
    if (!result_ok(r)) {
        ms_log(MS_LOG_WARN, "LISTEN %s failed: %s", db->channel,
               PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) ?: "");
        PQclear(r);
        drop(db);
        return MS_EUNAVAIL;
    }
    PQclear(r);
    return MS_OK;
}

int ms_db_connect(struct ms_db *db)
{
    char options[128];
    /* gssencmode first so that a DSN naming it wins: libpq's default probes
     * Kerberos on every connect, which costs ~1 MiB of resident memory per
     * worker and a round of file reads, for a loopback connection */
    const char *keys[] = { "gssencmode", "dbname", "options", "application_name", NULL };
    const char *vals[] = { "disable", db->url, options,
                           ms_config.service ? ms_config.service : "microshop", NULL };
    int64_t deadline = ms_clock_mono_us() + (int64_t)db->connect_timeout_ms * 1000;
    PostgresPollingStatusType st = PGRES_POLLING_WRITING;

    if (db->conn)
        return MS_OK;
    snprintf(options, sizeof options, "-c statement_timeout=%d -c TimeZone=UTC",
             db->statement_timeout_ms);
    db->conn = PQconnectStartParams(keys, vals, 1);
    if (!db->conn || PQstatus(db->conn) == CONNECTION_BAD)
        goto fail;
    while (st != PGRES_POLLING_OK) {
        int w;

        if (st == PGRES_POLLING_FAILED)
            goto fail;
        w = wait_socket(db->conn, st == PGRES_POLLING_WRITING, deadline);
        if (w == 0) {
            ms_log(MS_LOG_WARN, "could not connect to postgresql within %d ms",
                   db->connect_timeout_ms);
            drop(db);
            return MS_EUNAVAIL;
        }
        if (w < 0)
            goto fail;
        st = PQconnectPoll(db->conn);
    }
    {
        int rc = prepare_all(db);

        return rc < 0 ? rc : listen_channel(db);
    }
fail:
    ms_log(MS_LOG_WARN, "could not connect to postgresql: %s",
           db->conn ? PQerrorMessage(db->conn) : "out of memory");
    drop(db);
    return MS_EUNAVAIL;
}

/* Take in what arrived unasked: notifications (kept as db->notified) or the
 * server closing the connection. 0, or -1 when the connection is gone. */
static int consume(struct ms_db *db)
{
    PGnotify *n;

    if (!PQconsumeInput(db->conn) || PQstatus(db->conn) != CONNECTION_OK)
        return -1;
    while ((n = PQnotifies(db->conn)) != NULL) {
        db->notified = 1;
        PQfreemem(n);
    }
    return 0;
}

/* An idle connection whose socket is readable has been closed by the server
 * (restart, pg_terminate_backend, idle kill) or holds a NOTIFY. A closed one
 * is dropped, so the next statement goes out on a fresh connection instead
 * of failing. */
static void check_idle(struct ms_db *db)
{
    struct pollfd pfd;

    if (!db->conn || db->in_tx)
        return;
    pfd.fd = PQsocket(db->conn);
    pfd.events = POLLIN;
    if (pfd.fd < 0 || (poll(&pfd, 1, 0) > 0 && (!db->channel[0] || consume(db) < 0))) {
        ms_log(MS_LOG_WARN, "postgresql closed the idle connection; reconnecting");
        drop(db);
    }
}

int ms_db_listen(struct ms_db *db, const char *channel)
{
    size_t n = strlen(channel);

    if (n == 0 || n >= sizeof db->channel || strspn(channel, "abcdefghijklmnopqrstuvwxyz_") != n)
        return MS_EINTERNAL;
    memcpy(db->channel, channel, n + 1);
    if (db->conn)
        return listen_channel(db);
    return MS_OK;
}

int ms_db_wait_notify(struct ms_db *db, int timeout_ms)
{
    struct pollfd pfd;
    int rc;

    if (!db->conn && ms_db_connect(db) < 0)
        return MS_EUNAVAIL;
    if (consume(db) < 0)
        goto lost;
    if (!db->notified) {
        pfd.fd = PQsocket(db->conn);
        pfd.events = POLLIN;
        rc = poll(&pfd, 1, timeout_ms);
        if (rc > 0 && consume(db) < 0)
            goto lost;
    }
    rc = db->notified;
    db->notified = 0;
    return rc;
lost:
    ms_log(MS_LOG_WARN, "postgresql closed the listening connection; reconnecting");
    drop(db);
    return MS_EUNAVAIL;
}

int ms_db_map_sqlstate(const char *s)
{
    if (!s || !*s)
        return MS_EINTERNAL;
    if (strcmp(s, "23505") == 0)
        return MS_ECONFLICT;
    if (strcmp(s, "57014") == 0 || strncmp(s, "08", 2) == 0 || strcmp(s, "57P01") == 0 ||
        strcmp(s, "57P02") == 0 || strcmp(s, "57P03") == 0 || strcmp(s, "53300") == 0)
        return MS_EUNAVAIL;
    if (strncmp(s, "22", 2) == 0 || strcmp(s, "23514") == 0)
        return MS_EINVALID;
    return MS_EINTERNAL;
}

static int run(struct ms_db *db, struct ms_arena *arena, const char *name, const char *sql,
               int nparams, const char *const *params, PGresult **out)
{
    PGresult *r = NULL;
    int64_t deadline;
    int rc, sent;

    if (out)
        *out = NULL;
    db->sqlstate[0] = '\0';
    check_idle(db);
    if (!db->conn) {
        if (db->in_tx)
            return MS_EUNAVAIL;
        rc = ms_db_connect(db);
        if (rc < 0)
            return rc;
    }
    deadline = ms_clock_mono_us() + (int64_t)(db->statement_timeout_ms + CLIENT_MARGIN_MS) * 1000;
    if (name)
        sent = PQsendQueryPrepared(db->conn, name, nparams, params, NULL, NULL, 0);
    else
        sent = PQsendQueryParams(db->conn, sql, nparams, NULL, params, NULL, NULL, 0);
    rc = await_result(db, sent, name ? name : "query", deadline, &r);
    if (rc < 0)
        return rc;
    if (!result_ok(r)) {
        const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);

        snprintf(db->sqlstate, sizeof db->sqlstate, "%s", state ? state : "");
        rc = ms_db_map_sqlstate(state);
        /* a unique violation is an expected answer (409); the rest is worth a line */
        ms_log(rc == MS_ECONFLICT ? MS_LOG_DEBUG : (rc == MS_EUNAVAIL ? MS_LOG_WARN : MS_LOG_ERROR),
               "%s failed: %s %s", name ? name : "query", state ? state : "",
               PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) ?: "");
        PQclear(r);
        if (PQstatus(db->conn) == CONNECTION_BAD)
            drop(db);
        return rc;
    }
    if (PQresultStatus(r) == PGRES_TUPLES_OK) {
        rc = PQntuples(r);
    } else {
        const char *n = PQcmdTuples(r);
        rc = (n && *n) ? (int)strtol(n, NULL, 10) : 0;
    }
    if (out) {
        *out = r;
        if (arena)
            ms_arena_defer(arena, ms_db_pqclear, r);
    } else {
        PQclear(r);
    }
    return rc;
}

int ms_db_exec(struct ms_db *db, struct ms_arena *arena, int stmt, const char *const *params,
               PGresult **res)
{
    assert(stmt >= 0 && stmt < db->nstmts);
    return run(db, arena, db->stmts[stmt].name, NULL, db->stmts[stmt].nparams, params, res);
}

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 14695981039346656037ULL;

    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/* The name sql is prepared under on this connection, preparing it on first
 * use; NULL to run it unprepared (inside a transaction, where a failed
 * PREPARE would abort it, when the cache is full, or when PREPARE failed:
 * the unprepared run then reports the error as usual). */
static const char *dyn_prepared(struct ms_db *db, const char *sql, int nparams)
{
    uint64_t h = fnv1a(sql);
    struct dyn_stmt *d;
    PGresult *r = NULL;
    int64_t deadline;

    /* a connection the server closed takes its prepared statements along */
    check_idle(db);
    for (int i = 0; i < db->ndyn; i++)
        if (db->dyn[i].hash == h && strcmp(db->dyn[i].sql, sql) == 0)
            return db->dyn[i].name;
    if (db->in_tx || db->ndyn >= DYN_MAX)
        return NULL;
    if (!db->conn && ms_db_connect(db) < 0)
        return NULL;
    d = &db->dyn[db->ndyn];
    snprintf(d->name, sizeof d->name, "dyn_%d", db->ndyn);
    deadline = ms_clock_mono_us() + (int64_t)(db->statement_timeout_ms + CLIENT_MARGIN_MS) * 1000;
    if (!PQsendPrepare(db->conn, d->name, sql, nparams, NULL) || collect(db, deadline, &r) < 0)
        return NULL;
    if (!result_ok(r) || !(d->sql = strdup(sql))) {
        PQclear(r);
        return NULL;
    }
    PQclear(r);
    d->hash = h;
    db->ndyn++;
    return d->name;
}

int ms_db_exec_sql(struct ms_db *db, struct ms_arena *arena, const char *sql, int nparams,
                   const char *const *params, PGresult **res)
{
    const char *name = dyn_prepared(db, sql, nparams);
    int rc;

    if (name) {
        rc = run(db, arena, name, NULL, nparams, params, res);
        /* 26000: the connection was replaced between lookup and send */
        if (rc != MS_EINTERNAL || strcmp(db->sqlstate, "26000") != 0 || db->in_tx)
            return rc;
    }
    return run(db, arena, NULL, sql, nparams, params, res);
}

static int is_retryable(const struct ms_db *db)
{
    return strcmp(db->sqlstate, "40001") == 0 || strcmp(db->sqlstate, "40P01") == 0;
}

int ms_db_tx(struct ms_db *db, ms_db_tx_fn *fn, void *ctx)
{
    int rc = MS_EINTERNAL;

    assert(!db->in_tx);
    for (int attempt = 0; attempt <= TX_RETRIES; attempt++) {
        rc = run(db, NULL, NULL, "BEGIN", 0, NULL, NULL);
        if (rc < 0)
            return rc;
        db->in_tx = 1;
        rc = fn(db, ctx);
        if (rc == MS_OK) {
            rc = run(db, NULL, NULL, "COMMIT", 0, NULL, NULL);
            db->in_tx = 0;
            if (rc >= 0)
                return MS_OK;
        } else if (db->conn) {
            char state[6];

            /* keep the failing statement's SQLSTATE across the ROLLBACK */
            memcpy(state, db->sqlstate, sizeof state);
            run(db, NULL, NULL, "ROLLBACK", 0, NULL, NULL);
            memcpy(db->sqlstate, state, sizeof state);
        }
        db->in_tx = 0;
        if (!db->conn || !is_retryable(db))
            return rc;
        ms_log(MS_LOG_WARN, "transaction retried after SQLSTATE %s", db->sqlstate);
    }
    return rc;
}

int ms_db_ping(struct ms_db *db)
{
    int64_t t0 = ms_clock_mono_us();
    int rc = run(db, NULL, NULL, "SELECT 1", 0, NULL, NULL);

    if (rc < 0)
        return MS_EUNAVAIL;
    return (int)((ms_clock_mono_us() - t0) / 1000);
}

const char *ms_db_last_sqlstate(const struct ms_db *db)
{
    return db->sqlstate;
}

const char *ms_db_get(const PGresult *res, int row, int col)
{
    if (!res || row >= PQntuples(res) || col >= PQnfields(res) || PQgetisnull(res, row, col))
        return NULL;
    return PQgetvalue(res, row, col);
}
