/* Changes of a user's role, status and deletion: the statements and the
 * last-admin rule that the API (DELETE /api/users/:id) and microshopctl
 * (set-role, set-status) share. No HTTP here: each returns a code, and the
 * caller words it (a 409 envelope, a line on stderr).
 *
 * The last-admin rule: a change that takes the admin role, the active status
 * or the account away from the last active admin is refused (MS_ECONFLICT)
 * unless forced. Every active admin row is locked first, in id order, then the
 * target: two such changes serialise instead of both seeing another admin. */
#include "fcgi-apps/user/user.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fcgi-apps/user/sql.h"
#include "lib/db.h"
#include "lib/err.h"
#include "lib/banned.h"

struct change {
    struct ms_arena *arena;
    const char *id, *email;  /* one of them names the target */
    const char *role;        /* new role or NULL */
    const char *status;      /* new status or NULL */
    int delete;              /* soft delete instead */
    int force;               /* lift the last-admin rule */
    struct user_account *out;
};

/* Lock every active admin, then the target; MS_ENOTFOUND, MS_ECONFLICT (the
 * rule), or MS_OK with the target's current values in c->out. */
static int lock_target(struct ms_db *db, struct change *c)
{
    PGresult *admins = NULL, *t = NULL;
    int nadmins, rc, was_admin, stays_admin;

    nadmins = ms_db_exec(db, c->arena, USER_ADMINS_LOCK, NULL, &admins);
    if (nadmins < 0)
        return nadmins;
    rc = c->id ? ms_db_exec(db, c->arena, USER_LOCK, (const char *[]){ c->id }, &t)
               : ms_db_exec(db, c->arena, USER_LOCK_BY_EMAIL, (const char *[]){ c->email }, &t);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return MS_ENOTFOUND;
    snprintf(c->out->id, sizeof c->out->id, "%s", PQgetvalue(t, 0, 0));
    snprintf(c->out->email, sizeof c->out->email, "%s", PQgetvalue(t, 0, 1));
    was_admin = strcmp(PQgetvalue(t, 0, 2), "admin") == 0 &&
                strcmp(PQgetvalue(t, 0, 3), "active") == 0;
    stays_admin = !c->delete && strcmp(c->role ? c->role : PQgetvalue(t, 0, 2), "admin") == 0 &&
                  strcmp(c->status ? c->status : PQgetvalue(t, 0, 3), "active") == 0;
    if (was_admin && !stays_admin && nadmins <= 1 && !c->force)
        return MS_ECONFLICT;
    return MS_OK;
}

static int change_tx(struct ms_db *db, void *p)
{
    struct change *c = p;
    PGresult *res = NULL;
    int rc = lock_target(db, c);

    if (rc < 0)
        return rc;
    if (c->delete) {
        rc = ms_db_exec(db, c->arena, USER_SOFT_DELETE, (const char *[]){ c->out->id }, &res);
        if (rc == 1) {
            snprintf(c->out->role, sizeof c->out->role, "%s", PQgetvalue(res, 0, 0));
            snprintf(c->out->status, sizeof c->out->status, "deleted");
            c->out->tv = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
        }
    } else {
        rc = ms_db_exec(db, c->arena, USER_SET_ACCOUNT,
                        (const char *[]){ c->out->id, c->role, c->status }, &res);
        if (rc == 1) {
            snprintf(c->out->role, sizeof c->out->role, "%s", PQgetvalue(res, 0, 0));
            snprintf(c->out->status, sizeof c->out->status, "%s", PQgetvalue(res, 0, 1));
            c->out->tv = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
        }
    }
    if (rc < 0)
        return rc;
    return rc == 1 ? MS_OK : MS_ENOTFOUND;
}

int user_account_set(struct ms_db *db, struct ms_arena *arena, const char *email,
                     const char *role, const char *status, int force, struct user_account *out)
{
    struct change c = { .arena = arena, .email = email, .role = role, .status = status,
                        .force = force, .out = out };

    memset(out, 0, sizeof *out);
    return ms_db_tx(db, change_tx, &c);
}

int user_account_delete(struct ms_db *db, struct ms_arena *arena, const char *id,
                        struct user_account *out)
{
    struct change c = { .arena = arena, .id = id, .delete = 1, .out = out };

    memset(out, 0, sizeof *out);
    return ms_db_tx(db, change_tx, &c);
}
