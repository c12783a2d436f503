/* Events, producer side (SPEC §4): a service writes its event into its
 * `outbox` table in the same transaction as the change; its worker relays
 * unpublished rows to the Redis stream in order and marks them published,
 * retrying while Redis is down. Publication is deduplicated in Redis by event
 * id (an atomic SET NX + XADD script), so a relay that dies between XADD and
 * marking the row publishes nothing twice. */
#ifndef MS_OUTBOX_H
#define MS_OUTBOX_H

struct ms_db;
struct ms_cache;

/* The NOTIFY channel of every outbox insert (migrations/common/001): the
 * worker LISTENs on it and relays at once. */
#define MS_OUTBOX_CHANNEL "ms_outbox"

/* SQL that inserts one outbox row from a CTE: use inside a service statement
 * as "INSERT INTO outbox (stream, type, data) SELECT …". Documented here so all
 * services write the same table shape (migrations create it). */
#define MS_OUTBOX_COLUMNS "outbox (stream, type, data)"

/* One relayed event, passed to the hook after it is published. */
struct ms_outbox_event {
    const char *event_id;
    const char *stream;
    const char *type;
    const char *data; /* JSON text */
};

typedef void ms_outbox_hook_fn(const struct ms_outbox_event *ev, void *ctx);

/* Insert an event (data is JSON text) outside a CTE, e.g. inside ms_db_tx. */
int ms_outbox_add(struct ms_db *db, const char *stream, const char *type, const char *data_json);

/* Relay up to one batch of unpublished rows, in id order, as source. Only
 * one relay of a service works at a time (advisory lock). *published gets the
 * count; hook (may be NULL) sees each event after it is published. 0, or
 * MS_EUNAVAIL when PostgreSQL or Redis is down (rows stay unpublished). */
int ms_outbox_relay_once(struct ms_db *db, struct ms_cache *cache, const char *source,
                         int *published, ms_outbox_hook_fn *hook, void *ctx);

/* Rows not yet published and the age in seconds of the oldest. */
int ms_outbox_stats(struct ms_db *db, long *pending, double *oldest_s);

struct ms_ctx;

/* ms_outbox_stats on ctx->db: the ms_service.outbox_stats hook of a service
 * with an outbox. */
int ms_outbox_ctx_stats(struct ms_ctx *ctx, long *pending, double *oldest_s);

#endif
