/* Unit tests of lib/validate.c. Expected email results are validator.js's own
 * test cases (isEmail, normalizeEmail with default options). */
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "lib/arena.h"
#include "lib/err.h"
#include "lib/http.h"
#include "lib/validate.h"
#include "lib/utf8.h"
#include "tests/unit/suites.h"
#include "lib/banned.h"

/* A string of n copies of c (n < 512), in a rotating set of static buffers. */
static const char *rep(char c, size_t n)
{
    static char bufs[8][512];
    static int next;
    char *b = bufs[next++ % 8];

    ck_assert_uint_lt(n, sizeof bufs[0]);
    memset(b, c, n);
    b[n] = '\0';
    return b;
}

/* Joins up to five pieces into a static buffer. */
static const char *join(const char *a, const char *b, const char *c, const char *d, const char *e)
{
    static char bufs[4][1024];
    static int next;
    char *buf = bufs[next++ % 4];
    int n = snprintf(buf, sizeof bufs[0], "%s%s%s%s%s", a, b, c ? c : "", d ? d : "", e ? e : "");

    ck_assert_int_lt(n, (int)sizeof bufs[0]);
    return buf;
}

/* ---- ms_valid_email ---- */

START_TEST(email_accepts_validatorjs_valid_examples)
{
    static const char *const ok[] = {
        "foo@bar.com",
        "x@x.au",
        "foo@bar.com.au",
        "foo+bar@bar.com",
        "hans.m\xe7\xab\xafller@test.com",
        "hans@m\xe7\xab\xafller.com",
        "test|123@m\xe7\xab\xafller.com",
        "test123+ext@gmail.com",
        "some.name.midd.leNa.me.and.locality+extension@GoogleMail.com",
        "test@gmail.com",
        "test.1@gmail.com",
        "test@1337.com",
        "!#$%&'*+-/=?^_`{|}~@example.com",
        "user@example.xn--p1ai",
        "user@xn--bcher-kva.example",
    };

    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        ck_assert_msg(ms_valid_email(ok[i]), "should accept %s", ok[i]);
}
END_TEST

START_TEST(email_rejects_validatorjs_invalid_examples)
{
    static const char *const bad[] = {
        "invalidemail@",
        "invalid.com",
        "@invalid.com",
        "foo@bar.com.",
        "foo@_bar.com",
        "somename@\xef\xbd\x87\xef\xbd\x8d\xef\xbd\x81\xef\xbd\x89\xef\xbd\x8c.com",
        "foo@bar.co.uk.",
        "z@co.c",
        "test1@invalid.co m",
        "test12@invalid.co\xe3\x80\x80m",
        "multiple..dots@stillinvalid.com",
        "test123+invalid! sub_address@gmail.com",
        "gmail...ignores...dots...@gmail.com",
        "ends.with.dot.@gmail.com",
        ".starts.with.dot@gmail.com",
        "wrong()[]\",:;<>@@gmail.com",
        "\"wrong()[]\",:;<>@@gmail.com",
        "username@domain.com\xef\xbf\xbd",
        "username@domain.com\xc2\xa9",
        "nbsp\xc2\xa0test@test.com",
        "nbsp_test@te\xc2\xa0st.com",
        "nbsp_test@test.co\xc2\xa0m",
        "\"foobar@gmail.com",
        "\"foo\"bar@gmail.com",
        "foo\"bar\"@gmail.com",
        "foo@bar.123",
        "foo@-bar.com",
        "foo@bar-.com",
        "foo@localhost",
        "foo@bar..com",
        "",
    };

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(!ms_valid_email(bad[i]), "should reject %s", bad[i]);
}
END_TEST

START_TEST(email_local_part_of_64_bytes_is_accepted_and_65_refused)
{
    ck_assert(ms_valid_email(join(rep('a', 64), "@", rep('b', 63), ".com", NULL)));
    ck_assert(!ms_valid_email(join(rep('a', 65), "@", "example.com", NULL, NULL)));
}
END_TEST

START_TEST(email_domain_label_over_63_characters_is_refused)
{
    ck_assert(!ms_valid_email(join(rep('a', 64), "@", rep('b', 64), ".com", NULL)));
}
END_TEST

START_TEST(email_domain_label_length_counts_utf16_units)
{
    /* U+1F600 is two UTF-16 units: 31 of them and "a" make 63 units, 32 make 64 */
    char label[160] = "";

    for (int i = 0; i < 32; i++)
        memcpy(label + (size_t)4 * i, "\xf0\x9f\x98\x80", 5);
    ck_assert(!ms_valid_email(join("a@", label, ".com", NULL, NULL)));
    memcpy(label + (size_t)4 * 31, "a", 2);
    ck_assert(ms_valid_email(join("a@", label, ".com", NULL, NULL)));
}
END_TEST

START_TEST(email_of_254_characters_is_accepted_and_255_refused)
{
    /* 64 + 1 + 63 + 1 + 63 + 1 + 61 = 254 */
    const char *domain = join(rep('b', 63), ".", rep('c', 63), ".", rep('d', 61));

    ck_assert(ms_valid_email(join(rep('a', 64), "@", domain, NULL, NULL)));
    domain = join(rep('b', 63), ".", rep('c', 63), ".", rep('d', 62));
    ck_assert(!ms_valid_email(join(rep('a', 64), "@", domain, NULL, NULL)));
}
END_TEST

START_TEST(email_local_part_length_counts_bytes_not_characters)
{
    /* 22 three-byte characters: 66 bytes, 22 characters */
    char local[128] = "";

    for (int i = 0; i < 22; i++)
        memcpy(local + (size_t)3 * i, "\xe7\xab\xaf", 4);
    ck_assert(!ms_valid_email(join(local, "@example.com", NULL, NULL, NULL)));
    local[63] = '\0';
    ck_assert(ms_valid_email(join(local, "@example.com", NULL, NULL, NULL)));
}
END_TEST

START_TEST(email_quoted_local_part_is_refused)
{
    ck_assert(!ms_valid_email("\"foobar\"@example.com"));
    ck_assert(!ms_valid_email("\"foo bar\"@example.com"));
}
END_TEST

START_TEST(email_with_control_characters_is_refused)
{
    ck_assert(!ms_valid_email("foo\x01"
                              "bar@example.com"));
    ck_assert(!ms_valid_email("foo\tbar@example.com"));
    ck_assert(!ms_valid_email("foo@exa\x7fmple.com"));
    ck_assert(!ms_valid_email("foo@example.com\n"));
    ck_assert(!ms_valid_email("foo\xc2\x85"
                              "bar@example.com"));
}
END_TEST

START_TEST(email_with_invalid_utf8_is_refused)
{
    ck_assert(!ms_valid_email("foo\xff@example.com"));
    ck_assert(!ms_valid_email("foo@ex\xc3"
                              "ample.com"));
    ck_assert(!ms_valid_email("foo\xed\xa0\x80@example.com"));
}
END_TEST

START_TEST(email_null_is_refused)
{
    ck_assert(!ms_valid_email(NULL));
}
END_TEST

/* ---- ms_normalize_email ---- */

struct norm_case {
    const char *in, *out;
};

static void check_norm(const struct norm_case *c, size_t n)
{
    char out[256];

    for (size_t i = 0; i < n; i++) {
        int rc = ms_normalize_email(c[i].in, out, sizeof out);

        ck_assert_msg(rc == 0, "%s: rc %d", c[i].in, rc);
        ck_assert_msg(strcmp(out, c[i].out) == 0, "%s gave %s, want %s", c[i].in, out, c[i].out);
    }
}

START_TEST(normalize_applies_validatorjs_default_examples)
{
    static const struct norm_case c[] = {
        { "test@me.com", "test@me.com" },
        { "some.name@gmail.com", "somename@gmail.com" },
        { "some.name@googleMail.com", "somename@gmail.com" },
        { "some.name+extension@gmail.com", "somename@gmail.com" },
        { "some.Name+extension@GoogleMail.com", "somename@gmail.com" },
        { "some.name.middleName+extension@gmail.com", "somenamemiddlename@gmail.com" },
        { "some.name.middleName+extension@GoogleMail.com", "somenamemiddlename@gmail.com" },
        { "some.name.midd.leNa.me.+extension@gmail.com", "somenamemiddlename@gmail.com" },
        { "some.name.midd.leNa.me.+extension@GoogleMail.com", "somenamemiddlename@gmail.com" },
        { "some.name+extension@unknown.com", "some.name+extension@unknown.com" },
        { "hans@m\xe7\xab\xafller.com", "hans@m\xe7\xab\xafller.com" },
        { "some.name.midd..leNa...me...+extension@GoogleMail.com",
          "somenamemidd..lena...me...@gmail.com" },
        { "matthew..example@gmail.com", "matthew..example@gmail.com" },
        { "\"foo@bar\"@baz.com", "\"foo@bar\"@baz.com" },
        /* the domain is what follows the last '@', as split('@').pop() */
        { "\"a+b@c\"@gmail.com", "\"a@gmail.com" },
        { "test@ya.ru", "test@yandex.ru" },
        { "test@yandex.kz", "test@yandex.ru" },
        { "test@yandex.ru", "test@yandex.ru" },
        { "test@yandex.ua", "test@yandex.ru" },
        { "test@yandex.com", "test@yandex.ru" },
        { "test@yandex.by", "test@yandex.ru" },
    };

    check_norm(c, sizeof c / sizeof c[0]);
}
END_TEST

START_TEST(normalize_lowercases_every_address)
{
    static const struct norm_case c[] = {
        { "Alice@Example.COM", "alice@example.com" },
        { "TEST@FOO.COM", "test@foo.com" },
        { "ME@gMAil.com", "me@gmail.com" },
        { "ME@me.COM", "me@me.com" },
        { "ME@icloud.COM", "me@icloud.com" },
        { "ME@outlook.COM", "me@outlook.com" },
        { "JOHN@live.CA", "john@live.ca" },
        { "ME@ymail.COM", "me@ymail.com" },
        { "ME@yandex.RU", "me@yandex.ru" },
        { "\xc3\x84NNE@\xc3\x9c"
          "BER.DE",
          "\xc3\xa4nne@\xc3\xbc"
          "ber.de" },
        { "\xd0\x98\xd0\x92\xd0\x90\xd0\x9d@example.com",
          "\xd0\xb8\xd0\xb2\xd0\xb0\xd0\xbd@example.com" },
    };

    check_norm(c, sizeof c / sizeof c[0]);
}
END_TEST

START_TEST(normalize_lowercases_latin_greek_and_cyrillic_as_javascript_does)
{
    static const struct norm_case c[] = {
        /* ŁŠŽŸĀ → łšžÿā */
        { "\xc5\x81\xc5\xa0\xc5\xbd\xc5\xb8\xc4\x80@example.com",
          "\xc5\x82\xc5\xa1\xc5\xbe\xc3\xbf\xc4\x81@example.com" },
        /* āł are lower case already and stay */
        { "\xc4\x81\xc5\x82@example.com", "\xc4\x81\xc5\x82@example.com" },
        /* İ → i + U+0307 */
        { "\xc4\xb0@example.com", "i\xcc\x87@example.com" },
        /* ΑΘΆ → αθά */
        { "\xce\x91\xce\x98\xce\x86@example.com", "\xce\xb1\xce\xb8\xce\xac@example.com" },
        /* Ё and fullwidth Ａ → ё and ａ */
        { "\xd0\x81\xef\xbc\xa1@example.com", "\xd1\x91\xef\xbd\x81@example.com" },
    };

    check_norm(c, sizeof c / sizeof c[0]);
}
END_TEST

START_TEST(normalize_removes_gmail_dots_and_tag_and_googlemail)
{
    static const struct norm_case c[] = {
        { "John.Doe+shop@Gmail.com", "johndoe@gmail.com" },
        { "x@googlemail.com", "x@gmail.com" },
        { "foo+bar@gmail.com", "foo@gmail.com" },
        { "a+b+c@gmail.com", "a@gmail.com" },
    };

    check_norm(c, sizeof c / sizeof c[0]);
}
END_TEST

START_TEST(normalize_removes_plus_tag_for_icloud_and_outlook_domains)
{
    static const struct norm_case c[] = {
        { "foo+bar@me.com", "foo@me.com" },
        { "foo+bar@icloud.com", "foo@icloud.com" },
        { "foo+bar@live.fr", "foo@live.fr" },
        { "foo+bar@hotmail.co.uk", "foo@hotmail.co.uk" },
        { "foo+bar@hotmail.com", "foo@hotmail.com" },
        { "foo+bar@outlook.com", "foo@outlook.com" },
        { "foo+bar@outlook.com.br", "foo@outlook.com.br" },
        { "foo+bar@msn.com", "foo@msn.com" },
        { "foo+bar@passport.com", "foo@passport.com" },
        { "Foo.Bar+x@Live.CO.UK", "foo.bar@live.co.uk" },
    };

    check_norm(c, sizeof c / sizeof c[0]);
}
END_TEST

START_TEST(normalize_keeps_plus_tag_for_other_domains)
{
    static const struct norm_case c[] = {
        { "foo+bar@unknown.com", "foo+bar@unknown.com" },
        { "foo+bar@yahoo.com", "foo+bar@yahoo.com" },
        /* validator.js's iCloud list is icloud.com and me.com only */
        { "foo+bar@mac.com", "foo+bar@mac.com" },
        /* live.ca is not in validator.js's Outlook list */
        { "foo+bar@live.ca", "foo+bar@live.ca" },
        { "foo+bar@yandex.ru", "foo+bar@yandex.ru" },
    };

    check_norm(c, sizeof c / sizeof c[0]);
}
END_TEST

START_TEST(normalize_removes_last_dash_tag_for_yahoo_domains)
{
    static const struct norm_case c[] = {
        { "foo-bar@yahoo.com", "foo@yahoo.com" },
        { "foo-bar@ymail.com", "foo@ymail.com" },
        { "foo-bar@rocketmail.com", "foo@rocketmail.com" },
        { "foo-bar@yahoo.co.uk", "foo@yahoo.co.uk" },
        { "a-b-c@yahoo.fr", "a-b@yahoo.fr" },
        { "foo-bar@unknown.com", "foo-bar@unknown.com" },
    };

    check_norm(c, sizeof c / sizeof c[0]);
}
END_TEST

START_TEST(normalize_fails_when_provider_rules_leave_no_local_part)
{
    static const char *const bad[] = {
        "@gmail.com",     "@icloud.com",     "@outlook.com",   "@yahoo.com",
        "+tag@gmail.com", ".+tag@gmail.com", "+x@hotmail.com", "-x@yahoo.com",
    };
    char out[64];

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(ms_normalize_email(bad[i], out, sizeof out) == -1, "%s", bad[i]);
}
END_TEST

START_TEST(normalize_fails_without_at_sign)
{
    char out[64];

    ck_assert_int_eq(ms_normalize_email("no-at-sign.example.com", out, sizeof out), -1);
}
END_TEST

START_TEST(normalize_fails_when_result_does_not_fit)
{
    char out[12];

    /* "abc@foo.com" needs 12 bytes with the NUL, "abcd@foo.com" 13 */
    ck_assert_int_eq(ms_normalize_email("ABC@foo.com", out, sizeof out), 0);
    ck_assert_str_eq(out, "abc@foo.com");
    ck_assert_int_eq(ms_normalize_email("ABCD@foo.com", out, sizeof out), -1);
    ck_assert_str_eq(out, "");
}
END_TEST

/* ---- ms_password_policy_ok ---- */

START_TEST(policy_accepts_password_with_all_four_classes)
{
    ck_assert(ms_password_policy_ok("Passw0rd!"));
    ck_assert(ms_password_policy_ok("aA1@"));
    ck_assert(ms_password_policy_ok("aA1$"));
    ck_assert(ms_password_policy_ok("aA1%"));
    ck_assert(ms_password_policy_ok("aA1*"));
    ck_assert(ms_password_policy_ok("aA1?"));
    ck_assert(ms_password_policy_ok("aA1&"));
}
END_TEST

START_TEST(policy_allows_other_characters_anywhere)
{
    ck_assert(ms_password_policy_ok("#  P\xc3\xa4ss w0rd ! ~^"));
}
END_TEST

START_TEST(policy_refuses_password_missing_a_class)
{
    ck_assert(!ms_password_policy_ok("passw0rd!"));
    ck_assert(!ms_password_policy_ok("PASSW0RD!"));
    ck_assert(!ms_password_policy_ok("Password!"));
    ck_assert(!ms_password_policy_ok("Passw0rd"));
    ck_assert(!ms_password_policy_ok(""));
    ck_assert(!ms_password_policy_ok(NULL));
}
END_TEST

START_TEST(policy_does_not_count_other_symbols_as_special)
{
    ck_assert(!ms_password_policy_ok("Passw0rd#^~-_+=."));
}
END_TEST

/* ---- ms_utf8_len ---- */

START_TEST(utf8_len_counts_code_points)
{
    ck_assert_uint_eq(ms_utf8_len(""), 0);
    ck_assert_uint_eq(ms_utf8_len("abc"), 3);
    ck_assert_uint_eq(ms_utf8_len("h\xc3\xa9llo"), 5);
    ck_assert_uint_eq(ms_utf8_len("\xe2\x82\xac"
                                  "1"),
                      2);
    ck_assert_uint_eq(ms_utf8_len("\xf0\x9f\x98\x80"), 1);
}
END_TEST

START_TEST(utf8_len_counts_each_invalid_byte_as_one)
{
    ck_assert_uint_eq(ms_utf8_len("\xff\xfe"), 2);
    ck_assert_uint_eq(ms_utf8_len("a\xe2\x82"), 3);
    ck_assert_uint_eq(ms_utf8_len("\xc0\xaf"
                                  "x"),
                      3);
}
END_TEST

/* ---- ms_utf8_valid ---- */

START_TEST(utf8_valid_accepts_well_formed_text)
{
    static const char *const ok[] = { "",
                                      "abc",
                                      "h\xc3\xa9llo",
                                      "\xe2\x82\xac",
                                      "\xf0\x9f\x98\x80",
                                      "\xf4\x8f\xbf\xbf",
                                      "\xef\xbf\xbf" };

    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        ck_assert_msg(ms_utf8_valid(ok[i], strlen(ok[i])), "case %zu", i);
}
END_TEST

START_TEST(utf8_valid_refuses_malformed_sequences)
{
    static const char *const bad[] = {
        "\x80",             /* stray continuation */
        "\xc0\xaf",         /* overlong '/' */
        "\xe0\x80\xaf",     /* overlong '/' */
        "\xed\xa0\x80",     /* surrogate */
        "\xf4\x90\x80\x80", /* beyond U+10FFFF */
        "\xf8\x88\x80\x80\x80",
        "\xe2\x82", /* cut short */
        "a\xc3(",
    };

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(!ms_utf8_valid(bad[i], strlen(bad[i])), "case %zu", i);
}
END_TEST

START_TEST(utf8_valid_reads_only_n_bytes)
{
    ck_assert(!ms_utf8_valid("\xe2\x82\xac", 2));
    ck_assert(ms_utf8_valid("ab\xff", 2));
}
END_TEST

/* ---- ms_valid_uuid ---- */

START_TEST(uuid_accepts_canonical_form_of_any_version)
{
    ck_assert(ms_valid_uuid("123e4567-e89b-12d3-a456-426614174000"));
    ck_assert(ms_valid_uuid("A987FBC9-4BED-3078-CF07-9141BA07C9F3"));
    ck_assert(ms_valid_uuid("00000000-0000-0000-0000-000000000000"));
    ck_assert(ms_valid_uuid("ffffffff-ffff-ffff-ffff-ffffffffffff"));
}
END_TEST

START_TEST(uuid_refuses_other_forms)
{
    static const char *const bad[] = {
        "",
        "123e4567e89b12d3a456426614174000",
        "123e45670e89b012d30a4560426614174000",
        "123e4567-e89b-12d3-a456_426614174000",
        "123e4567-e89b-12d3-a456-42661417400",
        "123e4567-e89b-12d3-a456-4266141740000",
        "123e4567-e89b-12d3-a456-42661417400g",
        "{123e4567-e89b-12d3-a456-426614174000}",
        "123e4567-e89b-12d3-a4564-26614174000",
        " 123e4567-e89b-12d3-a456-42661417400",
    };

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(!ms_valid_uuid(bad[i]), "%s", bad[i]);
    ck_assert(!ms_valid_uuid(NULL));
}
END_TEST

/* ---- ms_valid_enum ---- */

static const char *const statuses[] = { "pending", "paid", "shipped", NULL };

START_TEST(enum_accepts_a_listed_value)
{
    ck_assert(ms_valid_enum("pending", statuses));
    ck_assert(ms_valid_enum("shipped", statuses));
}
END_TEST

START_TEST(enum_refuses_unlisted_or_differently_cased_values)
{
    static const char *const none[] = { NULL };

    ck_assert(!ms_valid_enum("PAID", statuses));
    ck_assert(!ms_valid_enum("pai", statuses));
    ck_assert(!ms_valid_enum("", statuses));
    ck_assert(!ms_valid_enum(NULL, statuses));
    ck_assert(!ms_valid_enum("paid", none));
}
END_TEST

/* ---- ms_valid_date ---- */

START_TEST(date_accepts_real_calendar_dates)
{
    static const char *const ok[] = { "2024-02-29", "2000-02-29", "2023-02-28", "2024-12-31",
                                      "2024-04-30", "1000-01-01", "9999-12-31" };

    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        ck_assert_msg(ms_valid_date(ok[i]), "%s", ok[i]);
}
END_TEST

START_TEST(date_refuses_days_the_calendar_does_not_have)
{
    static const char *const bad[] = { "2023-02-29", "1900-02-29", "2024-02-30", "2024-04-31",
                                       "2024-06-31", "2024-09-31", "2024-11-31", "2024-01-32",
                                       "2024-01-00", "2024-00-10", "2024-13-01" };

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(!ms_valid_date(bad[i]), "%s", bad[i]);
}
END_TEST

START_TEST(date_refuses_other_formats_and_years)
{
    static const char *const bad[] = { "",
                                       "2024-1-01",
                                       "2024-01-1",
                                       "24-01-01",
                                       "2024/01/01",
                                       "2024-01-01T00:00:00Z",
                                       " 2024-01-01",
                                       "2024-01-01 ",
                                       "0999-12-31",
                                       "+202-01-01",
                                       "2024-0a-01",
                                       "20240101",
                                       "2024-01-0:",
                                       "20 4-01-01" };

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(!ms_valid_date(bad[i]), "%s", bad[i]);
    ck_assert(!ms_valid_date(NULL));
}
END_TEST

/* ---- ms_valid_phone ---- */

START_TEST(phone_accepts_e164_like_numbers)
{
    ck_assert(ms_valid_phone("+14155552671"));
    ck_assert(ms_valid_phone("14155552671"));
    ck_assert(ms_valid_phone("12"));
    ck_assert(ms_valid_phone("+123456789012345"));
}
END_TEST

START_TEST(phone_refuses_other_forms)
{
    static const char *const bad[] = { "",
                                       "+",
                                       "1",
                                       "+1",
                                       "0123",
                                       "+0123",
                                       "++1234",
                                       "+1234567890123456",
                                       "1234567890123456",
                                       "+1 415 555",
                                       "+1-415-555",
                                       "1234a",
                                       "1234 " };

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(!ms_valid_phone(bad[i]), "%s", bad[i]);
    ck_assert(!ms_valid_phone(NULL));
}
END_TEST

/* ---- ms_trim ---- */

START_TEST(trim_removes_ascii_whitespace_from_both_ends)
{
    char out[32];

    ck_assert_str_eq(ms_trim("  \t\r\n\v\fa b\t \n", out, sizeof out), "a b");
    ck_assert_str_eq(ms_trim("none", out, sizeof out), "none");
    ck_assert_str_eq(ms_trim(" \t\n ", out, sizeof out), "");
    ck_assert_str_eq(ms_trim("", out, sizeof out), "");
}
END_TEST

START_TEST(trim_returns_out)
{
    char out[8];

    ck_assert_ptr_eq(ms_trim(" x ", out, sizeof out), out);
}
END_TEST

START_TEST(trim_cuts_to_capacity_on_a_character_boundary)
{
    char out[4];

    ck_assert_str_eq(ms_trim("  abcdef  ", out, sizeof out), "abc");
    /* "a" + "é" + "b": "é" would straddle the end, so it goes whole */
    ck_assert_str_eq(ms_trim("a\xc3\xa9"
                             "b",
                             out, 3),
                     "a");
    ck_assert_str_eq(ms_trim("a\xc3\xa9"
                             "b",
                             out, 4),
                     "a\xc3\xa9");
}
END_TEST

/* ---- ms_pagination ---- */

static struct ms_arena *arena;
static struct ms_req req;

static void req_setup(void)
{
    arena = ms_arena_new(0);
    ck_assert_ptr_nonnull(arena);
    ms_http_req_init(&req, arena, NULL);
}

static void req_teardown(void)
{
    ms_arena_free(arena);
    arena = NULL;
}

/* The string member key of o, or "(missing)". */
static const char *member(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

    return cJSON_IsString(v) ? v->valuestring : "(missing)";
}

/* Assert that verr number i is {field, message, value}. */
static void check_verr(int i, const char *field, const char *message, const char *value)
{
    const cJSON *e = cJSON_GetArrayItem(req.verrs, i);
    const char *f = member(e, "field"), *m = member(e, "message"), *v = member(e, "value");

    ck_assert_msg(strcmp(f, field) == 0 && strcmp(m, message) == 0 && strcmp(v, value) == 0,
                  "verr %d is {%s, %s, %s}, want {%s, %s, %s}", i, f, m, v, field, message, value);
}

START_TEST(pagination_defaults_to_page_one_and_default_limit)
{
    long page = -1, limit = -1;

    ck_assert_int_eq(ms_pagination(&req, 20, &page, &limit), MS_OK);
    ck_assert_int_eq(page, 1);
    ck_assert_int_eq(limit, 20);
    ck_assert_int_eq(ms_http_verr_count(&req), 0);
}
END_TEST

START_TEST(pagination_reads_page_and_limit)
{
    long page = -1, limit = -1;

    req.query = "page=2&limit=5";
    ck_assert_int_eq(ms_pagination(&req, 20, &page, &limit), MS_OK);
    ck_assert_int_eq(page, 2);
    ck_assert_int_eq(limit, 5);
    ck_assert_int_eq(ms_http_verr_count(&req), 0);
}
END_TEST

START_TEST(pagination_accepts_limit_bounds_one_and_hundred)
{
    long page, limit;

    req.query = "limit=1";
    ck_assert_int_eq(ms_pagination(&req, 20, &page, &limit), MS_OK);
    ck_assert_int_eq(limit, 1);
    ms_http_req_init(&req, arena, NULL);
    req.query = "limit=100&page=0007";
    ck_assert_int_eq(ms_pagination(&req, 20, &page, &limit), MS_OK);
    ck_assert_int_eq(limit, 100);
    ck_assert_int_eq(page, 7);
}
END_TEST

START_TEST(pagination_refuses_page_below_one)
{
    long page, limit;

    req.query = "page=0";
    ck_assert_int_eq(ms_pagination(&req, 20, &page, &limit), MS_EINVALID);
    ck_assert_int_eq(ms_http_verr_count(&req), 1);
    check_verr(0, "page", "Page must be a positive integer", "0");
}
END_TEST

START_TEST(pagination_refuses_page_that_is_not_digits)
{
    static const char *const q[] = { "page=-1", "page=abc", "page=1.5", "page=%2B2", "page=+2",
                                     "page=2x", "page=",    "page=1e3", "page=2%20" };
    static const char *const raw[] = { "-1", "abc", "1.5", "+2", " 2", "2x", "", "1e3", "2 " };
    long page, limit;

    for (size_t i = 0; i < sizeof q / sizeof q[0]; i++) {
        ms_http_req_init(&req, arena, NULL);
        req.query = q[i];
        ck_assert_msg(ms_pagination(&req, 20, &page, &limit) == MS_EINVALID, "%s", q[i]);
        ck_assert_int_eq(ms_http_verr_count(&req), 1);
        check_verr(0, "page", "Page must be a positive integer", raw[i]);
    }
}
END_TEST

START_TEST(pagination_refuses_page_too_large_for_an_offset)
{
    long page, limit;

    /* (page - 1) * 100 must fit in a long: LONG_MAX / 100 is the last page */
    req.query = "page=92233720368547758";
    ck_assert_int_eq(ms_pagination(&req, 100, &page, &limit), MS_OK);
    ck_assert_int_eq(page, 92233720368547758L);
    ms_http_req_init(&req, arena, NULL);
    req.query = "page=92233720368547759";
    ck_assert_int_eq(ms_pagination(&req, 100, &page, &limit), MS_EINVALID);
    check_verr(0, "page", "Page must be a positive integer", "92233720368547759");
    ms_http_req_init(&req, arena, NULL);
    req.query = "page=99999999999999999999999";
    ck_assert_int_eq(ms_pagination(&req, 20, &page, &limit), MS_EINVALID);
    check_verr(0, "page", "Page must be a positive integer", "99999999999999999999999");
}
END_TEST

START_TEST(pagination_refuses_limit_out_of_range)
{
    static const char *const q[] = { "limit=0",   "limit=101", "limit=-5",
                                     "limit=ten", "limit=",    "limit=5%20" };
    static const char *const raw[] = { "0", "101", "-5", "ten", "", "5 " };
    long page, limit;

    for (size_t i = 0; i < sizeof q / sizeof q[0]; i++) {
        ms_http_req_init(&req, arena, NULL);
        req.query = q[i];
        ck_assert_msg(ms_pagination(&req, 20, &page, &limit) == MS_EINVALID, "%s", q[i]);
        ck_assert_int_eq(ms_http_verr_count(&req), 1);
        check_verr(0, "limit", "Limit must be an integer between 1 and 100", raw[i]);
    }
}
END_TEST

START_TEST(pagination_records_both_errors_at_once)
{
    long page, limit;

    req.query = "page=0&limit=500";
    ck_assert_int_eq(ms_pagination(&req, 20, &page, &limit), MS_EINVALID);
    ck_assert_int_eq(ms_http_verr_count(&req), 2);
    check_verr(0, "page", "Page must be a positive integer", "0");
    check_verr(1, "limit", "Limit must be an integer between 1 and 100", "500");
}
END_TEST

START_TEST(pagination_keeps_the_valid_value_when_the_other_is_wrong)
{
    long page = -1, limit = -1;

    req.query = "page=3&limit=0";
    ck_assert_int_eq(ms_pagination(&req, 25, &page, &limit), MS_EINVALID);
    ck_assert_int_eq(page, 3);
    ck_assert_int_eq(limit, 25);
    ms_http_req_init(&req, arena, NULL);
    req.query = "page=0&limit=7";
    ck_assert_int_eq(ms_pagination(&req, 25, &page, &limit), MS_EINVALID);
    ck_assert_int_eq(page, 1);
    ck_assert_int_eq(limit, 7);
}
END_TEST

/* ---- ms_pagination_json ---- */

static void check_page(long total, long page, long limit, long pages)
{
    cJSON *p = ms_pagination_json(total, page, limit);

    ck_assert_int_eq(cJSON_GetArraySize(p), 4);
    ck_assert_int_eq(cJSON_GetObjectItemCaseSensitive(p, "total")->valueint, total);
    ck_assert_int_eq(cJSON_GetObjectItemCaseSensitive(p, "page")->valueint, page);
    ck_assert_int_eq(cJSON_GetObjectItemCaseSensitive(p, "pages")->valueint, pages);
    ck_assert_int_eq(cJSON_GetObjectItemCaseSensitive(p, "limit")->valueint, limit);
    cJSON_Delete(p);
}

START_TEST(pagination_json_counts_pages_rounding_up)
{
    check_page(0, 1, 10, 0);
    check_page(1, 1, 10, 1);
    check_page(10, 1, 10, 1);
    check_page(11, 2, 10, 2);
    check_page(250, 3, 100, 3);
}
END_TEST

Suite *validate_suite(void);

Suite *validate_suite(void)
{
    Suite *s = suite_create("validate");
    TCase *tc;

    tc = tcase_create("ms_valid_email");
    tcase_add_test(tc, email_accepts_validatorjs_valid_examples);
    tcase_add_test(tc, email_rejects_validatorjs_invalid_examples);
    tcase_add_test(tc, email_local_part_of_64_bytes_is_accepted_and_65_refused);
    tcase_add_test(tc, email_domain_label_over_63_characters_is_refused);
    tcase_add_test(tc, email_domain_label_length_counts_utf16_units);
    tcase_add_test(tc, email_of_254_characters_is_accepted_and_255_refused);
    tcase_add_test(tc, email_local_part_length_counts_bytes_not_characters);
    tcase_add_test(tc, email_quoted_local_part_is_refused);
    tcase_add_test(tc, email_with_control_characters_is_refused);
    tcase_add_test(tc, email_with_invalid_utf8_is_refused);
    tcase_add_test(tc, email_null_is_refused);
    suite_add_tcase(s, tc);

    tc = tcase_create("ms_normalize_email");
    tcase_add_test(tc, normalize_applies_validatorjs_default_examples);
    tcase_add_test(tc, normalize_lowercases_every_address);
    tcase_add_test(tc, normalize_lowercases_latin_greek_and_cyrillic_as_javascript_does);
    tcase_add_test(tc, normalize_removes_gmail_dots_and_tag_and_googlemail);
    tcase_add_test(tc, normalize_removes_plus_tag_for_icloud_and_outlook_domains);
    tcase_add_test(tc, normalize_keeps_plus_tag_for_other_domains);
    tcase_add_test(tc, normalize_removes_last_dash_tag_for_yahoo_domains);
    tcase_add_test(tc, normalize_fails_when_provider_rules_leave_no_local_part);
    tcase_add_test(tc, normalize_fails_without_at_sign);
    tcase_add_test(tc, normalize_fails_when_result_does_not_fit);
    suite_add_tcase(s, tc);

    tc = tcase_create("ms_password_policy_ok");
    tcase_add_test(tc, policy_accepts_password_with_all_four_classes);
    tcase_add_test(tc, policy_allows_other_characters_anywhere);
    tcase_add_test(tc, policy_refuses_password_missing_a_class);
    tcase_add_test(tc, policy_does_not_count_other_symbols_as_special);
    suite_add_tcase(s, tc);

    tc = tcase_create("ms_utf8_len");
    tcase_add_test(tc, utf8_len_counts_code_points);
    tcase_add_test(tc, utf8_len_counts_each_invalid_byte_as_one);
    suite_add_tcase(s, tc);

    tc = tcase_create("ms_utf8_valid");
    tcase_add_test(tc, utf8_valid_accepts_well_formed_text);
    tcase_add_test(tc, utf8_valid_refuses_malformed_sequences);
    tcase_add_test(tc, utf8_valid_reads_only_n_bytes);
    suite_add_tcase(s, tc);

    tc = tcase_create("ms_valid_uuid");
    tcase_add_test(tc, uuid_accepts_canonical_form_of_any_version);
    tcase_add_test(tc, uuid_refuses_other_forms);
    suite_add_tcase(s, tc);

    tc = tcase_create("ms_valid_enum");
    tcase_add_test(tc, enum_accepts_a_listed_value);
    tcase_add_test(tc, enum_refuses_unlisted_or_differently_cased_values);
    suite_add_tcase(s, tc);

    tc = tcase_create("ms_valid_date");
    tcase_add_test(tc, date_accepts_real_calendar_dates);
    tcase_add_test(tc, date_refuses_days_the_calendar_does_not_have);
    tcase_add_test(tc, date_refuses_other_formats_and_years);
    suite_add_tcase(s, tc);

    tc = tcase_create("ms_valid_phone");
    tcase_add_test(tc, phone_accepts_e164_like_numbers);
    tcase_add_test(tc, phone_refuses_other_forms);
    suite_add_tcase(s, tc);

    tc = tcase_create("ms_trim");
    tcase_add_test(tc, trim_removes_ascii_whitespace_from_both_ends);
    tcase_add_test(tc, trim_returns_out);
    tcase_add_test(tc, trim_cuts_to_capacity_on_a_character_boundary);
    suite_add_tcase(s, tc);

    tc = tcase_create("ms_pagination");
    tcase_add_checked_fixture(tc, req_setup, req_teardown);
    tcase_add_test(tc, pagination_defaults_to_page_one_and_default_limit);
    tcase_add_test(tc, pagination_reads_page_and_limit);
    tcase_add_test(tc, pagination_accepts_limit_bounds_one_and_hundred);
    tcase_add_test(tc, pagination_refuses_page_below_one);
    tcase_add_test(tc, pagination_refuses_page_that_is_not_digits);
    tcase_add_test(tc, pagination_refuses_page_too_large_for_an_offset);
    tcase_add_test(tc, pagination_refuses_limit_out_of_range);
    tcase_add_test(tc, pagination_records_both_errors_at_once);
    tcase_add_test(tc, pagination_keeps_the_valid_value_when_the_other_is_wrong);
    suite_add_tcase(s, tc);

    tc = tcase_create("ms_pagination_json");
    tcase_add_test(tc, pagination_json_counts_pages_rounding_up);
    suite_add_tcase(s, tc);

    return s;
}

MS_SUITE(validate_suite)
