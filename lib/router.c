/* Router: method + path pattern → handler, with per-route access. */
#include "lib/router.h"

#include <string.h>

#include "lib/arena.h"
#include "lib/http.h"
#include "lib/banned.h"

unsigned ms_router_role_bit(const char *name)
{
    if (!name)
        return 0;
    if (strcmp(name, "user") == 0)
        return MS_ROLE_USER;
    if (strcmp(name, "moderator") == 0)
        return MS_ROLE_MODERATOR;
    if (strcmp(name, "admin") == 0)
        return MS_ROLE_ADMIN;
    return 0;
}

/* Does path match pattern? Fills req->params for ":name" segments. */
static int match_pattern(const char *pattern, const char *path, struct ms_req *req)
{
    const char *p = pattern, *s = path;
    int nparams = 0;

    while (*p && *s) {
        if (*p != '/' || *s != '/')
            return 0;
        p++;
        s++;
        if (*p == ':') {
            const char *pend = strchr(p, '/');
            const char *send = strchr(s, '/');
            size_t plen = pend ? (size_t)(pend - p) : strlen(p);
            size_t slen = send ? (size_t)(send - s) : strlen(s);

            if (slen == 0 || nparams >= MS_MAX_PARAMS)
                return 0;
            req->params[nparams].key = ms_arena_strndup(req->arena, p + 1, plen - 1);
            req->params[nparams].val = ms_arena_strndup(req->arena, s, slen);
            nparams++;
            p += plen;
            s += slen;
        } else {
            const char *pend = strchr(p, '/');
            size_t plen = pend ? (size_t)(pend - p) : strlen(p);

            if (strncmp(p, s, plen) != 0 || (s[plen] != '/' && s[plen] != '\0'))
                return 0;
            p += plen;
            s += plen;
        }
    }
    /* a trailing slash on the request is tolerated ("/api/users/") */
    if (*p == '\0' && (*s == '\0' || (s[0] == '/' && s[1] == '\0'))) {
        req->nparams = nparams;
        return 1;
    }
    return 0;
}

int ms_router_match(const struct ms_route *routes, size_t n, struct ms_req *req)
{
    int other_method = 0;

    for (size_t i = 0; i < n; i++) {
        if (!match_pattern(routes[i].pattern, req->path, req))
            continue;
        if (strcmp(routes[i].method, req->method) == 0 ||
            (strcmp(req->method, "HEAD") == 0 && strcmp(routes[i].method, "GET") == 0))
            return (int)i;
        other_method = 1;
    }
    req->nparams = 0;
    return other_method ? -2 : -1;
}

int ms_router_dispatch(const struct ms_route *routes, size_t n, struct ms_req *req,
                       ms_router_auth_fn *auth)
{
    int idx = ms_router_match(routes, n, req);
    int rc;

    if (idx == -1) {
        ms_http_send_error(req, MS_ENOTFOUND, 1);
        return -1;
    }
    if (idx == -2) {
        ms_http_send_error(req, MS_EMETHOD, 0);
        return -1;
    }
    if (routes[idx].roles != MS_PUBLIC) {
        rc = auth ? auth(req) : MS_EAUTH;
        if (rc == MS_OK && !(req->caller.role & routes[idx].roles))
            rc = ms_http_fail(req, MS_EFORBID, "Insufficient permissions");
        if (rc < 0) {
            ms_http_send_error(req, rc, 0);
            return idx;
        }
    }
    if (!ms_http_query_valid(req)) {
        ms_http_send_error(req, ms_http_fail(req, MS_EBADREQ, "Malformed query string"), 0);
        return idx;
    }
    rc = routes[idx].fn(req);
    if (rc < 0)
        ms_http_send_error(req, rc, 0);
    else if (!req->responded)
        ms_http_ok(req, 200, NULL);
    return idx;
}
