/* Unit tests of lib/arena.c: bump allocation, deferred cleanups, reset. The
 * same tests run against the block allocator (build/rel) and the one-malloc-
 * per-allocation debug arena (build/san, MS_ARENA_DEBUG). */
#include "lib/arena.h"

#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/unit/suites.h"
#include "lib/banned.h"

static struct ms_arena *arena;

/* Cleanup calls recorded by record_cleanup(): the tags in call order. */
static int calls[16];
static int ncalls;

static void record_cleanup(void *obj)
{
    if (ncalls < (int)(sizeof calls / sizeof calls[0]))
        calls[ncalls++] = *(int *)obj;
}

static void setup(void)
{
    arena = ms_arena_new(0);
    ck_assert_ptr_nonnull(arena);
    ncalls = 0;
    memset(calls, 0, sizeof calls);
}

static void teardown(void)
{
    ms_arena_free(arena);
    arena = NULL;
}

/* Runs fn in a child process and returns its wait status (stderr silenced). */
static int run_in_child(void (*fn)(void))
{
    pid_t pid = fork();
    int status = 0;

    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);

        if (null >= 0)
            dup2(null, STDERR_FILENO);
        fn();
        _exit(0);
    }
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    return status;
}

/* ---- ms_arena_alloc / ms_arena_calloc ---- */

START_TEST(alloc_returns_16_byte_aligned_pointers_for_every_size)
{
    for (size_t n = 0; n < 100; n++) {
        void *p = ms_arena_alloc(arena, n);

        ck_assert_ptr_nonnull(p);
        ck_assert_uint_eq((uintptr_t)p % 16, 0);
    }
}
END_TEST

START_TEST(alloc_of_zero_bytes_gives_a_valid_distinct_pointer)
{
    void *a = ms_arena_alloc(arena, 0);
    char *b = ms_arena_alloc(arena, 1);

    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    *b = 'x';
    ck_assert_int_eq(*b, 'x');
}
END_TEST

START_TEST(allocations_do_not_overlap_across_several_blocks)
{
    /* 200 allocations of 1000 bytes fill a 64 KiB block three times over */
    unsigned char *p[200];

    for (int i = 0; i < 200; i++) {
        p[i] = ms_arena_alloc(arena, 1000);
        memset(p[i], i, 1000);
    }
    for (int i = 0; i < 200; i++)
        for (int j = 0; j < 1000; j++)
            ck_assert_uint_eq(p[i][j], (unsigned char)i);
}
END_TEST

START_TEST(alloc_larger_than_a_block_is_fully_usable)
{
    struct ms_arena *small = ms_arena_new(256);
    unsigned char *big, *after;

    ck_assert_ptr_nonnull(small);
    big = ms_arena_alloc(small, 10000);
    memset(big, 0xAB, 10000);
    after = ms_arena_alloc(small, 100);
    memset(after, 0xCD, 100);
    ck_assert_uint_eq((uintptr_t)big % 16, 0);
    for (int i = 0; i < 10000; i++)
        ck_assert_uint_eq(big[i], 0xAB);
    ck_assert_uint_eq(after[0], 0xCD);
    ms_arena_free(small);
}
END_TEST

START_TEST(alloc_of_a_megabyte_after_small_ones_keeps_the_small_ones_intact)
{
    char *s = ms_arena_strdup(arena, "still here");
    size_t mib = (size_t)1 << 20;
    unsigned char *big = ms_arena_alloc(arena, mib);

    memset(big, 1, mib);
    ck_assert_str_eq(s, "still here");
    ck_assert_uint_eq(big[mib - 1], 1);
}
END_TEST

START_TEST(calloc_returns_zeroed_memory_even_after_a_reset_reuses_it)
{
    unsigned char *p = ms_arena_alloc(arena, 512);
    unsigned char *q;

    memset(p, 0xFF, 512);
    ms_arena_reset(arena);
    q = ms_arena_calloc(arena, 64, 8);
    for (int i = 0; i < 512; i++)
        ck_assert_uint_eq(q[i], 0);
}
END_TEST

static void calloc_overflowing(void)
{
    struct ms_arena *a = ms_arena_new(0);

    (void)ms_arena_calloc(a, SIZE_MAX / 2 + 1, 2);
    ms_arena_free(a);
}

START_TEST(calloc_aborts_when_nmemb_times_size_overflows)
{
    int status = run_in_child(calloc_overflowing);

    ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT,
                  "expected the child to abort, wait status %d", status);
}
END_TEST

/* ---- ms_arena_strdup / strndup / printf ---- */

START_TEST(strndup_copies_exactly_n_bytes_and_terminates)
{
    char *s = ms_arena_strndup(arena, "hello world", 5);

    ck_assert_str_eq(s, "hello");
    ck_assert_uint_eq(strlen(s), 5);
}
END_TEST

START_TEST(strndup_of_zero_bytes_is_the_empty_string)
{
    ck_assert_str_eq(ms_arena_strndup(arena, "abc", 0), "");
}
END_TEST

START_TEST(strdup_copies_the_string_into_new_memory)
{
    char src[] = "microshop";
    char *s = ms_arena_strdup(arena, src);

    ck_assert_ptr_ne(s, src);
    src[0] = 'X';
    ck_assert_str_eq(s, "microshop");
}
END_TEST

START_TEST(printf_formats_into_the_arena)
{
    ck_assert_str_eq(ms_arena_printf(arena, "%s-%d-%.2f", "id", 42, 3.25), "id-42-3.25");
}
END_TEST

START_TEST(printf_output_longer_than_a_block_is_complete)
{
    struct ms_arena *small = ms_arena_new(128);
    char *big = malloc(5001);
    char *s;

    ck_assert_ptr_nonnull(small);
    ck_assert_ptr_nonnull(big);
    memset(big, 'z', 5000);
    big[5000] = '\0';
    s = ms_arena_printf(small, "<%s>", big);
    ck_assert_uint_eq(strlen(s), 5002);
    ck_assert_int_eq(s[0], '<');
    ck_assert_int_eq(s[5001], '>');
    ck_assert_int_eq(s[2500], 'z');
    free(big);
    ms_arena_free(small);
}
END_TEST

/* ---- ms_arena_defer / reset / free ---- */

START_TEST(reset_runs_deferred_cleanups_newest_first)
{
    static int tags[] = { 1, 2, 3 };

    for (int i = 0; i < 3; i++)
        ms_arena_defer(arena, record_cleanup, &tags[i]);
    ck_assert_int_eq(ncalls, 0);
    ms_arena_reset(arena);
    ck_assert_int_eq(ncalls, 3);
    ck_assert_int_eq(calls[0], 3);
    ck_assert_int_eq(calls[1], 2);
    ck_assert_int_eq(calls[2], 1);
}
END_TEST

START_TEST(reset_runs_each_cleanup_once)
{
    static int tag = 7;

    ms_arena_defer(arena, record_cleanup, &tag);
    ms_arena_reset(arena);
    ms_arena_reset(arena);
    ck_assert_int_eq(ncalls, 1);
}
END_TEST

START_TEST(free_runs_pending_cleanups_newest_first)
{
    static int tags[] = { 10, 20 };
    struct ms_arena *a = ms_arena_new(0);

    ck_assert_ptr_nonnull(a);
    ms_arena_defer(a, record_cleanup, &tags[0]);
    ms_arena_defer(a, record_cleanup, &tags[1]);
    ms_arena_free(a);
    ck_assert_int_eq(ncalls, 2);
    ck_assert_int_eq(calls[0], 20);
    ck_assert_int_eq(calls[1], 10);
}
END_TEST

START_TEST(free_accepts_null)
{
    ms_arena_free(NULL);
}
END_TEST

START_TEST(deferred_cleanup_frees_a_malloced_object)
{
    /* LeakSanitizer reports the 100 bytes if free() is not run by the reset */
    ms_arena_defer(arena, free, malloc(100));
    ms_arena_reset(arena);
}
END_TEST

START_TEST(arena_is_usable_after_a_reset_that_dropped_extra_blocks)
{
    struct ms_arena *small = ms_arena_new(256);
    char *s;

    ck_assert_ptr_nonnull(small);
    for (int i = 0; i < 50; i++)
        memset(ms_arena_alloc(small, 200), 0x55, 200);
    ms_arena_reset(small);
    s = ms_arena_alloc(small, 32);
    memcpy(s, "fresh", 6);
    ck_assert_str_eq(s, "fresh");
    ck_assert_uint_eq(ms_arena_used(small), 32);
    ms_arena_free(small);
}
END_TEST

/* ---- ms_arena_used ---- */

START_TEST(used_is_zero_for_a_new_arena)
{
    ck_assert_uint_eq(ms_arena_used(arena), 0);
}
END_TEST

START_TEST(used_counts_the_bytes_handed_out)
{
    (void)ms_arena_alloc(arena, 16);
    (void)ms_arena_alloc(arena, 32);
    ck_assert_uint_eq(ms_arena_used(arena), 48);
    (void)ms_arena_alloc(arena, 100000);
    ck_assert_uint_eq(ms_arena_used(arena), 100048);
}
END_TEST

START_TEST(used_grows_by_at_least_the_size_of_a_strdup)
{
    size_t before = ms_arena_used(arena);

    (void)ms_arena_strdup(arena, "abcdefghij");
    ck_assert_uint_ge(ms_arena_used(arena) - before, 11);
}
END_TEST

START_TEST(used_is_zero_after_a_reset)
{
    (void)ms_arena_alloc(arena, 64);
    (void)ms_arena_alloc(arena, 200000);
    ms_arena_reset(arena);
    ck_assert_uint_eq(ms_arena_used(arena), 0);
}
END_TEST

Suite *arena_suite(void);

Suite *arena_suite(void)
{
    Suite *s = suite_create("arena");
    TCase *tc_alloc = tcase_create("alloc");
    TCase *tc_calloc = tcase_create("calloc");
    TCase *tc_strndup = tcase_create("strndup");
    TCase *tc_strdup = tcase_create("strdup");
    TCase *tc_printf = tcase_create("printf");
    TCase *tc_defer_reset = tcase_create("defer_reset");
    TCase *tc_free = tcase_create("free");
    TCase *tc_used = tcase_create("used");

    tcase_add_checked_fixture(tc_alloc, setup, teardown);
    tcase_add_test(tc_alloc, alloc_returns_16_byte_aligned_pointers_for_every_size);
    tcase_add_test(tc_alloc, alloc_of_zero_bytes_gives_a_valid_distinct_pointer);
    tcase_add_test(tc_alloc, allocations_do_not_overlap_across_several_blocks);
    tcase_add_test(tc_alloc, alloc_larger_than_a_block_is_fully_usable);
    tcase_add_test(tc_alloc, alloc_of_a_megabyte_after_small_ones_keeps_the_small_ones_intact);
    suite_add_tcase(s, tc_alloc);

    tcase_add_checked_fixture(tc_calloc, setup, teardown);
    tcase_add_test(tc_calloc, calloc_returns_zeroed_memory_even_after_a_reset_reuses_it);
    tcase_add_test(tc_calloc, calloc_aborts_when_nmemb_times_size_overflows);
    suite_add_tcase(s, tc_calloc);

    tcase_add_checked_fixture(tc_strndup, setup, teardown);
    tcase_add_test(tc_strndup, strndup_copies_exactly_n_bytes_and_terminates);
    tcase_add_test(tc_strndup, strndup_of_zero_bytes_is_the_empty_string);
    suite_add_tcase(s, tc_strndup);

    tcase_add_checked_fixture(tc_strdup, setup, teardown);
    tcase_add_test(tc_strdup, strdup_copies_the_string_into_new_memory);
    suite_add_tcase(s, tc_strdup);

    tcase_add_checked_fixture(tc_printf, setup, teardown);
    tcase_add_test(tc_printf, printf_formats_into_the_arena);
    tcase_add_test(tc_printf, printf_output_longer_than_a_block_is_complete);
    suite_add_tcase(s, tc_printf);

    tcase_add_checked_fixture(tc_defer_reset, setup, teardown);
    tcase_add_test(tc_defer_reset, reset_runs_deferred_cleanups_newest_first);
    tcase_add_test(tc_defer_reset, reset_runs_each_cleanup_once);
    tcase_add_test(tc_defer_reset, deferred_cleanup_frees_a_malloced_object);
    tcase_add_test(tc_defer_reset, arena_is_usable_after_a_reset_that_dropped_extra_blocks);
    suite_add_tcase(s, tc_defer_reset);

    tcase_add_checked_fixture(tc_free, setup, teardown);
    tcase_add_test(tc_free, free_runs_pending_cleanups_newest_first);
    tcase_add_test(tc_free, free_accepts_null);
    suite_add_tcase(s, tc_free);

    tcase_add_checked_fixture(tc_used, setup, teardown);
    tcase_add_test(tc_used, used_is_zero_for_a_new_arena);
    tcase_add_test(tc_used, used_counts_the_bytes_handed_out);
    tcase_add_test(tc_used, used_grows_by_at_least_the_size_of_a_strdup);
    tcase_add_test(tc_used, used_is_zero_after_a_reset);
    suite_add_tcase(s, tc_used);
    return s;
}

MS_SUITE(arena_suite)
