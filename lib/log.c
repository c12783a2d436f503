/* JSON logs on stderr, one line per write(2). */
#include "lib/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/banned.h"

#define LOG_LINE_MAX 4096

static const char *log_service = "microshop";
static enum ms_log_level log_min = MS_LOG_INFO;

static const char *const level_names[] = { "debug", "info", "warn", "error", "fatal" };

void ms_log_init(const char *service, enum ms_log_level min_level)
{
    log_service = service;
    log_min = min_level;
}

int ms_log_level_parse(const char *name)
{
    if (!name)
        return -1;
    for (int i = 0; i <= MS_LOG_FATAL; i++)
        if (strcasecmp(name, level_names[i]) == 0)
            return i;
    if (strcasecmp(name, "warning") == 0)
        return MS_LOG_WARN;
    return -1;
}

int ms_log_enabled(enum ms_log_level level)
{
    return level >= log_min;
}

/* Append s JSON-escaped to out[*pos..cap); stops quietly when full. */
static void put_escaped(char *out, int cap, int *pos, const char *s)
{
    for (; *s && *pos < cap - 8; s++) {
        unsigned char c = (unsigned char)*s;

        if (c == '"' || c == '\\') {
            out[(*pos)++] = '\\';
            out[(*pos)++] = (char)c;
        } else if (c < 0x20) {
            *pos += snprintf(out + *pos, (size_t)(cap - *pos), "\\u%04x", c);
        } else {
            out[(*pos)++] = (char)c;
        }
    }
}

static void put_raw(char *out, int cap, int *pos, const char *s)
{
    int n = snprintf(out + *pos, (size_t)(cap - *pos), "%s", s);

    if (n > 0)
        *pos = (*pos + n < cap) ? *pos + n : cap - 1;
}

static void put_field(char *out, int cap, int *pos, const char *key, const char *val)
{
    if (!val)
        return;
    put_raw(out, cap, pos, ",\"");
    put_raw(out, cap, pos, key);
    put_raw(out, cap, pos, "\":\"");
    put_escaped(out, cap, pos, val);
    put_raw(out, cap, pos, "\"");
}

int ms_log_format(char *out, int cap, const struct ms_log_ctx *ctx, enum ms_log_level level,
                  const char *msg)
{
    char ts[32], num[64];
    int pos = 0;

    ms_clock_iso8601(ms_clock_now_ms(), ts, sizeof ts);
    put_raw(out, cap, &pos, "{\"ts\":\"");
    put_raw(out, cap, &pos, ts);
    put_raw(out, cap, &pos, "\",\"level\":\"");
    put_raw(out, cap, &pos, level_names[level]);
    put_raw(out, cap, &pos, "\"");
    put_field(out, cap, &pos, "service", log_service);
    snprintf(num, sizeof num, ",\"pid\":%ld", (long)getpid());
    put_raw(out, cap, &pos, num);
    if (ctx) {
        put_field(out, cap, &pos, "request_id", ctx->request_id);
        put_field(out, cap, &pos, "method", ctx->method);
        put_field(out, cap, &pos, "path", ctx->path);
        if (ctx->status >= 0) {
            snprintf(num, sizeof num, ",\"status\":%d", ctx->status);
            put_raw(out, cap, &pos, num);
        }
        if (ctx->duration_ms >= 0) {
            snprintf(num, sizeof num, ",\"duration_ms\":%.3f", ctx->duration_ms);
            put_raw(out, cap, &pos, num);
        }
        put_field(out, cap, &pos, "user_id", ctx->user_id);
    }
    put_field(out, cap, &pos, "msg", msg);
    if (pos > cap - 3)
        pos = cap - 3;
    out[pos++] = '}';
    out[pos++] = '\n';
    out[pos] = '\0';
    return pos;
}

static void log_write(const struct ms_log_ctx *ctx, enum ms_log_level level, const char *fmt,
                      va_list ap)
{
    char msg[2048], line[LOG_LINE_MAX];
    int saved = errno, n;

    vsnprintf(msg, sizeof msg, fmt, ap);
    n = ms_log_format(line, sizeof line, ctx, level, msg);
    if (write(STDERR_FILENO, line, (size_t)n) < 0) {
        /* nowhere left to report it */
    }
    errno = saved;
}

void ms_log(enum ms_log_level level, const char *fmt, ...)
{
    va_list ap;

    if (level < log_min)
        return;
    va_start(ap, fmt);
    log_write(NULL, level, fmt, ap);
    va_end(ap);
}

void ms_log_req(const struct ms_log_ctx *ctx, enum ms_log_level level, const char *fmt, ...)
{
    va_list ap;

    if (level < log_min)
        return;
    va_start(ap, fmt);
    log_write(ctx, level, fmt, ap);
    va_end(ap);
}
