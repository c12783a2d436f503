/* Per-request arena: bump allocation, released in one go by ms_arena_reset().
 *
 * A worker owns one arena; a request takes all its memory from it. Library
 * objects made for the request (cJSON trees, PGresults, redisReplies) are handed
 * to the arena with ms_arena_defer() and released by the next reset, newest
 * first. Allocation never fails: on out-of-memory the process logs and aborts
 * (the pool master respawns the worker). With MS_ARENA_DEBUG defined at build
 * time every allocation is its own malloc, so AddressSanitizer sees overruns. */
#ifndef MS_ARENA_H
#define MS_ARENA_H

#include <stddef.h>

struct ms_arena;

/* A new arena whose blocks are block_size bytes (0: 64 KiB). NULL on OOM. */
struct ms_arena *ms_arena_new(size_t block_size);

/* Runs the deferred cleanups, frees every block and the arena; accepts NULL. */
void ms_arena_free(struct ms_arena *arena);

/* n bytes aligned to 16, uninitialised; never NULL (n == 0 gives a valid pointer). */
void *ms_arena_alloc(struct ms_arena *arena, size_t n);

/* As ms_arena_alloc, zero-filled; aborts when nmemb * size overflows. */
void *ms_arena_calloc(struct ms_arena *arena, size_t nmemb, size_t size);

/* A NUL-terminated copy of the n bytes at s. */
char *ms_arena_strndup(struct ms_arena *arena, const char *s, size_t n);

/* A NUL-terminated copy of s. */
char *ms_arena_strdup(struct ms_arena *arena, const char *s);

/* A formatted string in the arena. */
char *ms_arena_printf(struct ms_arena *arena, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Run fn(obj) at the next reset (or free), after cleanups deferred later. */
void ms_arena_defer(struct ms_arena *arena, void (*fn)(void *), void *obj);

/* Run deferred cleanups newest first, drop all allocations, keep the first block. */
void ms_arena_reset(struct ms_arena *arena);

/* Bytes handed out since the last reset (for tests and metrics). */
size_t ms_arena_used(const struct ms_arena *arena);

#endif
