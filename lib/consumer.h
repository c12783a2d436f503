/* Events, consumer side (SPEC §4): a service's consumer group reads the
 * streams it subscribes to and applies each event exactly once.
 *
 *   - The groups (<service>, one per stream) are created on start
 *     (XGROUP CREATE … $ MKSTREAM; an existing group is kept).
 *   - XREADGROUP … BLOCK runs on the consumer's own Redis connection, whose
 *     timeout is longer than the block.
 *   - The handler and the event's row in processed_events commit in one
 *     transaction: an event seen again (redelivered, republished, replayed)
 *     finds its row and is acknowledged without being applied.
 *   - XACK follows the commit. A consumer killed in between leaves the entry
 *     pending; it is reclaimed (XCLAIM of entries idle for more than
 *     CONSUMER_CLAIM_IDLE_MS) and found already applied.
 *   - A handler that fails rolls back; the entry stays pending and is retried
 *     when reclaimed. After MAX_DELIVERIES deliveries it is copied to
 *     events:dead with the last reason and acknowledged (Redis 7.0 has no
 *     negative ack), and later entries keep flowing. An operator replays it
 *     with `microshopctl events dead replay ID`.
 *   - Redis or PostgreSQL down: the round returns MS_EUNAVAIL and the daemon
 *     backs off; nothing is reclaimed while PostgreSQL does not answer, so an
 *     outage never spends an entry's deliveries. */
#ifndef MS_CONSUMER_H
#define MS_CONSUMER_H

#include <stddef.h>

#include <cjson/cJSON.h>

struct ms_ctx;

#define MS_DEAD_STREAM "events:dead"

/* One stream entry: the envelope every service writes (lib/outbox.c). */
struct ms_event {
    const char *stream;      /* "events:order" */
    const char *entry_id;    /* the stream entry, "1700000000000-0" */
    const char *id;          /* event id (UUID) */
    const char *type;        /* "order.created" */
    const char *source;      /* "order-service" */
    const char *occurred_at; /* ISO 8601 */
    const char *data_text;   /* the JSON text */
    const cJSON *data;       /* parsed (an object), freed after the handler */
    long deliveries;         /* 1 on the first delivery */
};

/* Apply ev inside the transaction that records it as processed (ctx->db is
 * in that transaction; ctx->arena is reset after the event). MS_OK commits;
 * a negative code rolls back, with ms_fail()'s message as the reason. */
typedef int ms_consumer_fn(struct ms_ctx *ctx, const struct ms_event *ev);

struct ms_consumer_handler {
    const char *stream; /* "events:order" */
    const char *type;   /* "order.created", or "*" for every type of the stream */
    ms_consumer_fn *fn;
};

struct ms_consumer_opts {
    const char *group;    /* the service's name */
    const char *consumer; /* this process's name within the group */
    int block_ms;         /* CONSUMER_BLOCK_MS */
    int claim_idle_ms;    /* CONSUMER_CLAIM_IDLE_MS */
    int max_deliveries;   /* MAX_DELIVERIES */
    int batch;            /* entries per read */
    int timeout_ms;       /* REDIS_TIMEOUT_MS: added to block_ms for the connection */
};

struct ms_consumer;

/* A consumer of handlers[0..n) (which must outlive it) on Redis at url. Does
 * not connect yet. NULL on a malformed URL or OOM. */
struct ms_consumer *ms_consumer_new(const char *redis_url, const struct ms_consumer_handler *h,
                                    size_t n, const struct ms_consumer_opts *opts);

/* Close and free; accepts NULL. */
void ms_consumer_free(struct ms_consumer *c);

/* One round: ensure the groups, reclaim or dead-letter stale pending entries,
 * then read new ones (blocking up to block_ms) and apply each. Returns the
 * number of entries handled (> 0), 0 if none came, or MS_EUNAVAIL when Redis
 * or PostgreSQL is down. */
int ms_consumer_poll(struct ms_consumer *c, struct ms_ctx *ctx);

/* Test seam: called after an event's transaction committed and before its
 * XACK (NULL: none). */
void ms_consumer_set_after_commit(struct ms_consumer *c, void (*fn)(const struct ms_event *ev));

/* ---- dead letters (microshopctl events dead) ---- */

/* Put dead entry dead_id back on its stream as a new entry (the same event
 * id, so consumers that applied it skip it) and delete it from events:dead.
 * 1 replayed, 0 no such entry, or MS_EUNAVAIL. */
int ms_consumer_replay_dead(struct ms_ctx *ctx, const char *dead_id);

#endif
