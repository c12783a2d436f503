/* Growable text buffer (struct ms_buf) and string view (struct ms_str).
 *
 * An ms_buf is always NUL-terminated and its buf is never NULL. Grown in the
 * arena given to ms_buf_init() (then never freed by hand), or by malloc when
 * the arena is NULL (then ms_buf_release() frees it). */
#ifndef MS_BUF_H
#define MS_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct ms_arena;

struct ms_str {
    const char *ptr;
    size_t len;
};

struct ms_buf {
    char *buf;
    size_t len;
    size_t cap;
    struct ms_arena *arena;
};

/* Empty buffer growing in arena (or by malloc when arena is NULL). */
void ms_buf_init(struct ms_buf *b, struct ms_arena *arena);

/* Frees malloc'd storage; the buffer is left empty and usable. */
void ms_buf_release(struct ms_buf *b);

/* Empty the buffer, keep its storage. */
void ms_buf_reset(struct ms_buf *b);

/* Make room for n more bytes (plus the NUL). */
void ms_buf_grow(struct ms_buf *b, size_t n);

void ms_buf_add(struct ms_buf *b, const void *data, size_t n);
void ms_buf_adds(struct ms_buf *b, const char *s);
void ms_buf_addch(struct ms_buf *b, char c);
void ms_buf_addf(struct ms_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ms_buf_vaddf(struct ms_buf *b, const char *fmt, va_list ap);

/* Append s (n bytes) as a JSON string literal, quotes included. Bytes that are
 * not valid UTF-8 become U+FFFD; control characters are escaped. */
void ms_buf_add_json_str(struct ms_buf *b, const char *s, size_t n);

/* Append s (n bytes), JSON text as cJSON prints it, with every byte that
 * starts no valid UTF-8 sequence replaced by the escape \ufffd. JSON puts
 * non-ASCII bytes only inside strings, so the result is the same JSON with
 * its strings repaired, and valid UTF-8 whatever s held. */
void ms_buf_add_json_text(struct ms_buf *b, const char *s, size_t n);

#endif
