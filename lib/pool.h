/* The FastCGI responder pool of SPEC §1: spawn-fcgi hands the listening
 * socket on fd 0; the master preforks WORKERS workers, respawns one that dies,
 * recycles one after MAX_REQUESTS requests, and on SIGTERM stops accepting,
 * lets in-flight requests finish (bounded by SHUTDOWN_TIMEOUT_MS) and exits 0.
 * Each worker holds one PostgreSQL and one Redis connection (lib/db,
 * lib/cache), which reconnect by themselves. */
#ifndef MS_POOL_H
#define MS_POOL_H

#include <stddef.h>

#include "lib/ctx.h"
#include "lib/service.h"

/* Run the pool for svc (fd 0 must be the listening socket). Returns the
 * process exit status. With the argument --routes it prints the route table
 * ("METHOD pattern access" per line, standard routes included) and exits. */
int ms_pool_main(const struct ms_service *svc, int argc, char **argv);

/* Handle one request already read into req (exposed for tests): standard
 * routes (/health, /metrics), then the service's routes. Returns the route
 * index for metrics (-1 for none). */
int ms_pool_handle(struct ms_ctx *w, struct ms_req *req);

#endif
