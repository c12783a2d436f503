/* /api/products: the public listing, a product (served from Redis when
 * cached), and the admin writes, each dropping the cached copy. */
#include "fcgi-apps/product/product.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "fcgi-apps/product/sql.h"
#include "lib/arena.h"
#include "lib/cache.h"
#include "lib/config.h"
#include "lib/db.h"
#include "lib/http.h"
#include "lib/json.h"
#include "lib/page.h"
#include "lib/money.h"
#include "lib/validate.h"
#include "lib/utf8.h"
#include "lib/banned.h"

/* Record an invalid query parameter (its value echoed). */
static void bad_query(struct ms_req *req, const char *name, const char *value, const char *msg)
{
    cJSON *v = cJSON_CreateString(value);

    ms_http_verr(req, name, msg, v);
    cJSON_Delete(v);
}

static int parse_filter(struct ms_req *req, struct product_filter *f)
{
    const char *category = ms_http_query(req, "category"), *sort = ms_http_query(req, "sort");
    const char *min = ms_http_query(req, "min_price"), *max = ms_http_query(req, "max_price");
    const char *in_stock = ms_http_query(req, "in_stock"), *search = ms_http_query(req, "search");
    long page, limit;
    int rc = ms_pagination(req, 10, &page, &limit);

    memset(f, 0, sizeof *f);
    f->limit = limit;
    f->offset = (page - 1) * limit;
    if (category && !ms_valid_uuid(category))
        bad_query(req, "category", category, "Invalid category ID");
    f->category = category && ms_valid_uuid(category) ? ms_http_uuid_lower(req, category) : NULL;
    if (search && *search && ms_utf8_valid(search, strlen(search)) && ms_utf8_len(search) <= 500)
        f->search = search;
    else if (search && *search)
        bad_query(req, "search", "", "Search must be at most 500 characters of UTF-8 text");
    if (min && ms_money_from_str(min, MS_MONEY_MAX_MINOR, &f->min_minor) < 0)
        bad_query(req, "min_price", min, "min_price must be a price with at most two decimals");
    f->has_min = min != NULL;
    if (max && ms_money_from_str(max, MS_MONEY_MAX_MINOR, &f->max_minor) < 0)
        bad_query(req, "max_price", max, "max_price must be a price with at most two decimals");
    f->has_max = max != NULL;
    if (in_stock && strcmp(in_stock, "true") != 0 && strcmp(in_stock, "false") != 0)
        bad_query(req, "in_stock", in_stock, "in_stock must be true or false");
    f->in_stock = in_stock && strcmp(in_stock, "true") == 0;
    if (sort && product_sort_parse(sort) < 0)
        bad_query(req, "sort", sort,
                  "sort must be one of price, -price, name, -name, created_at, -created_at");
    f->sort = sort ? (enum product_sort)product_sort_parse(sort) : PRODUCT_SORT_DEFAULT;
    if ((int)f->sort < 0)
        f->sort = PRODUCT_SORT_DEFAULT;
    return rc < 0 || ms_http_verr_count(req) ? MS_EINVALID : MS_OK;
}

int product_h_list(struct ms_req *req)
{
    struct product_filter f;
    struct product_query q;
    PGresult *count = NULL, *rows = NULL;
    long page;
    int rc, n;

    if ((rc = parse_filter(req, &f)) < 0)
        return rc;
    page = f.offset / f.limit + 1;
    product_query_build(req->arena, &f, &q);
    rc = ms_db_exec_sql(req->ctx->db, req->arena, q.count.buf, q.ncount, q.params, &count);
    if (rc < 0)
        return rc;
    n = ms_db_exec_sql(req->ctx->db, req->arena, q.list.buf, q.nparams, q.params, &rows);
    if (n < 0)
        return n;
    ms_page_ok(req, "products", rows, strtol(PQgetvalue(count, 0, 0), NULL, 10), page, f.limit);
    return MS_OK;
}

int product_h_get(struct ms_req *req)
{
    PGresult *res = NULL;
    const char *id, *hit;
    char key[80];
    int rc;

    if ((rc = ms_http_path_uuid(req, "Invalid product ID", &id)) < 0)
        return rc;
    snprintf(key, sizeof key, "ms:product:%s", id);
    /* Redis down is not an error here: the database answers */
    if ((hit = ms_cache_get_text(req->ctx->cache, req->arena, key)) != NULL) {
        ms_http_ok(req, 200, cJSON_CreateRaw(hit));
        return MS_OK;
    }
    rc = ms_db_exec(req->ctx->db, req->arena, PRODUCT_GET, (const char *[]){ id }, &res);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return ms_http_fail(req, MS_ENOTFOUND, "Product not found");
    ms_cache_put_text(req->ctx->cache, key, PQgetvalue(res, 0, 0), ms_config.cache_ttl_s);
    ms_http_ok(req, 200, cJSON_CreateRaw(PQgetvalue(res, 0, 0)));
    return MS_OK;
}

struct product_in {
    const char *sku, *name, *description, *category_id, *status;
    char price[24];
    int has[6]; /* sku name description price category_id status */
};

static int valid_sku(const char *s)
{
    size_t n = strlen(s);

    if (n < 1 || n > 64)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
              *s == '.' || *s == '_' || *s == '-'))
            return 0;
    return 1;
}

static void parse_price(struct ms_req *req, const cJSON *body, struct product_in *in, int create)
{
    const cJSON *v = ms_json_item(body, "price");
    int64_t minor;

    in->has[3] = v != NULL;
    if (!v && !create)
        return;
    if (ms_money_from_json(v, MS_MONEY_MAX_MINOR, &minor) < 0) {
        ms_http_verr(req, "price",
                     "Price must be a number from 0 to 999999999.99 with at most two decimals", v);
        return;
    }
    snprintf(in->price, sizeof in->price, "%" PRId64, minor);
}

/* Validate a create (create=1: sku, name, price required) or partial update. */
static int parse_product(struct ms_req *req, const cJSON *body, int create, struct product_in *in)
{
    static const char *const statuses[] = { "active", "archived", NULL };
    enum ms_json_kind k;

    memset(in, 0, sizeof *in);
    k = ms_json_str(body, "sku", &in->sku);
    if ((in->has[0] = k != MS_JSON_ABSENT || create) && (k != MS_JSON_OK || !valid_sku(in->sku)))
        ms_http_verr(req, "sku", "SKU must be 1-64 characters of A-Z a-z 0-9 . _ -",
                     ms_json_item(body, "sku"));
    k = ms_json_str(body, "name", &in->name);
    if ((in->has[1] = k != MS_JSON_ABSENT || create) &&
        (k != MS_JSON_OK || ms_utf8_len(in->name) < 1 || ms_utf8_len(in->name) > 255))
        ms_http_verr(req, "name", "Name must be between 1 and 255 characters",
                     ms_json_item(body, "name"));
    k = ms_json_str(body, "description", &in->description);
    in->has[2] = k != MS_JSON_ABSENT;
    if (k == MS_JSON_WRONG || (k == MS_JSON_OK && ms_utf8_len(in->description) > 10000))
        ms_http_verr(req, "description", "Description must be at most 10000 characters", NULL);
    parse_price(req, body, in, create);
    k = ms_json_str(body, "category_id", &in->category_id);
    in->has[4] = k != MS_JSON_ABSENT;
    if (k == MS_JSON_WRONG || (k == MS_JSON_OK && !ms_valid_uuid(in->category_id)))
        ms_http_verr(req, "category_id", "Category not found", ms_json_item(body, "category_id"));
    k = ms_json_str(body, "status", &in->status);
    in->has[5] = k != MS_JSON_ABSENT && !create;
    if (!create && k != MS_JSON_ABSENT && (k != MS_JSON_OK || !ms_valid_enum(in->status, statuses)))
        ms_http_verr(req, "status", "Status must be active or archived",
                     ms_json_item(body, "status"));
    return ms_http_verr_count(req) ? MS_EINVALID : MS_OK;
}

static int check_category(struct ms_req *req, const char *category_id)
{
    int rc;
    cJSON *v;

    if (!category_id)
        return MS_OK;
    rc = ms_db_exec(req->ctx->db, NULL, CATEGORY_EXISTS, (const char *[]){ category_id }, NULL);
    if (rc != 0)
        return rc < 0 ? rc : MS_OK;
    v = cJSON_CreateString(category_id);
    ms_http_verr(req, "category_id", "Category not found", v);
    cJSON_Delete(v);
    return MS_EINVALID;
}

int product_h_create(struct ms_req *req)
{
    struct product_in in;
    const cJSON *body;
    PGresult *res = NULL;
    int rc;

    if ((rc = ms_http_json(req, &body)) < 0 || (rc = parse_product(req, body, 1, &in)) < 0 ||
        (rc = check_category(req, in.category_id)) < 0)
        return rc;
    rc = ms_db_exec(req->ctx->db, req->arena, PRODUCT_INSERT,
                    (const char *[]){ in.sku, in.name, in.description, in.price, in.category_id,
                                      ms_config.currency },
                    &res);
    if (rc == MS_ECONFLICT)
        return ms_http_fail(req, MS_ECONFLICT, "SKU already exists");
    if (rc < 0)
        return rc;
    ms_http_ok(req, 201, cJSON_CreateRaw(PQgetvalue(res, 0, 0)));
    return MS_OK;
}

int product_h_update(struct ms_req *req)
{
    static const char *const names[] = { "sku",   "name",        "description",
                                         "price", "category_id", "status" };
    struct product_in in;
    struct ms_buf provided;
    const cJSON *body;
    PGresult *res = NULL;
    const char *id;
    int rc;

    if ((rc = ms_http_path_uuid(req, "Invalid product ID", &id)) < 0 ||
        (rc = ms_http_json(req, &body)) < 0 || (rc = parse_product(req, body, 0, &in)) < 0 ||
        (rc = check_category(req, in.category_id)) < 0)
        return rc;
    ms_buf_init(&provided, req->arena);
    ms_buf_addch(&provided, '{');
    for (int i = 0; i < 6; i++)
        if (in.has[i])
            ms_buf_addf(&provided, "%s%s", provided.len > 1 ? "," : "", names[i]);
    ms_buf_addch(&provided, '}');
    rc = ms_db_exec(req->ctx->db, req->arena, PRODUCT_UPDATE,
                    (const char *[]){ id, provided.buf, in.sku, in.name, in.description,
                                      in.has[3] ? in.price : NULL, in.category_id, in.status },
                    &res);
    if (rc == MS_ECONFLICT)
        return ms_http_fail(req, MS_ECONFLICT, "SKU already exists");
    if (rc < 0)
        return rc;
    if (rc == 0)
        return ms_http_fail(req, MS_ENOTFOUND, "Product not found");
    product_cache_drop(req->ctx->cache, id);
    ms_http_ok(req, 200, cJSON_CreateRaw(PQgetvalue(res, 0, 0)));
    return MS_OK;
}

int product_h_delete(struct ms_req *req)
{
    PGresult *res = NULL;
    const char *id;
    int rc;

    if ((rc = ms_http_path_uuid(req, "Invalid product ID", &id)) < 0)
        return rc;
    rc = ms_db_exec(req->ctx->db, req->arena, PRODUCT_ARCHIVE, (const char *[]){ id }, &res);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return ms_http_fail(req, MS_ENOTFOUND, "Product not found");
    product_cache_drop(req->ctx->cache, id);
    ms_http_ok_msg(req, 200, cJSON_CreateRaw(PQgetvalue(res, 0, 0)), "Product archived");
    return MS_OK;
}
