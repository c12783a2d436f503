/* The unit tests' own SQL (tests/unit/pgtest.h). */
#include "tests/unit/pgtest.h"

#include <stdlib.h>

#include "tests/unit/suites.h"
#include "lib/banned.h"

void ms_test_sql(PGconn *conn, const char *sql)
{
    PGresult *r = PQexecParams(conn, sql, 0, NULL, NULL, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(r);

    ck_assert_msg(st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK, "%s: %s", sql,
                  PQerrorMessage(conn));
    PQclear(r);
}

long ms_test_sql_long(PGconn *conn, const char *sql, const char *param)
{
    PGresult *r = PQexecParams(conn, sql, param ? 1 : 0, NULL, param ? &param : NULL, NULL, NULL,
                               0);
    long v;

    ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1, "%s: %s", sql,
                  PQerrorMessage(conn));
    v = strtol(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return v;
}
