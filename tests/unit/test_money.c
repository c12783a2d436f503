/* lib/money.c: parsing JSON numbers and text into minor units, printing. */
#include "lib/money.h"

#include <check.h>
#include <string.h>

#include "lib/err.h"
#include "tests/unit/suites.h"

static int from_json_text(const char *text, int64_t *out)
{
    cJSON *v = cJSON_Parse(text);
    int rc = ms_money_from_json(v, MS_MONEY_MAX_MINOR, out);

    cJSON_Delete(v);
    return rc;
}

START_TEST(from_json_reads_two_decimals_exactly)
{
    int64_t m = -1;

    ck_assert_int_eq(from_json_text("19.99", &m), MS_OK);
    ck_assert_int_eq(m, 1999);
    ck_assert_int_eq(from_json_text("0.1", &m), MS_OK);
    ck_assert_int_eq(m, 10);
    ck_assert_int_eq(from_json_text("20", &m), MS_OK);
    ck_assert_int_eq(m, 2000);
    ck_assert_int_eq(from_json_text("0", &m), MS_OK);
    ck_assert_int_eq(m, 0);
    ck_assert_int_eq(from_json_text("1.005e2", &m), MS_OK); /* 100.5 */
    ck_assert_int_eq(m, 10050);
    ck_assert_int_eq(from_json_text("999999999.99", &m), MS_OK);
    ck_assert_int_eq(m, MS_MONEY_MAX_MINOR);
}
END_TEST

START_TEST(from_json_refuses_a_third_decimal_negative_too_large_and_non_numbers)
{
    int64_t m = 7;

    ck_assert_int_eq(from_json_text("19.999", &m), MS_EINVALID);
    ck_assert_int_eq(from_json_text("0.001", &m), MS_EINVALID);
    ck_assert_int_eq(from_json_text("-1", &m), MS_EINVALID);
    ck_assert_int_eq(from_json_text("-0.01", &m), MS_EINVALID);
    ck_assert_int_eq(from_json_text("1000000000", &m), MS_EINVALID);
    ck_assert_int_eq(from_json_text("1e300", &m), MS_EINVALID);
    ck_assert_int_eq(from_json_text("\"19.99\"", &m), MS_EINVALID);
    ck_assert_int_eq(from_json_text("null", &m), MS_EINVALID);
    ck_assert_int_eq(from_json_text("true", &m), MS_EINVALID);
    ck_assert_int_eq(ms_money_from_json(NULL, MS_MONEY_MAX_MINOR, &m), MS_EINVALID);
    ck_assert_int_eq(m, 7); /* untouched on failure */
}
END_TEST

START_TEST(from_str_accepts_plain_decimals_only)
{
    int64_t m = -1;

    ck_assert_int_eq(ms_money_from_str("19.99", MS_MONEY_MAX_MINOR, &m), MS_OK);
    ck_assert_int_eq(m, 1999);
    ck_assert_int_eq(ms_money_from_str("0.5", MS_MONEY_MAX_MINOR, &m), MS_OK);
    ck_assert_int_eq(m, 50);
    ck_assert_int_eq(ms_money_from_str("7", MS_MONEY_MAX_MINOR, &m), MS_OK);
    ck_assert_int_eq(m, 700);
    ck_assert_int_eq(ms_money_from_str("999999999.99", MS_MONEY_MAX_MINOR, &m), MS_OK);
    ck_assert_int_eq(m, MS_MONEY_MAX_MINOR);
    const char *bad[] = {
        "",    ".",   "1.",  ".5", "1.234", "-1",         "+1",
        "1e3", "abc", "1,5", " 1", "1 ",    "1000000000", "99999999999999999999999",
        NULL
    };
    for (int i = 0; bad[i]; i++)
        ck_assert_msg(ms_money_from_str(bad[i], MS_MONEY_MAX_MINOR, &m) == MS_EINVALID,
                      "accepted \"%s\"", bad[i]);
    ck_assert_int_eq(ms_money_from_str(NULL, MS_MONEY_MAX_MINOR, &m), MS_EINVALID);
}
END_TEST

START_TEST(format_prints_two_decimals)
{
    char buf[32];

    ck_assert_str_eq(ms_money_format(1999, buf, sizeof buf), "19.99");
    ck_assert_str_eq(ms_money_format(5, buf, sizeof buf), "0.05");
    ck_assert_str_eq(ms_money_format(0, buf, sizeof buf), "0.00");
    ck_assert_str_eq(ms_money_format(MS_MONEY_MAX_MINOR, buf, sizeof buf), "999999999.99");
    ck_assert_str_eq(ms_money_format(-150, buf, sizeof buf), "-1.50");
    ck_assert_str_eq(ms_money_format(INT64_MIN, buf, sizeof buf), "-92233720368547758.08");
}
END_TEST

static Suite *money_suite(void)
{
    Suite *s = suite_create("money");
    TCase *tc;

    tc = tcase_create("from_json");
    tcase_add_test(tc, from_json_reads_two_decimals_exactly);
    tcase_add_test(tc, from_json_refuses_a_third_decimal_negative_too_large_and_non_numbers);
    suite_add_tcase(s, tc);
    tc = tcase_create("from_str");
    tcase_add_test(tc, from_str_accepts_plain_decimals_only);
    suite_add_tcase(s, tc);
    tc = tcase_create("format");
    tcase_add_test(tc, format_prints_two_decimals);
    suite_add_tcase(s, tc);
    return s;
}

MS_SUITE(money_suite)
