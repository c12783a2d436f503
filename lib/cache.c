/* Redis: one connection per worker with connect and command timeouts; a
 * failed connection is dropped and made again on the next call. */
#include "lib/cache.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "lib/arena.h"
#include "lib/clock.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/banned.h"

#define MS_CACHE_MAX_PIPELINE 16

struct ms_cache {
    char host[256];
    int port;
    char password[256];
    int db;
    int timeout_ms;
    redisContext *ctx;
};

void ms_cache_reply_free(void *reply)
{
    freeReplyObject(reply);
}

/* Parse "redis://[:password@]host[:port][/db]" into c. 0 or -1. */
static int parse_url(struct ms_cache *c, const char *url)
{
    const char *p, *at, *slash, *colon, *host_end;
    size_t n;

    c->port = 6379;
    c->db = 0;
    if (strncmp(url, "redis://", 8) != 0)
        return -1;
    p = url + 8;
    slash = strchr(p, '/');
    at = strchr(p, '@');
    if (at && (!slash || at < slash)) {
        const char *pw = memchr(p, ':', (size_t)(at - p));

        pw = pw ? pw + 1 : p;
        n = (size_t)(at - pw);
        if (n >= sizeof c->password)
            return -1;
        memcpy(c->password, pw, n);
        c->password[n] = '\0';
        p = at + 1;
    }
    host_end = slash ? slash : p + strlen(p);
    colon = memchr(p, ':', (size_t)(host_end - p));
    n = (size_t)((colon ? colon : host_end) - p);
    if (n == 0 || n >= sizeof c->host)
        return -1;
    memcpy(c->host, p, n);
    c->host[n] = '\0';
    if (colon) {
        char *end;
        long port = strtol(colon + 1, &end, 10);

        if (end != host_end || port <= 0 || port > 65535)
            return -1;
        c->port = (int)port;
    }
    if (slash && slash[1]) {
        char *end;
        long db = strtol(slash + 1, &end, 10);

        if (*end || db < 0 || db > 1000)
            return -1;
        c->db = (int)db;
    }
    return 0;
}

struct ms_cache *ms_cache_new(const char *url, int timeout_ms)
{
    struct ms_cache *c = calloc(1, sizeof(*c));

    if (!c)
        return NULL;
    if (parse_url(c, url) < 0) {
        ms_log(MS_LOG_FATAL, "REDIS_URL is not of the form redis://[:password@]host[:port][/db]");
        free(c);
        return NULL;
    }
    c->timeout_ms = timeout_ms;
    return c;
}

static void drop(struct ms_cache *c)
{
    if (c->ctx)
        redisFree(c->ctx);
    c->ctx = NULL;
}

void ms_cache_free(struct ms_cache *c)
{
    if (!c)
        return;
    drop(c);
    free(c);
}

static struct timeval tv_of(int ms)
{
    struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };

    return tv;
}

/* Run a setup command (AUTH, SELECT) on a fresh connection. */
static int setup_cmd(struct ms_cache *c, const char *what, int argc, const char **argv)
{
    redisReply *r = redisCommandArgv(c->ctx, argc, argv, NULL);
    int ok = r && r->type != REDIS_REPLY_ERROR;

    if (!ok)
        ms_log(MS_LOG_ERROR, "redis %s failed: %s", what,
               r ? "error reply" : (c->ctx->err ? c->ctx->errstr : "no reply"));
    if (r)
        freeReplyObject(r);
    return ok ? 0 : -1;
}

/* An idle connection whose socket is readable was closed by the server (a
 * restart, CLIENT KILL, timeout): we never leave replies unread, so nothing
 * else arrives unasked. Drop it, so the next command goes out on a fresh
 * connection instead of failing. */
static void check_idle(struct ms_cache *c)
{
    struct pollfd pfd;

    if (!c->ctx)
        return;
    pfd.fd = c->ctx->fd;
    pfd.events = POLLIN;
    if (pfd.fd < 0 || poll(&pfd, 1, 0) > 0) {
        ms_log(MS_LOG_WARN, "redis closed the idle connection; reconnecting");
        drop(c);
    }
}

int ms_cache_connect(struct ms_cache *c)
{
    char dbs[16];

    check_idle(c);
    if (c->ctx)
        return MS_OK;
    c->ctx = redisConnectWithTimeout(c->host, c->port, tv_of(c->timeout_ms));
    if (!c->ctx || c->ctx->err) {
        ms_log(MS_LOG_WARN, "could not connect to redis %s:%d: %s", c->host, c->port,
               c->ctx ? c->ctx->errstr : "out of memory");
        drop(c);
        return MS_EUNAVAIL;
    }
    if (redisSetTimeout(c->ctx, tv_of(c->timeout_ms)) != REDIS_OK) {
        drop(c);
        return MS_EUNAVAIL;
    }
    if (c->password[0] && setup_cmd(c, "AUTH", 2, (const char *[]){ "AUTH", c->password }) < 0)
        goto fail;
    snprintf(dbs, sizeof dbs, "%d", c->db);
    if (c->db && setup_cmd(c, "SELECT", 2, (const char *[]){ "SELECT", dbs }) < 0)
        goto fail;
    return MS_OK;
fail:
    drop(c);
    return MS_EUNAVAIL;
}

/* Store reply r in *out (deferred to arena) and return MS_OK, or
 * MS_EINTERNAL for an error reply. */
static int keep_reply(struct ms_arena *arena, redisReply *r, redisReply **out)
{
    int rc = r->type == REDIS_REPLY_ERROR ? MS_EINTERNAL : MS_OK;

    if (rc < 0)
        ms_log(MS_LOG_ERROR, "redis error reply: %.*s", (int)(r->len > 200 ? 200 : r->len),
               r->str ? r->str : "");
    if (out) {
        *out = r;
        if (arena)
            ms_arena_defer(arena, ms_cache_reply_free, r);
    } else {
        freeReplyObject(r);
    }
    return rc;
}

int ms_cache_cmd(struct ms_cache *c, struct ms_arena *arena, redisReply **out, int argc,
                 const char **argv, const size_t *argvlen)
{
    redisReply *r;
    int rc;

    if (out)
        *out = NULL;
    rc = ms_cache_connect(c);
    if (rc < 0)
        return rc;
    r = redisCommandArgv(c->ctx, argc, argv, argvlen);
    if (!r) {
        ms_log(MS_LOG_WARN, "redis command failed: %s", c->ctx->errstr);
        drop(c);
        return MS_EUNAVAIL;
    }
    return keep_reply(arena, r, out);
}

int ms_cache_pipeline(struct ms_cache *c, struct ms_arena *arena, int n, const int *argcs,
                      const char *const *const *cmds, redisReply **out)
{
    int rc, worst = MS_OK;

    if (n <= 0 || n > MS_CACHE_MAX_PIPELINE)
        return MS_EINTERNAL;
    for (int i = 0; i < n; i++)
        out[i] = NULL;
    rc = ms_cache_connect(c);
    if (rc < 0)
        return rc;
    for (int i = 0; i < n; i++)
        if (redisAppendCommandArgv(c->ctx, argcs[i], (const char **)cmds[i], NULL) != REDIS_OK)
            goto lost;
    for (int i = 0; i < n; i++) {
        void *r = NULL;

        if (redisGetReply(c->ctx, &r) != REDIS_OK || !r)
            goto lost;
        rc = keep_reply(arena, r, &out[i]);
        if (!arena && rc < 0)
            worst = rc;
        else if (rc < 0)
            worst = rc;
    }
    return worst;
lost:
    ms_log(MS_LOG_WARN, "redis pipeline failed: %s", c->ctx->errstr);
    if (!arena)
        for (int i = 0; i < n; i++)
            if (out[i])
                freeReplyObject(out[i]);
    for (int i = 0; i < n; i++)
        out[i] = NULL;
    drop(c);
    return MS_EUNAVAIL;
}

const char *ms_cache_get_text(struct ms_cache *c, struct ms_arena *arena, const char *key)
{
    redisReply *r = NULL;

    if (ms_cache_cmd(c, arena, &r, 2, (const char *[]){ "GET", key }, NULL) == MS_OK && r &&
        r->type == REDIS_REPLY_STRING)
        return r->str;
    if (r && !arena)
        freeReplyObject(r);
    return NULL;
}

int ms_cache_put_text(struct ms_cache *c, const char *key, const char *text, long ttl_s)
{
    char ttl[24];
    int rc;

    snprintf(ttl, sizeof ttl, "%ld", ttl_s);
    rc = ms_cache_cmd(c, NULL, NULL, 5, (const char *[]){ "SET", key, text, "EX", ttl }, NULL);
    if (rc < 0)
        ms_log(MS_LOG_DEBUG, "could not cache %s in redis", key);
    return rc;
}

int ms_cache_ping(struct ms_cache *c)
{
    int64_t t0 = ms_clock_mono_us();
    redisReply *r = NULL;
    int rc = ms_cache_cmd(c, NULL, &r, 1, (const char *[]){ "PING" }, NULL);

    if (r)
        freeReplyObject(r);
    if (rc < 0)
        return MS_EUNAVAIL;
    return (int)((ms_clock_mono_us() - t0) / 1000);
}
