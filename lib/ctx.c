/* The shared context of requests and events (lib/ctx.h). */
#include "lib/ctx.h"

#include <stddef.h>

#include "lib/banned.h"

int ms_ctx_fail_(struct ms_ctx *ctx, const char *msg, int code)
{
    if (ctx)
        ctx->err_msg = msg;
    return code;
}
