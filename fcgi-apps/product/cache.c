/* Redis copies of what the product service reads most: single products and
 * the category list/tree. Every write that changes what they return drops
 * them; a failure to drop is logged (reads then fall back to the TTL). */
#include "fcgi-apps/product/product.h"

#include <stdio.h>

#include "lib/arena.h"
#include "lib/cache.h"
#include "lib/config.h"
#include "lib/http.h"
#include "lib/log.h"
#include "lib/banned.h"

void product_cache_drop(struct ms_cache *cache, const char *product_id)
{
    char key[80];

    snprintf(key, sizeof key, "ms:product:%s", product_id);
    if (ms_cache_cmd(cache, NULL, NULL, 2, (const char *[]){ "DEL", key }, NULL) < 0)
        ms_log(MS_LOG_WARN, "could not drop a cached product");
}

void product_cache_drop_categories(struct ms_cache *cache)
{
    if (ms_cache_cmd(cache, NULL, NULL, 3,
                     (const char *[]){ "DEL", "ms:categories:flat", "ms:categories:tree" },
                     NULL) < 0)
        ms_log(MS_LOG_WARN, "could not drop the cached categories");
}
