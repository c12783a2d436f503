/* The token pair of a login: access (JWT_SECRET or key pair) and refresh
 * (JWT_REFRESH_SECRET), sharing the login's family id. */
#include "fcgi-apps/user/user.h"

#include <stdio.h>
#include <string.h>

#include "lib/clock.h"
#include "lib/config.h"
#include "lib/err.h"
#include "lib/http.h"
#include "lib/jwt.h"
#include "lib/banned.h"

int user_tokens_prepare(struct user_tokens *t, const char *family)
{
    memset(t, 0, sizeof *t);
    if (ms_jwt_uuid(t->access_jti, sizeof t->access_jti) < 0 ||
        ms_jwt_uuid(t->refresh_jti, sizeof t->refresh_jti) < 0)
        return MS_EINTERNAL;
    if (family && *family) {
        snprintf(t->family, sizeof t->family, "%s", family);
        return MS_OK;
    }
    return ms_jwt_uuid(t->family, sizeof t->family);
}

int user_tokens_sign(struct ms_req *req, struct user_tokens *t, const char *user_id,
                     const char *email, const char *role, int64_t tv)
{
    struct ms_jwt_claims c;
    int64_t now = ms_clock_now_ms() / 1000;

    memset(&c, 0, sizeof c);
    snprintf(c.sub, sizeof c.sub, "%s", user_id);
    snprintf(c.email, sizeof c.email, "%s", email);
    snprintf(c.role, sizeof c.role, "%s", role);
    snprintf(c.jti, sizeof c.jti, "%s", t->access_jti);
    snprintf(c.fam, sizeof c.fam, "%s", t->family);
    c.iat = now;
    c.exp = now + ms_config.jwt_access_ttl_s;
    c.tv = tv;
    c.kind = MS_JWT_ACCESS;
    if (ms_jwt_sign(req->arena, &c, &t->access) < 0)
        return MS_EINTERNAL;
    c.email[0] = c.role[0] = '\0';
    snprintf(c.jti, sizeof c.jti, "%s", t->refresh_jti);
    c.exp = now + ms_config.jwt_refresh_ttl_s;
    c.kind = MS_JWT_REFRESH;
    return ms_jwt_sign(req->arena, &c, &t->refresh) < 0 ? MS_EINTERNAL : MS_OK;
}

cJSON *user_tokens_json(const struct user_tokens *t)
{
    cJSON *o = cJSON_CreateObject();

    cJSON_AddStringToObject(o, "accessToken", t->access);
    cJSON_AddStringToObject(o, "refreshToken", t->refresh);
    cJSON_AddStringToObject(o, "tokenType", "Bearer");
    cJSON_AddNumberToObject(o, "expiresIn", (double)ms_config.jwt_access_ttl_s);
    return o;
}
