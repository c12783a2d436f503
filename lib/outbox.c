/* Outbox relay: unpublished rows → Redis streams, exactly once. */
#include "lib/outbox.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cache.h"
#include "lib/clock.h"
#include "lib/config.h"
#include "lib/ctx.h"
#include "lib/db.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/banned.h"

#define RELAY_BATCH   "100"
#define RELAY_LOCK    "727001" /* advisory lock key of the relay */
#define DEDUP_TTL_S   "604800" /* a week: far longer than any relay retry */
#define STREAM_MAXLEN "1000000"

/* KEYS[1] stream, KEYS[2] dedup key, KEYS[3] the relay's marker; ARGV id,
 * type, source, occurred_at, data, ttl, maxlen, outbox row id, force. Returns
 * the entry id, or nil when already published (unless force: a republish
 * after Redis lost data). XADD comes before the dedup key: a script is not
 * rolled back, so a failed XADD must leave no key behind (else the event
 * would be skipped for good). The marker holds the highest outbox id Redis
 * has, written with the entry: a Redis that comes back without the newest
 * entries (an old AOF, a lagging replica) comes back with an older marker. */
static const char relay_script[] =
    "local m = tonumber(redis.call('GET', KEYS[3]) or '0') "
    "if tonumber(ARGV[8]) > m then redis.call('SET', KEYS[3], ARGV[8]) end "
    "if ARGV[9] ~= '1' and redis.call('EXISTS', KEYS[2]) == 1 then return false end "
    "local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[7], '*', 'id', ARGV[1], "
    "'type', ARGV[2], 'source', ARGV[3], 'occurred_at', ARGV[4], 'data', ARGV[5]) "
    "redis.call('SET', KEYS[2], '1', 'EX', ARGV[6]) return id";

int ms_outbox_add(struct ms_db *db, const char *stream, const char *type, const char *data_json)
{
    int rc = ms_db_exec_sql(db, NULL,
                            "INSERT INTO outbox (stream, type, data) VALUES ($1, $2, $3::jsonb)", 3,
                            (const char *[]){ stream, type, data_json }, NULL);

    return rc < 0 ? rc : MS_OK;
}

/* The rows to publish: id, event_id, stream, type, data, occurred_at. */
#define ROW_COLS                                                                           \
    "SELECT id, event_id, stream, type, data::text, to_char(occurred_at AT TIME ZONE 'UTC', " \
    "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') FROM outbox "

static void marker_key(char *out, size_t cap, const char *source)
{
    snprintf(out, cap, "ms:relay:%s", source);
}

static int publish(struct ms_cache *cache, PGresult *rows, int i, const char *source, int force)
{
    char dedup[96], marker[96];
    const char *id = PQgetvalue(rows, i, 1);
    redisReply *r = NULL;
    int rc;

    snprintf(dedup, sizeof dedup, "ms:published:%s", id);
    marker_key(marker, sizeof marker, source);
    rc = ms_cache_cmd(cache, NULL, &r, 15,
                      (const char *[]){ "EVAL", relay_script, "3", PQgetvalue(rows, i, 2), dedup,
                                        marker, id, PQgetvalue(rows, i, 3), source,
                                        PQgetvalue(rows, i, 5), PQgetvalue(rows, i, 4), DEDUP_TTL_S,
                                        STREAM_MAXLEN, PQgetvalue(rows, i, 0), force ? "1" : "0" },
                      NULL);
    if (r)
        freeReplyObject(r);
    return rc;
}

struct relay_ctx {
    struct ms_cache *cache;
    const char *source;
    long retention_h;
    int published;
    int republished;
    ms_outbox_hook_fn *hook;
    void *hook_ctx;
    PGresult *rows;
};

/* Did Redis lose what it had (restarted empty, an old AOF, a failover to a
 * lagging replica)? Its marker is then missing or behind the newest published
 * row: republish the published rows after it that are still kept (the
 * retention window), one batch a round, forced past the dedup keys; the
 * consumers' processed_events make the repeats harmless. 1 if it republished
 * (call again), 0 if Redis is whole, < 0 on failure. */
static int republish_lost(struct ms_db *db, struct relay_ctx *c)
{
    char key[96], after[32], hours[24];
    redisReply *r = NULL;
    PGresult *max = NULL;
    long long marker = 0, newest;
    int rc, n;

    marker_key(key, sizeof key, c->source);
    rc = ms_cache_cmd(c->cache, NULL, &r, 2, (const char *[]){ "GET", key }, NULL);
    if (rc < 0)
        return rc;
    if (r && r->type == REDIS_REPLY_STRING)
        marker = strtoll(r->str, NULL, 10);
    if (r)
        freeReplyObject(r);
    rc = ms_db_exec_sql(db, NULL,
                        "SELECT COALESCE(max(id), 0) FROM outbox WHERE published_at IS NOT NULL", 0,
                        NULL, &max);
    if (rc < 0)
        return rc;
    newest = strtoll(PQgetvalue(max, 0, 0), NULL, 10);
    PQclear(max);
    if (marker >= newest)
        return 0;
    snprintf(after, sizeof after, "%lld", marker);
    snprintf(hours, sizeof hours, "%ld", c->retention_h);
    n = ms_db_exec_sql(db, NULL,
                       ROW_COLS "WHERE published_at IS NOT NULL AND id > $1::bigint "
                                "AND published_at > now() - make_interval(hours => $2::int) "
                                "ORDER BY id LIMIT " RELAY_BATCH,
                       2, (const char *[]){ after, hours }, &c->rows);
    if (n < 0)
        return n;
    if (n == 0) {
        /* nothing kept to republish: Redis is as whole as it can be made */
        char v[32];

        PQclear(c->rows);
        c->rows = NULL;

        snprintf(v, sizeof v, "%lld", newest);
        rc = ms_cache_cmd(c->cache, NULL, NULL, 3, (const char *[]){ "SET", key, v }, NULL);
        return rc < 0 ? rc : 0;
    }
    if (marker == 0)
        ms_log(MS_LOG_WARN, "redis has no relay marker for %s: republishing the outbox of the "
                            "last %ld h", c->source, c->retention_h);
    for (int i = 0; i < n; i++) {
        rc = publish(c->cache, c->rows, i, c->source, 1);
        if (rc < 0)
            return rc;
        c->republished++;
    }
    PQclear(c->rows);
    c->rows = NULL;
    return 1;
}

/* Published rows older than the retention window go (at most once a minute). */
static int prune(struct ms_db *db, long retention_h)
{
    static int64_t last_ms;
    int64_t now = ms_clock_mono_us() / 1000;
    char hours[24];
    int rc;

    if (last_ms && now - last_ms < 60000)
        return MS_OK;
    last_ms = now;
    snprintf(hours, sizeof hours, "%ld", retention_h);
    rc = ms_db_exec_sql(db, NULL,
                        "DELETE FROM outbox WHERE published_at IS NOT NULL "
                        "AND published_at < now() - make_interval(hours => $1::int)",
                        1, (const char *[]){ hours }, NULL);
    return rc < 0 ? rc : MS_OK;
}

static int relay_tx(struct ms_db *db, void *p)
{
    struct relay_ctx *c = p;
    PGresult *lock = NULL;
    int rc, n;

    /* a retried transaction starts over */
    PQclear(c->rows);
    c->rows = NULL;
    c->published = 0;
    c->republished = 0;
    rc = ms_db_exec_sql(db, NULL, "SELECT pg_try_advisory_xact_lock(" RELAY_LOCK ")", 0, NULL,
                        &lock);
    if (rc < 0)
        return rc;
    n = strcmp(PQgetvalue(lock, 0, 0), "t") == 0;
    PQclear(lock);
    if (!n)
        return MS_OK; /* another relay has it */
    rc = republish_lost(db, c);
    if (rc != 0)
        return rc < 0 ? rc : MS_OK;
    n = ms_db_exec_sql(db, NULL,
                       ROW_COLS "WHERE published_at IS NULL ORDER BY id LIMIT " RELAY_BATCH, 0,
                       NULL, &c->rows);
    if (n <= 0)
        return n;
    for (int i = 0; i < n; i++) {
        rc = publish(c->cache, c->rows, i, c->source, 0);
        if (rc < 0)
            break;
        rc = ms_db_exec_sql(db, NULL, "UPDATE outbox SET published_at = now() WHERE id = $1", 1,
                            (const char *[]){ PQgetvalue(c->rows, i, 0) }, NULL);
        if (rc < 0)
            return rc;
        c->published++;
    }
    /* commit what was published even when Redis went away mid-batch */
    return MS_OK;
}

int ms_outbox_relay_once(struct ms_db *db, struct ms_cache *cache, const char *source,
                         int *published, ms_outbox_hook_fn *hook, void *ctx)
{
    struct relay_ctx c = { .cache = cache, .source = source, .hook = hook, .hook_ctx = ctx,
                           .retention_h = ms_config.outbox_retention_h > 0
                                              ? ms_config.outbox_retention_h
                                              : 168 };
    int rc = ms_db_tx(db, relay_tx, &c);

    *published = 0;
    if (rc == MS_OK && c.republished) {
        *published = c.republished;
        ms_metrics_add(MS_M_EVENTS_PUBLISHED, (uint64_t)c.republished);
        return MS_OK;
    }
    if (rc == MS_OK && prune(db, c.retention_h) < 0)
        rc = MS_EUNAVAIL;
    if (rc == MS_OK) {
        *published = c.published;
        ms_metrics_add(MS_M_EVENTS_PUBLISHED, (uint64_t)c.published);
        for (int i = 0; hook && i < c.published; i++) {
            struct ms_outbox_event ev = { PQgetvalue(c.rows, i, 1), PQgetvalue(c.rows, i, 2),
                                          PQgetvalue(c.rows, i, 3), PQgetvalue(c.rows, i, 4) };
            hook(&ev, ctx);
        }
    }
    if (rc == MS_OK && c.rows && c.published < PQntuples(c.rows))
        rc = MS_EUNAVAIL; /* Redis failed mid-batch: the rest waits */
    PQclear(c.rows);
    return rc;
}

int ms_outbox_stats(struct ms_db *db, long *pending, double *oldest_s)
{
    PGresult *r = NULL;
    int rc = ms_db_exec_sql(db, NULL,
                            "SELECT count(*), COALESCE(extract(epoch FROM now() - "
                            "min(occurred_at)), 0) FROM outbox WHERE published_at IS NULL",
                            0, NULL, &r);

    if (rc < 0)
        return rc;
    *pending = strtol(PQgetvalue(r, 0, 0), NULL, 10);
    *oldest_s = strtod(PQgetvalue(r, 0, 1), NULL);
    PQclear(r);
    return MS_OK;
}

int ms_outbox_ctx_stats(struct ms_ctx *ctx, long *pending, double *oldest_s)
{
    return ms_outbox_stats(ctx->db, pending, oldest_s);
}
