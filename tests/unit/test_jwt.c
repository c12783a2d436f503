/* Unit tests of lib/jwt.c: sign and verify with the pinned algorithm, the Node
 * service's tokens, revocation hashes and UUIDs. */
#include "lib/jwt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <jwt.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "lib/arena.h"
#include "lib/config.h"
#include "lib/err.h"
#include "tests/unit/suites.h"
#include "lib/banned.h"

/* Issued by the Node peer (jsonwebtoken 9) with the default secrets. */
#define NODE_ACCESS                                                                                \
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."                                                        \
    "eyJpZCI6IjM4NjM0NTMxLWI4ZGQtNDIzMy05YWQ2LTM5YTU4MGE2NmE0NCIsImVtYWlsIjoiYWxpY2VAZXhhbXBsZS5j" \
    "b20iLCJyb2xlIjoidXNlciIsInR5cGUiOiJhY2Nlc3MiLCJpYXQiOjE3OTU0ODk2NzQsImV4cCI6MTc5NTQ5MDU3NCwi" \
    "aXNzIjoidXNlci1zZXJ2aWNlIiwic3ViIjoiMzg2MzQ1MzEtYjhkZC00MjMzLTlhZDYtMzlhNTgwYTY2YTQ0In0."     \
    "xHHgm8dalHhrkDodTP8RvM7CJgHYcA__9-JQfZcL2I4"
#define NODE_REFRESH                                                                               \
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."                                                        \
    "eyJpZCI6IjM4NjM0NTMxLWI4ZGQtNDIzMy05YWQ2LTM5YTU4MGE2NmE0NCIsInR5cGUiOiJyZWZyZXNoIiwiaWF0Ijox" \
    "Nzk1NDg5Njc0LCJleHAiOjE3OTYwOTQ0NzQsImlzcyI6InVzZXItc2VydmljZSIsInN1YiI6IjM4NjM0NTMxLWI4ZGQt" \
    "NDIzMy05YWQ2LTM5YTU4MGE2NmE0NCJ9."                                                            \
    "masQgbIS_LefVs76cvoymU4Ew9b7oESTx-EDcf8H2ec"
#define NODE_HEADER      "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9" /* {"alg":"HS256","typ":"JWT"} */
#define NODE_USER        "38634531-b8dd-4233-9ad6-39a580a66a44"
#define NODE_IAT         1795489674
#define NODE_ACCESS_EXP  1795490574
#define NODE_REFRESH_EXP 1796094474
#define NOW              1795489700
#define FAR_EXP          "4102444800" /* 2100-01-01 */
#define ACCESS_SECRET    "your-super-secret-jwt-key-change-in-production"
#define REFRESH_SECRET   "your-super-secret-refresh-key-change-in-production"
#define OTHER_SECRET     "another-secret-of-well-over-thirty-two-bytes"
#define GOOD_ACCESS_CLAIMS(extra) \
    "{\"id\":\"" NODE_USER        \
    "\",\"type\":\"access\",\"iss\":\"user-service\",\"exp\":" FAR_EXP extra "}"

static struct ms_arena *arena;
static char *rsa_priv, *rsa_pub, *ec_priv, *ec_pub;

static void setup(void)
{
    memset(&ms_config, 0, sizeof ms_config);
    ms_config.jwt_algorithm = "HS256";
    ms_config.jwt_secret = ACCESS_SECRET;
    ms_config.jwt_refresh_secret = REFRESH_SECRET;
    ms_config.jwt_issuer = "user-service";
    arena = ms_arena_new(0);
    ck_assert_ptr_nonnull(arena);
}

static void teardown(void)
{
    ms_arena_free(arena);
    arena = NULL;
    memset(&ms_config, 0, sizeof ms_config);
}

/* The PEM form of one half of pkey, malloc'd. Aborts on failure: this runs in
 * an unchecked fixture, outside any test. */
static char *pem_of(EVP_PKEY *pkey, int is_private)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data = NULL, *copy;
    long n;
    int ok;

    if (!bio)
        abort();
    ok = is_private ? PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL)
                    : PEM_write_bio_PUBKEY(bio, pkey);
    n = BIO_get_mem_data(bio, &data);
    if (ok != 1 || n <= 0)
        abort();
    copy = strndup(data, (size_t)n);
    BIO_free(bio);
    if (!copy)
        abort();
    return copy;
}

static void make_key_pair(EVP_PKEY *pkey, char **priv, char **pub)
{
    if (!pkey) {
        (void)fprintf(stderr, "test_jwt: key generation failed\n");
        abort();
    }
    *priv = pem_of(pkey, 1);
    *pub = pem_of(pkey, 0);
    EVP_PKEY_free(pkey);
}

/* One RSA 2048 and one P-256 key pair for the whole case (RSA is slow to make). */
static void keys_setup(void)
{
    make_key_pair(EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048), &rsa_priv, &rsa_pub);
    make_key_pair(EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256"), &ec_priv, &ec_pub);
}

static void keys_teardown(void)
{
    free(rsa_priv);
    free(rsa_pub);
    free(ec_priv);
    free(ec_pub);
    rsa_priv = rsa_pub = ec_priv = ec_pub = NULL;
}

static void use_keys(const char *alg, const char *priv, const char *pub)
{
    ms_config.jwt_algorithm = alg;
    ms_config.jwt_private_key = priv;
    ms_config.jwt_public_key = pub;
}

/* A token made by libjwt itself from any header algorithm and claims, in the arena. */
static char *craft(jwt_alg_t alg, const char *key, const char *claims_json)
{
    jwt_t *jwt = NULL;
    char *s, *copy;

    ck_assert_int_eq(jwt_new(&jwt), 0);
    ck_assert_int_eq(jwt_add_grants_json(jwt, claims_json), 0);
    ck_assert_int_eq(jwt_set_alg(jwt, alg, (const unsigned char *)key, key ? (int)strlen(key) : 0),
                     0);
    s = jwt_encode_str(jwt);
    ck_assert_ptr_nonnull(s);
    copy = ms_arena_strdup(arena, s);
    free(s);
    jwt_free(jwt);
    return copy;
}

static char *b64url_encode(const char *s)
{
    size_t n = strlen(s);
    char *out = ms_arena_alloc(arena, (n + 2) / 3 * 4 + 1);
    int len = EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)s, (int)n);

    while (len > 0 && out[len - 1] == '=')
        len--;
    out[len] = '\0';
    for (char *p = out; *p; p++)
        *p = (char)(*p == '+' ? '-' : *p == '/' ? '_' : *p);
    return out;
}

static char *b64url_decode(const char *s, size_t n)
{
    size_t padded = (n + 3) / 4 * 4;
    char *in = ms_arena_alloc(arena, padded + 1);
    unsigned char *out = ms_arena_alloc(arena, padded / 4 * 3 + 1);
    int len;

    for (size_t i = 0; i < padded; i++)
        in[i] = (char)(i >= n ? '=' : s[i] == '-' ? '+' : s[i] == '_' ? '/' : s[i]);
    in[padded] = '\0';
    len = EVP_DecodeBlock(out, (const unsigned char *)in, (int)padded);
    ck_assert_int_ge(len, 0);
    len -= (int)(padded - n);
    out[len] = '\0';
    return (char *)out;
}

/* The decoded JSON of part 0 (header) or 1 (payload) of token. */
static char *token_part(const char *token, int which)
{
    const char *start = token, *dot;

    for (int i = 0; i < which; i++)
        start = strchr(start, '.') + 1;
    dot = strchr(start, '.');
    ck_assert_ptr_nonnull(dot);
    return b64url_decode(start, (size_t)(dot - start));
}

static void json_delete(void *json)
{
    cJSON_Delete(json);
}

static cJSON *payload_of(const char *token)
{
    cJSON *json = cJSON_Parse(token_part(token, 1));

    ck_assert_ptr_nonnull(json);
    ms_arena_defer(arena, json_delete, json);
    return json;
}

static struct ms_jwt_claims sample_claims(enum ms_jwt_kind kind)
{
    struct ms_jwt_claims c = { .kind = kind, .iat = NOW - 10, .exp = NOW + 900, .tv = 7 };

    memcpy(c.sub, NODE_USER, sizeof NODE_USER);
    memcpy(c.email, "alice@example.com", sizeof "alice@example.com");
    memcpy(c.role, "moderator", sizeof "moderator");
    memcpy(c.jti, "0b5c3a58-3f7e-4d0c-9a3e-2f1d6b8c7e91", 37);
    memcpy(c.fam, "5e0c2f4a-6a4b-4b8e-8d2c-1f3e5a7b9c0d", 37);
    return c;
}

static char *sign_ok(const struct ms_jwt_claims *c)
{
    char *token = NULL;

    ck_assert_int_eq(ms_jwt_sign(arena, c, &token), MS_OK);
    ck_assert_ptr_nonnull(token);
    return token;
}

/* Verify expecting MS_EAUTH with message; out must stay untouched. */
static void assert_rejected(const char *token, enum ms_jwt_kind kind, int64_t now_s,
                            const char *message)
{
    struct ms_jwt_claims out;
    const char *why = NULL;

    memset(&out, 0x5a, sizeof out);
    ck_assert_int_eq(ms_jwt_verify(token, kind, now_s, &out, &why), MS_EAUTH);
    ck_assert_ptr_nonnull(why);
    ck_assert_str_eq(why, message);
    ck_assert_int_eq((unsigned char)out.sub[0], 0x5a);
}

static struct ms_jwt_claims verify_ok(const char *token, enum ms_jwt_kind kind, int64_t now_s)
{
    struct ms_jwt_claims out;
    const char *why = NULL;
    int rc = ms_jwt_verify(token, kind, now_s, &out, &why);

    ck_assert_msg(rc == MS_OK, "verify failed: %d %s", rc, why ? why : "(null)");
    return out;
}

static void assert_same_claims(const struct ms_jwt_claims *got, const struct ms_jwt_claims *want)
{
    const char *const strs[][3] = {
        { "sub", got->sub, want->sub },    { "email", got->email, want->email },
        { "role", got->role, want->role }, { "jti", got->jti, want->jti },
        { "fam", got->fam, want->fam },    { "iss", got->iss, "user-service" },
    };

    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
        ck_assert_msg(strcmp(strs[i][1], strs[i][2]) == 0, "%s: got \"%s\", want \"%s\"",
                      strs[i][0], strs[i][1], strs[i][2]);
    ck_assert_int_eq(got->iat, want->iat);
    ck_assert_int_eq(got->exp, want->exp);
    ck_assert_int_eq(got->tv, want->tv);
    ck_assert_int_eq(got->kind, want->kind);
}

/* Claim name of payload p, which must be a JSON string. */
static const char *claim_str(const cJSON *p, const char *name)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(p, name);

    ck_assert_msg(cJSON_IsString(item), "claim %s is not a string", name);
    return item->valuestring;
}

/* Claim name of payload p, which must be a JSON integer. */
static int64_t claim_int(const cJSON *p, const char *name)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(p, name);

    ck_assert_msg(cJSON_IsNumber(item) && item->valuedouble == (double)(int64_t)item->valuedouble,
                  "claim %s is not an integer", name);
    return (int64_t)item->valuedouble;
}

/* ---- ms_jwt_sign ---- */

START_TEST(sign_then_verify_access_token_preserves_every_claim)
{
    struct ms_jwt_claims c = sample_claims(MS_JWT_ACCESS);
    struct ms_jwt_claims got = verify_ok(sign_ok(&c), MS_JWT_ACCESS, NOW);

    assert_same_claims(&got, &c);
}
END_TEST

START_TEST(sign_then_verify_refresh_token_preserves_id_jti_fam_and_tv)
{
    struct ms_jwt_claims c = sample_claims(MS_JWT_REFRESH);
    struct ms_jwt_claims got = verify_ok(sign_ok(&c), MS_JWT_REFRESH, NOW);

    /* a refresh token carries no email or role */
    c.email[0] = c.role[0] = '\0';
    assert_same_claims(&got, &c);
}
END_TEST

START_TEST(sign_writes_the_node_header_and_claims)
{
    struct ms_jwt_claims c = sample_claims(MS_JWT_ACCESS);
    char *token = sign_ok(&c);
    cJSON *p = payload_of(token);
    const char *const strs[][2] = {
        { "id", NODE_USER },       { "email", "alice@example.com" },
        { "role", "moderator" },   { "type", "access" },
        { "jti", c.jti },          { "fam", c.fam },
        { "iss", "user-service" }, { "sub", NODE_USER },
    };

    ck_assert_int_eq(strncmp(token, NODE_HEADER ".", sizeof NODE_HEADER), 0);
    ck_assert_int_eq(cJSON_GetArraySize(p), 11);
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
        ck_assert_msg(strcmp(claim_str(p, strs[i][0]), strs[i][1]) == 0, "claim %s", strs[i][0]);
    ck_assert_int_eq(claim_int(p, "tv"), 7);
    ck_assert_int_eq(claim_int(p, "iat"), NOW - 10);
    ck_assert_int_eq(claim_int(p, "exp"), NOW + 900);
}
END_TEST

START_TEST(sign_leaves_out_empty_jti_and_fam_but_always_writes_tv)
{
    struct ms_jwt_claims c = sample_claims(MS_JWT_ACCESS);
    cJSON *p;

    c.jti[0] = c.fam[0] = '\0';
    c.tv = 0;
    p = payload_of(sign_ok(&c));
    ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(p, "jti"));
    ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(p, "fam"));
    ck_assert_int_eq(claim_int(p, "tv"), 0);
    ck_assert_int_eq(cJSON_GetArraySize(p), 9);
}
END_TEST

START_TEST(sign_writes_refresh_token_like_node_with_the_refresh_secret)
{
    struct ms_jwt_claims c = sample_claims(MS_JWT_REFRESH);
    char *token = sign_ok(&c);
    cJSON *p = payload_of(token);
    jwt_t *jwt = NULL;

    ck_assert_str_eq(claim_str(p, "type"), "refresh");
    ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(p, "email"));
    ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(p, "role"));
    ck_assert_int_ne(
        jwt_decode(&jwt, token, (const unsigned char *)ACCESS_SECRET, (int)strlen(ACCESS_SECRET)),
        0);
    ck_assert_int_eq(
        jwt_decode(&jwt, token, (const unsigned char *)REFRESH_SECRET, (int)strlen(REFRESH_SECRET)),
        0);
    jwt_free(jwt);
}
END_TEST

START_TEST(sign_takes_the_issuer_from_the_configuration)
{
    struct ms_jwt_claims c = sample_claims(MS_JWT_ACCESS);
    cJSON *p;

    ms_config.jwt_issuer = "catalog-issuer";
    p = payload_of(sign_ok(&c));
    ck_assert_str_eq(claim_str(p, "iss"), "catalog-issuer");
}
END_TEST

START_TEST(sign_then_verify_rs256_access_token_round_trips)
{
    struct ms_jwt_claims c = sample_claims(MS_JWT_ACCESS), got;
    char *token;

    use_keys("RS256", rsa_priv, rsa_pub);
    token = sign_ok(&c);
    ck_assert_str_eq(token_part(token, 0), "{\"alg\":\"RS256\",\"typ\":\"JWT\"}");
    got = verify_ok(token, MS_JWT_ACCESS, NOW);
    assert_same_claims(&got, &c);
}
END_TEST

START_TEST(sign_then_verify_es256_access_token_round_trips)
{
    struct ms_jwt_claims c = sample_claims(MS_JWT_ACCESS), got;
    char *token;

    use_keys("ES256", ec_priv, ec_pub);
    token = sign_ok(&c);
    ck_assert_str_eq(token_part(token, 0), "{\"alg\":\"ES256\",\"typ\":\"JWT\"}");
    got = verify_ok(token, MS_JWT_ACCESS, NOW);
    assert_same_claims(&got, &c);
}
END_TEST

START_TEST(sign_refresh_token_stays_hs256_while_rs256_is_configured)
{
    struct ms_jwt_claims c = sample_claims(MS_JWT_REFRESH);
    char *token;

    use_keys("RS256", rsa_priv, rsa_pub);
    token = sign_ok(&c);
    ck_assert_int_eq(strncmp(token, NODE_HEADER ".", sizeof NODE_HEADER), 0);
    verify_ok(token, MS_JWT_REFRESH, NOW);
}
END_TEST

START_TEST(sign_fails_with_einternal_without_a_private_key)
{
    struct ms_jwt_claims c = sample_claims(MS_JWT_ACCESS);
    char *token = (char *)"untouched";

    use_keys("RS256", NULL, rsa_pub);
    ck_assert_int_eq(ms_jwt_sign(arena, &c, &token), MS_EINTERNAL);
    ck_assert_ptr_null(token);
}
END_TEST

START_TEST(sign_fails_with_einternal_when_the_private_key_is_not_pem)
{
    struct ms_jwt_claims c = sample_claims(MS_JWT_ACCESS);
    char *token = (char *)"untouched";

    use_keys("RS256", "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n",
             rsa_pub);
    ck_assert_int_eq(ms_jwt_sign(arena, &c, &token), MS_EINTERNAL);
    ck_assert_ptr_null(token);
}
END_TEST

START_TEST(sign_fails_with_einternal_when_the_private_key_is_for_another_algorithm)
{
    struct ms_jwt_claims c = sample_claims(MS_JWT_ACCESS);
    char *token = NULL;

    use_keys("ES256", rsa_priv, rsa_pub);
    ck_assert_int_eq(ms_jwt_sign(arena, &c, &token), MS_EINTERNAL);
    ck_assert_ptr_null(token);
}
END_TEST

/* ---- ms_jwt_verify ---- */

START_TEST(verify_accepts_the_node_access_token)
{
    struct ms_jwt_claims got = verify_ok(NODE_ACCESS, MS_JWT_ACCESS, NOW);

    ck_assert_str_eq(got.sub, NODE_USER);
    ck_assert_str_eq(got.email, "alice@example.com");
    ck_assert_str_eq(got.role, "user");
    ck_assert_str_eq(got.jti, "");
    ck_assert_str_eq(got.fam, "");
    ck_assert_str_eq(got.iss, "user-service");
    ck_assert_int_eq(got.iat, NODE_IAT);
    ck_assert_int_eq(got.exp, NODE_ACCESS_EXP);
    ck_assert_int_eq(got.tv, 0);
    ck_assert_int_eq(got.kind, MS_JWT_ACCESS);
}
END_TEST

START_TEST(verify_accepts_the_node_access_token_one_second_before_exp)
{
    verify_ok(NODE_ACCESS, MS_JWT_ACCESS, NODE_ACCESS_EXP - 1);
}
END_TEST

START_TEST(verify_reports_the_node_access_token_expired_from_its_exp_on)
{
    assert_rejected(NODE_ACCESS, MS_JWT_ACCESS, NODE_ACCESS_EXP, "Token has expired");
    assert_rejected(NODE_ACCESS, MS_JWT_ACCESS, NODE_ACCESS_EXP + 86400, "Token has expired");
}
END_TEST

START_TEST(verify_accepts_the_node_refresh_token_as_refresh)
{
    struct ms_jwt_claims got = verify_ok(NODE_REFRESH, MS_JWT_REFRESH, NOW);

    ck_assert_str_eq(got.sub, NODE_USER);
    ck_assert_str_eq(got.email, "");
    ck_assert_str_eq(got.role, "");
    ck_assert_str_eq(got.jti, "");
    ck_assert_int_eq(got.iat, NODE_IAT);
    ck_assert_int_eq(got.exp, NODE_REFRESH_EXP);
    ck_assert_int_eq(got.tv, 0);
    ck_assert_int_eq(got.kind, MS_JWT_REFRESH);
}
END_TEST

START_TEST(verify_rejects_the_node_refresh_token_as_access)
{
    assert_rejected(NODE_REFRESH, MS_JWT_ACCESS, NOW, "Invalid token");
}
END_TEST

START_TEST(verify_rejects_the_node_access_token_as_refresh)
{
    assert_rejected(NODE_ACCESS, MS_JWT_REFRESH, NOW, "Invalid refresh token");
}
END_TEST

START_TEST(verify_reports_a_refresh_token_expired_from_its_exp_on)
{
    assert_rejected(NODE_REFRESH, MS_JWT_REFRESH, NODE_REFRESH_EXP, "Refresh token has expired");
}
END_TEST

START_TEST(verify_rejects_access_token_as_refresh_when_both_secrets_are_equal)
{
    struct ms_jwt_claims c = sample_claims(MS_JWT_ACCESS);

    ms_config.jwt_refresh_secret = ACCESS_SECRET;
    assert_rejected(sign_ok(&c), MS_JWT_REFRESH, NOW, "Invalid refresh token");
}
END_TEST

START_TEST(verify_rejects_refresh_token_as_access_when_both_secrets_are_equal)
{
    struct ms_jwt_claims c = sample_claims(MS_JWT_REFRESH);

    ms_config.jwt_refresh_secret = ACCESS_SECRET;
    assert_rejected(sign_ok(&c), MS_JWT_ACCESS, NOW, "Invalid token");
}
END_TEST

START_TEST(verify_checks_the_signature_before_expiry)
{
    ms_config.jwt_secret = OTHER_SECRET;
    assert_rejected(NODE_ACCESS, MS_JWT_ACCESS, NODE_ACCESS_EXP + 86400, "Invalid token");
}
END_TEST

START_TEST(verify_rejects_a_token_signed_with_another_secret)
{
    ms_config.jwt_secret = OTHER_SECRET;
    assert_rejected(NODE_ACCESS, MS_JWT_ACCESS, NOW, "Invalid token");
}
END_TEST

START_TEST(verify_rejects_alg_none_with_an_empty_signature)
{
    const char *payload = strchr(NODE_ACCESS, '.') + 1;
    size_t payload_len = (size_t)(strrchr(NODE_ACCESS, '.') - payload);
    char *token =
        ms_arena_printf(arena, "%s.%.*s.", b64url_encode("{\"alg\":\"none\",\"typ\":\"JWT\"}"),
                        (int)payload_len, payload);

    assert_rejected(token, MS_JWT_ACCESS, NOW, "Invalid token");
}
END_TEST

START_TEST(verify_rejects_alg_none_with_the_original_signature_kept)
{
    char *token =
        ms_arena_printf(arena, "%s%s", b64url_encode("{\"alg\":\"none\",\"typ\":\"JWT\"}"),
                        strchr(NODE_ACCESS, '.'));

    assert_rejected(token, MS_JWT_ACCESS, NOW, "Invalid token");
}
END_TEST

START_TEST(verify_rejects_a_tampered_payload)
{
    const char *forged =
        "{\"id\":\"" NODE_USER "\",\"email\":\"alice@example.com\",\"role\":\"admin\","
        "\"type\":\"access\",\"iat\":1795489674,\"exp\":1795490574,\"iss\":\"user-service\","
        "\"sub\":\"" NODE_USER "\"}";
    char *token = ms_arena_printf(arena, NODE_HEADER ".%s%s", b64url_encode(forged),
                                  strrchr(NODE_ACCESS, '.'));

    assert_rejected(token, MS_JWT_ACCESS, NOW, "Invalid token");
}
END_TEST

START_TEST(verify_rejects_a_token_from_another_issuer)
{
    struct ms_jwt_claims c = sample_claims(MS_JWT_ACCESS);
    char *token;

    ms_config.jwt_issuer = "other-service";
    token = sign_ok(&c);
    ms_config.jwt_issuer = "user-service";
    assert_rejected(token, MS_JWT_ACCESS, NOW, "Invalid token");
}
END_TEST

START_TEST(verify_rejects_a_token_without_iss)
{
    char *token = craft(JWT_ALG_HS256, ACCESS_SECRET,
                        "{\"id\":\"" NODE_USER "\",\"type\":\"access\",\"exp\":" FAR_EXP "}");

    assert_rejected(token, MS_JWT_ACCESS, NOW, "Invalid token");
}
END_TEST

START_TEST(verify_rejects_hs384_header_while_hs256_is_configured)
{
    char *token = craft(JWT_ALG_HS384, ACCESS_SECRET, GOOD_ACCESS_CLAIMS(""));

    /* the same claims signed HS256 pass: only the algorithm is wrong */
    verify_ok(craft(JWT_ALG_HS256, ACCESS_SECRET, GOOD_ACCESS_CLAIMS("")), MS_JWT_ACCESS, NOW);
    assert_rejected(token, MS_JWT_ACCESS, NOW, "Invalid token");
}
END_TEST

START_TEST(verify_rejects_rs256_header_while_hs256_is_configured)
{
    char *token = craft(JWT_ALG_RS256, rsa_priv, GOOD_ACCESS_CLAIMS(""));

    assert_rejected(token, MS_JWT_ACCESS, NOW, "Invalid token");
}
END_TEST

START_TEST(verify_rejects_hs256_signed_with_the_public_key_while_rs256_is_configured)
{
    char *token = craft(JWT_ALG_HS256, rsa_pub, GOOD_ACCESS_CLAIMS(""));

    use_keys("RS256", NULL, rsa_pub);
    assert_rejected(token, MS_JWT_ACCESS, NOW, "Invalid token");
}
END_TEST

START_TEST(verify_rejects_hs256_signed_with_the_public_key_while_es256_is_configured)
{
    char *token = craft(JWT_ALG_HS256, ec_pub, GOOD_ACCESS_CLAIMS(""));

    use_keys("ES256", NULL, ec_pub);
    assert_rejected(token, MS_JWT_ACCESS, NOW, "Invalid token");
}
END_TEST

START_TEST(verify_rejects_es256_token_while_rs256_is_configured)
{
    char *token = craft(JWT_ALG_ES256, ec_priv, GOOD_ACCESS_CLAIMS(""));

    use_keys("RS256", NULL, rsa_pub);
    assert_rejected(token, MS_JWT_ACCESS, NOW, "Invalid token");
}
END_TEST

START_TEST(verify_rejects_a_token_signed_by_another_rsa_key)
{
    char *token = craft(JWT_ALG_RS256, rsa_priv, GOOD_ACCESS_CLAIMS(""));
    EVP_PKEY *other = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    char *other_priv, *other_pub;

    make_key_pair(other, &other_priv, &other_pub);
    use_keys("RS256", NULL, other_pub);
    assert_rejected(token, MS_JWT_ACCESS, NOW, "Invalid token");
    free(other_priv);
    free(other_pub);
}
END_TEST

START_TEST(verify_rejects_garbage_strings)
{
    static const char *const garbage[] = {
        "abc",
        "a.b",
        "a.b.c.d",
        "..",
        "...",
        "e30.e30.e30",
        "e30.e30.",
        ".e30.e30",
        "!!!.###.$$$",
        "Bearer " NODE_ACCESS,
        NODE_ACCESS " ",
        NODE_ACCESS "=",
        NODE_ACCESS ".",
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.AAAAA.AAAA",
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.e30.xHHgm8dalHhrkDodTP8RvM7CJgHYcA__9-JQfZcL2I4",
    };

    for (size_t i = 0; i < sizeof garbage / sizeof garbage[0]; i++)
        assert_rejected(garbage[i], MS_JWT_ACCESS, NOW, "Invalid token");
}
END_TEST

/* libjwt decodes RSA and EC signatures leniently, skipping characters outside
 * base64; the token must still be refused. */
START_TEST(verify_rejects_rs256_token_with_stray_characters_in_the_signature)
{
    char *token = craft(JWT_ALG_RS256, rsa_priv, GOOD_ACCESS_CLAIMS(""));
    char *sig = strrchr(token, '.') + 1;
    static const char stray[] = "! \n=+/";

    use_keys("RS256", NULL, rsa_pub);
    verify_ok(token, MS_JWT_ACCESS, NOW);
    for (size_t i = 0; stray[i]; i++) {
        char *bad =
            ms_arena_printf(arena, "%.*s%c%s", (int)(sig - token + 10), token, stray[i], sig + 10);

        assert_rejected(bad, MS_JWT_ACCESS, NOW, "Invalid token");
    }
    assert_rejected(ms_arena_printf(arena, "%s ", token), MS_JWT_ACCESS, NOW, "Invalid token");
}
END_TEST

START_TEST(verify_rejects_the_empty_string)
{
    assert_rejected("", MS_JWT_ACCESS, NOW, "Invalid token");
    assert_rejected("", MS_JWT_REFRESH, NOW, "Invalid refresh token");
}
END_TEST

START_TEST(verify_rejects_a_9_kib_string)
{
    size_t n = (size_t)9 * 1024;
    char *s = ms_arena_alloc(arena, n + 1);

    memset(s, 'A', n);
    s[n] = '\0';
    memcpy(s, NODE_HEADER ".", sizeof NODE_HEADER);
    s[n - 44] = '.';
    assert_rejected(s, MS_JWT_ACCESS, NOW, "Invalid token");
}
END_TEST

/* A valid token padded to exactly len bytes (NULL if the padding cannot hit it). */
static char *token_of_length(size_t len)
{
    static char pad[8192];

    memset(pad, 'x', sizeof pad - 1);
    for (int n = 5500; n < 6500; n++) {
        char *claims = ms_arena_printf(arena, GOOD_ACCESS_CLAIMS(",\"pad\":\"%.*s\""), n, pad);
        char *token = craft(JWT_ALG_HS256, ACCESS_SECRET, claims);

        if (strlen(token) == len)
            return token;
    }
    return NULL;
}

START_TEST(verify_accepts_a_valid_token_of_exactly_8_kib)
{
    char *token = token_of_length(8192);

    ck_assert_ptr_nonnull(token);
    verify_ok(token, MS_JWT_ACCESS, NOW);
}
END_TEST

START_TEST(verify_rejects_a_valid_token_one_byte_over_8_kib)
{
    char *token = token_of_length(8193);

    ck_assert_ptr_nonnull(token);
    assert_rejected(token, MS_JWT_ACCESS, NOW, "Invalid token");
}
END_TEST

START_TEST(verify_falls_back_to_sub_when_id_is_absent)
{
    char *token = craft(JWT_ALG_HS256, ACCESS_SECRET,
                        "{\"sub\":\"" NODE_USER "\",\"type\":\"access\",\"iss\":\"user-service\","
                        "\"exp\":" FAR_EXP "}");

    ck_assert_str_eq(verify_ok(token, MS_JWT_ACCESS, NOW).sub, NODE_USER);
}
END_TEST

START_TEST(verify_prefers_id_over_sub)
{
    char *token = craft(JWT_ALG_HS256, ACCESS_SECRET,
                        GOOD_ACCESS_CLAIMS(",\"sub\":\"11111111-2222-4333-8444-555555555555\""));

    ck_assert_str_eq(verify_ok(token, MS_JWT_ACCESS, NOW).sub, NODE_USER);
}
END_TEST

START_TEST(verify_rejects_a_token_without_id_or_sub)
{
    char *token = craft(JWT_ALG_HS256, ACCESS_SECRET,
                        "{\"type\":\"access\",\"iss\":\"user-service\",\"exp\":" FAR_EXP "}");

    assert_rejected(token, MS_JWT_ACCESS, NOW, "Invalid token");
}
END_TEST

START_TEST(verify_rejects_a_numeric_id_without_sub)
{
    char *token =
        craft(JWT_ALG_HS256, ACCESS_SECRET,
              "{\"id\":42,\"type\":\"access\",\"iss\":\"user-service\",\"exp\":" FAR_EXP "}");

    assert_rejected(token, MS_JWT_ACCESS, NOW, "Invalid token");
}
END_TEST

START_TEST(verify_accepts_an_id_of_39_characters_and_rejects_40)
{
    char *ok = craft(JWT_ALG_HS256, ACCESS_SECRET,
                     "{\"id\":\"123456789012345678901234567890123456789\",\"type\":\"access\","
                     "\"iss\":\"user-service\",\"exp\":" FAR_EXP "}");
    char *bad = craft(JWT_ALG_HS256, ACCESS_SECRET,
                      "{\"id\":\"1234567890123456789012345678901234567890\",\"type\":\"access\","
                      "\"iss\":\"user-service\",\"exp\":" FAR_EXP "}");

    ck_assert_str_eq(verify_ok(ok, MS_JWT_ACCESS, NOW).sub,
                     "123456789012345678901234567890123456789");
    assert_rejected(bad, MS_JWT_ACCESS, NOW, "Invalid token");
}
END_TEST

START_TEST(verify_rejects_a_jti_longer_than_71_characters)
{
    char *ok = craft(JWT_ALG_HS256, ACCESS_SECRET,
                     GOOD_ACCESS_CLAIMS(",\"jti\":\"12345678901234567890123456789012345678901234567"
                                        "890123456789012345678901\""));
    char *bad = craft(JWT_ALG_HS256, ACCESS_SECRET,
                      GOOD_ACCESS_CLAIMS(",\"jti\":\"1234567890123456789012345678901234567890123456"
                                         "7890123456789012345678901X\""));

    ck_assert_uint_eq(strlen(verify_ok(ok, MS_JWT_ACCESS, NOW).jti), 71);
    assert_rejected(bad, MS_JWT_ACCESS, NOW, "Invalid token");
}
END_TEST

START_TEST(verify_rejects_a_fam_longer_than_39_characters)
{
    char *bad = craft(JWT_ALG_HS256, ACCESS_SECRET,
                      GOOD_ACCESS_CLAIMS(",\"fam\":\"1234567890123456789012345678901234567890\""));

    assert_rejected(bad, MS_JWT_ACCESS, NOW, "Invalid token");
}
END_TEST

START_TEST(verify_rejects_a_jti_that_is_not_a_string)
{
    char *bad = craft(JWT_ALG_HS256, ACCESS_SECRET, GOOD_ACCESS_CLAIMS(",\"jti\":12345"));

    assert_rejected(bad, MS_JWT_ACCESS, NOW, "Invalid token");
}
END_TEST

START_TEST(verify_rejects_a_role_too_long_to_hold_rather_than_cutting_it)
{
    char *bad = craft(JWT_ALG_HS256, ACCESS_SECRET,
                      GOOD_ACCESS_CLAIMS(",\"role\":\"administrator-of-all\""));

    assert_rejected(bad, MS_JWT_ACCESS, NOW, "Invalid token");
}
END_TEST

START_TEST(verify_reads_tv_and_a_missing_tv_as_zero)
{
    char *with = craft(JWT_ALG_HS256, ACCESS_SECRET, GOOD_ACCESS_CLAIMS(",\"tv\":12"));
    char *without = craft(JWT_ALG_HS256, ACCESS_SECRET, GOOD_ACCESS_CLAIMS(""));

    ck_assert_int_eq(verify_ok(with, MS_JWT_ACCESS, NOW).tv, 12);
    ck_assert_int_eq(verify_ok(without, MS_JWT_ACCESS, NOW).tv, 0);
}
END_TEST

START_TEST(verify_rejects_a_tv_that_is_not_an_integer)
{
    static const char *const tvs[] = { ",\"tv\":\"5\"", ",\"tv\":1.5", ",\"tv\":true",
                                       ",\"tv\":null", ",\"tv\":\"0\"" };

    for (size_t i = 0; i < sizeof tvs / sizeof tvs[0]; i++) {
        char *claims = ms_arena_printf(arena, GOOD_ACCESS_CLAIMS("%s"), tvs[i]);

        assert_rejected(craft(JWT_ALG_HS256, ACCESS_SECRET, claims), MS_JWT_ACCESS, NOW,
                        "Invalid token");
    }
}
END_TEST

START_TEST(verify_rejects_a_token_without_exp)
{
    char *token = craft(JWT_ALG_HS256, ACCESS_SECRET,
                        "{\"id\":\"" NODE_USER "\",\"type\":\"access\",\"iss\":\"user-service\"}");

    assert_rejected(token, MS_JWT_ACCESS, NOW, "Invalid token");
}
END_TEST

START_TEST(verify_rejects_an_exp_that_is_not_an_integer)
{
    char *token = craft(JWT_ALG_HS256, ACCESS_SECRET,
                        "{\"id\":\"" NODE_USER "\",\"type\":\"access\",\"iss\":\"user-service\","
                        "\"exp\":\"" FAR_EXP "\"}");

    assert_rejected(token, MS_JWT_ACCESS, NOW, "Invalid token");
}
END_TEST

/* Misconfiguration is logged and fails closed: no token is accepted. */
START_TEST(verify_refuses_every_token_when_the_algorithm_is_unsupported)
{
    ms_config.jwt_algorithm = "HS384";
    assert_rejected(craft(JWT_ALG_HS384, ACCESS_SECRET, GOOD_ACCESS_CLAIMS("")), MS_JWT_ACCESS, NOW,
                    "Invalid token");
    assert_rejected(craft(JWT_ALG_HS256, ACCESS_SECRET, GOOD_ACCESS_CLAIMS("")), MS_JWT_ACCESS, NOW,
                    "Invalid token");
}
END_TEST

START_TEST(verify_refuses_every_token_without_a_public_key)
{
    char *token = craft(JWT_ALG_RS256, rsa_priv, GOOD_ACCESS_CLAIMS(""));

    use_keys("RS256", rsa_priv, NULL);
    assert_rejected(token, MS_JWT_ACCESS, NOW, "Invalid token");
    assert_rejected(craft(JWT_ALG_HS256, ACCESS_SECRET, GOOD_ACCESS_CLAIMS("")), MS_JWT_ACCESS, NOW,
                    "Invalid token");
}
END_TEST

/* ---- ms_jwt_token_hash ---- */

START_TEST(token_hash_is_h_colon_and_lowercase_hex_sha256)
{
    char out[72];

    /* FIPS 180-2 test vector: SHA-256("abc") */
    ms_jwt_token_hash("abc", out, sizeof out);
    ck_assert_str_eq(out, "h:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    ck_assert_uint_eq(strlen(out), 66);
}
END_TEST

START_TEST(token_hash_of_a_token_is_deterministic_and_differs_between_tokens)
{
    char a[72], b[72], c[72];

    ms_jwt_token_hash(NODE_ACCESS, a, sizeof a);
    ms_jwt_token_hash(NODE_ACCESS, b, sizeof b);
    ms_jwt_token_hash(NODE_REFRESH, c, sizeof c);
    ck_assert_str_eq(a, b);
    ck_assert_str_ne(a, c);
    ck_assert_uint_eq(strlen(a), 66);
    ck_assert_uint_eq(strspn(a + 2, "0123456789abcdef"), 64);
}
END_TEST

START_TEST(token_hash_fits_a_67_byte_buffer)
{
    char out[67];

    ms_jwt_token_hash("", out, sizeof out);
    ck_assert_str_eq(out, "h:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}
END_TEST

/* ---- ms_jwt_uuid ---- */

static void assert_uuid_v4(const char *u)
{
    ck_assert_uint_eq(strlen(u), 36);
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23)
            ck_assert_msg(u[i] == '-', "%s: no dash at %d", u, i);
        else
            ck_assert_msg(strchr("0123456789abcdef", u[i]) && u[i], "%s: bad char at %d", u, i);
    }
    ck_assert_msg(u[14] == '4', "%s: not version 4", u);
    ck_assert_msg(strchr("89ab", u[19]) && u[19], "%s: not the RFC 4122 variant", u);
}

START_TEST(uuid_is_a_canonical_lowercase_version_4_uuid)
{
    char u[37];

    /* many draws: unmasked random bits would pass the version check 1 time in 16 */
    for (int i = 0; i < 200; i++) {
        ck_assert_int_eq(ms_jwt_uuid(u, sizeof u), MS_OK);
        assert_uuid_v4(u);
    }
}
END_TEST

static int cmp_uuid(const void *a, const void *b)
{
    return strcmp(a, b);
}

START_TEST(uuid_is_unique_over_a_thousand_draws)
{
    enum { N = 1000 };
    char(*u)[37] = ms_arena_alloc(arena, (size_t)N * sizeof *u);

    for (int i = 0; i < N; i++)
        ck_assert_int_eq(ms_jwt_uuid(u[i], sizeof u[i]), MS_OK);
    qsort(u, N, sizeof *u, cmp_uuid);
    for (int i = 1; i < N; i++)
        ck_assert_str_ne(u[i - 1], u[i]);
}
END_TEST

Suite *jwt_suite(void);

Suite *jwt_suite(void)
{
    Suite *s = suite_create("jwt");
    TCase *sign = tcase_create("sign");
    TCase *verify = tcase_create("verify");
    TCase *hash = tcase_create("token_hash");
    TCase *uuid = tcase_create("uuid");

    tcase_add_unchecked_fixture(sign, keys_setup, keys_teardown);
    tcase_add_checked_fixture(sign, setup, teardown);
    tcase_set_timeout(sign, 30);
    tcase_add_test(sign, sign_then_verify_access_token_preserves_every_claim);
    tcase_add_test(sign, sign_then_verify_refresh_token_preserves_id_jti_fam_and_tv);
    tcase_add_test(sign, sign_writes_the_node_header_and_claims);
    tcase_add_test(sign, sign_leaves_out_empty_jti_and_fam_but_always_writes_tv);
    tcase_add_test(sign, sign_writes_refresh_token_like_node_with_the_refresh_secret);
    tcase_add_test(sign, sign_takes_the_issuer_from_the_configuration);
    tcase_add_test(sign, sign_then_verify_rs256_access_token_round_trips);
    tcase_add_test(sign, sign_then_verify_es256_access_token_round_trips);
    tcase_add_test(sign, sign_refresh_token_stays_hs256_while_rs256_is_configured);
    tcase_add_test(sign, sign_fails_with_einternal_without_a_private_key);
    tcase_add_test(sign, sign_fails_with_einternal_when_the_private_key_is_not_pem);
    tcase_add_test(sign, sign_fails_with_einternal_when_the_private_key_is_for_another_algorithm);
    suite_add_tcase(s, sign);

    tcase_add_unchecked_fixture(verify, keys_setup, keys_teardown);
    tcase_add_checked_fixture(verify, setup, teardown);
    tcase_set_timeout(verify, 30);
    tcase_add_test(verify, verify_accepts_the_node_access_token);
    tcase_add_test(verify, verify_accepts_the_node_access_token_one_second_before_exp);
    tcase_add_test(verify, verify_reports_the_node_access_token_expired_from_its_exp_on);
    tcase_add_test(verify, verify_accepts_the_node_refresh_token_as_refresh);
    tcase_add_test(verify, verify_rejects_the_node_refresh_token_as_access);
    tcase_add_test(verify, verify_rejects_the_node_access_token_as_refresh);
    tcase_add_test(verify, verify_reports_a_refresh_token_expired_from_its_exp_on);
    tcase_add_test(verify, verify_rejects_access_token_as_refresh_when_both_secrets_are_equal);
    tcase_add_test(verify, verify_rejects_refresh_token_as_access_when_both_secrets_are_equal);
    tcase_add_test(verify, verify_checks_the_signature_before_expiry);
    tcase_add_test(verify, verify_rejects_a_token_signed_with_another_secret);
    tcase_add_test(verify, verify_rejects_alg_none_with_an_empty_signature);
    tcase_add_test(verify, verify_rejects_alg_none_with_the_original_signature_kept);
    tcase_add_test(verify, verify_rejects_a_tampered_payload);
    tcase_add_test(verify, verify_rejects_a_token_from_another_issuer);
    tcase_add_test(verify, verify_rejects_a_token_without_iss);
    tcase_add_test(verify, verify_rejects_hs384_header_while_hs256_is_configured);
    tcase_add_test(verify, verify_rejects_rs256_header_while_hs256_is_configured);
    tcase_add_test(verify,
                   verify_rejects_hs256_signed_with_the_public_key_while_rs256_is_configured);
    tcase_add_test(verify,
                   verify_rejects_hs256_signed_with_the_public_key_while_es256_is_configured);
    tcase_add_test(verify, verify_rejects_es256_token_while_rs256_is_configured);
    tcase_add_test(verify, verify_rejects_a_token_signed_by_another_rsa_key);
    tcase_add_test(verify, verify_rejects_garbage_strings);
    tcase_add_test(verify, verify_rejects_rs256_token_with_stray_characters_in_the_signature);
    tcase_add_test(verify, verify_rejects_the_empty_string);
    tcase_add_test(verify, verify_rejects_a_9_kib_string);
    tcase_add_test(verify, verify_accepts_a_valid_token_of_exactly_8_kib);
    tcase_add_test(verify, verify_rejects_a_valid_token_one_byte_over_8_kib);
    tcase_add_test(verify, verify_falls_back_to_sub_when_id_is_absent);
    tcase_add_test(verify, verify_prefers_id_over_sub);
    tcase_add_test(verify, verify_rejects_a_token_without_id_or_sub);
    tcase_add_test(verify, verify_rejects_a_numeric_id_without_sub);
    tcase_add_test(verify, verify_accepts_an_id_of_39_characters_and_rejects_40);
    tcase_add_test(verify, verify_rejects_a_jti_longer_than_71_characters);
    tcase_add_test(verify, verify_rejects_a_fam_longer_than_39_characters);
    tcase_add_test(verify, verify_rejects_a_jti_that_is_not_a_string);
    tcase_add_test(verify, verify_rejects_a_role_too_long_to_hold_rather_than_cutting_it);
    tcase_add_test(verify, verify_reads_tv_and_a_missing_tv_as_zero);
    tcase_add_test(verify, verify_rejects_a_tv_that_is_not_an_integer);
    tcase_add_test(verify, verify_rejects_a_token_without_exp);
    tcase_add_test(verify, verify_rejects_an_exp_that_is_not_an_integer);
    tcase_add_test(verify, verify_refuses_every_token_when_the_algorithm_is_unsupported);
    tcase_add_test(verify, verify_refuses_every_token_without_a_public_key);
    suite_add_tcase(s, verify);

    tcase_add_checked_fixture(hash, setup, teardown);
    tcase_add_test(hash, token_hash_is_h_colon_and_lowercase_hex_sha256);
    tcase_add_test(hash, token_hash_of_a_token_is_deterministic_and_differs_between_tokens);
    tcase_add_test(hash, token_hash_fits_a_67_byte_buffer);
    suite_add_tcase(s, hash);

    tcase_add_checked_fixture(uuid, setup, teardown);
    tcase_add_test(uuid, uuid_is_a_canonical_lowercase_version_4_uuid);
    tcase_add_test(uuid, uuid_is_unique_over_a_thousand_draws);
    suite_add_tcase(s, uuid);
    return s;
}

MS_SUITE(jwt_suite)
