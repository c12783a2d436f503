/* Prometheus metrics summed over all workers of a pool: one block of atomic
 * counters in shared memory, mapped by the master before it forks. */
#ifndef MS_METRICS_H
#define MS_METRICS_H

#include <stdint.h>

struct ms_buf;

#define MS_METRICS_MAX_ROUTES 64

enum ms_metric {
    MS_M_DB_ERRORS,
    MS_M_REDIS_ERRORS,
    MS_M_EVENTS_PUBLISHED,
    MS_M_EVENTS_CONSUMED,
    MS_M_EVENTS_DEAD,
    MS_M_WORKER_RESPAWNS,
    MS_M_COUNT
};

/* A route's labels for rendering. */
struct ms_metrics_route {
    const char *method;
    const char *pattern;
};

/* Map the shared block (call once in the master, before forking). 0 or
 * MS_EINTERNAL. Without it every other call is a no-op. */
int ms_metrics_init(void);

/* Count one request of route (index < MS_METRICS_MAX_ROUTES; anything else
 * counts as "unmatched") with its status and duration. */
void ms_metrics_request(int route, int status, int64_t duration_us);

/* Add n to a counter. */
void ms_metrics_add(enum ms_metric m, uint64_t n);

/* Current value of a counter (for tests and health). */
uint64_t ms_metrics_get(enum ms_metric m);

/* Epoch ms when the pool started. */
int64_t ms_metrics_started_ms(void);

/* What the service's workers (<svc>-worker, another process, maybe another
 * host) counted, added to the pool's own counters when rendered; and the
 * lag of each stream the service consumes. */
struct ms_metrics_extra {
    uint64_t counters[MS_M_COUNT];
    int nstreams;
    struct {
        const char *stream;
        long long lag;     /* entries not yet read by the group (-1: unknown) */
        long long pending; /* read, not yet acknowledged */
    } streams[8];
};

/* Prometheus text exposition of everything, with outbox gauges when
 * outbox_pending >= 0 and the workers' counters and consumer lag from extra
 * (may be NULL). */
void ms_metrics_prometheus(struct ms_buf *out, const char *service,
                           const struct ms_metrics_route *routes, int nroutes, long outbox_pending,
                           double oldest_pending_s, const struct ms_metrics_extra *extra);

/* Redis hash where each worker of service leaves its counters. */
#define MS_METRICS_WORKERS_KEY "ms:metrics:workers:"

/* Name of counter m in that hash ("events_published", …). */
const char *ms_metrics_counter_name(enum ms_metric m);

/* Node's JSON shape: service, timestamp, uptime, memory, cpu, plus requests. */
void ms_metrics_json(struct ms_buf *out, const char *service);

#endif
