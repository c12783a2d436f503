/* What a service declares about itself, the only place its name, routes, SQL
 * and hooks meet lib/: the pool (lib/pool.c) and the worker (lib/daemon.c)
 * run any service from this, and nothing in lib/ branches on a service's
 * name. */
#ifndef MS_SERVICE_H
#define MS_SERVICE_H

#include <stddef.h>

#include "lib/consumer.h"
#include "lib/ctx.h"
#include "lib/router.h"

struct ms_arena;
struct ms_db;
struct ms_cache;
struct ms_sql_stmt;
struct ms_req;
struct ms_user_state;
struct cJSON;

/* Flags of a service. */
#define MS_SVC_SIGNS_TOKENS 1u /* holds the refresh secret: checked in production */

struct ms_service {
    const char *name; /* "user" */
    unsigned flags;   /* MS_SVC_* */
    const struct ms_route *routes;
    size_t nroutes;
    const struct ms_sql_stmt *sql;
    int nsql;
    /* Load a user's state when Redis has none: set by the service that owns
     * the users (it reads its database and writes Redis back); NULL elsewhere
     * (a miss is then 503 until that service's worker has rebuilt Redis).
     * MS_ENOTFOUND if no such user. */
    int (*auth_state_miss)(struct ms_req *req, const char *user_id, struct ms_user_state *st);
    /* A Redis key prefix of the service's own: <prefix><user id> is read in
     * the authentication round trip into req->caller.extra; NULL for none. */
    const char *auth_extra_prefix;
    /* Outbox statistics for /health: pending rows and age of the oldest, or
     * NULL for services without events. */
    int (*outbox_stats)(struct ms_ctx *w, long *pending, double *oldest_s);
    /* The events the service's worker consumes (lib/consumer.h), in its own
     * thread; none: the worker only relays. */
    const struct ms_consumer_handler *consumers;
    size_t nconsumers;
};

#endif
