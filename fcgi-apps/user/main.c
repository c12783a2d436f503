/* user-fcgi: the user service's FastCGI responder pool (started by spawn-fcgi). */
#include "fcgi-apps/user/user.h"

#include "lib/pool.h"
#include "lib/banned.h"

int main(int argc, char **argv)
{
    return ms_pool_main(&user_service, argc, argv);
}
