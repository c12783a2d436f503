/* Unit tests of lib/http.c: query and url decoding, the JSON body (media type,
 * malformed JSON, NUL characters, nesting), validation errors, and the SPEC §2
 * envelopes with their CGI header block. Requests are built by hand after
 * ms_http_req_init(), as the pool would fill them. */
#include "lib/http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "lib/arena.h"
#include "lib/err.h"
#include "tests/unit/suites.h"
#include "lib/banned.h"

#define JSON_CT "application/json; charset=utf-8"

static struct ms_arena *arena;
static struct ms_req req;
static cJSON *parsed; /* body of the last response, freed in teardown */

static void setup(void)
{
    arena = ms_arena_new(0);
    ck_assert_ptr_nonnull(arena);
    ms_http_req_init(&req, arena, NULL);
    parsed = NULL;
}

static void teardown(void)
{
    cJSON_Delete(parsed);
    parsed = NULL;
    ms_arena_free(arena);
    arena = NULL;
}

static void set_body(const char *content_type, const char *body)
{
    req.content_type = content_type;
    req.body = body;
    req.body_len = strlen(body);
}

/* The header block of the response (up to and including the blank line),
 * copied into the arena. */
static const char *headers(void)
{
    const char *end = strstr(req.out.buf, "\r\n\r\n");

    ck_assert_msg(end != NULL, "no blank line after the headers: %s", req.out.buf);
    return ms_arena_strndup(arena, req.out.buf, (size_t)(end + 4 - req.out.buf));
}

/* The response body parsed as JSON (kept in parsed). */
static const cJSON *body_json(void)
{
    const char *end = strstr(req.out.buf, "\r\n\r\n");

    ck_assert_ptr_nonnull(end);
    cJSON_Delete(parsed);
    parsed = cJSON_Parse(end + 4);
    ck_assert_msg(parsed != NULL, "body is not JSON: %s", end + 4);
    return parsed;
}

static const char *body_text(void)
{
    const char *end = strstr(req.out.buf, "\r\n\r\n");

    ck_assert_ptr_nonnull(end);
    return end + 4;
}

static const cJSON *get(const cJSON *obj, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(obj, key);
}

static const cJSON *error_of(const cJSON *body)
{
    const cJSON *e = get(body, "error");

    ck_assert(cJSON_IsFalse(get(body, "success")));
    ck_assert(cJSON_IsObject(e));
    return e;
}

/* Number of members of obj. */
static int nkeys(const cJSON *obj)
{
    return cJSON_GetArraySize(obj);
}

/* ---- ms_http_req_init ---- */

START_TEST(req_init_empties_everything_and_defaults_to_get_slash)
{
    memset(&req, 0x5A, sizeof req);
    ms_http_req_init(&req, arena, NULL);
    ck_assert_ptr_eq(req.arena, arena);
    ck_assert_ptr_null(req.ctx);
    ck_assert_str_eq(req.method, "GET");
    ck_assert_str_eq(req.path, "/");
    ck_assert_ptr_null(req.query);
    ck_assert_ptr_null(req.body);
    ck_assert_uint_eq(req.body_len, 0);
    ck_assert_ptr_null(req.json);
    ck_assert_int_eq(req.nparams, 0);
    ck_assert_int_eq(req.nquery, -1);
    ck_assert_ptr_null(req.verrs);
    ck_assert_ptr_null(req.err_msg);
    ck_assert_int_eq(req.caller.is_authenticated, 0);
    ck_assert_int_eq(req.status, 0);
    ck_assert_int_eq(req.responded, 0);
    ck_assert_str_eq(req.out.buf, "");
    ck_assert_uint_eq(req.out.len, 0);
}
END_TEST

/* ---- ms_http_param ---- */

START_TEST(param_finds_a_router_filled_parameter_by_name)
{
    req.params[0] = (struct ms_kv){ "id", "42" };
    req.params[1] = (struct ms_kv){ "item", "7" };
    req.nparams = 2;
    ck_assert_str_eq(ms_http_param(&req, "id"), "42");
    ck_assert_str_eq(ms_http_param(&req, "item"), "7");
    ck_assert_ptr_null(ms_http_param(&req, "other"));
}
END_TEST

START_TEST(param_is_null_when_there_are_none)
{
    ck_assert_ptr_null(ms_http_param(&req, "id"));
}
END_TEST

/* ---- ms_http_query ---- */

START_TEST(query_finds_plain_pairs)
{
    req.query = "page=2&limit=10";
    ck_assert_str_eq(ms_http_query(&req, "page"), "2");
    ck_assert_str_eq(ms_http_query(&req, "limit"), "10");
    ck_assert_ptr_null(ms_http_query(&req, "status"));
}
END_TEST

START_TEST(query_url_decodes_keys_and_values)
{
    req.query = "q=hello+world%21&na%6De=caf%C3%A9&slash=a%2Fb";
    ck_assert_str_eq(ms_http_query(&req, "q"), "hello world!");
    ck_assert_str_eq(ms_http_query(&req, "name"), "caf\xc3\xa9");
    ck_assert_str_eq(ms_http_query(&req, "slash"), "a/b");
}
END_TEST

START_TEST(query_gives_an_empty_value_for_a_key_without_one)
{
    req.query = "flag&empty=&x=1";
    ck_assert_str_eq(ms_http_query(&req, "flag"), "");
    ck_assert_str_eq(ms_http_query(&req, "empty"), "");
    ck_assert_str_eq(ms_http_query(&req, "x"), "1");
}
END_TEST

START_TEST(query_gives_the_first_value_of_a_repeated_key)
{
    req.query = "role=admin&role=user";
    ck_assert_str_eq(ms_http_query(&req, "role"), "admin");
}
END_TEST

START_TEST(query_ignores_a_pair_with_a_bad_escape)
{
    req.query = "bad=%zz&cut=%4&ok=1&nul=a%00b";
    ck_assert_ptr_null(ms_http_query(&req, "bad"));
    ck_assert_ptr_null(ms_http_query(&req, "cut"));
    ck_assert_ptr_null(ms_http_query(&req, "nul"));
    ck_assert_str_eq(ms_http_query(&req, "ok"), "1");
}
END_TEST

START_TEST(query_ignores_empty_keys_and_empty_pairs)
{
    req.query = "=v&&a=1&";
    ck_assert_ptr_null(ms_http_query(&req, ""));
    ck_assert_str_eq(ms_http_query(&req, "a"), "1");
    ck_assert_int_eq(req.nquery, 1);
}
END_TEST

START_TEST(query_keeps_an_equals_sign_inside_the_value)
{
    req.query = "token=a=b";
    ck_assert_str_eq(ms_http_query(&req, "token"), "a=b");
}
END_TEST

START_TEST(query_without_a_query_string_finds_nothing)
{
    ck_assert_ptr_null(ms_http_query(&req, "page"));
    ck_assert_int_eq(req.nquery, 0);
}
END_TEST

START_TEST(query_keeps_the_first_32_pairs)
{
    struct ms_buf q;

    ms_buf_init(&q, arena);
    for (int i = 0; i < 40; i++)
        ms_buf_addf(&q, "%sk%d=%d", i ? "&" : "", i, i);
    req.query = q.buf;
    ck_assert_ptr_nonnull(ms_http_query(&req, "k0"));
    ck_assert(strcmp(ms_http_query(&req, "k31"), "31") == 0);
    ck_assert_ptr_null(ms_http_query(&req, "k32"));
    ck_assert_int_eq(req.nquery, MS_MAX_QUERY);
}
END_TEST

/* ---- ms_http_urldecode ---- */

START_TEST(urldecode_turns_plus_into_space_and_decodes_hex_of_either_case)
{
    ck_assert_str_eq(ms_http_urldecode(arena, "a+b%2fc%2Fd", 11), "a b/c/d");
}
END_TEST

START_TEST(urldecode_reads_only_n_bytes)
{
    ck_assert_str_eq(ms_http_urldecode(arena, "abc%41", 3), "abc");
}
END_TEST

START_TEST(urldecode_refuses_a_percent_without_two_hex_digits)
{
    ck_assert_ptr_null(ms_http_urldecode(arena, "%", 1));
    ck_assert_ptr_null(ms_http_urldecode(arena, "a%4", 3));
    ck_assert_ptr_null(ms_http_urldecode(arena, "%G1", 3));
    ck_assert_ptr_null(ms_http_urldecode(arena, "%1-", 3));
    /* the escape would need a byte beyond n */
    ck_assert_ptr_null(ms_http_urldecode(arena, "%41", 2));
}
END_TEST

START_TEST(urldecode_refuses_a_decoded_nul)
{
    ck_assert_ptr_null(ms_http_urldecode(arena, "a%00", 4));
}
END_TEST

START_TEST(urldecode_of_nothing_is_the_empty_string)
{
    ck_assert_str_eq(ms_http_urldecode(arena, "", 0), "");
}
END_TEST

/* ---- ms_http_json ---- */

START_TEST(json_of_an_empty_body_is_an_empty_object)
{
    const cJSON *out = NULL;

    ck_assert_int_eq(ms_http_json(&req, &out), MS_OK);
    ck_assert(cJSON_IsObject(out));
    ck_assert_int_eq(nkeys(out), 0);
}
END_TEST

START_TEST(json_of_an_empty_body_needs_no_content_type)
{
    const cJSON *out = NULL;

    req.content_type = "text/plain";
    ck_assert_int_eq(ms_http_json(&req, &out), MS_OK);
    ck_assert(cJSON_IsObject(out));
}
END_TEST

START_TEST(json_parses_an_object_body)
{
    const cJSON *out = NULL;

    set_body("application/json", "{\"email\":\"a@b.co\",\"n\":3}");
    ck_assert_int_eq(ms_http_json(&req, &out), MS_OK);
    ck_assert_str_eq(get(out, "email")->valuestring, "a@b.co");
    ck_assert_int_eq(get(out, "n")->valueint, 3);
}
END_TEST

START_TEST(json_parses_the_body_once)
{
    const cJSON *a = NULL, *b = NULL;

    set_body("application/json", "{}");
    ck_assert_int_eq(ms_http_json(&req, &a), MS_OK);
    ck_assert_int_eq(ms_http_json(&req, &b), MS_OK);
    ck_assert_ptr_eq(a, b);
}
END_TEST

START_TEST(json_accepts_content_type_parameters_and_any_case)
{
    static const char *const types[] = { "application/json; charset=utf-8", "Application/JSON",
                                         " application/json", "application/json;charset=UTF-8" };

    for (int i = 0; i < 4; i++) {
        const cJSON *out = NULL;

        ms_http_req_init(&req, arena, NULL);
        set_body(types[i], "{}");
        ck_assert_msg(ms_http_json(&req, &out) == MS_OK, "refused %s", types[i]);
    }
}
END_TEST

START_TEST(json_with_a_wrong_content_type_is_emedia)
{
    static const char *const types[] = { "text/plain", "application/jsonp",
                                         "application/x-www-form-urlencoded",
                                         "multipart/form-data; boundary=x" };

    for (int i = 0; i < 4; i++) {
        const cJSON *out = NULL;

        ms_http_req_init(&req, arena, NULL);
        set_body(types[i], "{}");
        ck_assert_msg(ms_http_json(&req, &out) == MS_EMEDIA, "accepted %s", types[i]);
        ck_assert_str_eq(req.err_msg, "Content-Type must be application/json");
    }
}
END_TEST

START_TEST(json_without_a_content_type_is_emedia)
{
    const cJSON *out = NULL;

    set_body(NULL, "{}");
    ck_assert_int_eq(ms_http_json(&req, &out), MS_EMEDIA);
}
END_TEST

START_TEST(json_that_is_malformed_is_ebadreq)
{
    static const char *const bodies[] = { "{", "{\"a\":}", "{'a':1}", "not json", "{\"a\":1,}" };

    for (int i = 0; i < 5; i++) {
        const cJSON *out = NULL;

        ms_http_req_init(&req, arena, NULL);
        set_body("application/json", bodies[i]);
        ck_assert_msg(ms_http_json(&req, &out) == MS_EBADREQ, "accepted %s", bodies[i]);
        ck_assert_str_eq(req.err_msg, "Malformed JSON in request body");
    }
}
END_TEST

START_TEST(json_with_trailing_garbage_after_the_object_is_ebadreq)
{
    const cJSON *out = NULL;

    set_body("application/json", "{\"a\":1} trailing");
    ck_assert_int_eq(ms_http_json(&req, &out), MS_EBADREQ);
    ck_assert_str_eq(req.err_msg, "Malformed JSON in request body");
}
END_TEST

START_TEST(json_that_is_an_array_is_ebadreq)
{
    const cJSON *out = NULL;

    set_body("application/json", "[{\"a\":1}]");
    ck_assert_int_eq(ms_http_json(&req, &out), MS_EBADREQ);
    ck_assert_str_eq(req.err_msg, "Request body must be a JSON object");
}
END_TEST

START_TEST(json_that_is_a_string_number_or_null_is_ebadreq)
{
    static const char *const bodies[] = { "\"text\"", "42", "null", "true" };

    for (int i = 0; i < 4; i++) {
        const cJSON *out = NULL;

        ms_http_req_init(&req, arena, NULL);
        set_body("application/json", bodies[i]);
        ck_assert_msg(ms_http_json(&req, &out) == MS_EBADREQ, "accepted %s", bodies[i]);
        ck_assert_str_eq(req.err_msg, "Request body must be a JSON object");
    }
}
END_TEST

/* The one validation error recorded on req. */
static const cJSON *only_verr(void)
{
    ck_assert_int_eq(ms_http_verr_count(&req), 1);
    return cJSON_GetArrayItem(req.verrs, 0);
}

START_TEST(json_with_an_escaped_nul_in_a_value_is_einvalid_naming_the_key)
{
    const cJSON *out = NULL, *e;

    set_body("application/json", "{\"email\":\"a@b.co\",\"name\":\"Al\\u0000ice\"}");
    ck_assert_int_eq(ms_http_json(&req, &out), MS_EINVALID);
    e = only_verr();
    ck_assert_str_eq(get(e, "field")->valuestring, "name");
    ck_assert_str_eq(get(e, "message")->valuestring, "Must not contain NUL characters");
    ck_assert_ptr_null(get(e, "value"));
}
END_TEST

START_TEST(json_with_an_escaped_nul_in_a_nested_value_names_the_inner_key)
{
    const cJSON *out = NULL;

    set_body("application/json", "{\"prefs\": {\"city\" : \"x\\u0000\"}}");
    ck_assert_int_eq(ms_http_json(&req, &out), MS_EINVALID);
    ck_assert_str_eq(get(only_verr(), "field")->valuestring, "city");
}
END_TEST

START_TEST(json_with_an_escaped_nul_in_an_array_names_the_array_key)
{
    const cJSON *out = NULL;

    set_body("application/json", "{\"tags\":[\"ok\",\"bad\\u0000\"]}");
    ck_assert_int_eq(ms_http_json(&req, &out), MS_EINVALID);
    ck_assert_str_eq(get(only_verr(), "field")->valuestring, "tags");
}
END_TEST

START_TEST(json_with_an_escaped_backslash_before_u0000_is_not_flagged)
{
    const cJSON *out = NULL;

    /* JSON text "a\\u0000" is the six characters a \ u 0 0 0 0 */
    set_body("application/json", "{\"name\":\"a\\\\u0000\"}");
    ck_assert_int_eq(ms_http_json(&req, &out), MS_OK);
    ck_assert_str_eq(get(out, "name")->valuestring, "a\\u0000");
    ck_assert_int_eq(ms_http_verr_count(&req), 0);
}
END_TEST

START_TEST(json_with_other_escapes_is_not_flagged)
{
    const cJSON *out = NULL;

    set_body("application/json", "{\"s\":\"\\u0041\\n\\\"\\u00e9\"}");
    ck_assert_int_eq(ms_http_json(&req, &out), MS_OK);
    ck_assert_str_eq(get(out, "s")->valuestring, "A\n\"\xc3\xa9");
}
END_TEST

START_TEST(json_with_a_raw_nul_byte_inside_a_string_is_refused)
{
    static const char body[] = "{\"password\":\"Secret1!\0tail\"}";
    const cJSON *out = NULL;
    int rc;

    req.content_type = "application/json";
    req.body = body;
    req.body_len = sizeof body - 1;
    rc = ms_http_json(&req, &out);
    ck_assert_msg(rc == MS_EINVALID || rc == MS_EBADREQ,
                  "a body whose string holds a NUL byte gave %d (%s)", rc, ms_err_name(rc));
}
END_TEST

START_TEST(json_nested_10000_deep_is_ebadreq_without_crashing)
{
    size_t depth = 10000, len = 0;
    char *body = ms_arena_alloc(arena, depth * 6 + 16);
    const cJSON *out = NULL;

    for (size_t i = 0; i < depth; i++) {
        memcpy(body + len, "{\"a\":", 5);
        len += 5;
    }
    body[len++] = '1';
    memset(body + len, '}', depth);
    len += depth;
    body[len] = '\0';
    set_body("application/json", body);
    ck_assert_int_eq(ms_http_json(&req, &out), MS_EBADREQ);
}
END_TEST

START_TEST(json_of_arrays_nested_10000_deep_is_ebadreq_without_crashing)
{
    size_t depth = 10000;
    char *body = ms_arena_alloc(arena, depth * 2 + 16);
    const cJSON *out = NULL;

    memcpy(body, "{\"a\":", 5);
    memset(body + 5, '[', depth);
    memset(body + 5 + depth, ']', depth);
    body[5 + 2 * depth] = '}';
    body[6 + 2 * depth] = '\0';
    set_body("application/json", body);
    ck_assert_int_eq(ms_http_json(&req, &out), MS_EBADREQ);
}
END_TEST

/* ---- ms_http_verr / ms_http_verr_count ---- */

START_TEST(verr_count_is_zero_before_any_error)
{
    ck_assert_int_eq(ms_http_verr_count(&req), 0);
}
END_TEST

START_TEST(verr_records_field_message_and_a_copy_of_the_value)
{
    cJSON *v = cJSON_CreateString("bad@");
    const cJSON *e;

    ms_http_verr(&req, "email", "Must be a valid email", v);
    cJSON_SetValuestring(v, "changed");
    e = only_verr();
    ck_assert_int_eq(nkeys(e), 3);
    ck_assert_str_eq(get(e, "field")->valuestring, "email");
    ck_assert_str_eq(get(e, "message")->valuestring, "Must be a valid email");
    ck_assert_str_eq(get(e, "value")->valuestring, "bad@");
    cJSON_Delete(v);
}
END_TEST

START_TEST(verr_without_a_value_leaves_value_out)
{
    ms_http_verr(&req, "password", "Password is required", NULL);
    ck_assert_int_eq(nkeys(only_verr()), 2);
    ck_assert_ptr_null(get(only_verr(), "value"));
}
END_TEST

START_TEST(verr_keeps_errors_in_order)
{
    ms_http_verr(&req, "a", "first", NULL);
    ms_http_verr(&req, "b", "second", NULL);
    ms_http_verr(&req, "a", "third", NULL);
    ck_assert_int_eq(ms_http_verr_count(&req), 3);
    ck_assert_str_eq(get(cJSON_GetArrayItem(req.verrs, 0), "message")->valuestring, "first");
    ck_assert_str_eq(get(cJSON_GetArrayItem(req.verrs, 2), "message")->valuestring, "third");
}
END_TEST

/* ---- ms_http_ok / ms_http_ok_msg ---- */

START_TEST(ok_writes_the_cgi_headers_then_the_success_envelope)
{
    cJSON *data = cJSON_CreateObject();

    cJSON_AddStringToObject(data, "id", "u1");
    ms_http_ok(&req, 200, data);
    ck_assert_str_eq(req.out.buf, "Status: 200 OK\r\n"
                                  "Content-Type: " JSON_CT "\r\n"
                                  "Cache-Control: no-store\r\n"
                                  "\r\n"
                                  "{\"success\":true,\"data\":{\"id\":\"u1\"}}");
    ck_assert_int_eq(req.status, 200);
    ck_assert_int_eq(req.responded, 1);
}
END_TEST

START_TEST(ok_with_null_data_writes_data_null)
{
    const cJSON *body;

    ms_http_ok(&req, 200, NULL);
    body = body_json();
    ck_assert_int_eq(nkeys(body), 2);
    ck_assert(cJSON_IsTrue(get(body, "success")));
    ck_assert(cJSON_IsNull(get(body, "data")));
}
END_TEST

START_TEST(ok_with_201_says_created)
{
    ms_http_ok(&req, 201, cJSON_CreateArray());
    ck_assert(strncmp(headers(), "Status: 201 Created\r\n", 21) == 0);
    ck_assert_str_eq(body_text(), "{\"success\":true,\"data\":[]}");
}
END_TEST

START_TEST(ok_a_second_time_changes_nothing_and_still_takes_the_data)
{
    char *first;

    ms_http_ok(&req, 200, cJSON_CreateString("one"));
    first = ms_arena_strdup(arena, req.out.buf);
    /* LeakSanitizer reports the second tree if it is not taken */
    ms_http_ok(&req, 201, cJSON_CreateString("two"));
    ck_assert_str_eq(req.out.buf, first);
    ck_assert_int_eq(req.status, 200);
}
END_TEST

START_TEST(ok_msg_adds_the_message_after_the_data)
{
    cJSON *data = cJSON_CreateObject();

    cJSON_AddNumberToObject(data, "n", 1);
    ms_http_ok_msg(&req, 200, data, "Done \"now\"");
    ck_assert_str_eq(body_text(), "{\"success\":true,\"data\":{\"n\":1},\"message\":\"Done "
                                  "\\\"now\\\"\"}");
}
END_TEST

START_TEST(ok_msg_without_data_has_no_data_key)
{
    const cJSON *body;

    ms_http_ok_msg(&req, 200, NULL, "Logged out successfully");
    body = body_json();
    ck_assert_int_eq(nkeys(body), 2);
    ck_assert(cJSON_IsTrue(get(body, "success")));
    ck_assert_str_eq(get(body, "message")->valuestring, "Logged out successfully");
    ck_assert_ptr_null(get(body, "data"));
}
END_TEST

START_TEST(ok_echoes_the_request_id)
{
    req.request_id = "0f3c9a1b2c";
    ms_http_ok(&req, 200, NULL);
    ck_assert_ptr_nonnull(strstr(headers(), "\r\nX-Request-Id: 0f3c9a1b2c\r\n"));
}
END_TEST

START_TEST(ok_without_a_request_id_sends_no_request_id_header)
{
    ms_http_ok(&req, 200, NULL);
    ck_assert_ptr_null(strstr(headers(), "X-Request-Id"));
    ms_http_req_init(&req, arena, NULL);
    req.request_id = "";
    ms_http_ok(&req, 200, NULL);
    ck_assert_ptr_null(strstr(headers(), "X-Request-Id"));
}
END_TEST

START_TEST(ok_does_not_echo_a_request_id_holding_cr_or_lf)
{
    req.request_id = "abc\r\nSet-Cookie: x=1";
    ms_http_ok(&req, 200, NULL);
    ck_assert_ptr_null(strstr(req.out.buf, "X-Request-Id"));
    ck_assert_ptr_null(strstr(req.out.buf, "Set-Cookie"));
    ms_http_req_init(&req, arena, NULL);
    req.request_id = "abc\ndef";
    ms_http_ok(&req, 200, NULL);
    ck_assert_ptr_null(strstr(req.out.buf, "X-Request-Id"));
}
END_TEST

START_TEST(header_added_before_ok_is_in_the_header_block)
{
    ms_http_header(&req, "Location", "/api/users/1");
    ms_http_ok(&req, 201, NULL);
    ck_assert_ptr_nonnull(strstr(headers(), "Location: /api/users/1\r\n"));
    ck_assert_ptr_nonnull(strstr(headers(), "Status: 201 Created\r\n"));
    ck_assert_str_eq(body_text(), "{\"success\":true,\"data\":null}");
}
END_TEST

START_TEST(header_after_the_response_is_ignored)
{
    ms_http_ok(&req, 200, NULL);
    ms_http_header(&req, "X-Late", "1");
    ck_assert_ptr_null(strstr(req.out.buf, "X-Late"));
}
END_TEST

/* ---- ms_http_raw ---- */

START_TEST(raw_writes_the_body_with_its_content_type)
{
    ms_http_raw(&req, 200, "text/plain; version=0.0.4", "m 1\n", 4);
    ck_assert_str_eq(req.out.buf, "Status: 200 OK\r\n"
                                  "Content-Type: text/plain; version=0.0.4\r\n"
                                  "Cache-Control: no-store\r\n\r\nm 1\n");
}
END_TEST

START_TEST(raw_with_503_says_service_unavailable)
{
    ms_http_raw(&req, 503, "application/json", "{}", 2);
    ck_assert(strncmp(req.out.buf, "Status: 503 Service Unavailable\r\n", 33) == 0);
}
END_TEST

/* ---- ms_http_send_error / ms_http_fail ---- */

START_TEST(send_error_einvalid_writes_422_with_errors)
{
    const cJSON *body, *e, *errs, *first;
    cJSON *v = cJSON_CreateString("nope");

    ms_http_verr(&req, "email", "Must be a valid email", v);
    cJSON_Delete(v);
    ms_http_send_error(&req, MS_EINVALID, 0);
    ck_assert_str_eq(headers(), "Status: 422 Unprocessable Entity\r\n"
                                "Content-Type: " JSON_CT "\r\n"
                                "Cache-Control: no-store\r\n\r\n");
    body = body_json();
    ck_assert_int_eq(nkeys(body), 2);
    e = error_of(body);
    ck_assert_int_eq(nkeys(e), 3);
    ck_assert_str_eq(get(e, "message")->valuestring, "Validation failed");
    ck_assert_int_eq(get(e, "code")->valueint, 422);
    errs = get(e, "errors");
    ck_assert_int_eq(cJSON_GetArraySize(errs), 1);
    first = cJSON_GetArrayItem(errs, 0);
    ck_assert_str_eq(get(first, "field")->valuestring, "email");
    ck_assert_str_eq(get(first, "message")->valuestring, "Must be a valid email");
    ck_assert_str_eq(get(first, "value")->valuestring, "nope");
    ck_assert_int_eq(req.status, 422);
}
END_TEST

START_TEST(send_error_writes_the_exact_envelope_text)
{
    ms_http_send_error(&req, MS_ECONFLICT, 0);
    ck_assert_str_eq(body_text(),
                     "{\"success\":false,\"error\":{\"message\":\"Resource already exists\","
                     "\"code\":409}}");
}
END_TEST

START_TEST(send_error_route_miss_is_404_with_the_path)
{
    const cJSON *e;

    req.path = "/api/nope/\"x\"";
    ms_http_send_error(&req, MS_ENOTFOUND, 1);
    ck_assert(strncmp(headers(), "Status: 404 Not Found\r\n", 23) == 0);
    e = error_of(body_json());
    ck_assert_int_eq(nkeys(e), 3);
    ck_assert_str_eq(get(e, "message")->valuestring, "Route not found");
    ck_assert_int_eq(get(e, "code")->valueint, 404);
    ck_assert_str_eq(get(e, "path")->valuestring, "/api/nope/\"x\"");
}
END_TEST

START_TEST(send_error_not_a_route_miss_has_no_path)
{
    const cJSON *e;

    req.path = "/api/users/1";
    ms_http_send_error(&req, MS_ENOTFOUND, 0);
    e = error_of(body_json());
    ck_assert_str_eq(get(e, "message")->valuestring, "Resource not found");
    ck_assert_ptr_null(get(e, "path"));
}
END_TEST

/* Sends the error of rc on a fresh request and checks status line and body. */
static void assert_default_error(int rc, int code, const char *status_line, const char *message)
{
    const cJSON *e;

    ms_http_req_init(&req, arena, NULL);
    ms_http_send_error(&req, rc, 0);
    ck_assert_msg(strncmp(req.out.buf, status_line, strlen(status_line)) == 0, "%s: %s",
                  ms_err_name(rc), req.out.buf);
    ck_assert_int_eq(req.status, code);
    e = error_of(body_json());
    ck_assert_int_eq(nkeys(e), 2);
    ck_assert_int_eq(get(e, "code")->valueint, code);
    ck_assert_msg(strcmp(get(e, "message")->valuestring, message) == 0, "%s: message %s",
                  ms_err_name(rc), get(e, "message")->valuestring);
}

START_TEST(send_error_uses_the_default_message_and_status_of_every_code)
{
    assert_default_error(MS_EBADREQ, 400, "Status: 400 Bad Request\r\n", "Malformed request");
    assert_default_error(MS_EAUTH, 401, "Status: 401 Unauthorized\r\n", "Authentication required");
    assert_default_error(MS_EFORBID, 403, "Status: 403 Forbidden\r\n", "Insufficient permissions");
    assert_default_error(MS_ENOTFOUND, 404, "Status: 404 Not Found\r\n", "Resource not found");
    assert_default_error(MS_ECONFLICT, 409, "Status: 409 Conflict\r\n", "Resource already exists");
    assert_default_error(MS_EINVALID, 422, "Status: 422 Unprocessable Entity\r\n",
                         "Validation failed");
    assert_default_error(MS_EINTERNAL, 500, "Status: 500 Internal Server Error\r\n",
                         "Internal server error");
    assert_default_error(MS_EUNAVAIL, 503, "Status: 503 Service Unavailable\r\n",
                         "Service unavailable");
    assert_default_error(MS_ETOOBIG, 413, "Status: 413 Payload Too Large\r\n",
                         "Request body too large");
    assert_default_error(MS_EMETHOD, 405, "Status: 405 Method Not Allowed\r\n",
                         "Method not allowed");
    assert_default_error(MS_EMEDIA, 400, "Status: 400 Bad Request\r\n",
                         "Content-Type must be application/json");
}
END_TEST

START_TEST(send_error_has_errors_only_for_einvalid)
{
    ms_http_verr(&req, "x", "recorded", NULL);
    ms_http_send_error(&req, MS_EBADREQ, 0);
    ck_assert_ptr_null(get(error_of(body_json()), "errors"));
}
END_TEST

START_TEST(send_error_einvalid_without_verrs_has_no_errors_key)
{
    ms_http_send_error(&req, MS_EINVALID, 0);
    ck_assert_ptr_null(get(error_of(body_json()), "errors"));
}
END_TEST

START_TEST(send_error_echoes_the_request_id)
{
    req.request_id = "rid-7";
    ms_http_send_error(&req, MS_EUNAVAIL, 0);
    ck_assert_ptr_nonnull(strstr(headers(), "\r\nX-Request-Id: rid-7\r\n"));
}
END_TEST

START_TEST(send_error_after_a_response_changes_nothing)
{
    char *first;

    ms_http_ok(&req, 200, NULL);
    first = ms_arena_strdup(arena, req.out.buf);
    ms_http_send_error(&req, MS_EINTERNAL, 0);
    ck_assert_str_eq(req.out.buf, first);
    ck_assert_int_eq(req.status, 200);
}
END_TEST

START_TEST(fail_returns_the_code_and_its_literal_travels_to_the_body)
{
    int rc = ms_http_fail(&req, MS_EAUTH, "No token provided");
    const cJSON *e;

    ck_assert_int_eq(rc, MS_EAUTH);
    ck_assert_str_eq(req.err_msg, "No token provided");
    ms_http_send_error(&req, rc, 0);
    ck_assert(strncmp(headers(), "Status: 401 Unauthorized\r\n", 26) == 0);
    e = error_of(body_json());
    ck_assert_str_eq(get(e, "message")->valuestring, "No token provided");
    ck_assert_int_eq(get(e, "code")->valueint, 401);
}
END_TEST

START_TEST(fail_message_is_escaped_in_the_body)
{
    ms_http_send_error(&req, ms_http_fail(&req, MS_ECONFLICT, "Say \"no\"\n"), 0);
    ck_assert_str_eq(get(error_of(body_json()), "message")->valuestring, "Say \"no\"\n");
}
END_TEST

START_TEST(route_miss_message_wins_over_a_fail_message)
{
    req.path = "/x";
    ms_http_fail(&req, MS_ENOTFOUND, "User not found");
    ms_http_send_error(&req, MS_ENOTFOUND, 1);
    ck_assert_str_eq(get(error_of(body_json()), "message")->valuestring, "Route not found");
}
END_TEST

Suite *http_suite(void);

Suite *http_suite(void)
{
    Suite *s = suite_create("http");
    TCase *tc_req_init = tcase_create("req_init");
    TCase *tc_param = tcase_create("param");
    TCase *tc_query = tcase_create("query");
    TCase *tc_urldecode = tcase_create("urldecode");
    TCase *tc_json = tcase_create("json");
    TCase *tc_verr = tcase_create("verr");
    TCase *tc_ok_msg = tcase_create("ok_msg");
    TCase *tc_ok = tcase_create("ok");
    TCase *tc_header = tcase_create("header");
    TCase *tc_raw = tcase_create("raw");
    TCase *tc_send_error = tcase_create("send_error");
    TCase *tc_fail = tcase_create("fail");

    tcase_add_checked_fixture(tc_req_init, setup, teardown);
    tcase_add_test(tc_req_init, req_init_empties_everything_and_defaults_to_get_slash);
    suite_add_tcase(s, tc_req_init);

    tcase_add_checked_fixture(tc_param, setup, teardown);
    tcase_add_test(tc_param, param_finds_a_router_filled_parameter_by_name);
    tcase_add_test(tc_param, param_is_null_when_there_are_none);
    suite_add_tcase(s, tc_param);

    tcase_add_checked_fixture(tc_query, setup, teardown);
    tcase_add_test(tc_query, query_finds_plain_pairs);
    tcase_add_test(tc_query, query_url_decodes_keys_and_values);
    tcase_add_test(tc_query, query_gives_an_empty_value_for_a_key_without_one);
    tcase_add_test(tc_query, query_gives_the_first_value_of_a_repeated_key);
    tcase_add_test(tc_query, query_ignores_a_pair_with_a_bad_escape);
    tcase_add_test(tc_query, query_ignores_empty_keys_and_empty_pairs);
    tcase_add_test(tc_query, query_keeps_an_equals_sign_inside_the_value);
    tcase_add_test(tc_query, query_without_a_query_string_finds_nothing);
    tcase_add_test(tc_query, query_keeps_the_first_32_pairs);
    suite_add_tcase(s, tc_query);

    tcase_add_checked_fixture(tc_urldecode, setup, teardown);
    tcase_add_test(tc_urldecode, urldecode_turns_plus_into_space_and_decodes_hex_of_either_case);
    tcase_add_test(tc_urldecode, urldecode_reads_only_n_bytes);
    tcase_add_test(tc_urldecode, urldecode_refuses_a_percent_without_two_hex_digits);
    tcase_add_test(tc_urldecode, urldecode_refuses_a_decoded_nul);
    tcase_add_test(tc_urldecode, urldecode_of_nothing_is_the_empty_string);
    suite_add_tcase(s, tc_urldecode);

    tcase_add_checked_fixture(tc_json, setup, teardown);
    tcase_add_test(tc_json, json_of_an_empty_body_is_an_empty_object);
    tcase_add_test(tc_json, json_of_an_empty_body_needs_no_content_type);
    tcase_add_test(tc_json, json_parses_an_object_body);
    tcase_add_test(tc_json, json_parses_the_body_once);
    tcase_add_test(tc_json, json_accepts_content_type_parameters_and_any_case);
    tcase_add_test(tc_json, json_with_a_wrong_content_type_is_emedia);
    tcase_add_test(tc_json, json_without_a_content_type_is_emedia);
    tcase_add_test(tc_json, json_that_is_malformed_is_ebadreq);
    tcase_add_test(tc_json, json_with_trailing_garbage_after_the_object_is_ebadreq);
    tcase_add_test(tc_json, json_that_is_an_array_is_ebadreq);
    tcase_add_test(tc_json, json_that_is_a_string_number_or_null_is_ebadreq);
    tcase_add_test(tc_json, json_with_an_escaped_nul_in_a_value_is_einvalid_naming_the_key);
    tcase_add_test(tc_json, json_with_an_escaped_nul_in_a_nested_value_names_the_inner_key);
    tcase_add_test(tc_json, json_with_an_escaped_nul_in_an_array_names_the_array_key);
    tcase_add_test(tc_json, json_with_an_escaped_backslash_before_u0000_is_not_flagged);
    tcase_add_test(tc_json, json_with_other_escapes_is_not_flagged);
    tcase_add_test(tc_json, json_with_a_raw_nul_byte_inside_a_string_is_refused);
    tcase_add_test(tc_json, json_nested_10000_deep_is_ebadreq_without_crashing);
    tcase_add_test(tc_json, json_of_arrays_nested_10000_deep_is_ebadreq_without_crashing);
    suite_add_tcase(s, tc_json);

    tcase_add_checked_fixture(tc_verr, setup, teardown);
    tcase_add_test(tc_verr, verr_count_is_zero_before_any_error);
    tcase_add_test(tc_verr, verr_records_field_message_and_a_copy_of_the_value);
    tcase_add_test(tc_verr, verr_without_a_value_leaves_value_out);
    tcase_add_test(tc_verr, verr_keeps_errors_in_order);
    suite_add_tcase(s, tc_verr);

    tcase_add_checked_fixture(tc_ok_msg, setup, teardown);
    tcase_add_test(tc_ok_msg, ok_msg_adds_the_message_after_the_data);
    tcase_add_test(tc_ok_msg, ok_msg_without_data_has_no_data_key);
    suite_add_tcase(s, tc_ok_msg);

    tcase_add_checked_fixture(tc_ok, setup, teardown);
    tcase_add_test(tc_ok, ok_writes_the_cgi_headers_then_the_success_envelope);
    tcase_add_test(tc_ok, ok_with_null_data_writes_data_null);
    tcase_add_test(tc_ok, ok_with_201_says_created);
    tcase_add_test(tc_ok, ok_a_second_time_changes_nothing_and_still_takes_the_data);
    tcase_add_test(tc_ok, ok_echoes_the_request_id);
    tcase_add_test(tc_ok, ok_without_a_request_id_sends_no_request_id_header);
    tcase_add_test(tc_ok, ok_does_not_echo_a_request_id_holding_cr_or_lf);
    suite_add_tcase(s, tc_ok);

    tcase_add_checked_fixture(tc_header, setup, teardown);
    tcase_add_test(tc_header, header_added_before_ok_is_in_the_header_block);
    tcase_add_test(tc_header, header_after_the_response_is_ignored);
    suite_add_tcase(s, tc_header);

    tcase_add_checked_fixture(tc_raw, setup, teardown);
    tcase_add_test(tc_raw, raw_writes_the_body_with_its_content_type);
    tcase_add_test(tc_raw, raw_with_503_says_service_unavailable);
    suite_add_tcase(s, tc_raw);

    tcase_add_checked_fixture(tc_send_error, setup, teardown);
    tcase_add_test(tc_send_error, send_error_einvalid_writes_422_with_errors);
    tcase_add_test(tc_send_error, send_error_writes_the_exact_envelope_text);
    tcase_add_test(tc_send_error, send_error_route_miss_is_404_with_the_path);
    tcase_add_test(tc_send_error, send_error_not_a_route_miss_has_no_path);
    tcase_add_test(tc_send_error, send_error_uses_the_default_message_and_status_of_every_code);
    tcase_add_test(tc_send_error, send_error_has_errors_only_for_einvalid);
    tcase_add_test(tc_send_error, send_error_einvalid_without_verrs_has_no_errors_key);
    tcase_add_test(tc_send_error, send_error_echoes_the_request_id);
    tcase_add_test(tc_send_error, send_error_after_a_response_changes_nothing);
    tcase_add_test(tc_send_error, route_miss_message_wins_over_a_fail_message);
    suite_add_tcase(s, tc_send_error);

    tcase_add_checked_fixture(tc_fail, setup, teardown);
    tcase_add_test(tc_fail, fail_returns_the_code_and_its_literal_travels_to_the_body);
    tcase_add_test(tc_fail, fail_message_is_escaped_in_the_body);
    suite_add_tcase(s, tc_fail);
    return s;
}

MS_SUITE(http_suite)
