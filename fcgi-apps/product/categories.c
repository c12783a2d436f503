/* /api/categories: flat list or tree (cached), create, update (no cycles),
 * delete (not while children or products hang on it). */
#include "fcgi-apps/product/product.h"

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
#include "lib/validate.h"
#include "lib/utf8.h"
#include "lib/banned.h"

#define KEY_FLAT "ms:categories:flat"
#define KEY_TREE "ms:categories:tree"

static const char *parent_of(const struct category_edge *edges, size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(edges[i].id, id) == 0)
            return edges[i].parent_id;
    return NULL;
}

int category_would_cycle(const struct category_edge *edges, size_t n, const char *id,
                         const char *new_parent)
{
    const char *at = new_parent;

    /* walk up from the new parent; meeting id means id would be its own
     * ancestor. At most n steps: the existing tree has no cycle. */
    for (size_t steps = 0; at && steps <= n; steps++) {
        if (strcmp(at, id) == 0)
            return 1;
        at = parent_of(edges, n, at);
    }
    return 0;
}

/* Nest the flat array (objects with id/parent_id) into roots with children. */
static cJSON *make_tree(const cJSON *flat)
{
    cJSON *roots = cJSON_CreateArray(), *item;
    int n = cJSON_GetArraySize(flat);
    cJSON **nodes = calloc((size_t)(n ? n : 1), sizeof *nodes);

    if (!nodes)
        return roots;
    for (int i = 0; i < n; i++) {
        nodes[i] = cJSON_Duplicate(cJSON_GetArrayItem(flat, i), 1);
        cJSON_AddItemToObject(nodes[i], "children", cJSON_CreateArray());
    }
    for (int i = 0; i < n; i++) {
        const cJSON *pid = cJSON_GetObjectItemCaseSensitive(nodes[i], "parent_id");
        cJSON *parent = NULL;

        for (int j = 0; cJSON_IsString(pid) && j < n && !parent; j++) {
            item = cJSON_GetObjectItemCaseSensitive(nodes[j], "id");
            if (j != i && cJSON_IsString(item) && strcmp(item->valuestring, pid->valuestring) == 0)
                parent = nodes[j];
        }
        cJSON_AddItemToArray(parent ? cJSON_GetObjectItemCaseSensitive(parent, "children") : roots,
                             nodes[i]);
    }
    free(nodes);
    return roots;
}

int product_h_categories(struct ms_req *req)
{
    const char *tree = ms_http_query(req, "tree");
    int want_tree = tree && strcmp(tree, "true") == 0;
    const char *key = want_tree ? KEY_TREE : KEY_FLAT;
    const char *hit;
    PGresult *res = NULL;
    cJSON *flat, *data;
    char *text;
    int rc;

    if (tree && !want_tree && strcmp(tree, "false") != 0) {
        ms_http_verr(req, "tree", "tree must be true or false", NULL);
        return MS_EINVALID;
    }
    if ((hit = ms_cache_get_text(req->ctx->cache, req->arena, key)) != NULL) {
        data = cJSON_CreateObject();
        cJSON_AddItemToObject(data, "categories", cJSON_CreateRaw(hit));
        ms_http_ok(req, 200, data);
        return MS_OK;
    }
    rc = ms_db_exec(req->ctx->db, req->arena, CATEGORY_LIST, NULL, &res);
    if (rc < 0)
        return rc;
    flat = cJSON_Parse(PQgetvalue(res, 0, 0));
    if (!flat)
        return MS_EINTERNAL;
    if (want_tree) {
        cJSON *nested = make_tree(flat);

        cJSON_Delete(flat);
        flat = nested;
    }
    text = cJSON_PrintUnformatted(flat);
    if (text) {
        ms_cache_put_text(req->ctx->cache, key, text, ms_config.cache_ttl_s);
        cJSON_free(text);
    }
    data = cJSON_CreateObject();
    cJSON_AddItemToObject(data, "categories", flat);
    ms_http_ok(req, 200, data);
    return MS_OK;
}

struct category_in {
    const char *name, *parent_id, *description;
    int has_name, has_parent, has_description;
};

/* Validate a create (all=1: name required) or partial update body. */
static int parse_category(struct ms_req *req, const cJSON *body, int create, struct category_in *in)
{
    enum ms_json_kind k;

    memset(in, 0, sizeof *in);
    k = ms_json_str(body, "name", &in->name);
    in->has_name = k != MS_JSON_ABSENT;
    if ((create || in->has_name) &&
        (k != MS_JSON_OK || ms_utf8_len(in->name) < 1 || ms_utf8_len(in->name) > 100))
        ms_http_verr(req, "name", "Name must be between 1 and 100 characters",
                     ms_json_item(body, "name"));
    k = ms_json_str(body, "parent_id", &in->parent_id);
    in->has_parent = k != MS_JSON_ABSENT;
    if (k == MS_JSON_WRONG || (k == MS_JSON_OK && !ms_valid_uuid(in->parent_id)))
        ms_http_verr(req, "parent_id", "Parent category not found",
                     ms_json_item(body, "parent_id"));
    k = ms_json_str(body, "description", &in->description);
    in->has_description = k != MS_JSON_ABSENT;
    if (k == MS_JSON_WRONG || (k == MS_JSON_OK && ms_utf8_len(in->description) > 10000))
        ms_http_verr(req, "description", "Description must be at most 10000 characters", NULL);
    return ms_http_verr_count(req) ? MS_EINVALID : MS_OK;
}

static int parent_exists(struct ms_req *req, struct ms_db *db, const char *parent)
{
    int rc = ms_db_exec(db, NULL, CATEGORY_EXISTS, (const char *[]){ parent }, NULL);

    if (rc == 0) {
        cJSON *v = cJSON_CreateString(parent);

        ms_http_verr(req, "parent_id", "Parent category not found", v);
        cJSON_Delete(v);
        return MS_EINVALID;
    }
    return rc < 0 ? rc : MS_OK;
}

int product_h_category_create(struct ms_req *req)
{
    struct category_in in;
    const cJSON *body;
    PGresult *res = NULL;
    int rc;

    if ((rc = ms_http_json(req, &body)) < 0 || (rc = parse_category(req, body, 1, &in)) < 0)
        return rc;
    if (in.parent_id && (rc = parent_exists(req, req->ctx->db, in.parent_id)) < 0)
        return rc;
    rc = ms_db_exec(req->ctx->db, req->arena, CATEGORY_INSERT,
                    (const char *[]){ in.name, in.parent_id, in.description }, &res);
    if (rc == MS_ECONFLICT)
        return ms_http_fail(req, MS_ECONFLICT, "Category name already exists");
    if (rc < 0)
        return rc;
    product_cache_drop_categories(req->ctx->cache);
    ms_http_ok(req, 201, cJSON_CreateRaw(PQgetvalue(res, 0, 0)));
    return MS_OK;
}

struct update_ctx {
    struct ms_req *req;
    const char *id;
    struct category_in in;
    PGresult *res;
};

static int update_tx(struct ms_db *db, void *p)
{
    struct update_ctx *c = p;
    /* quoted, so an absent field is an empty element: {"name","",""} */
    const char *provided = ms_arena_printf(
        c->req->arena, "{\"%s\",\"%s\",\"%s\"}", c->in.has_name ? "name" : "",
        c->in.has_parent ? "parent_id" : "", c->in.has_description ? "description" : "");
    int rc;

    if (c->in.has_parent && c->in.parent_id) {
        struct category_edge *edges;
        PGresult *all = NULL;
        int n;

        /* one re-parenting at a time: two concurrent moves could close a loop */
        if ((rc = ms_db_exec(db, NULL, CATEGORY_TREE_LOCK, NULL, NULL)) < 0)
            return rc;
        if ((rc = parent_exists(c->req, db, c->in.parent_id)) < 0)
            return rc;
        n = ms_db_exec(db, c->req->arena, CATEGORY_EDGES, NULL, &all);
        if (n < 0)
            return n;
        edges = ms_arena_calloc(c->req->arena, (size_t)n + 1, sizeof *edges);
        for (int i = 0; i < n; i++) {
            edges[i].id = PQgetvalue(all, i, 0);
            edges[i].parent_id = PQgetisnull(all, i, 1) ? NULL : PQgetvalue(all, i, 1);
        }
        if (category_would_cycle(edges, (size_t)n, c->id, c->in.parent_id)) {
            cJSON *v = cJSON_CreateString(c->in.parent_id);

            ms_http_verr(c->req, "parent_id", "A category cannot be its own ancestor", v);
            cJSON_Delete(v);
            return MS_EINVALID;
        }
    }
    rc = ms_db_exec(
        db, c->req->arena, CATEGORY_UPDATE,
        (const char *[]){ c->id, provided, c->in.name, c->in.parent_id, c->in.description },
        &c->res);
    if (rc == 0)
        return ms_http_fail(c->req, MS_ENOTFOUND, "Category not found");
    return rc < 0 ? rc : MS_OK;
}

int product_h_category_update(struct ms_req *req)
{
    struct update_ctx c = { .req = req };
    PGresult *ids = NULL;
    const cJSON *body;
    int rc, n;

    if ((rc = ms_http_path_uuid(req, "Invalid category ID", &c.id)) < 0 ||
        (rc = ms_http_json(req, &body)) < 0 || (rc = parse_category(req, body, 0, &c.in)) < 0)
        return rc;
    rc = ms_db_tx(req->ctx->db, update_tx, &c);
    if (rc == MS_ECONFLICT)
        return ms_http_fail(req, MS_ECONFLICT, "Category name already exists");
    if (rc < 0)
        return rc;
    product_cache_drop_categories(req->ctx->cache);
    /* cached products show the category's name */
    n = ms_db_exec(req->ctx->db, req->arena, PRODUCT_IDS_IN_CATEGORY, (const char *[]){ c.id },
                   &ids);
    for (int i = 0; i < n; i++)
        product_cache_drop(req->ctx->cache, PQgetvalue(ids, i, 0));
    ms_http_ok(req, 200, cJSON_CreateRaw(PQgetvalue(c.res, 0, 0)));
    return MS_OK;
}

int product_h_category_delete(struct ms_req *req)
{
    PGresult *res = NULL;
    const char *id;
    int rc;

    if ((rc = ms_http_path_uuid(req, "Invalid category ID", &id)) < 0)
        return rc;
    rc = ms_db_exec(req->ctx->db, req->arena, CATEGORY_USAGE, (const char *[]){ id }, &res);
    if (rc < 0)
        return rc;
    if (strcmp(PQgetvalue(res, 0, 0), "t") == 0)
        return ms_http_fail(req, MS_ECONFLICT, "Category has sub-categories");
    if (strcmp(PQgetvalue(res, 0, 1), "t") == 0)
        return ms_http_fail(req, MS_ECONFLICT, "Category has products");
    rc = ms_db_exec(req->ctx->db, NULL, CATEGORY_DELETE, (const char *[]){ id }, NULL);
    /* a child or product added since the check: the foreign key refuses */
    if (rc == MS_EINTERNAL && strcmp(ms_db_last_sqlstate(req->ctx->db), "23503") == 0)
        return ms_http_fail(req, MS_ECONFLICT, "Category is in use");
    if (rc < 0)
        return rc;
    if (rc == 0)
        return ms_http_fail(req, MS_ENOTFOUND, "Category not found");
    product_cache_drop_categories(req->ctx->cache);
    ms_http_ok_msg(req, 200, NULL, "Category deleted successfully");
    return MS_OK;
}
