/* The per-user state (role, status, token version) every service reads from
 * Redis in its one authentication round trip. The user service writes it on
 * every change, loads it on a miss, and its worker rebuilds it (and the
 * revocations) whenever Redis comes back empty. */
#include "fcgi-apps/user/user.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fcgi-apps/user/sql.h"
#include "lib/auth.h"
#include "lib/cache.h"
#include "lib/db.h"
#include "lib/err.h"
#include "lib/http.h"
#include "lib/log.h"
#include "lib/validate.h"
#include "lib/banned.h"

#define READY_KEY     "ms:ustate:ready"
#define REBUILD_BATCH "500"

void user_state_publish(struct ms_cache *cache, const char *user_id, const char *role,
                        const char *status, int64_t tv)
{
    struct ms_user_state st;

    snprintf(st.role, sizeof st.role, "%s", role);
    snprintf(st.status, sizeof st.status, "%s", status);
    st.tv = tv;
    if (ms_auth_state_write(cache, user_id, &st) < 0)
        ms_log(MS_LOG_WARN, "could not write a user's state to redis; the worker will");
}

#define USER_CACHE_TTL_S 600

void user_cache_set(struct ms_cache *cache, const char *user_id, const char *json)
{
    char key[80];

    snprintf(key, sizeof key, USER_CACHE_KEY "%s", user_id);
    ms_cache_put_text(cache, key, json, USER_CACHE_TTL_S);
}

void user_cache_drop(struct ms_cache *cache, const char *user_id)
{
    char key[80];

    snprintf(key, sizeof key, USER_CACHE_KEY "%s", user_id);
    if (ms_cache_cmd(cache, NULL, NULL, 2, (const char *[]){ "DEL", key }, NULL) < 0)
        ms_log(MS_LOG_WARN, "could not drop a cached user from redis; the worker will");
}

int user_state_miss(struct ms_req *req, const char *user_id, struct ms_user_state *st)
{
    PGresult *res = NULL;
    int rc;

    if (!ms_valid_uuid(user_id))
        return MS_ENOTFOUND;
    rc = ms_db_exec(req->ctx->db, req->arena, USER_STATE, (const char *[]){ user_id }, &res);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return MS_ENOTFOUND;
    snprintf(st->role, sizeof st->role, "%s", PQgetvalue(res, 0, 0));
    snprintf(st->status, sizeof st->status, "%s", PQgetvalue(res, 0, 1));
    st->tv = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
    if (ms_auth_state_write(req->ctx->cache, user_id, st) < 0)
        ms_log(MS_LOG_WARN, "could not cache a user's state in redis");
    return MS_OK;
}

static int rebuild_users(struct ms_db *db, struct ms_cache *cache)
{
    char after[40] = "00000000-0000-0000-0000-000000000000";
    long total = 0;

    for (;;) {
        PGresult *res = NULL;
        int n =
            ms_db_exec(db, NULL, USER_STATE_ALL, (const char *[]){ after, REBUILD_BATCH }, &res);

        if (n < 0)
            return n;
        for (int i = 0; i < n; i++) {
            struct ms_user_state st;

            snprintf(st.role, sizeof st.role, "%s", PQgetvalue(res, i, 1));
            snprintf(st.status, sizeof st.status, "%s", PQgetvalue(res, i, 2));
            st.tv = strtoll(PQgetvalue(res, i, 3), NULL, 10);
            if (ms_auth_state_write(cache, PQgetvalue(res, i, 0), &st) < 0) {
                PQclear(res);
                return MS_EUNAVAIL;
            }
        }
        if (n > 0)
            snprintf(after, sizeof after, "%s", PQgetvalue(res, n - 1, 0));
        PQclear(res);
        total += n;
        if (n < 500)
            break;
    }
    ms_log(MS_LOG_INFO, "rebuilt the state of %ld users in redis", total);
    return MS_OK;
}

static int rebuild_revocations(struct ms_db *db, struct ms_cache *cache)
{
    PGresult *res = NULL;
    int n = ms_db_exec(db, NULL, REVOKED_ALL, NULL, &res);

    if (n < 0)
        return n;
    for (int i = 0; i < n; i++)
        if (ms_auth_revoke(cache, PQgetvalue(res, i, 0), strtoll(PQgetvalue(res, i, 1), NULL, 10)) <
            0) {
            PQclear(res);
            return MS_EUNAVAIL;
        }
    PQclear(res);
    return MS_OK;
}

int user_state_rebuild_if_needed(struct ms_db *db, struct ms_cache *cache)
{
    redisReply *r = NULL;
    int rc = ms_cache_cmd(cache, NULL, &r, 2, (const char *[]){ "EXISTS", READY_KEY }, NULL);
    int ready = rc == MS_OK && r && r->type == REDIS_REPLY_INTEGER && r->integer == 1;

    if (r)
        freeReplyObject(r);
    if (rc < 0 || ready)
        return rc;
    rc = rebuild_revocations(db, cache);
    if (rc == MS_OK)
        rc = rebuild_users(db, cache);
    if (rc == MS_OK)
        rc = ms_cache_cmd(cache, NULL, NULL, 3, (const char *[]){ "SET", READY_KEY, "1" }, NULL);
    return rc;
}
