/* Configuration from the environment. */
#include "lib/config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/err.h"
#include "lib/log.h"
#include "lib/service.h"
#include "lib/banned.h"

struct ms_config ms_config;

static char *key_private, *key_public;

static const char *env_or(const char *name, const char *def)
{
    const char *v = getenv(name);

    return (v && *v) ? v : def;
}

/* Integer variable in [lo, hi]; logs and counts a problem when bad. */
static long env_long(const char *name, long def, long lo, long hi, int *bad)
{
    const char *v = getenv(name);
    char *end;
    long n;

    if (!v || !*v)
        return def;
    errno = 0;
    n = strtol(v, &end, 10);
    if (errno || *end || n < lo || n > hi) {
        ms_log(MS_LOG_FATAL, "%s must be an integer from %ld to %ld", name, lo, hi);
        (*bad)++;
        return def;
    }
    return n;
}

long ms_config_parse_duration(const char *s)
{
    char *end;
    long n, mul = 1;

    if (!s || !*s)
        return -1;
    errno = 0;
    n = strtol(s, &end, 10);
    if (errno || end == s || n <= 0)
        return -1;
    if (*end) {
        if (end[1])
            return -1;
        switch (*end) {
        case 's':
            mul = 1;
            break;
        case 'm':
            mul = 60;
            break;
        case 'h':
            mul = 3600;
            break;
        case 'd':
            mul = 86400;
            break;
        default:
            return -1;
        }
    }
    if (n > LONG_MAX / mul)
        return -1;
    return n * mul;
}

static long env_duration(const char *name, const char *def, int *bad)
{
    const char *v = env_or(name, def);
    long n = ms_config_parse_duration(v);

    if (n < 0) {
        ms_log(MS_LOG_FATAL, "%s must be a duration such as 900, 15m, 12h or 7d", name);
        (*bad)++;
        return ms_config_parse_duration(def);
    }
    return n;
}

/* Whole file into a malloc'd NUL-terminated string; NULL (logged) on failure. */
static char *read_file(const char *var, const char *path)
{
    FILE *f = fopen(path, "rb");
    char *data = NULL;
    long size;

    if (!f) {
        ms_log(MS_LOG_FATAL, "%s: cannot open %s: %s", var, path, strerror(errno));
        return NULL;
    }
    if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0 && size < 1 << 20 &&
        fseek(f, 0, SEEK_SET) == 0) {
        data = malloc((size_t)size + 1);
        if (data && fread(data, 1, (size_t)size, f) == (size_t)size) {
            data[size] = '\0';
        } else {
            free(data);
            data = NULL;
        }
    }
    fclose(f);
    if (!data)
        ms_log(MS_LOG_FATAL, "%s: cannot read %s", var, path);
    return data;
}

static int default_workers(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);

    return n > 0 ? (int)n : 1;
}

static void load_keys(int *bad)
{
    const char *priv = getenv("JWT_PRIVATE_KEY_FILE");
    const char *pub = getenv("JWT_PUBLIC_KEY_FILE");

    ms_config.jwt_algorithm = env_or("JWT_ALGORITHM", "HS256");
    if (strcmp(ms_config.jwt_algorithm, "HS256") == 0)
        return;
    if (strcmp(ms_config.jwt_algorithm, "RS256") != 0 &&
        strcmp(ms_config.jwt_algorithm, "ES256") != 0) {
        ms_log(MS_LOG_FATAL, "JWT_ALGORITHM must be HS256, RS256 or ES256");
        (*bad)++;
        return;
    }
    if (!pub || !*pub) {
        ms_log(MS_LOG_FATAL, "JWT_ALGORITHM=%s needs JWT_PUBLIC_KEY_FILE", ms_config.jwt_algorithm);
        (*bad)++;
        return;
    }
    key_public = read_file("JWT_PUBLIC_KEY_FILE", pub);
    if (!key_public)
        (*bad)++;
    if (priv && *priv) {
        key_private = read_file("JWT_PRIVATE_KEY_FILE", priv);
        if (!key_private)
            (*bad)++;
    }
    ms_config.jwt_public_key = key_public;
    ms_config.jwt_private_key = key_private;
}

static void check_production(unsigned flags, int *bad)
{
    if (strcmp(ms_config.app_env, "production") != 0)
        return;
    if (strcmp(ms_config.jwt_algorithm, "HS256") != 0)
        return;
    if (strcmp(ms_config.jwt_secret, MS_JWT_DEFAULT_SECRET) == 0 ||
        strlen(ms_config.jwt_secret) < 32) {
        ms_log(MS_LOG_FATAL, "APP_ENV=production refuses the published default JWT_SECRET or "
                             "one shorter than 32 bytes");
        (*bad)++;
    }
    /* only the service that signs tokens reads the refresh secret */
    if ((flags & MS_SVC_SIGNS_TOKENS) &&
        (strcmp(ms_config.jwt_refresh_secret, MS_JWT_DEFAULT_REFRESH_SECRET) == 0 ||
         strlen(ms_config.jwt_refresh_secret) < 32)) {
        ms_log(MS_LOG_FATAL, "APP_ENV=production refuses the published default "
                             "JWT_REFRESH_SECRET or one shorter than 32 bytes");
        (*bad)++;
    }
}

static char hostname[128];

int ms_config_load(const char *service, unsigned flags)
{
    int bad = 0, level;

    memset(&ms_config, 0, sizeof ms_config);
    ms_config.service = service;
    level = ms_log_level_parse(env_or("LOG_LEVEL", "info"));
    if (level < 0) {
        ms_log(MS_LOG_FATAL, "LOG_LEVEL must be debug, info, warn, error or fatal");
        bad++;
        level = MS_LOG_INFO;
    }
    ms_config.log_level = level;
    ms_log_init(service, (enum ms_log_level)level);

    ms_config.app_env = env_or("APP_ENV", "development");
    ms_config.database_url = env_or("DATABASE_URL", "");
    ms_config.redis_url = env_or("REDIS_URL", "redis://127.0.0.1:6379/0");
    ms_config.jwt_secret = env_or("JWT_SECRET", MS_JWT_DEFAULT_SECRET);
    ms_config.jwt_refresh_secret = env_or("JWT_REFRESH_SECRET", MS_JWT_DEFAULT_REFRESH_SECRET);
    ms_config.jwt_issuer = env_or("JWT_ISSUER", "user-service");
    ms_config.jwt_access_ttl_s = env_duration("JWT_EXPIRES_IN", "15m", &bad);
    ms_config.jwt_refresh_ttl_s = env_duration("JWT_REFRESH_EXPIRES_IN", "7d", &bad);
    ms_config.bcrypt_cost = (int)env_long("BCRYPT_COST", 12, 4, 31, &bad);
    ms_config.workers = (int)env_long("WORKERS", default_workers(), 1, 256, &bad);
    ms_config.max_requests = env_long("MAX_REQUESTS", 10000, 0, LONG_MAX, &bad);
    ms_config.shutdown_timeout_ms = (int)env_long("SHUTDOWN_TIMEOUT_MS", 10000, 0, 600000, &bad);
    ms_config.db_connect_timeout_ms = (int)env_long("DB_CONNECT_TIMEOUT_MS", 1000, 50, 60000, &bad);
    ms_config.db_statement_timeout_ms =
        (int)env_long("DB_STATEMENT_TIMEOUT_MS", 2000, 50, 600000, &bad);
    ms_config.redis_timeout_ms = (int)env_long("REDIS_TIMEOUT_MS", 1000, 50, 60000, &bad);
    ms_config.relay_interval_ms = (int)env_long("RELAY_INTERVAL_MS", 200, 10, 60000, &bad);
    ms_config.outbox_retention_h = env_long("OUTBOX_RETENTION_H", 168, 1, 8760, &bad);
    ms_config.consumer_block_ms = (int)env_long("CONSUMER_BLOCK_MS", 2000, 10, 60000, &bad);
    ms_config.consumer_claim_idle_ms =
        (int)env_long("CONSUMER_CLAIM_IDLE_MS", 30000, 10, 86400000, &bad);
    ms_config.max_deliveries = (int)env_long("MAX_DELIVERIES", 5, 1, 1000, &bad);
    if (gethostname(hostname, sizeof hostname - 1) != 0 || !hostname[0])
        snprintf(hostname, sizeof hostname, "worker");
    ms_config.consumer_name = env_or("CONSUMER_NAME", hostname);
    ms_config.currency = env_or("CURRENCY", "USD");
    if (strlen(ms_config.currency) != 3 || !isupper((unsigned char)ms_config.currency[0]) ||
        !isupper((unsigned char)ms_config.currency[1]) ||
        !isupper((unsigned char)ms_config.currency[2])) {
        ms_log(MS_LOG_FATAL, "CURRENCY must be an ISO 4217 code such as USD or EUR");
        bad++;
    }
    ms_config.cache_ttl_s = env_long("CACHE_TTL_S", 3600, 1, 30L * 86400, &bad);
    if (!*ms_config.database_url) {
        ms_log(MS_LOG_FATAL, "DATABASE_URL is not set");
        bad++;
    }
    load_keys(&bad);
    check_production(flags, &bad);
    return bad ? MS_EINVALID : MS_OK;
}

void ms_config_release(void)
{
    free(key_private);
    free(key_public);
    key_private = key_public = NULL;
    ms_config.jwt_private_key = ms_config.jwt_public_key = NULL;
}
