/* Unit tests of lib/clock.c: the ISO 8601 form of SPEC §2 for known epochs
 * (expected strings computed independently, with Python's datetime), and the
 * two clocks. */
#include "lib/clock.h"

#include <string.h>
#include <time.h>

#include "tests/unit/suites.h"
#include "lib/banned.h"

static void assert_iso(int64_t epoch_ms, const char *want)
{
    char out[32];

    memset(out, 'X', sizeof out);
    ck_assert_ptr_eq(ms_clock_iso8601(epoch_ms, out, sizeof out), out);
    ck_assert_msg(strcmp(out, want) == 0, "%lld gave %s, want %s", (long long)epoch_ms, out, want);
}

/* ---- ms_clock_iso8601 ---- */

START_TEST(iso8601_of_the_epoch_is_1970_01_01_midnight)
{
    assert_iso(0, "1970-01-01T00:00:00.000Z");
}
END_TEST

START_TEST(iso8601_keeps_the_milliseconds)
{
    assert_iso(1795489674123, "2026-11-24T03:07:54.123Z");
    assert_iso(1700000000001, "2023-11-14T22:13:20.001Z");
    assert_iso(1000, "1970-01-01T00:00:01.000Z");
}
END_TEST

START_TEST(iso8601_handles_a_leap_day)
{
    assert_iso(951782400000, "2000-02-29T00:00:00.000Z");
}
END_TEST

START_TEST(iso8601_of_the_last_millisecond_of_2099)
{
    assert_iso(4102444799999, "2099-12-31T23:59:59.999Z");
}
END_TEST

START_TEST(iso8601_of_minus_one_ms_is_the_last_millisecond_of_1969)
{
    assert_iso(-1, "1969-12-31T23:59:59.999Z");
}
END_TEST

START_TEST(iso8601_of_negative_whole_seconds_has_zero_millis)
{
    assert_iso(-1000, "1969-12-31T23:59:59.000Z");
    assert_iso(-86400000, "1969-12-31T00:00:00.000Z");
}
END_TEST

START_TEST(iso8601_of_negative_times_borrows_a_second_for_the_millis)
{
    assert_iso(-1001, "1969-12-31T23:59:58.999Z");
}
END_TEST

START_TEST(iso8601_of_year_one_pads_the_year_to_four_digits)
{
    assert_iso(-62135596800000, "0001-01-01T00:00:00.000Z");
}
END_TEST

START_TEST(iso8601_is_24_characters_long)
{
    char out[25];

    ms_clock_iso8601(1795489674123, out, sizeof out);
    ck_assert_uint_eq(strlen(out), 24);
}
END_TEST

/* ---- ms_clock_now_ms / ms_clock_mono_us ---- */

START_TEST(now_ms_agrees_with_time_to_the_second)
{
    /* glibc's time() may lag CLOCK_REALTIME by a tick at a second boundary:
     * allow one second either side */
    int64_t before = ((int64_t)time(NULL) - 1) * 1000;
    int64_t now = ms_clock_now_ms();
    int64_t after = ((int64_t)time(NULL) + 2) * 1000;

    ck_assert_int_ge(now, before);
    ck_assert_int_lt(now, after);
}
END_TEST

START_TEST(mono_us_never_goes_backwards_and_counts_microseconds)
{
    struct timespec pause = { 0, 20000000L };
    int64_t t0 = ms_clock_mono_us(), t1;

    nanosleep(&pause, NULL);
    t1 = ms_clock_mono_us();
    ck_assert_int_ge(t1 - t0, 20000);
    ck_assert_int_lt(t1 - t0, 2000000);
}
END_TEST

Suite *clock_suite(void);

Suite *clock_suite(void)
{
    Suite *s = suite_create("clock");
    TCase *tc_iso8601 = tcase_create("iso8601");
    TCase *tc_now_ms = tcase_create("now_ms");
    TCase *tc_mono_us = tcase_create("mono_us");

    tcase_add_test(tc_iso8601, iso8601_of_the_epoch_is_1970_01_01_midnight);
    tcase_add_test(tc_iso8601, iso8601_keeps_the_milliseconds);
    tcase_add_test(tc_iso8601, iso8601_handles_a_leap_day);
    tcase_add_test(tc_iso8601, iso8601_of_the_last_millisecond_of_2099);
    tcase_add_test(tc_iso8601, iso8601_of_minus_one_ms_is_the_last_millisecond_of_1969);
    tcase_add_test(tc_iso8601, iso8601_of_negative_whole_seconds_has_zero_millis);
    tcase_add_test(tc_iso8601, iso8601_of_negative_times_borrows_a_second_for_the_millis);
    tcase_add_test(tc_iso8601, iso8601_of_year_one_pads_the_year_to_four_digits);
    tcase_add_test(tc_iso8601, iso8601_is_24_characters_long);
    suite_add_tcase(s, tc_iso8601);

    tcase_add_test(tc_now_ms, now_ms_agrees_with_time_to_the_second);
    suite_add_tcase(s, tc_now_ms);

    tcase_add_test(tc_mono_us, mono_us_never_goes_backwards_and_counts_microseconds);
    suite_add_tcase(s, tc_mono_us);
    return s;
}

MS_SUITE(clock_suite)
