/* JWT issue and verify on libjwt 1.10 with the configured algorithm pinned; exp,
 * iss and type checked here, since libjwt 1.10 checks only the signature. */
#include "lib/jwt.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <jwt.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "lib/arena.h"
#include "lib/config.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/banned.h"

#define JWT_TOKEN_MAX      8192 /* bytes; a longer token is refused unparsed */
#define JWT_DEFAULT_ALG    "HS256"
#define JWT_DEFAULT_ISSUER "user-service"
#define JWT_HASH_LEN       (2 + 2 * SHA256_DIGEST_LENGTH) /* "h:" + hex */

_Static_assert(sizeof(long) >= sizeof(int64_t), "libjwt's integer claims are long");

/* The algorithm and key that sign or verify one kind of token. */
struct jwt_key {
    jwt_alg_t alg;
    const unsigned char *key;
    int len;
};

static const char *kind_name(enum ms_jwt_kind kind)
{
    return kind == MS_JWT_REFRESH ? "refresh" : "access";
}

static const char *config_issuer(void)
{
    return ms_config.jwt_issuer ? ms_config.jwt_issuer : JWT_DEFAULT_ISSUER;
}

/* OpenSSL's first queued error into buf ("" when none); the queue is cleared
 * so that a later, unrelated failure is not blamed on it. */
static void ssl_detail(char *buf, size_t cap)
{
    unsigned long e = ERR_peek_error();

    buf[0] = '\0';
    if (e)
        ERR_error_string_n(e, buf, cap);
    ERR_clear_error();
}

/* Log a libjwt failure once, with errno's text and OpenSSL's detail. */
static void log_jwt_error(const char *what, enum ms_jwt_kind kind, int err)
{
    char detail[256];

    ssl_detail(detail, sizeof detail);
    ms_log(MS_LOG_ERROR, "could not %s %s token: %s%s%s", what, kind_name(kind), strerror(err),
           detail[0] ? ": " : "", detail);
}

/* The algorithm and key for kind: refresh tokens always HS256 with the refresh
 * secret; access tokens the configured algorithm, with the secret, or the
 * private key to sign and the public key to verify. -1 (logged, naming the
 * variable, never its value) when the configuration has no usable key. */
static int pick_key(enum ms_jwt_kind kind, int is_signing, struct jwt_key *k)
{
    const char *alg = ms_config.jwt_algorithm ? ms_config.jwt_algorithm : JWT_DEFAULT_ALG;
    const char *key, *var;
    size_t len;

    k->alg = kind == MS_JWT_REFRESH ? JWT_ALG_HS256 : jwt_str_alg(alg);
    if (kind == MS_JWT_REFRESH) {
        key = ms_config.jwt_refresh_secret;
        var = "JWT_REFRESH_SECRET";
    } else if (k->alg == JWT_ALG_HS256) {
        key = ms_config.jwt_secret;
        var = "JWT_SECRET";
    } else if (k->alg == JWT_ALG_RS256 || k->alg == JWT_ALG_ES256) {
        key = is_signing ? ms_config.jwt_private_key : ms_config.jwt_public_key;
        var = is_signing ? "JWT_PRIVATE_KEY_FILE" : "JWT_PUBLIC_KEY_FILE";
    } else {
        ms_log(MS_LOG_ERROR, "could not use JWT_ALGORITHM: HS256, RS256 or ES256 expected");
        return -1;
    }
    len = key ? strlen(key) : 0;
    if (len == 0 || len > INT_MAX) {
        ms_log(MS_LOG_ERROR, "could not %s %s token: %s is not set", is_signing ? "sign" : "verify",
               kind_name(kind), var);
        return -1;
    }
    k->key = (const unsigned char *)key;
    k->len = (int)len;
    return 0;
}

static int is_terminated(const char *s, size_t cap)
{
    return memchr(s, '\0', cap) != NULL;
}

/* Claims in the Node service's order (id, email, role, type, iat, exp, iss,
 * sub) with ours before iat; libjwt 1.10 writes them sorted by name anyway,
 * which jsonwebtoken does not mind. 0 or libjwt's errno value. */
static int add_claims(jwt_t *jwt, const struct ms_jwt_claims *c)
{
    int err = jwt_add_grant(jwt, "id", c->sub);

    if (!err && c->kind == MS_JWT_ACCESS)
        err = jwt_add_grant(jwt, "email", c->email);
    if (!err && c->kind == MS_JWT_ACCESS)
        err = jwt_add_grant(jwt, "role", c->role);
    if (!err)
        err = jwt_add_grant(jwt, "type", kind_name(c->kind));
    if (!err && c->jti[0])
        err = jwt_add_grant(jwt, "jti", c->jti);
    if (!err && c->fam[0])
        err = jwt_add_grant(jwt, "fam", c->fam);
    if (!err)
        err = jwt_add_grant_int(jwt, "tv", (long)c->tv);
    if (!err)
        err = jwt_add_grant_int(jwt, "iat", (long)c->iat);
    if (!err)
        err = jwt_add_grant_int(jwt, "exp", (long)c->exp);
    if (!err)
        err = jwt_add_grant(jwt, "iss", config_issuer());
    if (!err)
        err = jwt_add_grant(jwt, "sub", c->sub);
    return err;
}

int ms_jwt_sign(struct ms_arena *arena, const struct ms_jwt_claims *c, char **token)
{
    struct jwt_key k;
    jwt_t *jwt = NULL;
    char *str = NULL;
    int err, rc = MS_EINTERNAL;

    assert(arena && c && token);
    assert(c->kind == MS_JWT_ACCESS || c->kind == MS_JWT_REFRESH);
    assert(is_terminated(c->sub, sizeof c->sub) && c->sub[0]);
    assert(is_terminated(c->email, sizeof c->email) && is_terminated(c->role, sizeof c->role));
    assert(is_terminated(c->jti, sizeof c->jti) && is_terminated(c->fam, sizeof c->fam));
    *token = NULL;
    if (pick_key(c->kind, 1, &k) < 0)
        return MS_EINTERNAL;
    err = jwt_new(&jwt);
    if (!err)
        err = add_claims(jwt, c);
    if (!err)
        err = jwt_set_alg(jwt, k.alg, k.key, k.len);
    if (!err) {
        errno = 0;
        str = jwt_encode_str(jwt);
        if (!str)
            err = errno ? errno : EINVAL;
    }
    if (err) {
        log_jwt_error("sign", c->kind, err);
        goto out;
    }
    *token = ms_arena_strdup(arena, str);
    rc = MS_OK;
out:
    free(str);
    jwt_free(jwt);
    return rc;
}

static int is_base64url(char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
           ch == '-' || ch == '_';
}

/* Three non-empty unpadded base64url parts, JWT_TOKEN_MAX bytes at most.
 * Anything else is refused before libjwt sees it: its base64 decoder skips
 * characters it does not know, so it would accept more than a JWT. */
static int is_well_formed(const char *token)
{
    size_t len = strnlen(token, JWT_TOKEN_MAX + 1), part = 0;
    int dots = 0;

    if (len > JWT_TOKEN_MAX)
        return 0;
    for (size_t i = 0; i <= len; i++) {
        if (token[i] != '.' && token[i] != '\0') {
            if (!is_base64url(token[i]))
                return 0;
            part++;
            continue;
        }
        /* a base64 length of 4n + 1 decodes to no whole byte */
        if (part == 0 || part % 4 == 1 || (token[i] == '.' && ++dots > 2))
            return 0;
        part = 0;
    }
    return dots == 2;
}

/* Is the claim there, whatever its JSON type? (libjwt sets ENOENT only then.) */
static int has_grant(jwt_t *jwt, const char *name)
{
    errno = 0;
    (void)jwt_get_grant_int(jwt, name);
    return errno != ENOENT;
}

/* Integer claim into *out: 1 when present, 0 when absent (*out = 0), -1 when
 * present but not a JSON integer. */
static int grant_int(jwt_t *jwt, const char *name, int64_t *out)
{
    char *json;
    long v;
    int rc;

    *out = 0;
    errno = 0;
    v = jwt_get_grant_int(jwt, name);
    if (errno == ENOENT)
        return 0;
    /* jansson reads every non-integer as 0, so only a 0 needs a closer look */
    if (v != 0) {
        *out = v;
        return 1;
    }
    json = jwt_get_grants_json(jwt, name);
    rc = json && strcmp(json, "0") == 0 ? 1 : -1;
    free(json);
    return rc;
}

/* Copy s into dst[cap]; -1 when it does not fit. */
static int copy_str(char *dst, size_t cap, const char *s)
{
    size_t n = strnlen(s, cap);

    if (n == cap)
        return -1;
    memcpy(dst, s, n + 1);
    return 0;
}

/* Optional string claim into dst[cap], "" when absent; -1 when present but not
 * a string or too long (never truncated: a cut jti or role would be another). */
static int opt_str(jwt_t *jwt, const char *name, char *dst, size_t cap)
{
    const char *s = jwt_get_grant(jwt, name);

    dst[0] = '\0';
    if (s)
        return copy_str(dst, cap, s);
    return has_grant(jwt, name) ? -1 : 0;
}

/* The user id: "id", else "sub" (as the Node service writes both); NULL when
 * neither is a non-empty string. */
static const char *user_id(jwt_t *jwt)
{
    const char *id = jwt_get_grant(jwt, "id");

    if (!id || !id[0])
        id = jwt_get_grant(jwt, "sub");
    return id && id[0] ? id : NULL;
}

/* Check and copy the claims of a token whose signature holds. exp is checked
 * first, as the Node service does (jsonwebtoken checks it before iss). */
static int read_claims(jwt_t *jwt, int64_t now_s, struct ms_jwt_claims *c, const char **why)
{
    const char *type = jwt_get_grant(jwt, "type");
    const char *iss = jwt_get_grant(jwt, "iss");
    const char *id = user_id(jwt);

    if (grant_int(jwt, "exp", &c->exp) != 1)
        return MS_EAUTH;
    if (c->exp <= now_s) {
        *why = c->kind == MS_JWT_REFRESH ? "Refresh token has expired" : "Token has expired";
        return MS_EAUTH;
    }
    if (!iss || strcmp(iss, config_issuer()) != 0 || copy_str(c->iss, sizeof c->iss, iss) < 0)
        return MS_EAUTH;
    if (!type || strcmp(type, kind_name(c->kind)) != 0)
        return MS_EAUTH;
    if (!id || copy_str(c->sub, sizeof c->sub, id) < 0)
        return MS_EAUTH;
    if (opt_str(jwt, "email", c->email, sizeof c->email) < 0 ||
        opt_str(jwt, "role", c->role, sizeof c->role) < 0 ||
        opt_str(jwt, "jti", c->jti, sizeof c->jti) < 0 ||
        opt_str(jwt, "fam", c->fam, sizeof c->fam) < 0)
        return MS_EAUTH;
    if (grant_int(jwt, "iat", &c->iat) < 0 || grant_int(jwt, "tv", &c->tv) < 0)
        return MS_EAUTH;
    return MS_OK;
}

int ms_jwt_verify(const char *token, enum ms_jwt_kind kind, int64_t now_s,
                  struct ms_jwt_claims *out, const char **why)
{
    struct ms_jwt_claims c = { .kind = kind };
    struct jwt_key k;
    jwt_t *jwt = NULL;
    int err, rc = MS_EAUTH;

    assert(token && out && why);
    assert(kind == MS_JWT_ACCESS || kind == MS_JWT_REFRESH);
    *why = kind == MS_JWT_REFRESH ? "Invalid refresh token" : "Invalid token";
    if (!is_well_formed(token))
        return MS_EAUTH;
    /* a key missing from the configuration is logged, and fails closed */
    if (pick_key(kind, 0, &k) < 0)
        return MS_EAUTH;
    err = jwt_decode(&jwt, token, k.key, k.len);
    if (err == ENOMEM)
        log_jwt_error("verify", kind, err);
    /* the header names the algorithm; only the configured one is trusted */
    if (err || jwt_get_alg(jwt) != k.alg) {
        ERR_clear_error();
        goto out;
    }
    rc = read_claims(jwt, now_s, &c, why);
    if (rc == MS_OK)
        *out = c;
out:
    jwt_free(jwt);
    return rc;
}

void ms_jwt_token_hash(const char *token, char *out, size_t cap)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[SHA256_DIGEST_LENGTH];

    assert(token && out && cap > JWT_HASH_LEN);
    if (!SHA256((const unsigned char *)token, strlen(token), md)) {
        ms_log(MS_LOG_FATAL, "could not hash a token: SHA-256 failed");
        abort();
    }
    out[0] = 'h';
    out[1] = ':';
    for (size_t i = 0; i < sizeof md; i++) {
        out[2 + 2 * i] = hex[md[i] >> 4];
        out[3 + 2 * i] = hex[md[i] & 0x0f];
    }
    out[JWT_HASH_LEN] = '\0';
}

int ms_jwt_uuid(char *out, size_t cap)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char b[16];
    char detail[256];
    size_t n = 0;

    assert(out && cap >= 37);
    out[0] = '\0';
    if (RAND_bytes(b, (int)sizeof b) != 1) {
        ssl_detail(detail, sizeof detail);
        ms_log(MS_LOG_ERROR, "could not make a UUID: RAND_bytes: %s", detail);
        return MS_EINTERNAL;
    }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    for (size_t i = 0; i < sizeof b; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[n++] = '-';
        out[n++] = hex[b[i] >> 4];
        out[n++] = hex[b[i] & 0x0f];
    }
    out[n] = '\0';
    return MS_OK;
}
