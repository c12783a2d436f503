/* SQL fragments every service's statements share (fcgi-apps/<svc>/sql.h). */
#ifndef MS_SQL_H
#define MS_SQL_H

/* A timestamp column as SPEC's wire form, UTC with milliseconds
 * (2026-11-24T09:15:02.123Z); sessions run with TimeZone=UTC. */
#define MS_SQL_TS(col) "to_char(" col ", 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

/* One JSON object of the given columns, in their order, printed compactly by
 * PostgreSQL (row_to_json over a subselect). */
#define MS_SQL_JSON_OF(cols) "row_to_json((SELECT r FROM (SELECT " cols ") r))"

#endif
