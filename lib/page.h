/* Paginated list answers (SPEC §2): {"<items>":[…],"pagination":{"total",
 * "page","pages","limit"}} from a count statement and a list statement whose
 * rows are one JSON object each (column 0). Every list route of every service
 * answers through here. */
#ifndef MS_PAGE_H
#define MS_PAGE_H

#include <libpq-fe.h>

struct ms_req;

/* Answer 200 with the rows of list (column 0 of each, raw JSON) under key
 * and the pagination object of total. */
void ms_page_ok(struct ms_req *req, const char *key, const PGresult *list, long total, long page,
                long limit);

/* Run prepared count_stmt with params[0..nparams) and list_stmt with the same
 * params followed by limit and offset, then answer as ms_page_ok. MS_OK or
 * the statement's MS_E… code. */
int ms_page_answer(struct ms_req *req, const char *key, int count_stmt, int list_stmt,
                   const char *const *params, int nparams, long page, long limit);

#endif
