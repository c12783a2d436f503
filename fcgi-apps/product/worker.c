/* product-worker: relays the product service's outbox to events:inventory. */
#include "fcgi-apps/product/product.h"

#include "fcgi-apps/product/sql.h"
#include "lib/daemon.h"
#include "lib/outbox.h"
#include "lib/banned.h"

static int tick(struct ms_ctx *d, void *ctx)
{
    int published = 0, rc;

    (void)ctx;
    rc = ms_outbox_relay_once(d->db, d->cache, "product-service", &published, NULL, NULL);
    return rc < 0 ? rc : published;
}

int main(void)
{
    return ms_daemon_main(&product_service, tick, NULL);
}
