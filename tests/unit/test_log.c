/* Unit tests of lib/log.c: the JSON line of SPEC §2 (ts, level, service, pid,
 * request_id, method, path, status, duration_ms, user_id, msg), escaping,
 * truncation under the cap, level parsing and filtering. */
#include "lib/log.h"
#include "lib/utf8.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "lib/clock.h"
#include "lib/validate.h"
#include "tests/unit/suites.h"
#include "lib/banned.h"

#define LINE_CAP 4096

static char line[LINE_CAP];

static void setup(void)
{
    ms_log_init("test-svc", MS_LOG_INFO);
    memset(line, 'X', sizeof line);
}

static void teardown(void)
{
    ms_log_init("microshop", MS_LOG_INFO);
}

/* The last 120 bytes of the n-byte line, for failure messages. */
static const char *tail(const char *l, int n)
{
    return n > 120 ? l + n - 120 : l;
}

/* Formats into line with cap, checks the line's shape and returns it parsed. */
static cJSON *format(int cap, const struct ms_log_ctx *ctx, enum ms_log_level level,
                     const char *msg)
{
    int n = ms_log_format(line, cap, ctx, level, msg);
    cJSON *j;

    ck_assert_int_eq(n, (int)strlen(line));
    ck_assert_int_le(n, cap - 1);
    ck_assert_int_ge(n, 2);
    ck_assert_msg(line[n - 2] == '}' && line[n - 1] == '\n', "line does not end in }\\n: ...%s",
                  tail(line, n));
    ck_assert_msg(memchr(line, '\n', (size_t)n - 1) == NULL, "newline inside the line: ...%s",
                  tail(line, n));
    j = cJSON_ParseWithLength(line, (size_t)n - 1);
    ck_assert_msg(j != NULL, "not valid JSON (%d bytes): ...%s", n, tail(line, n));
    ck_assert(cJSON_IsObject(j));
    return j;
}

static const char *str_of(const cJSON *j, const char *key)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(j, key);

    ck_assert_msg(cJSON_IsString(it), "%s is not a string", key);
    return it->valuestring;
}

/* The object's keys joined by commas, in order. */
static const char *keys_of(const cJSON *j)
{
    static char out[512];
    const cJSON *it;
    size_t len = 0;

    out[0] = '\0';
    cJSON_ArrayForEach(it, j)
    {
        int n = snprintf(out + len, sizeof out - len, "%s%s", len ? "," : "", it->string);

        ck_assert_int_gt(n, 0);
        len += (size_t)n;
        ck_assert_uint_lt(len, sizeof out);
    }
    return out;
}

static const struct ms_log_ctx no_fields = { NULL, NULL, NULL, NULL, -1, -1.0 };

/* ---- ms_log_format ---- */

START_TEST(format_writes_the_process_fields_in_order)
{
    cJSON *j = format(LINE_CAP, NULL, MS_LOG_INFO, "started");

    ck_assert_str_eq(keys_of(j), "ts,level,service,pid,msg");
    ck_assert_str_eq(str_of(j, "level"), "info");
    ck_assert_str_eq(str_of(j, "service"), "test-svc");
    ck_assert_str_eq(str_of(j, "msg"), "started");
    ck_assert(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(j, "pid")));
    ck_assert_int_eq((long)cJSON_GetObjectItemCaseSensitive(j, "pid")->valuedouble, getpid());
    cJSON_Delete(j);
}
END_TEST

START_TEST(format_stamps_the_current_time_in_iso8601)
{
    int64_t before = ms_clock_now_ms() / 1000 * 1000;
    cJSON *j = format(LINE_CAP, NULL, MS_LOG_WARN, "x");
    char lo[32], hi[32];
    const char *ts = str_of(j, "ts");

    ms_clock_iso8601(before, lo, sizeof lo);
    ms_clock_iso8601(ms_clock_now_ms(), hi, sizeof hi);
    ck_assert_uint_eq(strlen(ts), 24);
    ck_assert_msg(strcmp(ts, lo) >= 0 && strcmp(ts, hi) <= 0, "ts %s not in [%s, %s]", ts, lo, hi);
    cJSON_Delete(j);
}
END_TEST

START_TEST(format_names_every_level)
{
    static const char *const names[] = { "debug", "info", "warn", "error", "fatal" };

    for (int lv = MS_LOG_DEBUG; lv <= MS_LOG_FATAL; lv++) {
        cJSON *j = format(LINE_CAP, NULL, (enum ms_log_level)lv, "m");

        ck_assert_str_eq(str_of(j, "level"), names[lv]);
        cJSON_Delete(j);
    }
}
END_TEST

START_TEST(format_writes_every_request_field_in_spec_order)
{
    struct ms_log_ctx ctx = { "req-1", "POST", "/api/auth/login", "u-42", 201, 12.5 };
    cJSON *j = format(LINE_CAP, &ctx, MS_LOG_INFO, "done");

    ck_assert_str_eq(keys_of(j), "ts,level,service,pid,request_id,method,path,status,"
                                 "duration_ms,user_id,msg");
    ck_assert_str_eq(str_of(j, "request_id"), "req-1");
    ck_assert_str_eq(str_of(j, "method"), "POST");
    ck_assert_str_eq(str_of(j, "path"), "/api/auth/login");
    ck_assert_str_eq(str_of(j, "user_id"), "u-42");
    ck_assert_int_eq(cJSON_GetObjectItemCaseSensitive(j, "status")->valueint, 201);
    ck_assert_double_eq(cJSON_GetObjectItemCaseSensitive(j, "duration_ms")->valuedouble, 12.5);
    ck_assert_ptr_nonnull(strstr(line, "\"duration_ms\":12.500,"));
    cJSON_Delete(j);
}
END_TEST

START_TEST(format_leaves_out_null_and_negative_request_fields)
{
    cJSON *j = format(LINE_CAP, &no_fields, MS_LOG_INFO, "quiet");

    ck_assert_str_eq(keys_of(j), "ts,level,service,pid,msg");
    cJSON_Delete(j);
}
END_TEST

START_TEST(format_keeps_a_zero_status_and_duration)
{
    struct ms_log_ctx ctx = { NULL, NULL, NULL, NULL, 0, 0.0 };
    cJSON *j = format(LINE_CAP, &ctx, MS_LOG_INFO, "m");

    ck_assert_str_eq(keys_of(j), "ts,level,service,pid,status,duration_ms,msg");
    cJSON_Delete(j);
}
END_TEST

START_TEST(format_leaves_out_a_null_msg)
{
    cJSON *j = format(LINE_CAP, NULL, MS_LOG_INFO, NULL);

    ck_assert_str_eq(keys_of(j), "ts,level,service,pid");
    cJSON_Delete(j);
}
END_TEST

START_TEST(format_escapes_quotes_backslashes_and_control_characters)
{
    const char *msg = "say \"hi\" \\ path\nline2\ttab\x01\x1f end";
    cJSON *j = format(LINE_CAP, NULL, MS_LOG_ERROR, msg);

    ck_assert_str_eq(str_of(j, "msg"), msg);
    cJSON_Delete(j);
}
END_TEST

START_TEST(format_escapes_request_fields_too)
{
    struct ms_log_ctx ctx = { "id\"1", "GET", "/a\\b\r\n", "u\x02", -1, -1.0 };
    cJSON *j = format(LINE_CAP, &ctx, MS_LOG_INFO, "m");

    ck_assert_str_eq(str_of(j, "request_id"), "id\"1");
    ck_assert_str_eq(str_of(j, "path"), "/a\\b\r\n");
    ck_assert_str_eq(str_of(j, "user_id"), "u\x02");
    cJSON_Delete(j);
}
END_TEST

START_TEST(format_truncates_a_long_msg_to_valid_json_under_the_cap)
{
    char msg[3000];
    cJSON *j;
    const char *got;

    memset(msg, 'm', sizeof msg - 1);
    msg[sizeof msg - 1] = '\0';
    j = format(256, NULL, MS_LOG_INFO, msg);
    got = str_of(j, "msg");
    ck_assert_uint_gt(strlen(got), 100);
    ck_assert(strncmp(got, msg, strlen(got)) == 0);
    cJSON_Delete(j);
}
END_TEST

START_TEST(format_truncates_a_msg_of_quotes_to_valid_json_at_every_offset)
{
    char msg[600];

    for (int shift = 0; shift < 8; shift++) {
        memset(msg, '"', sizeof msg - 1);
        memset(msg, 'a', (size_t)shift);
        msg[sizeof msg - 1] = '\0';
        cJSON_Delete(format(300, NULL, MS_LOG_INFO, msg));
    }
}
END_TEST

START_TEST(format_truncates_a_msg_of_control_characters_to_valid_json_at_every_offset)
{
    /* each \u00XX escape takes 6 bytes: one of these offsets ends an escape
     * right at the cap's margin */
    char msg[600];

    for (int shift = 0; shift < 8; shift++) {
        memset(msg, '\x01', sizeof msg - 1);
        memset(msg, 'a', (size_t)shift);
        msg[sizeof msg - 1] = '\0';
        cJSON_Delete(format(300, NULL, MS_LOG_INFO, msg));
    }
}
END_TEST

START_TEST(format_truncates_multibyte_text_on_a_character_boundary)
{
    char msg[1200];

    for (int shift = 0; shift < 3; shift++) {
        size_t len = (size_t)shift;
        int n;

        memset(msg, 'a', len);
        while (len + 3 < sizeof msg) {
            memcpy(msg + len, "\xe2\x82\xac", 3);
            len += 3;
        }
        msg[len] = '\0';
        n = ms_log_format(line, 300, NULL, MS_LOG_INFO, msg);
        ck_assert_msg(ms_utf8_valid(line, (size_t)n), "shift %d: the cut splits a UTF-8 sequence",
                      shift);
    }
}
END_TEST

START_TEST(format_truncates_a_long_path_to_valid_json_under_the_cap)
{
    char path[5000];
    struct ms_log_ctx ctx = { "rid", "GET", path, "u1", 404, 1.0 };

    memset(path, 'p', sizeof path - 1);
    path[0] = '/';
    path[sizeof path - 1] = '\0';
    cJSON_Delete(format(LINE_CAP, &ctx, MS_LOG_INFO, "Route not found"));
}
END_TEST

START_TEST(format_keeps_the_line_valid_utf8_when_fields_hold_invalid_bytes)
{
    /* a decoded request path ("/api/%ff") and a message may hold any bytes;
     * JSON text is UTF-8 (RFC 8259 section 8.1) */
    struct ms_log_ctx ctx = { "rid", "GET", "/api/\xff\xfe", NULL, 404, 0.5 };
    int n = ms_log_format(line, LINE_CAP, &ctx, MS_LOG_INFO, "caf\xc3 \xe9t\xc3\xa9");

    ck_assert_msg(ms_utf8_valid(line, (size_t)n),
                  "the line is not valid UTF-8: invalid bytes were copied raw");
    cJSON_Delete(format(LINE_CAP, &ctx, MS_LOG_INFO, "caf\xc3 \xe9t\xc3\xa9"));
}
END_TEST

START_TEST(format_keeps_valid_multibyte_characters)
{
    cJSON *j = format(LINE_CAP, NULL, MS_LOG_INFO, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");

    ck_assert_str_eq(str_of(j, "msg"), "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
    cJSON_Delete(j);
}
END_TEST

/* ---- ms_log_level_parse ---- */

START_TEST(level_parse_knows_the_five_names)
{
    ck_assert_int_eq(ms_log_level_parse("debug"), MS_LOG_DEBUG);
    ck_assert_int_eq(ms_log_level_parse("info"), MS_LOG_INFO);
    ck_assert_int_eq(ms_log_level_parse("warn"), MS_LOG_WARN);
    ck_assert_int_eq(ms_log_level_parse("error"), MS_LOG_ERROR);
    ck_assert_int_eq(ms_log_level_parse("fatal"), MS_LOG_FATAL);
}
END_TEST

START_TEST(level_parse_accepts_warning_for_warn)
{
    ck_assert_int_eq(ms_log_level_parse("warning"), MS_LOG_WARN);
}
END_TEST

START_TEST(level_parse_ignores_case)
{
    ck_assert_int_eq(ms_log_level_parse("DEBUG"), MS_LOG_DEBUG);
    ck_assert_int_eq(ms_log_level_parse("Warning"), MS_LOG_WARN);
}
END_TEST

START_TEST(level_parse_refuses_unknown_empty_and_null)
{
    ck_assert_int_eq(ms_log_level_parse("trace"), -1);
    ck_assert_int_eq(ms_log_level_parse("info "), -1);
    ck_assert_int_eq(ms_log_level_parse(""), -1);
    ck_assert_int_eq(ms_log_level_parse(NULL), -1);
}
END_TEST

/* ---- ms_log_enabled / ms_log ---- */

/* Runs ms_log(level, msg) with stderr captured; returns what it wrote. */
static const char *captured_log(enum ms_log_level level, const char *msg)
{
    static char out[LINE_CAP + 1];
    FILE *tmp = tmpfile();
    int saved = dup(STDERR_FILENO);
    long n;

    ck_assert_ptr_nonnull(tmp);
    ck_assert_int_ge(saved, 0);
    ck_assert_int_ge(dup2(fileno(tmp), STDERR_FILENO), 0);
    ms_log(level, "%s", msg);
    dup2(saved, STDERR_FILENO);
    close(saved);
    rewind(tmp);
    n = (long)fread(out, 1, LINE_CAP, tmp);
    out[n] = '\0';
    (void)fclose(tmp);
    return out;
}

START_TEST(enabled_is_true_from_the_minimum_level_up)
{
    ms_log_init("test-svc", MS_LOG_WARN);
    ck_assert(!ms_log_enabled(MS_LOG_DEBUG));
    ck_assert(!ms_log_enabled(MS_LOG_INFO));
    ck_assert(ms_log_enabled(MS_LOG_WARN));
    ck_assert(ms_log_enabled(MS_LOG_ERROR));
    ck_assert(ms_log_enabled(MS_LOG_FATAL));
}
END_TEST

START_TEST(log_writes_one_json_line_to_stderr)
{
    const char *out = captured_log(MS_LOG_ERROR, "disk \"full\"");
    size_t n = strlen(out);
    cJSON *j;

    ck_assert_uint_gt(n, 2);
    ck_assert_int_eq(out[n - 1], '\n');
    ck_assert_ptr_eq(strchr(out, '\n'), out + n - 1);
    j = cJSON_ParseWithLength(out, n - 1);
    ck_assert_ptr_nonnull(j);
    ck_assert_str_eq(str_of(j, "level"), "error");
    ck_assert_str_eq(str_of(j, "msg"), "disk \"full\"");
    cJSON_Delete(j);
}
END_TEST

START_TEST(log_below_the_minimum_level_writes_nothing)
{
    ms_log_init("test-svc", MS_LOG_ERROR);
    ck_assert_str_eq(captured_log(MS_LOG_WARN, "hidden"), "");
}
END_TEST

Suite *log_suite(void);

Suite *log_suite(void)
{
    Suite *s = suite_create("log");
    TCase *tc_format = tcase_create("format");
    TCase *tc_level_parse = tcase_create("level_parse");
    TCase *tc_enabled = tcase_create("enabled");
    TCase *tc_log = tcase_create("log");

    tcase_add_checked_fixture(tc_format, setup, teardown);
    tcase_add_test(tc_format, format_writes_the_process_fields_in_order);
    tcase_add_test(tc_format, format_stamps_the_current_time_in_iso8601);
    tcase_add_test(tc_format, format_names_every_level);
    tcase_add_test(tc_format, format_writes_every_request_field_in_spec_order);
    tcase_add_test(tc_format, format_leaves_out_null_and_negative_request_fields);
    tcase_add_test(tc_format, format_keeps_a_zero_status_and_duration);
    tcase_add_test(tc_format, format_leaves_out_a_null_msg);
    tcase_add_test(tc_format, format_escapes_quotes_backslashes_and_control_characters);
    tcase_add_test(tc_format, format_escapes_request_fields_too);
    tcase_add_test(tc_format, format_truncates_a_long_msg_to_valid_json_under_the_cap);
    tcase_add_test(tc_format, format_truncates_a_msg_of_quotes_to_valid_json_at_every_offset);
    tcase_add_test(tc_format,
                   format_truncates_a_msg_of_control_characters_to_valid_json_at_every_offset);
    tcase_add_test(tc_format, format_truncates_multibyte_text_on_a_character_boundary);
    tcase_add_test(tc_format, format_truncates_a_long_path_to_valid_json_under_the_cap);
    tcase_add_test(tc_format, format_keeps_the_line_valid_utf8_when_fields_hold_invalid_bytes);
    tcase_add_test(tc_format, format_keeps_valid_multibyte_characters);
    suite_add_tcase(s, tc_format);

    tcase_add_test(tc_level_parse, level_parse_knows_the_five_names);
    tcase_add_test(tc_level_parse, level_parse_accepts_warning_for_warn);
    tcase_add_test(tc_level_parse, level_parse_ignores_case);
    tcase_add_test(tc_level_parse, level_parse_refuses_unknown_empty_and_null);
    suite_add_tcase(s, tc_level_parse);

    tcase_add_checked_fixture(tc_enabled, setup, teardown);
    tcase_add_test(tc_enabled, enabled_is_true_from_the_minimum_level_up);
    suite_add_tcase(s, tc_enabled);

    tcase_add_checked_fixture(tc_log, setup, teardown);
    tcase_add_test(tc_log, log_writes_one_json_line_to_stderr);
    tcase_add_test(tc_log, log_below_the_minimum_level_writes_nothing);
    suite_add_tcase(s, tc_log);
    return s;
}

MS_SUITE(log_suite)
