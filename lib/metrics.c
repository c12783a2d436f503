/* Shared-memory metrics summed across a pool's workers. */
#include "lib/metrics.h"

#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/clock.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/banned.h"

static const int statuses[] = { 200, 201, 202, 204, 400, 401, 403, 404,
                                405, 409, 413, 422, 429, 500, 503, 0 /* other */ };
#define NSTATUS ((int)(sizeof statuses / sizeof statuses[0]))
static const double bucket_s[] = {
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5
};
#define NBUCKET ((int)(sizeof bucket_s / sizeof bucket_s[0]) + 1) /* + Inf */
#define NSLOT   (MS_METRICS_MAX_ROUTES + 1)                       /* + unmatched */

struct block {
    int64_t started_ms;
    uint64_t req[NSLOT][NSTATUS];
    uint64_t hist[NSLOT][NBUCKET];
    uint64_t sum_us[NSLOT];
    uint64_t counters[MS_M_COUNT];
};

static struct block *shm;

int ms_metrics_init(void)
{
    void *p =
        mmap(NULL, sizeof(struct block), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

    if (p == MAP_FAILED) {
        ms_log(MS_LOG_ERROR, "could not map the metrics block");
        return MS_EINTERNAL;
    }
    shm = p;
    memset(shm, 0, sizeof *shm);
    shm->started_ms = ms_clock_now_ms();
    return MS_OK;
}

static void add(uint64_t *p, uint64_t n)
{
    __atomic_fetch_add(p, n, __ATOMIC_RELAXED);
}

static uint64_t load(const uint64_t *p)
{
    return __atomic_load_n(p, __ATOMIC_RELAXED);
}

void ms_metrics_request(int route, int status, int64_t duration_us)
{
    int slot = (route >= 0 && route < MS_METRICS_MAX_ROUTES) ? route : MS_METRICS_MAX_ROUTES;
    int si = NSTATUS - 1, b = NBUCKET - 1;
    double secs = (double)duration_us / 1e6;

    if (!shm)
        return;
    for (int i = 0; i < NSTATUS - 1; i++)
        if (statuses[i] == status) {
            si = i;
            break;
        }
    for (int i = 0; i < NBUCKET - 1; i++)
        if (secs <= bucket_s[i]) {
            b = i;
            break;
        }
    add(&shm->req[slot][si], 1);
    add(&shm->hist[slot][b], 1);
    add(&shm->sum_us[slot], duration_us > 0 ? (uint64_t)duration_us : 0);
}

void ms_metrics_add(enum ms_metric m, uint64_t n)
{
    if (shm && m < MS_M_COUNT)
        add(&shm->counters[m], n);
}

uint64_t ms_metrics_get(enum ms_metric m)
{
    return (shm && m < MS_M_COUNT) ? load(&shm->counters[m]) : 0;
}

int64_t ms_metrics_started_ms(void)
{
    return shm ? shm->started_ms : ms_clock_now_ms();
}

static void route_labels(struct ms_buf *out, const char *service,
                         const struct ms_metrics_route *routes, int nroutes, int slot)
{
    int known = slot < nroutes && slot < MS_METRICS_MAX_ROUTES;

    ms_buf_addf(out, "service=\"%s\",method=\"%s\",route=\"%s\"", service,
                known ? routes[slot].method : "", known ? routes[slot].pattern : "unmatched");
}

static void render_requests(struct ms_buf *out, const char *service,
                            const struct ms_metrics_route *routes, int nroutes)
{
    ms_buf_adds(out, "# HELP microshop_http_requests_total HTTP requests by route, method and "
                     "status.\n# TYPE microshop_http_requests_total counter\n");
    for (int slot = 0; slot < NSLOT; slot++) {
        for (int si = 0; si < NSTATUS; si++) {
            uint64_t n = load(&shm->req[slot][si]);

            if (!n)
                continue;
            ms_buf_adds(out, "microshop_http_requests_total{");
            route_labels(out, service, routes, nroutes, slot);
            if (statuses[si])
                ms_buf_addf(out, ",status=\"%d\"} %llu\n", statuses[si], (unsigned long long)n);
            else
                ms_buf_addf(out, ",status=\"other\"} %llu\n", (unsigned long long)n);
        }
    }
}

static void render_histogram(struct ms_buf *out, const char *service,
                             const struct ms_metrics_route *routes, int nroutes)
{
    ms_buf_adds(out, "# HELP microshop_http_request_duration_seconds Time to answer a request.\n"
                     "# TYPE microshop_http_request_duration_seconds histogram\n");
    for (int slot = 0; slot < NSLOT; slot++) {
        uint64_t cum = 0, total = 0;

        for (int b = 0; b < NBUCKET; b++)
            total += load(&shm->hist[slot][b]);
        if (!total)
            continue;
        for (int b = 0; b < NBUCKET; b++) {
            cum += load(&shm->hist[slot][b]);
            ms_buf_adds(out, "microshop_http_request_duration_seconds_bucket{");
            route_labels(out, service, routes, nroutes, slot);
            if (b < NBUCKET - 1)
                ms_buf_addf(out, ",le=\"%g\"} %llu\n", bucket_s[b], (unsigned long long)cum);
            else
                ms_buf_addf(out, ",le=\"+Inf\"} %llu\n", (unsigned long long)cum);
        }
        ms_buf_adds(out, "microshop_http_request_duration_seconds_sum{");
        route_labels(out, service, routes, nroutes, slot);
        ms_buf_addf(out, "} %.6f\n", (double)load(&shm->sum_us[slot]) / 1e6);
        ms_buf_adds(out, "microshop_http_request_duration_seconds_count{");
        route_labels(out, service, routes, nroutes, slot);
        ms_buf_addf(out, "} %llu\n", (unsigned long long)total);
    }
}

const char *ms_metrics_counter_name(enum ms_metric m)
{
    static const char *const names[MS_M_COUNT] = {
        [MS_M_DB_ERRORS] = "db_errors",
        [MS_M_REDIS_ERRORS] = "redis_errors",
        [MS_M_EVENTS_PUBLISHED] = "events_published",
        [MS_M_EVENTS_CONSUMED] = "events_consumed",
        [MS_M_EVENTS_DEAD] = "events_dead",
        [MS_M_WORKER_RESPAWNS] = "worker_respawns",
    };

    return m < MS_M_COUNT ? names[m] : "";
}

void ms_metrics_prometheus(struct ms_buf *out, const char *service,
                           const struct ms_metrics_route *routes, int nroutes, long outbox_pending,
                           double oldest_pending_s, const struct ms_metrics_extra *extra)
{
    static const struct {
        enum ms_metric m;
        const char *name, *help;
    } counters[] = {
        { MS_M_DB_ERRORS, "microshop_db_errors_total", "PostgreSQL calls that failed." },
        { MS_M_REDIS_ERRORS, "microshop_redis_errors_total", "Redis calls that failed." },
        { MS_M_EVENTS_PUBLISHED, "microshop_events_published_total", "Events relayed to Redis." },
        { MS_M_EVENTS_CONSUMED, "microshop_events_consumed_total", "Events applied." },
        { MS_M_EVENTS_DEAD, "microshop_events_dead_lettered_total", "Events dead-lettered." },
        { MS_M_WORKER_RESPAWNS, "microshop_worker_respawns_total", "Pool workers respawned." },
    };

    if (!shm)
        return;
    render_requests(out, service, routes, nroutes);
    render_histogram(out, service, routes, nroutes);
    for (size_t i = 0; i < sizeof counters / sizeof counters[0]; i++)
        ms_buf_addf(out, "# HELP %s %s\n# TYPE %s counter\n%s{service=\"%s\"} %llu\n",
                    counters[i].name, counters[i].help, counters[i].name, counters[i].name, service,
                    (unsigned long long)(load(&shm->counters[counters[i].m]) +
                                         (extra ? extra->counters[counters[i].m] : 0)));
    for (int i = 0; extra && i < extra->nstreams; i++) {
        if (i == 0)
            ms_buf_adds(out, "# HELP microshop_consumer_lag Entries of a stream the service's "
                             "group has not read yet.\n# TYPE microshop_consumer_lag gauge\n"
                             "# HELP microshop_consumer_pending Entries read and not yet "
                             "acknowledged.\n# TYPE microshop_consumer_pending gauge\n");
        ms_buf_addf(out, "microshop_consumer_lag{service=\"%s\",stream=\"%s\"} %lld\n", service,
                    extra->streams[i].stream, extra->streams[i].lag);
        ms_buf_addf(out, "microshop_consumer_pending{service=\"%s\",stream=\"%s\"} %lld\n",
                    service, extra->streams[i].stream, extra->streams[i].pending);
    }
    if (outbox_pending >= 0)
        ms_buf_addf(out,
                    "# HELP microshop_outbox_pending Events written but not yet relayed.\n"
                    "# TYPE microshop_outbox_pending gauge\n"
                    "microshop_outbox_pending{service=\"%s\"} %ld\n"
                    "# HELP microshop_outbox_oldest_pending_seconds Age of the oldest pending "
                    "event.\n# TYPE microshop_outbox_oldest_pending_seconds gauge\n"
                    "microshop_outbox_oldest_pending_seconds{service=\"%s\"} %.3f\n",
                    service, outbox_pending, service, oldest_pending_s);
    ms_buf_addf(out,
                "# HELP microshop_uptime_seconds Seconds since the pool started.\n"
                "# TYPE microshop_uptime_seconds gauge\nmicroshop_uptime_seconds{service=\"%s\"} "
                "%.3f\n",
                service, (double)(ms_clock_now_ms() - shm->started_ms) / 1000.0);
}

static long rss_bytes(void)
{
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");

    if (!f)
        return 0;
    if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
        resident = 0;
    fclose(f);
    return resident * sysconf(_SC_PAGESIZE);
}

void ms_metrics_json(struct ms_buf *out, const char *service)
{
    char ts[32];
    struct rusage ru;
    uint64_t total = 0;

    getrusage(RUSAGE_SELF, &ru);
    if (shm)
        for (int s = 0; s < NSLOT; s++)
            for (int i = 0; i < NSTATUS; i++)
                total += load(&shm->req[s][i]);
    ms_clock_iso8601(ms_clock_now_ms(), ts, sizeof ts);
    ms_buf_addf(out,
                "{\"service\":\"%s-service\",\"timestamp\":\"%s\",\"uptime\":%.3f,"
                "\"memory\":{\"rss\":%ld},\"cpu\":{\"user\":%lld,\"system\":%lld},"
                "\"requests\":%llu}",
                service, ts, (double)(ms_clock_now_ms() - ms_metrics_started_ms()) / 1000.0,
                rss_bytes(), (long long)ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec,
                (long long)ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec,
                (unsigned long long)total);
}
