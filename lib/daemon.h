/* The long-running worker of a service (<service>-worker): one PostgreSQL and
 * one Redis connection, a tick function called every RELAY_INTERVAL_MS (at
 * once again while it reports work done, with backoff up to 5 s while a
 * dependency is down), and a clean exit on SIGTERM. */
#ifndef MS_DAEMON_H
#define MS_DAEMON_H

struct ms_db;
struct ms_cache;
struct ms_sql_stmt;

struct ms_daemon {
    const char *service;
    struct ms_db *db;
    struct ms_cache *cache;
};

/* One round of work: > 0 if it did something (call again now), 0 if idle,
 * < 0 (MS_E…) if a dependency failed (back off). */
typedef int ms_daemon_tick_fn(struct ms_daemon *d, void *ctx);

/* Load the configuration for service, run tick until SIGTERM/SIGINT. Returns
 * the process exit status. */
int ms_daemon_main(const char *service, const struct ms_sql_stmt *sql, int nsql,
                   ms_daemon_tick_fn *tick, void *ctx);

#endif
