/* Unit tests of lib/auth.c with a real Redis at MS_TEST_REDIS_URL: the user
 * state value, revocation keys, and ms_auth_authenticate() end to end with
 * tokens signed by lib/jwt (HS256) and a worker holding a real ms_cache. Each
 * test uses fresh ids ("ut-<run>-<pid>-<n>-u/j/f") for its user, token and
 * family and deletes their keys. */
#include "lib/auth.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/arena.h"
#include "lib/cache.h"
#include "lib/clock.h"
#include "lib/config.h"
#include "lib/err.h"
#include "lib/http.h"
#include "lib/jwt.h"
#include "lib/pool.h"
#include "lib/router.h"
#include "tests/unit/ports.h"
#include "tests/unit/suites.h"
#include "lib/banned.h"

/* snprintf into an array; the test fails rather than run with a cut string. */
#define FMT(buf, ...) ck_assert_int_lt(snprintf((buf), sizeof(buf), __VA_ARGS__), (int)sizeof(buf))

#define SECRET "unit-test-secret-of-more-than-32-bytes!"

static struct ms_arena *arena;
static struct ms_cache *cache;
static struct ms_service svc;
static struct ms_ctx worker;
static struct ms_req req;
static char uid[40], jti[40], fam[40];
static long run_tag; /* pid of the runner: ids of this run are ut-<run_tag>-… */

/* What the fake auth_state_miss hook saw and answers. */
static int miss_calls;
static char miss_user[40];
static int miss_rc;
static struct ms_user_state miss_state;

static int fake_miss(struct ms_req *r, const char *user_id, struct ms_user_state *st)
{
    (void)r;
    miss_calls++;
    (void)snprintf(miss_user, sizeof miss_user, "%s", user_id);
    if (miss_rc < 0)
        return miss_rc;
    *st = miss_state;
    return MS_OK;
}

/* Unchecked fixture (once per test case, in the runner): name this run. */
static void run_begin(void)
{
    run_tag = (long)getpid();
}

/* Unchecked fixture: delete the keys of this run's users and tokens that a
 * failed test left (a failed test's checked teardown does not run when Check
 * forks). */
static void run_end(void)
{
    static const char *const kinds[] = { MS_KEY_USTATE, MS_KEY_REVOKED };
    const char *u = getenv("MS_TEST_REDIS_URL");
    struct ms_cache *c = u ? ms_cache_new(u, 1000) : NULL;

    for (int k = 0; c && k < 2; k++) {
        char pattern[64];
        redisReply *r = NULL;

        (void)snprintf(pattern, sizeof pattern, "%sut-%ld-*", kinds[k], run_tag);
        if (ms_cache_cmd(c, NULL, &r, 2, (const char *[]){ "KEYS", pattern }, NULL) == MS_OK &&
            r->type == REDIS_REPLY_ARRAY)
            for (size_t i = 0; i < r->elements; i++)
                ms_cache_cmd(c, NULL, NULL, 2, (const char *[]){ "DEL", r->element[i]->str }, NULL);
        if (r)
            freeReplyObject(r);
    }
    ms_cache_free(c);
}

static void setup(void)
{
    static int seq;
    const char *url = getenv("MS_TEST_REDIS_URL");

    ck_assert_msg(url && *url, "MS_TEST_REDIS_URL is not set: the auth suite needs a Redis, "
                               "e.g. redis://127.0.0.1:56380/0");
    memset(&ms_config, 0, sizeof ms_config);
    ms_config.jwt_algorithm = "HS256";
    ms_config.jwt_secret = SECRET;
    ms_config.jwt_refresh_secret = SECRET "-refresh";
    ms_config.jwt_issuer = "user-service";
    ms_config.jwt_access_ttl_s = 900;
    arena = ms_arena_new(0);
    ck_assert_ptr_nonnull(arena);
    cache = ms_cache_new(url, 1000);
    ck_assert_ptr_nonnull(cache);
    memset(&svc, 0, sizeof svc);
    svc.name = "test";
    memset(&worker, 0, sizeof worker);
    worker.svc = &svc;
    worker.arena = arena;
    worker.cache = cache;
    ms_http_req_init(&req, arena, &worker);
    FMT(uid, "ut-%ld-%ld-%d-u", run_tag, (long)getpid(), seq);
    FMT(jti, "ut-%ld-%ld-%d-j", run_tag, (long)getpid(), seq);
    FMT(fam, "ut-%ld-%ld-%d-f", run_tag, (long)getpid(), seq);
    seq++;
    miss_calls = 0;
    miss_user[0] = '\0';
    miss_rc = MS_OK;
    memset(&miss_state, 0, sizeof miss_state);
}

static void del(const char *prefix, const char *id)
{
    char k[128];

    (void)snprintf(k, sizeof k, "%s%s", prefix, id);
    ms_cache_cmd(cache, NULL, NULL, 2, (const char *[]){ "DEL", k }, NULL);
}

static void teardown(void)
{
    if (cache) {
        del(MS_KEY_USTATE, uid);
        del(MS_KEY_REVOKED, jti);
        del(MS_KEY_REVOKED, fam);
    }
    ms_cache_free(cache);
    cache = NULL;
    ms_arena_free(arena);
    arena = NULL;
    memset(&ms_config, 0, sizeof ms_config);
}

/* An access token for uid with the given role and tv, valid for 15 minutes. */
static const char *token_for(const char *role, int64_t tv, const char *token_jti,
                             const char *family)
{
    struct ms_jwt_claims c;
    char *tok = NULL;
    int64_t now = ms_clock_now_ms() / 1000;

    memset(&c, 0, sizeof c);
    c.kind = MS_JWT_ACCESS;
    FMT(c.sub, "%s", uid);
    FMT(c.email, "alice@example.com");
    FMT(c.role, "%s", role);
    FMT(c.jti, "%s", token_jti);
    FMT(c.fam, "%s", family);
    c.tv = tv;
    c.iat = now;
    c.exp = now + 900;
    ck_assert_int_eq(ms_jwt_sign(arena, &c, &tok), MS_OK);
    return tok;
}

static void bearer(const char *token)
{
    req.authorization = ms_arena_printf(arena, "Bearer %s", token);
}

static void set_state(const char *role, const char *status, int64_t tv)
{
    struct ms_user_state st;

    memset(&st, 0, sizeof st);
    FMT(st.role, "%s", role);
    FMT(st.status, "%s", status);
    st.tv = tv;
    ck_assert_int_eq(ms_auth_state_write(cache, uid, &st), MS_OK);
}

/* The string value of key, or NULL (arena-owned). */
static const char *get_key(const char *prefix, const char *id)
{
    redisReply *r = NULL;

    ck_assert_int_eq(
        ms_cache_cmd(cache, arena, &r, 2,
                     (const char *[]){ "GET", ms_arena_printf(arena, "%s%s", prefix, id) }, NULL),
        MS_OK);
    return r->type == REDIS_REPLY_STRING ? r->str : NULL;
}

static long long key_int(const char *cmd, const char *prefix, const char *id)
{
    redisReply *r = NULL;

    ck_assert_int_eq(
        ms_cache_cmd(cache, arena, &r, 2,
                     (const char *[]){ cmd, ms_arena_printf(arena, "%s%s", prefix, id) }, NULL),
        MS_OK);
    ck_assert_int_eq(r->type, REDIS_REPLY_INTEGER);
    return r->integer;
}

/* Authenticate and check the 401 message. */
static void assert_refused(int rc_want, const char *message)
{
    int rc = ms_auth_authenticate(&req);

    ck_assert_msg(rc == rc_want, "rc %d (%s), want %s", rc, ms_err_name(rc), ms_err_name(rc_want));
    ck_assert_ptr_nonnull(req.err_msg);
    ck_assert_str_eq(req.err_msg, message);
    ck_assert_int_eq(req.caller.is_authenticated, 0);
}

/* ---- ms_auth_state_parse ---- */

START_TEST(state_parse_reads_role_status_and_tv)
{
    struct ms_user_state st;

    ck_assert_int_eq(ms_auth_state_parse("admin suspended 17", &st), 0);
    ck_assert_str_eq(st.role, "admin");
    ck_assert_str_eq(st.status, "suspended");
    ck_assert_int_eq(st.tv, 17);
}
END_TEST

START_TEST(state_parse_reads_a_64_bit_tv)
{
    struct ms_user_state st;

    ck_assert_int_eq(ms_auth_state_parse("user active 9223372036854775807", &st), 0);
    ck_assert_int_eq(st.tv, INT64_MAX);
}
END_TEST

START_TEST(state_parse_refuses_missing_parts)
{
    struct ms_user_state st;

    ck_assert_int_eq(ms_auth_state_parse("user active", &st), -1);
    ck_assert_int_eq(ms_auth_state_parse("user", &st), -1);
    ck_assert_int_eq(ms_auth_state_parse("", &st), -1);
}
END_TEST

START_TEST(state_parse_refuses_a_tv_that_is_not_a_number)
{
    struct ms_user_state st;

    ck_assert_int_eq(ms_auth_state_parse("user active x", &st), -1);
}
END_TEST

START_TEST(state_parse_refuses_null)
{
    struct ms_user_state st;

    ck_assert_int_eq(ms_auth_state_parse(NULL, &st), -1);
}
END_TEST

/* ---- ms_auth_state_write ---- */

START_TEST(state_write_stores_role_status_tv_without_expiry)
{
    struct ms_user_state st;

    set_state("moderator", "active", 4);
    ck_assert_str_eq(get_key(MS_KEY_USTATE, uid), "moderator active 4");
    ck_assert_int_eq(key_int("TTL", MS_KEY_USTATE, uid), -1);
    ck_assert_int_eq(ms_auth_state_parse(get_key(MS_KEY_USTATE, uid), &st), 0);
    ck_assert_str_eq(st.role, "moderator");
    ck_assert_int_eq(st.tv, 4);
}
END_TEST

START_TEST(state_write_overwrites_the_previous_state)
{
    set_state("user", "active", 0);
    set_state("admin", "suspended", 1);
    ck_assert_str_eq(get_key(MS_KEY_USTATE, uid), "admin suspended 1");
}
END_TEST

START_TEST(state_write_with_redis_down_is_eunavail)
{
    struct ms_cache *down =
        ms_cache_new(ms_arena_printf(arena, "redis://127.0.0.1:%d/0", ms_test_closed_port()), 1000);
    struct ms_user_state st = { "user", "active", 0 };

    ck_assert_ptr_nonnull(down);
    ck_assert_int_eq(ms_auth_state_write(down, uid, &st), MS_EUNAVAIL);
    ms_cache_free(down);
}
END_TEST

/* ---- ms_auth_revoke ---- */

START_TEST(revoke_sets_the_key_to_expire_at_exp)
{
    int64_t exp = ms_clock_now_ms() / 1000 + 600;

    ck_assert_int_eq(ms_auth_revoke(cache, jti, exp), MS_OK);
    ck_assert_str_eq(get_key(MS_KEY_REVOKED, jti), "1");
    ck_assert_int_eq(key_int("EXPIRETIME", MS_KEY_REVOKED, jti), exp);
}
END_TEST

START_TEST(revoke_of_an_already_expired_token_stores_nothing)
{
    int64_t now = ms_clock_now_ms() / 1000;

    ck_assert_int_eq(ms_auth_revoke(cache, jti, now - 10), MS_OK);
    ck_assert_int_eq(ms_auth_revoke(cache, jti, now), MS_OK);
    ck_assert_ptr_null(get_key(MS_KEY_REVOKED, jti));
}
END_TEST

START_TEST(revoke_with_redis_down_is_eunavail)
{
    struct ms_cache *down =
        ms_cache_new(ms_arena_printf(arena, "redis://127.0.0.1:%d/0", ms_test_closed_port()), 1000);

    ck_assert_ptr_nonnull(down);
    ck_assert_int_eq(ms_auth_revoke(down, jti, ms_clock_now_ms() / 1000 + 60), MS_EUNAVAIL);
    ms_cache_free(down);
}
END_TEST

/* ---- ms_auth_authenticate ---- */

START_TEST(authenticate_fills_the_caller_from_token_and_state)
{
    const char *tok = token_for("user", 0, jti, fam);

    set_state("user", "active", 0);
    bearer(tok);
    ck_assert_int_eq(ms_auth_authenticate(&req), MS_OK);
    ck_assert_int_eq(req.caller.is_authenticated, 1);
    ck_assert_str_eq(req.caller.user_id, uid);
    ck_assert_str_eq(req.caller.email, "alice@example.com");
    ck_assert_uint_eq(req.caller.role, MS_ROLE_USER);
    ck_assert_str_eq(req.caller.role_name, "user");
    ck_assert_str_eq(req.caller.jti, jti);
    ck_assert_str_eq(req.caller.family, fam);
    ck_assert_int_gt(req.caller.exp, ms_clock_now_ms() / 1000);
    ck_assert_str_eq(req.caller.token, tok);
}
END_TEST

START_TEST(authenticate_without_a_header_is_no_token_provided)
{
    assert_refused(MS_EAUTH, "No token provided");
}
END_TEST

START_TEST(authenticate_without_the_bearer_scheme_is_no_token_provided)
{
    req.authorization = "Basic YWxpY2U6c2VjcmV0";
    assert_refused(MS_EAUTH, "No token provided");
    req.authorization = "Bearer ";
    assert_refused(MS_EAUTH, "No token provided");
    req.authorization = "bearer abc";
    assert_refused(MS_EAUTH, "No token provided");
}
END_TEST

START_TEST(authenticate_with_a_bad_token_is_invalid_token)
{
    req.authorization = "Bearer not.a.token";
    assert_refused(MS_EAUTH, "Invalid token");
}
END_TEST

START_TEST(authenticate_with_a_token_of_another_secret_is_invalid_token)
{
    const char *tok = token_for("user", 0, jti, fam);

    set_state("user", "active", 0);
    ms_config.jwt_secret = "a-different-secret-of-more-than-32-bytes";
    bearer(tok);
    assert_refused(MS_EAUTH, "Invalid token");
}
END_TEST

START_TEST(authenticate_with_an_expired_token_is_token_has_expired)
{
    struct ms_jwt_claims c;
    char *tok = NULL;
    int64_t now = ms_clock_now_ms() / 1000;

    memset(&c, 0, sizeof c);
    c.kind = MS_JWT_ACCESS;
    FMT(c.sub, "%s", uid);
    FMT(c.role, "user");
    c.iat = now - 1000;
    c.exp = now - 100;
    ck_assert_int_eq(ms_jwt_sign(arena, &c, &tok), MS_OK);
    set_state("user", "active", 0);
    bearer(tok);
    assert_refused(MS_EAUTH, "Token has expired");
}
END_TEST

START_TEST(authenticate_with_a_refresh_token_is_invalid_token)
{
    struct ms_jwt_claims c;
    char *tok = NULL;
    int64_t now = ms_clock_now_ms() / 1000;

    memset(&c, 0, sizeof c);
    c.kind = MS_JWT_REFRESH;
    FMT(c.sub, "%s", uid);
    c.iat = now;
    c.exp = now + 900;
    ck_assert_int_eq(ms_jwt_sign(arena, &c, &tok), MS_OK);
    set_state("user", "active", 0);
    bearer(tok);
    assert_refused(MS_EAUTH, "Invalid token");
}
END_TEST

START_TEST(authenticate_with_a_revoked_jti_is_token_has_been_revoked)
{
    set_state("user", "active", 0);
    ck_assert_int_eq(ms_auth_revoke(cache, jti, ms_clock_now_ms() / 1000 + 900), MS_OK);
    bearer(token_for("user", 0, jti, fam));
    assert_refused(MS_EAUTH, "Token has been revoked");
}
END_TEST

START_TEST(authenticate_with_a_revoked_family_is_token_has_been_revoked)
{
    set_state("user", "active", 0);
    ck_assert_int_eq(ms_auth_revoke(cache, fam, ms_clock_now_ms() / 1000 + 900), MS_OK);
    bearer(token_for("user", 0, jti, fam));
    assert_refused(MS_EAUTH, "Token has been revoked");
}
END_TEST

START_TEST(authenticate_revokes_a_token_without_jti_by_its_hash)
{
    const char *tok = token_for("user", 0, "", "");
    char hash[72];

    set_state("user", "active", 0);
    bearer(tok);
    ck_assert_int_eq(ms_auth_authenticate(&req), MS_OK);
    ms_jwt_token_hash(tok, hash, sizeof hash);
    ck_assert_str_eq(req.caller.jti, hash);
    ck_assert_str_eq(req.caller.family, "");
    ck_assert_int_eq(ms_auth_revoke(cache, hash, ms_clock_now_ms() / 1000 + 900), MS_OK);
    ms_http_req_init(&req, arena, &worker);
    bearer(tok);
    assert_refused(MS_EAUTH, "Token has been revoked");
    del(MS_KEY_REVOKED, hash);
}
END_TEST

START_TEST(authenticate_with_a_tv_below_the_state_tv_is_token_has_been_revoked)
{
    set_state("user", "active", 3);
    bearer(token_for("user", 2, jti, fam));
    assert_refused(MS_EAUTH, "Token has been revoked");
}
END_TEST

START_TEST(authenticate_with_a_tv_equal_to_or_above_the_state_tv_is_accepted)
{
    set_state("user", "active", 3);
    bearer(token_for("user", 3, jti, fam));
    ck_assert_int_eq(ms_auth_authenticate(&req), MS_OK);
    ms_http_req_init(&req, arena, &worker);
    bearer(token_for("user", 4, jti, fam));
    ck_assert_int_eq(ms_auth_authenticate(&req), MS_OK);
}
END_TEST

START_TEST(authenticate_of_a_deleted_user_is_user_not_found)
{
    set_state("user", "deleted", 1);
    bearer(token_for("user", 0, jti, fam));
    assert_refused(MS_EAUTH, "User not found");
}
END_TEST

START_TEST(authenticate_of_a_suspended_user_is_account_is_not_active)
{
    set_state("user", "suspended", 0);
    bearer(token_for("user", 0, jti, fam));
    assert_refused(MS_EAUTH, "Account is not active");
}
END_TEST

START_TEST(authenticate_of_an_inactive_or_pending_user_is_account_is_not_active)
{
    set_state("user", "inactive", 0);
    bearer(token_for("user", 0, jti, fam));
    assert_refused(MS_EAUTH, "Account is not active");
    ms_http_req_init(&req, arena, &worker);
    set_state("user", "pending", 0);
    bearer(token_for("user", 0, jti, fam));
    assert_refused(MS_EAUTH, "Account is not active");
}
END_TEST

START_TEST(authenticate_without_state_and_without_a_miss_hook_is_eunavail)
{
    bearer(token_for("user", 0, jti, fam));
    assert_refused(MS_EUNAVAIL, "Service unavailable");
}
END_TEST

START_TEST(authenticate_with_a_malformed_state_is_eunavail)
{
    ck_assert_int_eq(
        ms_cache_cmd(
            cache, NULL, NULL, 3,
            (const char *[]){ "SET", ms_arena_printf(arena, MS_KEY_USTATE "%s", uid), "garbage" },
            NULL),
        MS_OK);
    bearer(token_for("user", 0, jti, fam));
    assert_refused(MS_EUNAVAIL, "Service unavailable");
}
END_TEST

START_TEST(authenticate_without_state_asks_the_miss_hook)
{
    svc.auth_state_miss = fake_miss;
    miss_state = (struct ms_user_state){ "moderator", "active", 0 };
    bearer(token_for("user", 0, jti, fam));
    ck_assert_int_eq(ms_auth_authenticate(&req), MS_OK);
    ck_assert_int_eq(miss_calls, 1);
    ck_assert_str_eq(miss_user, uid);
    ck_assert_uint_eq(req.caller.role, MS_ROLE_MODERATOR);
}
END_TEST

START_TEST(authenticate_with_state_does_not_ask_the_miss_hook)
{
    svc.auth_state_miss = fake_miss;
    set_state("user", "active", 0);
    bearer(token_for("user", 0, jti, fam));
    ck_assert_int_eq(ms_auth_authenticate(&req), MS_OK);
    ck_assert_int_eq(miss_calls, 0);
}
END_TEST

START_TEST(authenticate_when_the_miss_hook_finds_no_user_is_user_not_found)
{
    svc.auth_state_miss = fake_miss;
    miss_rc = MS_ENOTFOUND;
    bearer(token_for("user", 0, jti, fam));
    assert_refused(MS_EAUTH, "User not found");
}
END_TEST

START_TEST(authenticate_when_the_miss_hook_fails_is_eunavail)
{
    svc.auth_state_miss = fake_miss;
    miss_rc = MS_EUNAVAIL;
    bearer(token_for("user", 0, jti, fam));
    assert_refused(MS_EUNAVAIL, "Service unavailable");
}
END_TEST

START_TEST(authenticate_checks_the_state_the_miss_hook_returns)
{
    svc.auth_state_miss = fake_miss;
    miss_state = (struct ms_user_state){ "user", "suspended", 0 };
    bearer(token_for("user", 0, jti, fam));
    assert_refused(MS_EAUTH, "Account is not active");
}
END_TEST

START_TEST(authenticate_takes_the_role_from_redis_not_from_the_token)
{
    set_state("user", "active", 0);
    bearer(token_for("admin", 0, jti, fam));
    ck_assert_int_eq(ms_auth_authenticate(&req), MS_OK);
    ck_assert_uint_eq(req.caller.role, MS_ROLE_USER);
    ck_assert_str_eq(req.caller.role_name, "user");
}
END_TEST

START_TEST(authenticate_sees_a_promotion_made_after_the_token_was_issued)
{
    set_state("admin", "active", 0);
    bearer(token_for("user", 0, jti, fam));
    ck_assert_int_eq(ms_auth_authenticate(&req), MS_OK);
    ck_assert_uint_eq(req.caller.role, MS_ROLE_ADMIN);
}
END_TEST

START_TEST(authenticate_with_redis_down_is_eunavail)
{
    struct ms_cache *down =
        ms_cache_new(ms_arena_printf(arena, "redis://127.0.0.1:%d/0", ms_test_closed_port()), 1000);
    int64_t t0;

    ck_assert_ptr_nonnull(down);
    set_state("user", "active", 0);
    worker.cache = down;
    bearer(token_for("user", 0, jti, fam));
    t0 = ms_clock_mono_us();
    assert_refused(MS_EUNAVAIL, "Service unavailable");
    ck_assert_int_lt(ms_clock_mono_us() - t0, 500000);
    worker.cache = cache;
    ms_cache_free(down);
}
END_TEST

Suite *auth_suite(void);

Suite *auth_suite(void)
{
    Suite *s = suite_create("auth");
    TCase *parse = tcase_create("state_parse");
    TCase *write = tcase_create("state_write");
    TCase *revoke = tcase_create("revoke");
    TCase *authn = tcase_create("authenticate");

    tcase_add_test(parse, state_parse_reads_role_status_and_tv);
    tcase_add_test(parse, state_parse_reads_a_64_bit_tv);
    tcase_add_test(parse, state_parse_refuses_missing_parts);
    tcase_add_test(parse, state_parse_refuses_a_tv_that_is_not_a_number);
    tcase_add_test(parse, state_parse_refuses_null);
    suite_add_tcase(s, parse);

    tcase_add_unchecked_fixture(write, run_begin, run_end);
    tcase_add_checked_fixture(write, setup, teardown);
    tcase_add_test(write, state_write_stores_role_status_tv_without_expiry);
    tcase_add_test(write, state_write_overwrites_the_previous_state);
    tcase_add_test(write, state_write_with_redis_down_is_eunavail);
    suite_add_tcase(s, write);

    tcase_add_unchecked_fixture(revoke, run_begin, run_end);
    tcase_add_checked_fixture(revoke, setup, teardown);
    tcase_add_test(revoke, revoke_sets_the_key_to_expire_at_exp);
    tcase_add_test(revoke, revoke_of_an_already_expired_token_stores_nothing);
    tcase_add_test(revoke, revoke_with_redis_down_is_eunavail);
    suite_add_tcase(s, revoke);

    tcase_add_unchecked_fixture(authn, run_begin, run_end);
    tcase_add_checked_fixture(authn, setup, teardown);
    tcase_add_test(authn, authenticate_fills_the_caller_from_token_and_state);
    tcase_add_test(authn, authenticate_without_a_header_is_no_token_provided);
    tcase_add_test(authn, authenticate_without_the_bearer_scheme_is_no_token_provided);
    tcase_add_test(authn, authenticate_with_a_bad_token_is_invalid_token);
    tcase_add_test(authn, authenticate_with_a_token_of_another_secret_is_invalid_token);
    tcase_add_test(authn, authenticate_with_an_expired_token_is_token_has_expired);
    tcase_add_test(authn, authenticate_with_a_refresh_token_is_invalid_token);
    tcase_add_test(authn, authenticate_with_a_revoked_jti_is_token_has_been_revoked);
    tcase_add_test(authn, authenticate_with_a_revoked_family_is_token_has_been_revoked);
    tcase_add_test(authn, authenticate_revokes_a_token_without_jti_by_its_hash);
    tcase_add_test(authn, authenticate_with_a_tv_below_the_state_tv_is_token_has_been_revoked);
    tcase_add_test(authn, authenticate_with_a_tv_equal_to_or_above_the_state_tv_is_accepted);
    tcase_add_test(authn, authenticate_of_a_deleted_user_is_user_not_found);
    tcase_add_test(authn, authenticate_of_a_suspended_user_is_account_is_not_active);
    tcase_add_test(authn, authenticate_of_an_inactive_or_pending_user_is_account_is_not_active);
    tcase_add_test(authn, authenticate_without_state_and_without_a_miss_hook_is_eunavail);
    tcase_add_test(authn, authenticate_with_a_malformed_state_is_eunavail);
    tcase_add_test(authn, authenticate_without_state_asks_the_miss_hook);
    tcase_add_test(authn, authenticate_with_state_does_not_ask_the_miss_hook);
    tcase_add_test(authn, authenticate_when_the_miss_hook_finds_no_user_is_user_not_found);
    tcase_add_test(authn, authenticate_when_the_miss_hook_fails_is_eunavail);
    tcase_add_test(authn, authenticate_checks_the_state_the_miss_hook_returns);
    tcase_add_test(authn, authenticate_takes_the_role_from_redis_not_from_the_token);
    tcase_add_test(authn, authenticate_sees_a_promotion_made_after_the_token_was_issued);
    tcase_add_test(authn, authenticate_with_redis_down_is_eunavail);
    suite_add_tcase(s, authn);
    return s;
}

MS_SUITE(auth_suite)
