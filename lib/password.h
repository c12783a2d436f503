/* bcrypt through libxcrypt's crypt_r: $2b$ hashes at BCRYPT_COST; verifies the
 * $2a$ and $2b$ hashes made by Node's bcryptjs. A password over 72 bytes is the
 * caller's 422 (ms_password_too_long), never silently cut. */
#ifndef MS_PASSWORD_H
#define MS_PASSWORD_H

#include <stddef.h>

#define MS_PASSWORD_MAX_BYTES 72
#define MS_HASH_MAX           128

/* Is password longer than bcrypt can hash (72 bytes)? */
int ms_password_too_long(const char *password);

/* Hash password at cost into out (>= MS_HASH_MAX). 0, MS_EINVALID (too long
 * or bad cost), or MS_EINTERNAL (no entropy, crypt failure; logged). */
int ms_password_hash(const char *password, int cost, char *out, size_t cap);

/* 1 if password matches hash, 0 if not (also for a malformed hash). The
 * comparison is constant-time. */
int ms_password_verify(const char *password, const char *hash);

/* Cost of a bcrypt hash ("$2b$12$…" → 12), -1 if not bcrypt. */
int ms_password_cost(const char *hash);

/* Spend the time of one verify at cost against a fixed dummy hash, so that an
 * unknown account answers as slowly as a wrong password. */
void ms_password_burn(int cost);

#endif
