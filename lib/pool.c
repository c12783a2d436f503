/* The FastCGI responder pool: a master that preforks, respawns and recycles
 * workers and stops them gracefully; workers that accept on fd 0 with
 * libfcgi's reentrant API and answer one request at a time. */
#include "lib/pool.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "lib/arena.h"
#include "lib/auth.h"
#include "lib/cache.h"
#include "lib/clock.h"
#include "lib/config.h"
#include "lib/db.h"
#include "lib/http.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/router.h"
#include "lib/banned.h"

#define MAX_WORKERS 256
#define STD_ROUTES  3 /* health, live, metrics: metric slots before the service's routes */

static volatile sig_atomic_t stopping;
static volatile sig_atomic_t child_exited;

static void on_term(int sig)
{
    (void)sig;
    stopping = 1;
    FCGX_ShutdownPending();
}

static void on_chld(int sig)
{
    (void)sig;
    child_exited = 1;
}

static void set_handler(int sig, void (*fn)(int))
{
    struct sigaction sa;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = fn;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: a blocked accept() must return */
    sigaction(sig, &sa, NULL);
}

/* ---- standard routes ---------------------------------------------------- */

static void add_check(struct ms_buf *b, const char *name, int latency)
{
    if (latency >= 0)
        ms_buf_addf(b, "\"%s\":{\"status\":\"healthy\",\"latency_ms\":%d}", name, latency);
    else
        ms_buf_addf(b, "\"%s\":{\"status\":\"unhealthy\"}", name);
}

static int health(struct ms_ctx *w, struct ms_req *req)
{
    struct ms_buf b;
    char ts[32];
    int db = ms_db_ping(w->db), cache = ms_cache_ping(w->cache);
    int ok = db >= 0 && cache >= 0;

    ms_buf_init(&b, req->arena);
    ms_clock_iso8601(ms_clock_now_ms(), ts, sizeof ts);
    ms_buf_addf(&b,
                "{\"service\":\"%s-service\",\"status\":\"%s\",\"timestamp\":\"%s\","
                "\"uptime\":%.3f,\"checks\":{",
                w->svc->name, ok ? "healthy" : "unhealthy", ts,
                (double)(ms_clock_now_ms() - ms_metrics_started_ms()) / 1000.0);
    add_check(&b, "database", db);
    ms_buf_addch(&b, ',');
    add_check(&b, "redis", cache);
    ms_buf_addch(&b, '}');
    if (w->svc->outbox_stats) {
        long pending = -1;
        double oldest = 0;

        if (db >= 0 && w->svc->outbox_stats(w, &pending, &oldest) == MS_OK)
            ms_buf_addf(&b, ",\"events\":{\"outbox_pending\":%ld,\"oldest_pending_s\":%.3f}",
                        pending, oldest);
        else
            ms_buf_adds(&b, ",\"events\":{\"outbox_pending\":null,\"oldest_pending_s\":null}");
    }
    ms_buf_addch(&b, '}');
    ms_http_raw(req, ok ? 200 : 503, "application/json; charset=utf-8", b.buf, b.len);
    return MS_OK;
}

static int live(struct ms_ctx *w, struct ms_req *req)
{
    struct ms_buf b;

    ms_buf_init(&b, req->arena);
    ms_buf_addf(&b, "{\"service\":\"%s-service\",\"status\":\"alive\",\"pid\":%ld}", w->svc->name,
                (long)getpid());
    ms_http_raw(req, 200, "application/json; charset=utf-8", b.buf, b.len);
    return MS_OK;
}

/* What the service's workers counted (MS_METRICS_WORKERS_KEY<svc>, one field
 * "<worker> <counter>" each) and the lag of the streams it consumes, best
 * effort: Redis down leaves them out. */
static void workers_metrics(struct ms_ctx *w, struct ms_metrics_extra *x)
{
    char key[96];
    redisReply *r = NULL;

    memset(x, 0, sizeof *x);
    snprintf(key, sizeof key, MS_METRICS_WORKERS_KEY "%s", w->svc->name);
    if (ms_cache_cmd(w->cache, w->arena, &r, 2, (const char *[]){ "HGETALL", key }, NULL) == MS_OK)
        for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i + 1 < r->elements; i += 2) {
            const char *f = r->element[i]->str, *sp = f ? strrchr(f, ' ') : NULL;

            for (int m = 0; sp && m < MS_M_COUNT; m++)
                if (strcmp(sp + 1, ms_metrics_counter_name((enum ms_metric)m)) == 0)
                    x->counters[m] += strtoull(r->element[i + 1]->str, NULL, 10);
        }
    for (size_t i = 0; i < w->svc->nconsumers && x->nstreams < 8; i++) {
        const char *stream = w->svc->consumers[i].stream;
        int seen = 0;

        for (int j = 0; j < x->nstreams; j++)
            seen |= strcmp(x->streams[j].stream, stream) == 0;
        if (seen)
            continue;
        x->streams[x->nstreams].stream = stream;
        x->streams[x->nstreams].lag = -1;
        x->streams[x->nstreams].pending = -1;
        if (ms_cache_cmd(w->cache, w->arena, &r, 3, (const char *[]){ "XINFO", "GROUPS", stream },
                         NULL) == MS_OK)
            for (size_t g = 0; r->type == REDIS_REPLY_ARRAY && g < r->elements; g++) {
                const redisReply *grp = r->element[g];
                int mine = 0;
                long long lag = -1, pend = -1;

                for (size_t k = 0; grp->type == REDIS_REPLY_ARRAY && k + 1 < grp->elements; k += 2) {
                    const char *name = grp->element[k]->str;
                    const redisReply *v = grp->element[k + 1];

                    if (!name)
                        continue;
                    if (strcmp(name, "name") == 0)
                        mine = v->str && strcmp(v->str, w->svc->name) == 0;
                    else if (strcmp(name, "lag") == 0 && v->type == REDIS_REPLY_INTEGER)
                        lag = v->integer;
                    else if (strcmp(name, "pending") == 0 && v->type == REDIS_REPLY_INTEGER)
                        pend = v->integer;
                }
                if (mine) {
                    x->streams[x->nstreams].lag = lag;
                    x->streams[x->nstreams].pending = pend;
                }
            }
        x->nstreams++;
    }
}

static int metrics(struct ms_ctx *w, struct ms_req *req)
{
    struct ms_metrics_route routes[MS_METRICS_MAX_ROUTES];
    const char *format = ms_http_query(req, "format");
    int n = 0;
    struct ms_buf b;
    long pending = -1;
    double oldest = 0;
    struct ms_metrics_extra extra;

    ms_buf_init(&b, req->arena);
    if (format && strcmp(format, "json") == 0) {
        ms_metrics_json(&b, w->svc->name);
        ms_http_raw(req, 200, "application/json; charset=utf-8", b.buf, b.len);
        return MS_OK;
    }
    routes[n++] = (struct ms_metrics_route){ "GET", "/health" };
    routes[n++] = (struct ms_metrics_route){ "GET", "/health/live" };
    routes[n++] = (struct ms_metrics_route){ "GET", "/metrics" };
    for (size_t i = 0; i < w->svc->nroutes && n < MS_METRICS_MAX_ROUTES; i++)
        routes[n++] =
            (struct ms_metrics_route){ w->svc->routes[i].method, w->svc->routes[i].pattern };
    if (w->svc->outbox_stats && w->svc->outbox_stats(w, &pending, &oldest) < 0)
        pending = -1;
    workers_metrics(w, &extra);
    ms_metrics_prometheus(&b, w->svc->name, routes, n, pending, oldest, &extra);
    ms_http_raw(req, 200, "text/plain; version=0.0.4; charset=utf-8", b.buf, b.len);
    return MS_OK;
}

/* Which standard route is path ("/health", "/health/<svc>", …)? -1 if none. */
static int std_route(const struct ms_service *svc, const char *path)
{
    size_t n = strlen(svc->name);

    if (strcmp(path, "/health") == 0)
        return 0;
    if (strcmp(path, "/live") == 0)
        return 1;
    if (strcmp(path, "/metrics") == 0)
        return 2;
    if (strncmp(path, "/health/", 8) == 0 && strncmp(path + 8, svc->name, n) == 0) {
        if (path[8 + n] == '\0')
            return 0;
        if (strcmp(path + 8 + n, "/live") == 0)
            return 1;
    }
    if (strncmp(path, "/metrics/", 9) == 0 && strcmp(path + 9, svc->name) == 0)
        return 2;
    return -1;
}

int ms_pool_handle(struct ms_ctx *w, struct ms_req *req)
{
    int std = std_route(w->svc, req->path);
    int idx;

    if (req->body_too_large) {
        ms_http_send_error(req, MS_ETOOBIG, 0);
        return -1;
    }
    if (ms_http_check_input(req) < 0) {
        ms_http_send_error(req, MS_EBADREQ, 0);
        return -1;
    }
    if (std >= 0) {
        if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
            ms_http_send_error(req, MS_EMETHOD, 0);
            return std;
        }
        if (std == 0)
            health(w, req);
        else if (std == 1)
            live(w, req);
        else
            metrics(w, req);
        return std;
    }
    idx = ms_router_dispatch(w->svc->routes, w->svc->nroutes, req, ms_auth_authenticate);
    return idx < 0 ? -1 : idx + STD_ROUTES;
}

/* ---- worker --------------------------------------------------------------- */

static const char *param(FCGX_Request *fr, const char *name)
{
    const char *v = FCGX_GetParam(name, fr->envp);

    return v ? v : NULL;
}

/* Read the request body into the arena, refusing more than MS_BODY_MAX. */
static void read_body(FCGX_Request *fr, struct ms_req *req)
{
    const char *cl = param(fr, "CONTENT_LENGTH");
    long long len = cl && *cl ? strtoll(cl, NULL, 10) : 0;
    char *buf;
    int got;

    if (len <= 0)
        return;
    if (len > MS_BODY_MAX) {
        req->body_too_large = 1;
        return;
    }
    buf = ms_arena_alloc(req->arena, (size_t)len + 1);
    got = FCGX_GetStr(buf, (int)len, fr->in);
    if (got < 0)
        got = 0;
    buf[got] = '\0';
    req->body = buf;
    req->body_len = (size_t)got;
}

static const char *request_path(FCGX_Request *fr, struct ms_arena *arena)
{
    const char *p = param(fr, "DOCUMENT_URI");
    const char *q;

    if (p && *p)
        return p;
    p = param(fr, "REQUEST_URI");
    if (!p || !*p)
        return "/";
    q = strchr(p, '?');
    return q ? ms_arena_strndup(arena, p, (size_t)(q - p)) : p;
}

static void serve_one(struct ms_ctx *w, FCGX_Request *fr)
{
    struct ms_req req;
    struct ms_log_ctx lc;
    int idx;
    int64_t dur;

    ms_http_req_init(&req, w->arena, w);
    req.start_us = ms_clock_mono_us();
    req.method = param(fr, "REQUEST_METHOD") ?: "GET";
    req.path = request_path(fr, w->arena);
    req.query = param(fr, "QUERY_STRING");
    req.request_id = param(fr, "HTTP_X_REQUEST_ID");
    req.content_type = param(fr, "CONTENT_TYPE");
    req.authorization = param(fr, "HTTP_AUTHORIZATION");
    req.remote_addr = param(fr, "REMOTE_ADDR");
    read_body(fr, &req);

    idx = ms_pool_handle(w, &req);
    FCGX_PutStr(req.out.buf, (int)req.out.len, fr->out);

    dur = ms_clock_mono_us() - req.start_us;
    ms_metrics_request(idx, req.status, dur);
    lc = (struct ms_log_ctx){ .request_id = req.request_id,
                              .method = req.method,
                              .path = req.path,
                              .user_id = req.caller.is_authenticated ? req.caller.user_id : NULL,
                              .status = req.status,
                              .duration_ms = (double)dur / 1000.0 };
    ms_log_req(&lc, req.status >= 500 ? MS_LOG_ERROR : MS_LOG_INFO, "%s",
               req.status >= 500 ? ms_err_message(req.status == 503 ? MS_EUNAVAIL : MS_EINTERNAL)
                                 : "request");
}

static int worker_main(const struct ms_service *svc, int index, pid_t master)
{
    struct ms_ctx w = { .service = svc->name, .svc = svc, .index = index };
    FCGX_Request fr;
    int rc = 0;

    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != master)
        return 0;
    set_handler(SIGTERM, on_term);
    set_handler(SIGINT, on_term);
    signal(SIGCHLD, SIG_DFL);
    {
        sigset_t none;

        /* the master forks with its signals blocked */
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
    }
    w.arena = ms_arena_new(0);
    w.db = ms_db_new(ms_config.database_url, svc->sql, svc->nsql, ms_config.db_connect_timeout_ms,
                     ms_config.db_statement_timeout_ms);
    w.cache = ms_cache_new(ms_config.redis_url, ms_config.redis_timeout_ms);
    if (!w.arena || !w.db || !w.cache) {
        ms_log(MS_LOG_FATAL, "worker %d could not start", index);
        rc = 1;
        goto out;
    }
    /* connect eagerly so the first request is fast; failure is fine here */
    ms_db_connect(w.db);
    ms_cache_connect(w.cache);
    if (FCGX_InitRequest(&fr, 0, FCGI_FAIL_ACCEPT_ON_INTR) != 0) {
        rc = 1;
        goto out;
    }
    while (!stopping) {
        if (FCGX_Accept_r(&fr) < 0)
            break;
        serve_one(&w, &fr);
        FCGX_Finish_r(&fr);
        ms_arena_reset(w.arena);
        w.served++;
        if (ms_config.max_requests && w.served >= ms_config.max_requests)
            break;
    }
    FCGX_Free(&fr, 1);
out:
    ms_cache_free(w.cache);
    ms_db_free(w.db);
    ms_arena_free(w.arena);
    ms_config_release();
    return rc;
}

/* ---- master --------------------------------------------------------------- */

struct slot {
    pid_t pid;
    int64_t started_us;
};

static pid_t spawn(const struct ms_service *svc, int index, pid_t master)
{
    pid_t pid = fork();

    if (pid == 0) {
        int rc = worker_main(svc, index, master);

        fflush(NULL);
        _exit(rc);
    }
    if (pid < 0)
        ms_log(MS_LOG_ERROR, "could not fork worker %d: %s", index, strerror(errno));
    return pid;
}

static int find_slot(const struct slot *slots, int n, pid_t pid)
{
    for (int i = 0; i < n; i++)
        if (slots[i].pid == pid)
            return i;
    return -1;
}

/* Note why worker i ended and start another unless the pool is stopping. */
static void reap(const struct ms_service *svc, struct slot *slots, int n, pid_t master)
{
    int status;
    pid_t pid;

    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        int i = find_slot(slots, n, pid);

        if (i < 0)
            continue;
        if (WIFSIGNALED(status))
            ms_log(MS_LOG_WARN, "worker %ld killed by signal %d", (long)pid, WTERMSIG(status));
        else if (WEXITSTATUS(status) != 0)
            ms_log(MS_LOG_WARN, "worker %ld exited with status %d", (long)pid, WEXITSTATUS(status));
        slots[i].pid = 0;
        if (stopping)
            continue;
        /* a worker that dies at once is not respawned in a tight loop */
        if (ms_clock_mono_us() - slots[i].started_us < 1000000)
            usleep(200000);
        slots[i].pid = spawn(svc, i, master);
        slots[i].started_us = ms_clock_mono_us();
        ms_metrics_add(MS_M_WORKER_RESPAWNS, 1);
        ms_log(MS_LOG_INFO, "worker %d respawned as %ld", i, (long)slots[i].pid);
    }
}

static int live_count(const struct slot *slots, int n)
{
    int alive = 0;

    for (int i = 0; i < n; i++)
        if (slots[i].pid > 0)
            alive++;
    return alive;
}

/* SIGTERM every worker, wait for them up to the shutdown timeout, then kill. */
static void stop_workers(struct slot *slots, int n)
{
    int64_t deadline = ms_clock_mono_us() + (int64_t)ms_config.shutdown_timeout_ms * 1000;

    for (int i = 0; i < n; i++)
        if (slots[i].pid > 0)
            kill(slots[i].pid, SIGTERM);
    while (live_count(slots, n) > 0 && ms_clock_mono_us() < deadline) {
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        int i = pid > 0 ? find_slot(slots, n, pid) : -1;

        if (i >= 0)
            slots[i].pid = 0;
        else if (pid <= 0)
            usleep(10000);
    }
    for (int i = 0; i < n; i++)
        if (slots[i].pid > 0) {
            ms_log(MS_LOG_WARN, "worker %ld did not stop in time; killing it", (long)slots[i].pid);
            kill(slots[i].pid, SIGKILL);
            waitpid(slots[i].pid, NULL, 0);
        }
}

static const char *access_name(unsigned roles)
{
    if (roles == MS_PUBLIC)
        return "public";
    if (roles == MS_AUTH)
        return "auth";
    if (roles == MS_ROLE_ADMIN)
        return "admin";
    if (roles == MS_STAFF)
        return "staff";
    return "roles";
}

static int print_routes(const struct ms_service *svc)
{
    printf("GET /health/%s public\nGET /health/%s/live public\nGET /metrics/%s public\n", svc->name,
           svc->name, svc->name);
    for (size_t i = 0; i < svc->nroutes; i++)
        printf("%s %s %s\n", svc->routes[i].method, svc->routes[i].pattern,
               access_name(svc->routes[i].roles));
    return 0;
}

int ms_pool_main(const struct ms_service *svc, int argc, char **argv)
{
    struct slot slots[MAX_WORKERS];
    int type = 0, n;
    socklen_t len = sizeof type;
    pid_t master = getpid();
    sigset_t block, old;

    if (argc > 1 && strcmp(argv[1], "--routes") == 0)
        return print_routes(svc);
    if (ms_config_load(svc->name, svc->flags) < 0)
        return 78; /* EX_CONFIG */
    {
        /* a malformed REDIS_URL would make every worker die at start, and the
         * master respawn them forever: refuse to start instead */
        struct ms_cache *probe = ms_cache_new(ms_config.redis_url, ms_config.redis_timeout_ms);

        if (!probe)
            return 78; /* EX_CONFIG */
        ms_cache_free(probe);
    }
    if (getsockopt(0, SOL_SOCKET, SO_TYPE, &type, &len) < 0) {
        ms_log(MS_LOG_FATAL, "fd 0 is not a listening socket; start me with spawn-fcgi");
        return 1;
    }
    if (FCGX_Init() != 0 || ms_metrics_init() < 0)
        return 1;
    signal(SIGPIPE, SIG_IGN);
    set_handler(SIGTERM, on_term);
    set_handler(SIGINT, on_term);
    set_handler(SIGCHLD, on_chld);
    n = ms_config.workers < MAX_WORKERS ? ms_config.workers : MAX_WORKERS;
    memset(slots, 0, sizeof slots);
    for (int i = 0; i < n; i++) {
        slots[i].pid = spawn(svc, i, master);
        slots[i].started_us = ms_clock_mono_us();
    }
    ms_log(MS_LOG_INFO, "pool started: %d workers, max_requests %ld", n, ms_config.max_requests);
    sigemptyset(&block);
    sigaddset(&block, SIGCHLD);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigprocmask(SIG_BLOCK, &block, &old);
    while (!stopping) {
        /* sleep until a signal, with no window between the test and the wait */
        if (!child_exited)
            sigsuspend(&old);
        child_exited = 0;
        reap(svc, slots, n, master);
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
    ms_log(MS_LOG_INFO, "stopping: waiting for in-flight requests");
    stop_workers(slots, n);
    ms_log(MS_LOG_INFO, "pool stopped");
    ms_config_release();
    return 0;
}
