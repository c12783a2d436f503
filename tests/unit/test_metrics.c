/* Unit tests of lib/metrics.c: request counting by route/status/latency
 * bucket, counters, the Prometheus text, the Node JSON shape, and sums across
 * a fork (the pool's workers share one block). Each test maps a fresh block. */
#include "lib/metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "lib/buf.h"
#include "lib/clock.h"
#include "lib/err.h"
#include "tests/unit/suites.h"
#include "lib/banned.h"

static const struct ms_metrics_route routes[] = {
    { "GET", "/api/users" },
    { "POST", "/api/auth/login" },
};

static struct ms_buf out;

static void setup(void)
{
    ck_assert_int_eq(ms_metrics_init(), MS_OK);
    ms_buf_init(&out, NULL);
}

static void teardown(void)
{
    ms_buf_release(&out);
}

static const char *render(long outbox_pending, double oldest_s)
{
    ms_buf_reset(&out);
    ms_metrics_prometheus(&out, "test", routes, 2, outbox_pending, oldest_s, NULL);
    return out.buf;
}

/* Asserts that the text holds line as a whole line. */
static void assert_line(const char *text, const char *line)
{
    size_t n = strlen(line);

    for (const char *p = strstr(text, line); p; p = strstr(p + 1, line))
        if ((p == text || p[-1] == '\n') && p[n] == '\n')
            return;
    ck_abort_msg("no line \"%s\" in:\n%s", line, text);
}

static void assert_no_text(const char *text, const char *part)
{
    ck_assert_msg(strstr(text, part) == NULL, "unexpected \"%s\" in:\n%s", part, text);
}

#define REQ_LINE(route, method, status, n)                                                \
    "microshop_http_requests_total{service=\"test\",method=\"" method "\",route=\"" route \
    "\",status=\"" status "\"} " n
#define BUCKET_LINE(route, method, le, n)                                              \
    "microshop_http_request_duration_seconds_bucket{service=\"test\",method=\"" method \
    "\",route=\"" route "\",le=\"" le "\"} " n

/* ---- ms_metrics_init ---- */

START_TEST(init_starts_every_counter_at_zero)
{
    for (int m = 0; m < MS_M_COUNT; m++)
        ck_assert_uint_eq(ms_metrics_get((enum ms_metric)m), 0);
    assert_no_text(render(-1, 0), "microshop_http_requests_total{");
}
END_TEST

START_TEST(init_records_the_start_time)
{
    int64_t now = ms_clock_now_ms();

    ck_assert_int_le(ms_metrics_started_ms(), now);
    ck_assert_int_gt(ms_metrics_started_ms(), now - 5000);
}
END_TEST

/* ---- ms_metrics_request ---- */

START_TEST(request_is_counted_under_its_route_method_and_status)
{
    ms_metrics_request(0, 200, 1500);
    ms_metrics_request(0, 200, 1500);
    ms_metrics_request(1, 401, 800);
    render(-1, 0);
    assert_line(out.buf, REQ_LINE("/api/users", "GET", "200", "2"));
    assert_line(out.buf, REQ_LINE("/api/auth/login", "POST", "401", "1"));
    assert_no_text(out.buf, "status=\"201\"");
}
END_TEST

START_TEST(request_with_an_unlisted_status_counts_as_other)
{
    ms_metrics_request(1, 418, 10);
    assert_line(render(-1, 0), REQ_LINE("/api/auth/login", "POST", "other", "1"));
}
END_TEST

START_TEST(request_of_no_route_counts_as_unmatched)
{
    ms_metrics_request(-1, 404, 10);
    ms_metrics_request(MS_METRICS_MAX_ROUTES, 404, 10);
    ms_metrics_request(1000, 404, 10);
    assert_line(render(-1, 0), REQ_LINE("unmatched", "", "404", "3"));
}
END_TEST

START_TEST(request_falls_into_the_first_bucket_at_least_its_duration)
{
    ms_metrics_request(0, 200, 1500); /* 1.5 ms */
    render(-1, 0);
    assert_line(out.buf, BUCKET_LINE("/api/users", "GET", "0.001", "0"));
    assert_line(out.buf, BUCKET_LINE("/api/users", "GET", "0.0025", "1"));
    assert_line(out.buf, BUCKET_LINE("/api/users", "GET", "2.5", "1"));
    assert_line(out.buf, BUCKET_LINE("/api/users", "GET", "+Inf", "1"));
}
END_TEST

START_TEST(request_on_a_bucket_bound_counts_in_that_bucket)
{
    ms_metrics_request(0, 200, 1000);   /* exactly 1 ms */
    ms_metrics_request(0, 200, 100000); /* exactly 100 ms */
    render(-1, 0);
    assert_line(out.buf, BUCKET_LINE("/api/users", "GET", "0.001", "1"));
    assert_line(out.buf, BUCKET_LINE("/api/users", "GET", "0.05", "1"));
    assert_line(out.buf, BUCKET_LINE("/api/users", "GET", "0.1", "2"));
}
END_TEST

START_TEST(request_slower_than_every_bound_counts_only_in_inf)
{
    ms_metrics_request(1, 200, 3000000);
    render(-1, 0);
    assert_line(out.buf, BUCKET_LINE("/api/auth/login", "POST", "2.5", "0"));
    assert_line(out.buf, BUCKET_LINE("/api/auth/login", "POST", "+Inf", "1"));
}
END_TEST

START_TEST(request_durations_sum_and_count_per_route)
{
    ms_metrics_request(0, 200, 1500);
    ms_metrics_request(0, 500, 2500);
    render(-1, 0);
    assert_line(out.buf, "microshop_http_request_duration_seconds_sum{service=\"test\","
                         "method=\"GET\",route=\"/api/users\"} 0.004000");
    assert_line(out.buf, "microshop_http_request_duration_seconds_count{service=\"test\","
                         "method=\"GET\",route=\"/api/users\"} 2");
}
END_TEST

START_TEST(request_with_a_negative_duration_adds_nothing_to_the_sum)
{
    ms_metrics_request(0, 200, -5);
    assert_line(render(-1, 0), "microshop_http_request_duration_seconds_sum{service=\"test\","
                               "method=\"GET\",route=\"/api/users\"} 0.000000");
}
END_TEST

START_TEST(requests_are_summed_across_a_fork)
{
    pid_t pid;
    int status = 0;

    ms_metrics_request(0, 200, 100);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        for (int i = 0; i < 5; i++)
            ms_metrics_request(0, 200, 100);
        ms_metrics_request(1, 401, 100);
        ms_metrics_add(MS_M_DB_ERRORS, 2);
        _exit(0);
    }
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    render(-1, 0);
    assert_line(out.buf, REQ_LINE("/api/users", "GET", "200", "6"));
    assert_line(out.buf, REQ_LINE("/api/auth/login", "POST", "401", "1"));
    ck_assert_uint_eq(ms_metrics_get(MS_M_DB_ERRORS), 2);
}
END_TEST

START_TEST(requests_of_several_children_are_all_counted)
{
    pid_t pids[4];

    for (int c = 0; c < 4; c++) {
        pids[c] = fork();
        ck_assert_int_ge(pids[c], 0);
        if (pids[c] == 0) {
            for (int i = 0; i < 1000; i++)
                ms_metrics_request(1, 201, 10);
            _exit(0);
        }
    }
    for (int c = 0; c < 4; c++) {
        int status = 0;

        ck_assert_int_eq(waitpid(pids[c], &status, 0), pids[c]);
        ck_assert(WIFEXITED(status));
    }
    assert_line(render(-1, 0), REQ_LINE("/api/auth/login", "POST", "201", "4000"));
}
END_TEST

/* ---- ms_metrics_add / ms_metrics_get ---- */

START_TEST(add_accumulates_into_its_counter_only)
{
    ms_metrics_add(MS_M_EVENTS_PUBLISHED, 3);
    ms_metrics_add(MS_M_EVENTS_PUBLISHED, 4);
    ck_assert_uint_eq(ms_metrics_get(MS_M_EVENTS_PUBLISHED), 7);
    ck_assert_uint_eq(ms_metrics_get(MS_M_EVENTS_CONSUMED), 0);
}
END_TEST

START_TEST(add_of_an_unknown_counter_is_ignored)
{
    ms_metrics_add(MS_M_COUNT, 1);
    ck_assert_uint_eq(ms_metrics_get(MS_M_COUNT), 0);
}
END_TEST

/* ---- ms_metrics_prometheus ---- */

START_TEST(prometheus_has_help_and_type_for_each_family)
{
    render(-1, 0);
    assert_line(out.buf, "# TYPE microshop_http_requests_total counter");
    assert_line(out.buf, "# TYPE microshop_http_request_duration_seconds histogram");
    assert_line(out.buf, "# TYPE microshop_db_errors_total counter");
    assert_line(out.buf, "# TYPE microshop_uptime_seconds gauge");
    ck_assert_ptr_nonnull(strstr(out.buf, "# HELP microshop_http_requests_total "));
}
END_TEST

START_TEST(prometheus_writes_every_counter_with_its_value)
{
    ms_metrics_add(MS_M_DB_ERRORS, 1);
    ms_metrics_add(MS_M_REDIS_ERRORS, 2);
    ms_metrics_add(MS_M_EVENTS_PUBLISHED, 3);
    ms_metrics_add(MS_M_EVENTS_CONSUMED, 4);
    ms_metrics_add(MS_M_EVENTS_DEAD, 5);
    ms_metrics_add(MS_M_WORKER_RESPAWNS, 6);
    render(-1, 0);
    assert_line(out.buf, "microshop_db_errors_total{service=\"test\"} 1");
    assert_line(out.buf, "microshop_redis_errors_total{service=\"test\"} 2");
    assert_line(out.buf, "microshop_events_published_total{service=\"test\"} 3");
    assert_line(out.buf, "microshop_events_consumed_total{service=\"test\"} 4");
    assert_line(out.buf, "microshop_events_dead_lettered_total{service=\"test\"} 5");
    assert_line(out.buf, "microshop_worker_respawns_total{service=\"test\"} 6");
}
END_TEST

START_TEST(prometheus_writes_outbox_gauges_when_pending_is_known)
{
    render(5, 1.5);
    assert_line(out.buf, "# TYPE microshop_outbox_pending gauge");
    assert_line(out.buf, "microshop_outbox_pending{service=\"test\"} 5");
    assert_line(out.buf, "microshop_outbox_oldest_pending_seconds{service=\"test\"} 1.500");
}
END_TEST

START_TEST(prometheus_leaves_out_outbox_gauges_when_pending_is_negative)
{
    assert_no_text(render(-1, 0), "microshop_outbox");
}
END_TEST

START_TEST(prometheus_writes_the_uptime)
{
    ck_assert_ptr_nonnull(strstr(render(-1, 0), "\nmicroshop_uptime_seconds{service=\"test\"} "));
}
END_TEST

START_TEST(prometheus_ends_with_a_newline)
{
    render(3, 0);
    ck_assert_int_eq(out.buf[out.len - 1], '\n');
}
END_TEST

/* ---- ms_metrics_json ---- */

START_TEST(json_has_the_node_shape_and_the_request_total)
{
    cJSON *j;
    const cJSON *ts;

    ms_metrics_request(0, 200, 10);
    ms_metrics_request(-1, 404, 10);
    ms_metrics_json(&out, "user");
    j = cJSON_Parse(out.buf);
    ck_assert_msg(j != NULL, "not JSON: %s", out.buf);
    ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(j, "service")->valuestring, "user-service");
    ts = cJSON_GetObjectItemCaseSensitive(j, "timestamp");
    ck_assert(cJSON_IsString(ts));
    ck_assert_uint_eq(strlen(ts->valuestring), 24);
    ck_assert(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(j, "uptime")));
    ck_assert(cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(j, "memory")));
    ck_assert(cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(j, "cpu")));
    ck_assert_int_eq(cJSON_GetObjectItemCaseSensitive(j, "requests")->valueint, 2);
    cJSON_Delete(j);
}
END_TEST

START_TEST(prometheus_adds_the_workers_counters_and_shows_consumer_lag)
{
    struct ms_metrics_extra x = { .nstreams = 1 };
    const char *text;

    ms_metrics_add(MS_M_EVENTS_PUBLISHED, 2);
    x.counters[MS_M_EVENTS_PUBLISHED] = 40;
    x.counters[MS_M_EVENTS_DEAD] = 3;
    x.streams[0].stream = "events:order";
    x.streams[0].lag = 7;
    x.streams[0].pending = 1;
    ms_buf_reset(&out);
    ms_metrics_prometheus(&out, "test", routes, 2, -1, 0, &x);
    text = out.buf;
    assert_line(text, "microshop_events_published_total{service=\"test\"} 42");
    assert_line(text, "microshop_events_dead_lettered_total{service=\"test\"} 3");
    assert_line(text, "# TYPE microshop_consumer_lag gauge");
    assert_line(text, "microshop_consumer_lag{service=\"test\",stream=\"events:order\"} 7");
    assert_line(text, "microshop_consumer_pending{service=\"test\",stream=\"events:order\"} 1");
    ck_assert_str_eq(ms_metrics_counter_name(MS_M_EVENTS_CONSUMED), "events_consumed");
}
END_TEST

Suite *metrics_suite(void);

Suite *metrics_suite(void)
{
    Suite *s = suite_create("metrics");
    TCase *tc_init = tcase_create("init");
    TCase *tc_request = tcase_create("request");
    TCase *tc_add = tcase_create("add");
    TCase *tc_prometheus = tcase_create("prometheus");
    TCase *tc_json = tcase_create("json");

    tcase_add_checked_fixture(tc_init, setup, teardown);
    tcase_add_test(tc_init, init_starts_every_counter_at_zero);
    tcase_add_test(tc_init, init_records_the_start_time);
    suite_add_tcase(s, tc_init);

    tcase_add_checked_fixture(tc_request, setup, teardown);
    tcase_add_test(tc_request, request_is_counted_under_its_route_method_and_status);
    tcase_add_test(tc_request, request_with_an_unlisted_status_counts_as_other);
    tcase_add_test(tc_request, request_of_no_route_counts_as_unmatched);
    tcase_add_test(tc_request, request_falls_into_the_first_bucket_at_least_its_duration);
    tcase_add_test(tc_request, request_on_a_bucket_bound_counts_in_that_bucket);
    tcase_add_test(tc_request, request_slower_than_every_bound_counts_only_in_inf);
    tcase_add_test(tc_request, request_durations_sum_and_count_per_route);
    tcase_add_test(tc_request, request_with_a_negative_duration_adds_nothing_to_the_sum);
    tcase_add_test(tc_request, requests_are_summed_across_a_fork);
    tcase_add_test(tc_request, requests_of_several_children_are_all_counted);
    suite_add_tcase(s, tc_request);

    tcase_add_checked_fixture(tc_add, setup, teardown);
    tcase_add_test(tc_add, add_accumulates_into_its_counter_only);
    tcase_add_test(tc_add, add_of_an_unknown_counter_is_ignored);
    suite_add_tcase(s, tc_add);

    tcase_add_checked_fixture(tc_prometheus, setup, teardown);
    tcase_add_test(tc_prometheus, prometheus_has_help_and_type_for_each_family);
    tcase_add_test(tc_prometheus, prometheus_writes_every_counter_with_its_value);
    tcase_add_test(tc_prometheus, prometheus_writes_outbox_gauges_when_pending_is_known);
    tcase_add_test(tc_prometheus, prometheus_leaves_out_outbox_gauges_when_pending_is_negative);
    tcase_add_test(tc_prometheus, prometheus_adds_the_workers_counters_and_shows_consumer_lag);
    tcase_add_test(tc_prometheus, prometheus_writes_the_uptime);
    tcase_add_test(tc_prometheus, prometheus_ends_with_a_newline);
    suite_add_tcase(s, tc_prometheus);

    tcase_add_checked_fixture(tc_json, setup, teardown);
    tcase_add_test(tc_json, json_has_the_node_shape_and_the_request_total);
    suite_add_tcase(s, tc_json);
    return s;
}

MS_SUITE(metrics_suite)
