/* JWT issue and verify on libjwt 1.10, algorithm pinned to the configured one.
 *
 * libjwt 1.10 checks only the signature; exp, type and iss are checked here.
 * Access tokens are signed with JWT_SECRET (HS256) or the configured private
 * key (RS256/ES256); refresh tokens always with JWT_REFRESH_SECRET (HS256),
 * since only the user service ever reads them. */
#ifndef MS_JWT_H
#define MS_JWT_H

#include <stddef.h>
#include <stdint.h>

struct ms_arena;

enum ms_jwt_kind { MS_JWT_ACCESS, MS_JWT_REFRESH };

struct ms_jwt_claims {
    char sub[40]; /* user id (also the "id" claim) */
    char email[256];
    char role[16];
    char jti[72]; /* "" when the token has none (Node-issued) */
    char fam[40]; /* login family, "" when none */
    char iss[64];
    int64_t iat;
    int64_t exp;
    int64_t tv; /* token version; 0 when absent */
    enum ms_jwt_kind kind;
};

/* Sign claims (kind, sub, email, role, jti, fam, tv, iat, exp taken from c; iss
 * from the configuration) into a token allocated in arena. 0 or MS_EINTERNAL. */
int ms_jwt_sign(struct ms_arena *arena, const struct ms_jwt_claims *c, char **token);

/* Verify token as kind at time now_s: signature with the pinned algorithm and
 * key, "type" equal to kind, "iss" equal to the configuration, "exp" in the
 * future, "id"/"sub" present. 0 and *out filled, or MS_EAUTH with *why set to
 * "Token has expired" or "Invalid token" (refresh: "Refresh token has
 * expired" / "Invalid refresh token"). */
int ms_jwt_verify(const char *token, enum ms_jwt_kind kind, int64_t now_s,
                  struct ms_jwt_claims *out, const char **why);

/* Key for revoking a token that has no jti: "h:" + hex SHA-256 of the token
 * (66 characters + NUL) into out (>= 72 bytes). */
void ms_jwt_token_hash(const char *token, char *out, size_t cap);

/* A random UUID v4 into out (>= 37 bytes). 0 or MS_EINTERNAL. */
int ms_jwt_uuid(char *out, size_t cap);

#endif
