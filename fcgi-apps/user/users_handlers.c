/* /api/users: profile, password, admin listing, read and delete by id. */
#include "fcgi-apps/user/user.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fcgi-apps/user/sql.h"
#include "lib/arena.h"
#include "lib/buf.h"
#include "lib/config.h"
#include "lib/db.h"
#include "lib/http.h"
#include "lib/page.h"
#include "lib/json.h"
#include "lib/password.h"
#include "lib/router.h"
#include "lib/validate.h"
#include "lib/banned.h"

/* Answer with user id and their profile, or 404. */
static int send_user_with_profile(struct ms_req *req, const char *id)
{
    PGresult *res = NULL;
    int rc = ms_db_exec(req->ctx->db, req->arena, USER_WITH_PROFILE_BY_ID,
                        (const char *[]){ id }, &res);

    if (rc < 0)
        return rc;
    if (rc == 0)
        return ms_http_fail(req, MS_ENOTFOUND, "User not found");
    ms_http_ok(req, 200, cJSON_CreateRaw(PQgetvalue(res, 0, 0)));
    return MS_OK;
}

int user_h_profile_get(struct ms_req *req)
{
    return send_user_with_profile(req, req->caller.user_id);
}

/* The provided field names as a PostgreSQL text[] literal ("{name,bio}"). */
static const char *provided_array(struct ms_req *req, const struct user_profile_in *in)
{
    struct ms_buf b;
    int first = 1;

    ms_buf_init(&b, req->arena);
    ms_buf_addch(&b, '{');
    for (int i = 0; i < USER_PROFILE_NFIELDS; i++) {
        if (!in->present[i])
            continue;
        if (!first)
            ms_buf_addch(&b, ',');
        ms_buf_adds(&b, user_profile_fields[i]);
        first = 0;
    }
    ms_buf_addch(&b, '}');
    return b.buf;
}

int user_h_profile_put(struct ms_req *req)
{
    struct user_profile_in in;
    const char *params[2 + USER_PROFILE_NFIELDS];
    const cJSON *body;
    PGresult *res = NULL;
    int rc;

    if ((rc = ms_http_json(req, &body)) < 0 || (rc = user_parse_profile(req, body, &in)) < 0)
        return rc;
    params[0] = req->caller.user_id;
    params[1] = provided_array(req, &in);
    for (int i = 0; i < USER_PROFILE_NFIELDS; i++)
        params[2 + i] = in.values[i];
    /* one statement: user row, profile row and event commit together or not at all */
    rc = ms_db_exec(req->ctx->db, req->arena, USER_UPDATE_PROFILE, params, &res);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return ms_http_fail(req, MS_ENOTFOUND, "User not found");
    user_cache_drop(req->ctx->cache, req->caller.user_id);
    ms_http_ok_msg(req, 200, cJSON_CreateRaw(PQgetvalue(res, 0, 0)),
                   "Profile updated successfully");
    return MS_OK;
}

int user_h_password(struct ms_req *req)
{
    struct user_password_in in;
    const cJSON *body;
    char hash[MS_HASH_MAX];
    PGresult *res = NULL;
    int rc;

    if ((rc = ms_http_json(req, &body)) < 0 || (rc = user_parse_password(req, body, &in)) < 0)
        return rc;
    rc = ms_db_exec(req->ctx->db, req->arena, USER_PASSWORD_HASH,
                    (const char *[]){ req->caller.user_id }, &res);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return ms_http_fail(req, MS_EAUTH, "User not found");
    if (!ms_password_verify(in.current, PQgetvalue(res, 0, 0)))
        return ms_http_fail(req, MS_EAUTH, "Current password is incorrect");
    if ((rc = ms_password_hash(in.next, ms_config.bcrypt_cost, hash, sizeof hash)) < 0)
        return rc;
    rc = ms_db_exec(req->ctx->db, req->arena, USER_SET_PASSWORD,
                    (const char *[]){ req->caller.user_id, hash }, &res);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return ms_http_fail(req, MS_EAUTH, "User not found");
    /* tokens issued before this carry a lower token version: refused from now on */
    user_state_publish(req->ctx->cache, req->caller.user_id, PQgetvalue(res, 0, 0),
                       PQgetvalue(res, 0, 1), strtoll(PQgetvalue(res, 0, 2), NULL, 10));
    user_cache_drop(req->ctx->cache, req->caller.user_id);
    ms_http_ok_msg(req, 200, NULL, "Password changed successfully");
    return MS_OK;
}

int user_h_list(struct ms_req *req)
{
    static const char *const statuses[] = { "active", "inactive", "suspended", "pending", NULL };
    static const char *const roles[] = { "user", "moderator", "admin", NULL };
    const char *status = ms_http_query(req, "status"), *role = ms_http_query(req, "role");
    long page, limit;
    int rc;

    rc = ms_pagination(req, 10, &page, &limit);
    if (status && !ms_valid_enum(status, statuses))
        ms_http_verr(req, "status", "Status must be one of active, inactive, suspended, pending",
                     NULL);
    if (role && !ms_valid_enum(role, roles))
        ms_http_verr(req, "role", "Role must be one of user, moderator, admin", NULL);
    if (rc < 0 || ms_http_verr_count(req))
        return MS_EINVALID;
    return ms_page_answer(req, "users", USER_COUNT, USER_LIST, (const char *[]){ status, role },
                          2, page, limit);
}

int user_h_get(struct ms_req *req)
{
    const char *id;
    int rc;

    if ((rc = ms_http_path_uuid(req, "Invalid user ID", &id)) < 0)
        return rc;
    /* 403 before any lookup: whether the user exists is not the caller's business */
    if (strcmp(id, req->caller.user_id) != 0 && !(req->caller.role & MS_STAFF))
        return ms_http_fail(req, MS_EFORBID, "Insufficient permissions");
    return send_user_with_profile(req, id);
}

int user_h_delete(struct ms_req *req)
{
    struct user_account acct;
    const char *id;
    int rc;

    if ((rc = ms_http_path_uuid(req, "Invalid user ID", &id)) < 0)
        return rc;
    rc = user_account_delete(req->ctx->db, req->arena, id, &acct);
    if (rc == MS_ENOTFOUND)
        return ms_http_fail(req, MS_ENOTFOUND, "User not found");
    if (rc == MS_ECONFLICT)
        return ms_http_fail(req, MS_ECONFLICT, "Cannot delete the last admin");
    if (rc < 0)
        return rc;
    /* the user's tokens stop working on the next request, in every service */
    user_state_publish(req->ctx->cache, id, acct.role, "deleted", acct.tv);
    user_cache_drop(req->ctx->cache, id);
    ms_http_ok_msg(req, 200, NULL, "User deleted successfully");
    return MS_OK;
}
