/* Unit tests of fcgi-apps/user/tokens.c: the token pair of one login. Tokens
 * are checked with ms_jwt_verify() (lib/jwt) under an HS256 configuration set
 * in the fixture, and their payloads are decoded to see which claims they
 * carry. */
#include "fcgi-apps/user/user.h"

#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>

#include "lib/arena.h"
#include "lib/clock.h"
#include "lib/config.h"
#include "lib/err.h"
#include "lib/http.h"
#include "lib/jwt.h"
#include "tests/unit/suites.h"
#include "lib/banned.h"

#define ACCESS_SECRET  "unit-test-access-secret-of-more-than-32-bytes"
#define REFRESH_SECRET "unit-test-refresh-secret-of-more-than-32-bytes"
#define OTHER_SECRET   "another-secret-of-well-over-thirty-two-bytes"
#define USER_ID        "3f1c2a9e-8b7d-4c6e-9f01-23456789abcd"
#define FAMILY         "0b0e5a4c-7d21-4f3a-8e9b-c1d2e3f4a5b6"

static struct ms_arena *arena;
static struct ms_req req;
static struct user_tokens t;
static cJSON *json;

static void json_delete(void *j)
{
    cJSON_Delete(j);
}

static void setup(void)
{
    memset(&ms_config, 0, sizeof ms_config);
    ms_config.jwt_algorithm = "HS256";
    ms_config.jwt_secret = ACCESS_SECRET;
    ms_config.jwt_refresh_secret = REFRESH_SECRET;
    ms_config.jwt_issuer = "user-service";
    ms_config.jwt_access_ttl_s = 900;
    ms_config.jwt_refresh_ttl_s = 604800;
    arena = ms_arena_new(0);
    ck_assert_ptr_nonnull(arena);
    ms_http_req_init(&req, arena, NULL);
    memset(&t, 0, sizeof t);
    json = NULL;
}

static void teardown(void)
{
    cJSON_Delete(json);
    json = NULL;
    ms_arena_free(arena);
    arena = NULL;
    memset(&ms_config, 0, sizeof ms_config);
}

/* A canonical lower-case version-4 UUID. */
static int is_uuid4(const char *s)
{
    static const char shape[] = "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx";

    if (strlen(s) != sizeof shape - 1)
        return 0;
    for (size_t i = 0; shape[i]; i++) {
        int hex = (s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f');

        if ((shape[i] == 'x' && !hex) || (shape[i] == 'y' && !strchr("89ab", s[i])) ||
            (shape[i] != 'x' && shape[i] != 'y' && s[i] != shape[i]))
            return 0;
    }
    return 1;
}

/* The decoded payload of token (arena-owned cJSON). */
static const cJSON *payload_of(const char *token)
{
    const char *start = strchr(token, '.'), *dot;
    size_t n, padded;
    char *in;
    unsigned char *out;
    int len;
    cJSON *p;

    ck_assert_ptr_nonnull(start);
    start++;
    dot = strchr(start, '.');
    ck_assert_ptr_nonnull(dot);
    n = (size_t)(dot - start);
    padded = (n + 3) / 4 * 4;
    in = ms_arena_alloc(arena, padded + 1);
    out = ms_arena_alloc(arena, padded / 4 * 3 + 1);
    for (size_t i = 0; i < padded; i++)
        in[i] = (char)(i >= n ? '=' : start[i] == '-' ? '+' : start[i] == '_' ? '/' : start[i]);
    in[padded] = '\0';
    len = EVP_DecodeBlock(out, (const unsigned char *)in, (int)padded);
    ck_assert_int_ge(len, 0);
    out[len - (int)(padded - n)] = '\0';
    p = cJSON_Parse((const char *)out);
    ck_assert_msg(p != NULL, "payload is not JSON: %s", out);
    ms_arena_defer(arena, json_delete, p);
    return p;
}

/* Prepare a pair in FAMILY and sign it for USER_ID (alice, admin, tv 7). */
static void sign_pair(void)
{
    ck_assert_int_eq(user_tokens_prepare(&t, FAMILY), MS_OK);
    ck_assert_int_eq(user_tokens_sign(&req, &t, USER_ID, "alice@example.com", "admin", 7), MS_OK);
    ck_assert_ptr_nonnull(t.access);
    ck_assert_ptr_nonnull(t.refresh);
}

static void verify_ok(const char *token, enum ms_jwt_kind kind, struct ms_jwt_claims *c)
{
    const char *why = NULL;
    int rc = ms_jwt_verify(token, kind, ms_clock_now_ms() / 1000, c, &why);

    ck_assert_msg(rc == MS_OK, "verify failed: %s", why ? why : "?");
}

/* ---- user_tokens_prepare ---- */

START_TEST(prepare_draws_two_different_uuid_v4_token_ids)
{
    ck_assert_int_eq(user_tokens_prepare(&t, NULL), MS_OK);
    ck_assert_msg(is_uuid4(t.access_jti), "access jti %s", t.access_jti);
    ck_assert_msg(is_uuid4(t.refresh_jti), "refresh jti %s", t.refresh_jti);
    ck_assert_str_ne(t.access_jti, t.refresh_jti);
}
END_TEST

START_TEST(prepare_draws_new_ids_on_every_call)
{
    struct user_tokens first;

    ck_assert_int_eq(user_tokens_prepare(&first, NULL), MS_OK);
    ck_assert_int_eq(user_tokens_prepare(&t, NULL), MS_OK);
    ck_assert_str_ne(first.access_jti, t.access_jti);
    ck_assert_str_ne(first.refresh_jti, t.refresh_jti);
    ck_assert_str_ne(first.family, t.family);
}
END_TEST

START_TEST(prepare_keeps_the_given_family)
{
    ck_assert_int_eq(user_tokens_prepare(&t, FAMILY), MS_OK);
    ck_assert_str_eq(t.family, FAMILY);
    ck_assert(is_uuid4(t.access_jti));
    ck_assert(is_uuid4(t.refresh_jti));
}
END_TEST

START_TEST(prepare_draws_a_new_family_when_given_null)
{
    ck_assert_int_eq(user_tokens_prepare(&t, NULL), MS_OK);
    ck_assert_msg(is_uuid4(t.family), "family %s", t.family);
    ck_assert_str_ne(t.family, t.access_jti);
    ck_assert_str_ne(t.family, t.refresh_jti);
}
END_TEST

START_TEST(prepare_draws_a_new_family_when_given_an_empty_string)
{
    ck_assert_int_eq(user_tokens_prepare(&t, ""), MS_OK);
    ck_assert_msg(is_uuid4(t.family), "family \"%s\"", t.family);
}
END_TEST

START_TEST(prepare_forgets_the_tokens_of_a_previous_pair)
{
    sign_pair();
    ck_assert_int_eq(user_tokens_prepare(&t, FAMILY), MS_OK);
    ck_assert_ptr_null(t.access);
    ck_assert_ptr_null(t.refresh);
}
END_TEST

/* ---- user_tokens_sign ---- */

START_TEST(sign_issues_an_access_token_with_every_claim)
{
    struct ms_jwt_claims c;

    sign_pair();
    verify_ok(t.access, MS_JWT_ACCESS, &c);
    ck_assert_int_eq(c.kind, MS_JWT_ACCESS);
    ck_assert_str_eq(c.sub, USER_ID);
    ck_assert_str_eq(c.email, "alice@example.com");
    ck_assert_str_eq(c.role, "admin");
    ck_assert_str_eq(c.jti, t.access_jti);
    ck_assert_str_eq(c.fam, FAMILY);
    ck_assert_int_eq(c.tv, 7);
    ck_assert_str_eq(c.iss, "user-service");
}
END_TEST

START_TEST(sign_writes_the_node_claims_id_and_type_into_the_access_token)
{
    const cJSON *p;

    sign_pair();
    p = payload_of(t.access);
    ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(p, "id")->valuestring, USER_ID);
    ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(p, "sub")->valuestring, USER_ID);
    ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(p, "type")->valuestring, "access");
}
END_TEST

START_TEST(sign_sets_access_exp_to_iat_plus_the_access_ttl)
{
    struct ms_jwt_claims c;
    int64_t before = ms_clock_now_ms() / 1000, after;

    sign_pair();
    after = ms_clock_now_ms() / 1000;
    verify_ok(t.access, MS_JWT_ACCESS, &c);
    ck_assert_int_ge(c.iat, before);
    ck_assert_int_le(c.iat, after);
    ck_assert_int_eq(c.exp, c.iat + 900);
}
END_TEST

START_TEST(sign_follows_the_configured_access_ttl)
{
    struct ms_jwt_claims c;

    ms_config.jwt_access_ttl_s = 3600;
    sign_pair();
    verify_ok(t.access, MS_JWT_ACCESS, &c);
    ck_assert_int_eq(c.exp, c.iat + 3600);
}
END_TEST

START_TEST(sign_issues_a_refresh_token_of_the_same_login_with_its_own_jti)
{
    struct ms_jwt_claims c;

    sign_pair();
    verify_ok(t.refresh, MS_JWT_REFRESH, &c);
    ck_assert_int_eq(c.kind, MS_JWT_REFRESH);
    ck_assert_str_eq(c.sub, USER_ID);
    ck_assert_str_eq(c.jti, t.refresh_jti);
    ck_assert_str_ne(c.jti, t.access_jti);
    ck_assert_str_eq(c.fam, FAMILY);
    ck_assert_int_eq(c.tv, 7);
    ck_assert_str_eq(c.iss, "user-service");
}
END_TEST

START_TEST(sign_leaves_email_and_role_out_of_the_refresh_token)
{
    const cJSON *p;
    struct ms_jwt_claims c;

    sign_pair();
    verify_ok(t.refresh, MS_JWT_REFRESH, &c);
    ck_assert_str_eq(c.email, "");
    ck_assert_str_eq(c.role, "");
    p = payload_of(t.refresh);
    ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(p, "email"));
    ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(p, "role"));
    ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(p, "type")->valuestring, "refresh");
}
END_TEST

START_TEST(sign_sets_refresh_exp_to_iat_plus_the_refresh_ttl)
{
    struct ms_jwt_claims a, r;

    sign_pair();
    verify_ok(t.access, MS_JWT_ACCESS, &a);
    verify_ok(t.refresh, MS_JWT_REFRESH, &r);
    ck_assert_int_eq(r.iat, a.iat);
    ck_assert_int_eq(r.exp, r.iat + 604800);
}
END_TEST

START_TEST(sign_signs_the_refresh_token_with_the_refresh_secret)
{
    struct ms_jwt_claims c;
    const char *why = NULL;

    sign_pair();
    ms_config.jwt_secret = OTHER_SECRET; /* the access secret plays no part */
    verify_ok(t.refresh, MS_JWT_REFRESH, &c);
    ms_config.jwt_refresh_secret = OTHER_SECRET;
    ck_assert_int_eq(ms_jwt_verify(t.refresh, MS_JWT_REFRESH, ms_clock_now_ms() / 1000, &c, &why),
                     MS_EAUTH);
}
END_TEST

START_TEST(sign_makes_tokens_that_are_not_accepted_as_each_other)
{
    struct ms_jwt_claims c;
    const char *why = NULL;

    sign_pair();
    ck_assert_int_eq(ms_jwt_verify(t.refresh, MS_JWT_ACCESS, ms_clock_now_ms() / 1000, &c, &why),
                     MS_EAUTH);
    ck_assert_int_eq(ms_jwt_verify(t.access, MS_JWT_REFRESH, ms_clock_now_ms() / 1000, &c, &why),
                     MS_EAUTH);
}
END_TEST

START_TEST(sign_fails_with_einternal_when_the_access_key_is_missing)
{
    ms_config.jwt_algorithm = "RS256"; /* and no private key */
    ck_assert_int_eq(user_tokens_prepare(&t, NULL), MS_OK);
    ck_assert_int_eq(user_tokens_sign(&req, &t, USER_ID, "alice@example.com", "user", 0),
                     MS_EINTERNAL);
    ck_assert_ptr_null(t.access);
}
END_TEST

START_TEST(sign_fails_with_einternal_when_the_refresh_secret_is_missing)
{
    ms_config.jwt_refresh_secret = "";
    ck_assert_int_eq(user_tokens_prepare(&t, NULL), MS_OK);
    ck_assert_int_eq(user_tokens_sign(&req, &t, USER_ID, "alice@example.com", "user", 0),
                     MS_EINTERNAL);
    ck_assert_ptr_null(t.refresh);
}
END_TEST

/* ---- user_tokens_json ---- */

START_TEST(json_has_exactly_the_four_spec_keys_in_order)
{
    static const char *const keys[] = { "accessToken", "refreshToken", "tokenType", "expiresIn" };
    const cJSON *item;
    int i = 0;

    sign_pair();
    json = user_tokens_json(&t);
    ck_assert_ptr_nonnull(json);
    ck_assert(cJSON_IsObject(json));
    cJSON_ArrayForEach(item, json)
    {
        ck_assert_int_lt(i, 4);
        ck_assert_str_eq(item->string, keys[i]);
        i++;
    }
    ck_assert_int_eq(i, 4);
}
END_TEST

START_TEST(json_carries_both_tokens_and_the_bearer_type)
{
    sign_pair();
    json = user_tokens_json(&t);
    ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(json, "accessToken")->valuestring, t.access);
    ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(json, "refreshToken")->valuestring,
                     t.refresh);
    ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(json, "tokenType")->valuestring, "Bearer");
}
END_TEST

START_TEST(json_expires_in_is_the_access_ttl_in_seconds)
{
    const cJSON *e;
    char *text;

    sign_pair();
    json = user_tokens_json(&t);
    e = cJSON_GetObjectItemCaseSensitive(json, "expiresIn");
    ck_assert(cJSON_IsNumber(e));
    ck_assert_double_eq(e->valuedouble, 900);
    text = cJSON_PrintUnformatted(json);
    ck_assert_ptr_nonnull(strstr(text, ",\"expiresIn\":900}"));
    cJSON_free(text);
}
END_TEST

START_TEST(json_expires_in_follows_the_configured_access_ttl)
{
    ms_config.jwt_access_ttl_s = 3600;
    sign_pair();
    json = user_tokens_json(&t);
    ck_assert_double_eq(cJSON_GetObjectItemCaseSensitive(json, "expiresIn")->valuedouble, 3600);
}
END_TEST

Suite *user_tokens_suite(void);

Suite *user_tokens_suite(void)
{
    Suite *s = suite_create("user_tokens");
    TCase *prepare = tcase_create("prepare");
    TCase *sign = tcase_create("sign");
    TCase *tojson = tcase_create("json");

    tcase_add_checked_fixture(prepare, setup, teardown);
    tcase_add_test(prepare, prepare_draws_two_different_uuid_v4_token_ids);
    tcase_add_test(prepare, prepare_draws_new_ids_on_every_call);
    tcase_add_test(prepare, prepare_keeps_the_given_family);
    tcase_add_test(prepare, prepare_draws_a_new_family_when_given_null);
    tcase_add_test(prepare, prepare_draws_a_new_family_when_given_an_empty_string);
    tcase_add_test(prepare, prepare_forgets_the_tokens_of_a_previous_pair);
    suite_add_tcase(s, prepare);

    tcase_add_checked_fixture(sign, setup, teardown);
    tcase_add_test(sign, sign_issues_an_access_token_with_every_claim);
    tcase_add_test(sign, sign_writes_the_node_claims_id_and_type_into_the_access_token);
    tcase_add_test(sign, sign_sets_access_exp_to_iat_plus_the_access_ttl);
    tcase_add_test(sign, sign_follows_the_configured_access_ttl);
    tcase_add_test(sign, sign_issues_a_refresh_token_of_the_same_login_with_its_own_jti);
    tcase_add_test(sign, sign_leaves_email_and_role_out_of_the_refresh_token);
    tcase_add_test(sign, sign_sets_refresh_exp_to_iat_plus_the_refresh_ttl);
    tcase_add_test(sign, sign_signs_the_refresh_token_with_the_refresh_secret);
    tcase_add_test(sign, sign_makes_tokens_that_are_not_accepted_as_each_other);
    tcase_add_test(sign, sign_fails_with_einternal_when_the_access_key_is_missing);
    tcase_add_test(sign, sign_fails_with_einternal_when_the_refresh_secret_is_missing);
    suite_add_tcase(s, sign);

    tcase_add_checked_fixture(tojson, setup, teardown);
    tcase_add_test(tojson, json_has_exactly_the_four_spec_keys_in_order);
    tcase_add_test(tojson, json_carries_both_tokens_and_the_bearer_type);
    tcase_add_test(tojson, json_expires_in_is_the_access_ttl_in_seconds);
    tcase_add_test(tojson, json_expires_in_follows_the_configured_access_ttl);
    suite_add_tcase(s, tojson);
    return s;
}

MS_SUITE(user_tokens_suite)
