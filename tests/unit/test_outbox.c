/* Unit tests of lib/outbox.c with a real PostgreSQL (MS_TEST_DATABASE_URL)
 * and Redis (MS_TEST_REDIS_URL). lib/outbox uses the table name `outbox` and
 * a database-wide advisory lock, so each test case works in a scratch database
 * of its own (created from the test, dropped at the end) holding the outbox
 * table of migrations/user/002_microshop.sql. Streams are unique per test. */
#include "lib/outbox.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <libpq-fe.h>

#include "lib/arena.h"
#include "lib/cache.h"
#include "lib/db.h"
#include "lib/err.h"
#include "lib/metrics.h"
#include "tests/unit/ports.h"
#include "tests/unit/pgtest.h"
#include "tests/unit/suites.h"
#include "lib/banned.h"

/* snprintf into an array; the test fails rather than run with a cut string. */
#define FMT(buf, ...) ck_assert_int_lt(snprintf((buf), sizeof(buf), __VA_ARGS__), (int)sizeof(buf))

/* As migrations/user/002_microshop.sql creates it. */
#define OUTBOX_DDL                                                    \
    "CREATE TABLE outbox ("                                           \
    "id bigserial PRIMARY KEY, "                                      \
    "event_id uuid NOT NULL DEFAULT gen_random_uuid() UNIQUE, "       \
    "stream text NOT NULL, type text NOT NULL, data jsonb NOT NULL, " \
    "occurred_at timestamptz NOT NULL DEFAULT now(), published_at timestamptz)"
#define OUTBOX_INDEX_DDL \
    "CREATE INDEX outbox_unpublished_idx ON outbox (id) WHERE published_at IS NULL"

/* The relay's marker in Redis: the highest outbox id it holds. */
#define MARKER "ms:relay:user-service"

/* As migrations/common/001_events.sql makes every outbox notify. */
#define NOTIFY_FN_DDL                                                                   \
    "CREATE OR REPLACE FUNCTION ms_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS " \
    "$$ BEGIN PERFORM pg_notify('ms_outbox', ''); RETURN NULL; END $$"
#define NOTIFY_TRIGGER_DDL                                                    \
    "CREATE TRIGGER outbox_notify AFTER INSERT ON outbox FOR EACH STATEMENT " \
    "EXECUTE FUNCTION ms_outbox_notify()"

static char scratch_name[64];
static char scratch_dsn[1024];
static char setup_error[512];

static PGconn *admin; /* connection to the scratch database */
static struct ms_db *db;
static struct ms_cache *cache;
static struct ms_arena *arena;
static char stream[96], stream2[96];
static long run_tag; /* pid of the runner: streams of this run are ut:outbox:<run_tag>:… */

/* ---- scratch database (unchecked fixture: once per test case) ---- */

/* Append key='value' to the DSN being built, quoting as libpq wants. */
static void dsn_add(size_t *len, const char *key, const char *val)
{
    int n = snprintf(scratch_dsn + *len, sizeof scratch_dsn - *len, "%s%s='", *len ? " " : "", key);

    if (n < 0 || (size_t)n >= sizeof scratch_dsn - *len)
        return;
    *len += (size_t)n;
    for (const char *p = val; *p && *len + 3 < sizeof scratch_dsn; p++) {
        if (*p == '\'' || *p == '\\')
            scratch_dsn[(*len)++] = '\\';
        scratch_dsn[(*len)++] = *p;
    }
    scratch_dsn[(*len)++] = '\'';
    scratch_dsn[*len] = '\0';
}

/* Run sql on conn; on failure note it in setup_error. 0 or -1. */
static int run_sql(PGconn *conn, const char *sql)
{
    PGresult *r = PQexecParams(conn, sql, 0, NULL, NULL, NULL, NULL, 0);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;

    if (!ok && !setup_error[0])
        (void)snprintf(setup_error, sizeof setup_error, "%s: %s", sql, PQerrorMessage(conn));
    PQclear(r);
    return ok ? 0 : -1;
}

static void scratch_create(void)
{
    static int seq;
    const char *url = getenv("MS_TEST_DATABASE_URL");
    PQconninfoOption *opts;
    PGconn *conn;
    char *err = NULL, sql[128];
    size_t len = 0;

    setup_error[0] = scratch_name[0] = scratch_dsn[0] = '\0';
    run_tag = (long)getpid();
    if (!url || !*url) {
        (void)snprintf(setup_error, sizeof setup_error,
                       "MS_TEST_DATABASE_URL is not set: the outbox suite needs a PostgreSQL, e.g. "
                       "postgresql://postgres@127.0.0.1:55433/unit");
        return;
    }
    if (!getenv("MS_TEST_REDIS_URL")) {
        (void)snprintf(setup_error, sizeof setup_error,
                       "MS_TEST_REDIS_URL is not set: the outbox suite needs a Redis, e.g. "
                       "redis://127.0.0.1:56380/0");
        return;
    }
    opts = PQconninfoParse(url, &err);
    if (!opts) {
        (void)snprintf(setup_error, sizeof setup_error, "MS_TEST_DATABASE_URL: %s",
                       err ? err : "?");
        PQfreemem(err);
        return;
    }
    (void)snprintf(scratch_name, sizeof scratch_name, "ut_outbox_%ld_%d", (long)getpid(), seq++);
    for (PQconninfoOption *o = opts; o->keyword; o++)
        if (o->val && *o->val && strcmp(o->keyword, "dbname") != 0)
            dsn_add(&len, o->keyword, o->val);
    dsn_add(&len, "dbname", scratch_name);
    PQconninfoFree(opts);

    conn = PQconnectdb(url);
    if (PQstatus(conn) != CONNECTION_OK) {
        (void)snprintf(setup_error, sizeof setup_error,
                       "cannot connect to MS_TEST_DATABASE_URL: %s", PQerrorMessage(conn));
        PQfinish(conn);
        return;
    }
    (void)snprintf(sql, sizeof sql, "CREATE DATABASE %s", scratch_name);
    if (run_sql(conn, sql) < 0)
        scratch_name[0] = '\0';
    PQfinish(conn);
}

/* Delete from Redis what tests of this run left behind when they failed (a
 * failed test's checked teardown does not run when Check forks): this run's
 * streams and the dedup keys of the scratch database's events. */
static void scratch_forget_redis(void)
{
    const char *u = getenv("MS_TEST_REDIS_URL");
    struct ms_cache *c = u ? ms_cache_new(u, 1000) : NULL;
    PGconn *conn = PQconnectdb(scratch_dsn);
    PGresult *ids = PQexecParams(conn, "SELECT 'ms:published:' || event_id FROM outbox", 0, NULL,
                                 NULL, NULL, NULL, 0);
    char pattern[64];
    redisReply *r = NULL;

    for (int i = 0; c && PQresultStatus(ids) == PGRES_TUPLES_OK && i < PQntuples(ids); i++)
        ms_cache_cmd(c, NULL, NULL, 2, (const char *[]){ "DEL", PQgetvalue(ids, i, 0) }, NULL);
    PQclear(ids);
    PQfinish(conn);
    (void)snprintf(pattern, sizeof pattern, "ut:outbox:%ld:*", run_tag);
    if (c && ms_cache_cmd(c, NULL, &r, 2, (const char *[]){ "KEYS", pattern }, NULL) == MS_OK &&
        r->type == REDIS_REPLY_ARRAY)
        for (size_t i = 0; i < r->elements; i++)
            ms_cache_cmd(c, NULL, NULL, 2, (const char *[]){ "DEL", r->element[i]->str }, NULL);
    if (r)
        freeReplyObject(r);
    ms_cache_free(c);
}

static void scratch_drop(void)
{
    const char *url = getenv("MS_TEST_DATABASE_URL");
    PGconn *conn;
    char sql[128];

    if (!scratch_name[0] || !url)
        return;
    scratch_forget_redis();
    conn = PQconnectdb(url);
    if (PQstatus(conn) == CONNECTION_OK) {
        (void)snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", scratch_name);
        run_sql(conn, sql);
    }
    PQfinish(conn);
    scratch_name[0] = '\0';
}

/* ---- per test ---- */

/* SQL on this file's admin connection (tests/unit/pgtest.h). */
#define admin_exec(sql) ms_test_sql(admin, (sql))
#define admin_long(sql) ms_test_sql_long(admin, (sql), NULL)

static long pending_rows(void)
{
    return admin_long("SELECT count(*) FROM outbox WHERE published_at IS NULL");
}

static void setup(void)
{
    static int seq;

    ck_assert_msg(!setup_error[0], "%s", setup_error);
    ck_assert_msg(scratch_name[0], "no scratch database");
    admin = PQconnectdb(scratch_dsn);
    ck_assert_msg(PQstatus(admin) == CONNECTION_OK, "scratch database: %s", PQerrorMessage(admin));
    admin_exec("SET client_min_messages = warning");
    admin_exec("DROP TABLE IF EXISTS outbox");
    admin_exec(OUTBOX_DDL);
    admin_exec(OUTBOX_INDEX_DDL);
    db = ms_db_new(scratch_dsn, NULL, 0, 1000, 2000);
    ck_assert_ptr_nonnull(db);
    cache = ms_cache_new(getenv("MS_TEST_REDIS_URL"), 1000);
    ck_assert_ptr_nonnull(cache);
    arena = ms_arena_new(0);
    ck_assert_ptr_nonnull(arena);
    /* every test's outbox starts at id 1: forget the relay's marker */
    ms_cache_cmd(cache, NULL, NULL, 2, (const char *[]){ "DEL", MARKER }, NULL);
    FMT(stream, "ut:outbox:%ld:%ld:%d:user", run_tag, (long)getpid(), seq);
    FMT(stream2, "ut:outbox:%ld:%ld:%d:order", run_tag, (long)getpid(), seq);
    seq++;
}

static void teardown(void)
{
    if (cache) {
        ms_cache_cmd(cache, NULL, NULL, 3, (const char *[]){ "DEL", stream, stream2 }, NULL);
        if (admin && PQstatus(admin) == CONNECTION_OK) {
            PGresult *r = PQexecParams(admin, "SELECT 'ms:published:' || event_id FROM outbox", 0,
                                       NULL, NULL, NULL, NULL, 0);

            for (int i = 0; PQresultStatus(r) == PGRES_TUPLES_OK && i < PQntuples(r); i++)
                ms_cache_cmd(cache, NULL, NULL, 2, (const char *[]){ "DEL", PQgetvalue(r, i, 0) },
                             NULL);
            PQclear(r);
        }
    }
    ms_cache_free(cache);
    cache = NULL;
    ms_db_free(db);
    db = NULL;
    PQfinish(admin);
    admin = NULL;
    ms_arena_free(arena);
    arena = NULL;
}

static struct ms_cache *cache_down(void)
{
    char u[64];
    struct ms_cache *c;

    FMT(u, "redis://127.0.0.1:%d/0", ms_test_closed_port());
    c = ms_cache_new(u, 1000);
    ck_assert_ptr_nonnull(c);
    return c;
}

static struct ms_db *db_down(void)
{
    char dsn[128];
    struct ms_db *d;

    FMT(dsn, "host=127.0.0.1 port=%d dbname=x", ms_test_closed_port());
    d = ms_db_new(dsn, NULL, 0, 1000, 2000);
    ck_assert_ptr_nonnull(d);
    return d;
}

static redisReply *xrange(const char *s)
{
    redisReply *r = NULL;

    ck_assert_int_eq(
        ms_cache_cmd(cache, arena, &r, 4, (const char *[]){ "XRANGE", s, "-", "+" }, NULL), MS_OK);
    ck_assert_int_eq(r->type, REDIS_REPLY_ARRAY);
    return r;
}

static long long xlen(const char *s)
{
    redisReply *r = NULL;

    ck_assert_int_eq(ms_cache_cmd(cache, arena, &r, 2, (const char *[]){ "XLEN", s }, NULL), MS_OK);
    return r->integer;
}

/* Field i (name, value) of stream entry e. */
static const char *entry_field(const redisReply *e, size_t i, const char **value)
{
    const redisReply *fields = e->element[1];

    ck_assert_uint_lt(2 * i + 1, fields->elements);
    *value = fields->element[2 * i + 1]->str;
    return fields->element[2 * i]->str;
}

static void add(const char *s, const char *type, const char *data)
{
    ck_assert_int_eq(ms_outbox_add(db, s, type, data), MS_OK);
}

static int relay(struct ms_db *d, struct ms_cache *c, int *published)
{
    return ms_outbox_relay_once(d, c, "user-service", published, NULL, NULL);
}

/* ---- ms_outbox_add ---- */

START_TEST(add_inserts_a_pending_row)
{
    PGresult *r;

    add(stream, "user.registered", "{\"user_id\":\"u1\"}");
    r = PQexecParams(admin,
                     "SELECT stream, type, data->>'user_id', event_id IS NOT NULL, "
                     "published_at IS NULL, occurred_at > now() - interval '1 minute' "
                     "FROM outbox",
                     0, NULL, NULL, NULL, NULL, 0);
    ck_assert_int_eq(PQntuples(r), 1);
    ck_assert_str_eq(PQgetvalue(r, 0, 0), stream);
    ck_assert_str_eq(PQgetvalue(r, 0, 1), "user.registered");
    ck_assert_str_eq(PQgetvalue(r, 0, 2), "u1");
    ck_assert_str_eq(PQgetvalue(r, 0, 3), "t");
    ck_assert_str_eq(PQgetvalue(r, 0, 4), "t");
    ck_assert_str_eq(PQgetvalue(r, 0, 5), "t");
    PQclear(r);
}
END_TEST

START_TEST(add_gives_each_event_its_own_id)
{
    add(stream, "a", "{}");
    add(stream, "b", "{}");
    ck_assert_int_eq(admin_long("SELECT count(DISTINCT event_id) FROM outbox"), 2);
}
END_TEST

START_TEST(add_with_data_that_is_not_json_is_einvalid)
{
    ck_assert_int_eq(ms_outbox_add(db, stream, "user.registered", "{not json"), MS_EINVALID);
    ck_assert_int_eq(admin_long("SELECT count(*) FROM outbox"), 0);
}
END_TEST

START_TEST(add_with_postgresql_down_is_eunavail)
{
    struct ms_db *d = db_down();

    ck_assert_int_eq(ms_outbox_add(d, stream, "x", "{}"), MS_EUNAVAIL);
    ms_db_free(d);
}
END_TEST

/* ---- ms_outbox_relay_once ---- */

START_TEST(relay_publishes_each_pending_row_with_its_five_fields)
{
    PGresult *ev;
    redisReply *r;
    const char *v, *f;
    cJSON *data;
    int published = -1;

    add(stream, "user.registered", "{\"user_id\":\"u1\",\"n\":2}");
    ev = PQexecParams(admin,
                      "SELECT event_id, to_char(occurred_at AT TIME ZONE 'UTC', "
                      "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') FROM outbox",
                      0, NULL, NULL, NULL, NULL, 0);
    ck_assert_int_eq(PQntuples(ev), 1);
    ck_assert_int_eq(relay(db, cache, &published), MS_OK);
    ck_assert_int_eq(published, 1);
    r = xrange(stream);
    ck_assert_uint_eq(r->elements, 1);
    ck_assert_uint_eq(r->element[0]->element[1]->elements, 10);
    f = entry_field(r->element[0], 0, &v);
    ck_assert_str_eq(f, "id");
    ck_assert_str_eq(v, PQgetvalue(ev, 0, 0));
    f = entry_field(r->element[0], 1, &v);
    ck_assert_str_eq(f, "type");
    ck_assert_str_eq(v, "user.registered");
    f = entry_field(r->element[0], 2, &v);
    ck_assert_str_eq(f, "source");
    ck_assert_str_eq(v, "user-service");
    f = entry_field(r->element[0], 3, &v);
    ck_assert_str_eq(f, "occurred_at");
    ck_assert_str_eq(v, PQgetvalue(ev, 0, 1));
    ck_assert_uint_eq(strlen(v), 24);
    f = entry_field(r->element[0], 4, &v);
    ck_assert_str_eq(f, "data");
    data = cJSON_Parse(v);
    ck_assert_msg(data != NULL, "data is not JSON: %s", v);
    ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(data, "user_id")->valuestring, "u1");
    ck_assert_int_eq(cJSON_GetObjectItemCaseSensitive(data, "n")->valueint, 2);
    cJSON_Delete(data);
    PQclear(ev);
}
END_TEST

START_TEST(relay_marks_the_rows_published)
{
    int published;

    add(stream, "a", "{}");
    add(stream, "b", "{}");
    ck_assert_int_eq(relay(db, cache, &published), MS_OK);
    ck_assert_int_eq(published, 2);
    ck_assert_int_eq(pending_rows(), 0);
    ck_assert_int_eq(admin_long("SELECT count(*) FROM outbox WHERE published_at IS NOT NULL"), 2);
}
END_TEST

START_TEST(relay_publishes_in_id_order)
{
    static const char *const types[] = { "t0", "t1", "t2", "t3", "t4" };
    int published;
    redisReply *r;
    const char *v;

    for (int i = 0; i < 5; i++)
        add(stream, types[i], "{}");
    ck_assert_int_eq(relay(db, cache, &published), MS_OK);
    r = xrange(stream);
    ck_assert_uint_eq(r->elements, 5);
    for (size_t i = 0; i < 5; i++) {
        entry_field(r->element[i], 1, &v);
        ck_assert_msg(strcmp(v, types[i]) == 0, "entry %zu is %s, want %s", i, v, types[i]);
    }
}
END_TEST

START_TEST(relay_sends_each_event_to_its_own_stream)
{
    int published;

    add(stream, "user.updated", "{}");
    add(stream2, "order.created", "{}");
    add(stream, "user.deleted", "{}");
    ck_assert_int_eq(relay(db, cache, &published), MS_OK);
    ck_assert_int_eq(published, 3);
    ck_assert_int_eq(xlen(stream), 2);
    ck_assert_int_eq(xlen(stream2), 1);
}
END_TEST

START_TEST(relay_a_second_time_publishes_nothing)
{
    int published;

    add(stream, "a", "{}");
    ck_assert_int_eq(relay(db, cache, &published), MS_OK);
    ck_assert_int_eq(relay(db, cache, &published), MS_OK);
    ck_assert_int_eq(published, 0);
    ck_assert_int_eq(xlen(stream), 1);
}
END_TEST

START_TEST(relay_of_an_empty_outbox_publishes_nothing)
{
    int published = -1;

    ck_assert_int_eq(relay(db, cache, &published), MS_OK);
    ck_assert_int_eq(published, 0);
}
END_TEST

START_TEST(relay_after_a_crash_before_marking_adds_no_duplicate)
{
    int published;

    add(stream, "a", "{}");
    add(stream, "b", "{}");
    ck_assert_int_eq(relay(db, cache, &published), MS_OK);
    ck_assert_int_eq(xlen(stream), 2);
    /* as if the relay died between XADD and the UPDATE */
    admin_exec("UPDATE outbox SET published_at = NULL");
    ck_assert_int_eq(relay(db, cache, &published), MS_OK);
    ck_assert_int_eq(xlen(stream), 2);
    ck_assert_int_eq(pending_rows(), 0);
}
END_TEST

START_TEST(relay_with_redis_down_is_eunavail_and_rows_stay_pending)
{
    struct ms_cache *down = cache_down();
    int published = -1;

    add(stream, "a", "{}");
    add(stream, "b", "{}");
    ck_assert_int_eq(relay(db, down, &published), MS_EUNAVAIL);
    ck_assert_int_eq(published, 0);
    ck_assert_int_eq(pending_rows(), 2);
    ms_cache_free(down);
    /* and once Redis is back, they go out */
    ck_assert_int_eq(relay(db, cache, &published), MS_OK);
    ck_assert_int_eq(published, 2);
    ck_assert_int_eq(xlen(stream), 2);
}
END_TEST

START_TEST(relay_with_postgresql_down_is_eunavail)
{
    struct ms_db *d = db_down();
    int published = -1;

    ck_assert_int_eq(relay(d, cache, &published), MS_EUNAVAIL);
    ck_assert_int_eq(published, 0);
    ms_db_free(d);
}
END_TEST

START_TEST(relay_while_another_relay_holds_the_lock_publishes_nothing)
{
    int published = -1;

    add(stream, "a", "{}");
    admin_exec("SELECT pg_advisory_lock(727001)");
    ck_assert_int_eq(relay(db, cache, &published), MS_OK);
    ck_assert_int_eq(published, 0);
    ck_assert_int_eq(pending_rows(), 1);
    admin_exec("SELECT pg_advisory_unlock(727001)");
    ck_assert_int_eq(relay(db, cache, &published), MS_OK);
    ck_assert_int_eq(published, 1);
}
END_TEST

START_TEST(relay_publishes_at_most_100_rows_per_call)
{
    int published;
    char sql[256];

    FMT(sql,
        "INSERT INTO outbox (stream, type, data) "
        "SELECT '%s', 't' || g, '{}' FROM generate_series(1, 150) g",
        stream);
    admin_exec(sql);
    ck_assert_int_eq(relay(db, cache, &published), MS_OK);
    ck_assert_int_eq(published, 100);
    ck_assert_int_eq(pending_rows(), 50);
    ck_assert_int_eq(relay(db, cache, &published), MS_OK);
    ck_assert_int_eq(published, 50);
    ck_assert_int_eq(xlen(stream), 150);
}
END_TEST

struct seen {
    int n;
    char types[4][32];
    char streams[4][96];
    char ids[4][40];
    char data[4][64];
};

static void record_event(const struct ms_outbox_event *ev, void *ctx)
{
    struct seen *s = ctx;

    if (s->n < 4) {
        (void)snprintf(s->types[s->n], sizeof s->types[0], "%s", ev->type);
        (void)snprintf(s->streams[s->n], sizeof s->streams[0], "%s", ev->stream);
        (void)snprintf(s->ids[s->n], sizeof s->ids[0], "%s", ev->event_id);
        (void)snprintf(s->data[s->n], sizeof s->data[0], "%s", ev->data);
    }
    s->n++;
}

START_TEST(relay_calls_the_hook_for_each_published_event_in_order)
{
    struct seen s = { 0 };
    int published;
    PGresult *r;

    add(stream, "first", "{\"k\": 1}");
    add(stream2, "second", "{}");
    ck_assert_int_eq(ms_outbox_relay_once(db, cache, "user-service", &published, record_event, &s),
                     MS_OK);
    ck_assert_int_eq(s.n, 2);
    ck_assert_str_eq(s.types[0], "first");
    ck_assert_str_eq(s.streams[0], stream);
    ck_assert_str_eq(s.data[0], "{\"k\": 1}");
    ck_assert_str_eq(s.types[1], "second");
    ck_assert_str_eq(s.streams[1], stream2);
    r = PQexecParams(admin, "SELECT event_id FROM outbox ORDER BY id", 0, NULL, NULL, NULL, NULL,
                     0);
    ck_assert_str_eq(s.ids[0], PQgetvalue(r, 0, 0));
    ck_assert_str_eq(s.ids[1], PQgetvalue(r, 1, 0));
    PQclear(r);
}
END_TEST

START_TEST(relay_does_not_call_the_hook_when_nothing_was_published)
{
    struct ms_cache *down = cache_down();
    struct seen s = { 0 };
    int published;

    add(stream, "a", "{}");
    ck_assert_int_eq(ms_outbox_relay_once(db, down, "user-service", &published, record_event, &s),
                     MS_EUNAVAIL);
    ck_assert_int_eq(s.n, 0);
    ms_cache_free(down);
}
END_TEST

START_TEST(relay_counts_published_events_in_the_metrics)
{
    int published;

    ck_assert_int_eq(ms_metrics_init(), MS_OK);
    add(stream, "a", "{}");
    add(stream, "b", "{}");
    ck_assert_int_eq(relay(db, cache, &published), MS_OK);
    ck_assert_uint_eq(ms_metrics_get(MS_M_EVENTS_PUBLISHED), 2);
}
END_TEST

START_TEST(relay_publishes_an_event_whose_xadd_failed_once_the_stream_accepts_it)
{
    int published;

    /* the stream key holds a string, so XADD fails */
    ck_assert_int_eq(
        ms_cache_cmd(cache, NULL, NULL, 3, (const char *[]){ "SET", stream, "x" }, NULL), MS_OK);
    add(stream, "user.registered", "{}");
    ck_assert_int_lt(relay(db, cache, &published), 0);
    ck_assert_int_eq(published, 0);
    ck_assert_int_eq(pending_rows(), 1);
    ck_assert_int_eq(ms_cache_cmd(cache, NULL, NULL, 2, (const char *[]){ "DEL", stream }, NULL),
                     MS_OK);
    ck_assert_int_eq(relay(db, cache, &published), MS_OK);
    ck_assert_msg(xlen(stream) == 1,
                  "the event was marked published but never reached the "
                  "stream (XLEN %lld)",
                  xlen(stream));
}
END_TEST

/* ---- ms_outbox_stats ---- */

START_TEST(stats_of_an_empty_outbox_is_zero_pending_and_zero_age)
{
    long pending = -1;
    double oldest = -1;

    ck_assert_int_eq(ms_outbox_stats(db, &pending, &oldest), MS_OK);
    ck_assert_int_eq(pending, 0);
    ck_assert_double_eq(oldest, 0);
}
END_TEST

START_TEST(stats_counts_pending_rows_and_ages_the_oldest)
{
    long pending = -1;
    double oldest = -1;

    add(stream, "a", "{}");
    add(stream, "b", "{}");
    admin_exec("INSERT INTO outbox (stream, type, data, occurred_at) "
               "VALUES ('s', 'old', '{}', now() - interval '5 seconds')");
    admin_exec("INSERT INTO outbox (stream, type, data, occurred_at, published_at) "
               "VALUES ('s', 'done', '{}', now() - interval '1 hour', now())");
    ck_assert_int_eq(ms_outbox_stats(db, &pending, &oldest), MS_OK);
    ck_assert_int_eq(pending, 3);
    ck_assert_double_ge(oldest, 5.0);
    ck_assert_double_lt(oldest, 7.0);
}
END_TEST

START_TEST(stats_after_a_relay_counts_nothing_pending)
{
    long pending = -1;
    double oldest = -1;
    int published;

    add(stream, "a", "{}");
    ck_assert_int_eq(relay(db, cache, &published), MS_OK);
    ck_assert_int_eq(ms_outbox_stats(db, &pending, &oldest), MS_OK);
    ck_assert_int_eq(pending, 0);
    ck_assert_double_eq(oldest, 0);
}
END_TEST

START_TEST(stats_with_postgresql_down_is_eunavail)
{
    struct ms_db *d = db_down();
    long pending;
    double oldest;

    ck_assert_int_eq(ms_outbox_stats(d, &pending, &oldest), MS_EUNAVAIL);
    ms_db_free(d);
}
END_TEST

/* ---- Redis lost its data: republish the retention window ---- */

/* What FLUSHALL does to this test's events: streams, dedup keys, marker. */
static void forget_everything(void)
{
    PGresult *r = PQexecParams(admin, "SELECT 'ms:published:' || event_id FROM outbox", 0, NULL,
                               NULL, NULL, NULL, 0);

    for (int i = 0; i < PQntuples(r); i++)
        ms_cache_cmd(cache, NULL, NULL, 2, (const char *[]){ "DEL", PQgetvalue(r, i, 0) }, NULL);
    PQclear(r);
    ms_cache_cmd(cache, NULL, NULL, 3, (const char *[]){ "DEL", stream, MARKER }, NULL);
}

START_TEST(relay_republishes_the_retention_window_when_redis_lost_its_data)
{
    int published = 0;
    redisReply *r;

    add(stream, "user.registered", "{\"n\":1}");
    add(stream, "user.updated", "{\"n\":2}");
    add(stream, "user.deleted", "{\"n\":3}");
    ck_assert_int_eq(relay(db, cache, &published), MS_OK);
    ck_assert_int_eq(published, 3);
    forget_everything();
    ck_assert_int_eq(xlen(stream), 0);
    ck_assert_int_eq(relay(db, cache, &published), MS_OK);
    ck_assert_int_eq(published, 3);
    r = xrange(stream);
    ck_assert_uint_eq(r->elements, 3);
    {
        const char *v;

        /* the same events, in order */
        ck_assert_str_eq(entry_field(r->element[1], 1, &v), "type");
        ck_assert_str_eq(v, "user.updated");
    }
    /* whole again: nothing more */
    ck_assert_int_eq(relay(db, cache, &published), MS_OK);
    ck_assert_int_eq(published, 0);
    ck_assert_int_eq(xlen(stream), 3);
}
END_TEST

START_TEST(relay_republishes_only_what_an_older_redis_lacks)
{
    int published = 0;

    for (int i = 0; i < 4; i++)
        add(stream, "user.updated", "{}");
    ck_assert_int_eq(relay(db, cache, &published), MS_OK);
    ck_assert_int_eq(published, 4);
    /* as if Redis came back from an AOF written after the second event */
    ck_assert_int_eq(ms_cache_cmd(cache, NULL, NULL, 3, (const char *[]){ "SET", MARKER, "2" }, NULL),
                     MS_OK);
    ck_assert_int_eq(relay(db, cache, &published), MS_OK);
    ck_assert_int_eq(published, 2);
    ck_assert_int_eq(xlen(stream), 6);
    ck_assert_int_eq(relay(db, cache, &published), MS_OK);
    ck_assert_int_eq(published, 0);
}
END_TEST

START_TEST(relay_does_not_republish_rows_older_than_the_retention_window)
{
    int published = 0;

    add(stream, "user.registered", "{}");
    add(stream, "user.updated", "{}");
    ck_assert_int_eq(relay(db, cache, &published), MS_OK);
    admin_exec("UPDATE outbox SET published_at = now() - interval '200 hours' WHERE id = 1");
    forget_everything();
    ck_assert_int_eq(relay(db, cache, &published), MS_OK); /* default window: 168 h */
    ck_assert_int_eq(published, 1);
    ck_assert_int_eq(xlen(stream), 1);
}
END_TEST

START_TEST(relay_with_nothing_kept_to_republish_records_redis_as_whole)
{
    int published = 0;
    redisReply *r = NULL;

    add(stream, "user.registered", "{}");
    ck_assert_int_eq(relay(db, cache, &published), MS_OK);
    admin_exec("UPDATE outbox SET published_at = now() - interval '200 hours'");
    forget_everything();
    ck_assert_int_eq(relay(db, cache, &published), MS_OK);
    ck_assert_int_eq(published, 0);
    ck_assert_int_eq(ms_cache_cmd(cache, arena, &r, 2, (const char *[]){ "GET", MARKER }, NULL),
                     MS_OK);
    ck_assert_int_eq(r->type, REDIS_REPLY_STRING);
    ck_assert_str_eq(r->str, "1");
}
END_TEST

/* ---- events leave at once: LISTEN/NOTIFY ---- */

START_TEST(a_commit_that_writes_the_outbox_wakes_the_listener)
{
    struct ms_db *listener = ms_db_new(scratch_dsn, NULL, 0, 1000, 2000);

    admin_exec(NOTIFY_FN_DDL);
    admin_exec(NOTIFY_TRIGGER_DDL);
    ck_assert_int_eq(ms_db_listen(listener, MS_OUTBOX_CHANNEL), MS_OK);
    ck_assert_int_eq(ms_db_connect(listener), MS_OK);
    ck_assert_int_eq(ms_db_wait_notify(listener, 50), 0);
    admin_exec("BEGIN");
    admin_exec("INSERT INTO outbox (stream, type, data) VALUES ('s', 't', '{}'), ('s', 't', '{}')");
    ck_assert_int_eq(ms_db_wait_notify(listener, 50), 0); /* not before the commit */
    admin_exec("COMMIT");
    ck_assert_int_eq(ms_db_wait_notify(listener, 5000), 1);
    ck_assert_int_eq(ms_db_wait_notify(listener, 50), 0); /* one commit, one wake-up */
    admin_exec("INSERT INTO outbox (stream, type, data) VALUES ('s', 't', '{}')");
    ck_assert_int_eq(ms_db_wait_notify(listener, 5000), 1);
    ck_assert_int_eq(ms_db_listen(listener, "Bad; name"), MS_EINTERNAL);
    ms_db_free(listener);
}
END_TEST

Suite *outbox_suite(void);

Suite *outbox_suite(void)
{
    Suite *s = suite_create("outbox");
    TCase *add_tc = tcase_create("add");
    TCase *relay_tc = tcase_create("relay_once");
    TCase *stats = tcase_create("stats");

    tcase_add_unchecked_fixture(add_tc, scratch_create, scratch_drop);
    tcase_add_checked_fixture(add_tc, setup, teardown);
    tcase_add_test(add_tc, add_inserts_a_pending_row);
    tcase_add_test(add_tc, add_gives_each_event_its_own_id);
    tcase_add_test(add_tc, add_with_data_that_is_not_json_is_einvalid);
    tcase_add_test(add_tc, add_with_postgresql_down_is_eunavail);
    suite_add_tcase(s, add_tc);

    tcase_add_unchecked_fixture(relay_tc, scratch_create, scratch_drop);
    tcase_add_checked_fixture(relay_tc, setup, teardown);
    tcase_add_test(relay_tc, relay_publishes_each_pending_row_with_its_five_fields);
    tcase_add_test(relay_tc, relay_marks_the_rows_published);
    tcase_add_test(relay_tc, relay_publishes_in_id_order);
    tcase_add_test(relay_tc, relay_sends_each_event_to_its_own_stream);
    tcase_add_test(relay_tc, relay_a_second_time_publishes_nothing);
    tcase_add_test(relay_tc, relay_of_an_empty_outbox_publishes_nothing);
    tcase_add_test(relay_tc, relay_after_a_crash_before_marking_adds_no_duplicate);
    tcase_add_test(relay_tc, relay_with_redis_down_is_eunavail_and_rows_stay_pending);
    tcase_add_test(relay_tc, relay_with_postgresql_down_is_eunavail);
    tcase_add_test(relay_tc, relay_while_another_relay_holds_the_lock_publishes_nothing);
    tcase_add_test(relay_tc, relay_publishes_at_most_100_rows_per_call);
    tcase_add_test(relay_tc, relay_calls_the_hook_for_each_published_event_in_order);
    tcase_add_test(relay_tc, relay_does_not_call_the_hook_when_nothing_was_published);
    tcase_add_test(relay_tc, relay_counts_published_events_in_the_metrics);
    tcase_add_test(relay_tc, relay_publishes_an_event_whose_xadd_failed_once_the_stream_accepts_it);
    tcase_add_test(relay_tc, relay_republishes_the_retention_window_when_redis_lost_its_data);
    tcase_add_test(relay_tc, relay_republishes_only_what_an_older_redis_lacks);
    tcase_add_test(relay_tc, relay_does_not_republish_rows_older_than_the_retention_window);
    tcase_add_test(relay_tc, relay_with_nothing_kept_to_republish_records_redis_as_whole);
    tcase_add_test(relay_tc, a_commit_that_writes_the_outbox_wakes_the_listener);
    suite_add_tcase(s, relay_tc);

    tcase_add_unchecked_fixture(stats, scratch_create, scratch_drop);
    tcase_add_checked_fixture(stats, setup, teardown);
    tcase_add_test(stats, stats_of_an_empty_outbox_is_zero_pending_and_zero_age);
    tcase_add_test(stats, stats_counts_pending_rows_and_ages_the_oldest);
    tcase_add_test(stats, stats_after_a_relay_counts_nothing_pending);
    tcase_add_test(stats, stats_with_postgresql_down_is_eunavail);
    suite_add_tcase(s, stats);
    return s;
}

MS_SUITE(outbox_suite)
