/* The unit tests' own SQL on a connection of theirs (fixtures, checks): each
 * call asserts that the statement succeeded. Extended protocol only. */
#ifndef MS_TEST_PGTEST_H
#define MS_TEST_PGTEST_H

#include <libpq-fe.h>

/* Run one statement; the test fails if it does not succeed. */
void ms_test_sql(PGconn *conn, const char *sql);

/* The single value of a one-row query (param: $1, or NULL for none), as a long. */
long ms_test_sql_long(PGconn *conn, const char *sql, const char *param);

#endif
