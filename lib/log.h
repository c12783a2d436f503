/* JSON logs on stderr: one object per line, written in one write(2) under 4096
 * bytes so that the lines of a pool's workers never interleave. */
#ifndef MS_LOG_H
#define MS_LOG_H

enum ms_log_level { MS_LOG_DEBUG, MS_LOG_INFO, MS_LOG_WARN, MS_LOG_ERROR, MS_LOG_FATAL };

/* Request fields of a log line; NULL/negative members are left out. */
struct ms_log_ctx {
    const char *request_id;
    const char *method;
    const char *path;
    const char *user_id;
    int status;         /* < 0: none */
    double duration_ms; /* < 0: none */
};

/* Set the service name and the lowest level written; call once at start. */
void ms_log_init(const char *service, enum ms_log_level min_level);

/* "debug", "info", "warn", "error" (and "warning"), "fatal" → level; -1 if unknown. */
int ms_log_level_parse(const char *name);

/* Is a line of this level written? */
int ms_log_enabled(enum ms_log_level level);

/* A process-level line: ts, level, service, pid, msg. */
void ms_log(enum ms_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A request-level line: the process fields plus those of ctx. */
void ms_log_req(const struct ms_log_ctx *ctx, enum ms_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Format the line into out (at most cap bytes, newline included, NUL after);
 * returns its length. Exposed for tests; ms_log_req() writes what it builds. */
int ms_log_format(char *out, int cap, const struct ms_log_ctx *ctx, enum ms_log_level level,
                  const char *msg);

#endif
