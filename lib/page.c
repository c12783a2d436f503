/* Paginated list answers (lib/page.h). */
#include "lib/page.h"

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "lib/arena.h"
#include "lib/ctx.h"
#include "lib/db.h"
#include "lib/err.h"
#include "lib/http.h"
#include "lib/validate.h"
#include "lib/banned.h"

#define PAGE_MAX_PARAMS 16

void ms_page_ok(struct ms_req *req, const char *key, const PGresult *list, long total, long page,
                long limit)
{
    cJSON *items = cJSON_CreateArray(), *data = cJSON_CreateObject();

    for (int i = 0; i < PQntuples(list); i++)
        cJSON_AddItemToArray(items, cJSON_CreateRaw(PQgetvalue(list, i, 0)));
    cJSON_AddItemToObject(data, key, items);
    cJSON_AddItemToObject(data, "pagination", ms_pagination_json(total, page, limit));
    ms_http_ok(req, 200, data);
}

int ms_page_answer(struct ms_req *req, const char *key, int count_stmt, int list_stmt,
                   const char *const *params, int nparams, long page, long limit)
{
    const char *p[PAGE_MAX_PARAMS + 2];
    PGresult *count = NULL, *rows = NULL;
    int rc;

    if (nparams < 0 || nparams > PAGE_MAX_PARAMS)
        return MS_EINTERNAL;
    if (nparams)
        memcpy(p, params, (size_t)nparams * sizeof p[0]);
    p[nparams] = ms_arena_printf(req->arena, "%ld", limit);
    p[nparams + 1] = ms_arena_printf(req->arena, "%ld", (page - 1) * limit);
    if ((rc = ms_db_exec(req->ctx->db, req->arena, count_stmt, p, &count)) < 0)
        return rc;
    if ((rc = ms_db_exec(req->ctx->db, req->arena, list_stmt, p, &rows)) < 0)
        return rc;
    ms_page_ok(req, key, rows, strtol(PQgetvalue(count, 0, 0), NULL, 10), page, limit);
    return MS_OK;
}
