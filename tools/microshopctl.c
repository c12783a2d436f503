/* microshopctl: the operator's jobs from a shell.
 *
 *   microshopctl migrate <service> [--dir DIR]   apply migrations/<service>/NNN_*.sql
 *   microshopctl set-role <email> <user|moderator|admin> [--force]
 *   microshopctl set-status <email> <active|suspended> [--force]
 *   microshopctl hash-time [cost] [n]           median seconds of one bcrypt hash
 *   microshopctl seed --products N               a demo catalogue in the product database
 *   microshopctl events dead [list|show ID|replay ID|replay --all]
 *                                                the dead letters of every consumer
 *
 * Reads the same environment as the services (DATABASE_URL, REDIS_URL, …).
 * Run from a checkout with none set, it uses the stand that `make up`
 * started there: var/stand.env (written by tools/up.sh) gives its PostgreSQL,
 * Redis and secrets, and DATABASE_URL becomes the database of the service the
 * command is for. The environment always wins. */
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <libpq-fe.h>
#include <openssl/evp.h>

#include "fcgi-apps/user/sql.h"
#include "fcgi-apps/user/user.h"
#include "lib/arena.h"
#include "lib/auth.h"
#include "lib/cache.h"
#include "lib/clock.h"
#include "lib/consumer.h"
#include "lib/ctx.h"
#include "lib/db.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/password.h"
#include "lib/validate.h"
#include "lib/banned.h"

#define MAX_MIGRATIONS 512
#define MIGRATE_LOCK   "727002"

static void usage(void)
{
    fprintf(stderr, "usage: microshopctl migrate <service> [--dir DIR]\n"
                    "       microshopctl set-role <email> <user|moderator|admin> [--force]\n"
                    "       microshopctl set-status <email> <active|suspended> [--force]\n"
                    "       microshopctl hash-time [cost] [n]\n"
                    "       microshopctl seed --products N   (DATABASE_URL: the product database)\n"
                    "       microshopctl events dead [list|show ID|replay ID|replay --all]\n"
                    "environment: DATABASE_URL, REDIS_URL; unset, the stand of `make up` "
                    "(var/stand.env)\n");
}

/* ---- the stand of `make up` ---------------------------------------------- */

/* var/stand.env of the checkout this binary was built in (bin/.. or
 * build/san/bin/../../..), else of the current directory; "" if none. */
static void stand_file(char *out, size_t cap)
{
    static const char *const up[] = { "/../var/stand.env", "/../../../var/stand.env" };
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);

    if (n > 0) {
        char *slash;

        exe[n] = '\0';
        slash = strrchr(exe, '/');
        if (slash)
            *slash = '\0';
        for (size_t i = 0; i < sizeof up / sizeof up[0]; i++) {
            snprintf(out, cap, "%s%s", exe, up[i]);
            if (access(out, R_OK) == 0)
                return;
        }
    }
    snprintf(out, cap, "var/stand.env");
    if (access(out, R_OK) != 0)
        out[0] = '\0';
}

/* Fill the environment from the stand's file, each variable only if unset,
 * and DATABASE_URL from its PG_URL and database (microshop_<service>). */
static void load_stand(const char *service)
{
    char path[PATH_MAX + 32], line[1024];
    FILE *f;

    stand_file(path, sizeof path);
    if (!path[0] || !(f = fopen(path, "r")))
        return;
    while (fgets(line, sizeof line, f)) {
        char *eq = strchr(line, '=');

        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] == '#' || !eq)
            continue;
        *eq = '\0';
        setenv(line, eq + 1, 0);
    }
    fclose(f);
    if (service && !getenv("DATABASE_URL") && getenv("PG_URL")) {
        char url[1024];

        snprintf(url, sizeof url, "%s/microshop_%s", getenv("PG_URL"), service);
        setenv("DATABASE_URL", url, 0);
    }
}

static PGconn *connect_db(void)
{
    const char *url = getenv("DATABASE_URL");
    PGconn *c;

    if (!url || !*url) {
        fprintf(stderr, "microshopctl: DATABASE_URL is not set\n");
        return NULL;
    }
    c = PQconnectdb(url);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "microshopctl: cannot connect to the database: %s", PQerrorMessage(c));
        PQfinish(c);
        return NULL;
    }
    PQclear(PQexecParams(c, "SET client_min_messages = warning", 0, NULL, NULL, NULL, NULL, 0));
    PQclear(PQexecParams(c, "SET TimeZone = 'UTC'", 0, NULL, NULL, NULL, NULL, 0));
    return c;
}

/* Run sql, our own text with no input in it; 0 or -1 with the server's
 * message printed. Simple-query protocol on purpose: a migration file or the
 * seed is several statements, which PQexecParams cannot run. */
static int exec_ok(PGconn *c, const char *sql, const char *what)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    int ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;

    if (!ok)
        fprintf(stderr, "microshopctl: %s failed: %s", what, PQresultErrorMessage(r));
    PQclear(r);
    return ok ? 0 : -1;
}

/* ---- migrate --------------------------------------------------------------- */

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long n;

    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
        buf = malloc((size_t)n + 1);
        if (buf && fread(buf, 1, (size_t)n, f) == (size_t)n) {
            buf[n] = '\0';
            *len = (size_t)n;
        } else {
            free(buf);
            buf = NULL;
        }
    }
    fclose(f);
    return buf;
}

static void sha256_hex(const char *data, size_t len, char out[65])
{
    unsigned char md[32];
    unsigned int mdlen = 0;

    EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
    for (unsigned int i = 0; i < mdlen && i < 32; i++)
        snprintf(out + i * 2, 3, "%02x", md[i]);
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted NNN_*.sql names of dir (malloc'd); count in *n. */
static char **list_migrations(const char *dir, int *n)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char **names = calloc(MAX_MIGRATIONS, sizeof(char *));

    *n = 0;
    if (!d || !names) {
        if (d)
            closedir(d);
        free(names);
        return NULL;
    }
    while ((e = readdir(d)) && *n < MAX_MIGRATIONS) {
        size_t len = strlen(e->d_name);

        if (len > 8 && strcmp(e->d_name + len - 4, ".sql") == 0 && e->d_name[0] >= '0' &&
            e->d_name[0] <= '9' && strchr(e->d_name, '_'))
            names[(*n)++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, (size_t)*n, sizeof(char *), cmp_names);
    return names;
}

/* A database the Node service created has its tables and no
 * schema_migrations: its 001 is taken as applied. */
static const struct {
    const char *service, *version, *table;
} adopt[] = { { "user", "001", "users" } };

static int create_journal(PGconn *c, const char *service, int *fresh)
{
    PGresult *r = PQexecParams(c, "SELECT to_regclass('public.schema_migrations') IS NULL", 0, NULL,
                               NULL, NULL, NULL, 0);

    *fresh = PQresultStatus(r) == PGRES_TUPLES_OK && strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    (void)service;
    return exec_ok(c,
                   "CREATE TABLE IF NOT EXISTS schema_migrations (version text PRIMARY KEY, "
                   "name text NOT NULL, checksum text NOT NULL, "
                   "applied_at timestamptz NOT NULL DEFAULT now())",
                   "creating schema_migrations");
}

static int table_exists(PGconn *c, const char *table)
{
    PGresult *r = PQexecParams(c, "SELECT to_regclass($1) IS NOT NULL", 1, NULL,
                               (const char *[]){ table }, NULL, NULL, 0);
    int yes = PQresultStatus(r) == PGRES_TUPLES_OK && strcmp(PQgetvalue(r, 0, 0), "t") == 0;

    PQclear(r);
    return yes;
}

static int record(PGconn *c, const char *version, const char *name, const char *sum)
{
    PGresult *r = PQexecParams(c,
                               "INSERT INTO schema_migrations (version, name, checksum) "
                               "VALUES ($1, $2, $3)",
                               3, NULL, (const char *[]){ version, name, sum }, NULL, NULL, 0);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;

    if (!ok)
        fprintf(stderr, "microshopctl: recording %s failed: %s", name, PQresultErrorMessage(r));
    PQclear(r);
    return ok ? 0 : -1;
}

/* Apply or check one migration file. 1 applied, 0 already there, -1 error. */
static int migrate_one(PGconn *c, const char *service, const char *dir, const char *name, int fresh,
                       const char *vprefix)
{
    char path[8192], version[48], sum[65];
    size_t len = 0, vlen = (size_t)(strchr(name, '_') - name);
    char *sql;
    PGresult *r;
    int rc = -1;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    snprintf(version, sizeof version, "%s%.*s", vprefix, (int)(vlen < 31 ? vlen : 31), name);
    sql = read_all(path, &len);
    if (!sql) {
        fprintf(stderr, "microshopctl: cannot read %s\n", path);
        return -1;
    }
    sha256_hex(sql, len, sum);
    r = PQexecParams(c, "SELECT checksum FROM schema_migrations WHERE version = $1", 1, NULL,
                     (const char *[]){ version }, NULL, NULL, 0);
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
        if (strcmp(PQgetvalue(r, 0, 0), sum) != 0)
            fprintf(stderr,
                    "microshopctl: %s was edited after it was applied (checksum differs); "
                    "add a new migration instead\n",
                    path);
        else
            rc = 0;
        goto out;
    }
    for (size_t i = 0; fresh && !*vprefix && i < sizeof adopt / sizeof adopt[0]; i++)
        if (strcmp(adopt[i].service, service) == 0 && strcmp(adopt[i].version, version) == 0 &&
            table_exists(c, adopt[i].table)) {
            printf("  %s: adopted (the tables already exist)\n", name);
            rc = record(c, version, name, sum) < 0 ? -1 : 1;
            goto out;
        }
    if (exec_ok(c, "BEGIN", "BEGIN") < 0)
        goto out;
    if (exec_ok(c, sql, name) < 0 || record(c, version, name, sum) < 0) {
        exec_ok(c, "ROLLBACK", "ROLLBACK");
        goto out;
    }
    if (exec_ok(c, "COMMIT", "COMMIT") == 0) {
        printf("  %s: applied\n", name);
        rc = 1;
    }
out:
    PQclear(r);
    free(sql);
    return rc;
}

static int cmd_migrate(int argc, char **argv)
{
    const char *service, *dir_arg = NULL;
    char dir[4096];
    char **names;
    char **cnames;
    int n = 0, cn = 0, fresh = 0, rc = 0, applied = 0;
    PGconn *c;

    if (argc < 1)
        return usage(), 2;
    service = argv[0];
    if (strcmp(service, "common") == 0 || strchr(service, '/') || service[0] == '.') {
        fprintf(stderr, "microshopctl: '%s' is not a service\n", service);
        return 2;
    }
    if (argc >= 3 && strcmp(argv[1], "--dir") == 0)
        dir_arg = argv[2];
    snprintf(dir, sizeof dir, "%s/%s", dir_arg ? dir_arg : "migrations", service);
    names = list_migrations(dir, &n);
    if (!names) {
        fprintf(stderr, "microshopctl: cannot read %s\n", dir);
        return 1;
    }
    c = connect_db();
    if (!c)
        rc = 1;
    if (c && (exec_ok(c, "SELECT pg_advisory_lock(" MIGRATE_LOCK ")", "locking") < 0 ||
              create_journal(c, service, &fresh) < 0))
        rc = 1;
    printf("migrations of %s:\n", service);
    for (int i = 0; rc == 0 && i < n; i++) {
        int r = migrate_one(c, service, dir, names[i], fresh, "");

        if (r < 0)
            rc = 1;
        applied += r > 0;
    }
    /* then what every service shares (migrations/common), journaled as
     * common/NNN; only adds, so it may follow the service's own files */
    snprintf(dir, sizeof dir, "%s/common", dir_arg ? dir_arg : "migrations");
    cnames = list_migrations(dir, &cn);
    for (int i = 0; rc == 0 && cnames && i < cn; i++) {
        int r = migrate_one(c, service, dir, cnames[i], fresh, "common/");

        if (r < 0)
            rc = 1;
        applied += r > 0;
    }
    if (rc == 0)
        printf("  %d applied, %d in all\n", applied, n + cn);
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
    for (int i = 0; cnames && i < cn; i++)
        free(cnames[i]);
    free(cnames);
    PQfinish(c);
    return rc;
}

/* ---- set-role, set-status ---------------------------------------------------- */

/* Every service reads the current role and status from Redis on the next
 * request; the user worker also writes it from the event (the safety net). */
static int write_state(const struct user_account *a)
{
    const char *url = getenv("REDIS_URL");
    struct ms_cache *cache = ms_cache_new(url && *url ? url : "redis://127.0.0.1:6379/0", 2000);
    struct ms_user_state st;
    int rc;

    if (!cache)
        return -1;
    snprintf(st.role, sizeof st.role, "%s", a->role);
    snprintf(st.status, sizeof st.status, "%s", a->status);
    st.tv = a->tv;
    rc = ms_auth_state_write(cache, a->id, &st);
    if (rc == 0) {
        char key[80];

        /* the cached public user JSON shows the role and status too */
        snprintf(key, sizeof key, USER_CACHE_KEY "%s", a->id);
        rc = ms_cache_cmd(cache, NULL, NULL, 2, (const char *[]){ "DEL", key }, NULL);
    }
    ms_cache_free(cache);
    return rc;
}

/* set-role / set-status: the user service's own statements and last-admin
 * rule (fcgi-apps/user/account.c), its event through the outbox. */
static int cmd_set_account(const char *what, int argc, char **argv)
{
    static const char *const roles[] = { "user", "moderator", "admin", NULL };
    static const char *const statuses[] = { "active", "suspended", NULL };
    int is_role = strcmp(what, "set-role") == 0;
    const char *value = argc >= 2 ? argv[1] : NULL;
    char email[256];
    int force = 0, rc;
    const char *url;
    struct ms_arena *arena;
    struct ms_db *db;
    struct user_account acct;

    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--force") != 0)
            return usage(), 2;
        force = 1;
    }
    if (!value || !ms_valid_enum(value, is_role ? roles : statuses))
        return usage(), 2;
    if (ms_normalize_email(argv[0], email, sizeof email) < 0) {
        fprintf(stderr, "microshopctl: not an email address: %s\n", argv[0]);
        return 2;
    }
    url = getenv("DATABASE_URL");
    if (!url || !*url) {
        fprintf(stderr, "microshopctl: DATABASE_URL is not set (and no stand of make up "
                        "was found in var/stand.env)\n");
        return 1;
    }
    arena = ms_arena_new(0);
    db = ms_db_new(url, user_sql, user_sql_count, 5000, 10000);
    if (!arena || !db) {
        ms_db_free(db);
        ms_arena_free(arena);
        return 1;
    }
    rc = user_account_set(db, arena, email, is_role ? value : NULL, is_role ? NULL : value, force,
                          &acct);
    ms_db_free(db);
    ms_arena_free(arena);
    if (rc == MS_ENOTFOUND) {
        fprintf(stderr, "microshopctl: no user with email %s\n", email);
        return 1;
    }
    if (rc == MS_ECONFLICT) {
        fprintf(stderr, "microshopctl: %s is the last active admin; refusing (use --force)\n",
                email);
        return 1;
    }
    if (rc < 0) {
        fprintf(stderr, "microshopctl: %s failed: %s\n", what, ms_err_message(rc));
        return 1;
    }
    if (write_state(&acct) < 0)
        fprintf(stderr, "microshopctl: saved; Redis could not be updated now, the user worker "
                        "will do it when Redis is back\n");
    printf("%s is now %s\n", email, value);
    return 0;
}

/* ---- seed ------------------------------------------------------------------ */

/* A demo catalogue, set-based so that 100,000 products take seconds: a
 * category tree, three warehouses, products named from word lists per
 * category with prices, and stock in one to three warehouses, each with its
 * ledger row. Runs in one transaction; products get SKUs DEMO-NNNNNNN after
 * the highest one already there, so seeding twice adds more. */
static const char seed_sql[] =
    "INSERT INTO categories (name, description) SELECT n, n || ' for every day' FROM "
    "unnest(ARRAY['Electronics','Home','Outdoors','Books']) n WHERE NOT EXISTS "
    "(SELECT 1 FROM categories c WHERE c.parent_id IS NULL AND lower(c.name) = lower(n));"
    "INSERT INTO categories (name, parent_id) SELECT s.child, p.id FROM (VALUES "
    "('Electronics','Phones'),('Electronics','Laptops'),('Electronics','Audio'),"
    "('Home','Kitchen'),('Home','Furniture'),('Outdoors','Camping'),('Outdoors','Cycling'),"
    "('Books','Fiction'),('Books','Non-fiction')) s(parent, child) "
    "JOIN categories p ON p.parent_id IS NULL AND p.name = s.parent "
    "WHERE NOT EXISTS (SELECT 1 FROM categories c WHERE c.parent_id = p.id AND c.name = s.child);"
    "INSERT INTO warehouses (code, name) VALUES ('WH-EAST','East coast'),"
    "('WH-WEST','West coast'),('WH-NORTH','North hub') ON CONFLICT (code) DO NOTHING;"
    "CREATE TEMP TABLE seed_products ON COMMIT DROP AS "
    "WITH leaf AS (SELECT id, name, row_number() OVER (ORDER BY name) - 1 AS k, "
    "count(*) OVER () AS n FROM categories WHERE parent_id IS NOT NULL), "
    "start AS (SELECT COALESCE(max(substring(sku FROM 6)::bigint), 0) AS s FROM products "
    "WHERE sku ~ '^DEMO-[0-9]+$') "
    "SELECT 'DEMO-' || lpad((start.s + g)::text, 7, '0') AS sku, "
    "(ARRAY['Classic','Compact','Deluxe','Eco','Pro','Smart','Ultra','Vintage','Rugged','Silent'])"
    "[1 + g % 10] || ' ' || (ARRAY['Red','Blue','Green','Black','White','Silver'])[1 + (g / 10) % 6]"
    " || ' ' || leaf.name || ' ' || (g % 997) AS name, "
    "'A ' || lower((ARRAY['durable','lightweight','handmade','bestselling','prize-winning'])"
    "[1 + g % 5]) || ' item from our ' || leaf.name || ' range. Model ' || g || '.' AS description, "
    "(499 + (g * 7919) % 99500)::bigint AS price_minor, leaf.id AS category_id, g "
    "FROM generate_series(1, current_setting('microshop.seed_n')::int) g CROSS JOIN start "
    "JOIN leaf ON leaf.k = g % leaf.n;"
    "INSERT INTO products (sku, name, description, price_minor, category_id) "
    "SELECT sku, name, description, price_minor, category_id FROM seed_products;"
    "CREATE TEMP TABLE seed_stock ON COMMIT DROP AS SELECT p.id AS product_id, w.id AS "
    "warehouse_id, ((sp.g * 31 + w.rn * 17) % 120)::int AS qty FROM seed_products sp "
    "JOIN products p ON p.sku = sp.sku "
    "JOIN (SELECT id, row_number() OVER (ORDER BY code) AS rn FROM warehouses "
    "WHERE code LIKE 'WH-%') w ON w.rn <= 1 + sp.g % 3;"
    "DELETE FROM seed_stock WHERE qty = 0;"
    "INSERT INTO inventory (product_id, warehouse_id, quantity) "
    "SELECT product_id, warehouse_id, qty FROM seed_stock;"
    "INSERT INTO inventory_movements (product_id, warehouse_id, delta, reason, quantity_after) "
    "SELECT product_id, warehouse_id, qty, 'seed', qty FROM seed_stock;"
    "UPDATE products p SET available = s.total FROM (SELECT product_id, sum(qty) AS total "
    "FROM seed_stock GROUP BY product_id) s WHERE p.id = s.product_id;";

/* The product service caches the category list and tree: drop them (best
 * effort; they also expire). */
static void drop_category_cache(void)
{
    const char *url = getenv("REDIS_URL");
    struct ms_cache *cache = ms_cache_new(url && *url ? url : "redis://127.0.0.1:6379/0", 1000);

    if (cache && ms_cache_cmd(cache, NULL, NULL, 3,
                              (const char *[]){ "DEL", "ms:categories:flat", "ms:categories:tree" },
                              NULL) < 0)
        fprintf(stderr, "microshopctl: could not drop the cached categories (they expire)\n");
    ms_cache_free(cache);
}

static int cmd_seed(int argc, char **argv)
{
    char count[16];
    long n = 0;
    PGconn *c;
    PGresult *r;
    int ok;

    if (argc != 2 || strcmp(argv[0], "--products") != 0 || (n = strtol(argv[1], NULL, 10)) < 1 ||
        n > 10000000)
        return usage(), 2;
    snprintf(count, sizeof count, "%ld", n);
    if (!(c = connect_db()))
        return 1;
    if (exec_ok(c, "BEGIN", "BEGIN") < 0) {
        PQfinish(c);
        return 1;
    }
    /* one multi-statement text cannot take parameters: bind the count in a GUC */
    r = PQexecParams(c, "SELECT set_config('microshop.seed_n', $1, true)", 1, NULL,
                     (const char *[]){ count }, NULL, NULL, 0);
    PQclear(r);
    ok = exec_ok(c, seed_sql, "seeding") == 0 && exec_ok(c, "COMMIT", "COMMIT") == 0;
    if (!ok)
        exec_ok(c, "ROLLBACK", "ROLLBACK");
    else
        printf("seeded %ld products\n", n);
    PQfinish(c);
    if (ok)
        drop_category_cache();
    return ok ? 0 : 1;
}

/* ---- events dead ---------------------------------------------------------- */

static const char *field_of(const redisReply *fields, const char *name)
{
    for (size_t i = 0; fields && i + 1 < fields->elements; i += 2)
        if (fields->element[i]->str && strcmp(fields->element[i]->str, name) == 0)
            return fields->element[i + 1]->str ? fields->element[i + 1]->str : "";
    return "";
}

/* An event's data as an operator may see it: a payment_token (order.confirmed)
 * is never shown (SPEC §3), whatever else it holds. */
static const char *redacted(struct ms_arena *arena, const char *data)
{
    cJSON *j = cJSON_Parse(data);
    char *text;
    const char *out = data;

    if (!j)
        return data;
    if (cJSON_GetObjectItemCaseSensitive(j, "payment_token")) {
        cJSON_ReplaceItemInObjectCaseSensitive(j, "payment_token", cJSON_CreateString("[redacted]"));
        text = cJSON_PrintUnformatted(j);
        if (text) {
            out = ms_arena_strdup(arena, text);
            cJSON_free(text);
        }
    }
    cJSON_Delete(j);
    return out;
}

/* events dead list | show ID | replay ID | replay --all (REDIS_URL). */
static int cmd_events(int argc, char **argv)
{
    const char *url = getenv("REDIS_URL");
    const char *what = argc >= 2 ? argv[1] : "list";
    struct ms_ctx ctx = { .service = "microshopctl" };
    redisReply *r = NULL;
    int rc = 1;

    if (argc < 1 || strcmp(argv[0], "dead") != 0)
        return usage(), 2;
    if (strcmp(what, "list") != 0 && strcmp(what, "show") != 0 && strcmp(what, "replay") != 0)
        return usage(), 2;
    if (strcmp(what, "list") != 0 && argc != 3)
        return usage(), 2;
    ctx.cache = ms_cache_new(url && *url ? url : "redis://127.0.0.1:6379/0", 5000);
    ctx.arena = ms_arena_new(0);
    if (!ctx.cache || !ctx.arena)
        goto out;
    if (strcmp(what, "list") == 0 || (strcmp(what, "replay") == 0 && strcmp(argv[2], "--all") == 0)) {
        int replay = strcmp(what, "replay") == 0, n = 0;

        if (ms_cache_cmd(ctx.cache, ctx.arena, &r, 4,
                         (const char *[]){ "XRANGE", MS_DEAD_STREAM, "-", "+" }, NULL) < 0) {
            fprintf(stderr, "microshopctl: Redis is unreachable\n");
            goto out;
        }
        for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
            const redisReply *e = r->element[i], *f = e->element[1];

            if (replay) {
                if (ms_consumer_replay_dead(&ctx, e->element[0]->str) < 0) {
                    fprintf(stderr, "microshopctl: Redis is unreachable\n");
                    goto out;
                }
                printf("replayed %s onto %s\n", e->element[0]->str, field_of(f, "stream"));
            } else {
                printf("%s  %s  %s  event %s  group %s  deliveries %s  reason: %s\n",
                       e->element[0]->str, field_of(f, "stream"), field_of(f, "type"),
                       field_of(f, "id"), field_of(f, "group"), field_of(f, "deliveries"),
                       field_of(f, "reason"));
            }
            n++;
        }
        if (!replay)
            printf("%d dead letter%s in " MS_DEAD_STREAM "\n", n, n == 1 ? "" : "s");
        rc = 0;
        goto out;
    }
    if (strcmp(what, "show") == 0) {
        if (ms_cache_cmd(ctx.cache, ctx.arena, &r, 4,
                         (const char *[]){ "XRANGE", MS_DEAD_STREAM, argv[2], argv[2] }, NULL) < 0) {
            fprintf(stderr, "microshopctl: no such entry or Redis is unreachable\n");
            goto out;
        }
        if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 1) {
            fprintf(stderr, "microshopctl: no dead letter %s\n", argv[2]);
            goto out;
        }
        {
            const redisReply *f = r->element[0]->element[1];

            printf("dead letter %s\n", argv[2]);
            for (size_t i = 0; i + 1 < f->elements; i += 2)
                printf("  %-12s %s\n", f->element[i]->str,
                       strcmp(f->element[i]->str, "data") == 0
                           ? redacted(ctx.arena, f->element[i + 1]->str)
                           : f->element[i + 1]->str);
        }
        rc = 0;
        goto out;
    }
    rc = ms_consumer_replay_dead(&ctx, argv[2]);
    if (rc < 0)
        fprintf(stderr, "microshopctl: Redis is unreachable\n");
    else if (rc == 0)
        fprintf(stderr, "microshopctl: no dead letter %s\n", argv[2]);
    else
        printf("replayed %s\n", argv[2]);
    rc = rc == 1 ? 0 : 1;
out:
    ms_cache_free(ctx.cache);
    ms_arena_free(ctx.arena);
    return rc;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return (x > y) - (x < y);
}

/* The benchmark's bcrypt ceiling: median wall time of one hash at cost. */
static int cmd_hash_time(int argc, char **argv)
{
    int cost = argc > 0 ? (int)strtol(argv[0], NULL, 10) : 10;
    int n = argc > 1 ? (int)strtol(argv[1], NULL, 10) : 5;
    int64_t t[64];
    char hash[MS_HASH_MAX];

    if (cost < 4 || cost > 31 || n < 1 || n > 64)
        return usage(), 2;
    for (int i = 0; i < n; i++) {
        int64_t t0 = ms_clock_mono_us();

        if (ms_password_hash("Bench-passw0rd!", cost, hash, sizeof hash) < 0)
            return 1;
        t[i] = ms_clock_mono_us() - t0;
    }
    qsort(t, (size_t)n, sizeof t[0], cmp_i64);
    printf("%.6f\n", (double)t[n / 2] / 1e6);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage(), 2;
    ms_log_init("microshopctl", MS_LOG_WARN);
    if (strcmp(argv[1], "migrate") == 0) {
        load_stand(argc > 2 ? argv[2] : NULL);
        return cmd_migrate(argc - 2, argv + 2);
    }
    if (strcmp(argv[1], "set-role") == 0 || strcmp(argv[1], "set-status") == 0) {
        load_stand("user");
        if (argc < 4)
            return usage(), 2;
        return cmd_set_account(argv[1], argc - 2, argv + 2);
    }
    if (strcmp(argv[1], "hash-time") == 0)
        return cmd_hash_time(argc - 2, argv + 2);
    if (strcmp(argv[1], "events") == 0) {
        load_stand(NULL);
        return cmd_events(argc - 2, argv + 2);
    }
    if (strcmp(argv[1], "seed") == 0) {
        load_stand("product");
        return cmd_seed(argc - 2, argv + 2);
    }
    usage();
    return 2;
}
