/* Outbox relay: unpublished rows → Redis streams, exactly once. */
#include "lib/outbox.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cache.h"
#include "lib/db.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/banned.h"

#define RELAY_BATCH   "100"
#define RELAY_LOCK    "727001" /* advisory lock key of the relay */
#define DEDUP_TTL_S   "604800" /* a week: far longer than any relay retry */
#define STREAM_MAXLEN "1000000"

/* KEYS[1] stream, KEYS[2] dedup key; ARGV id, type, source, occurred_at, data,
 * ttl, maxlen. Returns the entry id, or nil when already published. XADD
 * comes before the dedup key: a script is not rolled back, so a failed XADD
 * must leave no key behind (else the event would be skipped for good). */
static const char relay_script[] =
    "if redis.call('EXISTS', KEYS[2]) == 1 then return false end "
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

static int publish(struct ms_cache *cache, PGresult *rows, int i, const char *source)
{
    char dedup[96];
    const char *id = PQgetvalue(rows, i, 1);
    redisReply *r = NULL;
    int rc;

    snprintf(dedup, sizeof dedup, "ms:published:%s", id);
    rc = ms_cache_cmd(cache, NULL, &r, 12,
                      (const char *[]){ "EVAL", relay_script, "2", PQgetvalue(rows, i, 2), dedup,
                                        id, PQgetvalue(rows, i, 3), source, PQgetvalue(rows, i, 5),
                                        PQgetvalue(rows, i, 4), DEDUP_TTL_S, STREAM_MAXLEN },
                      NULL);
    if (r)
        freeReplyObject(r);
    return rc;
}

struct relay_ctx {
    struct ms_cache *cache;
    const char *source;
    int published;
    ms_outbox_hook_fn *hook;
    void *hook_ctx;
    PGresult *rows;
};

static int relay_tx(struct ms_db *db, void *p)
{
    struct relay_ctx *c = p;
    PGresult *lock = NULL;
    int rc, n;

    /* a retried transaction starts over */
    PQclear(c->rows);
    c->rows = NULL;
    c->published = 0;
    rc = ms_db_exec_sql(db, NULL, "SELECT pg_try_advisory_xact_lock(" RELAY_LOCK ")", 0, NULL,
                        &lock);
    if (rc < 0)
        return rc;
    n = strcmp(PQgetvalue(lock, 0, 0), "t") == 0;
    PQclear(lock);
    if (!n)
        return MS_OK; /* another relay has it */
    n = ms_db_exec_sql(db, NULL,
                       "SELECT id, event_id, stream, type, data::text, "
                       "to_char(occurred_at AT TIME ZONE 'UTC', "
                       "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') "
                       "FROM outbox WHERE published_at IS NULL ORDER BY id LIMIT " RELAY_BATCH,
                       0, NULL, &c->rows);
    if (n <= 0)
        return n;
    for (int i = 0; i < n; i++) {
        rc = publish(c->cache, c->rows, i, c->source);
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
    struct relay_ctx c = { .cache = cache, .source = source, .hook = hook, .hook_ctx = ctx };
    int rc = ms_db_tx(db, relay_tx, &c);

    *published = 0;
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
