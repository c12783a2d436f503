/* The service worker's loop: tick, sleep, back off, stop on SIGTERM. */
#include "lib/daemon.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <time.h>

#include "lib/arena.h"
#include "lib/cache.h"
#include "lib/clock.h"
#include "lib/config.h"
#include "lib/consumer.h"
#include "lib/db.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/outbox.h"
#include "lib/service.h"
#include "lib/banned.h"

#define MAX_BACKOFF_MS 5000

static volatile sig_atomic_t stop_requested;

static void on_term(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/* Sleep ms unless a signal asks us to stop. In slices of at most 100 ms: a
 * SIGTERM landing between the flag test and nanosleep costs one slice, not
 * the whole backoff. */
static void nap(int ms)
{
    while (ms > 0 && !stop_requested) {
        int slice = ms < 100 ? ms : 100;
        struct timespec ts = { .tv_sec = 0, .tv_nsec = (long)slice * 1000000L };

        while (!stop_requested && nanosleep(&ts, &ts) < 0 && errno == EINTR)
            ;
        ms -= slice;
    }
}

/* Leave this worker's counters where the pool's /metrics finds them (at
 * most once a second; best effort). */
static void publish_metrics(struct ms_ctx *d)
{
    static int64_t last_ms;
    int64_t now = ms_clock_mono_us() / 1000;
    static const enum ms_metric sent[] = { MS_M_DB_ERRORS, MS_M_REDIS_ERRORS,
                                           MS_M_EVENTS_PUBLISHED, MS_M_EVENTS_CONSUMED,
                                           MS_M_EVENTS_DEAD };
    const char *argv[2 + 2 * 5];
    char key[96], fields[5][192], values[5][24];
    int argc = 0;

    if (last_ms && now - last_ms < 1000)
        return;
    last_ms = now;
    snprintf(key, sizeof key, MS_METRICS_WORKERS_KEY "%s", d->service);
    argv[argc++] = "HSET";
    argv[argc++] = key;
    for (size_t i = 0; i < sizeof sent / sizeof sent[0]; i++) {
        snprintf(fields[i], sizeof fields[i], "%s %s", ms_config.consumer_name,
                 ms_metrics_counter_name(sent[i]));
        snprintf(values[i], sizeof values[i], "%llu",
                 (unsigned long long)ms_metrics_get(sent[i]));
        argv[argc++] = fields[i];
        argv[argc++] = values[i];
    }
    ms_cache_cmd(d->cache, NULL, NULL, argc, argv, NULL);
}

/* Wait up to ms for the outbox's NOTIFY, in slices like nap(): a SIGTERM
 * landing just before poll() costs one slice. */
static void wait_outbox(struct ms_db *db, int ms)
{
    while (ms > 0 && !stop_requested) {
        int slice = ms < 100 ? ms : 100, rc = ms_db_wait_notify(db, slice);

        if (rc < 0) {
            nap(ms);
            return;
        }
        if (rc > 0)
            return;
        ms -= slice;
    }
}

/* A context of the service's own: its arena, PostgreSQL and Redis. */
static int ctx_open(struct ms_ctx *c, const struct ms_service *svc)
{
    memset(c, 0, sizeof *c);
    c->service = svc->name;
    c->svc = svc;
    c->db = ms_db_new(ms_config.database_url, svc->sql, svc->nsql, ms_config.db_connect_timeout_ms,
                      ms_config.db_statement_timeout_ms);
    c->cache = ms_cache_new(ms_config.redis_url, ms_config.redis_timeout_ms);
    c->arena = ms_arena_new(0);
    if (!c->db || !c->cache || !c->arena)
        return c->cache ? 1 : 78; /* a malformed REDIS_URL is a configuration error */
    return 0;
}

static void ctx_close(struct ms_ctx *c)
{
    ms_arena_free(c->arena);
    ms_cache_free(c->cache);
    ms_db_free(c->db);
}

/* Back off while a dependency is down: the relay's interval, doubling, at
 * most MAX_BACKOFF_MS. */
static int next_backoff(int backoff)
{
    backoff = backoff ? backoff * 2 : ms_config.relay_interval_ms;
    return backoff > MAX_BACKOFF_MS ? MAX_BACKOFF_MS : backoff;
}

struct consumer_thread {
    const struct ms_service *svc;
    struct ms_ctx ctx;
    struct ms_consumer *consumer;
};

/* The consumer's loop, on its own context: it blocks in XREADGROUP while the
 * main thread waits for the outbox's NOTIFY. */
static void *consumer_main(void *p)
{
    struct consumer_thread *t = p;
    int backoff = 0;

    while (!stop_requested) {
        int n;

        t->ctx.err_msg = NULL;
        n = ms_consumer_poll(t->consumer, &t->ctx);
        ms_arena_reset(t->ctx.arena);
        if (n < 0) {
            backoff = next_backoff(backoff);
            nap(backoff);
        } else {
            backoff = 0;
        }
    }
    return NULL;
}

static int start_consumer(struct consumer_thread *t, const struct ms_service *svc, pthread_t *tid)
{
    struct ms_consumer_opts o = { .group = svc->name,
                                  .consumer = ms_config.consumer_name,
                                  .block_ms = ms_config.consumer_block_ms,
                                  .claim_idle_ms = ms_config.consumer_claim_idle_ms,
                                  .max_deliveries = ms_config.max_deliveries,
                                  .timeout_ms = ms_config.redis_timeout_ms };
    sigset_t all, old;
    int rc = ctx_open(&t->ctx, svc);

    if (rc)
        return rc;
    t->consumer = ms_consumer_new(ms_config.redis_url, svc->consumers, svc->nconsumers, &o);
    if (!t->consumer)
        return 1;
    /* signals go to the main thread, which tells this one through the flag */
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    rc = pthread_create(tid, NULL, consumer_main, t);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc ? 1 : 0;
}

int ms_daemon_main(const struct ms_service *svc, ms_daemon_tick_fn *tick, void *ctx)
{
    const char *service = svc->name;
    struct ms_ctx d;
    struct consumer_thread ct = { .svc = svc };
    pthread_t tid;
    int have_thread = 0;
    struct sigaction sa;
    int backoff = 0, rc = 0;

    if (ms_config_load(service, svc->flags) < 0)
        return 78; /* EX_CONFIG */
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_term;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    ms_metrics_init();
    rc = ctx_open(&d, svc);
    if (rc)
        goto out;
    /* every commit that writes the outbox NOTIFYs: the relay runs at once,
     * and the timer stays as the safety net */
    ms_db_listen(d.db, MS_OUTBOX_CHANNEL);
    if (svc->nconsumers > 0) {
        rc = start_consumer(&ct, svc, &tid);
        if (rc)
            goto out;
        have_thread = 1;
    }
    ms_log(MS_LOG_INFO, "%s worker started", service);
    while (!stop_requested) {
        int done;

        d.err_msg = NULL;
        done = tick ? tick(&d, ctx) : 0;
        ms_arena_reset(d.arena); /* what the tick allocated dies with it */
        if (done >= 0)
            publish_metrics(&d);
        if (done > 0) {
            backoff = 0;
            continue;
        }
        if (done < 0) {
            backoff = next_backoff(backoff);
            nap(backoff);
            continue;
        }
        backoff = 0;
        wait_outbox(d.db, ms_config.relay_interval_ms);
    }
    ms_log(MS_LOG_INFO, "%s worker stopped", service);
out:
    if (have_thread) {
        stop_requested = 1;
        pthread_join(tid, NULL);
    }
    ms_consumer_free(ct.consumer);
    if (ct.ctx.db || ct.ctx.cache || ct.ctx.arena)
        ctx_close(&ct.ctx);
    ctx_close(&d);
    ms_config_release();
    return rc;
}
