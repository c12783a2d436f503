/* Money: integer minor units everywhere (no floating point in arithmetic), a
 * JSON number with at most two decimals on the wire ("19.99"). */
#ifndef MS_MONEY_H
#define MS_MONEY_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

/* Largest amount a price column holds: 999,999,999.99. */
#define MS_MONEY_MAX_MINOR INT64_C(99999999999)

/* A JSON number with at most two decimals, 0 ≤ value ≤ max_minor/100, into
 * minor units. MS_EINVALID for anything else (a string, NaN, a third
 * decimal, negative, too large). */
int ms_money_from_json(const cJSON *v, int64_t max_minor, int64_t *out);

/* The same rules for text ("19.99", "20", "0.5"; no sign, no exponent), as in
 * a query string. */
int ms_money_from_str(const char *s, int64_t max_minor, int64_t *out);

/* minor as a JSON number text with two decimals ("1999" → "19.99") into out
 * (>= 24 bytes); returns out. */
char *ms_money_format(int64_t minor, char *out, size_t cap);

#endif
