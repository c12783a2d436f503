/* Unit tests of lib/buf.c: growth (malloc- and arena-backed), formatting and
 * JSON string literals (RFC 8259 escaping, invalid UTF-8 → U+FFFD). */
#include "lib/buf.h"

#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "lib/arena.h"
#include "tests/unit/suites.h"
#include "lib/banned.h"

static struct ms_arena *arena;
static struct ms_buf b;

static void setup(void)
{
    arena = ms_arena_new(0);
    ck_assert_ptr_nonnull(arena);
    ms_buf_init(&b, NULL);
}

static void teardown(void)
{
    ms_buf_release(&b);
    ms_arena_free(arena);
    arena = NULL;
}

/* The JSON literal ms_buf_add_json_str makes of s[0..n), in a static buffer. */
static const char *json_of(const char *s, size_t n)
{
    static char out[4096];
    struct ms_buf j;

    ms_buf_init(&j, NULL);
    ms_buf_add_json_str(&j, s, n);
    ck_assert_uint_lt(j.len, sizeof out);
    memcpy(out, j.buf, j.len + 1);
    ck_assert_uint_eq(strlen(out), j.len);
    ms_buf_release(&j);
    return out;
}

/* Parses the literal back with cJSON and compares it with want. */
static void assert_round_trips(const char *literal, const char *want)
{
    cJSON *v = cJSON_Parse(literal);

    ck_assert_msg(v != NULL, "not valid JSON: %s", literal);
    ck_assert(cJSON_IsString(v));
    ck_assert_str_eq(v->valuestring, want);
    cJSON_Delete(v);
}

/* ---- ms_buf_init / reset / release ---- */

START_TEST(init_gives_an_empty_terminated_buffer)
{
    ck_assert_ptr_nonnull(b.buf);
    ck_assert_str_eq(b.buf, "");
    ck_assert_uint_eq(b.len, 0);
}
END_TEST

START_TEST(reset_empties_the_buffer_and_keeps_its_storage)
{
    size_t cap;
    char *storage;

    ms_buf_adds(&b, "some text");
    cap = b.cap;
    storage = b.buf;
    ms_buf_reset(&b);
    ck_assert_uint_eq(b.len, 0);
    ck_assert_str_eq(b.buf, "");
    ck_assert_uint_eq(b.cap, cap);
    ck_assert_ptr_eq(b.buf, storage);
}
END_TEST

START_TEST(reset_of_a_never_grown_buffer_leaves_it_empty)
{
    ms_buf_reset(&b);
    ck_assert_str_eq(b.buf, "");
    ck_assert_uint_eq(b.len, 0);
}
END_TEST

START_TEST(release_leaves_an_empty_usable_buffer)
{
    ms_buf_adds(&b, "first");
    ms_buf_release(&b);
    ck_assert_str_eq(b.buf, "");
    ck_assert_uint_eq(b.len, 0);
    ms_buf_adds(&b, "second");
    ck_assert_str_eq(b.buf, "second");
}
END_TEST

/* ---- growth ---- */

START_TEST(add_grows_a_malloc_buffer_byte_by_byte_to_100000)
{
    for (int i = 0; i < 100000; i++)
        ms_buf_addch(&b, (char)('a' + i % 26));
    ck_assert_uint_eq(b.len, 100000);
    ck_assert_uint_ge(b.cap, 100001);
    ck_assert_uint_eq(strlen(b.buf), 100000);
    for (int i = 0; i < 100000; i++)
        ck_assert_int_eq(b.buf[i], 'a' + i % 26);
}
END_TEST

START_TEST(add_grows_an_arena_buffer_and_keeps_its_content)
{
    struct ms_buf a;

    ms_buf_init(&a, arena);
    for (int i = 0; i < 1000; i++)
        ms_buf_addf(&a, "%04d,", i);
    ck_assert_uint_eq(a.len, 5000);
    ck_assert(strncmp(a.buf, "0000,0001,0002,", 15) == 0);
    ck_assert_str_eq(a.buf + 4995, "0999,");
}
END_TEST

START_TEST(grow_makes_room_without_changing_the_content)
{
    ms_buf_adds(&b, "abc");
    ms_buf_grow(&b, 10000);
    ck_assert_uint_ge(b.cap, 10004);
    ck_assert_uint_eq(b.len, 3);
    ck_assert_str_eq(b.buf, "abc");
}
END_TEST

START_TEST(add_copies_embedded_nul_bytes_and_counts_them)
{
    ms_buf_add(&b, "a\0b", 3);
    ck_assert_uint_eq(b.len, 3);
    ck_assert(memcmp(b.buf, "a\0b", 4) == 0);
}
END_TEST

/* ---- ms_buf_addf ---- */

START_TEST(addf_appends_formatted_text)
{
    ms_buf_adds(&b, "x=");
    ms_buf_addf(&b, "%d;%s;%.3f", -12, "str", 1.5);
    ck_assert_str_eq(b.buf, "x=-12;str;1.500");
    ck_assert_uint_eq(b.len, strlen("x=-12;str;1.500"));
}
END_TEST

START_TEST(addf_output_longer_than_the_initial_capacity_is_complete)
{
    char big[3001];

    memset(big, 'q', 3000);
    big[3000] = '\0';
    ms_buf_addf(&b, "[%s]", big);
    ck_assert_uint_eq(b.len, 3002);
    ck_assert_int_eq(b.buf[0], '[');
    ck_assert_int_eq(b.buf[3001], ']');
    ck_assert_int_eq(b.buf[3002], '\0');
}
END_TEST

START_TEST(addf_of_an_empty_result_changes_nothing)
{
    ms_buf_adds(&b, "keep");
    ms_buf_addf(&b, "%s", "");
    ck_assert_str_eq(b.buf, "keep");
    ck_assert_uint_eq(b.len, 4);
}
END_TEST

/* ---- ms_buf_add_json_str ---- */

START_TEST(json_str_quotes_plain_ascii)
{
    ck_assert_str_eq(json_of("hello world", 11), "\"hello world\"");
    ck_assert_str_eq(json_of("", 0), "\"\"");
}
END_TEST

START_TEST(json_str_escapes_quotes_and_backslashes)
{
    ck_assert_str_eq(json_of("a\"b\\c", 5), "\"a\\\"b\\\\c\"");
    assert_round_trips(json_of("a\"b\\c", 5), "a\"b\\c");
}
END_TEST

START_TEST(json_str_escapes_newline_return_and_tab_by_name)
{
    ck_assert_str_eq(json_of("a\nb\rc\td", 7), "\"a\\nb\\rc\\td\"");
}
END_TEST

START_TEST(json_str_escapes_other_control_characters_as_u00xx)
{
    ck_assert_str_eq(json_of("\x01\x08\x0c\x1f", 4), "\"\\u0001\\u0008\\u000c\\u001f\"");
    assert_round_trips(json_of("\x01\x1f", 2), "\x01\x1f");
}
END_TEST

START_TEST(json_str_escapes_an_embedded_nul_byte)
{
    ck_assert_str_eq(json_of("a\0b", 3), "\"a\\u0000b\"");
}
END_TEST

START_TEST(json_str_writes_only_n_bytes)
{
    ck_assert_str_eq(json_of("abcdef", 3), "\"abc\"");
}
END_TEST

START_TEST(json_str_keeps_valid_two_three_and_four_byte_sequences)
{
    const char *s = "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf";

    ck_assert_str_eq(json_of(s, strlen(s)), "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 "
                                            "\xf4\x8f\xbf\xbf\"");
    assert_round_trips(json_of(s, strlen(s)), s);
}
END_TEST

START_TEST(json_str_replaces_a_lone_invalid_byte_with_ufffd)
{
    ck_assert_str_eq(json_of("a\xff"
                             "b",
                             3),
                     "\"a\\ufffdb\"");
    ck_assert_str_eq(json_of("\x80", 1), "\"\\ufffd\"");
}
END_TEST

START_TEST(json_str_replaces_a_sequence_cut_at_the_end)
{
    ck_assert_str_eq(json_of("ab\xe2\x82", 4), "\"ab\\ufffd\\ufffd\"");
    ck_assert_str_eq(json_of("\xc3", 1), "\"\\ufffd\"");
}
END_TEST

START_TEST(json_str_replaces_a_sequence_cut_by_n_inside_a_longer_string)
{
    /* the euro sign's last byte lies beyond n */
    ck_assert_str_eq(json_of("x\xe2\x82\xac", 3), "\"x\\ufffd\\ufffd\"");
}
END_TEST

START_TEST(json_str_replaces_overlong_encodings)
{
    ck_assert_str_eq(json_of("\xc0\xaf", 2), "\"\\ufffd\\ufffd\"");
    ck_assert_str_eq(json_of("\xe0\x80\xaf", 3), "\"\\ufffd\\ufffd\\ufffd\"");
}
END_TEST

START_TEST(json_str_replaces_utf16_surrogates_and_code_points_above_10ffff)
{
    ck_assert_str_eq(json_of("\xed\xa0\x80", 3), "\"\\ufffd\\ufffd\\ufffd\"");
    ck_assert_str_eq(json_of("\xf4\x90\x80\x80", 4), "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");
}
END_TEST

START_TEST(json_str_output_of_invalid_input_parses_as_json)
{
    const char *s = "\xfe\"\\\x01\xc3(\xe2\x28\xa1ok";

    assert_round_trips(json_of(s, strlen(s)),
                       "\xef\xbf\xbd\"\\\x01\xef\xbf\xbd(\xef\xbf\xbd(\xef\xbf\xbdok");
}
END_TEST

START_TEST(json_str_appends_to_what_the_buffer_holds)
{
    ms_buf_adds(&b, "{\"k\":");
    ms_buf_add_json_str(&b, "v", 1);
    ms_buf_addch(&b, '}');
    ck_assert_str_eq(b.buf, "{\"k\":\"v\"}");
}
END_TEST

Suite *buf_suite(void);

Suite *buf_suite(void)
{
    Suite *s = suite_create("buf");
    TCase *tc_init = tcase_create("init");
    TCase *tc_reset = tcase_create("reset");
    TCase *tc_release = tcase_create("release");
    TCase *tc_grow = tcase_create("grow");
    TCase *tc_add = tcase_create("add");
    TCase *tc_addf = tcase_create("addf");
    TCase *tc_add_json_str = tcase_create("add_json_str");

    tcase_add_checked_fixture(tc_init, setup, teardown);
    tcase_add_test(tc_init, init_gives_an_empty_terminated_buffer);
    suite_add_tcase(s, tc_init);

    tcase_add_checked_fixture(tc_reset, setup, teardown);
    tcase_add_test(tc_reset, reset_empties_the_buffer_and_keeps_its_storage);
    tcase_add_test(tc_reset, reset_of_a_never_grown_buffer_leaves_it_empty);
    suite_add_tcase(s, tc_reset);

    tcase_add_checked_fixture(tc_release, setup, teardown);
    tcase_add_test(tc_release, release_leaves_an_empty_usable_buffer);
    suite_add_tcase(s, tc_release);

    tcase_add_checked_fixture(tc_grow, setup, teardown);
    tcase_add_test(tc_grow, grow_makes_room_without_changing_the_content);
    suite_add_tcase(s, tc_grow);

    tcase_add_checked_fixture(tc_add, setup, teardown);
    tcase_add_test(tc_add, add_grows_a_malloc_buffer_byte_by_byte_to_100000);
    tcase_add_test(tc_add, add_grows_an_arena_buffer_and_keeps_its_content);
    tcase_add_test(tc_add, add_copies_embedded_nul_bytes_and_counts_them);
    suite_add_tcase(s, tc_add);

    tcase_add_checked_fixture(tc_addf, setup, teardown);
    tcase_add_test(tc_addf, addf_appends_formatted_text);
    tcase_add_test(tc_addf, addf_output_longer_than_the_initial_capacity_is_complete);
    tcase_add_test(tc_addf, addf_of_an_empty_result_changes_nothing);
    suite_add_tcase(s, tc_addf);

    tcase_add_checked_fixture(tc_add_json_str, setup, teardown);
    tcase_add_test(tc_add_json_str, json_str_quotes_plain_ascii);
    tcase_add_test(tc_add_json_str, json_str_escapes_quotes_and_backslashes);
    tcase_add_test(tc_add_json_str, json_str_escapes_newline_return_and_tab_by_name);
    tcase_add_test(tc_add_json_str, json_str_escapes_other_control_characters_as_u00xx);
    tcase_add_test(tc_add_json_str, json_str_escapes_an_embedded_nul_byte);
    tcase_add_test(tc_add_json_str, json_str_writes_only_n_bytes);
    tcase_add_test(tc_add_json_str, json_str_keeps_valid_two_three_and_four_byte_sequences);
    tcase_add_test(tc_add_json_str, json_str_replaces_a_lone_invalid_byte_with_ufffd);
    tcase_add_test(tc_add_json_str, json_str_replaces_a_sequence_cut_at_the_end);
    tcase_add_test(tc_add_json_str, json_str_replaces_a_sequence_cut_by_n_inside_a_longer_string);
    tcase_add_test(tc_add_json_str, json_str_replaces_overlong_encodings);
    tcase_add_test(tc_add_json_str,
                   json_str_replaces_utf16_surrogates_and_code_points_above_10ffff);
    tcase_add_test(tc_add_json_str, json_str_output_of_invalid_input_parses_as_json);
    tcase_add_test(tc_add_json_str, json_str_appends_to_what_the_buffer_holds);
    suite_add_tcase(s, tc_add_json_str);
    return s;
}

MS_SUITE(buf_suite)
