/* Stream consumer groups: each event applied once, stale entries reclaimed,
 * poison entries dead-lettered (lib/consumer.h). */
#include "lib/consumer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/arena.h"
#include "lib/cache.h"
#include "lib/ctx.h"
#include "lib/db.h"
#include "lib/err.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/validate.h"
#include "lib/banned.h"

#define MAX_STREAMS   8
#define DEAD_MAXLEN   "100000"
#define ERRORS_PREFIX "ms:consumer:errors:"

struct ms_consumer {
    struct ms_cache *redis; /* its own connection: the block outlives REDIS_TIMEOUT_MS */
    const struct ms_consumer_handler *h;
    size_t nh;
    const char *streams[MAX_STREAMS];
    int nstreams;
    int groups_ok;
    char group[64], consumer[128], errors_key[96];
    char block[16], batch[16], claim_idle[16];
    int max_deliveries;
    void (*after_commit)(const struct ms_event *ev);
};

/* KEYS[1] events:dead, KEYS[2] the stream; ARGV group, entry, reason,
 * deliveries, then the entry's own field/value pairs. Copy and XACK in one
 * step, so a crash leaves either both or neither. */
static const char dead_script[] =
    "local f = {'stream', KEYS[2], 'entry', ARGV[2], 'group', ARGV[1], 'deliveries', ARGV[4], "
    "'reason', ARGV[3]} for i = 5, #ARGV do f[#f + 1] = ARGV[i] end "
    "redis.call('XADD', KEYS[1], 'MAXLEN', '~', " DEAD_MAXLEN ", '*', unpack(f)) "
    "redis.call('XACK', KEYS[2], ARGV[1], ARGV[2]) return 1";

/* KEYS[1] events:dead; ARGV[1] the dead entry. Back onto its stream as a new
 * entry with the event's own fields, then out of events:dead. */
static const char replay_script[] =
    "local e = redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1]) "
    "if #e == 0 then return 0 end "
    "local f, m = e[1][2], {} for i = 1, #f, 2 do m[f[i]] = f[i + 1] end "
    "if not m['stream'] or not m['id'] then return -1 end "
    "redis.call('XADD', m['stream'], '*', 'id', m['id'], 'type', m['type'] or '', "
    "'source', m['source'] or '', 'occurred_at', m['occurred_at'] or '', "
    "'data', m['data'] or '') "
    "redis.call('XDEL', KEYS[1], ARGV[1]) return 1";

struct ms_consumer *ms_consumer_new(const char *redis_url, const struct ms_consumer_handler *h,
                                    size_t n, const struct ms_consumer_opts *o)
{
    struct ms_consumer *c = calloc(1, sizeof *c);

    if (!c)
        return NULL;
    c->redis = ms_cache_new(redis_url, o->block_ms + o->timeout_ms);
    if (!c->redis) {
        free(c);
        return NULL;
    }
    c->h = h;
    c->nh = n;
    for (size_t i = 0; i < n; i++) {
        int seen = 0;

        for (int j = 0; j < c->nstreams; j++)
            seen |= strcmp(c->streams[j], h[i].stream) == 0;
        if (!seen && c->nstreams < MAX_STREAMS)
            c->streams[c->nstreams++] = h[i].stream;
    }
    snprintf(c->group, sizeof c->group, "%s", o->group);
    snprintf(c->consumer, sizeof c->consumer, "%s", o->consumer);
    snprintf(c->errors_key, sizeof c->errors_key, ERRORS_PREFIX "%s", o->group);
    snprintf(c->block, sizeof c->block, "%d", o->block_ms);
    snprintf(c->batch, sizeof c->batch, "%d", o->batch > 0 ? o->batch : 32);
    snprintf(c->claim_idle, sizeof c->claim_idle, "%d", o->claim_idle_ms);
    c->max_deliveries = o->max_deliveries > 0 ? o->max_deliveries : 5;
    return c;
}

void ms_consumer_free(struct ms_consumer *c)
{
    if (!c)
        return;
    ms_cache_free(c->redis);
    free(c);
}

void ms_consumer_set_after_commit(struct ms_consumer *c, void (*fn)(const struct ms_event *ev))
{
    c->after_commit = fn;
}

static int is_error(const redisReply *r, const char *prefix)
{
    return r && r->type == REDIS_REPLY_ERROR && r->str && strncmp(r->str, prefix, strlen(prefix)) == 0;
}

/* XGROUP CREATE <stream> <group> 0 MKSTREAM for each stream: from the start
 * of the stream, so that nothing published before the group existed (a new
 * service, a Redis that came back empty and was republished) is missed; the
 * consumers' dedupe makes the history harmless. */
static int ensure_groups(struct ms_consumer *c, struct ms_ctx *ctx)
{
    if (c->groups_ok)
        return MS_OK;
    for (int i = 0; i < c->nstreams; i++) {
        redisReply *r = NULL;
        int rc = ms_cache_cmd(c->redis, ctx->arena, &r, 6,
                              (const char *[]){ "XGROUP", "CREATE", c->streams[i], c->group, "0",
                                                "MKSTREAM" },
                              NULL);

        if (rc == MS_EUNAVAIL)
            return rc;
        if (rc < 0 && !is_error(r, "BUSYGROUP"))
            return MS_EUNAVAIL;
    }
    c->groups_ok = 1;
    return MS_OK;
}

static const struct ms_consumer_handler *find_handler(const struct ms_consumer *c,
                                                     const char *stream, const char *type)
{
    for (size_t i = 0; i < c->nh; i++)
        if (strcmp(c->h[i].stream, stream) == 0 &&
            (strcmp(c->h[i].type, "*") == 0 || strcmp(c->h[i].type, type) == 0))
            return &c->h[i];
    return NULL;
}

/* The field/value array of an entry into ev; 0, or -1 when it lacks the
 * envelope (id, type, data) or its data is not a JSON object. */
static int parse_entry(struct ms_ctx *ctx, const redisReply *fields, struct ms_event *ev)
{
    cJSON *data;

    for (size_t i = 0; fields && i + 1 < fields->elements; i += 2) {
        const char *k = fields->element[i]->str, *v = fields->element[i + 1]->str;

        if (!k || !v)
            continue;
        if (strcmp(k, "id") == 0)
            ev->id = v;
        else if (strcmp(k, "type") == 0)
            ev->type = v;
        else if (strcmp(k, "source") == 0)
            ev->source = v;
        else if (strcmp(k, "occurred_at") == 0)
            ev->occurred_at = v;
        else if (strcmp(k, "data") == 0)
            ev->data_text = v;
    }
    if (!ev->id || !ms_valid_uuid(ev->id) || !ev->type || !ev->data_text)
        return -1;
    data = cJSON_Parse(ev->data_text);
    if (!data)
        return -1;
    ms_arena_defer(ctx->arena, ms_json_delete, data);
    ev->data = data;
    return cJSON_IsObject(data) ? 0 : -1;
}

static int ack(struct ms_consumer *c, struct ms_ctx *ctx, const char *stream, const char *entry)
{
    return ms_cache_cmd(c->redis, ctx->arena, NULL, 4,
                        (const char *[]){ "XACK", stream, c->group, entry }, NULL);
}

static void errors_field(char *out, size_t cap, const char *stream, const char *entry)
{
    snprintf(out, cap, "%s %s", stream, entry);
}

/* Copy the entry to events:dead with reason and acknowledge it. */
static int dead_letter(struct ms_consumer *c, struct ms_ctx *ctx, const char *stream,
                       const char *entry, const redisReply *fields, long deliveries,
                       const char *reason)
{
    const char *argv[64];
    char dl[24];
    int argc = 0;

    snprintf(dl, sizeof dl, "%ld", deliveries);
    argv[argc++] = "EVAL";
    argv[argc++] = dead_script;
    argv[argc++] = "2";
    argv[argc++] = MS_DEAD_STREAM;
    argv[argc++] = stream;
    argv[argc++] = c->group;
    argv[argc++] = entry;
    argv[argc++] = reason;
    argv[argc++] = dl;
    for (size_t i = 0; fields && i + 1 < fields->elements && argc + 2 <= 64; i += 2) {
        const char *k = fields->element[i]->str;

        /* the envelope only: our own names must not be overwritten */
        if (k && (strcmp(k, "id") == 0 || strcmp(k, "type") == 0 || strcmp(k, "source") == 0 ||
                  strcmp(k, "occurred_at") == 0 || strcmp(k, "data") == 0)) {
            argv[argc++] = k;
            argv[argc++] = fields->element[i + 1]->str ? fields->element[i + 1]->str : "";
        }
    }
    if (ms_cache_cmd(c->redis, ctx->arena, NULL, argc, argv, NULL) < 0)
        return MS_EUNAVAIL;
    {
        char f[192];

        errors_field(f, sizeof f, stream, entry);
        ms_cache_cmd(c->redis, ctx->arena, NULL, 3, (const char *[]){ "HDEL", c->errors_key, f },
                     NULL);
    }
    ms_metrics_add(MS_M_EVENTS_DEAD, 1);
    ms_log(MS_LOG_ERROR, "event %s on %s moved to " MS_DEAD_STREAM " after %ld deliveries: %s",
           entry, stream, deliveries, reason);
    return MS_OK;
}

struct apply {
    struct ms_ctx *ctx;
    const struct ms_event *ev;
    ms_consumer_fn *fn;
    int duplicate;
};

static int apply_tx(struct ms_db *db, void *p)
{
    struct apply *a = p;
    int rc = ms_db_exec_sql(db, a->ctx->arena,
                            "INSERT INTO processed_events (event_id) VALUES ($1::uuid) "
                            "ON CONFLICT (event_id) DO NOTHING",
                            1, (const char *[]){ a->ev->id }, NULL);

    if (rc < 0)
        return rc;
    a->duplicate = rc == 0;
    if (a->duplicate)
        return MS_OK;
    a->ctx->err_msg = NULL;
    return a->fn(a->ctx, a->ev);
}

/* Apply one entry. MS_OK (applied, a duplicate, or not ours: acknowledged;
 * or failed and left pending), MS_EUNAVAIL when a dependency is down. */
static int handle(struct ms_consumer *c, struct ms_ctx *ctx, const char *stream,
                  const redisReply *entry, long deliveries)
{
    struct ms_event ev = { .stream = stream, .deliveries = deliveries };
    const struct ms_consumer_handler *h;
    const redisReply *fields;
    struct apply a = { .ctx = ctx, .ev = &ev };
    char f[192];
    int rc;

    if (entry->type != REDIS_REPLY_ARRAY || entry->elements != 2 || !entry->element[0]->str)
        return MS_OK;
    ev.entry_id = entry->element[0]->str;
    fields = entry->element[1];
    if (fields->type != REDIS_REPLY_ARRAY) /* deleted from the stream (trimmed): nothing to do */
        return ack(c, ctx, stream, ev.entry_id);
    if (parse_entry(ctx, fields, &ev) < 0)
        return dead_letter(c, ctx, stream, ev.entry_id, fields, deliveries,
                           "malformed event (no id, type or JSON object data)");
    h = find_handler(c, stream, ev.type);
    if (!h)
        return ack(c, ctx, stream, ev.entry_id); /* a type this service does not consume */
    a.fn = h->fn;
    rc = ms_db_tx(ctx->db, apply_tx, &a);
    errors_field(f, sizeof f, stream, ev.entry_id);
    if (rc == MS_OK) {
        if (c->after_commit)
            c->after_commit(&ev);
        if (!a.duplicate)
            ms_metrics_add(MS_M_EVENTS_CONSUMED, 1);
        if (ack(c, ctx, stream, ev.entry_id) < 0)
            return MS_EUNAVAIL; /* pending: reclaimed later, then a duplicate */
        if (deliveries > 1)
            ms_cache_cmd(c->redis, ctx->arena, NULL, 3,
                         (const char *[]){ "HDEL", c->errors_key, f }, NULL);
        return MS_OK;
    }
    if (rc == MS_EUNAVAIL && ms_db_ping(ctx->db) < 0)
        return MS_EUNAVAIL;
    {
        const char *reason = ctx->err_msg ? ctx->err_msg : ms_err_message(rc);

        ms_log(MS_LOG_WARN, "event %s (%s) on %s failed (delivery %ld): %s", ev.id, ev.type,
               stream, deliveries, reason);
        ms_cache_cmd(c->redis, ctx->arena, NULL, 4,
                     (const char *[]){ "HSET", c->errors_key, f, reason }, NULL);
    }
    return MS_OK;
}

/* The reason recorded for an entry's last failure. */
static const char *last_reason(struct ms_consumer *c, struct ms_ctx *ctx, const char *stream,
                               const char *entry)
{
    redisReply *r = NULL;
    char f[192];

    errors_field(f, sizeof f, stream, entry);
    if (ms_cache_cmd(c->redis, ctx->arena, &r, 3, (const char *[]){ "HGET", c->errors_key, f },
                     NULL) == MS_OK &&
        r && r->type == REDIS_REPLY_STRING)
        return r->str;
    return "failed MAX_DELIVERIES times (no reason recorded)";
}

/* Entries of stream idle longer than claim_idle: dead-letter those delivered
 * max_deliveries times, claim and apply the others. Count handled in *n. */
static int reclaim(struct ms_consumer *c, struct ms_ctx *ctx, const char *stream, int *n)
{
    redisReply *pend = NULL;
    int rc = ms_cache_cmd(c->redis, ctx->arena, &pend, 8,
                          (const char *[]){ "XPENDING", stream, c->group, "IDLE", c->claim_idle,
                                            "-", "+", c->batch },
                          NULL);

    if (rc < 0)
        return is_error(pend, "NOGROUP") ? (c->groups_ok = 0, MS_EUNAVAIL) : MS_EUNAVAIL;
    if (!pend || pend->type != REDIS_REPLY_ARRAY || pend->elements == 0)
        return MS_OK;
    /* never spend an entry's deliveries while PostgreSQL is away */
    if (ms_db_ping(ctx->db) < 0)
        return MS_EUNAVAIL;
    for (size_t i = 0; i < pend->elements; i++) {
        const redisReply *p = pend->element[i];
        redisReply *got = NULL;
        long count;
        const char *id;

        if (p->type != REDIS_REPLY_ARRAY || p->elements < 4 || !p->element[0]->str)
            continue;
        id = p->element[0]->str;
        count = (long)p->element[3]->integer;
        if (count >= c->max_deliveries) {
            redisReply *e = NULL;
            const redisReply *fields = NULL;

            if (ms_cache_cmd(c->redis, ctx->arena, &e, 4,
                             (const char *[]){ "XRANGE", stream, id, id }, NULL) < 0)
                return MS_EUNAVAIL;
            if (e && e->type == REDIS_REPLY_ARRAY && e->elements == 1)
                fields = e->element[0]->element[1];
            if (dead_letter(c, ctx, stream, id, fields, count, last_reason(c, ctx, stream, id)) <
                0)
                return MS_EUNAVAIL;
            (*n)++;
            continue;
        }
        if (ms_cache_cmd(c->redis, ctx->arena, &got, 6,
                         (const char *[]){ "XCLAIM", stream, c->group, c->consumer, c->claim_idle,
                                           id },
                         NULL) < 0)
            return MS_EUNAVAIL;
        for (size_t j = 0; got && got->type == REDIS_REPLY_ARRAY && j < got->elements; j++) {
            if (got->element[j]->type != REDIS_REPLY_ARRAY)
                continue;
            rc = handle(c, ctx, stream, got->element[j], count + 1);
            if (rc < 0)
                return rc;
            (*n)++;
        }
    }
    return MS_OK;
}

int ms_consumer_poll(struct ms_consumer *c, struct ms_ctx *ctx)
{
    const char *argv[8 + 2 * MAX_STREAMS];
    redisReply *r = NULL;
    int argc = 0, n = 0, rc;

    rc = ensure_groups(c, ctx);
    if (rc < 0)
        return rc;
    for (int i = 0; i < c->nstreams; i++) {
        rc = reclaim(c, ctx, c->streams[i], &n);
        if (rc < 0)
            return rc;
    }
    argv[argc++] = "XREADGROUP";
    argv[argc++] = "GROUP";
    argv[argc++] = c->group;
    argv[argc++] = c->consumer;
    argv[argc++] = "COUNT";
    argv[argc++] = c->batch;
    argv[argc++] = "BLOCK";
    argv[argc++] = n ? "1" : c->block; /* work is waiting: do not sleep on the read */
    argv[argc++] = "STREAMS";
    for (int i = 0; i < c->nstreams; i++)
        argv[argc++] = c->streams[i];
    for (int i = 0; i < c->nstreams; i++)
        argv[argc++] = ">";
    rc = ms_cache_cmd(c->redis, ctx->arena, &r, argc, argv, NULL);
    if (rc < 0) {
        if (is_error(r, "NOGROUP"))
            c->groups_ok = 0; /* Redis lost the groups: make them again next round */
        return MS_EUNAVAIL;
    }
    for (size_t s = 0; r && r->type == REDIS_REPLY_ARRAY && s < r->elements; s++) {
        const redisReply *sr = r->element[s];

        if (sr->type != REDIS_REPLY_ARRAY || sr->elements != 2 || !sr->element[0]->str)
            continue;
        for (size_t e = 0; e < sr->element[1]->elements; e++) {
            rc = handle(c, ctx, sr->element[0]->str, sr->element[1]->element[e], 1);
            if (rc < 0)
                return rc;
            n++;
        }
    }
    return n;
}

int ms_consumer_replay_dead(struct ms_ctx *ctx, const char *dead_id)
{
    redisReply *r = NULL;
    int rc = ms_cache_cmd(ctx->cache, ctx->arena, &r, 5,
                          (const char *[]){ "EVAL", replay_script, "1", MS_DEAD_STREAM, dead_id },
                          NULL);

    if (rc < 0)
        return MS_EUNAVAIL;
    return r && r->type == REDIS_REPLY_INTEGER && r->integer == 1 ? 1 : 0;
}
