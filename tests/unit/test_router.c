/* Unit tests of lib/router.c: pattern matching with parameters, 404 vs 405,
 * HEAD served by GET routes, and dispatch with a fake authentication hook that
 * sets req->caller.role the way lib/auth would. */
#include "lib/router.h"

#include <string.h>

#include <cjson/cJSON.h>

#include "lib/arena.h"
#include "lib/err.h"
#include "lib/http.h"
#include "tests/unit/suites.h"
#include "lib/banned.h"

static struct ms_arena *arena;
static struct ms_req req;
static cJSON *parsed;

/* What the fakes saw and do. */
static int handler_calls, auth_calls;
static unsigned fake_role;
static int fake_auth_rc;
static const char *last_handler;

static int h_ok(struct ms_req *r)
{
    handler_calls++;
    last_handler = "ok";
    ms_http_ok(r, 200,
               cJSON_CreateString(ms_http_param(r, "id") ? ms_http_param(r, "id") : "none"));
    return MS_OK;
}

static int h_other(struct ms_req *r)
{
    handler_calls++;
    last_handler = "other";
    ms_http_ok(r, 201, NULL);
    return MS_OK;
}

static int h_silent(struct ms_req *r)
{
    (void)r;
    handler_calls++;
    last_handler = "silent";
    return MS_OK;
}

static int h_conflict(struct ms_req *r)
{
    handler_calls++;
    return ms_http_fail(r, MS_ECONFLICT, "Email already registered");
}

static int h_invalid(struct ms_req *r)
{
    handler_calls++;
    ms_http_verr(r, "email", "Must be a valid email", NULL);
    return MS_EINVALID;
}

static int h_positive(struct ms_req *r)
{
    (void)r;
    handler_calls++;
    return 3; /* a row count: success */
}

static int fake_auth(struct ms_req *r)
{
    auth_calls++;
    if (fake_auth_rc == MS_EAUTH)
        return ms_http_fail(r, MS_EAUTH, "No token provided");
    if (fake_auth_rc < 0)
        return fake_auth_rc;
    r->caller.is_authenticated = 1;
    r->caller.role = fake_role;
    return MS_OK;
}

static const struct ms_route routes[] = {
    { "GET", "/", MS_PUBLIC, h_other },
    { "GET", "/api/users", MS_ROLE_ADMIN, h_ok },
    { "GET", "/api/users/profile", MS_AUTH, h_ok },
    { "GET", "/api/users/:id", MS_AUTH, h_ok },
    { "DELETE", "/api/users/:id", MS_ROLE_ADMIN, h_other },
    { "POST", "/api/auth/register", MS_PUBLIC, h_other },
    { "GET", "/api/orders/:id/items/:item", MS_PUBLIC, h_ok },
    { "GET", "/api/staff", MS_STAFF, h_ok },
    { "GET", "/silent", MS_PUBLIC, h_silent },
    { "POST", "/conflict", MS_PUBLIC, h_conflict },
    { "POST", "/invalid", MS_PUBLIC, h_invalid },
    { "GET", "/positive", MS_PUBLIC, h_positive },
};
#define NROUTES (sizeof routes / sizeof routes[0])

static void setup(void)
{
    arena = ms_arena_new(0);
    ck_assert_ptr_nonnull(arena);
    ms_http_req_init(&req, arena, NULL);
    parsed = NULL;
    handler_calls = auth_calls = 0;
    fake_role = MS_ROLE_USER;
    fake_auth_rc = MS_OK;
    last_handler = NULL;
}

static void teardown(void)
{
    cJSON_Delete(parsed);
    parsed = NULL;
    ms_arena_free(arena);
    arena = NULL;
}

static int match(const char *method, const char *path)
{
    ms_http_req_init(&req, arena, NULL);
    req.method = method;
    req.path = path;
    return ms_router_match(routes, NROUTES, &req);
}

static int dispatch(const char *method, const char *path)
{
    ms_http_req_init(&req, arena, NULL);
    req.method = method;
    req.path = path;
    return ms_router_dispatch(routes, NROUTES, &req, fake_auth);
}

static const cJSON *body_json(void)
{
    const char *end = strstr(req.out.buf, "\r\n\r\n");

    ck_assert_msg(end != NULL, "no response: %s", req.out.buf);
    cJSON_Delete(parsed);
    parsed = cJSON_Parse(end + 4);
    ck_assert_msg(parsed != NULL, "body is not JSON: %s", end + 4);
    return parsed;
}

static const cJSON *get(const cJSON *obj, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(obj, key);
}

/* Asserts an error response with status and message. */
static void assert_error(int status, const char *message)
{
    const cJSON *e = get(body_json(), "error");

    ck_assert_int_eq(req.status, status);
    ck_assert(cJSON_IsFalse(get(parsed, "success")));
    ck_assert_int_eq(get(e, "code")->valueint, status);
    ck_assert_str_eq(get(e, "message")->valuestring, message);
}

/* ---- ms_router_match ---- */

START_TEST(match_finds_a_static_route)
{
    ck_assert_int_eq(match("POST", "/api/auth/register"), 5);
    ck_assert_int_eq(req.nparams, 0);
}
END_TEST

START_TEST(match_finds_the_root)
{
    ck_assert_int_eq(match("GET", "/"), 0);
}
END_TEST

START_TEST(match_fills_a_path_parameter)
{
    ck_assert_int_eq(match("GET", "/api/users/3f1c"), 3);
    ck_assert_int_eq(req.nparams, 1);
    ck_assert_str_eq(ms_http_param(&req, "id"), "3f1c");
}
END_TEST

START_TEST(match_fills_two_path_parameters)
{
    ck_assert_int_eq(match("GET", "/api/orders/o-1/items/i-2"), 6);
    ck_assert_int_eq(req.nparams, 2);
    ck_assert_str_eq(ms_http_param(&req, "id"), "o-1");
    ck_assert_str_eq(ms_http_param(&req, "item"), "i-2");
}
END_TEST

START_TEST(match_prefers_the_earlier_static_route_over_a_parameter)
{
    ck_assert_int_eq(match("GET", "/api/users/profile"), 2);
    ck_assert_int_eq(req.nparams, 0);
}
END_TEST

START_TEST(match_tolerates_one_trailing_slash)
{
    ck_assert_int_eq(match("GET", "/api/users/"), 1);
    ck_assert_int_eq(match("GET", "/api/users/42/"), 3);
    ck_assert_str_eq(ms_http_param(&req, "id"), "42");
}
END_TEST

START_TEST(match_refuses_two_trailing_slashes)
{
    ck_assert_int_eq(match("GET", "/api/users//"), -1);
}
END_TEST

START_TEST(match_does_not_match_a_longer_or_shorter_segment)
{
    ck_assert_int_eq(match("GET", "/api/usersx"), -1);
    ck_assert_int_eq(match("GET", "/api/user"), -1);
    ck_assert_int_eq(match("GET", "/api"), -1);
}
END_TEST

START_TEST(match_does_not_match_extra_segments)
{
    ck_assert_int_eq(match("GET", "/api/users/1/extra"), -1);
    ck_assert_int_eq(match("GET", "/api/orders/1/items"), -1);
}
END_TEST

START_TEST(match_of_an_unknown_path_is_minus_one_with_no_params)
{
    ck_assert_int_eq(match("GET", "/api/nothing/here"), -1);
    ck_assert_int_eq(req.nparams, 0);
}
END_TEST

START_TEST(match_of_a_known_path_with_another_method_is_minus_two)
{
    ck_assert_int_eq(match("PUT", "/api/users/1"), -2);
    ck_assert_int_eq(req.nparams, 0);
    ck_assert_int_eq(match("GET", "/api/auth/register"), -2);
}
END_TEST

START_TEST(match_picks_the_route_of_the_method)
{
    ck_assert_int_eq(match("DELETE", "/api/users/9"), 4);
    ck_assert_str_eq(ms_http_param(&req, "id"), "9");
}
END_TEST

START_TEST(match_serves_head_with_the_get_route)
{
    ck_assert_int_eq(match("HEAD", "/api/users/7"), 3);
    ck_assert_str_eq(ms_http_param(&req, "id"), "7");
}
END_TEST

START_TEST(match_of_head_on_a_post_only_route_is_minus_two)
{
    ck_assert_int_eq(match("HEAD", "/api/auth/register"), -2);
}
END_TEST

START_TEST(match_methods_are_case_sensitive)
{
    ck_assert_int_eq(match("get", "/"), -2);
}
END_TEST

START_TEST(match_refuses_an_empty_parameter)
{
    ck_assert_int_eq(match("GET", "/api/orders//items/x"), -1);
}
END_TEST

/* ---- ms_router_role_bit ---- */

START_TEST(role_bit_of_each_role)
{
    ck_assert_uint_eq(ms_router_role_bit("user"), MS_ROLE_USER);
    ck_assert_uint_eq(ms_router_role_bit("moderator"), MS_ROLE_MODERATOR);
    ck_assert_uint_eq(ms_router_role_bit("admin"), MS_ROLE_ADMIN);
}
END_TEST

START_TEST(role_bit_of_an_unknown_or_null_role_is_zero)
{
    ck_assert_uint_eq(ms_router_role_bit("Admin"), 0);
    ck_assert_uint_eq(ms_router_role_bit("superuser"), 0);
    ck_assert_uint_eq(ms_router_role_bit(""), 0);
    ck_assert_uint_eq(ms_router_role_bit(NULL), 0);
}
END_TEST

/* ---- ms_router_dispatch ---- */

START_TEST(dispatch_route_miss_is_404_with_the_path)
{
    ck_assert_int_eq(dispatch("GET", "/api/missing"), -1);
    assert_error(404, "Route not found");
    ck_assert_str_eq(get(get(parsed, "error"), "path")->valuestring, "/api/missing");
    ck_assert_int_eq(handler_calls, 0);
    ck_assert_int_eq(auth_calls, 0);
}
END_TEST

START_TEST(dispatch_wrong_method_is_405)
{
    ck_assert_int_eq(dispatch("PATCH", "/api/users/1"), -1);
    assert_error(405, "Method not allowed");
    ck_assert_ptr_null(get(get(parsed, "error"), "path"));
    ck_assert_int_eq(handler_calls, 0);
}
END_TEST

START_TEST(dispatch_public_route_runs_the_handler_without_auth)
{
    ck_assert_int_eq(dispatch("POST", "/api/auth/register"), 5);
    ck_assert_int_eq(auth_calls, 0);
    ck_assert_int_eq(handler_calls, 1);
    ck_assert_int_eq(req.status, 201);
}
END_TEST

START_TEST(dispatch_passes_path_parameters_to_the_handler)
{
    ck_assert_int_eq(dispatch("GET", "/api/orders/o-9/items/x"), 6);
    ck_assert_str_eq(get(body_json(), "data")->valuestring, "o-9");
}
END_TEST

START_TEST(dispatch_auth_route_authenticates_then_runs_the_handler)
{
    ck_assert_int_eq(dispatch("GET", "/api/users/abc"), 3);
    ck_assert_int_eq(auth_calls, 1);
    ck_assert_int_eq(handler_calls, 1);
    ck_assert_int_eq(req.status, 200);
    ck_assert_str_eq(get(body_json(), "data")->valuestring, "abc");
}
END_TEST

START_TEST(dispatch_passes_the_auth_401_and_its_message_through)
{
    fake_auth_rc = MS_EAUTH;
    ck_assert_int_eq(dispatch("GET", "/api/users/abc"), 3);
    assert_error(401, "No token provided");
    ck_assert_int_eq(handler_calls, 0);
}
END_TEST

START_TEST(dispatch_passes_an_auth_503_through)
{
    fake_auth_rc = MS_EUNAVAIL;
    ck_assert_int_eq(dispatch("GET", "/api/users/abc"), 3);
    assert_error(503, "Service unavailable");
    ck_assert_int_eq(handler_calls, 0);
}
END_TEST

START_TEST(dispatch_user_on_an_admin_route_is_403)
{
    fake_role = MS_ROLE_USER;
    ck_assert_int_eq(dispatch("GET", "/api/users"), 1);
    assert_error(403, "Insufficient permissions");
    ck_assert_int_eq(handler_calls, 0);
}
END_TEST

START_TEST(dispatch_moderator_on_an_admin_route_is_403)
{
    fake_role = MS_ROLE_MODERATOR;
    ck_assert_int_eq(dispatch("DELETE", "/api/users/1"), 4);
    assert_error(403, "Insufficient permissions");
}
END_TEST

START_TEST(dispatch_admin_on_an_admin_route_runs_the_handler)
{
    fake_role = MS_ROLE_ADMIN;
    ck_assert_int_eq(dispatch("GET", "/api/users"), 1);
    ck_assert_int_eq(handler_calls, 1);
    ck_assert_int_eq(req.status, 200);
}
END_TEST

START_TEST(dispatch_staff_route_admits_moderators_and_admins_only)
{
    fake_role = MS_ROLE_MODERATOR;
    dispatch("GET", "/api/staff");
    ck_assert_int_eq(req.status, 200);
    fake_role = MS_ROLE_ADMIN;
    dispatch("GET", "/api/staff");
    ck_assert_int_eq(req.status, 200);
    fake_role = MS_ROLE_USER;
    dispatch("GET", "/api/staff");
    assert_error(403, "Insufficient permissions");
    ck_assert_int_eq(handler_calls, 2);
}
END_TEST

START_TEST(dispatch_caller_without_a_known_role_is_403_on_an_auth_route)
{
    fake_role = 0;
    ck_assert_int_eq(dispatch("GET", "/api/users/profile"), 2);
    assert_error(403, "Insufficient permissions");
}
END_TEST

START_TEST(dispatch_without_an_auth_hook_is_401_on_a_protected_route)
{
    ms_http_req_init(&req, arena, NULL);
    req.method = "GET";
    req.path = "/api/users/profile";
    ck_assert_int_eq(ms_router_dispatch(routes, NROUTES, &req, NULL), 2);
    assert_error(401, "Authentication required");
    ck_assert_int_eq(handler_calls, 0);
}
END_TEST

START_TEST(dispatch_renders_the_handler_error_with_its_message)
{
    ck_assert_int_eq(dispatch("POST", "/conflict"), 9);
    assert_error(409, "Email already registered");
}
END_TEST

START_TEST(dispatch_renders_validation_errors_of_the_handler)
{
    const cJSON *errs;

    ck_assert_int_eq(dispatch("POST", "/invalid"), 10);
    assert_error(422, "Validation failed");
    errs = get(get(parsed, "error"), "errors");
    ck_assert_int_eq(cJSON_GetArraySize(errs), 1);
    ck_assert_str_eq(get(cJSON_GetArrayItem(errs, 0), "field")->valuestring, "email");
}
END_TEST

START_TEST(dispatch_handler_that_forgets_to_respond_gets_200_null)
{
    ck_assert_int_eq(dispatch("GET", "/silent"), 8);
    ck_assert_int_eq(req.status, 200);
    ck_assert_str_eq(strstr(req.out.buf, "\r\n\r\n") + 4, "{\"success\":true,\"data\":null}");
}
END_TEST

START_TEST(dispatch_handler_returning_a_positive_count_is_a_success)
{
    ck_assert_int_eq(dispatch("GET", "/positive"), 11);
    ck_assert_int_eq(req.status, 200);
    ck_assert(cJSON_IsTrue(get(body_json(), "success")));
}
END_TEST

START_TEST(dispatch_head_runs_the_get_handler)
{
    ck_assert_int_eq(dispatch("HEAD", "/"), 0);
    ck_assert_int_eq(handler_calls, 1);
    ck_assert_str_eq(last_handler, "other");
}
END_TEST

Suite *router_suite(void);

Suite *router_suite(void)
{
    Suite *s = suite_create("router");
    TCase *m = tcase_create("match");
    TCase *role = tcase_create("role_bit");
    TCase *d = tcase_create("dispatch");

    tcase_add_checked_fixture(m, setup, teardown);
    tcase_add_test(m, match_finds_a_static_route);
    tcase_add_test(m, match_finds_the_root);
    tcase_add_test(m, match_fills_a_path_parameter);
    tcase_add_test(m, match_fills_two_path_parameters);
    tcase_add_test(m, match_prefers_the_earlier_static_route_over_a_parameter);
    tcase_add_test(m, match_tolerates_one_trailing_slash);
    tcase_add_test(m, match_refuses_two_trailing_slashes);
    tcase_add_test(m, match_does_not_match_a_longer_or_shorter_segment);
    tcase_add_test(m, match_does_not_match_extra_segments);
    tcase_add_test(m, match_of_an_unknown_path_is_minus_one_with_no_params);
    tcase_add_test(m, match_of_a_known_path_with_another_method_is_minus_two);
    tcase_add_test(m, match_picks_the_route_of_the_method);
    tcase_add_test(m, match_serves_head_with_the_get_route);
    tcase_add_test(m, match_of_head_on_a_post_only_route_is_minus_two);
    tcase_add_test(m, match_methods_are_case_sensitive);
    tcase_add_test(m, match_refuses_an_empty_parameter);
    suite_add_tcase(s, m);

    tcase_add_test(role, role_bit_of_each_role);
    tcase_add_test(role, role_bit_of_an_unknown_or_null_role_is_zero);
    suite_add_tcase(s, role);

    tcase_add_checked_fixture(d, setup, teardown);
    tcase_add_test(d, dispatch_route_miss_is_404_with_the_path);
    tcase_add_test(d, dispatch_wrong_method_is_405);
    tcase_add_test(d, dispatch_public_route_runs_the_handler_without_auth);
    tcase_add_test(d, dispatch_passes_path_parameters_to_the_handler);
    tcase_add_test(d, dispatch_auth_route_authenticates_then_runs_the_handler);
    tcase_add_test(d, dispatch_passes_the_auth_401_and_its_message_through);
    tcase_add_test(d, dispatch_passes_an_auth_503_through);
    tcase_add_test(d, dispatch_user_on_an_admin_route_is_403);
    tcase_add_test(d, dispatch_moderator_on_an_admin_route_is_403);
    tcase_add_test(d, dispatch_admin_on_an_admin_route_runs_the_handler);
    tcase_add_test(d, dispatch_staff_route_admits_moderators_and_admins_only);
    tcase_add_test(d, dispatch_caller_without_a_known_role_is_403_on_an_auth_route);
    tcase_add_test(d, dispatch_without_an_auth_hook_is_401_on_a_protected_route);
    tcase_add_test(d, dispatch_renders_the_handler_error_with_its_message);
    tcase_add_test(d, dispatch_renders_validation_errors_of_the_handler);
    tcase_add_test(d, dispatch_handler_that_forgets_to_respond_gets_200_null);
    tcase_add_test(d, dispatch_handler_returning_a_positive_count_is_a_success);
    tcase_add_test(d, dispatch_head_runs_the_get_handler);
    suite_add_tcase(s, d);
    return s;
}

MS_SUITE(router_suite)
