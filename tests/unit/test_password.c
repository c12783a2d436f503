/* Unit tests of lib/password.c. Fixed hashes are published bcrypt test vectors
 * (jBCrypt's and Openwall crypt_blowfish's), not hashes made here; costs stay
 * at 4-5 but for the one cost-10 vector, so the suite runs fast. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "lib/err.h"
#include "lib/password.h"
#include "tests/unit/suites.h"
#include "lib/banned.h"

/* jBCrypt's vector for "abc" at cost 10 ($2a$, as bcryptjs wrote before 3.0). */
#define ABC_COST10 "$2a$10$WvvTPHKwdBJ3uk0Z37EMR.hLA2W6N9AEBhEgrAOljy2Ae5MtaSIUi"
/* Openwall crypt_blowfish vectors. */
#define UU_2A_COST5 "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"
#define FF_2Y_COST5 "$2y$05$/OK.fbVrR/bpIqNJ5ianF.CE5elHaaO4EbggVDjb8P19RukzXSM3e"

/* A string of n copies of c (n < 128). */
static const char *rep(char c, size_t n)
{
    static char bufs[4][128];
    static int next;
    char *b = bufs[next++ % 4];

    ck_assert_uint_lt(n, sizeof bufs[0]);
    memset(b, c, n);
    b[n] = '\0';
    return b;
}

static double cpu_seconds(void)
{
    struct timespec ts;

    ck_assert_int_eq(clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts), 0);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- ms_password_too_long ---- */

START_TEST(too_long_allows_72_bytes_and_refuses_73)
{
    ck_assert(!ms_password_too_long(""));
    ck_assert(!ms_password_too_long(rep('a', 72)));
    ck_assert(ms_password_too_long(rep('a', 73)));
}
END_TEST

START_TEST(too_long_counts_bytes_not_characters)
{
    char s[128] = "";

    /* 24 euro signs are 72 bytes, 25 are 75 */
    for (int i = 0; i < 25; i++)
        memcpy(s + (size_t)3 * i, "\xe2\x82\xac", 4);
    ck_assert(ms_password_too_long(s));
    s[72] = '\0';
    ck_assert(!ms_password_too_long(s));
}
END_TEST

/* ---- ms_password_hash ---- */

START_TEST(hash_makes_a_2b_hash_of_the_requested_cost)
{
    char h[MS_HASH_MAX];

    ck_assert_int_eq(ms_password_hash("Passw0rd!x", 4, h, sizeof h), MS_OK);
    ck_assert_uint_eq(strlen(h), 60);
    ck_assert_int_eq(strncmp(h, "$2b$04$", 7), 0);
    ck_assert_int_eq(ms_password_cost(h), 4);
}
END_TEST

START_TEST(hash_verifies_with_the_same_password_only)
{
    char h[MS_HASH_MAX];

    ck_assert_int_eq(ms_password_hash("Passw0rd!x", 5, h, sizeof h), MS_OK);
    ck_assert_int_eq(ms_password_verify("Passw0rd!x", h), 1);
    ck_assert_int_eq(ms_password_verify("Passw0rd!X", h), 0);
    ck_assert_int_eq(ms_password_verify("Passw0rd!", h), 0);
    ck_assert_int_eq(ms_password_verify("", h), 0);
}
END_TEST

START_TEST(hash_salts_each_hash_differently)
{
    char a[MS_HASH_MAX], b[MS_HASH_MAX];

    ck_assert_int_eq(ms_password_hash("same", 4, a, sizeof a), MS_OK);
    ck_assert_int_eq(ms_password_hash("same", 4, b, sizeof b), MS_OK);
    ck_assert_str_ne(a, b);
    ck_assert_int_eq(memcmp(a, b, 7), 0);
    ck_assert_int_ne(memcmp(a + 7, b + 7, 22), 0);
}
END_TEST

START_TEST(hash_accepts_a_72_byte_password)
{
    char h[MS_HASH_MAX];

    ck_assert_int_eq(ms_password_hash(rep('p', 72), 4, h, sizeof h), MS_OK);
    ck_assert_int_eq(ms_password_verify(rep('p', 72), h), 1);
}
END_TEST

START_TEST(hash_refuses_a_73_byte_password)
{
    char h[MS_HASH_MAX] = "junk";

    ck_assert_int_eq(ms_password_hash(rep('p', 73), 4, h, sizeof h), MS_EINVALID);
    ck_assert_str_eq(h, "");
}
END_TEST

START_TEST(hash_refuses_cost_outside_4_to_31)
{
    static const int bad[] = { -1, 0, 3, 32, 100 };
    char h[MS_HASH_MAX];

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(ms_password_hash("Passw0rd!x", bad[i], h, sizeof h) == MS_EINVALID, "cost %d",
                      bad[i]);
}
END_TEST

/* ---- ms_password_verify ---- */

START_TEST(verify_accepts_a_2a_cost_10_vector)
{
    ck_assert_int_eq(ms_password_verify("abc", ABC_COST10), 1);
}
END_TEST

START_TEST(verify_accepts_openwall_2a_and_2y_vectors)
{
    ck_assert_int_eq(ms_password_verify("U*U", UU_2A_COST5), 1);
    ck_assert_int_eq(ms_password_verify("\xff\xff\xa3", FF_2Y_COST5), 1);
}
END_TEST

START_TEST(verify_refuses_a_wrong_password_against_a_vector)
{
    ck_assert_int_eq(ms_password_verify("U*V", UU_2A_COST5), 0);
    ck_assert_int_eq(ms_password_verify("u*u", UU_2A_COST5), 0);
    ck_assert_int_eq(ms_password_verify("U*U ", UU_2A_COST5), 0);
    ck_assert_int_eq(ms_password_verify("\xff\xff\xa4", FF_2Y_COST5), 0);
}
END_TEST

START_TEST(verify_refuses_a_password_over_72_bytes_even_if_its_prefix_matches)
{
    char h[MS_HASH_MAX], longer[80];

    ck_assert_int_eq(ms_password_hash(rep('p', 72), 4, h, sizeof h), MS_OK);
    /* bcrypt itself would ignore the 73rd byte and say yes */
    ck_assert_int_eq(snprintf(longer, sizeof longer, "%sX", rep('p', 72)), 73);
    ck_assert_int_eq(ms_password_verify(longer, h), 0);
}
END_TEST

START_TEST(verify_refuses_malformed_hashes)
{
    static const char *const bad[] = {
        "",
        "not a hash",
        "$2x$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
        "$2$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
        "$1$saltsalt$2vnaRpHa6Jxjz5n83ok8Z0",
        "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOe",
        "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeWW",
        "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOe!",
        "$2a$03$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
        "$2a$5$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeWx",
        "$2a$05$CCCCCCCCCCCCCCCCCCCCC.",
    };

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(ms_password_verify("U*U", bad[i]) == 0, "%s", bad[i]);
    ck_assert_int_eq(ms_password_verify("U*U", NULL), 0);
}
END_TEST

START_TEST(verify_refuses_a_null_password)
{
    ck_assert_int_eq(ms_password_verify(NULL, UU_2A_COST5), 0);
}
END_TEST

/* ---- ms_password_cost ---- */

START_TEST(cost_reads_the_cost_of_a_bcrypt_hash)
{
    ck_assert_int_eq(ms_password_cost(ABC_COST10), 10);
    ck_assert_int_eq(ms_password_cost(UU_2A_COST5), 5);
    ck_assert_int_eq(ms_password_cost(FF_2Y_COST5), 5);
    ck_assert_int_eq(
        ms_password_cost("$2b$12$WvvTPHKwdBJ3uk0Z37EMR.hLA2W6N9AEBhEgrAOljy2Ae5MtaSIUi"), 12);
    ck_assert_int_eq(
        ms_password_cost("$2b$31$WvvTPHKwdBJ3uk0Z37EMR.hLA2W6N9AEBhEgrAOljy2Ae5MtaSIUi"), 31);
}
END_TEST

START_TEST(cost_is_minus_one_for_what_is_not_bcrypt)
{
    static const char *const bad[] = {
        "",
        "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA",
        "$2x$10$WvvTPHKwdBJ3uk0Z37EMR.hLA2W6N9AEBhEgrAOljy2Ae5MtaSIUi",
        "$2b$03$WvvTPHKwdBJ3uk0Z37EMR.hLA2W6N9AEBhEgrAOljy2Ae5MtaSIUi",
        "$2b$32$WvvTPHKwdBJ3uk0Z37EMR.hLA2W6N9AEBhEgrAOljy2Ae5MtaSIUi",
        "$2b$1a$WvvTPHKwdBJ3uk0Z37EMR.hLA2W6N9AEBhEgrAOljy2Ae5MtaSIUi",
        "$2b$10$WvvTPHKwdBJ3uk0Z37EMR.",
        "$2b$10$WvvTPHKwdBJ3uk0Z37EMR.hLA2W6N9AEBhEgrAOljy2Ae5MtaSI!i",
        "$2b$10$WvvTPHKwdBJ3uk0Z37EMR hLA2W6N9AEBhEgrAOljy2Ae5MtaSIUi",
    };

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(ms_password_cost(bad[i]) == -1, "%s", bad[i]);
    ck_assert_int_eq(ms_password_cost(NULL), -1);
}
END_TEST

/* ---- ms_password_burn ---- */

START_TEST(burn_spends_about_the_time_of_a_verify)
{
    double verify_s = 1e9, burn_s = 1e9;

    /* the least CPU time of three runs each: immune to being descheduled */
    for (int i = 0; i < 3; i++) {
        double t0 = cpu_seconds(), t1, t2;

        ck_assert_int_eq(ms_password_verify("U*U", UU_2A_COST5), 1);
        t1 = cpu_seconds();
        ms_password_burn(5);
        t2 = cpu_seconds();
        verify_s = t1 - t0 < verify_s ? t1 - t0 : verify_s;
        burn_s = t2 - t1 < burn_s ? t2 - t1 : burn_s;
    }
    /* a cost apart would be a factor of two either way */
    ck_assert_msg(burn_s > verify_s * 0.75 && burn_s < verify_s * 1.33, "burn %.6fs, verify %.6fs",
                  burn_s, verify_s);
}
END_TEST

Suite *password_suite(void);

Suite *password_suite(void)
{
    Suite *s = suite_create("password");
    TCase *tc;

    tc = tcase_create("ms_password_too_long");
    tcase_add_test(tc, too_long_allows_72_bytes_and_refuses_73);
    tcase_add_test(tc, too_long_counts_bytes_not_characters);
    suite_add_tcase(s, tc);

    tc = tcase_create("ms_password_hash");
    tcase_add_test(tc, hash_makes_a_2b_hash_of_the_requested_cost);
    tcase_add_test(tc, hash_verifies_with_the_same_password_only);
    tcase_add_test(tc, hash_salts_each_hash_differently);
    tcase_add_test(tc, hash_accepts_a_72_byte_password);
    tcase_add_test(tc, hash_refuses_a_73_byte_password);
    tcase_add_test(tc, hash_refuses_cost_outside_4_to_31);
    suite_add_tcase(s, tc);

    tc = tcase_create("ms_password_verify");
    tcase_add_test(tc, verify_accepts_a_2a_cost_10_vector);
    tcase_add_test(tc, verify_accepts_openwall_2a_and_2y_vectors);
    tcase_add_test(tc, verify_refuses_a_wrong_password_against_a_vector);
    tcase_add_test(tc, verify_refuses_a_password_over_72_bytes_even_if_its_prefix_matches);
    tcase_add_test(tc, verify_refuses_malformed_hashes);
    tcase_add_test(tc, verify_refuses_a_null_password);
    suite_add_tcase(s, tc);

    tc = tcase_create("ms_password_cost");
    tcase_add_test(tc, cost_reads_the_cost_of_a_bcrypt_hash);
    tcase_add_test(tc, cost_is_minus_one_for_what_is_not_bcrypt);
    suite_add_tcase(s, tc);

    tc = tcase_create("ms_password_burn");
    tcase_add_test(tc, burn_spends_about_the_time_of_a_verify);
    suite_add_tcase(s, tc);

    return s;
}

MS_SUITE(password_suite)
