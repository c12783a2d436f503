/* Redis: one connection per worker, bounded by REDIS_TIMEOUT_MS, reconnecting
 * on the next call after any failure. A Redis that is down or hung costs a fast
 * MS_EUNAVAIL, never a hang. */
#ifndef MS_CACHE_H
#define MS_CACHE_H

#include <stddef.h>

#include <hiredis/hiredis.h>

struct ms_arena;
struct ms_cache;

/* A handle for url ("redis://[:password@]host[:port][/db]"). Does not connect
 * yet. NULL on a malformed URL (logged) or OOM. */
struct ms_cache *ms_cache_new(const char *url, int timeout_ms);

/* Close and free; accepts NULL. */
void ms_cache_free(struct ms_cache *c);

/* Connect now if not connected: 0 or MS_EUNAVAIL (logged). */
int ms_cache_connect(struct ms_cache *c);

/* One command from argv (argc strings, lengths in argvlen or NULL for strlen).
 * The reply goes to *out (deferred to arena if given, else freeReplyObject by
 * the caller); out may be NULL. A Redis error reply is returned as
 * MS_EINTERNAL (logged) with the reply still stored. MS_EUNAVAIL when the
 * connection failed or timed out (then the connection is dropped). */
int ms_cache_cmd(struct ms_cache *c, struct ms_arena *arena, redisReply **out, int argc,
                 const char **argv, const size_t *argvlen);

/* Several commands in one round trip: cmds[i] has argcs[i] arguments. The
 * replies go to out[0..n) (deferred to arena if given). */
int ms_cache_pipeline(struct ms_cache *c, struct ms_arena *arena, int n, const int *argcs,
                      const char *const *const *cmds, redisReply **out);

/* Cache-aside, read: the string stored at key (the reply dies with arena), or
 * NULL when there is none or Redis does not answer; either way the caller
 * reads the database. */
const char *ms_cache_get_text(struct ms_cache *c, struct ms_arena *arena, const char *key);

/* Cache-aside, write: store text at key for ttl_s seconds. MS_OK, or the
 * failure (logged at debug: a cache that is down only costs a read). */
int ms_cache_put_text(struct ms_cache *c, const char *key, const char *text, long ttl_s);

/* PING round trip; latency in ms (>= 0) or MS_EUNAVAIL. */
int ms_cache_ping(struct ms_cache *c);

/* Adapter for ms_arena_defer(). */
void ms_cache_reply_free(void *reply);

#endif
