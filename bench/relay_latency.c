/* bench-relay: how long an event takes from its commit to its stream entry,
 * through a running service worker (make bench).
 *
 *   bench-relay DATABASE_URL REDIS_URL [N]
 *
 * N times (default 300), one at a time and at rest: INSERT one outbox row in
 * its own transaction (PQexec returns once the commit is done), then block in
 * XREAD on its stream until the worker has relayed it. The latency is from
 * the commit's acknowledgement to XREAD returning the entry. Prints
 * "median_ms p99_ms max_ms n" on one line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>
#include <libpq-fe.h>

#define STREAM "events:bench"

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    int n = argc > 3 ? atoi(argv[3]) : 300;
    double *lat;
    char last[64] = "$", host[256] = "127.0.0.1";
    int port = 6379;
    PGconn *pg;
    redisContext *rc;

    if (argc < 3 || n < 1 || n > 100000) {
        fprintf(stderr, "usage: bench-relay DATABASE_URL REDIS_URL [N]\n");
        return 2;
    }
    if (sscanf(argv[2], "redis://%255[^:/]:%d", host, &port) < 1) {
        fprintf(stderr, "bench-relay: REDIS_URL must be redis://host:port\n");
        return 2;
    }
    pg = PQconnectdb(argv[1]);
    rc = redisConnect(host, port);
    lat = calloc((size_t)n, sizeof *lat);
    if (PQstatus(pg) != CONNECTION_OK || !rc || rc->err || !lat) {
        fprintf(stderr, "bench-relay: cannot connect\n");
        return 1;
    }
    {
        /* start after whatever the stream holds */
        redisReply *r = redisCommand(rc, "XREVRANGE %s + - COUNT 1", STREAM);

        if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 1)
            snprintf(last, sizeof last, "%s", r->element[0]->element[0]->str);
        freeReplyObject(r);
        if (strcmp(last, "$") == 0)
            snprintf(last, sizeof last, "0-0");
    }
    for (int i = 0; i < n; i++) {
        PGresult *res = PQexecParams(pg,
                                     "INSERT INTO outbox (stream, type, data) "
                                     "VALUES ($1, 'bench.ping', '{}')",
                                     1, NULL, (const char *[]){ STREAM }, NULL, NULL, 0);
        double t1 = now_ms();
        redisReply *r;

        if (PQresultStatus(res) != PGRES_COMMAND_OK) {
            fprintf(stderr, "bench-relay: insert failed: %s", PQerrorMessage(pg));
            return 1;
        }
        PQclear(res);
        r = redisCommand(rc, "XREAD COUNT 1 BLOCK 5000 STREAMS %s %s", STREAM, last);
        if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 1) {
            fprintf(stderr, "bench-relay: event %d did not reach %s within 5 s\n", i, STREAM);
            return 1;
        }
        lat[i] = now_ms() - t1;
        snprintf(last, sizeof last, "%s", r->element[0]->element[1]->element[0]->element[0]->str);
        freeReplyObject(r);
    }
    qsort(lat, (size_t)n, sizeof *lat, cmp_double);
    printf("%.3f %.3f %.3f %d\n", lat[n / 2], lat[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1],
           lat[n - 1], n);
    {
        redisReply *r = redisCommand(rc, "DEL %s", STREAM);

        freeReplyObject(r);
    }
    PQclear(PQexecParams(pg, "DELETE FROM outbox WHERE stream = $1", 1, NULL,
                         (const char *[]){ STREAM }, NULL, NULL, 0));
    redisFree(rc);
    PQfinish(pg);
    free(lat);
    return 0;
}
