/* The user service: what its files share. */
#ifndef USER_USER_H
#define USER_USER_H

#include <stdint.h>

#include <cjson/cJSON.h>

#include "lib/pool.h"

struct ms_req;
struct ms_db;
struct ms_cache;
struct ms_user_state;

#define USER_EMAIL_MAX 255

/* Redis: the public user JSON that /api/auth/me serves, read in the
 * authentication round trip (ms_service.auth_extra_prefix). */
#define USER_CACHE_KEY "ms:user:"

/* ---- input.c: request bodies, validated (errors recorded on req) ---------- */

struct user_register_in {
    char email[USER_EMAIL_MAX + 1]; /* normalised */
    const char *password;
    char name[1024];   /* trimmed */
    const char *phone; /* NULL if absent */
};

struct user_login_in {
    char email[USER_EMAIL_MAX + 1];
    const char *password;
};

#define USER_PROFILE_NFIELDS 13
/* Order of the profile fields = parameters $3.. of USER_UPDATE_PROFILE. */
extern const char *const user_profile_fields[USER_PROFILE_NFIELDS];

struct user_profile_in {
    const char *values[USER_PROFILE_NFIELDS]; /* NULL: absent or null */
    int present[USER_PROFILE_NFIELDS];
    char name[1024];
    char *prefs_json; /* notification_preferences as JSON text (arena) */
};

struct user_password_in {
    const char *current;
    const char *next;
};

/* Each returns MS_OK, or MS_EINVALID after recording every problem. */
int user_parse_register(struct ms_req *req, const cJSON *body, struct user_register_in *in);
int user_parse_login(struct ms_req *req, const cJSON *body, struct user_login_in *in);
int user_parse_profile(struct ms_req *req, const cJSON *body, struct user_profile_in *in);
int user_parse_password(struct ms_req *req, const cJSON *body, struct user_password_in *in);

/* ---- tokens.c: access + refresh pair of one login ------------------------- */

struct user_tokens {
    char access_jti[40];
    char refresh_jti[40];
    char family[40];
    char *access;
    char *refresh;
};

/* New token ids, in family (or a new family when family is NULL). */
int user_tokens_prepare(struct user_tokens *t, const char *family);

/* Sign the pair for a user whose current token version is tv. */
int user_tokens_sign(struct ms_req *req, struct user_tokens *t, const char *user_id,
                     const char *email, const char *role, int64_t tv);

/* {"accessToken","refreshToken","tokenType":"Bearer","expiresIn":N}. */
cJSON *user_tokens_json(const struct user_tokens *t);

/* ---- state.c: the per-user state other services read from Redis ---------- */

/* Router miss hook: read the state from PostgreSQL and write it to Redis. */
int user_state_miss(struct ms_req *req, const char *user_id, struct ms_user_state *st);

/* Write one user's state, best effort (logged on failure). */
void user_state_publish(struct ms_cache *cache, const char *user_id, const char *role,
                        const char *status, int64_t tv);

/* The public user JSON that /api/auth/me serves from Redis (fetched in the
 * authentication round trip): set after login/register, dropped by every
 * write to the user's row. Best effort; a failure only costs a database read. */
void user_cache_set(struct ms_cache *cache, const char *user_id, const char *json);
void user_cache_drop(struct ms_cache *cache, const char *user_id);

/* Rebuild every user's state and the revocations in Redis from PostgreSQL
 * when Redis lacks them (a fresh or restarted Redis). 0 or MS_E…. */
int user_state_rebuild_if_needed(struct ms_db *db, struct ms_cache *cache);

/* ---- account.c: role, status and deletion, shared with microshopctl -------- */

struct user_account {
    char id[40];
    char email[USER_EMAIL_MAX + 1];
    char role[16];
    char status[16]; /* "deleted" after user_account_delete */
    int64_t tv;      /* token version */
};

/* Set the role and/or status (NULL: kept) of the live user with this
 * (normalised) email, with its user.updated event, in one transaction.
 * MS_OK with the new state in *out; MS_ENOTFOUND; MS_ECONFLICT when it would
 * leave no active admin and force is 0; MS_EUNAVAIL/MS_EINTERNAL (logged).
 * The caller then writes the state to Redis (the worker does too). */
int user_account_set(struct ms_db *db, struct ms_arena *arena, const char *email,
                     const char *role, const char *status, int force, struct user_account *out);

/* Soft-delete the user with this id (token version bumped, user.deleted);
 * codes as user_account_set, never forced. */
int user_account_delete(struct ms_db *db, struct ms_arena *arena, const char *id,
                        struct user_account *out);

/* ---- handlers ------------------------------------------------------------- */

int user_h_register(struct ms_req *req);
int user_h_login(struct ms_req *req);
int user_h_logout(struct ms_req *req);
int user_h_refresh(struct ms_req *req);
int user_h_me(struct ms_req *req);
int user_h_profile_get(struct ms_req *req);
int user_h_profile_put(struct ms_req *req);
int user_h_password(struct ms_req *req);
int user_h_list(struct ms_req *req);
int user_h_get(struct ms_req *req);
int user_h_delete(struct ms_req *req);

extern const struct ms_service user_service;

#endif
