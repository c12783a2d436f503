/* Warehouses, per-warehouse inventory, adjustments with their ledger row in
 * the same transaction, and the ledger itself. */
#include "fcgi-apps/product/product.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "fcgi-apps/product/sql.h"
#include "lib/arena.h"
#include "lib/db.h"
#include "lib/http.h"
#include "lib/json.h"
#include "lib/page.h"
#include "lib/validate.h"
#include "lib/utf8.h"
#include "lib/banned.h"

#define DELTA_MAX 1000000000

static int valid_code(const char *s)
{
    size_t n = strlen(s);

    if (n < 1 || n > 32)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || *s == '-'))
            return 0;
    return 1;
}

int product_h_warehouses(struct ms_req *req)
{
    long page, limit;
    int rc;

    if ((rc = ms_pagination(req, 10, &page, &limit)) < 0)
        return rc;
    return ms_page_answer(req, "warehouses", WAREHOUSE_COUNT, WAREHOUSE_LIST, NULL, 0, page,
                          limit);
}

int product_h_warehouse_create(struct ms_req *req)
{
    const char *code, *name;
    const cJSON *body;
    PGresult *res = NULL;
    int rc;

    if ((rc = ms_http_json(req, &body)) < 0)
        return rc;
    if (ms_json_str(body, "code", &code) != MS_JSON_OK || !valid_code(code))
        ms_http_verr(req, "code", "Code must be 1-32 characters of A-Z a-z 0-9 _ -",
                     ms_json_item(body, "code"));
    if (ms_json_str(body, "name", &name) != MS_JSON_OK || ms_utf8_len(name) < 1 ||
        ms_utf8_len(name) > 255)
        ms_http_verr(req, "name", "Name must be between 1 and 255 characters",
                     ms_json_item(body, "name"));
    if (ms_http_verr_count(req))
        return MS_EINVALID;
    rc = ms_db_exec(req->ctx->db, req->arena, WAREHOUSE_INSERT, (const char *[]){ code, name },
                    &res);
    if (rc == MS_ECONFLICT)
        return ms_http_fail(req, MS_ECONFLICT, "Warehouse code already exists");
    if (rc < 0)
        return rc;
    ms_http_ok(req, 201, cJSON_CreateRaw(PQgetvalue(res, 0, 0)));
    return MS_OK;
}

int product_h_inventory(struct ms_req *req)
{
    PGresult *res = NULL;
    const char *id;
    cJSON *data;
    int rc;

    if ((rc = ms_http_path_uuid(req, "Invalid product ID", &id)) < 0)
        return rc;
    rc = ms_db_exec(req->ctx->db, NULL, PRODUCT_EXISTS, (const char *[]){ id }, NULL);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return ms_http_fail(req, MS_ENOTFOUND, "Product not found");
    rc =
        ms_db_exec(req->ctx->db, req->arena, INVENTORY_OF_PRODUCT, (const char *[]){ id }, &res);
    if (rc < 0)
        return rc;
    data = cJSON_CreateObject();
    cJSON_AddStringToObject(data, "product_id", id);
    cJSON_AddItemToObject(data, "inventory", cJSON_CreateRaw(PQgetvalue(res, 0, 0)));
    ms_http_ok(req, 200, data);
    return MS_OK;
}

/* A body reference (product_id / warehouse_id) that must name an existing row. */
static void check_ref(struct ms_req *req, const cJSON *body, const char *field, int stmt,
                      const char *id, const char *missing, int *rc)
{
    int found;

    if (!id)
        return;
    found = ms_db_exec(req->ctx->db, NULL, stmt, (const char *[]){ id }, NULL);
    if (found < 0)
        *rc = found;
    else if (found == 0)
        ms_http_verr(req, field, missing, ms_json_item(body, field));
}

int product_h_adjust(struct ms_req *req)
{
    struct product_stock_change c = { .actor_id = req->caller.user_id[0] ? req->caller.user_id
                                                                          : NULL };
    const cJSON *body, *delta;
    cJSON *data;
    int rc;

    if ((rc = ms_http_json(req, &body)) < 0)
        return rc;
    if (ms_json_str(body, "product_id", &c.product_id) != MS_JSON_OK ||
        !ms_valid_uuid(c.product_id)) {
        ms_http_verr(req, "product_id", "Product not found", ms_json_item(body, "product_id"));
        c.product_id = NULL;
    } else {
        c.product_id = ms_http_uuid_lower(req, c.product_id);
    }
    if (ms_json_str(body, "warehouse_id", &c.warehouse_id) != MS_JSON_OK ||
        !ms_valid_uuid(c.warehouse_id)) {
        ms_http_verr(req, "warehouse_id", "Warehouse not found",
                     ms_json_item(body, "warehouse_id"));
        c.warehouse_id = NULL;
    }
    delta = ms_json_item(body, "delta");
    if (!cJSON_IsNumber(delta) || delta->valuedouble != (double)(long)delta->valuedouble ||
        delta->valuedouble == 0 || delta->valuedouble > DELTA_MAX ||
        delta->valuedouble < -DELTA_MAX)
        ms_http_verr(req, "delta", "Delta must be a non-zero integer", delta);
    else
        c.delta = (long)delta->valuedouble;
    if (ms_json_str(body, "reason", &c.reason) != MS_JSON_OK || ms_utf8_len(c.reason) < 1 ||
        ms_utf8_len(c.reason) > 255)
        ms_http_verr(req, "reason", "Reason must be between 1 and 255 characters",
                     ms_json_item(body, "reason"));
    rc = MS_OK;
    check_ref(req, body, "product_id", PRODUCT_EXISTS, c.product_id, "Product not found", &rc);
    check_ref(req, body, "warehouse_id", WAREHOUSE_EXISTS, c.warehouse_id, "Warehouse not found",
              &rc);
    if (rc < 0)
        return rc;
    if (ms_http_verr_count(req))
        return MS_EINVALID;
    rc = product_stock_adjust(req->ctx, &c);
    if (rc == MS_EINVALID && !ms_http_verr_count(req)) {
        /* 22003: the quantity or the product's total would leave the integer range */
        ms_http_verr(req, "delta", "Delta would take the stock out of range", delta);
        return MS_EINVALID;
    }
    if (rc < 0)
        return rc;
    product_cache_drop(req->ctx->cache, c.product_id);
    data = cJSON_CreateObject();
    cJSON_AddStringToObject(data, "product_id", c.product_id);
    cJSON_AddStringToObject(data, "warehouse_id", c.warehouse_id);
    cJSON_AddNumberToObject(data, "delta", (double)c.delta);
    cJSON_AddNumberToObject(data, "quantity", (double)c.quantity);
    cJSON_AddNumberToObject(data, "reserved", (double)c.reserved);
    cJSON_AddNumberToObject(data, "available", (double)(c.quantity - c.reserved));
    cJSON_AddNumberToObject(data, "stock", (double)c.stock);
    ms_http_ok(req, 200, data);
    return MS_OK;
}

int product_h_movements(struct ms_req *req)
{
    const char *product = ms_http_query(req, "product_id");
    long page, limit;
    int rc;

    rc = ms_pagination(req, 10, &page, &limit);
    if (product && !ms_valid_uuid(product)) {
        cJSON *v = cJSON_CreateString(product);

        ms_http_verr(req, "product_id", "Invalid product ID", v);
        cJSON_Delete(v);
    }
    if (rc < 0 || ms_http_verr_count(req))
        return MS_EINVALID;
    return ms_page_answer(req, "movements", MOVEMENT_COUNT, MOVEMENT_LIST,
                          (const char *[]){ product }, 1, page, limit);
}
