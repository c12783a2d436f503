/* Unit tests of lib/db.c against a real PostgreSQL at MS_TEST_DATABASE_URL:
 * prepared statements, error mapping, deadlines, transactions, reconnects.
 * Each test works in its own table (unique name) and drops it. */
#include "lib/db.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lib/arena.h"
#include "lib/clock.h"
#include "lib/err.h"
#include "tests/unit/ports.h"
#include "tests/unit/pgtest.h"
#include "tests/unit/suites.h"
#include "lib/banned.h"

/* snprintf into an array; the test fails rather than run with a cut string. */
#define FMT(buf, ...) ck_assert_int_lt(snprintf((buf), sizeof(buf), __VA_ARGS__), (int)sizeof(buf))

enum { S_INSERT, S_BY_EMAIL, S_SET_NOTE, S_SLEEP, S_PID, S_COUNT, S_ECHO, NSTMT };

static const char *url;
static long run_tag; /* pid of the runner: every table of this run is ut_db_<run_tag>_… */
static char table[64];
static char texts[NSTMT][256];
static struct ms_sql_stmt stmts[NSTMT];
static PGconn *admin;
static struct ms_db *db;
static struct ms_arena *arena;

/* ---- helpers ---- */

static double elapsed_ms(int64_t t0_us)
{
    return (double)(ms_clock_mono_us() - t0_us) / 1000.0;
}

/* SQL on this file's admin connection (tests/unit/pgtest.h). */
#define admin_exec(sql) ms_test_sql(admin, (sql))
#define admin_long(sql) ms_test_sql_long(admin, (sql), NULL)

static long rows_in_table(void)
{
    char sql[128];

    FMT(sql, "SELECT count(*) FROM %s", table);
    return admin_long(sql);
}

static struct ms_db *db_at_port(int port, int connect_ms)
{
    char dsn[128];
    struct ms_db *d;

    FMT(dsn, "host=127.0.0.1 port=%d dbname=unit user=postgres", port);
    d = ms_db_new(dsn, stmts, NSTMT, connect_ms, 1000);
    ck_assert_ptr_nonnull(d);
    return d;
}

/* The statement table of the tests, over this test's table. */
static void build_stmts(void)
{
    static const char *const names[NSTMT] = { "UT_INSERT", "UT_BY_EMAIL", "UT_SET_NOTE", "UT_SLEEP",
                                              "UT_PID",    "UT_COUNT",    "UT_ECHO" };
    static const int nparams[NSTMT] = { 4, 1, 1, 1, 0, 0, 1 };

    FMT(texts[S_INSERT],
        "INSERT INTO %s (email, qty, born, note) VALUES ($1, $2::int, $3::date, $4) "
        "RETURNING id",
        table);
    FMT(texts[S_BY_EMAIL],
        "SELECT email, qty, to_char(born, 'YYYY-MM-DD'), note FROM %s WHERE email = $1", table);
    FMT(texts[S_SET_NOTE], "UPDATE %s SET note = $1", table);
    FMT(texts[S_SLEEP], "SELECT pg_sleep($1::float8)");
    FMT(texts[S_PID], "SELECT pg_backend_pid()");
    FMT(texts[S_COUNT], "SELECT count(*) FROM %s", table);
    FMT(texts[S_ECHO], "SELECT $1::text IS NULL, $1::text");
    for (int i = 0; i < NSTMT; i++)
        stmts[i] = (struct ms_sql_stmt){ names[i], nparams[i], texts[i] };
}

static void setup(void)
{
    static int seq;
    char sql[512];
    PGresult *r;

    url = getenv("MS_TEST_DATABASE_URL");
    ck_assert_msg(url && *url, "MS_TEST_DATABASE_URL is not set: the db suite needs a "
                               "PostgreSQL, e.g. postgresql://postgres@127.0.0.1:55433/unit");
    admin = PQconnectdb(url);
    ck_assert_msg(PQstatus(admin) == CONNECTION_OK, "cannot connect to MS_TEST_DATABASE_URL: %s",
                  PQerrorMessage(admin));
    r = PQexecParams(admin, "SET client_min_messages = warning", 0, NULL, NULL, NULL, NULL, 0);
    PQclear(r);
    FMT(table, "ut_db_%ld_%ld_%d", run_tag, (long)getpid(), seq++);
    FMT(sql,
        "CREATE TABLE %s (id serial PRIMARY KEY, email text UNIQUE, "
        "qty int CHECK (qty >= 0), born date, note text)",
        table);
    admin_exec(sql);
    build_stmts();
    db = ms_db_new(url, stmts, NSTMT, 1000, 2000);
    ck_assert_ptr_nonnull(db);
    arena = ms_arena_new(0);
    ck_assert_ptr_nonnull(arena);
}

/* Unchecked fixture (once per test case, in the runner): name this run. */
static void run_begin(void)
{
    run_tag = (long)getpid();
}

/* Unchecked fixture: drop what tests of this run left behind when they failed
 * (a failed test's checked teardown does not run when Check forks). */
static void run_end(void)
{
    const char *u = getenv("MS_TEST_DATABASE_URL");
    char sql[512];
    PGconn *conn;
    PGresult *r;

    if (!u || !*u)
        return;
    conn = PQconnectdb(u);
    if (PQstatus(conn) == CONNECTION_OK) {
        (void)snprintf(sql, sizeof sql,
                       "DO $$ DECLARE t text; BEGIN FOR t IN SELECT tablename FROM pg_tables "
                       "WHERE tablename LIKE 'ut\\_db\\_%ld\\_%%' LOOP "
                       "EXECUTE 'DROP TABLE IF EXISTS ' || quote_ident(t); END LOOP; END $$",
                       run_tag);
        r = PQexecParams(conn, sql, 0, NULL, NULL, NULL, NULL, 0);
        PQclear(r);
    }
    PQfinish(conn);
}

static void teardown(void)
{
    ms_arena_free(arena);
    arena = NULL;
    ms_db_free(db);
    db = NULL;
    if (admin && PQstatus(admin) == CONNECTION_OK && table[0]) {
        char sql[128];
        PGresult *r;

        (void)snprintf(sql, sizeof sql, "DROP TABLE IF EXISTS %s", table);
        r = PQexecParams(admin, sql, 0, NULL, NULL, NULL, NULL, 0);
        PQclear(r);
    }
    PQfinish(admin);
    admin = NULL;
    table[0] = '\0';
}

static int insert(const char *email, const char *qty, const char *born, const char *note)
{
    return ms_db_exec(db, NULL, S_INSERT, (const char *[]){ email, qty, born, note }, NULL);
}

/* pg_backend_pid() of db's connection. */
static long backend_pid(void)
{
    PGresult *r = NULL;
    long pid;

    ck_assert_int_eq(ms_db_exec(db, NULL, S_PID, NULL, &r), 1);
    pid = strtol(ms_db_get(r, 0, 0), NULL, 10);
    PQclear(r);
    return pid;
}

/* Terminate db's backend from the admin connection and wait until it is gone. */
static void kill_backend(long pid)
{
    char kill[96], alive[96];
    int64_t deadline = ms_clock_mono_us() + 3000000;

    FMT(kill, "SELECT pg_terminate_backend(%ld)::int", pid);
    FMT(alive, "SELECT count(*) FROM pg_stat_activity WHERE pid = %ld", pid);
    ck_assert_int_eq(admin_long(kill), 1);
    while (admin_long(alive) > 0) {
        struct timespec pause = { 0, 10000000L };

        ck_assert_msg(ms_clock_mono_us() < deadline, "backend %ld did not exit", pid);
        nanosleep(&pause, NULL);
    }
}

/* ---- ms_db_connect ---- */

START_TEST(connect_succeeds_and_is_idempotent)
{
    ck_assert_int_eq(ms_db_connect(db), MS_OK);
    ck_assert_int_eq(ms_db_connect(db), MS_OK);
}
END_TEST

START_TEST(connect_sets_the_statement_timeout_and_utc)
{
    PGresult *r = NULL;

    ck_assert_int_eq(ms_db_exec_sql(db, NULL,
                                    "SELECT current_setting('statement_timeout'), "
                                    "current_setting('TimeZone')",
                                    0, NULL, &r),
                     1);
    ck_assert_str_eq(ms_db_get(r, 0, 0), "2s");
    ck_assert_str_eq(ms_db_get(r, 0, 1), "UTC");
    PQclear(r);
}
END_TEST

START_TEST(connect_to_a_closed_port_is_eunavail_fast)
{
    struct ms_db *d = db_at_port(ms_test_closed_port(), 1000);
    int64_t t0 = ms_clock_mono_us();

    ck_assert_int_eq(ms_db_connect(d), MS_EUNAVAIL);
    ck_assert_double_lt(elapsed_ms(t0), 500);
    ms_db_free(d);
}
END_TEST

START_TEST(connect_to_a_server_that_never_answers_gives_up_at_the_timeout)
{
    int fd;
    struct ms_db *d = db_at_port(ms_test_silent_port(&fd), 200);
    int64_t t0 = ms_clock_mono_us();

    ck_assert_int_eq(ms_db_connect(d), MS_EUNAVAIL);
    ck_assert_double_ge(elapsed_ms(t0), 150);
    ck_assert_double_lt(elapsed_ms(t0), 1000);
    ms_db_free(d);
    close(fd);
}
END_TEST

START_TEST(connect_fails_with_einternal_when_a_statement_does_not_prepare)
{
    static const struct ms_sql_stmt bad[] = { { "UT_BAD", 0, "SELECT FROM no_such_table_x" } };
    struct ms_db *d = ms_db_new(url, bad, 1, 1000, 2000);

    ck_assert_ptr_nonnull(d);
    ck_assert_int_eq(ms_db_connect(d), MS_EINTERNAL);
    ms_db_free(d);
}
END_TEST

START_TEST(free_accepts_null)
{
    ms_db_free(NULL);
}
END_TEST

/* ---- ms_db_exec / ms_db_exec_sql ---- */

START_TEST(exec_connects_on_first_use_and_returns_the_returning_row)
{
    PGresult *r = NULL;

    ck_assert_int_eq(
        ms_db_exec(db, NULL, S_INSERT, (const char *[]){ "a@x.io", "3", "2000-01-31", "hi" }, &r),
        1);
    ck_assert_ptr_nonnull(r);
    ck_assert_str_eq(ms_db_get(r, 0, 0), "1");
    PQclear(r);
    ck_assert_int_eq(rows_in_table(), 1);
}
END_TEST

START_TEST(exec_returns_the_number_of_rows_selected)
{
    PGresult *r = NULL;

    ck_assert_int_eq(insert("a@x.io", "1", NULL, NULL), 1);
    ck_assert_int_eq(insert("b@x.io", "2", NULL, NULL), 1);
    ck_assert_int_eq(ms_db_exec(db, NULL, S_BY_EMAIL, (const char *[]){ "b@x.io" }, &r), 1);
    ck_assert_str_eq(ms_db_get(r, 0, 0), "b@x.io");
    ck_assert_str_eq(ms_db_get(r, 0, 1), "2");
    PQclear(r);
    ck_assert_int_eq(ms_db_exec(db, NULL, S_BY_EMAIL, (const char *[]){ "none@x.io" }, &r), 0);
    ck_assert_ptr_nonnull(r);
    PQclear(r);
}
END_TEST

START_TEST(exec_returns_the_number_of_rows_affected)
{
    for (int i = 0; i < 3; i++) {
        char email[32];

        FMT(email, "u%d@x.io", i);
        ck_assert_int_eq(insert(email, "0", NULL, NULL), 1);
    }
    ck_assert_int_eq(ms_db_exec(db, NULL, S_SET_NOTE, (const char *[]){ "n" }, NULL), 3);
}
END_TEST

START_TEST(exec_passes_null_params_as_sql_null)
{
    PGresult *r = NULL;

    ck_assert_int_eq(insert("n@x.io", NULL, NULL, NULL), 1);
    ck_assert_int_eq(ms_db_exec(db, NULL, S_BY_EMAIL, (const char *[]){ "n@x.io" }, &r), 1);
    ck_assert_ptr_null(ms_db_get(r, 0, 1));
    ck_assert_ptr_null(ms_db_get(r, 0, 2));
    ck_assert_ptr_null(ms_db_get(r, 0, 3));
    PQclear(r);
    ck_assert_int_eq(ms_db_exec(db, NULL, S_ECHO, (const char *[]){ NULL }, &r), 1);
    ck_assert_str_eq(ms_db_get(r, 0, 0), "t");
    PQclear(r);
}
END_TEST

START_TEST(exec_keeps_the_empty_string_apart_from_null)
{
    PGresult *r = NULL;

    ck_assert_int_eq(ms_db_exec(db, NULL, S_ECHO, (const char *[]){ "" }, &r), 1);
    ck_assert_str_eq(ms_db_get(r, 0, 0), "f");
    ck_assert_str_eq(ms_db_get(r, 0, 1), "");
    PQclear(r);
}
END_TEST

START_TEST(exec_with_an_arena_clears_the_result_at_reset)
{
    PGresult *r = NULL;

    /* LeakSanitizer reports the PGresult if the reset does not clear it */
    ck_assert_int_eq(ms_db_exec(db, arena, S_PID, NULL, &r), 1);
    ck_assert_ptr_nonnull(ms_db_get(r, 0, 0));
    ms_arena_reset(arena);
}
END_TEST

START_TEST(exec_without_res_still_runs)
{
    ck_assert_int_eq(insert("q@x.io", "1", NULL, NULL), 1);
    ck_assert_int_eq(rows_in_table(), 1);
}
END_TEST

START_TEST(exec_unique_violation_is_econflict)
{
    PGresult *r = (PGresult *)1;

    ck_assert_int_eq(insert("dup@x.io", "1", NULL, NULL), 1);
    ck_assert_int_eq(
        ms_db_exec(db, NULL, S_INSERT, (const char *[]){ "dup@x.io", "1", NULL, NULL }, &r),
        MS_ECONFLICT);
    ck_assert_ptr_null(r);
    ck_assert_str_eq(ms_db_last_sqlstate(db), "23505");
}
END_TEST

START_TEST(exec_check_violation_is_einvalid)
{
    ck_assert_int_eq(insert("neg@x.io", "-1", NULL, NULL), MS_EINVALID);
    ck_assert_str_eq(ms_db_last_sqlstate(db), "23514");
}
END_TEST

START_TEST(exec_bad_date_is_einvalid)
{
    ck_assert_int_eq(insert("d@x.io", "1", "2023-02-30", NULL), MS_EINVALID);
    ck_assert_str_eq(ms_db_last_sqlstate(db), "22008");
}
END_TEST

START_TEST(exec_bad_integer_text_is_einvalid)
{
    ck_assert_int_eq(insert("i@x.io", "twelve", NULL, NULL), MS_EINVALID);
    ck_assert_str_eq(ms_db_last_sqlstate(db), "22P02");
}
END_TEST

START_TEST(exec_other_errors_are_einternal)
{
    PGresult *r = (PGresult *)1;

    ck_assert_int_eq(ms_db_exec_sql(db, NULL, "SELECT * FROM no_such_table_ut", 0, NULL, &r),
                     MS_EINTERNAL);
    ck_assert_ptr_null(r);
    ck_assert_str_eq(ms_db_last_sqlstate(db), "42P01");
}
END_TEST

START_TEST(exec_after_an_error_works_on_the_same_connection)
{
    long pid = backend_pid();

    ck_assert_int_eq(insert("e@x.io", "-5", NULL, NULL), MS_EINVALID);
    ck_assert_int_eq(insert("e@x.io", "5", NULL, NULL), 1);
    ck_assert_str_eq(ms_db_last_sqlstate(db), "");
    ck_assert_int_eq(backend_pid(), pid);
}
END_TEST

START_TEST(exec_sql_runs_unprepared_sql_with_params)
{
    PGresult *r = NULL;

    ck_assert_int_eq(ms_db_exec_sql(db, NULL, "SELECT $1::int + $2::int, $3::text IS NULL", 3,
                                    (const char *[]){ "40", "2", NULL }, &r),
                     1);
    ck_assert_str_eq(ms_db_get(r, 0, 0), "42");
    ck_assert_str_eq(ms_db_get(r, 0, 1), "t");
    PQclear(r);
}
END_TEST

START_TEST(exec_past_the_statement_timeout_is_eunavail_within_a_second)
{
    struct ms_db *d = ms_db_new(url, stmts, NSTMT, 1000, 200);
    int64_t t0;

    ck_assert_ptr_nonnull(d);
    ck_assert_int_eq(ms_db_connect(d), MS_OK);
    t0 = ms_clock_mono_us();
    ck_assert_int_eq(ms_db_exec(d, NULL, S_SLEEP, (const char *[]){ "5" }, NULL), MS_EUNAVAIL);
    ck_assert_double_lt(elapsed_ms(t0), 1000);
    ck_assert_double_ge(elapsed_ms(t0), 150);
    ck_assert_str_eq(ms_db_last_sqlstate(d), "57014");
    /* the connection is still good for the next statement */
    ck_assert_int_eq(ms_db_exec(d, NULL, S_SLEEP, (const char *[]){ "0" }, NULL), 1);
    ms_db_free(d);
}
END_TEST

/* How many statements this session has prepared whose text is sql. */
static long prepared_count(const char *sql)
{
    PGresult *r = NULL;
    long n;

    ck_assert_int_eq(ms_db_exec_sql(db, NULL,
                                    "SELECT count(*) FROM pg_prepared_statements "
                                    "WHERE statement = $1",
                                    1, (const char *[]){ sql }, &r),
                     1);
    n = strtol(ms_db_get(r, 0, 0), NULL, 10);
    PQclear(r);
    return n;
}

START_TEST(exec_sql_prepares_each_text_once_per_connection)
{
    const char *sql = "SELECT $1::int * 2";
    PGresult *r = NULL;

    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(ms_db_exec_sql(db, NULL, sql, 1, (const char *[]){ "21" }, &r), 1);
        ck_assert_str_eq(ms_db_get(r, 0, 0), "42");
        PQclear(r);
    }
    ck_assert_int_eq(prepared_count(sql), 1);
    /* a fresh connection prepares it again, and it still answers */
    kill_backend(backend_pid());
    ck_assert_int_eq(ms_db_exec_sql(db, NULL, sql, 1, (const char *[]){ "5" }, &r), 1);
    ck_assert_str_eq(ms_db_get(r, 0, 0), "10");
    PQclear(r);
    ck_assert_int_eq(prepared_count(sql), 1);
}
END_TEST

static int tx_exec_sql(struct ms_db *d, void *p)
{
    PGresult *r = NULL;
    int rc = ms_db_exec_sql(d, NULL, "SELECT $1::int + 1 AS in_tx", 1, (const char *[]){ "1" }, &r);

    if (rc == 1 && strcmp(ms_db_get(r, 0, 0), "2") == 0)
        *(int *)p = 1;
    PQclear(r);
    return rc < 0 ? rc : MS_OK;
}

START_TEST(exec_sql_inside_a_transaction_runs_unprepared)
{
    int ok = 0;

    ck_assert_int_eq(ms_db_tx(db, tx_exec_sql, &ok), MS_OK);
    ck_assert_int_eq(ok, 1);
    /* nothing prepared inside: a failed PREPARE would have aborted the transaction */
    ck_assert_int_eq(prepared_count("SELECT $1::int + 1 AS in_tx"), 0);
}
END_TEST

START_TEST(exec_sql_with_a_syntax_error_is_einternal_and_the_connection_stays_usable)
{
    PGresult *r = NULL;

    ck_assert_int_eq(ms_db_exec_sql(db, NULL, "SELEC $1::int", 1, (const char *[]){ "1" }, &r),
                     MS_EINTERNAL);
    ck_assert_ptr_null(r);
    ck_assert_int_eq(ms_db_exec_sql(db, NULL, "SELECT $1::int", 1, (const char *[]){ "7" }, &r), 1);
    ck_assert_str_eq(ms_db_get(r, 0, 0), "7");
    PQclear(r);
}
END_TEST

START_TEST(exec_reconnects_after_the_server_kills_the_backend)
{
    long pid = backend_pid();
    PGresult *r = NULL;
    int rc;

    kill_backend(pid);
    rc = ms_db_exec(db, NULL, S_PID, NULL, &r);
    ck_assert_msg(rc == 1,
                  "the first statement after the server closed the idle connection "
                  "gave %d (%s) instead of running on a fresh connection",
                  rc, ms_err_name(rc));
    ck_assert_int_ne(strtol(ms_db_get(r, 0, 0), NULL, 10), pid);
    PQclear(r);
    /* the statements were prepared again on the fresh connection */
    ck_assert_int_eq(insert("after@x.io", "1", NULL, NULL), 1);
}
END_TEST

START_TEST(exec_against_a_closed_port_is_eunavail_fast)
{
    struct ms_db *d = db_at_port(ms_test_closed_port(), 1000);
    int64_t t0 = ms_clock_mono_us();
    PGresult *r = (PGresult *)1;

    ck_assert_int_eq(ms_db_exec(d, NULL, S_PID, NULL, &r), MS_EUNAVAIL);
    ck_assert_ptr_null(r);
    ck_assert_double_lt(elapsed_ms(t0), 500);
    ms_db_free(d);
}
END_TEST

/* ---- ms_db_map_sqlstate ---- */

START_TEST(map_sqlstate_gives_each_documented_code)
{
    ck_assert_int_eq(ms_db_map_sqlstate("23505"), MS_ECONFLICT);
    ck_assert_int_eq(ms_db_map_sqlstate("57014"), MS_EUNAVAIL);
    ck_assert_int_eq(ms_db_map_sqlstate("08006"), MS_EUNAVAIL);
    ck_assert_int_eq(ms_db_map_sqlstate("08001"), MS_EUNAVAIL);
    ck_assert_int_eq(ms_db_map_sqlstate("57P01"), MS_EUNAVAIL);
    ck_assert_int_eq(ms_db_map_sqlstate("22008"), MS_EINVALID);
    ck_assert_int_eq(ms_db_map_sqlstate("22P02"), MS_EINVALID);
    ck_assert_int_eq(ms_db_map_sqlstate("22001"), MS_EINVALID);
    ck_assert_int_eq(ms_db_map_sqlstate("23514"), MS_EINVALID);
}
END_TEST

START_TEST(map_sqlstate_of_anything_else_is_einternal)
{
    ck_assert_int_eq(ms_db_map_sqlstate("23503"), MS_EINTERNAL);
    ck_assert_int_eq(ms_db_map_sqlstate("23502"), MS_EINTERNAL);
    ck_assert_int_eq(ms_db_map_sqlstate("42P01"), MS_EINTERNAL);
    ck_assert_int_eq(ms_db_map_sqlstate("40001"), MS_EINTERNAL);
    ck_assert_int_eq(ms_db_map_sqlstate(""), MS_EINTERNAL);
    ck_assert_int_eq(ms_db_map_sqlstate(NULL), MS_EINTERNAL);
}
END_TEST

/* ---- ms_db_get ---- */

START_TEST(get_is_null_out_of_range_and_for_a_null_result)
{
    PGresult *r = NULL;

    ck_assert_int_eq(ms_db_exec(db, NULL, S_PID, NULL, &r), 1);
    ck_assert_ptr_nonnull(ms_db_get(r, 0, 0));
    ck_assert_ptr_null(ms_db_get(r, 1, 0));
    ck_assert_ptr_null(ms_db_get(r, 0, 1));
    ck_assert_ptr_null(ms_db_get(NULL, 0, 0));
    PQclear(r);
}
END_TEST

/* ---- ms_db_tx ---- */

struct tx_ctx {
    int calls;
    int fail_with;       /* returned after the inserts when < 0 */
    int serialize_fails; /* raise 40001 on this many first calls */
    long kill_pid;       /* terminate this backend inside the transaction */
};

static int tx_insert_two(struct ms_db *d, void *p)
{
    struct tx_ctx *c = p;
    int rc;

    c->calls++;
    if (c->serialize_fails >= c->calls) {
        rc = ms_db_exec_sql(d, NULL,
                            "DO $$ BEGIN RAISE EXCEPTION 'conflict' USING ERRCODE = '40001'; "
                            "END $$",
                            0, NULL, NULL);
        return rc;
    }
    rc = ms_db_exec(d, NULL, S_INSERT, (const char *[]){ "t1@x.io", "1", NULL, NULL }, NULL);
    if (rc < 0)
        return rc;
    rc = ms_db_exec(d, NULL, S_INSERT, (const char *[]){ "t2@x.io", "1", NULL, NULL }, NULL);
    if (rc < 0)
        return rc;
    if (c->kill_pid) {
        kill_backend(c->kill_pid);
        return ms_db_exec(d, NULL, S_COUNT, NULL, NULL);
    }
    return c->fail_with < 0 ? c->fail_with : MS_OK;
}

START_TEST(tx_commits_when_fn_returns_ok)
{
    struct tx_ctx c = { 0 };

    ck_assert_int_eq(ms_db_tx(db, tx_insert_two, &c), MS_OK);
    ck_assert_int_eq(c.calls, 1);
    ck_assert_int_eq(rows_in_table(), 2);
}
END_TEST

START_TEST(tx_rolls_back_and_returns_the_code_when_fn_fails)
{
    struct tx_ctx c = { .fail_with = MS_ENOTFOUND };

    ck_assert_int_eq(ms_db_tx(db, tx_insert_two, &c), MS_ENOTFOUND);
    ck_assert_int_eq(c.calls, 1);
    ck_assert_int_eq(rows_in_table(), 0);
}
END_TEST

START_TEST(tx_rolls_back_after_a_failed_statement_and_the_connection_stays_usable)
{
    struct tx_ctx c = { 0 };

    ck_assert_int_eq(insert("t2@x.io", "1", NULL, NULL), 1);
    ck_assert_int_eq(ms_db_tx(db, tx_insert_two, &c), MS_ECONFLICT);
    ck_assert_str_eq(ms_db_last_sqlstate(db), "23505");
    ck_assert_int_eq(rows_in_table(), 1);
    ck_assert_int_eq(insert("later@x.io", "1", NULL, NULL), 1);
    ck_assert_int_eq(rows_in_table(), 2);
}
END_TEST

START_TEST(tx_retries_a_serialization_failure_and_commits)
{
    struct tx_ctx c = { .serialize_fails = 1 };

    ck_assert_int_eq(ms_db_tx(db, tx_insert_two, &c), MS_OK);
    ck_assert_int_eq(c.calls, 2);
    ck_assert_int_eq(rows_in_table(), 2);
}
END_TEST

START_TEST(tx_gives_up_after_three_retries)
{
    struct tx_ctx c = { .serialize_fails = 100 };

    ck_assert_int_eq(ms_db_tx(db, tx_insert_two, &c), MS_EINTERNAL);
    ck_assert_int_eq(c.calls, 4);
    ck_assert_str_eq(ms_db_last_sqlstate(db), "40001");
    ck_assert_int_eq(rows_in_table(), 0);
}
END_TEST

START_TEST(tx_losing_the_connection_inside_is_eunavail_and_the_next_call_reconnects)
{
    struct tx_ctx c = { 0 };

    c.kill_pid = backend_pid();
    ck_assert_int_eq(ms_db_tx(db, tx_insert_two, &c), MS_EUNAVAIL);
    ck_assert_int_eq(c.calls, 1);
    ck_assert_int_eq(rows_in_table(), 0);
    ck_assert_int_ne(backend_pid(), c.kill_pid);
}
END_TEST

START_TEST(tx_against_a_closed_port_is_eunavail_without_calling_fn)
{
    struct ms_db *d = db_at_port(ms_test_closed_port(), 1000);
    struct tx_ctx c = { 0 };

    ck_assert_int_eq(ms_db_tx(d, tx_insert_two, &c), MS_EUNAVAIL);
    ck_assert_int_eq(c.calls, 0);
    ms_db_free(d);
}
END_TEST

/* ---- ms_db_ping ---- */

START_TEST(ping_returns_a_small_latency)
{
    int ms = ms_db_ping(db);

    ck_assert_int_ge(ms, 0);
    ck_assert_int_lt(ms, 1000);
}
END_TEST

START_TEST(ping_against_a_closed_port_is_eunavail)
{
    struct ms_db *d = db_at_port(ms_test_closed_port(), 1000);

    ck_assert_int_eq(ms_db_ping(d), MS_EUNAVAIL);
    ms_db_free(d);
}
END_TEST

START_TEST(ping_after_the_backend_was_killed_reconnects)
{
    long pid = backend_pid();

    kill_backend(pid);
    ck_assert_msg(ms_db_ping(db) >= 0, "the first ping after the server closed the idle "
                                       "connection failed instead of reconnecting");
    ck_assert_int_ne(backend_pid(), pid);
}
END_TEST

Suite *db_suite(void);

Suite *db_suite(void)
{
    Suite *s = suite_create("db");
    TCase *tc_connect = tcase_create("connect");
    TCase *tc_free = tcase_create("free");
    TCase *tc_exec_sql = tcase_create("exec_sql");
    TCase *tc_exec = tcase_create("exec");
    TCase *tc_map_sqlstate = tcase_create("map_sqlstate");
    TCase *tc_get = tcase_create("get");
    TCase *tc_tx = tcase_create("tx");
    TCase *tc_ping = tcase_create("ping");

    tcase_add_unchecked_fixture(tc_connect, run_begin, run_end);
    tcase_add_checked_fixture(tc_connect, setup, teardown);
    tcase_add_test(tc_connect, connect_succeeds_and_is_idempotent);
    tcase_add_test(tc_connect, connect_sets_the_statement_timeout_and_utc);
    tcase_add_test(tc_connect, connect_to_a_closed_port_is_eunavail_fast);
    tcase_add_test(tc_connect, connect_to_a_server_that_never_answers_gives_up_at_the_timeout);
    tcase_add_test(tc_connect, connect_fails_with_einternal_when_a_statement_does_not_prepare);
    suite_add_tcase(s, tc_connect);

    tcase_add_test(tc_free, free_accepts_null);
    suite_add_tcase(s, tc_free);

    tcase_add_unchecked_fixture(tc_exec_sql, run_begin, run_end);
    tcase_add_checked_fixture(tc_exec_sql, setup, teardown);
    tcase_add_test(tc_exec_sql, exec_sql_runs_unprepared_sql_with_params);
    tcase_add_test(tc_exec_sql, exec_sql_prepares_each_text_once_per_connection);
    tcase_add_test(tc_exec_sql, exec_sql_inside_a_transaction_runs_unprepared);
    tcase_add_test(tc_exec_sql,
                   exec_sql_with_a_syntax_error_is_einternal_and_the_connection_stays_usable);
    suite_add_tcase(s, tc_exec_sql);

    tcase_add_unchecked_fixture(tc_exec, run_begin, run_end);
    tcase_add_checked_fixture(tc_exec, setup, teardown);
    tcase_add_test(tc_exec, exec_connects_on_first_use_and_returns_the_returning_row);
    tcase_add_test(tc_exec, exec_returns_the_number_of_rows_selected);
    tcase_add_test(tc_exec, exec_returns_the_number_of_rows_affected);
    tcase_add_test(tc_exec, exec_passes_null_params_as_sql_null);
    tcase_add_test(tc_exec, exec_keeps_the_empty_string_apart_from_null);
    tcase_add_test(tc_exec, exec_with_an_arena_clears_the_result_at_reset);
    tcase_add_test(tc_exec, exec_without_res_still_runs);
    tcase_add_test(tc_exec, exec_unique_violation_is_econflict);
    tcase_add_test(tc_exec, exec_check_violation_is_einvalid);
    tcase_add_test(tc_exec, exec_bad_date_is_einvalid);
    tcase_add_test(tc_exec, exec_bad_integer_text_is_einvalid);
    tcase_add_test(tc_exec, exec_other_errors_are_einternal);
    tcase_add_test(tc_exec, exec_after_an_error_works_on_the_same_connection);
    tcase_add_test(tc_exec, exec_past_the_statement_timeout_is_eunavail_within_a_second);
    tcase_add_test(tc_exec, exec_reconnects_after_the_server_kills_the_backend);
    tcase_add_test(tc_exec, exec_against_a_closed_port_is_eunavail_fast);
    suite_add_tcase(s, tc_exec);

    tcase_add_test(tc_map_sqlstate, map_sqlstate_gives_each_documented_code);
    tcase_add_test(tc_map_sqlstate, map_sqlstate_of_anything_else_is_einternal);
    suite_add_tcase(s, tc_map_sqlstate);

    tcase_add_unchecked_fixture(tc_get, run_begin, run_end);
    tcase_add_checked_fixture(tc_get, setup, teardown);
    tcase_add_test(tc_get, get_is_null_out_of_range_and_for_a_null_result);
    suite_add_tcase(s, tc_get);

    tcase_add_unchecked_fixture(tc_tx, run_begin, run_end);
    tcase_add_checked_fixture(tc_tx, setup, teardown);
    tcase_add_test(tc_tx, tx_commits_when_fn_returns_ok);
    tcase_add_test(tc_tx, tx_rolls_back_and_returns_the_code_when_fn_fails);
    tcase_add_test(tc_tx, tx_rolls_back_after_a_failed_statement_and_the_connection_stays_usable);
    tcase_add_test(tc_tx, tx_retries_a_serialization_failure_and_commits);
    tcase_add_test(tc_tx, tx_gives_up_after_three_retries);
    tcase_add_test(tc_tx, tx_losing_the_connection_inside_is_eunavail_and_the_next_call_reconnects);
    tcase_add_test(tc_tx, tx_against_a_closed_port_is_eunavail_without_calling_fn);
    suite_add_tcase(s, tc_tx);

    tcase_add_unchecked_fixture(tc_ping, run_begin, run_end);
    tcase_add_checked_fixture(tc_ping, setup, teardown);
    tcase_add_test(tc_ping, ping_returns_a_small_latency);
    tcase_add_test(tc_ping, ping_against_a_closed_port_is_eunavail);
    tcase_add_test(tc_ping, ping_after_the_backend_was_killed_reconnects);
    suite_add_tcase(s, tc_ping);
    return s;
}

MS_SUITE(db_suite)
