/* bcrypt through libxcrypt's crypt_r(): new hashes are $2b$, and the $2a$,
 * $2b$ and $2y$ hashes Node's bcryptjs wrote verify unchanged. */
#include "lib/password.h"

#include <assert.h>
#include <crypt.h>
#include <string.h>

#include <openssl/crypto.h>

#include "lib/err.h"
#include "lib/log.h"
#include "lib/banned.h"

#define BCRYPT_COST_MIN   4
#define BCRYPT_COST_MAX   31
#define BCRYPT_HASH_LEN   60 /* "$2b$NN$" + 22 salt + 31 checksum characters */
#define BCRYPT_PREFIX_LEN 7  /* "$2b$NN$" */

/* libxcrypt's work area is about 32 KiB: one per thread, never on the stack,
 * never allocated on the request path. */
static _Thread_local struct crypt_data crypt_area;

/* Fixed "random" bytes for ms_password_burn()'s salt: the burn needs the
 * time of a bcrypt, not a secret, and must not fail for want of entropy. */
static const char burn_rbytes[16] = "ms-password-burn";

int ms_password_too_long(const char *password)
{
    return strnlen(password, MS_PASSWORD_MAX_BYTES + 1) > MS_PASSWORD_MAX_BYTES;
}

/* crypt_r(password, setting) into out. 0, or -1 when libxcrypt refuses (its
 * failure token starts with '*'; errno says why) or the result does not fit.
 * The work area is wiped after: it holds state derived from the password. */
static int run_crypt(const char *password, const char *setting, char *out, size_t cap)
{
    const char *h = crypt_r(password, setting, &crypt_area);
    int rc = -1;

    if (h && h[0] != '*' && strlen(h) < cap) {
        memcpy(out, h, strlen(h) + 1);
        rc = 0;
    }
    explicit_bzero(&crypt_area, sizeof crypt_area);
    return rc;
}

int ms_password_hash(const char *password, int cost, char *out, size_t cap)
{
    char setting[CRYPT_GENSALT_OUTPUT_SIZE];

    assert(password && out && cap >= MS_HASH_MAX);
    out[0] = '\0';
    if (ms_password_too_long(password) || cost < BCRYPT_COST_MIN || cost > BCRYPT_COST_MAX)
        return MS_EINVALID;
    /* NULL random bytes: libxcrypt reads the kernel's random source itself */
    if (!crypt_gensalt_rn("$2b$", (unsigned long)cost, NULL, 0, setting, sizeof setting)) {
        ms_log(MS_LOG_ERROR, "could not generate a bcrypt salt: %m");
        return MS_EINTERNAL;
    }
    if (run_crypt(password, setting, out, cap) < 0) {
        ms_log(MS_LOG_ERROR, "could not compute a bcrypt hash: %m");
        out[0] = '\0';
        return MS_EINTERNAL;
    }
    return MS_OK;
}

static int is_bcrypt64(char c)
{
    return c == '.' || c == '/' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (c >= '0' && c <= '9');
}

int ms_password_cost(const char *hash)
{
    int cost;

    if (!hash || strnlen(hash, BCRYPT_HASH_LEN + 1) != BCRYPT_HASH_LEN)
        return -1;
    if (hash[0] != '$' || hash[1] != '2' || (hash[2] != 'a' && hash[2] != 'b' && hash[2] != 'y') ||
        hash[3] != '$' || hash[4] < '0' || hash[4] > '9' || hash[5] < '0' || hash[5] > '9' ||
        hash[6] != '$')
        return -1;
    for (int i = BCRYPT_PREFIX_LEN; i < BCRYPT_HASH_LEN; i++)
        if (!is_bcrypt64(hash[i]))
            return -1;
    cost = (hash[4] - '0') * 10 + (hash[5] - '0');
    return cost >= BCRYPT_COST_MIN && cost <= BCRYPT_COST_MAX ? cost : -1;
}

int ms_password_verify(const char *password, const char *hash)
{
    char computed[MS_HASH_MAX];

    if (!password || ms_password_too_long(password) || ms_password_cost(hash) < 0)
        return 0;
    if (run_crypt(password, hash, computed, sizeof computed) < 0) {
        ms_log(MS_LOG_ERROR, "could not check a bcrypt hash: %m");
        return 0;
    }
    return strlen(computed) == BCRYPT_HASH_LEN &&
           CRYPTO_memcmp(computed, hash, BCRYPT_HASH_LEN) == 0;
}

/* A bcrypt setting ("$2b$NN$" and a salt) costs crypt_r() as much as a full
 * hash does: hashing against it is a verify without the stored hash, so no
 * dummy hash needs building or keeping. */
void ms_password_burn(int cost)
{
    char setting[CRYPT_GENSALT_OUTPUT_SIZE], out[MS_HASH_MAX];

    if (cost < BCRYPT_COST_MIN || cost > BCRYPT_COST_MAX)
        return;
    if (!crypt_gensalt_rn("$2b$", (unsigned long)cost, burn_rbytes, sizeof burn_rbytes, setting,
                          sizeof setting) ||
        run_crypt("ms-password-burn", setting, out, sizeof out) < 0)
        ms_log(MS_LOG_ERROR, "could not burn a bcrypt computation: %m");
}
