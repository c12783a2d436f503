/* Configuration from the environment, read once at start; the global ms_config
 * is read-only afterwards. Every variable is documented in the services'
 * .env.example files. */
#ifndef MS_CONFIG_H
#define MS_CONFIG_H

#include <stddef.h>

#define MS_JWT_DEFAULT_SECRET         "your-super-secret-jwt-key-change-in-production"
#define MS_JWT_DEFAULT_REFRESH_SECRET "your-super-secret-refresh-key-change-in-production"

struct ms_config {
    const char *service;      /* "user", "product", … */
    const char *app_env;      /* APP_ENV: development | production | test */
    const char *database_url; /* DATABASE_URL */
    const char *redis_url;    /* REDIS_URL */
    const char *jwt_secret;   /* JWT_SECRET (HS256) */
    const char *jwt_refresh_secret;
    const char *jwt_issuer;      /* JWT_ISSUER, default "user-service" */
    const char *jwt_algorithm;   /* JWT_ALGORITHM: HS256 | RS256 | ES256 */
    const char *jwt_private_key; /* JWT_PRIVATE_KEY_FILE contents (user service only) */
    const char *jwt_public_key;  /* JWT_PUBLIC_KEY_FILE contents */
    long jwt_access_ttl_s;       /* JWT_EXPIRES_IN: 900, "15m", "1h", "7d" */
    long jwt_refresh_ttl_s;      /* JWT_REFRESH_EXPIRES_IN */
    int bcrypt_cost;             /* BCRYPT_COST (4..31), default 12 */
    int workers;                 /* WORKERS, default = cores */
    long max_requests;           /* MAX_REQUESTS, default 10000; 0 = never recycle */
    int shutdown_timeout_ms;     /* SHUTDOWN_TIMEOUT_MS, default 10000 */
    int db_connect_timeout_ms;   /* DB_CONNECT_TIMEOUT_MS, default 1000 */
    int db_statement_timeout_ms; /* DB_STATEMENT_TIMEOUT_MS, default 2000 */
    int redis_timeout_ms;        /* REDIS_TIMEOUT_MS, default 1000 */
    int log_level;               /* LOG_LEVEL */
    const char *currency;        /* CURRENCY, ISO 4217 (three capitals), default USD */
    long cache_ttl_s;            /* CACHE_TTL_S: lifetime of cached reads, default 3600 */
    int relay_interval_ms;       /* RELAY_INTERVAL_MS: the relay's safety-net timer, default 200 */
    long outbox_retention_h;     /* OUTBOX_RETENTION_H: published rows kept, default 168 */
    int consumer_block_ms;       /* CONSUMER_BLOCK_MS: XREADGROUP BLOCK, default 2000 */
    int consumer_claim_idle_ms;  /* CONSUMER_CLAIM_IDLE_MS: reclaim pending after, default 30000 */
    int max_deliveries;          /* MAX_DELIVERIES: then events:dead, default 5 */
    const char *consumer_name;   /* CONSUMER_NAME: default the host name */
};

extern struct ms_config ms_config;

/* Fill ms_config from the environment for service (flags: its MS_SVC_*, see
 * lib/service.h). On a bad value logs one
 * clear line per problem (naming the variable, never its secret value) and
 * returns MS_EINVALID; 0 on success. */
int ms_config_load(const char *service, unsigned flags);

/* Parse a duration: "900" (seconds), "15m", "12h", "7d", "30s". -1 if bad. */
long ms_config_parse_duration(const char *s);

/* Release what ms_config_load() read from files (keys). */
void ms_config_release(void);

#endif
