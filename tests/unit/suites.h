/* Unit-test suites register themselves with the one runner (tests/unit/main.c). */
#ifndef MS_TEST_SUITES_H
#define MS_TEST_SUITES_H

#include <check.h>

typedef Suite *ms_suite_fn(void);

void ms_test_register(ms_suite_fn *fn);

/* Put MS_SUITE(foo_suite) at the end of a test file. */
#define MS_SUITE(fn)                                              \
    __attribute__((constructor)) static void register_##fn(void) \
    {                                                             \
        ms_test_register(fn);                                     \
    }

#endif
