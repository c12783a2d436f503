/* Stock changes, HTTP-free: the code behind POST /api/inventory/adjust that
 * an event consumer (a reservation, its commit or release) calls the same
 * way. Every change is one inventory row moved by delta, its ledger row and
 * products.available kept in step, in one transaction (lib/ctx.h: codes with
 * ms_fail messages). */
#include "fcgi-apps/product/product.h"

#include <stdio.h>
#include <stdlib.h>

#include "fcgi-apps/product/sql.h"
#include "lib/ctx.h"
#include "lib/db.h"
#include "lib/err.h"
#include "lib/banned.h"

int product_stock_apply(struct ms_ctx *ctx, struct product_stock_change *c)
{
    char delta[24];
    const char *pw[] = { c->product_id, c->warehouse_id };
    PGresult *res = NULL;
    int rc;

    snprintf(delta, sizeof delta, "%ld", c->delta);
    if ((rc = ms_db_exec(ctx->db, NULL, INVENTORY_ENSURE, pw, NULL)) < 0)
        return rc;
    rc = ms_db_exec(ctx->db, NULL, INVENTORY_ADJUST,
                    (const char *[]){ c->product_id, c->warehouse_id, delta }, &res);
    if (rc == 0)
        rc = ms_fail(ctx, MS_ECONFLICT, "Quantity cannot drop below the reserved stock");
    if (rc < 0) {
        PQclear(res);
        return rc;
    }
    c->quantity = strtol(PQgetvalue(res, 0, 0), NULL, 10);
    c->reserved = strtol(PQgetvalue(res, 0, 1), NULL, 10);
    PQclear(res);
    {
        char quantity[24];

        snprintf(quantity, sizeof quantity, "%ld", c->quantity);
        rc = ms_db_exec(ctx->db, NULL, MOVEMENT_INSERT,
                        (const char *[]){ c->product_id, c->warehouse_id, delta, c->reason,
                                          quantity, c->actor_id },
                        NULL);
        if (rc < 0)
            return rc;
        rc = ms_db_exec(ctx->db, NULL, PRODUCT_AVAILABLE_ADD,
                        (const char *[]){ c->product_id, delta, c->warehouse_id, quantity }, &res);
    }
    if (rc == 1)
        c->stock = strtol(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return rc < 0 ? rc : MS_OK;
}

struct adjust {
    struct ms_ctx *ctx;
    struct product_stock_change *c;
};

static int adjust_tx(struct ms_db *db, void *p)
{
    struct adjust *a = p;

    (void)db; /* a->ctx->db, in this transaction */
    return product_stock_apply(a->ctx, a->c);
}

int product_stock_adjust(struct ms_ctx *ctx, struct product_stock_change *c)
{
    struct adjust a = { ctx, c };

    return ms_db_tx(ctx->db, adjust_tx, &a);
}
