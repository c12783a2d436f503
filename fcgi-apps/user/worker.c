/* user-worker: relays the user service's outbox to events:user and keeps the
 * users' state in Redis whole (rebuilt when Redis comes back empty, refreshed
 * after every event that changes it). */
#include "fcgi-apps/user/user.h"

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "fcgi-apps/user/sql.h"
#include "lib/auth.h"
#include "lib/daemon.h"
#include "lib/db.h"
#include "lib/log.h"
#include "lib/outbox.h"
#include "lib/banned.h"

/* After user.password_changed / user.deleted / user.updated: make sure Redis
 * holds the state PostgreSQL has, even if the request's own write failed. */
static void refresh_state(const struct ms_outbox_event *ev, void *ctx)
{
    struct ms_ctx *d = ctx;
    cJSON *data = cJSON_Parse(ev->data);
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(data, "user_id");
    PGresult *res = NULL;

    if (cJSON_IsString(id) &&
        ms_db_exec(d->db, NULL, USER_STATE, (const char *[]){ id->valuestring }, &res) == 1)
        user_state_publish(d->cache, id->valuestring, PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1),
                           strtoll(PQgetvalue(res, 0, 2), NULL, 10));
    if (cJSON_IsString(id) && strcmp(ev->type, "user.registered") != 0)
        user_cache_drop(d->cache, id->valuestring);
    PQclear(res);
    cJSON_Delete(data);
}

static int tick(struct ms_ctx *d, void *ctx)
{
    int published = 0, rc;

    (void)ctx;
    rc = user_state_rebuild_if_needed(d->db, d->cache);
    if (rc < 0)
        return rc;
    rc = ms_outbox_relay_once(d->db, d->cache, "user-service", &published, refresh_state, d);
    if (rc < 0)
        return rc;
    return published;
}

int main(void)
{
    return ms_daemon_main(&user_service, tick, NULL);
}
