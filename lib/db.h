/* PostgreSQL: one connection per worker, prepared statements, transactions,
 * client-side deadlines, automatic reconnect.
 *
 * Every call is bounded: connecting by DB_CONNECT_TIMEOUT_MS, each statement by
 * DB_STATEMENT_TIMEOUT_MS (server statement_timeout, and a client deadline a
 * little later in case the server does not answer at all). A lost or hung
 * connection is dropped and the call returns MS_EUNAVAIL; the next call
 * reconnects and prepares the statements again, so no restart is ever needed. */
#ifndef MS_DB_H
#define MS_DB_H

#include <libpq-fe.h>

struct ms_arena;

/* One prepared statement of a service's sql.h X-macro table. */
struct ms_sql_stmt {
    const char *name;
    int nparams;
    const char *text;
};

/* Expand a service's X-macro list into an enum and a statement table:
 *   MS_SQL_DEFINE(USER_SQL, user_sql)
 * gives enum { USER_BY_EMAIL, …, user_sql_count } and
 * static const struct ms_sql_stmt user_sql[]. */
#define MS_SQL_ENUM_(name, n, text) name,
#define MS_SQL_ROW_(name, n, text)  { #name, n, text },
#define MS_SQL_DEFINE(LIST, table)                       \
    enum table##_id{ LIST(MS_SQL_ENUM_) table##_count }; \
    static const struct ms_sql_stmt table[] = { LIST(MS_SQL_ROW_) }

struct ms_db;

/* A handle for url (libpq URI or key=value DSN) preparing stmts[0..n) on each
 * connect. Does not connect yet. NULL on OOM. */
struct ms_db *ms_db_new(const char *url, const struct ms_sql_stmt *stmts, int n,
                        int connect_timeout_ms, int statement_timeout_ms);

/* Close and free; accepts NULL. */
void ms_db_free(struct ms_db *db);

/* Connect now if not connected. 0, or MS_EUNAVAIL (logged). */
int ms_db_connect(struct ms_db *db);

/* Run prepared statement stmt with text params (NULL = SQL NULL). On success
 * returns the number of rows (SELECT / RETURNING) or affected rows, and stores
 * the result in *res when res is not NULL: it is deferred to arena (PQclear at
 * reset) when arena is given, else the caller PQclear()s it. On failure *res is
 * NULL and the return is MS_ECONFLICT (23505 unique violation), MS_EUNAVAIL
 * (connection lost, timeout, 57014), MS_EINVALID (22xxx data exceptions,
 * 23514 check violation) or MS_EINTERNAL; the cause is logged here. */
int ms_db_exec(struct ms_db *db, struct ms_arena *arena, int stmt, const char *const *params,
               PGresult **res);

/* As ms_db_exec for SQL built from fixed fragments (listings): nparams text
 * parameters. Each distinct text is prepared on its first use on a
 * connection (outside transactions), so a listing is planned like a fixed
 * statement. Never put input into sql. */
int ms_db_exec_sql(struct ms_db *db, struct ms_arena *arena, const char *sql, int nparams,
                   const char *const *params, PGresult **res);

/* Run fn(db, ctx) inside BEGIN … COMMIT. fn returns MS_OK to commit, anything
 * else (also a positive value) to roll back (its code is returned). Serialization failures and
 * deadlocks (40001, 40P01) are retried up to 3 times. */
typedef int ms_db_tx_fn(struct ms_db *db, void *ctx);
int ms_db_tx(struct ms_db *db, ms_db_tx_fn *fn, void *ctx);

/* LISTEN on channel (lower-case letters and '_') now if connected, and on
 * every connection made afterwards. 0, MS_EUNAVAIL, MS_EINTERNAL (a bad name). */
int ms_db_listen(struct ms_db *db, const char *channel);

/* Wait up to timeout_ms (a signal cuts it short) for a NOTIFY on the channel
 * listened to. 1 if one arrived since the last call, 0 if none, MS_EUNAVAIL
 * when PostgreSQL is unreachable (reconnects on the next call). */
int ms_db_wait_notify(struct ms_db *db, int timeout_ms);

/* Round trip "SELECT 1"; returns latency in ms (>= 0) or MS_EUNAVAIL. */
int ms_db_ping(struct ms_db *db);

/* SQLSTATE of the last failed statement ("" if none). */
const char *ms_db_last_sqlstate(const struct ms_db *db);

/* Map a SQLSTATE to an MS_E… code (exposed for tests). */
int ms_db_map_sqlstate(const char *sqlstate);

/* Value of row/col, NULL for SQL NULL. */
const char *ms_db_get(const PGresult *res, int row, int col);

/* Adapter for ms_arena_defer(). */
void ms_db_pqclear(void *res);

#endif
