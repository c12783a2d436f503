/* The user service's routes (SPEC §3 user) and its service description. */
#include "fcgi-apps/user/user.h"

#include "fcgi-apps/user/sql.h"
#include "lib/db.h"
#include "lib/err.h"
#include "lib/outbox.h"
#include "lib/router.h"
#include "lib/banned.h"

/* Order matters: /api/users/profile and /password before /api/users/:id. */
static const struct ms_route routes[] = {
    { "POST", "/api/auth/register", MS_PUBLIC, user_h_register },
    { "POST", "/api/auth/login", MS_PUBLIC, user_h_login },
    { "POST", "/api/auth/logout", MS_AUTH, user_h_logout },
    { "POST", "/api/auth/refresh", MS_PUBLIC, user_h_refresh },
    { "GET", "/api/auth/me", MS_AUTH, user_h_me },
    { "GET", "/api/users/profile", MS_AUTH, user_h_profile_get },
    { "PUT", "/api/users/profile", MS_AUTH, user_h_profile_put },
    { "PUT", "/api/users/password", MS_AUTH, user_h_password },
    { "GET", "/api/users", MS_ROLE_ADMIN, user_h_list },
    { "GET", "/api/users/:id", MS_AUTH, user_h_get },
    { "DELETE", "/api/users/:id", MS_ROLE_ADMIN, user_h_delete },
};

const struct ms_service user_service = {
    .name = "user",
    .routes = routes,
    .nroutes = sizeof routes / sizeof routes[0],
    .sql = user_sql,
    .nsql = user_sql_count,
    .flags = MS_SVC_SIGNS_TOKENS,
    .auth_state_miss = user_state_miss,
    .auth_extra_prefix = USER_CACHE_KEY,
    .outbox_stats = ms_outbox_ctx_stats,
};
