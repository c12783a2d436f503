/* Router: method + path pattern ("/api/users/:id") → handler, with the access
 * each route requires. 404 (with "path") and 405 in the SPEC §2 envelope. */
#ifndef MS_ROUTER_H
#define MS_ROUTER_H

#include <stddef.h>

struct ms_req;

typedef int ms_handler_fn(struct ms_req *req);

enum {
    MS_ROLE_USER = 1,
    MS_ROLE_MODERATOR = 2,
    MS_ROLE_ADMIN = 4,
};
#define MS_PUBLIC 0u
#define MS_AUTH   (MS_ROLE_USER | MS_ROLE_MODERATOR | MS_ROLE_ADMIN)
#define MS_STAFF  (MS_ROLE_MODERATOR | MS_ROLE_ADMIN)

struct ms_route {
    const char *method;  /* "GET", "POST", … */
    const char *pattern; /* "/api/users/:id" */
    unsigned roles;      /* MS_PUBLIC, or the roles allowed */
    ms_handler_fn *fn;
};

/* Authenticate the caller (bearer token → req->caller). Set by the pool to
 * lib/auth's function; tests may replace it. 0 or an MS_E… code. */
typedef int ms_router_auth_fn(struct ms_req *req);

/* Find the route for req->method and req->path. Returns its index, filling
 * req->params; -1 if no pattern matches (404), -2 if a pattern matches with
 * another method (405). */
int ms_router_match(const struct ms_route *routes, size_t n, struct ms_req *req);

/* Match, authenticate and authorise, run the handler and render its error if
 * it failed. Returns the index of the matched route or -1. */
int ms_router_dispatch(const struct ms_route *routes, size_t n, struct ms_req *req,
                       ms_router_auth_fn *auth);

/* MS_ROLE_* bit for "user" / "moderator" / "admin"; 0 if unknown. */
unsigned ms_router_role_bit(const char *name);

#endif
