/* Bearer authentication: JWT verify plus one Redis MGET for revocation and the
 * user's current role and status. */
#include "lib/auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/cache.h"
#include "lib/clock.h"
#include "lib/err.h"
#include "lib/http.h"
#include "lib/jwt.h"
#include "lib/log.h"
#include "lib/pool.h"
#include "lib/router.h"
#include "lib/banned.h"

int ms_auth_state_parse(const char *s, struct ms_user_state *st)
{
    char role[16], status[16];
    long long tv;

    if (!s || sscanf(s, "%15s %15s %lld", role, status, &tv) != 3)
        return -1;
    memcpy(st->role, role, sizeof role);
    memcpy(st->status, status, sizeof status);
    st->tv = tv;
    return 0;
}

int ms_auth_state_write(struct ms_cache *c, const char *user_id, const struct ms_user_state *st)
{
    char key[80], val[64];

    snprintf(key, sizeof key, MS_KEY_USTATE "%s", user_id);
    snprintf(val, sizeof val, "%s %s %lld", st->role, st->status, (long long)st->tv);
    return ms_cache_cmd(c, NULL, NULL, 3, (const char *[]){ "SET", key, val }, NULL);
}

int ms_auth_revoke(struct ms_cache *c, const char *id, int64_t exp_s)
{
    char key[96], exat[24];

    if (exp_s <= ms_clock_now_ms() / 1000)
        return MS_OK; /* already expired: nothing to remember */
    snprintf(key, sizeof key, MS_KEY_REVOKED "%s", id);
    snprintf(exat, sizeof exat, "%lld", (long long)exp_s);
    return ms_cache_cmd(c, NULL, NULL, 5, (const char *[]){ "SET", key, "1", "EXAT", exat }, NULL);
}

/* The token of "Authorization: Bearer <token>", or NULL. */
static const char *bearer(const char *h)
{
    if (!h || strncmp(h, "Bearer ", 7) != 0)
        return NULL;
    h += 7;
    return *h ? h : NULL;
}

static int is_set(const redisReply *r)
{
    return r && r->type == REDIS_REPLY_STRING;
}

static void fill_caller(struct ms_req *req, const struct ms_jwt_claims *cl,
                        const struct ms_user_state *st, const char *token)
{
    struct ms_caller *c = &req->caller;

    c->is_authenticated = 1;
    snprintf(c->user_id, sizeof c->user_id, "%s", cl->sub);
    snprintf(c->email, sizeof c->email, "%s", cl->email);
    snprintf(c->role_name, sizeof c->role_name, "%s", st->role);
    c->role = ms_router_role_bit(st->role);
    snprintf(c->jti, sizeof c->jti, "%s", cl->jti);
    snprintf(c->family, sizeof c->family, "%s", cl->fam);
    c->exp = (long)cl->exp;
    c->token = token;
}

int ms_auth_authenticate(struct ms_req *req)
{
    const char *token = bearer(req->authorization);
    struct ms_jwt_claims cl;
    struct ms_user_state st;
    const char *extra = req->ctx->svc->auth_extra_prefix;
    char k_jti[96], k_fam[96], k_state[80], k_extra[128];
    redisReply *reply = NULL;
    const char *why = NULL;
    int rc;

    if (!token)
        return ms_http_fail(req, MS_EAUTH, "No token provided");
    if (ms_jwt_verify(token, MS_JWT_ACCESS, ms_clock_now_ms() / 1000, &cl, &why) < 0) {
        req->err_msg = why ? why : "Invalid token";
        return MS_EAUTH;
    }
    if (!cl.jti[0])
        ms_jwt_token_hash(token, cl.jti, sizeof cl.jti);
    snprintf(k_jti, sizeof k_jti, MS_KEY_REVOKED "%s", cl.jti);
    snprintf(k_fam, sizeof k_fam, MS_KEY_REVOKED "%s", cl.fam[0] ? cl.fam : cl.jti);
    snprintf(k_state, sizeof k_state, MS_KEY_USTATE "%s", cl.sub);
    if (extra)
        snprintf(k_extra, sizeof k_extra, "%s%s", extra, cl.sub);
    rc = ms_cache_cmd(req->ctx->cache, req->arena, &reply, extra ? 5 : 4,
                      (const char *[]){ "MGET", k_jti, k_fam, k_state, extra ? k_extra : NULL },
                      NULL);
    if (rc < 0 || !reply || reply->type != REDIS_REPLY_ARRAY ||
        reply->elements != (extra ? 4u : 3u))
        return ms_http_fail(req, MS_EUNAVAIL, "Service unavailable");
    if (is_set(reply->element[0]) || is_set(reply->element[1]))
        return ms_http_fail(req, MS_EAUTH, "Token has been revoked");
    if (is_set(reply->element[2])) {
        if (ms_auth_state_parse(reply->element[2]->str, &st) < 0)
            return ms_http_fail(req, MS_EUNAVAIL, "Service unavailable");
    } else if (req->ctx->svc->auth_state_miss) {
        rc = req->ctx->svc->auth_state_miss(req, cl.sub, &st);
        if (rc == MS_ENOTFOUND)
            return ms_http_fail(req, MS_EAUTH, "User not found");
        if (rc < 0)
            return ms_http_fail(req, MS_EUNAVAIL, "Service unavailable");
    } else {
        ms_log(MS_LOG_WARN, "no state in redis for a token's user; is the user worker running?");
        return ms_http_fail(req, MS_EUNAVAIL, "Service unavailable");
    }
    if (strcmp(st.status, "deleted") == 0)
        return ms_http_fail(req, MS_EAUTH, "User not found");
    if (cl.tv < st.tv)
        return ms_http_fail(req, MS_EAUTH, "Token has been revoked");
    if (strcmp(st.status, "active") != 0)
        return ms_http_fail(req, MS_EAUTH, "Account is not active");
    fill_caller(req, &cl, &st, token);
    if (extra && is_set(reply->element[3]))
        req->caller.extra = reply->element[3]->str;
    return MS_OK;
}
