/* The long-running worker of a service (<service>-worker): a context (lib/ctx.h:
 * an arena reset after every tick, one PostgreSQL and one Redis connection),
 * a tick function called every RELAY_INTERVAL_MS (at
 * once again while it reports work done, with backoff up to 5 s while a
 * dependency is down), and a clean exit on SIGTERM. */
#ifndef MS_DAEMON_H
#define MS_DAEMON_H

#include "lib/ctx.h"

struct ms_service;

/* One round of work: > 0 if it did something (call again now), 0 if idle,
 * < 0 (MS_E…) if a dependency failed (back off). */
typedef int ms_daemon_tick_fn(struct ms_ctx *d, void *ctx);

/* Load the configuration for service, run tick until SIGTERM/SIGINT. Returns
 * the process exit status. */
int ms_daemon_main(const struct ms_service *svc, ms_daemon_tick_fn *tick, void *ctx);

#endif
