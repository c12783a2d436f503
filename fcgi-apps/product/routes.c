/* The product service's routes (SPEC §3 product) and its service description. */
#include "fcgi-apps/product/product.h"

#include "fcgi-apps/product/sql.h"
#include "lib/outbox.h"
#include "lib/router.h"
#include "lib/banned.h"

static const struct ms_route routes[] = {
    { "GET", "/api/products", MS_PUBLIC, product_h_list },
    { "POST", "/api/products", MS_ROLE_ADMIN, product_h_create },
    { "GET", "/api/products/:id/inventory", MS_ROLE_ADMIN, product_h_inventory },
    { "GET", "/api/products/:id", MS_PUBLIC, product_h_get },
    { "PUT", "/api/products/:id", MS_ROLE_ADMIN, product_h_update },
    { "DELETE", "/api/products/:id", MS_ROLE_ADMIN, product_h_delete },
    { "GET", "/api/categories", MS_PUBLIC, product_h_categories },
    { "POST", "/api/categories", MS_ROLE_ADMIN, product_h_category_create },
    { "PUT", "/api/categories/:id", MS_ROLE_ADMIN, product_h_category_update },
    { "DELETE", "/api/categories/:id", MS_ROLE_ADMIN, product_h_category_delete },
    { "GET", "/api/warehouses", MS_ROLE_ADMIN, product_h_warehouses },
    { "POST", "/api/warehouses", MS_ROLE_ADMIN, product_h_warehouse_create },
    { "POST", "/api/inventory/adjust", MS_ROLE_ADMIN, product_h_adjust },
    { "GET", "/api/inventory/movements", MS_ROLE_ADMIN, product_h_movements },
};

const struct ms_service product_service = {
    .name = "product",
    .routes = routes,
    .nroutes = sizeof routes / sizeof routes[0],
    .sql = product_sql,
    .nsql = product_sql_count,
    .outbox_stats = ms_outbox_ctx_stats,
};
