/* Unit tests of fcgi-apps/user/input.c: the user service's request bodies
 * parsed from cJSON, with the Node service's messages (SPEC §3). A password
 * never appears as an error's "value". */
#include "fcgi-apps/user/user.h"

#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "lib/arena.h"
#include "lib/err.h"
#include "lib/http.h"
#include "tests/unit/suites.h"
#include "lib/banned.h"

#define MSG_EMAIL            "Must be a valid email"
#define MSG_PW_LEN           "Password must be at least 8 characters"
#define MSG_NEW_PW_LEN       "New password must be at least 8 characters"
#define MSG_PW_MAX           "Password must be at most 72 bytes"
#define MSG_PW_RULE          "Password must contain uppercase, lowercase, number and special character"
#define MSG_NAME             "Name must be between 2 and 255 characters"
#define MSG_PHONE            "Must be a valid phone number"
#define MSG_PW_REQUIRED      "Password is required"
#define MSG_CURRENT_REQUIRED "Current password is required"
#define MSG_STRING           "Must be a string"
#define MSG_GENDER           "Gender must be one of male, female, other, prefer_not_to_say"
#define MSG_DATE             "Date of birth must be a valid date (YYYY-MM-DD)"
#define MSG_PREFS \
    "Notification preferences must be an object of booleans (email, sms, push, marketing)"

#define GOOD_PW "Passw0rd!"

enum {
    P_NAME,
    P_PHONE,
    P_BIO,
    P_AVATAR,
    P_DOB,
    P_GENDER,
    P_ADDR1,
    P_ADDR2,
    P_CITY,
    P_STATE,
    P_COUNTRY,
    P_POSTAL,
    P_PREFS
};

static struct ms_arena *arena;
static struct ms_req req;

static void setup(void)
{
    arena = ms_arena_new(0);
    ck_assert_ptr_nonnull(arena);
    ms_http_req_init(&req, arena, NULL);
}

static void teardown(void)
{
    ms_arena_free(arena);
    arena = NULL;
}

/* text parsed as JSON, freed with the arena. */
static const cJSON *body(const char *text)
{
    cJSON *j = cJSON_Parse(text);

    ck_assert_msg(j != NULL, "test body is not JSON: %s", text);
    ms_arena_defer(arena, ms_http_json_delete, j);
    return j;
}

/* n copies of the UTF-8 character c, in the arena. */
static const char *rep(const char *c, size_t n)
{
    size_t len = strlen(c);
    char *s = ms_arena_alloc(arena, n * len + 1);

    for (size_t i = 0; i < n; i++)
        memcpy(s + i * len, c, len);
    s[n * len] = '\0';
    return s;
}

/* The same as a JSON string literal. */
static const char *rep_json(const char *c, size_t n)
{
    return ms_arena_printf(arena, "\"%s\"", rep(c, n));
}

static const char *obj1(const char *key, const char *json_value)
{
    return ms_arena_printf(arena, "{\"%s\":%s}", key, json_value);
}

/* The i-th recorded error. */
static const cJSON *verr(int i)
{
    ck_assert_int_lt(i, ms_http_verr_count(&req));
    return cJSON_GetArrayItem(req.verrs, i);
}

static const char *field_of(const cJSON *e)
{
    return cJSON_GetObjectItemCaseSensitive(e, "field")->valuestring;
}

static const char *message_of(const cJSON *e)
{
    return cJSON_GetObjectItemCaseSensitive(e, "message")->valuestring;
}

static const cJSON *value_of(const cJSON *e)
{
    return cJSON_GetObjectItemCaseSensitive(e, "value");
}

/* Asserts that error i is field/message. */
static void assert_verr(int i, const char *field, const char *message)
{
    const cJSON *e = verr(i);

    ck_assert_msg(strcmp(field_of(e), field) == 0 && strcmp(message_of(e), message) == 0,
                  "error %d is %s: \"%s\", want %s: \"%s\"", i, field_of(e), message_of(e), field,
                  message);
}

/* Asserts exactly one error, field/message, and returns it. */
static const cJSON *assert_only_verr(const char *field, const char *message)
{
    ck_assert_int_eq(ms_http_verr_count(&req), 1);
    assert_verr(0, field, message);
    return verr(0);
}

/* Asserts that no error carries a value and that the password text appears
 * nowhere in the errors. */
static void assert_password_not_echoed(const char *password)
{
    char *text = req.verrs ? cJSON_PrintUnformatted(req.verrs) : NULL;

    for (int i = 0; i < ms_http_verr_count(&req); i++) {
        const char *f = field_of(verr(i));

        if (strstr(f, "assword"))
            ck_assert_msg(value_of(verr(i)) == NULL, "%s error carries a value", f);
    }
    if (text) {
        ck_assert_msg(strstr(text, password) == NULL, "password in errors: %s", text);
        cJSON_free(text);
    }
}

/* ---- user_parse_register ---- */

static int parse_register(const char *text, struct user_register_in *in)
{
    return user_parse_register(&req, body(text), in);
}

START_TEST(register_happy_path_normalises_email_and_trims_name)
{
    struct user_register_in in;

    ck_assert_int_eq(
        parse_register("{\"email\":\"John.Doe+shop@GoogleMail.com\",\"password\":\"" GOOD_PW
                       "\",\"name\":\"  Alice Smith \\t\","
                       "\"phone\":\"+14155552671\"}",
                       &in),
        MS_OK);
    ck_assert_int_eq(ms_http_verr_count(&req), 0);
    ck_assert_str_eq(in.email, "johndoe@gmail.com");
    ck_assert_str_eq(in.password, GOOD_PW);
    ck_assert_str_eq(in.name, "Alice Smith");
    ck_assert_str_eq(in.phone, "+14155552671");
}
END_TEST

START_TEST(register_lower_cases_an_ordinary_email)
{
    struct user_register_in in;

    ck_assert_int_eq(parse_register("{\"email\":\"Bob@Example.COM\",\"password\":\"" GOOD_PW
                                    "\",\"name\":\"Bob\"}",
                                    &in),
                     MS_OK);
    ck_assert_str_eq(in.email, "bob@example.com");
    ck_assert_ptr_null(in.phone);
}
END_TEST

START_TEST(register_with_an_invalid_email_echoes_it)
{
    struct user_register_in in;
    const cJSON *e;

    ck_assert_int_eq(parse_register("{\"email\":\"not-an-email\",\"password\":\"" GOOD_PW
                                    "\",\"name\":\"Bob\"}",
                                    &in),
                     MS_EINVALID);
    e = assert_only_verr("email", MSG_EMAIL);
    ck_assert_str_eq(value_of(e)->valuestring, "not-an-email");
}
END_TEST

START_TEST(register_without_email_has_no_value)
{
    struct user_register_in in;

    ck_assert_int_eq(parse_register("{\"password\":\"" GOOD_PW "\",\"name\":\"Bob\"}", &in),
                     MS_EINVALID);
    ck_assert_ptr_null(value_of(assert_only_verr("email", MSG_EMAIL)));
}
END_TEST

START_TEST(register_with_a_numeric_email_echoes_the_number)
{
    struct user_register_in in;

    ck_assert_int_eq(
        parse_register("{\"email\":5,\"password\":\"" GOOD_PW "\",\"name\":\"Bob\"}", &in),
        MS_EINVALID);
    ck_assert_int_eq(value_of(assert_only_verr("email", MSG_EMAIL))->valueint, 5);
}
END_TEST

START_TEST(register_with_an_email_over_255_characters_is_refused)
{
    struct user_register_in in;
    /* 64 + 1 + 63 + 1 + 63 + 1 + 59 + 4 = 256 characters */
    const char *email = ms_arena_printf(arena, "%s@%s.%s.%s.com", rep("a", 64), rep("b", 63),
                                        rep("c", 63), rep("d", 59));

    ck_assert_uint_eq(strlen(email), 256);
    ck_assert_int_eq(parse_register(ms_arena_printf(arena,
                                                    "{\"email\":\"%s\",\"password\":\"" GOOD_PW
                                                    "\",\"name\":\"Bob\"}",
                                                    email),
                                    &in),
                     MS_EINVALID);
    assert_only_verr("email", MSG_EMAIL);
}
END_TEST

START_TEST(register_with_a_short_password_says_so_without_the_value)
{
    struct user_register_in in;

    ck_assert_int_eq(parse_register("{\"email\":\"a@b.co\",\"password\":\"Ab1!x\","
                                    "\"name\":\"Bob\"}",
                                    &in),
                     MS_EINVALID);
    assert_only_verr("password", MSG_PW_LEN);
    assert_password_not_echoed("Ab1!x");
}
END_TEST

START_TEST(register_with_a_password_missing_a_class_states_the_rule)
{
    static const char *const weak[] = { "password1!", "PASSWORD1!", "Password!!", "Password12" };

    for (int i = 0; i < 4; i++) {
        struct user_register_in in;

        ms_http_req_init(&req, arena, NULL);
        ck_assert_int_eq(parse_register(ms_arena_printf(arena,
                                                        "{\"email\":\"a@b.co\",\"password\":"
                                                        "\"%s\",\"name\":\"Bob\"}",
                                                        weak[i]),
                                        &in),
                         MS_EINVALID);
        assert_only_verr("password", MSG_PW_RULE);
        assert_password_not_echoed(weak[i]);
    }
}
END_TEST

START_TEST(register_with_a_73_byte_password_is_refused_not_cut)
{
    struct user_register_in in;
    const char *pw = ms_arena_printf(arena, "Aa1!%s", rep("x", 69));

    ck_assert_uint_eq(strlen(pw), 73);
    ck_assert_int_eq(parse_register(ms_arena_printf(arena,
                                                    "{\"email\":\"a@b.co\",\"password\":"
                                                    "\"%s\",\"name\":\"Bob\"}",
                                                    pw),
                                    &in),
                     MS_EINVALID);
    assert_only_verr("password", MSG_PW_MAX);
    assert_password_not_echoed(pw);
}
END_TEST

START_TEST(register_with_a_72_byte_password_is_accepted)
{
    struct user_register_in in;
    const char *pw = ms_arena_printf(arena, "Aa1!%s", rep("x", 68));

    ck_assert_uint_eq(strlen(pw), 72);
    ck_assert_int_eq(parse_register(ms_arena_printf(arena,
                                                    "{\"email\":\"a@b.co\",\"password\":"
                                                    "\"%s\",\"name\":\"Bob\"}",
                                                    pw),
                                    &in),
                     MS_OK);
}
END_TEST

START_TEST(register_without_a_password_gives_length_and_rule_errors)
{
    struct user_register_in in;

    ck_assert_int_eq(parse_register("{\"email\":\"a@b.co\",\"name\":\"Bob\"}", &in), MS_EINVALID);
    ck_assert_int_eq(ms_http_verr_count(&req), 2);
    assert_verr(0, "password", MSG_PW_LEN);
    assert_verr(1, "password", MSG_PW_RULE);
    ck_assert_ptr_null(value_of(verr(0)));
    ck_assert_ptr_null(value_of(verr(1)));
}
END_TEST

START_TEST(register_with_a_numeric_password_never_echoes_it)
{
    struct user_register_in in;

    ck_assert_int_eq(parse_register("{\"email\":\"a@b.co\",\"password\":987654321,"
                                    "\"name\":\"Bob\"}",
                                    &in),
                     MS_EINVALID);
    ck_assert_int_ge(ms_http_verr_count(&req), 1);
    assert_password_not_echoed("987654321");
}
END_TEST

START_TEST(register_counts_password_length_in_characters)
{
    struct user_register_in in;

    /* 7 characters, 9 bytes: too short */
    ck_assert_int_eq(parse_register("{\"email\":\"a@b.co\",\"password\":\"A\xc3\xa4\xc3\xa4"
                                    "1!bc\",\"name\":\"Bob\"}",
                                    &in),
                     MS_EINVALID);
    assert_only_verr("password", MSG_PW_LEN);
}
END_TEST

START_TEST(register_with_a_one_character_name_after_trimming_echoes_the_raw_name)
{
    struct user_register_in in;
    const cJSON *e;

    ck_assert_int_eq(parse_register("{\"email\":\"a@b.co\",\"password\":\"" GOOD_PW
                                    "\",\"name\":\"  A  \"}",
                                    &in),
                     MS_EINVALID);
    e = assert_only_verr("name", MSG_NAME);
    ck_assert_str_eq(value_of(e)->valuestring, "  A  ");
}
END_TEST

START_TEST(register_name_of_255_characters_is_accepted_and_256_refused)
{
    struct user_register_in in;

    ck_assert_int_eq(parse_register(ms_arena_printf(arena,
                                                    "{\"email\":\"a@b.co\",\"password\":"
                                                    "\"" GOOD_PW "\",\"name\":%s}",
                                                    rep_json("n", 255)),
                                    &in),
                     MS_OK);
    ck_assert_uint_eq(strlen(in.name), 255);
    ms_http_req_init(&req, arena, NULL);
    ck_assert_int_eq(parse_register(ms_arena_printf(arena,
                                                    "{\"email\":\"a@b.co\",\"password\":"
                                                    "\"" GOOD_PW "\",\"name\":%s}",
                                                    rep_json("n", 256)),
                                    &in),
                     MS_EINVALID);
    assert_only_verr("name", MSG_NAME);
}
END_TEST

START_TEST(register_name_length_counts_characters_not_bytes)
{
    struct user_register_in in;

    /* 255 two-byte characters: 510 bytes */
    ck_assert_int_eq(parse_register(ms_arena_printf(arena,
                                                    "{\"email\":\"a@b.co\",\"password\":"
                                                    "\"" GOOD_PW "\",\"name\":%s}",
                                                    rep_json("\xc3\xa9", 255)),
                                    &in),
                     MS_OK);
    ck_assert_uint_eq(strlen(in.name), 510);
}
END_TEST

START_TEST(register_without_a_name_or_with_a_number_is_refused)
{
    struct user_register_in in;

    ck_assert_int_eq(parse_register("{\"email\":\"a@b.co\",\"password\":\"" GOOD_PW "\"}", &in),
                     MS_EINVALID);
    ck_assert_ptr_null(value_of(assert_only_verr("name", MSG_NAME)));
    ms_http_req_init(&req, arena, NULL);
    ck_assert_int_eq(
        parse_register("{\"email\":\"a@b.co\",\"password\":\"" GOOD_PW "\",\"name\":42}", &in),
        MS_EINVALID);
    ck_assert_int_eq(value_of(assert_only_verr("name", MSG_NAME))->valueint, 42);
}
END_TEST

START_TEST(register_with_a_bad_phone_echoes_it)
{
    static const char *const bad[] = { "\"0123456\"",    "\"+1\"", "\"12345678901234567\"",
                                       "\"+1 415 555\"", "\"\"",   "14155552671" };

    for (int i = 0; i < 6; i++) {
        struct user_register_in in;

        ms_http_req_init(&req, arena, NULL);
        ck_assert_int_eq(
            parse_register(ms_arena_printf(arena,
                                           "{\"email\":\"a@b.co\",\"password\":\"" GOOD_PW
                                           "\",\"name\":\"Bob\","
                                           "\"phone\":%s}",
                                           bad[i]),
                           &in),
            MS_EINVALID);
        ck_assert_ptr_nonnull(value_of(assert_only_verr("phone", MSG_PHONE)));
    }
}
END_TEST

START_TEST(register_reports_every_problem_in_field_order)
{
    struct user_register_in in;

    ck_assert_int_eq(parse_register("{\"email\":\"x\",\"password\":\"short\",\"name\":\"B\","
                                    "\"phone\":\"abc\"}",
                                    &in),
                     MS_EINVALID);
    ck_assert_int_eq(ms_http_verr_count(&req), 5);
    assert_verr(0, "email", MSG_EMAIL);
    assert_verr(1, "password", MSG_PW_LEN);
    assert_verr(2, "password", MSG_PW_RULE);
    assert_verr(3, "name", MSG_NAME);
    assert_verr(4, "phone", MSG_PHONE);
    assert_password_not_echoed("short");
}
END_TEST

/* ---- user_parse_login ---- */

static int parse_login(const char *text, struct user_login_in *in)
{
    return user_parse_login(&req, body(text), in);
}

START_TEST(login_happy_path_normalises_the_email)
{
    struct user_login_in in;

    ck_assert_int_eq(parse_login("{\"email\":\"J.Doe@gmail.com\",\"password\":\"anything\"}", &in),
                     MS_OK);
    ck_assert_str_eq(in.email, "jdoe@gmail.com");
    ck_assert_str_eq(in.password, "anything");
}
END_TEST

START_TEST(login_without_a_password_is_password_is_required)
{
    struct user_login_in in;

    ck_assert_int_eq(parse_login("{\"email\":\"a@b.co\"}", &in), MS_EINVALID);
    ck_assert_ptr_null(value_of(assert_only_verr("password", MSG_PW_REQUIRED)));
}
END_TEST

START_TEST(login_with_an_empty_or_non_string_password_is_password_is_required)
{
    struct user_login_in in;

    ck_assert_int_eq(parse_login("{\"email\":\"a@b.co\",\"password\":\"\"}", &in), MS_EINVALID);
    assert_only_verr("password", MSG_PW_REQUIRED);
    ms_http_req_init(&req, arena, NULL);
    ck_assert_int_eq(parse_login("{\"email\":\"a@b.co\",\"password\":12345678}", &in), MS_EINVALID);
    assert_only_verr("password", MSG_PW_REQUIRED);
    assert_password_not_echoed("12345678");
}
END_TEST

START_TEST(login_with_a_73_byte_password_checks_its_first_72_bytes)
{
    struct user_login_in in;
    const char *pw = rep_json("p", 73);

    ck_assert_int_eq(
        parse_login(ms_arena_printf(arena, "{\"email\":\"a@b.co\",\"password\":%s}", pw), &in),
        MS_OK);
    ck_assert_int_eq(ms_http_verr_count(&req), 0);
    ck_assert_uint_eq(strlen(in.password), 72);
    ck_assert_int_eq(strspn(in.password, "p"), 72);
}
END_TEST

START_TEST(login_with_a_bad_email_reports_both_fields)
{
    struct user_login_in in;

    ck_assert_int_eq(parse_login("{\"email\":\"nope\"}", &in), MS_EINVALID);
    ck_assert_int_eq(ms_http_verr_count(&req), 2);
    assert_verr(0, "email", MSG_EMAIL);
    assert_verr(1, "password", MSG_PW_REQUIRED);
}
END_TEST

/* ---- user_parse_password ---- */

static int parse_password(const char *text, struct user_password_in *in)
{
    return user_parse_password(&req, body(text), in);
}

START_TEST(password_happy_path_keeps_both_passwords)
{
    struct user_password_in in;

    ck_assert_int_eq(
        parse_password("{\"currentPassword\":\"old\",\"newPassword\":\"" GOOD_PW "\"}", &in),
        MS_OK);
    ck_assert_str_eq(in.current, "old");
    ck_assert_str_eq(in.next, GOOD_PW);
}
END_TEST

START_TEST(password_without_the_current_one_is_current_password_is_required)
{
    struct user_password_in in;

    ck_assert_int_eq(parse_password("{\"newPassword\":\"" GOOD_PW "\"}", &in), MS_EINVALID);
    ck_assert_ptr_null(value_of(assert_only_verr("currentPassword", MSG_CURRENT_REQUIRED)));
    ms_http_req_init(&req, arena, NULL);
    ck_assert_int_eq(
        parse_password("{\"currentPassword\":\"\",\"newPassword\":\"" GOOD_PW "\"}", &in),
        MS_EINVALID);
    assert_only_verr("currentPassword", MSG_CURRENT_REQUIRED);
}
END_TEST

START_TEST(password_with_a_short_new_one_uses_the_new_password_message)
{
    struct user_password_in in;

    ck_assert_int_eq(parse_password("{\"currentPassword\":\"old-secret\","
                                    "\"newPassword\":\"Ab1!\"}",
                                    &in),
                     MS_EINVALID);
    assert_only_verr("newPassword", MSG_NEW_PW_LEN);
    assert_password_not_echoed("Ab1!");
    assert_password_not_echoed("old-secret");
}
END_TEST

START_TEST(password_with_a_weak_or_too_long_new_one_is_refused)
{
    struct user_password_in in;
    const char *long_pw = ms_arena_printf(arena, "Aa1!%s", rep("y", 70));

    ck_assert_int_eq(parse_password("{\"currentPassword\":\"old\","
                                    "\"newPassword\":\"alllowercase1!\"}",
                                    &in),
                     MS_EINVALID);
    assert_only_verr("newPassword", MSG_PW_RULE);
    ms_http_req_init(&req, arena, NULL);
    ck_assert_int_eq(parse_password(ms_arena_printf(arena,
                                                    "{\"currentPassword\":\"old\","
                                                    "\"newPassword\":\"%s\"}",
                                                    long_pw),
                                    &in),
                     MS_EINVALID);
    assert_only_verr("newPassword", MSG_PW_MAX);
}
END_TEST

/* ---- user_parse_profile ---- */

static int parse_profile(const char *text, struct user_profile_in *in)
{
    return user_parse_profile(&req, body(text), in);
}

START_TEST(profile_field_table_is_in_statement_parameter_order)
{
    static const char *const want[USER_PROFILE_NFIELDS] = {
        "name",
        "phone",
        "bio",
        "avatar_url",
        "date_of_birth",
        "gender",
        "address_line1",
        "address_line2",
        "city",
        "state",
        "country",
        "postal_code",
        "notification_preferences",
    };

    for (int i = 0; i < USER_PROFILE_NFIELDS; i++)
        ck_assert_str_eq(user_profile_fields[i], want[i]);
}
END_TEST

START_TEST(profile_of_an_empty_body_changes_nothing)
{
    struct user_profile_in in;

    ck_assert_int_eq(parse_profile("{}", &in), MS_OK);
    for (int i = 0; i < USER_PROFILE_NFIELDS; i++) {
        ck_assert_int_eq(in.present[i], 0);
        ck_assert_ptr_null(in.values[i]);
    }
}
END_TEST

START_TEST(profile_takes_every_valid_field)
{
    static const char *const want[USER_PROFILE_NFIELDS] = {
        "Carol",
        "+447911123456",
        "Hi",
        "https://x.io/a.png",
        "1990-02-28",
        "female",
        "1 Main St",
        "Apt 2",
        "Springfield",
        "IL",
        "US",
        "62701",
        "{\"email\":true}",
    };
    struct user_profile_in in;

    ck_assert_int_eq(parse_profile("{\"name\":\" Carol \",\"phone\":\"+447911123456\","
                                   "\"bio\":\"Hi\",\"avatar_url\":\"https://x.io/a.png\","
                                   "\"date_of_birth\":\"1990-02-28\",\"gender\":\"female\","
                                   "\"address_line1\":\"1 Main St\",\"address_line2\":\"Apt 2\","
                                   "\"city\":\"Springfield\",\"state\":\"IL\","
                                   "\"country\":\"US\",\"postal_code\":\"62701\","
                                   "\"notification_preferences\":{\"email\":true}}",
                                   &in),
                     MS_OK);
    for (int i = 0; i < USER_PROFILE_NFIELDS; i++)
        ck_assert_msg(in.present[i] && in.values[i] && strcmp(in.values[i], want[i]) == 0,
                      "%s: %s, want %s", user_profile_fields[i],
                      in.values[i] ? in.values[i] : "(null)", want[i]);
    ck_assert_ptr_eq(in.values[P_NAME], in.name);
}
END_TEST

START_TEST(profile_present_null_clears_a_text_field)
{
    static const int fields[] = { P_PHONE, P_BIO,  P_AVATAR, P_DOB,     P_GENDER, P_ADDR1,
                                  P_ADDR2, P_CITY, P_STATE,  P_COUNTRY, P_POSTAL };

    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        struct user_profile_in in;
        int f = fields[i];

        ms_http_req_init(&req, arena, NULL);
        ck_assert_msg(parse_profile(obj1(user_profile_fields[f], "null"), &in) == MS_OK,
                      "%s: null refused", user_profile_fields[f]);
        ck_assert_int_eq(in.present[f], 1);
        ck_assert_ptr_null(in.values[f]);
    }
}
END_TEST

START_TEST(profile_absent_fields_are_not_present)
{
    struct user_profile_in in;

    ck_assert_int_eq(parse_profile("{\"bio\":\"x\"}", &in), MS_OK);
    ck_assert_int_eq(in.present[P_BIO], 1);
    ck_assert_int_eq(in.present[P_CITY], 0);
    ck_assert_int_eq(in.present[P_NAME], 0);
}
END_TEST

START_TEST(profile_null_name_is_refused)
{
    struct user_profile_in in;

    ck_assert_int_eq(parse_profile("{\"name\":null}", &in), MS_EINVALID);
    ck_assert(cJSON_IsNull(value_of(assert_only_verr("name", MSG_NAME))));
    ck_assert_ptr_null(in.values[P_NAME]);
}
END_TEST

START_TEST(profile_short_name_is_refused)
{
    struct user_profile_in in;

    ck_assert_int_eq(parse_profile("{\"name\":\" x \"}", &in), MS_EINVALID);
    assert_only_verr("name", MSG_NAME);
}
END_TEST

/* Sends {name: value} to the profile parser and expects "Must be a string"
 * with the value echoed. */
static void assert_not_a_string(const char *name, const char *value)
{
    struct user_profile_in in;
    char *want = cJSON_PrintUnformatted(body(value));
    char *got;

    ms_http_req_init(&req, arena, NULL);
    ck_assert_int_eq(parse_profile(obj1(name, value), &in), MS_EINVALID);
    got = cJSON_PrintUnformatted(value_of(assert_only_verr(name, MSG_STRING)));
    ck_assert_msg(strcmp(got, want) == 0, "%s echoed %s, want %s", name, got, want);
    cJSON_free(got);
    cJSON_free(want);
}

START_TEST(profile_text_field_of_the_wrong_type_is_must_be_a_string)
{
    static const int fields[] = { P_PHONE, P_BIO,  P_AVATAR, P_DOB,     P_GENDER, P_ADDR1,
                                  P_ADDR2, P_CITY, P_STATE,  P_COUNTRY, P_POSTAL };
    static const char *const values[] = { "5", "true", "[\"a\"]", "{\"a\":1}" };

    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        for (int v = 0; v < 4; v++)
            assert_not_a_string(user_profile_fields[fields[i]], values[v]);
}
END_TEST

START_TEST(profile_bio_of_500_characters_is_accepted_and_501_refused)
{
    struct user_profile_in in;

    ck_assert_int_eq(parse_profile(obj1("bio", rep_json("\xc3\xa9", 500)), &in), MS_OK);
    ms_http_req_init(&req, arena, NULL);
    ck_assert_int_eq(parse_profile(obj1("bio", rep_json("b", 501)), &in), MS_EINVALID);
    assert_only_verr("bio", "Bio must be less than 500 characters");
}
END_TEST

START_TEST(profile_avatar_url_over_500_characters_is_refused)
{
    struct user_profile_in in;

    ck_assert_int_eq(parse_profile(obj1("avatar_url", rep_json("u", 500)), &in), MS_OK);
    ms_http_req_init(&req, arena, NULL);
    ck_assert_int_eq(parse_profile(obj1("avatar_url", rep_json("u", 501)), &in), MS_EINVALID);
    assert_only_verr("avatar_url", "Avatar URL must be at most 500 characters");
}
END_TEST

START_TEST(profile_address_lines_over_255_characters_are_refused)
{
    struct user_profile_in in;

    ck_assert_int_eq(parse_profile(obj1("address_line1", rep_json("a", 255)), &in), MS_OK);
    ms_http_req_init(&req, arena, NULL);
    ck_assert_int_eq(parse_profile(obj1("address_line1", rep_json("a", 256)), &in), MS_EINVALID);
    assert_only_verr("address_line1", "Address must be at most 255 characters");
    ms_http_req_init(&req, arena, NULL);
    ck_assert_int_eq(parse_profile(obj1("address_line2", rep_json("a", 256)), &in), MS_EINVALID);
    assert_only_verr("address_line2", "Address must be at most 255 characters");
}
END_TEST

START_TEST(profile_city_state_country_over_100_characters_are_refused)
{
    static const char *const fields[] = { "city", "state", "country" };

    for (int i = 0; i < 3; i++) {
        struct user_profile_in in;

        ms_http_req_init(&req, arena, NULL);
        ck_assert_int_eq(parse_profile(obj1(fields[i], rep_json("c", 100)), &in), MS_OK);
        ms_http_req_init(&req, arena, NULL);
        ck_assert_int_eq(parse_profile(obj1(fields[i], rep_json("c", 101)), &in), MS_EINVALID);
        assert_only_verr(fields[i], "Must be at most 100 characters");
    }
}
END_TEST

START_TEST(profile_postal_code_over_20_characters_is_refused)
{
    struct user_profile_in in;

    ck_assert_int_eq(parse_profile(obj1("postal_code", rep_json("9", 20)), &in), MS_OK);
    ms_http_req_init(&req, arena, NULL);
    ck_assert_int_eq(parse_profile(obj1("postal_code", rep_json("9", 21)), &in), MS_EINVALID);
    assert_only_verr("postal_code", "Postal code must be at most 20 characters");
}
END_TEST

START_TEST(profile_gender_must_be_one_of_four)
{
    static const char *const ok[] = { "male", "female", "other", "prefer_not_to_say" };
    struct user_profile_in in;

    for (int i = 0; i < 4; i++) {
        ms_http_req_init(&req, arena, NULL);
        ck_assert_int_eq(
            parse_profile(obj1("gender", ms_arena_printf(arena, "\"%s\"", ok[i])), &in), MS_OK);
        ck_assert_msg(strcmp(in.values[P_GENDER], ok[i]) == 0, "gender %s", ok[i]);
    }
    ms_http_req_init(&req, arena, NULL);
    ck_assert_int_eq(parse_profile("{\"gender\":\"Male\"}", &in), MS_EINVALID);
    ck_assert_str_eq(value_of(assert_only_verr("gender", MSG_GENDER))->valuestring, "Male");
}
END_TEST

START_TEST(profile_date_of_birth_must_be_a_real_date)
{
    static const char *const bad[] = { "\"1990-02-30\"", "\"1990-13-01\"", "\"1990/02/28\"",
                                       "\"90-02-28\"",   "\"1990-2-28\"",  "\"\"",
                                       "\"0999-01-01\"", "\"2023-02-29\"" };
    struct user_profile_in in;

    ck_assert_int_eq(parse_profile("{\"date_of_birth\":\"2024-02-29\"}", &in), MS_OK);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ms_http_req_init(&req, arena, NULL);
        ck_assert_msg(parse_profile(obj1("date_of_birth", bad[i]), &in) == MS_EINVALID,
                      "accepted %s", bad[i]);
        assert_only_verr("date_of_birth", MSG_DATE);
    }
}
END_TEST

START_TEST(profile_phone_is_checked_like_register)
{
    struct user_profile_in in;

    ck_assert_int_eq(parse_profile("{\"phone\":\"0044 20\"}", &in), MS_EINVALID);
    assert_only_verr("phone", MSG_PHONE);
}
END_TEST

START_TEST(profile_notification_preferences_takes_an_object_of_known_booleans)
{
    struct user_profile_in in;

    ck_assert_int_eq(parse_profile("{\"notification_preferences\":{\"email\":false,\"sms\":true,"
                                   "\"push\":false,\"marketing\":true}}",
                                   &in),
                     MS_OK);
    ck_assert_str_eq(in.prefs_json, "{\"email\":false,\"sms\":true,\"push\":false,"
                                    "\"marketing\":true}");
    ck_assert_ptr_eq(in.values[P_PREFS], in.prefs_json);
}
END_TEST

START_TEST(profile_notification_preferences_may_be_an_empty_object)
{
    struct user_profile_in in;

    ck_assert_int_eq(parse_profile("{\"notification_preferences\":{}}", &in), MS_OK);
    ck_assert_str_eq(in.prefs_json, "{}");
}
END_TEST

START_TEST(profile_notification_preferences_refuses_unknown_keys_and_non_booleans)
{
    static const char *const bad[] = { "{\"fax\":true}", "{\"email\":\"yes\"}",
                                       "{\"email\":1}",  "{\"email\":null}",
                                       "[true]",         "\"email\"",
                                       "true",           "null" };

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct user_profile_in in;

        ms_http_req_init(&req, arena, NULL);
        ck_assert_msg(parse_profile(obj1("notification_preferences", bad[i]), &in) == MS_EINVALID,
                      "accepted %s", bad[i]);
        assert_only_verr("notification_preferences", MSG_PREFS);
        ck_assert_ptr_null(in.values[P_PREFS]);
    }
}
END_TEST

START_TEST(profile_reports_every_bad_field)
{
    struct user_profile_in in;

    ck_assert_int_eq(parse_profile("{\"name\":\"A\",\"bio\":7,\"gender\":\"x\","
                                   "\"date_of_birth\":\"1990-02-30\",\"city\":\"ok\"}",
                                   &in),
                     MS_EINVALID);
    ck_assert_int_eq(ms_http_verr_count(&req), 4);
    assert_verr(0, "name", MSG_NAME);
    assert_verr(1, "bio", MSG_STRING);
    assert_verr(2, "date_of_birth", MSG_DATE);
    assert_verr(3, "gender", MSG_GENDER);
}
END_TEST

Suite *user_input_suite(void);

Suite *user_input_suite(void)
{
    Suite *s = suite_create("user_input");
    TCase *reg = tcase_create("parse_register");
    TCase *login = tcase_create("parse_login");
    TCase *pw = tcase_create("parse_password");
    TCase *profile = tcase_create("parse_profile");

    tcase_add_checked_fixture(reg, setup, teardown);
    tcase_add_test(reg, register_happy_path_normalises_email_and_trims_name);
    tcase_add_test(reg, register_lower_cases_an_ordinary_email);
    tcase_add_test(reg, register_with_an_invalid_email_echoes_it);
    tcase_add_test(reg, register_without_email_has_no_value);
    tcase_add_test(reg, register_with_a_numeric_email_echoes_the_number);
    tcase_add_test(reg, register_with_an_email_over_255_characters_is_refused);
    tcase_add_test(reg, register_with_a_short_password_says_so_without_the_value);
    tcase_add_test(reg, register_with_a_password_missing_a_class_states_the_rule);
    tcase_add_test(reg, register_with_a_73_byte_password_is_refused_not_cut);
    tcase_add_test(reg, register_with_a_72_byte_password_is_accepted);
    tcase_add_test(reg, register_without_a_password_gives_length_and_rule_errors);
    tcase_add_test(reg, register_with_a_numeric_password_never_echoes_it);
    tcase_add_test(reg, register_counts_password_length_in_characters);
    tcase_add_test(reg, register_with_a_one_character_name_after_trimming_echoes_the_raw_name);
    tcase_add_test(reg, register_name_of_255_characters_is_accepted_and_256_refused);
    tcase_add_test(reg, register_name_length_counts_characters_not_bytes);
    tcase_add_test(reg, register_without_a_name_or_with_a_number_is_refused);
    tcase_add_test(reg, register_with_a_bad_phone_echoes_it);
    tcase_add_test(reg, register_reports_every_problem_in_field_order);
    suite_add_tcase(s, reg);

    tcase_add_checked_fixture(login, setup, teardown);
    tcase_add_test(login, login_happy_path_normalises_the_email);
    tcase_add_test(login, login_without_a_password_is_password_is_required);
    tcase_add_test(login, login_with_an_empty_or_non_string_password_is_password_is_required);
    tcase_add_test(login, login_with_a_73_byte_password_checks_its_first_72_bytes);
    tcase_add_test(login, login_with_a_bad_email_reports_both_fields);
    suite_add_tcase(s, login);

    tcase_add_checked_fixture(pw, setup, teardown);
    tcase_add_test(pw, password_happy_path_keeps_both_passwords);
    tcase_add_test(pw, password_without_the_current_one_is_current_password_is_required);
    tcase_add_test(pw, password_with_a_short_new_one_uses_the_new_password_message);
    tcase_add_test(pw, password_with_a_weak_or_too_long_new_one_is_refused);
    suite_add_tcase(s, pw);

    tcase_add_checked_fixture(profile, setup, teardown);
    tcase_add_test(profile, profile_field_table_is_in_statement_parameter_order);
    tcase_add_test(profile, profile_of_an_empty_body_changes_nothing);
    tcase_add_test(profile, profile_takes_every_valid_field);
    tcase_add_test(profile, profile_present_null_clears_a_text_field);
    tcase_add_test(profile, profile_absent_fields_are_not_present);
    tcase_add_test(profile, profile_null_name_is_refused);
    tcase_add_test(profile, profile_short_name_is_refused);
    tcase_add_test(profile, profile_text_field_of_the_wrong_type_is_must_be_a_string);
    tcase_add_test(profile, profile_bio_of_500_characters_is_accepted_and_501_refused);
    tcase_add_test(profile, profile_avatar_url_over_500_characters_is_refused);
    tcase_add_test(profile, profile_address_lines_over_255_characters_are_refused);
    tcase_add_test(profile, profile_city_state_country_over_100_characters_are_refused);
    tcase_add_test(profile, profile_postal_code_over_20_characters_is_refused);
    tcase_add_test(profile, profile_gender_must_be_one_of_four);
    tcase_add_test(profile, profile_date_of_birth_must_be_a_real_date);
    tcase_add_test(profile, profile_phone_is_checked_like_register);
    tcase_add_test(profile, profile_notification_preferences_takes_an_object_of_known_booleans);
    tcase_add_test(profile, profile_notification_preferences_may_be_an_empty_object);
    tcase_add_test(profile, profile_notification_preferences_refuses_unknown_keys_and_non_booleans);
    tcase_add_test(profile, profile_reports_every_bad_field);
    suite_add_tcase(s, profile);
    return s;
}

MS_SUITE(user_input_suite)
