/* Authentication of every service: the bearer token is verified (lib/jwt),
 * then ONE Redis round trip (MGET) reads whether its jti or its login family is
 * revoked and the user's current role, status and token version, which the
 * user service writes on every change. Permission checks use that current
 * role, never the token's. Redis unreachable → 503, never let through.
 * A service may read one more key of its own in the same round trip
 * (ms_service.auth_extra_prefix); nothing here knows which service runs it. */
#ifndef MS_AUTH_H
#define MS_AUTH_H

#include <stdint.h>

struct ms_req;
struct ms_cache;
struct ms_arena;

struct ms_user_state {
    char role[16];
    char status[16]; /* active, inactive, suspended, pending, deleted */
    int64_t tv;      /* token version: tokens with a lower "tv" are revoked */
};

/* Redis key prefixes. */
#define MS_KEY_USTATE  "ms:ustate:"
#define MS_KEY_REVOKED "ms:revoked:"

/* Router hook: Authorization: Bearer <access token> → req->caller. 0, or
 * MS_EAUTH with Node's messages ("No token provided", "Invalid token", "Token
 * has expired", "Token has been revoked", "User not found", "Account is not
 * active"), or MS_EUNAVAIL when Redis (or the state lookup) is unreachable. */
int ms_auth_authenticate(struct ms_req *req);

/* Parse a state value "role status tv". 0 or -1. */
int ms_auth_state_parse(const char *s, struct ms_user_state *st);

/* Write a user's state (no expiry). 0 or MS_EUNAVAIL / MS_EINTERNAL. */
int ms_auth_state_write(struct ms_cache *c, const char *user_id, const struct ms_user_state *st);

/* Mark a token id or login family revoked until exp_s (epoch seconds). */
int ms_auth_revoke(struct ms_cache *c, const char *id, int64_t exp_s);

#endif
