/* The unit-test runner: every registered suite in one SRunner, Check's summary
 * at the end. Environment: MS_TEST_DATABASE_URL and MS_TEST_REDIS_URL point at
 * the real servers tests/run.sh started (db and cache suites need them);
 * CK_RUN_SUITE / CK_RUN_CASE select as usual. */
#include <stdio.h>
#include <stdlib.h>

#include "tests/unit/suites.h"

#define MAX_SUITES 64

static ms_suite_fn *suites[MAX_SUITES];
static int nsuites;

void ms_test_register(ms_suite_fn *fn)
{
    if (nsuites < MAX_SUITES)
        suites[nsuites++] = fn;
}

int main(void)
{
    SRunner *sr;
    int failed;

    if (nsuites == 0) {
        fprintf(stderr, "no unit-test suites registered\n");
        return 1;
    }
    sr = srunner_create(suites[0]());
    for (int i = 1; i < nsuites; i++)
        srunner_add_suite(sr, suites[i]());
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
