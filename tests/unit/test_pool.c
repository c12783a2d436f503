/* Unit tests of lib/pool.c: ms_pool_handle() with a worker holding a real
 * ms_db (MS_TEST_DATABASE_URL) and ms_cache (MS_TEST_REDIS_URL) and a fake
 * service "test" (a public and an admin route, an outbox_stats hook): the
 * standard routes (health, liveness, metrics) of SPEC §2 "Observability",
 * 405/413, dispatch to the service's routes and the metric slot it returns;
 * and ms_pool_main() in forked children: --routes, a bad configuration, fd 0
 * that is no socket. */
#include "lib/pool.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "lib/arena.h"
#include "lib/cache.h"
#include "lib/clock.h"
#include "lib/config.h"
#include "lib/db.h"
#include "lib/err.h"
#include "lib/http.h"
#include "lib/metrics.h"
#include "lib/router.h"
#include "tests/unit/ports.h"
#include "tests/unit/suites.h"
#include "lib/banned.h"

#define STD_ROUTES 3 /* health, live, metrics come before the service's routes */

static struct ms_arena *arena;
static struct ms_db *db;
static struct ms_cache *cache;
static struct ms_ctx worker;
static struct ms_req req;
static cJSON *parsed;

/* What the fakes saw and answer. */
static int public_calls, admin_calls, stats_calls;
static struct ms_ctx *stats_worker;
static int stats_rc;
static long stats_pending;
static double stats_oldest;

static int h_public(struct ms_req *r)
{
    public_calls++;
    ms_http_ok(r, 200, cJSON_CreateString("public"));
    return MS_OK;
}

static int h_admin(struct ms_req *r)
{
    admin_calls++;
    ms_http_ok(r, 200, cJSON_CreateString("admin"));
    return MS_OK;
}

static int fake_stats(struct ms_ctx *w, long *pending, double *oldest_s)
{
    stats_calls++;
    stats_worker = w;
    if (stats_rc < 0)
        return stats_rc;
    *pending = stats_pending;
    *oldest_s = stats_oldest;
    return MS_OK;
}

static const struct ms_route routes[] = {
    { "GET", "/api/test/public", MS_PUBLIC, h_public },
    { "GET", "/api/test/admin", MS_ROLE_ADMIN, h_admin },
};

static struct ms_service svc;

static void setup(void)
{
    const char *pg = getenv("MS_TEST_DATABASE_URL");
    const char *redis = getenv("MS_TEST_REDIS_URL");

    ck_assert_msg(pg && *pg, "MS_TEST_DATABASE_URL is not set: the pool suite needs a PostgreSQL, "
                             "e.g. postgresql://postgres@127.0.0.1:55433/unit");
    ck_assert_msg(redis && *redis, "MS_TEST_REDIS_URL is not set: the pool suite needs a Redis, "
                                   "e.g. redis://127.0.0.1:56380/0");
    memset(&ms_config, 0, sizeof ms_config);
    ck_assert_int_eq(ms_metrics_init(), MS_OK);
    arena = ms_arena_new(0);
    ck_assert_ptr_nonnull(arena);
    db = ms_db_new(pg, NULL, 0, 1000, 2000);
    ck_assert_ptr_nonnull(db);
    cache = ms_cache_new(redis, 1000);
    ck_assert_ptr_nonnull(cache);
    memset(&svc, 0, sizeof svc);
    svc.name = "test";
    svc.routes = routes;
    svc.nroutes = sizeof routes / sizeof routes[0];
    svc.outbox_stats = fake_stats;
    memset(&worker, 0, sizeof worker);
    worker.svc = &svc;
    worker.arena = arena;
    worker.db = db;
    worker.cache = cache;
    parsed = NULL;
    public_calls = admin_calls = stats_calls = 0;
    stats_worker = NULL;
    stats_rc = MS_OK;
    stats_pending = 7;
    stats_oldest = 1.5;
}

static void teardown(void)
{
    cJSON_Delete(parsed);
    parsed = NULL;
    ms_cache_free(cache);
    cache = NULL;
    ms_db_free(db);
    db = NULL;
    ms_arena_free(arena);
    arena = NULL;
    memset(&ms_config, 0, sizeof ms_config);
}

/* Handle method path[?query] with the fixture's worker; the metric slot. */
static int handle(const char *method, const char *path, const char *query)
{
    ms_arena_reset(arena);
    ms_http_req_init(&req, arena, &worker);
    req.method = method;
    req.path = path;
    req.query = query;
    req.remote_addr = "127.0.0.1";
    return ms_pool_handle(&worker, &req);
}

/* The response body (after the CGI header block). */
static const char *body(void)
{
    const char *end;

    ck_assert_msg(req.responded, "no response");
    end = strstr(req.out.buf, "\r\n\r\n");
    ck_assert_msg(end != NULL, "no header block: %s", req.out.buf);
    return end + 4;
}

static const cJSON *body_json(void)
{
    cJSON_Delete(parsed);
    parsed = cJSON_Parse(body());
    ck_assert_msg(parsed != NULL, "body is not JSON: %s", body());
    return parsed;
}

static const cJSON *get(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

    ck_assert_msg(v != NULL, "no \"%s\" in %s", key, body());
    return v;
}

static void assert_header(const char *line)
{
    const char *end = strstr(req.out.buf, "\r\n\r\n");
    const char *p = strstr(req.out.buf, line);

    ck_assert_msg(p && p < end && (p == req.out.buf || p[-1] == '\n') &&
                      strncmp(p + strlen(line), "\r\n", 2) == 0,
                  "no header line \"%s\" in:\n%s", line, req.out.buf);
}

/* Asserts the SPEC §2 error envelope with status and message. */
static void assert_error(int status, const char *message)
{
    const cJSON *e;

    ck_assert_int_eq(req.status, status);
    assert_header("Content-Type: application/json; charset=utf-8");
    e = get(body_json(), "error");
    ck_assert(cJSON_IsFalse(get(parsed, "success")));
    ck_assert_int_eq(get(e, "code")->valueint, status);
    ck_assert_str_eq(get(e, "message")->valuestring, message);
}

/* "2026-11-24T09:15:02.123Z" */
static int is_iso8601_ms(const char *s)
{
    static const char shape[] = "dddd-dd-ddTdd:dd:dd.dddZ";

    if (strlen(s) != sizeof shape - 1)
        return 0;
    for (size_t i = 0; shape[i]; i++)
        if (shape[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != shape[i])
            return 0;
    return 1;
}

static void assert_healthy_check(const cJSON *checks, const char *name)
{
    const cJSON *c = get(checks, name);
    const cJSON *lat = get(c, "latency_ms");

    ck_assert_str_eq(get(c, "status")->valuestring, "healthy");
    ck_assert_msg(cJSON_IsNumber(lat), "%s.latency_ms is not a number: %s", name, body());
    ck_assert_double_ge(lat->valuedouble, 0);
    ck_assert_int_eq(cJSON_GetArraySize(c), 2);
}

/* The whole healthy report: service, status, timestamp, uptime, both checks,
 * the hook's outbox figures. */
static void assert_healthy_report(void)
{
    const cJSON *b, *ev;

    ck_assert_int_eq(req.status, 200);
    assert_header("Content-Type: application/json; charset=utf-8");
    b = body_json();
    ck_assert_str_eq(get(b, "service")->valuestring, "test-service");
    ck_assert_str_eq(get(b, "status")->valuestring, "healthy");
    ck_assert_msg(is_iso8601_ms(get(b, "timestamp")->valuestring), "timestamp %s",
                  get(b, "timestamp")->valuestring);
    ck_assert(cJSON_IsNumber(get(b, "uptime")));
    ck_assert_double_ge(get(b, "uptime")->valuedouble, 0);
    assert_healthy_check(get(b, "checks"), "database");
    assert_healthy_check(get(b, "checks"), "redis");
    ck_assert_int_eq(cJSON_GetArraySize(get(b, "checks")), 2);
    ev = get(b, "events");
    ck_assert(cJSON_IsNumber(get(ev, "outbox_pending")));
    ck_assert_double_eq(get(ev, "outbox_pending")->valuedouble, 7);
    ck_assert_double_eq(get(ev, "oldest_pending_s")->valuedouble, 1.5);
}

/* Asserts that text holds line as a whole line. */
static void assert_line(const char *text, const char *line)
{
    size_t n = strlen(line);

    for (const char *p = strstr(text, line); p; p = strstr(p + 1, line))
        if ((p == text || p[-1] == '\n') && p[n] == '\n')
            return;
    ck_abort_msg("no line \"%s\" in:\n%s", line, text);
}

/* ---- ms_pool_handle: health ---- */

START_TEST(health_of_the_service_answers_200_with_the_spec_report)
{
    ck_assert_int_eq(handle("GET", "/health/test", NULL), 0);
    assert_healthy_report();
}
END_TEST

START_TEST(health_without_the_service_name_answers_the_same_report)
{
    ck_assert_int_eq(handle("GET", "/health", NULL), 0);
    assert_healthy_report();
}
END_TEST

START_TEST(health_asks_the_outbox_hook_with_the_worker)
{
    stats_pending = 42;
    stats_oldest = 0.25;
    handle("GET", "/health/test", NULL);
    ck_assert_int_eq(stats_calls, 1);
    ck_assert_ptr_eq(stats_worker, &worker);
    ck_assert_double_eq(get(get(body_json(), "events"), "outbox_pending")->valuedouble, 42);
    ck_assert_double_eq(get(get(parsed, "events"), "oldest_pending_s")->valuedouble, 0.25);
}
END_TEST

START_TEST(health_reports_null_outbox_figures_when_the_hook_fails)
{
    const cJSON *ev;

    stats_rc = MS_EUNAVAIL;
    handle("GET", "/health/test", NULL);
    ck_assert_int_eq(req.status, 200);
    ev = get(body_json(), "events");
    ck_assert(cJSON_IsNull(get(ev, "outbox_pending")));
    ck_assert(cJSON_IsNull(get(ev, "oldest_pending_s")));
}
END_TEST

START_TEST(health_of_a_service_without_events_has_no_events_key)
{
    svc.outbox_stats = NULL;
    handle("GET", "/health/test", NULL);
    ck_assert_int_eq(req.status, 200);
    ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(body_json(), "events"));
    ck_assert_str_eq(get(parsed, "status")->valuestring, "healthy");
}
END_TEST

START_TEST(health_answers_503_with_database_unhealthy_when_postgresql_is_down)
{
    struct ms_db *down = ms_db_new(
        ms_arena_printf(arena, "postgresql://postgres@127.0.0.1:%d/unit", ms_test_closed_port()),
        NULL, 0, 1000, 2000);
    const cJSON *b, *dbc;
    int64_t t0;

    ck_assert_ptr_nonnull(down);
    worker.db = down;
    t0 = ms_clock_mono_us();
    ck_assert_int_eq(handle("GET", "/health/test", NULL), 0);
    ck_assert_int_lt(ms_clock_mono_us() - t0, 1500000);
    worker.db = db;
    ms_db_free(down);

    ck_assert_int_eq(req.status, 503);
    assert_header("Content-Type: application/json; charset=utf-8");
    b = body_json();
    ck_assert_str_eq(get(b, "service")->valuestring, "test-service");
    ck_assert_str_eq(get(b, "status")->valuestring, "unhealthy");
    dbc = get(get(b, "checks"), "database");
    ck_assert_str_eq(get(dbc, "status")->valuestring, "unhealthy");
    ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(dbc, "latency_ms"));
    assert_healthy_check(get(b, "checks"), "redis");
    ck_assert(cJSON_IsNull(get(get(b, "events"), "outbox_pending")));
}
END_TEST

START_TEST(health_answers_503_with_redis_unhealthy_when_redis_is_down)
{
    struct ms_cache *down =
        ms_cache_new(ms_arena_printf(arena, "redis://127.0.0.1:%d/0", ms_test_closed_port()), 1000);
    const cJSON *b, *rc;

    ck_assert_ptr_nonnull(down);
    worker.cache = down;
    ck_assert_int_eq(handle("GET", "/health/test", NULL), 0);
    worker.cache = cache;
    ms_cache_free(down);

    ck_assert_int_eq(req.status, 503);
    b = body_json();
    ck_assert_str_eq(get(b, "status")->valuestring, "unhealthy");
    rc = get(get(b, "checks"), "redis");
    ck_assert_str_eq(get(rc, "status")->valuestring, "unhealthy");
    ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(rc, "latency_ms"));
    assert_healthy_check(get(b, "checks"), "database");
}
END_TEST

START_TEST(health_answers_head_like_get)
{
    ck_assert_int_eq(handle("HEAD", "/health/test", NULL), 0);
    ck_assert_int_eq(req.status, 200);
}
END_TEST

START_TEST(health_refuses_post_with_405)
{
    ck_assert_int_eq(handle("POST", "/health/test", NULL), 0);
    assert_error(405, "Method not allowed");
    ck_assert_int_eq(stats_calls, 0);
}
END_TEST

/* ---- ms_pool_handle: liveness ---- */

START_TEST(live_answers_200_alive_with_the_pid)
{
    const cJSON *b;

    ck_assert_int_eq(handle("GET", "/health/test/live", NULL), 1);
    ck_assert_int_eq(req.status, 200);
    assert_header("Content-Type: application/json; charset=utf-8");
    b = body_json();
    ck_assert_str_eq(get(b, "service")->valuestring, "test-service");
    ck_assert_str_eq(get(b, "status")->valuestring, "alive");
    ck_assert_double_eq(get(b, "pid")->valuedouble, (double)getpid());
    ck_assert_int_eq(cJSON_GetArraySize(b), 3);
}
END_TEST

START_TEST(live_touches_neither_postgresql_nor_redis)
{
    struct ms_db *down_db = ms_db_new(
        ms_arena_printf(arena, "postgresql://postgres@127.0.0.1:%d/unit", ms_test_closed_port()),
        NULL, 0, 1000, 2000);
    struct ms_cache *down_cache =
        ms_cache_new(ms_arena_printf(arena, "redis://127.0.0.1:%d/0", ms_test_closed_port()), 1000);

    worker.db = down_db;
    worker.cache = down_cache;
    ck_assert_int_eq(handle("GET", "/health/test/live", NULL), 1);
    worker.db = db;
    worker.cache = cache;
    ms_db_free(down_db);
    ms_cache_free(down_cache);
    ck_assert_int_eq(req.status, 200);
    ck_assert_int_eq(stats_calls, 0);
}
END_TEST

START_TEST(live_refuses_post_with_405)
{
    ck_assert_int_eq(handle("POST", "/health/test/live", NULL), 1);
    assert_error(405, "Method not allowed");
}
END_TEST

/* ---- ms_pool_handle: metrics ---- */

START_TEST(metrics_answer_prometheus_text)
{
    const char *text;

    ck_assert_int_eq(handle("GET", "/metrics/test", NULL), 2);
    ck_assert_int_eq(req.status, 200);
    assert_header("Content-Type: text/plain; version=0.0.4; charset=utf-8");
    text = body();
    assert_line(text, "# TYPE microshop_http_requests_total counter");
    assert_line(text, "# TYPE microshop_http_request_duration_seconds histogram");
    assert_line(text, "microshop_db_errors_total{service=\"test\"} 0");
    assert_line(text, "microshop_redis_errors_total{service=\"test\"} 0");
    assert_line(text, "microshop_outbox_pending{service=\"test\"} 7");
    assert_line(text, "microshop_outbox_oldest_pending_seconds{service=\"test\"} 1.500");
    ck_assert_ptr_nonnull(strstr(text, "\nmicroshop_uptime_seconds{service=\"test\"} "));
}
END_TEST

START_TEST(metrics_label_a_service_route_by_its_slot_after_the_standard_routes)
{
    int slot = handle("GET", "/api/test/admin", NULL);

    ck_assert_int_eq(slot, STD_ROUTES + 1);
    ms_metrics_request(slot, req.status, 2000);
    handle("GET", "/metrics/test", NULL);
    assert_line(body(), "microshop_http_requests_total{service=\"test\",method=\"GET\","
                        "route=\"/api/test/admin\",status=\"401\"} 1");
}
END_TEST

START_TEST(metrics_leave_out_the_outbox_gauges_when_the_hook_fails)
{
    stats_rc = MS_EUNAVAIL;
    handle("GET", "/metrics/test", NULL);
    ck_assert_int_eq(req.status, 200);
    ck_assert_ptr_null(strstr(body(), "microshop_outbox_pending"));
}
END_TEST

START_TEST(metrics_answer_the_node_json_shape_with_format_json)
{
    const cJSON *b;

    ck_assert_int_eq(handle("GET", "/metrics/test", "format=json"), 2);
    ck_assert_int_eq(req.status, 200);
    assert_header("Content-Type: application/json; charset=utf-8");
    b = body_json();
    ck_assert_str_eq(get(b, "service")->valuestring, "test-service");
    ck_assert(is_iso8601_ms(get(b, "timestamp")->valuestring));
    ck_assert(cJSON_IsNumber(get(b, "uptime")));
    ck_assert(cJSON_IsObject(get(b, "memory")));
    ck_assert(cJSON_IsObject(get(b, "cpu")));
    ck_assert(cJSON_IsNumber(get(b, "requests")));
}
END_TEST

START_TEST(metrics_refuse_post_with_405)
{
    ck_assert_int_eq(handle("POST", "/metrics/test", NULL), 2);
    assert_error(405, "Method not allowed");
}
END_TEST

/* ---- ms_pool_handle: everything else ---- */

START_TEST(handle_answers_413_to_a_body_too_large)
{
    ms_arena_reset(arena);
    ms_http_req_init(&req, arena, &worker);
    req.method = "GET";
    req.path = "/api/test/public";
    req.body_too_large = 1;
    ck_assert_int_eq(ms_pool_handle(&worker, &req), -1);
    assert_error(413, "Request body too large");
    ck_assert_int_eq(public_calls, 0);
}
END_TEST

START_TEST(handle_runs_the_public_route_handler_in_slot_3)
{
    ck_assert_int_eq(handle("GET", "/api/test/public", NULL), STD_ROUTES + 0);
    ck_assert_int_eq(public_calls, 1);
    ck_assert_int_eq(req.status, 200);
    ck_assert(cJSON_IsTrue(get(body_json(), "success")));
    ck_assert_str_eq(get(parsed, "data")->valuestring, "public");
}
END_TEST

START_TEST(handle_refuses_the_admin_route_without_a_token_with_401)
{
    ck_assert_int_eq(handle("GET", "/api/test/admin", NULL), STD_ROUTES + 1);
    assert_error(401, "No token provided");
    ck_assert_int_eq(admin_calls, 0);
}
END_TEST

START_TEST(handle_answers_404_with_the_path_and_slot_minus_1_for_an_unknown_path)
{
    ck_assert_int_eq(handle("GET", "/api/test/nothing", NULL), -1);
    assert_error(404, "Route not found");
    ck_assert_str_eq(get(get(parsed, "error"), "path")->valuestring, "/api/test/nothing");
}
END_TEST

START_TEST(handle_answers_405_and_slot_minus_1_for_another_method_on_a_service_route)
{
    ck_assert_int_eq(handle("DELETE", "/api/test/public", NULL), -1);
    assert_error(405, "Method not allowed");
    ck_assert_int_eq(public_calls, 0);
}
END_TEST

START_TEST(handle_treats_health_of_another_service_as_an_unknown_path)
{
    ck_assert_int_eq(handle("GET", "/health/other", NULL), -1);
    assert_error(404, "Route not found");
    ck_assert_int_eq(handle("GET", "/health/testing", NULL), -1);
    assert_error(404, "Route not found");
    ck_assert_int_eq(handle("GET", "/health/tes", NULL), -1);
    assert_error(404, "Route not found");
    ck_assert_int_eq(handle("GET", "/metrics/testing", NULL), -1);
    assert_error(404, "Route not found");
    ck_assert_int_eq(handle("GET", "/health/test/live/x", NULL), -1);
    assert_error(404, "Route not found");
    ck_assert_int_eq(stats_calls, 0);
}
END_TEST

/* ---- ms_pool_main ---- */

/* Run ms_pool_main(s, 2, {"x","--routes"}) (or without --routes) in a child with env (NAME=VALUE…,
 * NULL-ended) set, fd 0 from /dev/null and stdout into out (NUL-terminated). Its exit status. */
static int run_main(const struct ms_service *s, int with_routes, const char *const *env, char *out,
                    size_t cap)
{
    char arg0[] = "x", arg1[] = "--routes";
    char *argv[] = { arg0, with_routes ? arg1 : NULL, NULL };
    int argc = with_routes ? 2 : 1;
    int fds[2], status = 0;
    size_t len = 0;
    ssize_t n;
    pid_t pid;

    ck_assert_int_eq(pipe(fds), 0);
    fflush(NULL); /* nothing buffered may be written twice */
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int in = open("/dev/null", O_RDONLY);
        int rc;

        if (in < 0 || dup2(in, 0) < 0 || dup2(fds[1], 1) < 0)
            _exit(120);
        close(in);
        close(fds[0]);
        close(fds[1]);
        unsetenv("DATABASE_URL");
        for (int i = 0; env && env[i]; i++)
            putenv((char *)env[i]);
        rc = ms_pool_main(s, argc, argv);
        fflush(stdout);
        _exit(rc);
    }
    close(fds[1]);
    while (len + 1 < cap && (n = read(fds[0], out + len, cap - 1 - len)) > 0)
        len += (size_t)n;
    out[len] = '\0';
    close(fds[0]);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status), "child ended by signal %d", WTERMSIG(status));
    return WEXITSTATUS(status);
}

START_TEST(main_prints_the_route_table_with_routes)
{
    char out[4096];

    ck_assert_int_eq(run_main(&svc, 1, NULL, out, sizeof out), 0);
    ck_assert_str_eq(out, "GET /health/test public\n"
                          "GET /health/test/live public\n"
                          "GET /metrics/test public\n"
                          "GET /api/test/public public\n"
                          "GET /api/test/admin admin\n");
}
END_TEST

START_TEST(main_names_auth_staff_and_other_role_sets_in_the_route_table)
{
    static const struct ms_route more[] = {
        { "PUT", "/a", MS_AUTH, h_public },
        { "GET", "/s", MS_STAFF, h_public },
        { "POST", "/u", MS_ROLE_USER | MS_ROLE_ADMIN, h_public },
    };
    struct ms_service other = { .name = "shop", .routes = more, .nroutes = 3 };
    char out[4096];

    ck_assert_int_eq(run_main(&other, 1, NULL, out, sizeof out), 0);
    ck_assert_str_eq(out, "GET /health/shop public\n"
                          "GET /health/shop/live public\n"
                          "GET /metrics/shop public\n"
                          "PUT /a auth\n"
                          "GET /s staff\n"
                          "POST /u roles\n");
}
END_TEST

START_TEST(main_exits_78_when_database_url_is_unset)
{
    char out[256];

    ck_assert_int_eq(
        run_main(&svc, 0, (const char *const[]){ "LOG_LEVEL=fatal", NULL }, out, sizeof out), 78);
    ck_assert_str_eq(out, "");
}
END_TEST

START_TEST(main_exits_1_when_fd_0_is_not_a_socket)
{
    char out[256];
    const char *const env[] = { "DATABASE_URL=postgresql://postgres@127.0.0.1:1/x",
                                "LOG_LEVEL=fatal", "WORKERS=1", NULL };

    ck_assert_int_eq(run_main(&svc, 0, env, out, sizeof out), 1);
}
END_TEST

/* Run ms_pool_main(&svc, 1, {"x"}) in a child with env set and a listening
 * TCP socket on fd 0 (as spawn-fcgi hands it over); wait up to timeout_ms for
 * it to exit. Its exit status, or -1 when it was still running (then it is
 * stopped with SIGTERM and reaped). */
static int run_pool_for(const char *const *env, int timeout_ms)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    int lfd = socket(AF_INET, SOCK_STREAM, 0), status = 0;
    int64_t deadline = ms_clock_mono_us() + (int64_t)timeout_ms * 1000;
    pid_t parent = getpid(), pid, got;

    ck_assert_int_ge(lfd, 0);
    ck_assert_int_eq(bind(lfd, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(listen(lfd, 16), 0);
    fflush(NULL);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        char arg0[] = "x";
        char *argv[] = { arg0, NULL };
        int out = open("/dev/null", O_WRONLY);
        sigset_t none;

        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent || out < 0 || dup2(lfd, 0) < 0 || dup2(out, 1) < 0)
            _exit(120);
        close(lfd);
        close(out);
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGALRM, SIG_DFL);
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        for (int i = 0; env[i]; i++)
            putenv((char *)env[i]);
        _exit(ms_pool_main(&svc, 1, argv));
    }
    close(lfd);
    while ((got = waitpid(pid, &status, WNOHANG)) == 0 && ms_clock_mono_us() < deadline) {
        struct timespec ms1 = { 0, 1000000L };

        nanosleep(&ms1, NULL);
    }
    if (got == pid)
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    kill(pid, SIGTERM);
    waitpid(pid, &status, 0);
    return -1;
}

START_TEST(main_exits_78_when_redis_url_is_malformed)
{
    char *db_url = ms_arena_printf(arena, "DATABASE_URL=%s", getenv("MS_TEST_DATABASE_URL"));
    const char *const env[] = {
        db_url, "REDIS_URL=nonsense", "WORKERS=1", "LOG_LEVEL=fatal", "SHUTDOWN_TIMEOUT_MS=1000",
        NULL
    };
    int rc = run_pool_for(env, 2000);

    /* a configuration error, like an unset DATABASE_URL: not a pool whose
     * workers die at start and are respawned every 200 ms for ever */
    ck_assert_msg(rc == 78, "ms_pool_main with REDIS_URL=nonsense: %s %d, want exit 78",
                  rc < 0 ? "still running after 2 s; stopped, was" : "exit", rc);
}
END_TEST

Suite *pool_suite(void);

Suite *pool_suite(void)
{
    Suite *s = suite_create("pool");
    TCase *handle_tc = tcase_create("handle");
    TCase *main_tc = tcase_create("main");

    tcase_add_checked_fixture(handle_tc, setup, teardown);
    tcase_add_test(handle_tc, health_of_the_service_answers_200_with_the_spec_report);
    tcase_add_test(handle_tc, health_without_the_service_name_answers_the_same_report);
    tcase_add_test(handle_tc, health_asks_the_outbox_hook_with_the_worker);
    tcase_add_test(handle_tc, health_reports_null_outbox_figures_when_the_hook_fails);
    tcase_add_test(handle_tc, health_of_a_service_without_events_has_no_events_key);
    tcase_add_test(handle_tc, health_answers_503_with_database_unhealthy_when_postgresql_is_down);
    tcase_add_test(handle_tc, health_answers_503_with_redis_unhealthy_when_redis_is_down);
    tcase_add_test(handle_tc, health_answers_head_like_get);
    tcase_add_test(handle_tc, health_refuses_post_with_405);
    tcase_add_test(handle_tc, live_answers_200_alive_with_the_pid);
    tcase_add_test(handle_tc, live_touches_neither_postgresql_nor_redis);
    tcase_add_test(handle_tc, live_refuses_post_with_405);
    tcase_add_test(handle_tc, metrics_answer_prometheus_text);
    tcase_add_test(handle_tc, metrics_label_a_service_route_by_its_slot_after_the_standard_routes);
    tcase_add_test(handle_tc, metrics_leave_out_the_outbox_gauges_when_the_hook_fails);
    tcase_add_test(handle_tc, metrics_answer_the_node_json_shape_with_format_json);
    tcase_add_test(handle_tc, metrics_refuse_post_with_405);
    tcase_add_test(handle_tc, handle_answers_413_to_a_body_too_large);
    tcase_add_test(handle_tc, handle_runs_the_public_route_handler_in_slot_3);
    tcase_add_test(handle_tc, handle_refuses_the_admin_route_without_a_token_with_401);
    tcase_add_test(handle_tc,
                   handle_answers_404_with_the_path_and_slot_minus_1_for_an_unknown_path);
    tcase_add_test(handle_tc,
                   handle_answers_405_and_slot_minus_1_for_another_method_on_a_service_route);
    tcase_add_test(handle_tc, handle_treats_health_of_another_service_as_an_unknown_path);
    suite_add_tcase(s, handle_tc);

    tcase_add_checked_fixture(main_tc, setup, teardown);
    tcase_add_test(main_tc, main_prints_the_route_table_with_routes);
    tcase_add_test(main_tc, main_names_auth_staff_and_other_role_sets_in_the_route_table);
    tcase_add_test(main_tc, main_exits_78_when_database_url_is_unset);
    tcase_add_test(main_tc, main_exits_1_when_fd_0_is_not_a_socket);
    tcase_add_test(main_tc, main_exits_78_when_redis_url_is_malformed);
    suite_add_tcase(s, main_tc);
    return s;
}

MS_SUITE(pool_suite)
