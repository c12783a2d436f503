/* Unit tests of lib/cache.c against a real Redis at MS_TEST_REDIS_URL: URL
 * parsing, commands and pipelines, error replies, timeouts and reconnects.
 * Keys live under "ut:cache:<pid>:" and are deleted after each test. */
#include "lib/cache.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/arena.h"
#include "lib/clock.h"
#include "lib/err.h"
#include "tests/unit/ports.h"
#include "tests/unit/suites.h"
#include "lib/banned.h"

/* snprintf into an array; the test fails rather than run with a cut string. */
#define FMT(buf, ...) ck_assert_int_lt(snprintf((buf), sizeof(buf), __VA_ARGS__), (int)sizeof(buf))

static const char *url;
static struct ms_cache *cache;
static struct ms_arena *arena;
static char prefix[64];
static long run_tag; /* pid of the runner: keys of this run are ut:cache:<run_tag>:… */

/* ---- helpers ---- */

static double elapsed_ms(int64_t t0_us)
{
    return (double)(ms_clock_mono_us() - t0_us) / 1000.0;
}

static struct ms_cache *cache_at_port(int port, int timeout_ms)
{
    char u[64];
    struct ms_cache *c;

    FMT(u, "redis://127.0.0.1:%d/0", port);
    c = ms_cache_new(u, timeout_ms);
    ck_assert_ptr_nonnull(c);
    return c;
}

/* "host:port" of MS_TEST_REDIS_URL, in the arena. */
static const char *hostport(void)
{
    const char *p = url + strlen("redis://"), *at = strchr(p, '@'), *slash;

    if (at)
        p = at + 1;
    slash = strchr(p, '/');
    return ms_arena_strndup(arena, p, slash ? (size_t)(slash - p) : strlen(p));
}

/* prefix + name, in the arena. */
static const char *key(const char *name)
{
    return ms_arena_printf(arena, "%s%s", prefix, name);
}

/* Runs a command on c that must succeed; returns its reply (arena-owned). */
static redisReply *must(struct ms_cache *c, int argc, const char **argv)
{
    redisReply *r = NULL;
    int rc = ms_cache_cmd(c, arena, &r, argc, argv, NULL);

    ck_assert_msg(rc == MS_OK, "%s failed with %d", argv[0], rc);
    ck_assert_ptr_nonnull(r);
    return r;
}

static long long client_id(struct ms_cache *c)
{
    redisReply *r = must(c, 2, (const char *[]){ "CLIENT", "ID" });

    ck_assert_int_eq(r->type, REDIS_REPLY_INTEGER);
    return r->integer;
}

static void setup(void)
{
    url = getenv("MS_TEST_REDIS_URL");
    ck_assert_msg(url && *url, "MS_TEST_REDIS_URL is not set: the cache suite needs a Redis, "
                               "e.g. redis://127.0.0.1:56380/0");
    arena = ms_arena_new(0);
    ck_assert_ptr_nonnull(arena);
    cache = ms_cache_new(url, 1000);
    ck_assert_msg(cache != NULL, "MS_TEST_REDIS_URL is not a redis:// URL: %s", url);
    FMT(prefix, "ut:cache:%ld:%ld:", run_tag, (long)getpid());
}

static void teardown(void)
{
    if (cache) {
        redisReply *r = NULL;

        /* delete this test's keys (few: KEYS is fine on a test server) */
        if (ms_cache_cmd(cache, NULL, &r, 2,
                         (const char *[]){ "KEYS", ms_arena_printf(arena, "%s*", prefix) },
                         NULL) == MS_OK &&
            r->type == REDIS_REPLY_ARRAY)
            for (size_t i = 0; i < r->elements; i++)
                ms_cache_cmd(cache, NULL, NULL, 2, (const char *[]){ "DEL", r->element[i]->str },
                             NULL);
        if (r)
            freeReplyObject(r);
    }
    ms_cache_free(cache);
    cache = NULL;
    ms_arena_free(arena);
    arena = NULL;
}

/* Unchecked fixture (once per test case, in the runner): name this run. */
static void run_begin(void)
{
    run_tag = (long)getpid();
}

/* Unchecked fixture: delete what tests of this run left behind when they
 * failed (a failed test's checked teardown does not run when Check forks). */
static void run_end(void)
{
    const char *u = getenv("MS_TEST_REDIS_URL");
    struct ms_cache *c = u ? ms_cache_new(u, 1000) : NULL;
    char pattern[64];
    redisReply *r = NULL;

    if (!c)
        return;
    (void)snprintf(pattern, sizeof pattern, "ut:cache:%ld:*", run_tag);
    if (ms_cache_cmd(c, NULL, &r, 2, (const char *[]){ "KEYS", pattern }, NULL) == MS_OK &&
        r->type == REDIS_REPLY_ARRAY)
        for (size_t i = 0; i < r->elements; i++)
            ms_cache_cmd(c, NULL, NULL, 2, (const char *[]){ "DEL", r->element[i]->str }, NULL);
    if (r)
        freeReplyObject(r);
    ms_cache_free(c);
}

/* ---- ms_cache_new ---- */

START_TEST(new_accepts_well_formed_urls)
{
    static const char *const ok[] = { "redis://127.0.0.1",        "redis://localhost:6380",
                                      "redis://127.0.0.1:6380/2", "redis://:pw@127.0.0.1:1/0",
                                      "redis://user:pw@h:6379",   "redis://h/" };

    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        struct ms_cache *c = ms_cache_new(ok[i], 100);

        ck_assert_msg(c != NULL, "refused %s", ok[i]);
        ms_cache_free(c);
    }
}
END_TEST

START_TEST(new_refuses_malformed_urls)
{
    static const char *const bad[] = {
        "http://127.0.0.1:6379", "redis:/127.0.0.1", "redis://",       "redis://:6379",
        "redis://h:0",           "redis://h:65536",  "redis://h:12ab", "redis://h:/0",
        "redis://h/abc",         "redis://h/-1",     "127.0.0.1:6379", ""
    };

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct ms_cache *c = ms_cache_new(bad[i], 100);

        ck_assert_msg(c == NULL, "accepted %s", bad[i]);
    }
}
END_TEST

START_TEST(free_accepts_null)
{
    ms_cache_free(NULL);
}
END_TEST

/* ---- ms_cache_connect ---- */

START_TEST(connect_succeeds_and_is_idempotent)
{
    ck_assert_int_eq(ms_cache_connect(cache), MS_OK);
    ck_assert_int_eq(ms_cache_connect(cache), MS_OK);
}
END_TEST

START_TEST(connect_selects_the_database_of_the_url)
{
    struct ms_cache *c = ms_cache_new(ms_arena_printf(arena, "redis://%s/3", hostport()), 1000);
    redisReply *r;

    ck_assert_ptr_nonnull(c);
    r = must(c, 2, (const char *[]){ "CLIENT", "INFO" });
    ck_assert_int_eq(r->type, REDIS_REPLY_STRING);
    ck_assert_msg(strstr(r->str, " db=3 ") != NULL, "CLIENT INFO: %s", r->str);
    ms_arena_reset(arena);
    ms_cache_free(c);
}
END_TEST

START_TEST(connect_to_a_closed_port_is_eunavail_fast)
{
    struct ms_cache *c = cache_at_port(ms_test_closed_port(), 1000);
    int64_t t0 = ms_clock_mono_us();

    ck_assert_int_eq(ms_cache_connect(c), MS_EUNAVAIL);
    ck_assert_double_lt(elapsed_ms(t0), 500);
    ms_cache_free(c);
}
END_TEST

START_TEST(connect_is_eunavail_when_auth_is_refused)
{
    /* the test server has no password: AUTH is an error reply */
    struct ms_cache *c =
        ms_cache_new(ms_arena_printf(arena, "redis://:wrong-password@%s/0", hostport()), 1000);

    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(ms_cache_connect(c), MS_EUNAVAIL);
    ms_cache_free(c);
}
END_TEST

/* ---- ms_cache_cmd ---- */

START_TEST(cmd_sets_and_gets_a_value)
{
    redisReply *r;

    r = must(cache, 3, (const char *[]){ "SET", key("k"), "v1" });
    ck_assert_int_eq(r->type, REDIS_REPLY_STATUS);
    ck_assert_str_eq(r->str, "OK");
    r = must(cache, 2, (const char *[]){ "GET", key("k") });
    ck_assert_int_eq(r->type, REDIS_REPLY_STRING);
    ck_assert_str_eq(r->str, "v1");
}
END_TEST

START_TEST(cmd_of_a_missing_key_is_ok_with_a_nil_reply)
{
    redisReply *r = must(cache, 2, (const char *[]){ "GET", key("absent") });

    ck_assert_int_eq(r->type, REDIS_REPLY_NIL);
}
END_TEST

START_TEST(cmd_with_lengths_is_binary_safe)
{
    const char *argv[] = { "SET", key("bin"), "a\0b" };
    size_t lens[] = { 3, strlen(argv[1]), 3 };
    redisReply *r = NULL;

    ck_assert_int_eq(ms_cache_cmd(cache, arena, NULL, 3, argv, lens), MS_OK);
    r = must(cache, 2, (const char *[]){ "STRLEN", key("bin") });
    ck_assert_int_eq(r->integer, 3);
    r = must(cache, 2, (const char *[]){ "GET", key("bin") });
    ck_assert_uint_eq(r->len, 3);
    ck_assert(memcmp(r->str, "a\0b", 3) == 0);
}
END_TEST

START_TEST(cmd_without_out_still_runs)
{
    ck_assert_int_eq(
        ms_cache_cmd(cache, NULL, NULL, 3, (const char *[]){ "SET", key("noout"), "1" }, NULL),
        MS_OK);
    ck_assert_str_eq(must(cache, 2, (const char *[]){ "GET", key("noout") })->str, "1");
}
END_TEST

START_TEST(cmd_without_an_arena_leaves_the_reply_to_the_caller)
{
    redisReply *r = NULL;

    ck_assert_int_eq(ms_cache_cmd(cache, NULL, &r, 1, (const char *[]){ "PING" }, NULL), MS_OK);
    ck_assert_str_eq(r->str, "PONG");
    freeReplyObject(r);
}
END_TEST

START_TEST(cmd_error_reply_is_einternal_with_the_reply_kept)
{
    redisReply *r = NULL;

    must(cache, 3, (const char *[]){ "SET", key("txt"), "not a number" });
    ck_assert_int_eq(
        ms_cache_cmd(cache, arena, &r, 2, (const char *[]){ "INCR", key("txt") }, NULL),
        MS_EINTERNAL);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(r->type, REDIS_REPLY_ERROR);
    ck_assert(strncmp(r->str, "ERR", 3) == 0);
}
END_TEST

START_TEST(cmd_unknown_command_is_einternal_and_the_connection_stays)
{
    long long id = client_id(cache);
    redisReply *r = NULL;

    ck_assert_int_eq(ms_cache_cmd(cache, arena, &r, 1, (const char *[]){ "NOSUCHCOMMAND" }, NULL),
                     MS_EINTERNAL);
    ck_assert_int_eq(r->type, REDIS_REPLY_ERROR);
    ck_assert_int_eq(client_id(cache), id);
}
END_TEST

START_TEST(cmd_against_a_closed_port_is_eunavail_fast)
{
    struct ms_cache *c = cache_at_port(ms_test_closed_port(), 1000);
    redisReply *r = (redisReply *)1;
    int64_t t0 = ms_clock_mono_us();

    ck_assert_int_eq(ms_cache_cmd(c, arena, &r, 1, (const char *[]){ "PING" }, NULL), MS_EUNAVAIL);
    ck_assert_ptr_null(r);
    ck_assert_double_lt(elapsed_ms(t0), 500);
    ms_cache_free(c);
}
END_TEST

START_TEST(cmd_against_a_server_that_never_answers_times_out)
{
    int fd;
    struct ms_cache *c = cache_at_port(ms_test_silent_port(&fd), 200);
    int64_t t0 = ms_clock_mono_us();

    ck_assert_int_eq(ms_cache_cmd(c, arena, NULL, 1, (const char *[]){ "PING" }, NULL),
                     MS_EUNAVAIL);
    ck_assert_double_ge(elapsed_ms(t0), 150);
    ck_assert_double_lt(elapsed_ms(t0), 1000);
    ms_cache_free(c);
    close(fd);
}
END_TEST

START_TEST(cmd_reconnects_after_its_connection_is_killed)
{
    struct ms_cache *other = ms_cache_new(url, 1000);
    long long id = client_id(cache), again;
    char ids[32];
    redisReply *r;
    int rc;

    ck_assert_ptr_nonnull(other);
    FMT(ids, "%lld", id);
    r = must(other, 4, (const char *[]){ "CLIENT", "KILL", "ID", ids });
    ck_assert_int_eq(r->integer, 1);
    /* the call that finds the connection dead may fail; the one after works */
    rc = ms_cache_cmd(cache, arena, NULL, 1, (const char *[]){ "PING" }, NULL);
    ck_assert_msg(rc == MS_OK || rc == MS_EUNAVAIL, "PING after the kill gave %d", rc);
    again = client_id(cache);
    ck_assert_int_ne(again, id);
    ms_arena_reset(arena);
    ms_cache_free(other);
}
END_TEST

/* ---- ms_cache_pipeline ---- */

START_TEST(pipeline_runs_every_command_in_order)
{
    const char *set[] = { "SET", key("p"), "10" };
    const char *incr[] = { "INCRBY", key("p"), "5" };
    const char *get[] = { "GET", key("p") };
    const char *const *cmds[] = { set, incr, get };
    const int argcs[] = { 3, 3, 2 };
    redisReply *out[3];

    ck_assert_int_eq(ms_cache_pipeline(cache, arena, 3, argcs, cmds, out), MS_OK);
    ck_assert_str_eq(out[0]->str, "OK");
    ck_assert_int_eq(out[1]->integer, 15);
    ck_assert_str_eq(out[2]->str, "15");
}
END_TEST

START_TEST(pipeline_without_an_arena_leaves_the_replies_to_the_caller)
{
    const char *ping[] = { "PING" };
    const char *echo[] = { "ECHO", "hi" };
    const char *const *cmds[] = { ping, echo };
    const int argcs[] = { 1, 2 };
    redisReply *out[2];

    ck_assert_int_eq(ms_cache_pipeline(cache, NULL, 2, argcs, cmds, out), MS_OK);
    ck_assert_str_eq(out[0]->str, "PONG");
    ck_assert_str_eq(out[1]->str, "hi");
    freeReplyObject(out[0]);
    freeReplyObject(out[1]);
}
END_TEST

START_TEST(pipeline_with_an_error_reply_is_einternal_and_keeps_every_reply)
{
    const char *set[] = { "SET", key("pe"), "x" };
    const char *incr[] = { "INCR", key("pe") };
    const char *get[] = { "GET", key("pe") };
    const char *const *cmds[] = { set, incr, get };
    const int argcs[] = { 3, 2, 2 };
    redisReply *out[3];

    ck_assert_int_eq(ms_cache_pipeline(cache, arena, 3, argcs, cmds, out), MS_EINTERNAL);
    ck_assert_int_eq(out[0]->type, REDIS_REPLY_STATUS);
    ck_assert_int_eq(out[1]->type, REDIS_REPLY_ERROR);
    ck_assert_str_eq(out[2]->str, "x");
}
END_TEST

START_TEST(pipeline_of_zero_or_more_than_16_commands_is_einternal)
{
    const char *ping[] = { "PING" };
    const char *const *cmds[17];
    int argcs[17];
    redisReply *out[17];

    for (int i = 0; i < 17; i++) {
        cmds[i] = ping;
        argcs[i] = 1;
    }
    ck_assert_int_eq(ms_cache_pipeline(cache, arena, 0, argcs, cmds, out), MS_EINTERNAL);
    ck_assert_int_eq(ms_cache_pipeline(cache, arena, 17, argcs, cmds, out), MS_EINTERNAL);
    ck_assert_int_eq(ms_cache_pipeline(cache, arena, 16, argcs, cmds, out), MS_OK);
    ck_assert_str_eq(out[15]->str, "PONG");
}
END_TEST

START_TEST(pipeline_against_a_closed_port_is_eunavail_with_no_replies)
{
    struct ms_cache *c = cache_at_port(ms_test_closed_port(), 1000);
    const char *ping[] = { "PING" };
    const char *const *cmds[] = { ping, ping };
    const int argcs[] = { 1, 1 };
    redisReply *out[2] = { (redisReply *)1, (redisReply *)1 };

    ck_assert_int_eq(ms_cache_pipeline(c, arena, 2, argcs, cmds, out), MS_EUNAVAIL);
    ck_assert_ptr_null(out[0]);
    ck_assert_ptr_null(out[1]);
    ms_cache_free(c);
}
END_TEST

START_TEST(pipeline_against_a_server_that_never_answers_times_out)
{
    int fd;
    struct ms_cache *c = cache_at_port(ms_test_silent_port(&fd), 200);
    const char *ping[] = { "PING" };
    const char *const *cmds[] = { ping };
    const int argcs[] = { 1 };
    redisReply *out[1];
    int64_t t0 = ms_clock_mono_us();

    ck_assert_int_eq(ms_cache_pipeline(c, NULL, 1, argcs, cmds, out), MS_EUNAVAIL);
    ck_assert_ptr_null(out[0]);
    ck_assert_double_lt(elapsed_ms(t0), 1000);
    ms_cache_free(c);
    close(fd);
}
END_TEST

/* ---- ms_cache_ping ---- */

START_TEST(ping_returns_a_small_latency)
{
    int ms = ms_cache_ping(cache);

    ck_assert_int_ge(ms, 0);
    ck_assert_int_lt(ms, 1000);
}
END_TEST

START_TEST(ping_against_a_closed_port_is_eunavail)
{
    struct ms_cache *c = cache_at_port(ms_test_closed_port(), 1000);

    ck_assert_int_eq(ms_cache_ping(c), MS_EUNAVAIL);
    ms_cache_free(c);
}
END_TEST

Suite *cache_suite(void);

Suite *cache_suite(void)
{
    Suite *s = suite_create("cache");
    TCase *tc_new = tcase_create("new");
    TCase *tc_free = tcase_create("free");
    TCase *tc_connect = tcase_create("connect");
    TCase *tc_cmd = tcase_create("cmd");
    TCase *tc_pipeline = tcase_create("pipeline");
    TCase *tc_ping = tcase_create("ping");

    tcase_add_test(tc_new, new_accepts_well_formed_urls);
    tcase_add_test(tc_new, new_refuses_malformed_urls);
    suite_add_tcase(s, tc_new);

    tcase_add_test(tc_free, free_accepts_null);
    suite_add_tcase(s, tc_free);

    tcase_add_unchecked_fixture(tc_connect, run_begin, run_end);
    tcase_add_checked_fixture(tc_connect, setup, teardown);
    tcase_add_test(tc_connect, connect_succeeds_and_is_idempotent);
    tcase_add_test(tc_connect, connect_selects_the_database_of_the_url);
    tcase_add_test(tc_connect, connect_to_a_closed_port_is_eunavail_fast);
    tcase_add_test(tc_connect, connect_is_eunavail_when_auth_is_refused);
    suite_add_tcase(s, tc_connect);

    tcase_add_unchecked_fixture(tc_cmd, run_begin, run_end);
    tcase_add_checked_fixture(tc_cmd, setup, teardown);
    tcase_add_test(tc_cmd, cmd_sets_and_gets_a_value);
    tcase_add_test(tc_cmd, cmd_of_a_missing_key_is_ok_with_a_nil_reply);
    tcase_add_test(tc_cmd, cmd_with_lengths_is_binary_safe);
    tcase_add_test(tc_cmd, cmd_without_out_still_runs);
    tcase_add_test(tc_cmd, cmd_without_an_arena_leaves_the_reply_to_the_caller);
    tcase_add_test(tc_cmd, cmd_error_reply_is_einternal_with_the_reply_kept);
    tcase_add_test(tc_cmd, cmd_unknown_command_is_einternal_and_the_connection_stays);
    tcase_add_test(tc_cmd, cmd_against_a_closed_port_is_eunavail_fast);
    tcase_add_test(tc_cmd, cmd_against_a_server_that_never_answers_times_out);
    tcase_add_test(tc_cmd, cmd_reconnects_after_its_connection_is_killed);
    suite_add_tcase(s, tc_cmd);

    tcase_add_unchecked_fixture(tc_pipeline, run_begin, run_end);
    tcase_add_checked_fixture(tc_pipeline, setup, teardown);
    tcase_add_test(tc_pipeline, pipeline_runs_every_command_in_order);
    tcase_add_test(tc_pipeline, pipeline_without_an_arena_leaves_the_replies_to_the_caller);
    tcase_add_test(tc_pipeline, pipeline_with_an_error_reply_is_einternal_and_keeps_every_reply);
    tcase_add_test(tc_pipeline, pipeline_of_zero_or_more_than_16_commands_is_einternal);
    tcase_add_test(tc_pipeline, pipeline_against_a_closed_port_is_eunavail_with_no_replies);
    tcase_add_test(tc_pipeline, pipeline_against_a_server_that_never_answers_times_out);
    suite_add_tcase(s, tc_pipeline);

    tcase_add_unchecked_fixture(tc_ping, run_begin, run_end);
    tcase_add_checked_fixture(tc_ping, setup, teardown);
    tcase_add_test(tc_ping, ping_returns_a_small_latency);
    tcase_add_test(tc_ping, ping_against_a_closed_port_is_eunavail);
    suite_add_tcase(s, tc_ping);
    return s;
}

MS_SUITE(cache_suite)
