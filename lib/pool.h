/* The FastCGI responder pool of SPEC §1: spawn-fcgi hands the listening
 * socket on fd 0; the master preforks WORKERS workers, respawns one that dies,
 * recycles one after MAX_REQUESTS requests, and on SIGTERM stops accepting,
 * lets in-flight requests finish (bounded by SHUTDOWN_TIMEOUT_MS) and exits 0.
 * Each worker holds one PostgreSQL and one Redis connection (lib/db,
 * lib/cache), which reconnect by themselves. */
#ifndef MS_POOL_H
#define MS_POOL_H

#include <stddef.h>

#include "lib/router.h"

struct ms_arena;
struct ms_db;
struct ms_cache;
struct ms_sql_stmt;
struct ms_req;
struct ms_user_state;
struct cJSON;

struct ms_worker {
    const struct ms_service *svc;
    struct ms_arena *arena;
    struct ms_db *db;
    struct ms_cache *cache;
    long served;
    int index;
};

struct ms_service {
    const char *name; /* "user" */
    const struct ms_route *routes;
    size_t nroutes;
    const struct ms_sql_stmt *sql;
    int nsql;
    /* Load a user's state when Redis has none (the user service reads its
     * database and writes Redis back); NULL elsewhere. MS_ENOTFOUND if no
     * such user. */
    int (*user_state_miss)(struct ms_req *req, const char *user_id, struct ms_user_state *st);
    /* Outbox statistics for /health: pending rows and age of the oldest, or
     * NULL for services without events. */
    int (*outbox_stats)(struct ms_worker *w, long *pending, double *oldest_s);
};

/* Run the pool for svc (fd 0 must be the listening socket). Returns the
 * process exit status. With the argument --routes it prints the route table
 * ("METHOD pattern access" per line, standard routes included) and exits. */
int ms_pool_main(const struct ms_service *svc, int argc, char **argv);

/* Handle one request already read into req (exposed for tests): standard
 * routes (/health, /metrics), then the service's routes. Returns the route
 * index for metrics (-1 for none). */
int ms_pool_handle(struct ms_worker *w, struct ms_req *req);

#endif
