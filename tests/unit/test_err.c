/* Unit tests of lib/err.c: every code's value, HTTP status, client message and
 * name, as the table in lib/err.h and SPEC §2 give them. */
#include "lib/err.h"

#include "tests/unit/suites.h"
#include "lib/banned.h"

static const struct {
    int rc;
    int code;
    int status;
    const char *message;
    const char *name;
} table[] = {
    { MS_EBADREQ, -1, 400, "Malformed request", "EBADREQ" },
    { MS_EAUTH, -2, 401, "Authentication required", "EAUTH" },
    { MS_EFORBID, -3, 403, "Insufficient permissions", "EFORBID" },
    { MS_ENOTFOUND, -4, 404, "Resource not found", "ENOTFOUND" },
    { MS_ECONFLICT, -5, 409, "Resource already exists", "ECONFLICT" },
    { MS_EINVALID, -6, 422, "Validation failed", "EINVALID" },
    { MS_EINTERNAL, -7, 500, "Internal server error", "EINTERNAL" },
    { MS_EUNAVAIL, -8, 503, "Service unavailable", "EUNAVAIL" },
    { MS_ETOOBIG, -9, 413, "Request body too large", "ETOOBIG" },
    { MS_EMETHOD, -10, 405, "Method not allowed", "EMETHOD" },
    { MS_EMEDIA, -11, 400, "Content-Type must be application/json", "EMEDIA" },
};
#define NCODES ((int)(sizeof table / sizeof table[0]))

/* ---- the codes ---- */

START_TEST(codes_have_their_documented_negative_values)
{
    ck_assert_int_eq(MS_OK, 0);
    for (int i = 0; i < NCODES; i++)
        ck_assert_msg(table[i].rc == table[i].code, "%s is %d, want %d", table[i].name, table[i].rc,
                      table[i].code);
}
END_TEST

/* ---- ms_err_status ---- */

START_TEST(status_of_each_code_is_its_http_status)
{
    for (int i = 0; i < NCODES; i++)
        ck_assert_msg(ms_err_status(table[i].rc) == table[i].status, "%s gave %d, want %d",
                      table[i].name, ms_err_status(table[i].rc), table[i].status);
}
END_TEST

START_TEST(status_of_ok_is_200)
{
    ck_assert_int_eq(ms_err_status(MS_OK), 200);
}
END_TEST

START_TEST(status_of_an_unknown_code_is_500)
{
    ck_assert_int_eq(ms_err_status(-99), 500);
    ck_assert_int_eq(ms_err_status(-12), 500);
    ck_assert_int_eq(ms_err_status(7), 500);
}
END_TEST

/* ---- ms_err_message ---- */

START_TEST(message_of_each_code_is_its_default_client_message)
{
    for (int i = 0; i < NCODES; i++)
        ck_assert_str_eq(ms_err_message(table[i].rc), table[i].message);
}
END_TEST

START_TEST(message_of_ok_is_ok)
{
    ck_assert_str_eq(ms_err_message(MS_OK), "OK");
}
END_TEST

START_TEST(message_of_an_unknown_code_is_internal_server_error)
{
    ck_assert_str_eq(ms_err_message(-99), "Internal server error");
}
END_TEST

/* ---- ms_err_name ---- */

START_TEST(name_of_each_code_is_its_symbol)
{
    for (int i = 0; i < NCODES; i++)
        ck_assert_str_eq(ms_err_name(table[i].rc), table[i].name);
}
END_TEST

START_TEST(name_of_ok_is_ok)
{
    ck_assert_str_eq(ms_err_name(MS_OK), "OK");
}
END_TEST

START_TEST(name_of_an_unknown_code_is_eunknown)
{
    ck_assert_str_eq(ms_err_name(-99), "EUNKNOWN");
    ck_assert_str_eq(ms_err_name(3), "EUNKNOWN");
}
END_TEST

Suite *err_suite(void);

Suite *err_suite(void)
{
    Suite *s = suite_create("err");
    TCase *codes = tcase_create("codes");
    TCase *status = tcase_create("status");
    TCase *message = tcase_create("message");
    TCase *name = tcase_create("name");

    tcase_add_test(codes, codes_have_their_documented_negative_values);
    suite_add_tcase(s, codes);

    tcase_add_test(status, status_of_each_code_is_its_http_status);
    tcase_add_test(status, status_of_ok_is_200);
    tcase_add_test(status, status_of_an_unknown_code_is_500);
    suite_add_tcase(s, status);

    tcase_add_test(message, message_of_each_code_is_its_default_client_message);
    tcase_add_test(message, message_of_ok_is_ok);
    tcase_add_test(message, message_of_an_unknown_code_is_internal_server_error);
    suite_add_tcase(s, message);

    tcase_add_test(name, name_of_each_code_is_its_symbol);
    tcase_add_test(name, name_of_ok_is_ok);
    tcase_add_test(name, name_of_an_unknown_code_is_eunknown);
    suite_add_tcase(s, name);
    return s;
}

MS_SUITE(err_suite)
