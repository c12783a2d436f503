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
#include "lib/utf8.h"
#include "lib/banned.h"

#define LOG_LINE_MAX 4096

static const char *log_service = "microshop";
static enum ms_log_level log_min = MS_LOG_INFO;

static const char *const level_names[] = { "debug", "info", "warn", "error", "fatal" };

/* A fixed output buffer; put_fmt never writes past it and drops a piece that
 * does not fit whole. */
struct ms_buf_fixed {
    char *buf;
    size_t cap;
    size_t len;
};

__attribute__((format(printf, 2, 3))) static void put_fmt(struct ms_buf_fixed *b, const char *fmt,
                                                          ...)
{
    va_list ap;
    int n;

    if (b->len + 1 >= b->cap)
        return;
    va_start(ap, fmt);
    n = vsnprintf(b->buf + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n > 0 && (size_t)n < b->cap - b->len)
        b->len += (size_t)n;
    else
        b->buf[b->len] = '\0'; /* did not fit: leave it out */
}

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

/* Field caps (escaped bytes): their sum and the fixed text stay under
 * LOG_LINE_MAX, so a line is never cut in the middle of its structure. */
#define CAP_SHORT 160
#define CAP_PATH  1024
#define CAP_MSG   2048

/* Escape s as the inside of a JSON string into dst (cap bytes, NUL after):
 * control characters as \u00XX, invalid UTF-8 as \ufffd; stops before a unit
 * that would not fit, never inside one. Returns the length written. */
static size_t escape_into(char *dst, size_t cap, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s), i = 0, o = 0;

    while (i < n) {
        char unit[8];
        size_t ulen, adv = 1;

        if (p[i] == '"' || p[i] == '\\') {
            unit[0] = '\\';
            unit[1] = (char)p[i];
            ulen = 2;
        } else if (p[i] < 0x20) {
            ulen = (size_t)snprintf(unit, sizeof unit, "\\u%04x", p[i]);
        } else if ((adv = ms_utf8_seq_len(p + i, n - i)) > 0) {
            memcpy(unit, p + i, adv);
            ulen = adv;
        } else {
            memcpy(unit, "\\ufffd", 6);
            ulen = 6;
            adv = 1;
        }
        if (o + ulen + 1 > cap)
            break;
        memcpy(dst + o, unit, ulen);
        o += ulen;
        i += adv;
    }
    dst[o] = '\0';
    return o;
}

/* Append ,"key":"<escaped val>" (nothing when val is NULL). */
static void put_field(struct ms_buf_fixed *b, const char *key, const char *val, size_t cap)
{
    char esc[CAP_MSG];

    if (!val)
        return;
    escape_into(esc, cap < sizeof esc ? cap : sizeof esc, val);
    put_fmt(b, ",\"%s\":\"%s\"", key, esc);
}

int ms_log_format(char *out, int cap, const struct ms_log_ctx *ctx, enum ms_log_level level,
                  const char *msg)
{
    struct ms_buf_fixed b = { out, (size_t)cap, 0 };
    char ts[32];

    ms_clock_iso8601(ms_clock_now_ms(), ts, sizeof ts);
    put_fmt(&b, "{\"ts\":\"%s\",\"level\":\"%s\"", ts, level_names[level]);
    put_field(&b, "service", log_service, CAP_SHORT);
    put_fmt(&b, ",\"pid\":%ld", (long)getpid());
    if (ctx) {
        put_field(&b, "request_id", ctx->request_id, CAP_SHORT);
        put_field(&b, "method", ctx->method, CAP_SHORT);
        put_field(&b, "path", ctx->path, CAP_PATH);
        if (ctx->status >= 0)
            put_fmt(&b, ",\"status\":%d", ctx->status);
        if (ctx->duration_ms >= 0)
            put_fmt(&b, ",\"duration_ms\":%.3f", ctx->duration_ms);
        put_field(&b, "user_id", ctx->user_id, CAP_SHORT);
    }
    /* the message gets what is left, keeping room for its key and the end */
    if (b.len + 16 < b.cap)
        put_field(&b, "msg", msg, b.cap - b.len - 16);
    put_fmt(&b, "}\n");
    return (int)b.len;
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
