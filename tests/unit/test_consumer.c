/* Integration tests of lib/consumer.c against a real PostgreSQL
 * (MS_TEST_DATABASE_URL) and Redis (MS_TEST_REDIS_URL): each event applied
 * once, a duplicate applied once, a consumer killed between its commit and
 * its XACK reclaimed and not applied twice, a handler that always fails
 * dead-lettered with its reason after MAX_DELIVERIES while later entries
 * flow, a malformed entry dead-lettered at once, a dead letter replayed, and
 * the groups made again after Redis lost them; and with the outbox relay in
 * front of it, Redis emptied (FLUSHALL) and PostgreSQL restarted (pg_ctl,
 * MS_TEST_PGDATA) in the middle of a stream: every event applied exactly
 * once. Streams and group names are unique per test; the handler counts
 * applications in ut_consumed. */
#include "lib/consumer.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "lib/arena.h"
#include "lib/cache.h"
#include "lib/ctx.h"
#include "lib/db.h"
#include "lib/err.h"
#include "lib/outbox.h"
#include "tests/unit/pgtest.h"
#include "tests/unit/suites.h"
#include "lib/banned.h"

#define FMT(buf, ...) ck_assert_int_lt(snprintf((buf), sizeof(buf), __VA_ARGS__), (int)sizeof(buf))

static struct ms_ctx ctx;
static PGconn *admin;
static char stream[96], other[96], group[64];

/* SQL on this file's admin connection (tests/unit/pgtest.h). */
#define admin_exec(sql) ms_test_sql(admin, (sql))
#define admin_long(sql, param) ms_test_sql_long(admin, (sql), (param))

static void setup(void)
{
    static int seq;
    const char *db = getenv("MS_TEST_DATABASE_URL"), *redis = getenv("MS_TEST_REDIS_URL");

    ck_assert_msg(db && redis, "the consumer suite needs MS_TEST_DATABASE_URL and MS_TEST_REDIS_URL");
    admin = PQconnectdb(db);
    ck_assert_msg(PQstatus(admin) == CONNECTION_OK, "%s", PQerrorMessage(admin));
    admin_exec("SET client_min_messages = warning");
    admin_exec("CREATE TABLE IF NOT EXISTS processed_events (event_id uuid PRIMARY KEY, "
               "processed_at timestamptz NOT NULL DEFAULT now())");
    admin_exec("CREATE TABLE IF NOT EXISTS ut_consumed (event_id uuid, stream text, type text)");
    memset(&ctx, 0, sizeof ctx);
    ctx.service = "ut";
    ctx.db = ms_db_new(db, NULL, 0, 1000, 2000);
    ctx.cache = ms_cache_new(redis, 1000);
    ctx.arena = ms_arena_new(0);
    ck_assert_ptr_nonnull(ctx.db);
    ck_assert_ptr_nonnull(ctx.cache);
    FMT(stream, "ut:consumer:%ld:%d:order", (long)getpid(), seq);
    FMT(other, "ut:consumer:%ld:%d:payment", (long)getpid(), seq);
    FMT(group, "utgroup%ld_%d", (long)getpid(), seq);
    seq++;
}

static void teardown(void)
{
    ms_cache_cmd(ctx.cache, NULL, NULL, 4, (const char *[]){ "DEL", stream, other, MS_DEAD_STREAM },
                 NULL);
    ms_arena_free(ctx.arena);
    ms_cache_free(ctx.cache);
    ms_db_free(ctx.db);
    PQfinish(admin);
}

/* ---- handlers ---- */

static int record(struct ms_ctx *c, const struct ms_event *ev)
{
    int rc = ms_db_exec_sql(c->db, c->arena,
                            "INSERT INTO ut_consumed (event_id, stream, type) VALUES ($1, $2, $3)",
                            3, (const char *[]){ ev->id, ev->stream, ev->type }, NULL);

    return rc < 0 ? rc : MS_OK;
}

static int always_fails(struct ms_ctx *c, const struct ms_event *ev)
{
    (void)ev;
    record(c, ev); /* rolled back with the failure */
    return ms_fail(c, MS_ECONFLICT, "stock is gone");
}

static struct ms_consumer_handler handlers[3];

static struct ms_consumer *consumer(ms_consumer_fn *fn, int claim_idle_ms, int max_deliveries)
{
    struct ms_consumer_opts o = { .group = group,
                                  .consumer = "c1",
                                  .block_ms = 50,
                                  .claim_idle_ms = claim_idle_ms,
                                  .max_deliveries = max_deliveries,
                                  .timeout_ms = 1000 };
    struct ms_consumer *c;

    handlers[0] = (struct ms_consumer_handler){ stream, "order.created", fn };
    handlers[1] = (struct ms_consumer_handler){ other, "*", record };
    c = ms_consumer_new(getenv("MS_TEST_REDIS_URL"), handlers, 2, &o);
    ck_assert_ptr_nonnull(c);
    return c;
}

/* XADD an event; its id into id_out (37 bytes) unless given. */
static void publish(const char *s, const char *type, const char *id, char *id_out)
{
    char uuid[40];

    if (!id) {
        PGresult *r = PQexecParams(admin, "SELECT gen_random_uuid()", 0, NULL, NULL, NULL, NULL, 0);

        FMT(uuid, "%s", PQgetvalue(r, 0, 0));
        PQclear(r);
        id = uuid;
    }
    ck_assert_int_eq(ms_cache_cmd(ctx.cache, NULL, NULL, 13,
                                  (const char *[]){ "XADD", s, "*", "id", id, "type", type,
                                                    "source", "ut", "occurred_at",
                                                    "2026-12-04T00:00:00.000Z", "data",
                                                    "{\"order_id\":\"o1\"}" },
                                  NULL),
                     MS_OK);
    if (id_out)
        memcpy(id_out, id, strlen(id) + 1);
}

static long applied(const char *id)
{
    return admin_long("SELECT count(*) FROM ut_consumed WHERE event_id = $1", id);
}

static long long redis_int(int argc, const char **argv)
{
    redisReply *r = NULL;
    long long v = -1;

    ck_assert_int_eq(ms_cache_cmd(ctx.cache, NULL, &r, argc, argv, NULL), MS_OK);
    if (r->type == REDIS_REPLY_INTEGER)
        v = r->integer;
    else if (r->type == REDIS_REPLY_ARRAY && r->elements > 0 && r->element[0]->type == REDIS_REPLY_INTEGER)
        v = r->element[0]->integer; /* XPENDING summary: the count */
    freeReplyObject(r);
    return v;
}

static long long pending(const char *s)
{
    return redis_int(3, (const char *[]){ "XPENDING", s, group });
}

/* Poll until n entries were handled in all (at most tries rounds). */
static int poll_until(struct ms_consumer *c, int n, int tries)
{
    int got = 0;

    for (int i = 0; i < tries && got < n; i++) {
        int r = ms_consumer_poll(c, &ctx);

        ck_assert_int_ge(r, 0);
        got += r;
        ms_arena_reset(ctx.arena);
    }
    return got;
}

/* ---- tests ---- */

START_TEST(each_event_is_applied_once_and_acknowledged)
{
    struct ms_consumer *c = consumer(record, 60000, 5);
    char ids[5][40], pay[40];

    ck_assert_int_eq(ms_consumer_poll(c, &ctx), 0); /* makes the groups; nothing yet */
    for (int i = 0; i < 5; i++)
        publish(stream, "order.created", NULL, ids[i]);
    publish(other, "payment.succeeded", NULL, pay);
    publish(stream, "order.paid", NULL, NULL); /* no handler for this type: acked only */
    ck_assert_int_eq(poll_until(c, 7, 10), 7);
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(applied(ids[i]), 1);
    ck_assert_int_eq(applied(pay), 1);
    ck_assert_int_eq(pending(stream), 0);
    ck_assert_int_eq(pending(other), 0);
    ck_assert_int_eq(ms_consumer_poll(c, &ctx), 0);
    ms_consumer_free(c);
}
END_TEST

START_TEST(events_published_before_the_group_existed_are_read)
{
    struct ms_consumer *c = consumer(record, 60000, 5);
    char id[40];

    publish(stream, "order.created", NULL, id);
    ck_assert_int_eq(poll_until(c, 1, 5), 1);
    ck_assert_int_eq(applied(id), 1);
    ms_consumer_free(c);
}
END_TEST

START_TEST(an_event_delivered_twice_is_applied_once)
{
    struct ms_consumer *c = consumer(record, 60000, 5);
    char id[40];

    publish(stream, "order.created", NULL, id);
    publish(stream, "order.created", id, NULL); /* the same event again (a republish) */
    ck_assert_int_eq(poll_until(c, 2, 10), 2);
    ck_assert_int_eq(applied(id), 1);
    ck_assert_int_eq(pending(stream), 0);
    ms_consumer_free(c);
}
END_TEST

static void die_now(const struct ms_event *ev)
{
    (void)ev;
    raise(SIGKILL);
}

START_TEST(a_consumer_killed_between_commit_and_ack_is_reclaimed_and_applied_once)
{
    char id[40];
    pid_t pid;
    int status;

    publish(stream, "order.created", NULL, id);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        /* a connection of its own: the parent's must not be shared */
        struct ms_ctx child = ctx;
        struct ms_consumer *c;

        child.db = ms_db_new(getenv("MS_TEST_DATABASE_URL"), NULL, 0, 1000, 2000);
        child.cache = ms_cache_new(getenv("MS_TEST_REDIS_URL"), 1000);
        c = consumer(record, 100, 5);
        ms_consumer_set_after_commit(c, die_now);
        ms_consumer_poll(c, &child);
        _exit(3); /* not reached */
    }
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    ck_assert_int_eq(applied(id), 1);  /* committed */
    ck_assert_int_eq(pending(stream), 1); /* not acknowledged */
    usleep(150 * 1000);
    {
        struct ms_consumer *c = consumer(record, 100, 5);

        ck_assert_int_eq(poll_until(c, 1, 10), 1);
        ms_consumer_free(c);
    }
    ck_assert_int_eq(applied(id), 1);
    ck_assert_int_eq(pending(stream), 0);
}
END_TEST

START_TEST(a_handler_that_always_fails_is_dead_lettered_and_later_entries_flow)
{
    struct ms_consumer *c = consumer(always_fails, 20, 3);
    char bad[40], later[40];
    redisReply *dead = NULL;
    int found = 0;

    publish(stream, "order.created", NULL, bad);
    for (int i = 0; i < 60 && !found; i++) {
        ck_assert_int_ge(ms_consumer_poll(c, &ctx), 0);
        ms_arena_reset(ctx.arena);
        found = redis_int(2, (const char *[]){ "XLEN", MS_DEAD_STREAM }) > 0;
        usleep(25 * 1000);
    }
    ck_assert_msg(found, "no entry in " MS_DEAD_STREAM);
    ck_assert_int_eq(applied(bad), 0);
    ck_assert_int_eq(pending(stream), 0);
    ck_assert_int_eq(ms_cache_cmd(ctx.cache, NULL, &dead, 4,
                                  (const char *[]){ "XRANGE", MS_DEAD_STREAM, "-", "+" }, NULL),
                     MS_OK);
    {
        const redisReply *f = dead->element[dead->elements - 1]->element[1];
        int seen = 0;

        for (size_t i = 0; i + 1 < f->elements; i += 2) {
            const char *k = f->element[i]->str, *v = f->element[i + 1]->str;

            if (strcmp(k, "reason") == 0)
                seen += strcmp(v, "stock is gone") == 0;
            else if (strcmp(k, "stream") == 0)
                seen += strcmp(v, stream) == 0;
            else if (strcmp(k, "id") == 0)
                seen += strcmp(v, bad) == 0;
            else if (strcmp(k, "deliveries") == 0)
                seen += strcmp(v, "3") == 0;
            else if (strcmp(k, "group") == 0)
                seen += strcmp(v, group) == 0;
        }
        ck_assert_int_eq(seen, 5);
    }
    freeReplyObject(dead);
    /* a later event of another stream still flows */
    publish(other, "payment.failed", NULL, later);
    ck_assert_int_ge(poll_until(c, 1, 10), 1);
    ck_assert_int_eq(applied(later), 1);
    ms_consumer_free(c);
}
END_TEST

START_TEST(a_malformed_entry_is_dead_lettered_at_once)
{
    struct ms_consumer *c = consumer(record, 60000, 5);

    ck_assert_int_eq(ms_consumer_poll(c, &ctx), 0);
    ck_assert_int_eq(ms_cache_cmd(ctx.cache, NULL, NULL, 7,
                                  (const char *[]){ "XADD", stream, "*", "id", "not-a-uuid", "type",
                                                    "order.created" },
                                  NULL),
                     MS_OK);
    ck_assert_int_eq(poll_until(c, 1, 5), 1);
    ck_assert_int_eq(pending(stream), 0);
    ck_assert_int_eq(redis_int(2, (const char *[]){ "XLEN", MS_DEAD_STREAM }), 1);
    ms_consumer_free(c);
}
END_TEST

START_TEST(a_replayed_dead_letter_goes_back_and_dedupe_holds)
{
    struct ms_consumer *c = consumer(record, 60000, 5);
    char id[40], dead_id[64];
    redisReply *r = NULL;

    ck_assert_int_eq(ms_consumer_poll(c, &ctx), 0);
    publish(stream, "order.created", NULL, id);
    ck_assert_int_eq(poll_until(c, 1, 5), 1);
    ck_assert_int_eq(applied(id), 1);
    /* an operator's copy of it in events:dead, as the consumer writes one */
    ck_assert_int_eq(ms_cache_cmd(ctx.cache, NULL, &r, 17,
                                  (const char *[]){ "XADD", MS_DEAD_STREAM, "*", "stream", stream,
                                                    "entry", "0-1", "id", id, "type",
                                                    "order.created", "source", "ut", "data",
                                                    "{}", "reason", "test" },
                                  NULL),
                     MS_OK);
    FMT(dead_id, "%s", r->str);
    freeReplyObject(r);
    ck_assert_int_eq(ms_consumer_replay_dead(&ctx, dead_id), 1);
    ck_assert_int_eq(redis_int(2, (const char *[]){ "XLEN", MS_DEAD_STREAM }), 0);
    ck_assert_int_eq(redis_int(2, (const char *[]){ "XLEN", stream }), 2);
    ck_assert_int_eq(poll_until(c, 1, 5), 1);
    ck_assert_int_eq(applied(id), 1); /* the consumer's dedupe holds */
    ck_assert_int_eq(ms_consumer_replay_dead(&ctx, dead_id), 0);
    ms_consumer_free(c);
}
END_TEST

START_TEST(groups_are_made_again_after_redis_lost_them)
{
    struct ms_consumer *c = consumer(record, 60000, 5);
    char id[40];

    ck_assert_int_eq(ms_consumer_poll(c, &ctx), 0);
    ms_cache_cmd(ctx.cache, NULL, NULL, 3, (const char *[]){ "DEL", stream, other }, NULL);
    ck_assert_int_eq(ms_consumer_poll(c, &ctx), MS_EUNAVAIL); /* NOGROUP */
    publish(stream, "order.created", NULL, id);
    ck_assert_int_eq(poll_until(c, 1, 5), 1);
    ck_assert_int_eq(applied(id), 1);
    ms_consumer_free(c);
}
END_TEST

START_TEST(redis_down_is_eunavail)
{
    struct ms_consumer_opts o = { .group = group, .consumer = "c1", .block_ms = 10,
                                  .claim_idle_ms = 100, .max_deliveries = 5, .timeout_ms = 200 };
    struct ms_consumer_handler h = { stream, "*", record };
    struct ms_consumer *c = ms_consumer_new("redis://127.0.0.1:1/0", &h, 1, &o);

    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(ms_consumer_poll(c, &ctx), MS_EUNAVAIL);
    ms_consumer_free(c);
}
END_TEST

/* ---- with the relay in front: outbox → stream → consumer ---- */

static char source[64];

static void relay_setup(void)
{
    setup();
    admin_exec("CREATE TABLE IF NOT EXISTS outbox (id bigserial PRIMARY KEY, "
               "event_id uuid NOT NULL DEFAULT gen_random_uuid() UNIQUE, stream text NOT NULL, "
               "type text NOT NULL, data jsonb NOT NULL, "
               "occurred_at timestamptz NOT NULL DEFAULT now(), published_at timestamptz)");
    admin_exec("TRUNCATE outbox");
    FMT(source, "ut-relay-%ld", (long)getpid());
}

static void write_events(int n)
{
    char sql[256];

    FMT(sql,
        "INSERT INTO outbox (stream, type, data) SELECT '%s', 'order.created', "
        "json_build_object('n', g) FROM generate_series(1, %d) g",
        stream, n);
    admin_exec(sql);
}

/* ut_consumed rows of this test's events, and how many distinct. */
static long consumed(int distinct)
{
    char sql[256];

    FMT(sql, "SELECT count(%s) FROM ut_consumed WHERE stream = $1",
        distinct ? "DISTINCT event_id" : "*");
    return admin_long(sql, stream);
}

/* Relay and consume in turns until want events were applied or tries rounds
 * passed; a dependency that is away only costs a round. */
static void flow_until(struct ms_consumer *c, long want, int tries)
{
    for (int i = 0; i < tries && consumed(1) < want; i++) {
        int published = 0;

        if (ms_outbox_relay_once(ctx.db, ctx.cache, source, &published, NULL, NULL) < 0 ||
            ms_consumer_poll(c, &ctx) < 0)
            usleep(50 * 1000);
        ms_arena_reset(ctx.arena);
    }
}

START_TEST(redis_emptied_mid_stream_loses_nothing_and_applies_nothing_twice)
{
    struct ms_consumer *c = consumer(record, 60000, 5);

    write_events(20);
    flow_until(c, 20, 100);
    ck_assert_int_eq(consumed(1), 20);
    /* Redis comes back empty: no streams, no groups, no marker, no dedup keys */
    ck_assert_int_eq(ms_cache_cmd(ctx.cache, NULL, NULL, 1, (const char *[]){ "FLUSHALL" }, NULL),
                     MS_OK);
    write_events(5);
    flow_until(c, 25, 200);
    /* every event of the retention window went through again: the stream holds
     * them all, and each was applied once */
    ck_assert_int_eq(redis_int(2, (const char *[]){ "XLEN", stream }), 25);
    for (int i = 0; i < 20 && redis_int(3, (const char *[]){ "XPENDING", stream, group }) > 0; i++) {
        ms_consumer_poll(c, &ctx);
        ms_arena_reset(ctx.arena);
    }
    ck_assert_int_eq(consumed(1), 25);
    ck_assert_int_eq(consumed(0), 25);
    ck_assert_int_eq(pending(stream), 0);
    ms_consumer_free(c);
}
END_TEST

START_TEST(postgresql_restarted_mid_stream_loses_nothing)
{
    const char *data = getenv("MS_TEST_PGDATA");
    struct ms_consumer *c = consumer(record, 200, 50);
    pid_t pid;
    int status;

    ck_assert_msg(data && *data, "MS_TEST_PGDATA (the unit cluster's data directory) is not set");
    write_events(200);
    flow_until(c, 40, 100);
    ck_assert_int_lt(consumed(1), 200); /* mid-stream */
    /* pg_ctl restart as the cluster's owner, no shell in between */
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        execl("/usr/sbin/runuser", "runuser", "-u", "postgres", "--",
              "/usr/lib/postgresql/15/bin/pg_ctl", "-D", data, "-m", "fast", "-w", "-t", "60",
              "-s", "restart", (char *)NULL);
        _exit(127);
    }
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "pg_ctl restart failed");
    PQfinish(admin);
    admin = PQconnectdb(getenv("MS_TEST_DATABASE_URL"));
    ck_assert_msg(PQstatus(admin) == CONNECTION_OK, "%s", PQerrorMessage(admin));
    flow_until(c, 200, 600);
    ck_assert_int_eq(consumed(1), 200);
    ck_assert_int_eq(consumed(0), 200);
    ms_consumer_free(c);
}
END_TEST

Suite *consumer_suite(void);

Suite *consumer_suite(void)
{
    Suite *s = suite_create("consumer");
    TCase *tc = tcase_create("groups");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, each_event_is_applied_once_and_acknowledged);
    tcase_add_test(tc, events_published_before_the_group_existed_are_read);
    tcase_add_test(tc, an_event_delivered_twice_is_applied_once);
    tcase_add_test(tc, a_consumer_killed_between_commit_and_ack_is_reclaimed_and_applied_once);
    tcase_add_test(tc, a_handler_that_always_fails_is_dead_lettered_and_later_entries_flow);
    tcase_add_test(tc, a_malformed_entry_is_dead_lettered_at_once);
    tcase_add_test(tc, a_replayed_dead_letter_goes_back_and_dedupe_holds);
    tcase_add_test(tc, groups_are_made_again_after_redis_lost_them);
    tcase_add_test(tc, redis_down_is_eunavail);
    suite_add_tcase(s, tc);
    tc = tcase_create("with_the_relay");
    tcase_add_checked_fixture(tc, relay_setup, teardown);
    tcase_set_timeout(tc, 90);
    tcase_add_test(tc, redis_emptied_mid_stream_loses_nothing_and_applies_nothing_twice);
    tcase_add_test(tc, postgresql_restarted_mid_stream_loses_nothing);
    suite_add_tcase(s, tc);
    return s;
}

MS_SUITE(consumer_suite)
