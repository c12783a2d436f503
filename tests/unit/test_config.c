/* Unit tests of lib/config.c: ms_config_load() from the environment (defaults,
 * bad values, the production secret rules) and ms_config_parse_duration().
 * Every variable config.c reads is saved and cleared before each test and
 * restored after it; stderr is captured so the logged problems can be read. */
#include "lib/config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/err.h"
#include "lib/log.h"
#include "lib/service.h"
#include "tests/unit/suites.h"
#include "lib/banned.h"

/* snprintf into an array; the test fails rather than run with a cut string. */
#define FMT(buf, ...) ck_assert_int_lt(snprintf((buf), sizeof(buf), __VA_ARGS__), (int)sizeof(buf))

static const char *const vars[] = {
    "LOG_LEVEL",
    "APP_ENV",
    "DATABASE_URL",
    "REDIS_URL",
    "JWT_SECRET",
    "JWT_REFRESH_SECRET",
    "JWT_ISSUER",
    "JWT_EXPIRES_IN",
    "JWT_REFRESH_EXPIRES_IN",
    "BCRYPT_COST",
    "WORKERS",
    "MAX_REQUESTS",
    "SHUTDOWN_TIMEOUT_MS",
    "DB_CONNECT_TIMEOUT_MS",
    "DB_STATEMENT_TIMEOUT_MS",
    "REDIS_TIMEOUT_MS",
    "RELAY_INTERVAL_MS",
    "CURRENCY",
    "JWT_ALGORITHM",
    "JWT_PRIVATE_KEY_FILE",
    "JWT_PUBLIC_KEY_FILE",
};
#define NVARS ((int)(sizeof vars / sizeof vars[0]))

#define SECRET_31  "0123456789abcdef0123456789abcde"
#define SECRET_32  "0123456789abcdef0123456789abcdef"
#define REFRESH_32 "fedcba9876543210fedcba9876543210"

static char *saved[NVARS];
static char logged[8192];
static char key_path[64];

static void setup(void)
{
    for (int i = 0; i < NVARS; i++) {
        const char *v = getenv(vars[i]);

        saved[i] = v ? strdup(v) : NULL;
        unsetenv(vars[i]);
    }
    logged[0] = '\0';
    key_path[0] = '\0';
    setenv("DATABASE_URL", "postgresql://u@127.0.0.1:5433/db", 1);
}

static void teardown(void)
{
    for (int i = 0; i < NVARS; i++) {
        if (saved[i])
            setenv(vars[i], saved[i], 1);
        else
            unsetenv(vars[i]);
        free(saved[i]);
        saved[i] = NULL;
    }
    if (key_path[0])
        unlink(key_path);
    ms_config_release();
    memset(&ms_config, 0, sizeof ms_config);
    ms_log_init("microshop", MS_LOG_INFO);
}

/* ms_config_load(service) with stderr captured into logged. */
static int load_as(const char *service)
{
    FILE *tmp = tmpfile();
    int saved_fd = dup(STDERR_FILENO), rc;
    size_t n;

    ck_assert_ptr_nonnull(tmp);
    ck_assert_int_ge(saved_fd, 0);
    ck_assert_int_ge(dup2(fileno(tmp), STDERR_FILENO), 0);
    /* the user service is the one that signs tokens */
    rc = ms_config_load(service, strcmp(service, "user") == 0 ? MS_SVC_SIGNS_TOKENS : 0);
    dup2(saved_fd, STDERR_FILENO);
    close(saved_fd);
    rewind(tmp);
    n = fread(logged, 1, sizeof logged - 1, tmp);
    logged[n] = '\0';
    (void)fclose(tmp);
    return rc;
}

static int load(void)
{
    return load_as("test");
}

/* Number of lines in logged. */
static int logged_lines(void)
{
    int n = 0;

    for (const char *p = logged; *p; p++)
        n += *p == '\n';
    return n;
}

static void assert_refused(const char *var, const char *value)
{
    setenv(var, value, 1);
    ck_assert_msg(load() == MS_EINVALID, "%s=%s was accepted", var, value);
    ck_assert_msg(strstr(logged, var) != NULL, "the log does not name %s: %s", var, logged);
    unsetenv(var);
}

static void assert_accepted(const char *var, const char *value)
{
    setenv(var, value, 1);
    ck_assert_msg(load() == MS_OK, "%s=%s was refused: %s", var, value, logged);
    unsetenv(var);
}

/* ---- ms_config_load: defaults ---- */

START_TEST(load_with_only_database_url_fills_every_default)
{
    ck_assert_int_eq(load(), MS_OK);
    ck_assert_str_eq(ms_config.service, "test");
    ck_assert_str_eq(ms_config.app_env, "development");
    ck_assert_str_eq(ms_config.database_url, "postgresql://u@127.0.0.1:5433/db");
    ck_assert_str_eq(ms_config.redis_url, "redis://127.0.0.1:6379/0");
    ck_assert_str_eq(ms_config.jwt_secret, MS_JWT_DEFAULT_SECRET);
    ck_assert_str_eq(ms_config.jwt_refresh_secret, MS_JWT_DEFAULT_REFRESH_SECRET);
    ck_assert_str_eq(ms_config.jwt_issuer, "user-service");
    ck_assert_str_eq(ms_config.jwt_algorithm, "HS256");
    ck_assert_ptr_null(ms_config.jwt_private_key);
    ck_assert_ptr_null(ms_config.jwt_public_key);
    ck_assert_int_eq(ms_config.jwt_access_ttl_s, 900);
    ck_assert_int_eq(ms_config.jwt_refresh_ttl_s, 7L * 86400);
    ck_assert_int_eq(ms_config.bcrypt_cost, 12);
    ck_assert_int_eq(ms_config.workers, (int)sysconf(_SC_NPROCESSORS_ONLN));
    ck_assert_int_eq(ms_config.max_requests, 10000);
    ck_assert_int_eq(ms_config.shutdown_timeout_ms, 10000);
    ck_assert_int_eq(ms_config.db_connect_timeout_ms, 1000);
    ck_assert_int_eq(ms_config.db_statement_timeout_ms, 2000);
    ck_assert_int_eq(ms_config.redis_timeout_ms, 1000);
    ck_assert_int_eq(ms_config.log_level, MS_LOG_INFO);
    ck_assert_str_eq(ms_config.currency, "USD");
    ck_assert_int_eq(ms_config.relay_interval_ms, 200);
    ck_assert_str_eq(logged, "");
}
END_TEST

START_TEST(load_reads_every_variable_that_is_set)
{
    setenv("APP_ENV", "test", 1);
    setenv("REDIS_URL", "redis://10.0.0.1:6390/2", 1);
    setenv("JWT_SECRET", "s1", 1);
    setenv("JWT_REFRESH_SECRET", "s2", 1);
    setenv("JWT_ISSUER", "iss", 1);
    setenv("JWT_EXPIRES_IN", "1h", 1);
    setenv("JWT_REFRESH_EXPIRES_IN", "30d", 1);
    setenv("BCRYPT_COST", "4", 1);
    setenv("WORKERS", "3", 1);
    setenv("MAX_REQUESTS", "0", 1);
    setenv("SHUTDOWN_TIMEOUT_MS", "500", 1);
    setenv("DB_CONNECT_TIMEOUT_MS", "250", 1);
    setenv("DB_STATEMENT_TIMEOUT_MS", "750", 1);
    setenv("REDIS_TIMEOUT_MS", "300", 1);
    setenv("RELAY_INTERVAL_MS", "50", 1);
    setenv("LOG_LEVEL", "warn", 1);
    setenv("CURRENCY", "EUR", 1);
    ck_assert_int_eq(load(), MS_OK);
    ck_assert_str_eq(ms_config.app_env, "test");
    ck_assert_str_eq(ms_config.redis_url, "redis://10.0.0.1:6390/2");
    ck_assert_str_eq(ms_config.jwt_secret, "s1");
    ck_assert_str_eq(ms_config.jwt_refresh_secret, "s2");
    ck_assert_str_eq(ms_config.jwt_issuer, "iss");
    ck_assert_int_eq(ms_config.jwt_access_ttl_s, 3600);
    ck_assert_int_eq(ms_config.jwt_refresh_ttl_s, 30L * 86400);
    ck_assert_int_eq(ms_config.bcrypt_cost, 4);
    ck_assert_int_eq(ms_config.workers, 3);
    ck_assert_int_eq(ms_config.max_requests, 0);
    ck_assert_int_eq(ms_config.shutdown_timeout_ms, 500);
    ck_assert_int_eq(ms_config.db_connect_timeout_ms, 250);
    ck_assert_int_eq(ms_config.db_statement_timeout_ms, 750);
    ck_assert_int_eq(ms_config.redis_timeout_ms, 300);
    ck_assert_int_eq(ms_config.relay_interval_ms, 50);
    ck_assert_int_eq(ms_config.log_level, MS_LOG_WARN);
    ck_assert_str_eq(ms_config.currency, "EUR");
}
END_TEST

START_TEST(load_treats_an_empty_variable_as_unset)
{
    setenv("WORKERS", "", 1);
    setenv("JWT_SECRET", "", 1);
    ck_assert_int_eq(load(), MS_OK);
    ck_assert_int_eq(ms_config.workers, (int)sysconf(_SC_NPROCESSORS_ONLN));
    ck_assert_str_eq(ms_config.jwt_secret, MS_JWT_DEFAULT_SECRET);
}
END_TEST

START_TEST(load_sets_the_log_level_it_read)
{
    setenv("LOG_LEVEL", "error", 1);
    ck_assert_int_eq(load(), MS_OK);
    ck_assert(!ms_log_enabled(MS_LOG_WARN));
    ck_assert(ms_log_enabled(MS_LOG_ERROR));
}
END_TEST

/* ---- ms_config_load: bad values ---- */

START_TEST(load_refuses_workers_outside_1_to_256)
{
    assert_refused("WORKERS", "0");
    assert_refused("WORKERS", "257");
    assert_refused("WORKERS", "-1");
    assert_accepted("WORKERS", "1");
    assert_accepted("WORKERS", "256");
}
END_TEST

START_TEST(load_refuses_workers_that_is_not_an_integer)
{
    assert_refused("WORKERS", "four");
    assert_refused("WORKERS", "4x");
    assert_refused("WORKERS", "4.0");
    assert_refused("WORKERS", "99999999999999999999999");
}
END_TEST

START_TEST(load_refuses_bcrypt_cost_outside_4_to_31)
{
    assert_refused("BCRYPT_COST", "3");
    assert_refused("BCRYPT_COST", "32");
    assert_refused("BCRYPT_COST", "twelve");
    assert_accepted("BCRYPT_COST", "4");
    assert_accepted("BCRYPT_COST", "31");
}
END_TEST

START_TEST(load_refuses_timeouts_outside_their_ranges)
{
    assert_refused("DB_CONNECT_TIMEOUT_MS", "49");
    assert_refused("DB_STATEMENT_TIMEOUT_MS", "600001");
    assert_refused("REDIS_TIMEOUT_MS", "0");
    assert_refused("SHUTDOWN_TIMEOUT_MS", "-5");
    assert_refused("RELAY_INTERVAL_MS", "9");
    assert_refused("MAX_REQUESTS", "-1");
}
END_TEST

START_TEST(load_refuses_a_missing_database_url)
{
    unsetenv("DATABASE_URL");
    ck_assert_int_eq(load(), MS_EINVALID);
    ck_assert_ptr_nonnull(strstr(logged, "DATABASE_URL"));
}
END_TEST

START_TEST(load_refuses_an_empty_database_url)
{
    setenv("DATABASE_URL", "", 1);
    ck_assert_int_eq(load(), MS_EINVALID);
    ck_assert_ptr_nonnull(strstr(logged, "DATABASE_URL"));
}
END_TEST

START_TEST(load_refuses_an_unknown_log_level)
{
    assert_refused("LOG_LEVEL", "verbose");
}
END_TEST

START_TEST(load_refuses_a_bad_duration)
{
    assert_refused("JWT_EXPIRES_IN", "15x");
    assert_refused("JWT_REFRESH_EXPIRES_IN", "0");
}
END_TEST

START_TEST(load_refuses_an_unknown_jwt_algorithm)
{
    assert_refused("JWT_ALGORITHM", "HS512");
    assert_refused("JWT_ALGORITHM", "none");
}
END_TEST

START_TEST(load_refuses_rs256_without_a_public_key_file)
{
    assert_refused("JWT_ALGORITHM", "RS256");
    ck_assert_ptr_nonnull(strstr(logged, "JWT_PUBLIC_KEY_FILE"));
}
END_TEST

START_TEST(load_refuses_a_public_key_file_that_does_not_exist)
{
    setenv("JWT_ALGORITHM", "ES256", 1);
    setenv("JWT_PUBLIC_KEY_FILE", "/nonexistent/microshop/key.pem", 1);
    ck_assert_int_eq(load(), MS_EINVALID);
    ck_assert_ptr_nonnull(strstr(logged, "JWT_PUBLIC_KEY_FILE"));
}
END_TEST

START_TEST(load_reads_the_public_key_file_for_rs256)
{
    int fd;

    FMT(key_path, "/tmp/ut-config-key-XXXXXX");
    fd = mkstemp(key_path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "PEM DATA\n", 9), 9);
    close(fd);
    setenv("JWT_ALGORITHM", "RS256", 1);
    setenv("JWT_PUBLIC_KEY_FILE", key_path, 1);
    ck_assert_int_eq(load(), MS_OK);
    ck_assert_str_eq(ms_config.jwt_algorithm, "RS256");
    ck_assert_str_eq(ms_config.jwt_public_key, "PEM DATA\n");
    ck_assert_ptr_null(ms_config.jwt_private_key);
    ms_config_release();
    ck_assert_ptr_null(ms_config.jwt_public_key);
}
END_TEST

START_TEST(load_logs_one_line_per_problem)
{
    unsetenv("DATABASE_URL");
    setenv("WORKERS", "0", 1);
    setenv("BCRYPT_COST", "99", 1);
    ck_assert_int_eq(load(), MS_EINVALID);
    ck_assert_int_eq(logged_lines(), 3);
    ck_assert_ptr_nonnull(strstr(logged, "WORKERS"));
    ck_assert_ptr_nonnull(strstr(logged, "BCRYPT_COST"));
    ck_assert_ptr_nonnull(strstr(logged, "DATABASE_URL"));
}
END_TEST

/* ---- ms_config_load: APP_ENV=production ---- */

START_TEST(production_refuses_the_default_jwt_secret)
{
    setenv("APP_ENV", "production", 1);
    setenv("JWT_REFRESH_SECRET", REFRESH_32, 1);
    ck_assert_int_eq(load(), MS_EINVALID);
    ck_assert_ptr_nonnull(strstr(logged, "JWT_SECRET"));
    ck_assert_ptr_null(strstr(logged, MS_JWT_DEFAULT_SECRET));
}
END_TEST

START_TEST(production_refuses_a_31_byte_jwt_secret_without_logging_it)
{
    setenv("APP_ENV", "production", 1);
    setenv("JWT_SECRET", SECRET_31, 1);
    setenv("JWT_REFRESH_SECRET", REFRESH_32, 1);
    ck_assert_int_eq(load(), MS_EINVALID);
    ck_assert_int_eq(logged_lines(), 1);
    ck_assert_ptr_nonnull(strstr(logged, "JWT_SECRET"));
    ck_assert_ptr_null(strstr(logged, SECRET_31));
}
END_TEST

START_TEST(production_accepts_32_byte_secrets)
{
    setenv("APP_ENV", "production", 1);
    setenv("JWT_SECRET", SECRET_32, 1);
    setenv("JWT_REFRESH_SECRET", REFRESH_32, 1);
    ck_assert_int_eq(load(), MS_OK);
    ck_assert_str_eq(ms_config.jwt_secret, SECRET_32);
    ck_assert_str_eq(logged, "");
}
END_TEST

START_TEST(production_refuses_the_default_refresh_secret)
{
    setenv("APP_ENV", "production", 1);
    setenv("JWT_SECRET", SECRET_32, 1);
    ck_assert_int_eq(load_as("user"), MS_EINVALID);
    ck_assert_ptr_nonnull(strstr(logged, "JWT_REFRESH_SECRET"));
}
END_TEST

/* only the user service signs or reads refresh tokens */
START_TEST(production_needs_no_refresh_secret_outside_the_user_service)
{
    setenv("APP_ENV", "production", 1);
    setenv("JWT_SECRET", SECRET_32, 1);
    ck_assert_int_eq(load_as("product"), MS_OK);
}
END_TEST

START_TEST(currency_must_be_three_capitals)
{
    setenv("CURRENCY", "EUR", 1);
    ck_assert_int_eq(load(), MS_OK);
    ck_assert_str_eq(ms_config.currency, "EUR");
    setenv("CURRENCY", "eur", 1);
    ck_assert_int_eq(load(), MS_EINVALID);
    setenv("CURRENCY", "EURO", 1);
    ck_assert_int_eq(load(), MS_EINVALID);
    unsetenv("CURRENCY");
}
END_TEST

START_TEST(development_accepts_the_default_secrets)
{
    setenv("APP_ENV", "development", 1);
    ck_assert_int_eq(load(), MS_OK);
}
END_TEST

/* ---- ms_config_parse_duration ---- */

START_TEST(duration_of_bare_digits_is_seconds)
{
    ck_assert_int_eq(ms_config_parse_duration("900"), 900);
    ck_assert_int_eq(ms_config_parse_duration("1"), 1);
}
END_TEST

START_TEST(duration_units_are_seconds_minutes_hours_days)
{
    ck_assert_int_eq(ms_config_parse_duration("30s"), 30);
    ck_assert_int_eq(ms_config_parse_duration("15m"), 900);
    ck_assert_int_eq(ms_config_parse_duration("12h"), 43200);
    ck_assert_int_eq(ms_config_parse_duration("7d"), 604800);
}
END_TEST

START_TEST(duration_refuses_zero_and_negative)
{
    ck_assert_int_eq(ms_config_parse_duration("0"), -1);
    ck_assert_int_eq(ms_config_parse_duration("0m"), -1);
    ck_assert_int_eq(ms_config_parse_duration("-5"), -1);
}
END_TEST

START_TEST(duration_refuses_unknown_units_and_trailing_text)
{
    ck_assert_int_eq(ms_config_parse_duration("15x"), -1);
    ck_assert_int_eq(ms_config_parse_duration("15mm"), -1);
    ck_assert_int_eq(ms_config_parse_duration("15 m"), -1);
    ck_assert_int_eq(ms_config_parse_duration("1w"), -1);
}
END_TEST

START_TEST(duration_refuses_empty_null_and_a_bare_unit)
{
    ck_assert_int_eq(ms_config_parse_duration(""), -1);
    ck_assert_int_eq(ms_config_parse_duration(NULL), -1);
    ck_assert_int_eq(ms_config_parse_duration("m"), -1);
}
END_TEST

START_TEST(duration_refuses_values_that_overflow)
{
    ck_assert_int_eq(ms_config_parse_duration("99999999999999999999"), -1);
    ck_assert_int_eq(ms_config_parse_duration("9223372036854775807d"), -1);
    ck_assert_int_eq(ms_config_parse_duration("9223372036854775807"), 9223372036854775807L);
}
END_TEST

Suite *config_suite(void);

Suite *config_suite(void)
{
    Suite *s = suite_create("config");
    TCase *load_tc = tcase_create("load");
    TCase *prod = tcase_create("load_production");
    TCase *duration = tcase_create("parse_duration");

    tcase_add_checked_fixture(load_tc, setup, teardown);
    tcase_add_test(load_tc, load_with_only_database_url_fills_every_default);
    tcase_add_test(load_tc, load_reads_every_variable_that_is_set);
    tcase_add_test(load_tc, load_treats_an_empty_variable_as_unset);
    tcase_add_test(load_tc, load_sets_the_log_level_it_read);
    tcase_add_test(load_tc, load_refuses_workers_outside_1_to_256);
    tcase_add_test(load_tc, load_refuses_workers_that_is_not_an_integer);
    tcase_add_test(load_tc, load_refuses_bcrypt_cost_outside_4_to_31);
    tcase_add_test(load_tc, load_refuses_timeouts_outside_their_ranges);
    tcase_add_test(load_tc, load_refuses_a_missing_database_url);
    tcase_add_test(load_tc, load_refuses_an_empty_database_url);
    tcase_add_test(load_tc, load_refuses_an_unknown_log_level);
    tcase_add_test(load_tc, load_refuses_a_bad_duration);
    tcase_add_test(load_tc, load_refuses_an_unknown_jwt_algorithm);
    tcase_add_test(load_tc, load_refuses_rs256_without_a_public_key_file);
    tcase_add_test(load_tc, load_refuses_a_public_key_file_that_does_not_exist);
    tcase_add_test(load_tc, load_reads_the_public_key_file_for_rs256);
    tcase_add_test(load_tc, load_logs_one_line_per_problem);
    suite_add_tcase(s, load_tc);

    tcase_add_checked_fixture(prod, setup, teardown);
    tcase_add_test(prod, production_refuses_the_default_jwt_secret);
    tcase_add_test(prod, production_refuses_a_31_byte_jwt_secret_without_logging_it);
    tcase_add_test(prod, production_accepts_32_byte_secrets);
    tcase_add_test(prod, production_refuses_the_default_refresh_secret);
    tcase_add_test(prod, production_needs_no_refresh_secret_outside_the_user_service);
    tcase_add_test(prod, currency_must_be_three_capitals);
    tcase_add_test(prod, development_accepts_the_default_secrets);
    suite_add_tcase(s, prod);

    tcase_add_test(duration, duration_of_bare_digits_is_seconds);
    tcase_add_test(duration, duration_units_are_seconds_minutes_hours_days);
    tcase_add_test(duration, duration_refuses_zero_and_negative);
    tcase_add_test(duration, duration_refuses_unknown_units_and_trailing_text);
    tcase_add_test(duration, duration_refuses_empty_null_and_a_bare_unit);
    tcase_add_test(duration, duration_refuses_values_that_overflow);
    suite_add_tcase(s, duration);
    return s;
}

MS_SUITE(config_suite)
