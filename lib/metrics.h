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

/* Prometheus text exposition of everything, with outbox gauges when
 * outbox_pending >= 0. */
void ms_metrics_prometheus(struct ms_buf *out, const char *service,
                           const struct ms_metrics_route *routes, int nroutes, long outbox_pending,
                           double oldest_pending_s);

/* Node's JSON shape: service, timestamp, uptime, memory, cpu, plus requests. */
void ms_metrics_json(struct ms_buf *out, const char *service);

#endif
