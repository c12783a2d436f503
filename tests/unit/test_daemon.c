/* Unit tests of lib/daemon.c: ms_daemon_main() runs in a forked child with
 * its environment set (DATABASE_URL = MS_TEST_DATABASE_URL, REDIS_URL =
 * MS_TEST_REDIS_URL, RELAY_INTERVAL_MS); a scripted tick counts its calls and
 * stamps their times in a shared mapping (MAP_SHARED, made before the fork)
 * that the test reads. The child dies with the test (PR_SET_PDEATHSIG). */
#include "lib/daemon.h"
#include "lib/service.h"

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/cache.h"
#include "lib/clock.h"
#include "lib/db.h"
#include "lib/err.h"
#include "tests/unit/suites.h"
#include "lib/banned.h"

#define MAX_STAMPS 256

/* What the tick answers on call n (1-based). */
enum script {
    WORK_THEN_IDLE, /* 1 for calls 1..work_calls, then 0 */
    ALWAYS_IDLE,    /* 0 */
    ALWAYS_FAIL,    /* MS_EUNAVAIL */
    FAIL_WORK_FAIL, /* MS_EUNAVAIL for 1..work_calls-1, 1 on work_calls, then MS_EUNAVAIL */
    CHECK_DAEMON,   /* note what the daemon looks like, ping both servers, then 0 */
};

struct shared {
    enum script script;
    int work_calls;
    int calls;
    int64_t stamp_us[MAX_STAMPS];
    /* CHECK_DAEMON */
    int service_is_test, ctx_is_shared, db_ping, cache_ping;
};

static struct shared *sh;
static pid_t child;
static const char *redis_url; /* REDIS_URL of the next daemon; NULL: MS_TEST_REDIS_URL */

static int tick(struct ms_ctx *d, void *ctx)
{
    struct shared *s = ctx;
    int n = __atomic_add_fetch(&s->calls, 1, __ATOMIC_SEQ_CST);

    if (n <= MAX_STAMPS)
        s->stamp_us[n - 1] = ms_clock_mono_us();
    switch (s->script) {
    case WORK_THEN_IDLE:
        return n <= s->work_calls ? 1 : 0;
    case ALWAYS_IDLE:
        return 0;
    case ALWAYS_FAIL:
        return MS_EUNAVAIL;
    case FAIL_WORK_FAIL:
        return n == s->work_calls ? 1 : MS_EUNAVAIL;
    case CHECK_DAEMON:
        if (n == 1) {
            s->service_is_test = d->service && strcmp(d->service, "test") == 0;
            s->ctx_is_shared = ctx == sh;
            s->db_ping = d->db ? ms_db_ping(d->db) : -100;
            s->cache_ping = d->cache ? ms_cache_ping(d->cache) : -100;
        }
        return 0;
    }
    return 0;
}

static void setup(void)
{
    void *p = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

    ck_assert_msg(getenv("MS_TEST_DATABASE_URL") && getenv("MS_TEST_REDIS_URL"),
                  "MS_TEST_DATABASE_URL and MS_TEST_REDIS_URL must be set: the daemon suite "
                  "needs a PostgreSQL and a Redis");
    ck_assert_ptr_ne(p, MAP_FAILED);
    sh = p;
    memset(sh, 0, sizeof *sh);
    child = 0;
    redis_url = NULL;
}

static void teardown(void)
{
    if (child > 0) { /* a failed test left it running */
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
        child = 0;
    }
    munmap(sh, sizeof *sh);
    sh = NULL;
}

/* Fork ms_daemon_main("test", …) with RELAY_INTERVAL_MS=interval (NULL: unset)
 * and DATABASE_URL set unless no_database_url; REDIS_URL is redis_url when
 * set, else MS_TEST_REDIS_URL. */

static void start_daemon(const char *interval, int no_database_url)
{
    pid_t parent = getpid();

    fflush(NULL); /* nothing buffered may be written twice */
    child = fork();
    ck_assert_int_ge(child, 0);
    if (child == 0) {
        sigset_t none;
        int rc;

        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(121);
        /* start as an exec'd worker would: default dispositions (not the
         * runner's handlers, which kill its whole process group), no mask */
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGALRM, SIG_DFL);
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        if (no_database_url)
            unsetenv("DATABASE_URL");
        else
            setenv("DATABASE_URL", getenv("MS_TEST_DATABASE_URL"), 1);
        setenv("REDIS_URL", redis_url ? redis_url : getenv("MS_TEST_REDIS_URL"), 1);
        if (interval)
            setenv("RELAY_INTERVAL_MS", interval, 1);
        else
            unsetenv("RELAY_INTERVAL_MS");
        setenv("LOG_LEVEL", "warn", 1);
        unsetenv("APP_ENV");
        unsetenv("JWT_ALGORITHM");
        static const struct ms_service svc = { .name = "test" };

        rc = ms_daemon_main(&svc, tick, sh);
        _exit(rc);
    }
}

static int calls(void)
{
    return __atomic_load_n(&sh->calls, __ATOMIC_SEQ_CST);
}

static void nap_ms(int ms)
{
    struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

    while (nanosleep(&ts, &ts) < 0)
        ;
}

/* Poll until the tick ran at least n times (fails after timeout_ms). */
static void wait_calls(int n, int timeout_ms)
{
    int64_t deadline = ms_clock_mono_us() + (int64_t)timeout_ms * 1000;

    while (calls() < n) {
        ck_assert_msg(ms_clock_mono_us() < deadline, "tick ran %d times in %d ms, want %d", calls(),
                      timeout_ms, n);
        nap_ms(1);
    }
}

/* Poll until the child sleeps (state S in /proc): after its tick it can only
 * be in its nap, so a signal sent now cannot slip in before the nap starts. */
static void wait_asleep(void)
{
    int64_t deadline = ms_clock_mono_us() + 2000000;
    char path[64], stat[512];

    (void)snprintf(path, sizeof path, "/proc/%ld/stat", (long)child);
    for (;;) {
        FILE *f = fopen(path, "r");
        size_t n = f ? fread(stat, 1, sizeof stat - 1, f) : 0;
        const char *paren;

        if (f)
            fclose(f);
        stat[n] = '\0';
        paren = strrchr(stat, ')');
        if (paren && paren[1] == ' ' && paren[2] == 'S')
            return;
        ck_assert_msg(ms_clock_mono_us() < deadline, "the daemon did not go to sleep: %s", stat);
        nap_ms(1);
    }
}

/* Wait up to timeout_ms for the child to end; its wait status. */
static int wait_exit(int timeout_ms)
{
    int64_t deadline = ms_clock_mono_us() + (int64_t)timeout_ms * 1000;
    int status = 0;
    pid_t got;

    while ((got = waitpid(child, &status, WNOHANG)) == 0) {
        ck_assert_msg(ms_clock_mono_us() < deadline, "the daemon did not exit within %d ms",
                      timeout_ms);
        nap_ms(1);
    }
    ck_assert_int_eq(got, child);
    child = 0;
    return status;
}

/* Send sig and assert a clean exit 0 within timeout_ms. */
static void stop_and_expect_0(int sig, int timeout_ms)
{
    int status;

    ck_assert_int_eq(kill(child, sig), 0);
    status = wait_exit(timeout_ms);
    ck_assert_msg(WIFEXITED(status), "the daemon died of signal %d", WTERMSIG(status));
    ck_assert_int_eq(WEXITSTATUS(status), 0);
}

/* Milliseconds between tick calls a and b (1-based). */
static double gap_ms(int a, int b)
{
    return (double)(sh->stamp_us[b - 1] - sh->stamp_us[a - 1]) / 1000.0;
}

/* ---- ms_daemon_main ---- */

START_TEST(main_runs_tick_until_sigterm_and_exits_0_within_2_s)
{
    sh->script = WORK_THEN_IDLE;
    sh->work_calls = 3;
    start_daemon("10", 0);
    wait_calls(10, 5000);
    stop_and_expect_0(SIGTERM, 2000);
    ck_assert_int_ge(calls(), 10);
}
END_TEST

START_TEST(main_exits_0_on_sigint)
{
    sh->script = ALWAYS_IDLE;
    start_daemon("10", 0);
    wait_calls(2, 5000);
    stop_and_expect_0(SIGINT, 2000);
}
END_TEST

START_TEST(main_stops_at_once_when_sigterm_comes_during_the_idle_sleep)
{
    int64_t t0;

    sh->script = ALWAYS_IDLE;
    start_daemon("5000", 0);
    wait_calls(1, 5000);
    wait_asleep();
    t0 = ms_clock_mono_us();
    stop_and_expect_0(SIGTERM, 2000);
    ck_assert_int_lt(ms_clock_mono_us() - t0, 1000000);
    ck_assert_int_eq(calls(), 1);
}
END_TEST

START_TEST(main_stops_at_once_when_sigterm_comes_during_a_backoff)
{
    int64_t t0;

    sh->script = ALWAYS_FAIL;
    start_daemon("5000", 0);
    wait_calls(1, 5000);
    wait_asleep();
    t0 = ms_clock_mono_us();
    stop_and_expect_0(SIGTERM, 2000);
    ck_assert_int_lt(ms_clock_mono_us() - t0, 1000000);
    ck_assert_int_eq(calls(), 1);
}
END_TEST

START_TEST(main_calls_tick_again_at_once_while_it_reports_work)
{
    sh->script = WORK_THEN_IDLE;
    sh->work_calls = 20;
    start_daemon("1000", 0);
    wait_calls(21, 5000);
    /* 20 rounds of work, no sleep between them (one would be 1000 ms) */
    ck_assert_double_lt(gap_ms(1, 21), 500);
    stop_and_expect_0(SIGTERM, 2000);
}
END_TEST

START_TEST(main_sleeps_relay_interval_ms_between_idle_ticks)
{
    sh->script = ALWAYS_IDLE;
    start_daemon("100", 0);
    wait_calls(4, 5000);
    stop_and_expect_0(SIGTERM, 2000);
    for (int i = 1; i < 4; i++)
        ck_assert_msg(gap_ms(i, i + 1) >= 100, "idle gap %d→%d was %.1f ms, want >= 100", i, i + 1,
                      gap_ms(i, i + 1));
}
END_TEST

START_TEST(main_sleeps_the_default_200_ms_without_relay_interval_ms)
{
    sh->script = ALWAYS_IDLE;
    start_daemon(NULL, 0);
    wait_calls(2, 5000);
    stop_and_expect_0(SIGTERM, 2000);
    ck_assert_msg(gap_ms(1, 2) >= 200, "idle gap was %.1f ms, want >= 200", gap_ms(1, 2));
}
END_TEST

START_TEST(main_backs_off_doubling_while_tick_fails)
{
    int n;

    sh->script = ALWAYS_FAIL;
    start_daemon("10", 0);
    wait_calls(1, 5000);
    nap_ms(300);
    n = calls();
    stop_and_expect_0(SIGTERM, 2000);
    /* naps of 10, 20, 40, 80, 160 ms: calls at 0, 10, 30, 70, 150, 310 ms;
     * without backoff there would be ~30 */
    ck_assert_msg(n >= 3 && n < 10, "tick ran %d times in 300 ms of failures", n);
    for (int i = 1; i < 5 && i < n; i++)
        ck_assert_msg(gap_ms(i, i + 1) >= 10 << (i - 1), "gap %d→%d was %.1f ms, want >= %d", i,
                      i + 1, gap_ms(i, i + 1), 10 << (i - 1));
}
END_TEST

START_TEST(main_restarts_the_backoff_after_a_round_of_work)
{
    sh->script = FAIL_WORK_FAIL;
    sh->work_calls = 5; /* fails 1..4 (naps 10, 20, 40, 80), works on 5, fails again */
    start_daemon("10", 0);
    wait_calls(7, 5000);
    stop_and_expect_0(SIGTERM, 2000);
    ck_assert_double_ge(gap_ms(4, 5), 80);
    /* after the work the first failure naps RELAY_INTERVAL_MS again, not 160 ms */
    ck_assert_msg(gap_ms(6, 7) < 120, "gap after work was %.1f ms, want ~10", gap_ms(6, 7));
}
END_TEST

START_TEST(main_hands_tick_ctx_and_a_daemon_connected_to_the_configured_servers)
{
    sh->script = CHECK_DAEMON;
    start_daemon("10", 0);
    wait_calls(2, 5000);
    stop_and_expect_0(SIGTERM, 2000);
    ck_assert_int_eq(sh->service_is_test, 1);
    ck_assert_int_eq(sh->ctx_is_shared, 1);
    ck_assert_int_ge(sh->db_ping, 0);
    ck_assert_int_ge(sh->cache_ping, 0);
}
END_TEST

START_TEST(main_exits_78_without_database_url)
{
    int status;

    sh->script = ALWAYS_IDLE;
    start_daemon("10", 1);
    status = wait_exit(2000);
    ck_assert(WIFEXITED(status));
    ck_assert_int_eq(WEXITSTATUS(status), 78);
    ck_assert_int_eq(calls(), 0);
}
END_TEST

START_TEST(main_exits_78_with_relay_interval_ms_below_10)
{
    int status;

    sh->script = ALWAYS_IDLE;
    start_daemon("5", 0);
    status = wait_exit(2000);
    ck_assert(WIFEXITED(status));
    ck_assert_int_eq(WEXITSTATUS(status), 78);
    ck_assert_int_eq(calls(), 0);
}
END_TEST

START_TEST(main_exits_78_when_redis_url_is_malformed)
{
    int status;

    sh->script = ALWAYS_IDLE;
    redis_url = "nonsense";
    start_daemon("10", 0);
    status = wait_exit(2000);
    ck_assert(WIFEXITED(status));
    /* a configuration error, like an unset DATABASE_URL (systemd units may
     * tell EX_CONFIG from a crash) */
    ck_assert_int_eq(WEXITSTATUS(status), 78);
    ck_assert_int_eq(calls(), 0);
}
END_TEST

Suite *daemon_suite(void);

Suite *daemon_suite(void)
{
    Suite *s = suite_create("daemon");
    TCase *main_tc = tcase_create("main");

    tcase_add_checked_fixture(main_tc, setup, teardown);
    tcase_set_timeout(main_tc, 15);
    tcase_add_test(main_tc, main_runs_tick_until_sigterm_and_exits_0_within_2_s);
    tcase_add_test(main_tc, main_exits_0_on_sigint);
    tcase_add_test(main_tc, main_stops_at_once_when_sigterm_comes_during_the_idle_sleep);
    tcase_add_test(main_tc, main_stops_at_once_when_sigterm_comes_during_a_backoff);
    tcase_add_test(main_tc, main_calls_tick_again_at_once_while_it_reports_work);
    tcase_add_test(main_tc, main_sleeps_relay_interval_ms_between_idle_ticks);
    tcase_add_test(main_tc, main_sleeps_the_default_200_ms_without_relay_interval_ms);
    tcase_add_test(main_tc, main_backs_off_doubling_while_tick_fails);
    tcase_add_test(main_tc, main_restarts_the_backoff_after_a_round_of_work);
    tcase_add_test(main_tc, main_hands_tick_ctx_and_a_daemon_connected_to_the_configured_servers);
    tcase_add_test(main_tc, main_exits_78_without_database_url);
    tcase_add_test(main_tc, main_exits_78_with_relay_interval_ms_below_10);
    tcase_add_test(main_tc, main_exits_78_when_redis_url_is_malformed);
    suite_add_tcase(s, main_tc);
    return s;
}

MS_SUITE(daemon_suite)
