/* Every fixed SQL statement of the product service, prepared on each
 * (re)connect. The listing's combinable filters are built from the fixed
 * fragments in listing.c, never from input. */
#ifndef PRODUCT_SQL_H
#define PRODUCT_SQL_H

#include "lib/db.h"
#include "lib/sql.h"


/* The product object of SPEC §3 product: price in wire units. */
#define PRODUCT_COLS(p)                                                                        \
    p ".id, " p ".sku, " p ".name, " p ".description, round(" p ".price_minor / 100.0, 2) "    \
      "AS price, " p ".currency, " p ".status, " p ".category_id, (SELECT " MS_SQL_JSON_OF(           \
          "c.id, c.name") " FROM categories c WHERE c.id = " p ".category_id) AS category, " p \
                          ".available AS stock, " MS_SQL_TS(p ".created_at") " AS created_at, " MS_SQL_TS(   \
                              p ".updated_at") " AS updated_at"
#define PRODUCT_JSON(p) MS_SQL_JSON_OF(PRODUCT_COLS(p))

#define CATEGORY_COLS(c)                     \
    c ".id, " c ".name, " c ".parent_id, " c \
      ".description, " MS_SQL_TS(c ".created_at") " AS created_at, " MS_SQL_TS(c ".updated_at") " AS updated_at"

#define WAREHOUSE_COLS(w) w ".id, " w ".code, " w ".name, " MS_SQL_TS(w ".created_at") " AS created_at"

/* product.updated goes to the service's stream with the product as data */
#define PRODUCT_EVENT(type, from)                                                     \
    "INSERT INTO outbox (stream, type, data) SELECT 'events:inventory', '" type "', " \
    "json_build_object('product_id', p.id, 'sku', p.sku, 'name', p.name, 'price', "   \
    "round(p.price_minor / 100.0, 2), 'currency', p.currency, 'status', p.status, "   \
    "'category_id', p.category_id) FROM " from " p"

#define PRODUCT_SQL(X)                                                                                                                         \
    X(PRODUCT_GET, 1,                                                                                                                          \
      "SELECT " PRODUCT_JSON("p") " FROM products p WHERE p.id = $1 AND p.status = 'active'")                                                  \
    X(PRODUCT_GET_ANY, 1, "SELECT " PRODUCT_JSON("p") " FROM products p WHERE p.id = $1")                                                      \
    /* $1 sku $2 name $3 description $4 price_minor $5 category $6 currency */                                                                 \
    X(PRODUCT_INSERT, 6,                                                                                                                       \
      "WITH p AS (INSERT INTO products (sku, name, description, price_minor, category_id, "                                                    \
      "currency) VALUES ($1, $2, $3, $4::bigint, $5::uuid, $6) RETURNING *), "                                                                 \
      "o AS (" PRODUCT_EVENT("product.updated", "p") ") "                                                                                      \
                                                     "SELECT " PRODUCT_JSON("p") " FROM p")                                                    \
    /* $1 id, $2 provided field names, $3 sku $4 name $5 description $6 price $7 category                                                      \
     * $8 status */                                                                                                                            \
    X(PRODUCT_UPDATE, 8,                                                                                                                       \
      "WITH p AS (UPDATE products SET "                                                                                                        \
      "sku = CASE WHEN 'sku' = ANY($2::text[]) THEN $3 ELSE sku END, "                                                                         \
      "name = CASE WHEN 'name' = ANY($2::text[]) THEN $4 ELSE name END, "                                                                      \
      "description = CASE WHEN 'description' = ANY($2::text[]) THEN $5 ELSE description END, "                                                 \
      "price_minor = CASE WHEN 'price' = ANY($2::text[]) THEN $6::bigint ELSE price_minor END, "                                               \
      "category_id = CASE WHEN 'category_id' = ANY($2::text[]) THEN $7::uuid "                                                                 \
      "ELSE category_id END, "                                                                                                                 \
      "status = CASE WHEN 'status' = ANY($2::text[]) THEN $8 ELSE status END, "                                                                \
      "updated_at = now() WHERE id = $1 RETURNING *), "                                                                                        \
      "o AS (" PRODUCT_EVENT("product.updated", "p") ") "                                                                                      \
                                                     "SELECT " PRODUCT_JSON("p") " FROM p")                                                    \
    X(PRODUCT_ARCHIVE, 1,                                                                                                                      \
      "WITH p AS (UPDATE products SET status = 'archived', updated_at = now() "                                                                \
      "WHERE id = $1 RETURNING *), "                                                                                                           \
      "o AS (" PRODUCT_EVENT("product.updated", "p") ") "                                                                                      \
                                                     "SELECT " PRODUCT_JSON("p") " FROM p")                                                    \
    X(PRODUCT_EXISTS, 1, "SELECT 1 FROM products WHERE id = $1")                                                                               \
    X(PRODUCT_IDS_IN_CATEGORY, 1, "SELECT id FROM products WHERE category_id = $1")                                                            \
    X(CATEGORY_EXISTS, 1, "SELECT 1 FROM categories WHERE id = $1")                                                                            \
    X(CATEGORY_LIST, 0,                                                                                                                        \
      "SELECT COALESCE(json_agg(" MS_SQL_JSON_OF(CATEGORY_COLS("c")) " ORDER BY c.name, c.id), "                                                      \
                                                              "'[]') FROM categories c")                                                       \
    X(CATEGORY_GET, 1, "SELECT " MS_SQL_JSON_OF(CATEGORY_COLS("c")) " FROM categories c WHERE c.id = $1")                                             \
    X(CATEGORY_EDGES, 0, "SELECT id, parent_id FROM categories")                                                                               \
    X(CATEGORY_TREE_LOCK, 0, "SELECT pg_advisory_xact_lock(727101)")                                                                           \
    /* $1 name $2 parent $3 description */                                                                                                     \
    X(CATEGORY_INSERT, 3,                                                                                                                      \
      "WITH c AS (INSERT INTO categories (name, parent_id, description) "                                                                      \
      "VALUES ($1, $2::uuid, $3) RETURNING *) SELECT " MS_SQL_JSON_OF(CATEGORY_COLS("c")) " FROM c")                                                  \
    /* $1 id $2 provided $3 name $4 parent $5 description */                                                                                   \
    X(CATEGORY_UPDATE, 5,                                                                                                                      \
      "WITH c AS (UPDATE categories SET "                                                                                                      \
      "name = CASE WHEN 'name' = ANY($2::text[]) THEN $3 ELSE name END, "                                                                      \
      "parent_id = CASE WHEN 'parent_id' = ANY($2::text[]) THEN $4::uuid ELSE parent_id END, "                                                 \
      "description = CASE WHEN 'description' = ANY($2::text[]) THEN $5 ELSE description END, "                                                 \
      "updated_at = now() WHERE id = $1 RETURNING *) "                                                                                         \
      "SELECT " MS_SQL_JSON_OF(CATEGORY_COLS("c")) " FROM c")                                                                                         \
    X(CATEGORY_USAGE, 1,                                                                                                                       \
      "SELECT EXISTS (SELECT 1 FROM categories WHERE parent_id = $1), "                                                                        \
      "EXISTS (SELECT 1 FROM products WHERE category_id = $1)")                                                                                \
    X(CATEGORY_DELETE, 1, "DELETE FROM categories WHERE id = $1")                                                                              \
    X(WAREHOUSE_EXISTS, 1, "SELECT 1 FROM warehouses WHERE id = $1")                                                                           \
    X(WAREHOUSE_INSERT, 2,                                                                                                                     \
      "WITH w AS (INSERT INTO warehouses (code, name) VALUES ($1, $2) RETURNING *) "                                                           \
      "SELECT " MS_SQL_JSON_OF(WAREHOUSE_COLS("w")) " FROM w")                                                                                        \
    X(WAREHOUSE_LIST, 2,                                                                                                                       \
      "SELECT " MS_SQL_JSON_OF(WAREHOUSE_COLS("w")) " FROM warehouses w ORDER BY w.code "                                                             \
                                             "LIMIT $1 OFFSET $2")                                                                             \
    X(WAREHOUSE_COUNT, 0, "SELECT count(*) FROM warehouses")                                                                                   \
    X(INVENTORY_OF_PRODUCT, 1,                                                                                                                 \
      "SELECT COALESCE(json_agg(" MS_SQL_JSON_OF(                                                                                                     \
          "i.warehouse_id, w.code AS warehouse_code, "                                                                                         \
          "i.quantity, i.reserved, i.quantity - i.reserved AS available") " ORDER BY w.code), "                                                \
                                                                          "'[]') FROM inventory i JOIN warehouses w ON w.id = i.warehouse_id " \
                                                                          "WHERE i.product_id = $1")                                           \
    X(INVENTORY_ENSURE, 2,                                                                                                                     \
      "INSERT INTO inventory (product_id, warehouse_id) VALUES ($1, $2) "                                                                      \
      "ON CONFLICT DO NOTHING")                                                                                                                \
    /* the row lock serialises concurrent adjusts of one row; below reserved: no row */                                                        \
    X(INVENTORY_ADJUST, 3,                                                                                                                     \
      "UPDATE inventory SET quantity = quantity + $3::int, updated_at = now() "                                                                \
      "WHERE product_id = $1 AND warehouse_id = $2 AND quantity + $3::int >= reserved "                                                        \
      "RETURNING quantity, reserved")                                                                                                          \
    /* $1 product $2 warehouse $3 delta $4 reason $5 quantity after $6 actor */                                                                \
    X(MOVEMENT_INSERT, 6,                                                                                                                      \
      "INSERT INTO inventory_movements (product_id, warehouse_id, delta, reason, "                                                             \
      "quantity_after, actor_id) VALUES ($1, $2, $3::int, $4, $5::int, $6::uuid)")                                                             \
    /* available moves by the delta: no stale sum under concurrency */                                                                         \
    X(PRODUCT_AVAILABLE_ADD, 4,                                                                                                                \
      "WITH p AS (UPDATE products SET available = available + $2::int, updated_at = now() "                                                    \
      "WHERE id = $1 RETURNING id, available), "                                                                                               \
      "o AS (INSERT INTO outbox (stream, type, data) SELECT 'events:inventory', "                                                              \
      "'inventory.adjusted', json_build_object('product_id', p.id, 'warehouse_id', "                                                           \
      "$3::uuid, 'delta', $2::int, 'quantity', $4::int, 'available', p.available) FROM p) "                                                    \
      "SELECT available FROM p")                                                                                                               \
    X(MOVEMENT_LIST, 3,                                                                                                                        \
      "SELECT " MS_SQL_JSON_OF(                                                                                                                       \
          "m.id, m.product_id, m.warehouse_id, m.delta, m.reason, "                                                                            \
          "m.quantity_after, m.actor_id, " MS_SQL_TS(                                                                                                 \
              "m.created_at") " AS created_at") " "                                                                                            \
                                                "FROM inventory_movements m WHERE ($1::uuid IS NULL OR m.product_id = $1::uuid) "              \
                                                "ORDER BY m.id DESC LIMIT $2 OFFSET $3")                                                       \
    X(MOVEMENT_COUNT, 1,                                                                                                                       \
      "SELECT count(*) FROM inventory_movements WHERE ($1::uuid IS NULL OR product_id = "                                                      \
      "$1::uuid)")

MS_SQL_DEFINE(PRODUCT_SQL, product_sql);

#endif
