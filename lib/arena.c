/* Per-request arena: bump allocation, released in one go by ms_arena_reset(). */
#include "lib/arena.h"

#include <assert.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/banned.h"

#define ARENA_ALIGN         16
#define ARENA_DEFAULT_BLOCK (64 * 1024)

struct block {
    struct block *next;
    size_t cap;
    size_t used;
    /* payload follows, aligned */
    _Alignas(ARENA_ALIGN) unsigned char data[];
};

struct cleanup {
    struct cleanup *next;
    void (*fn)(void *);
    void *obj;
};

struct ms_arena {
    struct block *head; /* current block; the first block is last in the list */
    struct block *first;
    struct cleanup *cleanups;
    size_t block_size;
    size_t used;
#ifdef MS_ARENA_DEBUG
    void **debug_ptrs;
    size_t debug_n, debug_cap;
#endif
};

static void *xmalloc(size_t n)
{
    void *p = malloc(n);

    if (!p) {
        ms_log(MS_LOG_FATAL, "out of memory allocating %zu bytes", n);
        abort();
    }
    return p;
}

static struct block *block_new(size_t cap)
{
    struct block *b = xmalloc(sizeof(*b) + cap);

    b->next = NULL;
    b->cap = cap;
    b->used = 0;
    return b;
}

struct ms_arena *ms_arena_new(size_t block_size)
{
    struct ms_arena *a = calloc(1, sizeof(*a));

    if (!a)
        return NULL;
    a->block_size = block_size ? block_size : ARENA_DEFAULT_BLOCK;
    a->first = malloc(sizeof(struct block) + a->block_size);
    if (!a->first) {
        free(a);
        return NULL;
    }
    a->first->next = NULL;
    a->first->cap = a->block_size;
    a->first->used = 0;
    a->head = a->first;
    return a;
}

static void run_cleanups(struct ms_arena *a)
{
    while (a->cleanups) {
        struct cleanup *c = a->cleanups;

        /* unlink first: a cleanup may not see itself again */
        a->cleanups = c->next;
        c->fn(c->obj);
    }
}

static void free_extra_blocks(struct ms_arena *a)
{
    struct block *b = a->head;

    while (b && b != a->first) {
        struct block *next = b->next;

        free(b);
        b = next;
    }
    a->head = a->first;
    a->first->used = 0;
#ifdef MS_ARENA_DEBUG
    for (size_t i = 0; i < a->debug_n; i++)
        free(a->debug_ptrs[i]);
    a->debug_n = 0;
#endif
}

void ms_arena_reset(struct ms_arena *a)
{
    assert(a);
    run_cleanups(a);
    free_extra_blocks(a);
    a->used = 0;
}

void ms_arena_free(struct ms_arena *a)
{
    if (!a)
        return;
    ms_arena_reset(a);
    free(a->first);
#ifdef MS_ARENA_DEBUG
    free(a->debug_ptrs);
#endif
    free(a);
}

#ifdef MS_ARENA_DEBUG
static void *debug_alloc(struct ms_arena *a, size_t n)
{
    void *p = xmalloc(n ? n : 1);

    if (a->debug_n == a->debug_cap) {
        size_t cap = a->debug_cap ? a->debug_cap * 2 : 64;
        void **np = realloc(a->debug_ptrs, cap * sizeof(*np));

        if (!np) {
            ms_log(MS_LOG_FATAL, "out of memory growing the debug arena");
            abort();
        }
        a->debug_ptrs = np;
        a->debug_cap = cap;
    }
    a->debug_ptrs[a->debug_n++] = p;
    return p;
}
#endif

void *ms_arena_alloc(struct ms_arena *a, size_t n)
{
    struct block *b;
    size_t need;

    assert(a);
    a->used += n;
#ifdef MS_ARENA_DEBUG
    return debug_alloc(a, n);
#endif
    need = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    if (need < n) {
        ms_log(MS_LOG_FATAL, "arena allocation size overflow");
        abort();
    }
    b = a->head;
    if (b->cap - b->used < need) {
        size_t cap = need > a->block_size ? need : a->block_size;

        b = block_new(cap);
        b->next = a->head;
        a->head = b;
    }
    b->used += need;
    return b->data + b->used - need;
}

void *ms_arena_calloc(struct ms_arena *a, size_t nmemb, size_t size)
{
    size_t n;
    void *p;

    if (__builtin_mul_overflow(nmemb, size, &n)) {
        ms_log(MS_LOG_FATAL, "arena calloc size overflow");
        abort();
    }
    p = ms_arena_alloc(a, n);
    memset(p, 0, n);
    return p;
}

char *ms_arena_strndup(struct ms_arena *a, const char *s, size_t n)
{
    char *p = ms_arena_alloc(a, n + 1);

    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *ms_arena_strdup(struct ms_arena *a, const char *s)
{
    return ms_arena_strndup(a, s, strlen(s));
}

char *ms_arena_printf(struct ms_arena *a, const char *fmt, ...)
{
    va_list ap;
    int n;
    char *p;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return ms_arena_strdup(a, "");
    p = ms_arena_alloc(a, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

void ms_arena_defer(struct ms_arena *a, void (*fn)(void *), void *obj)
{
    struct cleanup *c;

    assert(a && fn);
    c = ms_arena_alloc(a, sizeof(*c));
    c->fn = fn;
    c->obj = obj;
    c->next = a->cleanups;
    a->cleanups = c;
}

size_t ms_arena_used(const struct ms_arena *a)
{
    return a->used;
}
