/* Unit tests of lib/json.c: typed lookups that tell an absent key from a null
 * and from a value of the wrong type. */
#include "lib/json.h"

#include <cjson/cJSON.h>

#include "tests/unit/suites.h"
#include "lib/banned.h"

static cJSON *body;

static void setup(void)
{
    body = cJSON_Parse("{\"s\":\"text\",\"empty\":\"\",\"n\":null,\"num\":5,\"t\":true,"
                       "\"f\":false,\"o\":{\"k\":1},\"a\":[1,2],\"Mixed\":\"M\"}");
    ck_assert_ptr_nonnull(body);
}

static void teardown(void)
{
    cJSON_Delete(body);
    body = NULL;
}

/* ---- ms_json_item ---- */

START_TEST(item_returns_the_member_by_exact_name)
{
    const cJSON *it = ms_json_item(body, "num");

    ck_assert_ptr_nonnull(it);
    ck_assert(cJSON_IsNumber(it));
    ck_assert_int_eq(it->valueint, 5);
}
END_TEST

START_TEST(item_is_null_for_an_absent_key)
{
    ck_assert_ptr_null(ms_json_item(body, "missing"));
}
END_TEST

START_TEST(item_is_case_sensitive)
{
    ck_assert_ptr_null(ms_json_item(body, "mixed"));
    ck_assert_ptr_nonnull(ms_json_item(body, "Mixed"));
}
END_TEST

START_TEST(item_of_a_null_object_is_null)
{
    ck_assert_ptr_null(ms_json_item(NULL, "s"));
}
END_TEST

/* ---- ms_json_str ---- */

START_TEST(str_of_a_string_is_ok_with_its_value)
{
    const char *out = NULL;

    ck_assert_int_eq(ms_json_str(body, "s", &out), MS_JSON_OK);
    ck_assert_str_eq(out, "text");
}
END_TEST

START_TEST(str_of_an_empty_string_is_ok)
{
    const char *out = NULL;

    ck_assert_int_eq(ms_json_str(body, "empty", &out), MS_JSON_OK);
    ck_assert_str_eq(out, "");
}
END_TEST

START_TEST(str_of_an_absent_key_is_absent_and_clears_out)
{
    const char *out = "stale";

    ck_assert_int_eq(ms_json_str(body, "missing", &out), MS_JSON_ABSENT);
    ck_assert_ptr_null(out);
}
END_TEST

START_TEST(str_of_null_is_null_and_clears_out)
{
    const char *out = "stale";

    ck_assert_int_eq(ms_json_str(body, "n", &out), MS_JSON_NULL);
    ck_assert_ptr_null(out);
}
END_TEST

START_TEST(str_of_a_number_boolean_object_or_array_is_wrong)
{
    static const char *const keys[] = { "num", "t", "f", "o", "a" };

    for (int i = 0; i < 5; i++) {
        const char *out = "stale";

        ck_assert_msg(ms_json_str(body, keys[i], &out) == MS_JSON_WRONG, "key %s", keys[i]);
        ck_assert_ptr_null(out);
    }
}
END_TEST

START_TEST(str_is_case_sensitive)
{
    const char *out;

    ck_assert_int_eq(ms_json_str(body, "S", &out), MS_JSON_ABSENT);
}
END_TEST

/* ---- ms_json_obj ---- */

START_TEST(obj_of_an_object_is_ok_with_the_item)
{
    const cJSON *out = NULL;

    ck_assert_int_eq(ms_json_obj(body, "o", &out), MS_JSON_OK);
    ck_assert_ptr_eq(out, cJSON_GetObjectItemCaseSensitive(body, "o"));
}
END_TEST

START_TEST(obj_of_an_absent_key_is_absent)
{
    const cJSON *out = body;

    ck_assert_int_eq(ms_json_obj(body, "missing", &out), MS_JSON_ABSENT);
    ck_assert_ptr_null(out);
}
END_TEST

START_TEST(obj_of_null_is_null)
{
    const cJSON *out = body;

    ck_assert_int_eq(ms_json_obj(body, "n", &out), MS_JSON_NULL);
    ck_assert_ptr_null(out);
}
END_TEST

START_TEST(obj_of_an_array_string_number_or_boolean_is_wrong)
{
    static const char *const keys[] = { "a", "s", "num", "t" };

    for (int i = 0; i < 4; i++) {
        const cJSON *out = body;

        ck_assert_msg(ms_json_obj(body, keys[i], &out) == MS_JSON_WRONG, "key %s", keys[i]);
        ck_assert_ptr_null(out);
    }
}
END_TEST

Suite *json_suite(void);

Suite *json_suite(void)
{
    Suite *s = suite_create("json");
    TCase *item = tcase_create("item");
    TCase *str = tcase_create("str");
    TCase *obj = tcase_create("obj");

    tcase_add_checked_fixture(item, setup, teardown);
    tcase_add_test(item, item_returns_the_member_by_exact_name);
    tcase_add_test(item, item_is_null_for_an_absent_key);
    tcase_add_test(item, item_is_case_sensitive);
    tcase_add_test(item, item_of_a_null_object_is_null);
    suite_add_tcase(s, item);

    tcase_add_checked_fixture(str, setup, teardown);
    tcase_add_test(str, str_of_a_string_is_ok_with_its_value);
    tcase_add_test(str, str_of_an_empty_string_is_ok);
    tcase_add_test(str, str_of_an_absent_key_is_absent_and_clears_out);
    tcase_add_test(str, str_of_null_is_null_and_clears_out);
    tcase_add_test(str, str_of_a_number_boolean_object_or_array_is_wrong);
    tcase_add_test(str, str_is_case_sensitive);
    suite_add_tcase(s, str);

    tcase_add_checked_fixture(obj, setup, teardown);
    tcase_add_test(obj, obj_of_an_object_is_ok_with_the_item);
    tcase_add_test(obj, obj_of_an_absent_key_is_absent);
    tcase_add_test(obj, obj_of_null_is_null);
    tcase_add_test(obj, obj_of_an_array_string_number_or_boolean_is_wrong);
    suite_add_tcase(s, obj);
    return s;
}

MS_SUITE(json_suite)
