/* The service worker's loop: tick, sleep, back off, stop on SIGTERM. */
#include "lib/daemon.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <time.h>

#include "lib/arena.h"
#include "lib/cache.h"
#include "lib/config.h"
#include "lib/db.h"
#include "lib/err.h"
#include "lib/log.h"
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

int ms_daemon_main(const struct ms_service *svc, ms_daemon_tick_fn *tick, void *ctx)
{
    const char *service = svc->name;
    struct ms_ctx d = { .service = service, .svc = svc };
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
    d.db = ms_db_new(ms_config.database_url, svc->sql, svc->nsql, ms_config.db_connect_timeout_ms,
                     ms_config.db_statement_timeout_ms);
    d.cache = ms_cache_new(ms_config.redis_url, ms_config.redis_timeout_ms);
    d.arena = ms_arena_new(0);
    if (!d.db || !d.cache || !d.arena) {
        rc = d.cache ? 1 : 78; /* a malformed REDIS_URL is a configuration error */
        goto out;
    }
    ms_log(MS_LOG_INFO, "%s worker started", service);
    while (!stop_requested) {
        int done;

        d.err_msg = NULL;
        done = tick(&d, ctx);
        ms_arena_reset(d.arena); /* what the tick allocated dies with it */

        if (done > 0) {
            backoff = 0;
            continue;
        }
        if (done < 0) {
            backoff = backoff ? backoff * 2 : ms_config.relay_interval_ms;
            if (backoff > MAX_BACKOFF_MS)
                backoff = MAX_BACKOFF_MS;
            nap(backoff);
            continue;
        }
        backoff = 0;
        nap(ms_config.relay_interval_ms);
    }
    ms_log(MS_LOG_INFO, "%s worker stopped", service);
out:
    ms_arena_free(d.arena);
    ms_cache_free(d.cache);
    ms_db_free(d.db);
    ms_config_release();
    return rc;
}
