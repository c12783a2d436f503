/* Growable text buffer: arena- or malloc-backed, always NUL-terminated. */
#include "lib/buf.h"

#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/arena.h"
#include "lib/log.h"
#include "lib/utf8.h"
#include "lib/banned.h"

static char empty_buf[1];

void ms_buf_init(struct ms_buf *b, struct ms_arena *arena)
{
    b->buf = empty_buf;
    b->len = 0;
    b->cap = 0;
    b->arena = arena;
}

void ms_buf_release(struct ms_buf *b)
{
    if (!b->arena && b->cap)
        free(b->buf);
    ms_buf_init(b, b->arena);
}

void ms_buf_reset(struct ms_buf *b)
{
    b->len = 0;
    if (b->cap)
        b->buf[0] = '\0';
}

void ms_buf_grow(struct ms_buf *b, size_t n)
{
    size_t want, cap;
    char *nb;

    if (__builtin_add_overflow(b->len, n + 1, &want)) {
        ms_log(MS_LOG_FATAL, "buffer size overflow");
        abort();
    }
    if (want <= b->cap)
        return;
    cap = b->cap ? b->cap : 64;
    while (cap < want)
        cap *= 2;
    if (b->arena) {
        nb = ms_arena_alloc(b->arena, cap);
        memcpy(nb, b->buf, b->len + 1);
    } else {
        nb = realloc(b->cap ? b->buf : NULL, cap);
        if (!nb) {
            ms_log(MS_LOG_FATAL, "out of memory growing a buffer");
            abort();
        }
        if (!b->cap)
            nb[0] = '\0';
    }
    b->buf = nb;
    b->cap = cap;
}

void ms_buf_add(struct ms_buf *b, const void *data, size_t n)
{
    ms_buf_grow(b, n);
    memcpy(b->buf + b->len, data, n);
    b->len += n;
    b->buf[b->len] = '\0';
}

void ms_buf_adds(struct ms_buf *b, const char *s)
{
    ms_buf_add(b, s, strlen(s));
}

void ms_buf_addch(struct ms_buf *b, char c)
{
    ms_buf_add(b, &c, 1);
}

void ms_buf_vaddf(struct ms_buf *b, const char *fmt, va_list ap)
{
    va_list cp;
    int n;

    va_copy(cp, ap);
    n = vsnprintf(NULL, 0, fmt, cp);
    va_end(cp);
    if (n <= 0)
        return;
    ms_buf_grow(b, (size_t)n);
    vsnprintf(b->buf + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
}

void ms_buf_addf(struct ms_buf *b, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    ms_buf_vaddf(b, fmt, ap);
    va_end(ap);
}

void ms_buf_add_json_str(struct ms_buf *b, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;

    ms_buf_grow(b, n + 2);
    ms_buf_addch(b, '"');
    while (i < n) {
        unsigned char c = p[i];
        size_t run = i;

        /* copy the longest run that needs no escaping in one go */
        while (run < n && p[run] >= 0x20 && p[run] < 0x80 && p[run] != '"' && p[run] != '\\')
            run++;
        if (run > i) {
            ms_buf_add(b, p + i, run - i);
            i = run;
            continue;
        }
        c = p[i];
        if (c == '"' || c == '\\') {
            char esc[2] = { '\\', (char)c };
            ms_buf_add(b, esc, 2);
            i++;
        } else if (c < 0x20) {
            switch (c) {
            case '\n':
                ms_buf_adds(b, "\\n");
                break;
            case '\r':
                ms_buf_adds(b, "\\r");
                break;
            case '\t':
                ms_buf_adds(b, "\\t");
                break;
            default:
                ms_buf_addf(b, "\\u%04x", c);
            }
            i++;
        } else {
            size_t len = ms_utf8_seq_len(p + i, n - i);

            if (len) {
                ms_buf_add(b, p + i, len);
                i += len;
            } else {
                ms_buf_adds(b, "\\ufffd");
                i++;
            }
        }
    }
    ms_buf_addch(b, '"');
}

void ms_buf_add_json_text(struct ms_buf *b, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;

    ms_buf_grow(b, n);
    while (i < n) {
        size_t run = i, len;

        while (run < n && p[run] < 0x80)
            run++;
        while (run < n && (len = ms_utf8_seq_len(p + run, n - run)) > 0)
            run += len;
        if (run > i) {
            ms_buf_add(b, p + i, run - i);
            i = run;
            continue;
        }
        /* a byte that starts no valid sequence: only strings hold non-ASCII */
        ms_buf_adds(b, "\\ufffd");
        i++;
    }
}
