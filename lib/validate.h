/* Validation helpers shared by the services: email (validator.js isEmail and
 * normalizeEmail with default options), password policy, lengths, UUID, enums,
 * dates, pagination. They check; the handler records errors with
 * ms_http_verr() and returns MS_EINVALID. */
#ifndef MS_VALIDATE_H
#define MS_VALIDATE_H

#include <stddef.h>

struct ms_req;

/* Is s an email address validator.js's isEmail() (default options) accepts?
 * At most 255 characters in all here. */
int ms_valid_email(const char *s);

/* Normalise an email exactly as validator.js normalizeEmail() with defaults:
 * lower-cased; gmail.com/googlemail.com → gmail.com with dots and +tag removed
 * from the local part; +tag removed for outlook.com, hotmail.com, live.com
 * (and their listed variants) and icloud.com/me.com/mac.com; -tag removed for
 * yahoo (and its variants). Writes into out; 0, or -1 if it does not fit or s
 * has no '@'. */
int ms_normalize_email(const char *s, char *out, size_t cap);

/* Password policy of SPEC §3: 1 if the password has a lower-case letter, an
 * upper-case letter, a digit and one of @$!%*?& (other characters allowed). */
int ms_password_policy_ok(const char *s);

/* Is s a UUID in canonical 8-4-4-4-12 hex form (any version, as
 * validator.js isUUID() 'all')? */
int ms_valid_uuid(const char *s);

/* Is s one of the NULL-terminated list? */
int ms_valid_enum(const char *s, const char *const *allowed);

/* Is s a real calendar date "YYYY-MM-DD" (years 1000–9999)? */
int ms_valid_date(const char *s);

/* Phone as SPEC: ^\+?[1-9]\d{1,14}$ */
int ms_valid_phone(const char *s);

/* Trim ASCII whitespace (as JavaScript's String.trim for the common cases)
 * from both ends into the arena-less buffer out; returns out. */
char *ms_trim(const char *s, char *out, size_t cap);

/* Pagination: read ?page and ?limit (defaults 1 and default_limit, limit at
 * most 100); on a non-integer or < 1 value records a verr and returns
 * MS_EINVALID. */
int ms_pagination(struct ms_req *req, int default_limit, long *page, long *limit);

/* The "pagination" object of SPEC §2: {"total","page","pages","limit"}
 * (pages = ceil(total / limit); limit ≥ 1). */
struct cJSON *ms_pagination_json(long total, long page, long limit);

#endif
