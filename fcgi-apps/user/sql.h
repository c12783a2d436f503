/* Every SQL statement of the user service, prepared on each (re)connect.
 * Timestamps are `timestamp without time zone` holding UTC (the Node schema);
 * sessions run with TimeZone=UTC, so LOCALTIMESTAMP is "now" in UTC. */
#ifndef USER_SQL_H
#define USER_SQL_H

#include "lib/db.h"
#include "lib/sql.h"


/* The public user object (SPEC §3): never password_hash, lockout, IP or
 * deletion fields. row_to_json over a subselect keeps the column order and
 * prints compact JSON. */
#define USER_COLS(u)                                                                 \
    u ".id, " u ".email, " u ".name, " u ".phone, " u ".role, " u ".status, " u       \
    ".email_verified, " MS_SQL_TS(u ".email_verified_at") " AS email_verified_at, "          \
    MS_SQL_TS(u ".last_login_at") " AS last_login_at, " MS_SQL_TS(u ".created_at") " AS created_at, " \
    MS_SQL_TS(u ".updated_at") " AS updated_at"

#define PROFILE_COLS(p)                                                                   \
    p ".id, " p ".user_id, " p ".avatar_url, " p ".bio, to_char(" p ".date_of_birth, "     \
    "'YYYY-MM-DD') AS date_of_birth, " p ".gender, " p ".address_line1, " p                \
    ".address_line2, " p ".city, " p ".state, " p ".country, " p ".postal_code, " p        \
    ".notification_preferences, " p ".preferences, " p ".metadata, " MS_SQL_TS(p ".created_at")   \
    " AS created_at, " MS_SQL_TS(p ".updated_at") " AS updated_at"

#define USER_JSON(u) MS_SQL_JSON_OF(USER_COLS(u))
#define PROFILE_JSON(p) MS_SQL_JSON_OF(PROFILE_COLS(p))

#define USER_WITH_PROFILE(u)                                                              \
    MS_SQL_JSON_OF(USER_COLS(u) ", (SELECT " PROFILE_JSON("p") " FROM profiles p "                \
            "WHERE p.user_id = " u ".id) AS profile")

/* The data of user.registered / user.updated (SPEC §4) from a users row u
 * and its profile row p. */
#define USER_EVENT_DATA(u, p)                                                              \
    "json_build_object('user_id', " u ".id, 'email', " u ".email, 'name', " u ".name, "    \
    "'phone', " u ".phone, 'notification_preferences', " p ".notification_preferences)"

/* New refresh token row of a login: $jti, $family, user, $ttl seconds. */
#define REFRESH_INSERT(jti, fam, ttl, from)                                      \
    "INSERT INTO refresh_tokens (jti, family_id, user_id, expires_at) SELECT " jti \
    ", " fam "::uuid, id, now() + make_interval(secs => " ttl "::int) FROM " from

#define USER_SQL(X)                                                                          \
    /* $1 email $2 hash $3 name $4 phone $5 jti $6 family $7 ttl */                          \
    X(USER_REGISTER, 7,                                                                      \
      "WITH u AS (INSERT INTO users (email, password_hash, name, phone) "                    \
      "VALUES ($1, $2, $3, $4) RETURNING *), "                                               \
      "p AS (INSERT INTO profiles (user_id) SELECT id FROM u RETURNING "                     \
      "user_id, notification_preferences), "                                                 \
      "o AS (INSERT INTO outbox (stream, type, data) SELECT 'events:user', "                \
      "'user.registered', " USER_EVENT_DATA("u", "p") " FROM u JOIN p ON p.user_id = u.id), " \
      "r AS (" REFRESH_INSERT("$5", "$6", "$7", "u") ") "                                    \
      "SELECT u.id, " USER_JSON("u") " FROM u")                         \
    X(USER_FOR_LOGIN, 1,                                                                     \
      "SELECT id, email, password_hash, role, status, token_version, "                      \
      "locked_until IS NOT NULL AND locked_until > LOCALTIMESTAMP "                          \
      "FROM users WHERE email = $1 AND deleted_at IS NULL")                                  \
    /* a failed login: the counter restarts when an earlier lock has expired */              \
    X(USER_LOGIN_FAILED, 1,                                                                  \
      "UPDATE users SET failed_login_attempts = CASE WHEN locked_until <= LOCALTIMESTAMP "  \
      "THEN 1 ELSE failed_login_attempts + 1 END, "                                          \
      "locked_until = CASE WHEN (CASE WHEN locked_until <= LOCALTIMESTAMP THEN 1 "           \
      "ELSE failed_login_attempts + 1 END) >= 5 "                                            \
      "THEN LOCALTIMESTAMP + interval '15 minutes' "                                         \
      "WHEN locked_until <= LOCALTIMESTAMP THEN NULL ELSE locked_until END "                 \
      "WHERE id = $1 RETURNING locked_until IS NOT NULL AND locked_until > LOCALTIMESTAMP")  \
    /* $1 id $2 ip $3 new hash or NULL $4 jti $5 family $6 ttl */                            \
    X(USER_LOGIN_OK, 6,                                                                      \
      "WITH u AS (UPDATE users SET last_login_at = LOCALTIMESTAMP, last_login_ip = $2, "     \
      "failed_login_attempts = 0, locked_until = NULL, updated_at = LOCALTIMESTAMP, "        \
      "password_hash = COALESCE($3, password_hash) "                                         \
      "WHERE id = $1 AND deleted_at IS NULL RETURNING *), "                                  \
      "r AS (" REFRESH_INSERT("$4", "$5", "$6", "u") ") "                                    \
      "SELECT " USER_JSON("u") " FROM u")                               \
    X(USER_ME, 1,                                                                            \
      "SELECT " USER_JSON("u") " FROM users u "                         \
      "WHERE u.id = $1 AND u.deleted_at IS NULL")                                            \
    X(USER_WITH_PROFILE_BY_ID, 1,                                                            \
      "SELECT " USER_WITH_PROFILE("u") " FROM users u WHERE u.id = $1 AND u.deleted_at IS NULL") \
    X(USER_STATE, 1,                                                                         \
      "SELECT role, CASE WHEN deleted_at IS NOT NULL THEN 'deleted' ELSE status END, "      \
      "token_version FROM users WHERE id = $1")                                              \
    X(USER_STATE_ALL, 2,                                                                     \
      "SELECT id, role, CASE WHEN deleted_at IS NOT NULL THEN 'deleted' ELSE status END, "  \
      "token_version FROM users WHERE id > $1::uuid ORDER BY id LIMIT $2")                   \
    X(USER_PASSWORD_HASH, 1,                                                                 \
      "SELECT password_hash FROM users WHERE id = $1 AND deleted_at IS NULL")                \
    /* $1 id $2 new hash */                                                                  \
    X(USER_SET_PASSWORD, 2,                                                                  \
      "WITH u AS (UPDATE users SET password_hash = $2, token_version = token_version + 1, "  \
      "updated_at = LOCALTIMESTAMP WHERE id = $1 AND deleted_at IS NULL "                    \
      "RETURNING id, role, status, token_version), "                                         \
      "o AS (INSERT INTO outbox (stream, type, data) SELECT 'events:user', "                \
      "'user.password_changed', json_build_object('user_id', u.id) FROM u) "                \
      "SELECT role, status, token_version FROM u")                                           \
    /* $1 id, $2 provided field names, $3.. values (see profile.c) */                        \
    X(USER_UPDATE_PROFILE, 15,                                                               \
      "WITH u AS (UPDATE users SET "                                                         \
      "name = CASE WHEN 'name' = ANY($2::text[]) THEN $3 ELSE name END, "                    \
      "phone = CASE WHEN 'phone' = ANY($2::text[]) THEN $4 ELSE phone END, "                 \
      "updated_at = LOCALTIMESTAMP WHERE id = $1 AND deleted_at IS NULL RETURNING *), "      \
      "p AS (INSERT INTO profiles AS p (user_id, bio, avatar_url, date_of_birth, gender, "   \
      "address_line1, address_line2, city, state, country, postal_code, "                   \
      "notification_preferences) SELECT u.id, $5, $6, $7::date, $8, $9, $10, $11, $12, "     \
      "$13, $14, COALESCE($15::jsonb, '{\"email\": true, \"sms\": false, \"push\": true, "   \
      "\"marketing\": false}'::jsonb) FROM u "                                               \
      "ON CONFLICT (user_id) DO UPDATE SET "                                                 \
      "bio = CASE WHEN 'bio' = ANY($2::text[]) THEN $5 ELSE p.bio END, "                     \
      "avatar_url = CASE WHEN 'avatar_url' = ANY($2::text[]) THEN $6 ELSE p.avatar_url END, " \
      "date_of_birth = CASE WHEN 'date_of_birth' = ANY($2::text[]) THEN $7::date "            \
      "ELSE p.date_of_birth END, "                                                           \
      "gender = CASE WHEN 'gender' = ANY($2::text[]) THEN $8 ELSE p.gender END, "            \
      "address_line1 = CASE WHEN 'address_line1' = ANY($2::text[]) THEN $9 "                 \
      "ELSE p.address_line1 END, "                                                           \
      "address_line2 = CASE WHEN 'address_line2' = ANY($2::text[]) THEN $10 "                \
      "ELSE p.address_line2 END, "                                                           \
      "city = CASE WHEN 'city' = ANY($2::text[]) THEN $11 ELSE p.city END, "                 \
      "state = CASE WHEN 'state' = ANY($2::text[]) THEN $12 ELSE p.state END, "              \
      "country = CASE WHEN 'country' = ANY($2::text[]) THEN $13 ELSE p.country END, "        \
      "postal_code = CASE WHEN 'postal_code' = ANY($2::text[]) THEN $14 "                    \
      "ELSE p.postal_code END, "                                                             \
      "notification_preferences = CASE WHEN 'notification_preferences' = ANY($2::text[]) "  \
      "THEN $15::jsonb ELSE p.notification_preferences END, "                                \
      "updated_at = LOCALTIMESTAMP RETURNING *), "                                           \
      "o AS (INSERT INTO outbox (stream, type, data) SELECT 'events:user', 'user.updated', " \
      USER_EVENT_DATA("u", "p") " FROM u, p) "                                               \
      "SELECT " MS_SQL_JSON_OF(USER_COLS("u") ", " PROFILE_JSON("p") " AS profile") " FROM u, p")                                                    \
    /* the last-admin rule (account.c): every admin who can act, locked in id order */     \
    X(USER_ADMINS_LOCK, 0,                                                                   \
      "SELECT id FROM users WHERE role = 'admin' AND status = 'active' "                    \
      "AND deleted_at IS NULL ORDER BY id FOR UPDATE")                                       \
    X(USER_LOCK, 1,                                                                          \
      "SELECT id, email, role, status FROM users WHERE id = $1 AND deleted_at IS NULL "     \
      "FOR UPDATE")                                                                          \
    X(USER_LOCK_BY_EMAIL, 1,                                                                 \
      "SELECT id, email, role, status FROM users WHERE email = $1 AND deleted_at IS NULL "  \
      "FOR UPDATE")                                                                          \
    /* $1 id $2 role or NULL (kept) $3 status or NULL (kept) */                              \
    X(USER_SET_ACCOUNT, 3,                                                                   \
      "WITH u AS (UPDATE users SET role = COALESCE($2, role), status = COALESCE($3, status), " \
      "updated_at = LOCALTIMESTAMP WHERE id = $1 AND deleted_at IS NULL RETURNING *), "      \
      "o AS (INSERT INTO outbox (stream, type, data) SELECT 'events:user', 'user.updated', " \
      USER_EVENT_DATA("u", "p") " FROM u LEFT JOIN profiles p ON p.user_id = u.id) "         \
      "SELECT role, status, token_version FROM u")                                           \
    X(USER_SOFT_DELETE, 1,                                                                   \
      "WITH u AS (UPDATE users SET deleted_at = LOCALTIMESTAMP, updated_at = LOCALTIMESTAMP, " \
      "token_version = token_version + 1 WHERE id = $1 AND deleted_at IS NULL "              \
      "RETURNING id, role, token_version), "                                                 \
      "o AS (INSERT INTO outbox (stream, type, data) SELECT 'events:user', "                \
      "'user.deleted', json_build_object('user_id', u.id) FROM u) "                         \
      "SELECT role, token_version FROM u")                                                   \
    /* $1 status or NULL, $2 role or NULL, $3 limit, $4 offset */                            \
    X(USER_LIST, 4,                                                                          \
      "SELECT " USER_WITH_PROFILE("u") " FROM users u WHERE u.deleted_at IS NULL "          \
      "AND ($1::text IS NULL OR u.status = $1) AND ($2::text IS NULL OR u.role = $2) "       \
      "ORDER BY u.created_at DESC, u.id DESC LIMIT $3 OFFSET $4")                            \
    X(USER_COUNT, 2,                                                                         \
      "SELECT count(*) FROM users WHERE deleted_at IS NULL "                                 \
      "AND ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR role = $2)")           \
    /* refresh: spend a token once; $1 jti */                                                \
    X(REFRESH_SPEND, 1,                                                                      \
      "UPDATE refresh_tokens SET used_at = now() WHERE jti = $1 AND used_at IS NULL "       \
      "AND expires_at > now() RETURNING family_id, user_id")                                 \
    X(REFRESH_FIND, 1, "SELECT family_id, user_id FROM refresh_tokens WHERE jti = $1")       \
    /* a token without jti (Node's): recorded as spent on first use; $1 hash $2 user $3 exp */ \
    X(REFRESH_SPEND_LEGACY, 3,                                                               \
      "INSERT INTO refresh_tokens (jti, family_id, user_id, expires_at, used_at) "          \
      "VALUES ($1, gen_random_uuid(), $2::uuid, to_timestamp($3::bigint), now()) "           \
      "ON CONFLICT (jti) DO NOTHING RETURNING family_id")                                    \
    /* $1 jti $2 family $3 user $4 ttl */                                                    \
    X(REFRESH_ISSUE, 4,                                                                      \
      "INSERT INTO refresh_tokens (jti, family_id, user_id, expires_at) "                   \
      "VALUES ($1, $2::uuid, $3::uuid, now() + make_interval(secs => $4::int))")             \
    /* the user a refresh is for, and whether its family is revoked; $1 user $2 family */   \
    X(REFRESH_USER, 2,                                                                       \
      "SELECT u.email, u.role, u.status, u.deleted_at IS NOT NULL, u.token_version, "       \
      "EXISTS (SELECT 1 FROM token_revocations WHERE id = $2 AND expires_at > now()) "       \
      "FROM users u WHERE u.id = $1::uuid")                                                  \
    /* $1 id (family or token hash) $2 seconds to keep it */                                 \
    X(REVOKE, 2,                                                                             \
      "INSERT INTO token_revocations (id, expires_at) "                                     \
      "VALUES ($1, now() + make_interval(secs => $2::int)) ON CONFLICT (id) DO UPDATE "      \
      "SET expires_at = GREATEST(token_revocations.expires_at, EXCLUDED.expires_at)")       \
    X(REVOKED_ALL, 0,                                                                        \
      "SELECT id, extract(epoch FROM expires_at)::bigint FROM token_revocations "           \
      "WHERE expires_at > now()")


MS_SQL_DEFINE(USER_SQL, user_sql);

#endif
