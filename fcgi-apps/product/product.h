/* The product service: what its files share. */
#ifndef PRODUCT_PRODUCT_H
#define PRODUCT_PRODUCT_H

#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "lib/pool.h"

struct ms_req;
struct ms_arena;
struct ms_cache;

/* ---- listing.c: the public listing's SQL from whitelisted fragments -------- */

enum product_sort {
    PRODUCT_SORT_DEFAULT, /* rank with search, else newest first */
    PRODUCT_SORT_PRICE,
    PRODUCT_SORT_PRICE_DESC,
    PRODUCT_SORT_NAME,
    PRODUCT_SORT_NAME_DESC,
    PRODUCT_SORT_CREATED,
    PRODUCT_SORT_CREATED_DESC,
};

struct product_filter {
    const char *category; /* uuid, sub-categories included; NULL: any */
    const char *search;   /* websearch_to_tsquery text; NULL: none */
    int has_min, has_max;
    int64_t min_minor, max_minor;
    int in_stock; /* 1: available > 0 only */
    enum product_sort sort;
    long limit, offset;
};

#define PRODUCT_QUERY_MAX_PARAMS 8

struct product_query {
    struct ms_buf list;  /* SELECT of one page, params[0..nparams) */
    struct ms_buf count; /* SELECT count(*), params[0..ncount) */
    const char *params[PRODUCT_QUERY_MAX_PARAMS];
    int nparams;
    int ncount;
};

/* "price", "-price", "name", "-name", "created_at", "-created_at" → sort;
 * -1 for anything else. */
int product_sort_parse(const char *s);

/* Build both statements for f into q (memory from arena). */
void product_query_build(struct ms_arena *arena, const struct product_filter *f,
                         struct product_query *q);

/* ---- categories.c ---------------------------------------------------------- */

struct category_edge {
    const char *id;
    const char *parent_id; /* NULL for a root */
};

/* Would giving category id the parent new_parent make a cycle, given the
 * current edges? (new_parent is id itself or one of its descendants.) */
int category_would_cycle(const struct category_edge *edges, size_t n, const char *id,
                         const char *new_parent);

/* ---- cache.c: the Redis copies reads are served from ------------------------ */

void product_cache_drop(struct ms_cache *cache, const char *product_id);
void product_cache_drop_categories(struct ms_cache *cache);

/* ---- handlers ----------------------------------------------------------------- */

int product_h_list(struct ms_req *req);
int product_h_get(struct ms_req *req);
int product_h_create(struct ms_req *req);
int product_h_update(struct ms_req *req);
int product_h_delete(struct ms_req *req);
int product_h_categories(struct ms_req *req);
int product_h_category_create(struct ms_req *req);
int product_h_category_update(struct ms_req *req);
int product_h_category_delete(struct ms_req *req);
int product_h_warehouses(struct ms_req *req);
int product_h_warehouse_create(struct ms_req *req);
int product_h_inventory(struct ms_req *req);
int product_h_adjust(struct ms_req *req);

/* ---- stock.c: stock changes, shared by handlers and event consumers ------ */

struct ms_ctx;

struct product_stock_change {
    const char *product_id, *warehouse_id; /* lower-case UUIDs of existing rows */
    long delta;                            /* non-zero */
    const char *reason;                    /* the ledger's reason */
    const char *actor_id;                  /* the admin's user id, or NULL (an event) */
    long quantity, reserved;               /* out: the row after the change */
    long stock;                            /* out: the product's available total */
};

/* Move one inventory row by delta inside the caller's transaction on
 * ctx->db: its ledger row and products.available with it. MS_OK;
 * MS_ECONFLICT when the quantity would drop below what is reserved;
 * MS_EINVALID when it would leave the integer range (22003); MS_EUNAVAIL. */
int product_stock_apply(struct ms_ctx *ctx, struct product_stock_change *c);

/* product_stock_apply in a transaction of its own. */
int product_stock_adjust(struct ms_ctx *ctx, struct product_stock_change *c);
int product_h_movements(struct ms_req *req);

extern const struct ms_service product_service;

#endif
