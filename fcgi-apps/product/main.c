/* product-fcgi: the product service's FastCGI responder pool. */
#include "fcgi-apps/product/product.h"

#include "lib/pool.h"
#include "lib/banned.h"

int main(int argc, char **argv)
{
    return ms_pool_main(&product_service, argc, argv);
}
