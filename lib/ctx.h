/* The context every piece of work runs in, whether it is an HTTP request in a
 * pool worker or an event in a service's worker: one arena (reset after each
 * request or event), one PostgreSQL and one Redis connection, and the message
 * of the last failure.
 *
 * Domain functions take a context, not a request, and report a failure as a
 * negative MS_E… code with a message: `return ms_fail(ctx, MS_ECONFLICT,
 * "Quantity would drop below reserved");`. So a handler and an event consumer
 * call the same function; the HTTP layer (lib/http.c) turns the code and the
 * message into the SPEC envelope in one place, a consumer into a log line and
 * a retry. As with ms_http_fail, only a string literal compiles as the message:
 * no library text can reach a client. */
#ifndef MS_CTX_H
#define MS_CTX_H

struct ms_arena;
struct ms_db;
struct ms_cache;
struct ms_service;

struct ms_ctx {
    const char *service;          /* "user" */
    const struct ms_service *svc; /* the pool's routes and hooks; NULL in a daemon */
    struct ms_arena *arena;
    struct ms_db *db;
    struct ms_cache *cache;
    const char *err_msg; /* set by ms_fail, cleared for each request or event */
    long served;         /* requests or events handled */
    int index;           /* pool worker number (0 in a daemon) */
};

/* Set the message that goes with code; a string literal only (see above). */
int ms_ctx_fail_(struct ms_ctx *ctx, const char *msg, int code);
#define ms_fail(ctx, code, msg) ms_ctx_fail_((ctx), "" msg, (code))

#endif
