/* Unit tests of lib/utf8.c against an independent model of RFC 3629: every
 * code point's shortest form decodes back to itself (surrogates refused),
 * every longer form of it is refused, every byte that never leads is refused;
 * and the writers built on it (ms_buf_add_json_text, the response envelope,
 * ms_http_check_input) never let an invalid byte through. */
#include "lib/utf8.h"

#include <stdint.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "lib/arena.h"
#include "lib/buf.h"
#include "lib/http.h"
#include "tests/unit/suites.h"
#include "lib/banned.h"

/* cp encoded in len bytes (len may exceed the shortest form: overlong). */
static void encode(uint32_t cp, size_t len, unsigned char *out)
{
    static const unsigned char lead[] = { 0, 0, 0xC0, 0xE0, 0xF0 };

    for (size_t i = len - 1; i > 0; i--) {
        out[i] = (unsigned char)(0x80 | (cp & 0x3F));
        cp >>= 6;
    }
    out[0] = len == 1 ? (unsigned char)cp : (unsigned char)(lead[len] | cp);
}

static size_t shortest(uint32_t cp)
{
    return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
}

START_TEST(every_code_point_round_trips_and_surrogates_are_refused)
{
    for (uint32_t cp = 0; cp <= 0x10FFFF; cp++) {
        unsigned char b[4];
        size_t len = shortest(cp);
        uint32_t got = 0xFFFFFFFF;
        int surrogate = cp >= 0xD800 && cp <= 0xDFFF;

        encode(cp, len, b);
        ck_assert_uint_eq(ms_utf8_decode(b, len, &got), surrogate ? 0 : len);
        if (!surrogate)
            ck_assert_uint_eq(got, cp);
        ck_assert_int_eq(ms_utf8_valid((const char *)b, len), !surrogate);
        /* cut short anywhere: refused */
        for (size_t cut = 1; cut < len; cut++)
            ck_assert_uint_eq(ms_utf8_seq_len(b, cut), 0);
    }
}
END_TEST

START_TEST(every_overlong_form_is_refused)
{
    for (uint32_t cp = 0; cp < 0x10000; cp++)
        for (size_t len = shortest(cp) + 1; len <= 4; len++) {
            unsigned char b[4];

            if (len == 1)
                continue;
            encode(cp, len, b);
            ck_assert_msg(ms_utf8_seq_len(b, len) == 0, "U+%04X in %zu bytes accepted", cp, len);
        }
}
END_TEST

START_TEST(bytes_that_never_lead_and_beyond_u10ffff_are_refused)
{
    for (unsigned v = 0x80; v <= 0xFF; v++) {
        unsigned char b[4] = { (unsigned char)v, 0x80, 0x80, 0x80 };
        int may_lead = v >= 0xC2 && v <= 0xF4;

        if (!may_lead)
            ck_assert_msg(ms_utf8_seq_len(b, 4) == 0, "lead byte %02X accepted", v);
    }
    ck_assert_uint_eq(ms_utf8_seq_len((const unsigned char *)"\xF4\x90\x80\x80", 4), 0);
    ck_assert_uint_eq(ms_utf8_seq_len((const unsigned char *)"\xF4\x8F\xBF\xBF", 4), 4);
    ck_assert_uint_eq(ms_utf8_seq_len((const unsigned char *)"\xE2x\x82", 3), 0);
    ck_assert_int_eq(ms_utf8_valid("plain ascii, long enough for the fast path", 42), 1);
    ck_assert_int_eq(ms_utf8_valid("long ascii run then a bad byte \xFF", 32), 0);
    ck_assert_int_eq(ms_utf8_valid("", 0), 1);
    ck_assert_uint_eq(ms_utf8_len("a\xC3\xA9\xF0\x9F\x98\x80\xFF"), 4);
}
END_TEST

START_TEST(json_text_writer_repairs_every_invalid_byte)
{
    struct ms_buf b;
    const char in[] = "{\"a\":\"x\xFF\xC0\xAF\xED\xA0\x80y\",\"\xE2\x82\":\"\xC3\xA9\"}";

    ms_buf_init(&b, NULL);
    ms_buf_add_json_text(&b, in, sizeof in - 1);
    ck_assert_int_eq(ms_utf8_valid(b.buf, b.len), 1);
    ck_assert_str_eq(b.buf, "{\"a\":\"x\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\\ufffdy\","
                            "\"\\ufffd\\ufffd\":\"\xC3\xA9\"}");
    {
        cJSON *back = cJSON_Parse(b.buf);

        ck_assert_ptr_nonnull(back);
        cJSON_Delete(back);
    }
    ms_buf_release(&b);
}
END_TEST

/* A handler that puts invalid bytes into its data still answers UTF-8. */
START_TEST(envelope_is_utf8_whatever_the_data_holds)
{
    struct ms_arena *arena = ms_arena_new(0);
    struct ms_req req;
    cJSON *data = cJSON_CreateObject();
    const char *body;

    ms_http_req_init(&req, arena, NULL);
    cJSON_AddStringToObject(data, "v", "ab\xFF\xFE" "cd");
    ms_http_verr(&req, "f\xC0\xAF", "m", cJSON_GetObjectItem(data, "v"));
    ms_http_send_error(&req, MS_EINVALID, 0);
    body = strstr(req.out.buf, "\r\n\r\n");
    ck_assert_ptr_nonnull(body);
    ck_assert_int_eq(ms_utf8_valid(req.out.buf, req.out.len), 1);
    ck_assert_ptr_nonnull(strstr(body, "ab\\ufffd\\ufffdcd"));
    ms_http_req_init(&req, arena, NULL);
    ms_http_ok(&req, 200, data);
    ck_assert_int_eq(ms_utf8_valid(req.out.buf, req.out.len), 1);
    ms_arena_free(arena);
}
END_TEST

START_TEST(check_input_refuses_path_query_and_body)
{
    struct ms_arena *arena = ms_arena_new(0);
    struct ms_req req;

    ms_http_req_init(&req, arena, NULL);
    req.path = "/api/products/\xC3\xA9";
    req.query = "search=%C3%A9&x=1";
    req.body = "{\"a\":\"\xE2\x82\xAC\"}";
    req.body_len = strlen(req.body);
    ck_assert_int_eq(ms_http_check_input(&req), MS_OK);

    ms_http_req_init(&req, arena, NULL);
    req.path = "/api/products/\xED\xA0\x80";
    ck_assert_int_eq(ms_http_check_input(&req), MS_EBADREQ);
    ck_assert_str_eq(req.err_msg, "Request path is not valid UTF-8");

    ms_http_req_init(&req, arena, NULL);
    req.query = "min_price=%c0%af";
    ck_assert_int_eq(ms_http_check_input(&req), MS_EBADREQ);
    ck_assert_str_eq(req.err_msg, "Query string is not valid UTF-8");

    ms_http_req_init(&req, arena, NULL);
    req.query = "%FF=1";
    ck_assert_int_eq(ms_http_check_input(&req), MS_EBADREQ);

    ms_http_req_init(&req, arena, NULL);
    req.query = "a=%zz";
    ck_assert_int_eq(ms_http_check_input(&req), MS_EBADREQ);
    ck_assert_str_eq(req.err_msg, "Malformed query string");

    ms_http_req_init(&req, arena, NULL);
    req.body = "{\"a\":\"ab\xFF" "cd\"}";
    req.body_len = strlen(req.body);
    ck_assert_int_eq(ms_http_check_input(&req), MS_EBADREQ);
    ck_assert_str_eq(req.err_msg, "Request body is not valid UTF-8");
    ms_arena_free(arena);
}
END_TEST

Suite *utf8_suite(void);

Suite *utf8_suite(void)
{
    Suite *s = suite_create("utf8");
    TCase *tc = tcase_create("rule");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, every_code_point_round_trips_and_surrogates_are_refused);
    tcase_add_test(tc, every_overlong_form_is_refused);
    tcase_add_test(tc, bytes_that_never_lead_and_beyond_u10ffff_are_refused);
    suite_add_tcase(s, tc);
    tc = tcase_create("writers");
    tcase_add_test(tc, json_text_writer_repairs_every_invalid_byte);
    tcase_add_test(tc, envelope_is_utf8_whatever_the_data_holds);
    tcase_add_test(tc, check_input_refuses_path_query_and_body);
    suite_add_tcase(s, tc);
    return s;
}

MS_SUITE(utf8_suite)
