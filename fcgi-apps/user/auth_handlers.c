/* /api/auth: register, login, logout, refresh, me. */
#include "fcgi-apps/user/user.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fcgi-apps/user/sql.h"
#include "lib/arena.h"
#include "lib/auth.h"
#include "lib/clock.h"
#include "lib/config.h"
#include "lib/db.h"
#include "lib/http.h"
#include "lib/json.h"
#include "lib/jwt.h"
#include "lib/log.h"
#include "lib/password.h"
#include "lib/banned.h"

static char *ttl_text(struct ms_req *req, long secs)
{
    return ms_arena_printf(req->arena, "%ld", secs);
}

/* {"user": <user JSON text>, "tokens": {...}} */
static cJSON *user_and_tokens(const char *user_json, const struct user_tokens *t)
{
    cJSON *data = cJSON_CreateObject();

    cJSON_AddItemToObject(data, "user", cJSON_CreateRaw(user_json));
    cJSON_AddItemToObject(data, "tokens", user_tokens_json(t));
    return data;
}

int user_h_register(struct ms_req *req)
{
    struct user_register_in in;
    struct user_tokens t;
    const cJSON *body;
    char hash[MS_HASH_MAX];
    PGresult *res = NULL;
    int rc;

    if ((rc = ms_http_json(req, &body)) < 0 || (rc = user_parse_register(req, body, &in)) < 0)
        return rc;
    if ((rc = ms_password_hash(in.password, ms_config.bcrypt_cost, hash, sizeof hash)) < 0 ||
        (rc = user_tokens_prepare(&t, NULL)) < 0)
        return rc;
    rc = ms_db_exec(req->ctx->db, req->arena, USER_REGISTER,
                    (const char *[]){ in.email, hash, in.name, in.phone, t.refresh_jti, t.family,
                                      ttl_text(req, ms_config.jwt_refresh_ttl_s) },
                    &res);
    if (rc == MS_ECONFLICT)
        return ms_http_fail(req, MS_ECONFLICT, "Email already registered");
    if (rc < 0)
        return rc;
    if (rc != 1)
        return MS_EINTERNAL;
    rc = user_tokens_sign(req, &t, PQgetvalue(res, 0, 0), in.email, "user", 0);
    if (rc < 0)
        return rc;
    user_state_publish(req->ctx->cache, PQgetvalue(res, 0, 0), "user", "active", 0);
    user_cache_set(req->ctx->cache, PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1));
    ms_http_ok(req, 201, user_and_tokens(PQgetvalue(res, 0, 1), &t));
    return MS_OK;
}

/* A wrong password: count it, and say whether it locked the account. */
static int login_failed(struct ms_req *req, const char *user_id)
{
    PGresult *res = NULL;
    int rc = ms_db_exec(req->ctx->db, req->arena, USER_LOGIN_FAILED, (const char *[]){ user_id },
                        &res);

    if (rc < 0)
        return rc;
    if (rc == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0)
        return ms_http_fail(req, MS_EAUTH,
                            "Too many failed attempts. Account locked for 15 minutes");
    return ms_http_fail(req, MS_EAUTH, "Invalid credentials");
}

int user_h_login(struct ms_req *req)
{
    enum { C_ID, C_EMAIL, C_HASH, C_ROLE, C_STATUS, C_TV, C_LOCKED };
    struct user_login_in in;
    struct user_tokens t;
    const cJSON *body;
    char rehash[MS_HASH_MAX];
    const char *newhash = NULL;
    PGresult *u = NULL, *res = NULL;
    int rc;

    if ((rc = ms_http_json(req, &body)) < 0 || (rc = user_parse_login(req, body, &in)) < 0)
        return rc;
    rc = ms_db_exec(req->ctx->db, req->arena, USER_FOR_LOGIN, (const char *[]){ in.email }, &u);
    if (rc < 0)
        return rc;
    if (rc == 0) {
        /* an unknown email costs the time of a wrong password */
        ms_password_burn(ms_config.bcrypt_cost);
        return ms_http_fail(req, MS_EAUTH, "Invalid credentials");
    }
    if (strcmp(PQgetvalue(u, 0, C_LOCKED), "t") == 0)
        return ms_http_fail(req, MS_EAUTH, "Account is temporarily locked");
    if (!ms_password_verify(in.password, PQgetvalue(u, 0, C_HASH)))
        return login_failed(req, PQgetvalue(u, 0, C_ID));
    /* Node's order: the status is checked after the password */
    if (strcmp(PQgetvalue(u, 0, C_STATUS), "active") != 0)
        return ms_http_fail(req, MS_EAUTH, "Account is not active");
    if (ms_password_cost(PQgetvalue(u, 0, C_HASH)) < ms_config.bcrypt_cost &&
        ms_password_hash(in.password, ms_config.bcrypt_cost, rehash, sizeof rehash) == MS_OK)
        newhash = rehash;
    if ((rc = user_tokens_prepare(&t, NULL)) < 0)
        return rc;
    rc = ms_db_exec(req->ctx->db, req->arena, USER_LOGIN_OK,
                    (const char *[]){ PQgetvalue(u, 0, C_ID), req->remote_addr, newhash,
                                      t.refresh_jti, t.family,
                                      ttl_text(req, ms_config.jwt_refresh_ttl_s) },
                    &res);
    if (rc < 0)
        return rc;
    if (rc != 1)
        return ms_http_fail(req, MS_EAUTH, "Invalid credentials");
    rc = user_tokens_sign(req, &t, PQgetvalue(u, 0, C_ID), PQgetvalue(u, 0, C_EMAIL),
                          PQgetvalue(u, 0, C_ROLE), strtoll(PQgetvalue(u, 0, C_TV), NULL, 10));
    if (rc < 0)
        return rc;
    user_state_publish(req->ctx->cache, PQgetvalue(u, 0, C_ID), PQgetvalue(u, 0, C_ROLE),
                       "active", strtoll(PQgetvalue(u, 0, C_TV), NULL, 10));
    user_cache_set(req->ctx->cache, PQgetvalue(u, 0, C_ID), PQgetvalue(res, 0, 0));
    ms_http_ok(req, 200, user_and_tokens(PQgetvalue(res, 0, 0), &t));
    return MS_OK;
}

/* Revoke a login family or token id, durably and in Redis, for secs. */
static int revoke(struct ms_req *req, const char *id, long secs)
{
    int rc = ms_db_exec(req->ctx->db, NULL, REVOKE, (const char *[]){ id, ttl_text(req, secs) },
                        NULL);

    if (rc < 0)
        return rc;
    rc = ms_auth_revoke(req->ctx->cache, id, ms_clock_now_ms() / 1000 + secs);
    return rc < 0 ? MS_EUNAVAIL : MS_OK;
}

int user_h_logout(struct ms_req *req)
{
    const struct ms_caller *c = &req->caller;
    long left = c->exp - (long)(ms_clock_now_ms() / 1000);
    int rc;

    /* the whole login: this access token and the refresh token issued with it */
    if (c->family[0])
        rc = revoke(req, c->family, ms_config.jwt_refresh_ttl_s);
    else
        rc = revoke(req, c->jti, left > 0 ? left : 1);
    if (rc < 0)
        return rc;
    ms_http_ok_msg(req, 200, NULL, "Logged out successfully");
    return MS_OK;
}

int user_h_me(struct ms_req *req)
{
    PGresult *res = NULL;
    int rc;

    /* the common case costs no database round trip */
    if (req->caller.extra) {
        ms_http_ok(req, 200, cJSON_CreateRaw(req->caller.extra));
        return MS_OK;
    }
    rc = ms_db_exec(req->ctx->db, req->arena, USER_ME, (const char *[]){ req->caller.user_id },
                    &res);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return ms_http_fail(req, MS_EAUTH, "User not found");
    user_cache_set(req->ctx->cache, req->caller.user_id, PQgetvalue(res, 0, 0));
    ms_http_ok(req, 200, cJSON_CreateRaw(PQgetvalue(res, 0, 0)));
    return MS_OK;
}

/* ---- refresh ---------------------------------------------------------------- */

struct refresh_ctx {
    struct ms_req *req;
    const struct ms_jwt_claims *cl;
    const char *key; /* jti, or the hash of a token without one */
    struct user_tokens t;
    char user_id[40], email[256], role[16];
    int64_t tv;
    int reused;
    char reused_family[40];
};

/* Spend the presented refresh token: its family, or reuse detected. */
static int refresh_spend(struct ms_db *db, struct refresh_ctx *c, char *family, size_t cap)
{
    PGresult *res = NULL;
    int rc;

    if (c->cl->jti[0])
        rc = ms_db_exec(db, NULL, REFRESH_SPEND, (const char *[]){ c->key }, &res);
    else
        rc = ms_db_exec(
            db, NULL, REFRESH_SPEND_LEGACY,
            (const char *[]){ c->key, c->cl->sub,
                              ms_arena_printf(c->req->arena, "%lld", (long long)c->cl->exp) },
            &res);
    if (rc == 1)
        snprintf(family, cap, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    if (rc != 0)
        return rc < 0 ? rc : MS_OK;
    rc = ms_db_exec(db, NULL, REFRESH_FIND, (const char *[]){ c->key }, &res);
    if (rc == 1) {
        c->reused = 1;
        snprintf(c->reused_family, sizeof c->reused_family, "%s", PQgetvalue(res, 0, 0));
    }
    PQclear(res);
    if (rc < 0)
        return rc;
    return ms_http_fail(c->req, MS_EAUTH, "Invalid refresh token");
}

static int refresh_tx(struct ms_db *db, void *p)
{
    enum { C_EMAIL, C_ROLE, C_STATUS, C_DELETED, C_TV, C_REVOKED };
    struct refresh_ctx *c = p;
    char family[40] = "";
    PGresult *u = NULL;
    int rc;

    c->reused = 0;
    if ((rc = refresh_spend(db, c, family, sizeof family)) < 0)
        return rc;
    rc = ms_db_exec(db, NULL, REFRESH_USER, (const char *[]){ c->cl->sub, family }, &u);
    if (rc < 0)
        return rc;
    rc = MS_OK;
    if (PQntuples(u) != 1 || strcmp(PQgetvalue(u, 0, C_DELETED), "t") == 0)
        rc = ms_http_fail(c->req, MS_EAUTH, "User not found");
    else if (strcmp(PQgetvalue(u, 0, C_REVOKED), "t") == 0 ||
             c->cl->tv < strtoll(PQgetvalue(u, 0, C_TV), NULL, 10))
        rc = ms_http_fail(c->req, MS_EAUTH, "Token has been revoked");
    else if (strcmp(PQgetvalue(u, 0, C_STATUS), "active") != 0)
        rc = ms_http_fail(c->req, MS_EAUTH, "Account is not active");
    if (rc == MS_OK) {
        snprintf(c->user_id, sizeof c->user_id, "%s", c->cl->sub);
        snprintf(c->email, sizeof c->email, "%s", PQgetvalue(u, 0, C_EMAIL));
        snprintf(c->role, sizeof c->role, "%s", PQgetvalue(u, 0, C_ROLE));
        c->tv = strtoll(PQgetvalue(u, 0, C_TV), NULL, 10);
    }
    PQclear(u);
    if (rc < 0)
        return rc;
    if ((rc = user_tokens_prepare(&c->t, family)) < 0)
        return rc;
    rc = ms_db_exec(db, NULL, REFRESH_ISSUE,
                    (const char *[]){ c->t.refresh_jti, family, c->user_id,
                                      ttl_text(c->req, ms_config.jwt_refresh_ttl_s) },
                    NULL);
    return rc < 0 ? rc : MS_OK;
}

static int refresh_with_token(struct ms_req *req, const char *token)
{
    struct ms_jwt_claims cl;
    struct refresh_ctx c;
    const char *why = NULL;
    char hash[72];
    int rc;

    if (ms_jwt_verify(token, MS_JWT_REFRESH, ms_clock_now_ms() / 1000, &cl, &why) < 0) {
        req->err_msg = why ? why : "Invalid refresh token";
        return MS_EAUTH;
    }
    memset(&c, 0, sizeof c);
    c.req = req;
    c.cl = &cl;
    if (cl.jti[0]) {
        c.key = cl.jti;
    } else {
        ms_jwt_token_hash(token, hash, sizeof hash);
        c.key = hash;
    }
    rc = ms_db_tx(req->ctx->db, refresh_tx, &c);
    if (c.reused) {
        /* a spent token came back: someone holds a copy; end that whole login */
        ms_log(MS_LOG_WARN, "refresh token reuse detected; revoking its login");
        if (c.reused_family[0] && revoke(req, c.reused_family, ms_config.jwt_refresh_ttl_s) < 0)
            return MS_EUNAVAIL;
        return ms_http_fail(req, MS_EAUTH, "Invalid refresh token");
    }
    if (rc < 0)
        return rc;
    if ((rc = user_tokens_sign(req, &c.t, c.user_id, c.email, c.role, c.tv)) < 0)
        return rc;
    ms_http_ok(req, 200, user_tokens_json(&c.t));
    return MS_OK;
}

/* Node behaviour: a valid access token and no refresh token mints a new pair
 * in the same login. */
static int refresh_with_access(struct ms_req *req)
{
    struct user_tokens t;
    PGresult *res = NULL;
    int rc;

    if ((rc = ms_auth_authenticate(req)) < 0)
        return rc;
    if ((rc = user_tokens_prepare(&t, req->caller.family[0] ? req->caller.family : NULL)) < 0)
        return rc;
    rc = ms_db_exec(req->ctx->db, req->arena, USER_STATE,
                    (const char *[]){ req->caller.user_id }, &res);
    if (rc < 0)
        return rc;
    if (rc != 1)
        return ms_http_fail(req, MS_EAUTH, "User not found");
    rc = ms_db_exec(req->ctx->db, NULL, REFRESH_ISSUE,
                    (const char *[]){ t.refresh_jti, t.family, req->caller.user_id,
                                      ttl_text(req, ms_config.jwt_refresh_ttl_s) },
                    NULL);
    if (rc < 0)
        return rc;
    rc = user_tokens_sign(req, &t, req->caller.user_id, req->caller.email, req->caller.role_name,
                          strtoll(PQgetvalue(res, 0, 2), NULL, 10));
    if (rc < 0)
        return rc;
    ms_http_ok(req, 200, user_tokens_json(&t));
    return MS_OK;
}

int user_h_refresh(struct ms_req *req)
{
    const cJSON *body;
    const char *token;
    enum ms_json_kind k;
    int rc;

    if ((rc = ms_http_json(req, &body)) < 0)
        return rc;
    k = ms_json_str(body, "refreshToken", &token);
    if (k == MS_JSON_WRONG || (k == MS_JSON_OK && !*token)) {
        ms_http_verr(req, "refreshToken", "Refresh token must be a non-empty string", NULL);
        return MS_EINVALID;
    }
    if (k == MS_JSON_OK)
        return refresh_with_token(req, token);
    return refresh_with_access(req);
}
