/* FastCGI request and response: the request a handler sees, the JSON envelope
 * and error model of SPEC §2.
 *
 * A handler answers success with ms_http_ok()/ms_http_ok_msg() and returns
 * MS_OK, or returns a negative MS_E… code (ms_http_fail() attaches a literal
 * message); the router turns that into the error envelope with
 * ms_http_send_error(), the only writer of error bodies. The response is built
 * in req->out and sent by the pool after the handler returns. */
#ifndef MS_HTTP_H
#define MS_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "lib/buf.h"
#include "lib/err.h"

#define MS_BODY_MAX   (1024 * 1024)
#define MS_MAX_PARAMS 8
#define MS_MAX_QUERY  32

struct ms_arena;
struct ms_ctx;

enum { MS_QUERY_BAD_ESCAPE = 1, MS_QUERY_BAD_UTF8 = 2 };

struct ms_kv {
    const char *key;
    const char *val;
};

/* The authenticated caller, filled by the router for non-public routes. */
struct ms_caller {
    int is_authenticated;
    char user_id[40];
    char email[256];
    unsigned role; /* MS_ROLE_* bit of the current role (from Redis, not the token) */
    char role_name[16];
    char jti[72];    /* token id ("h:<sha256>" for tokens without jti) */
    char family[40]; /* login family ("" for tokens without one) */
    long exp;        /* token expiry (epoch seconds) */
    const char *token;
    /* the value of <ms_service.auth_extra_prefix><user id>, NULL if none or no
     * prefix; read in the same round trip as the revocation check */
    const char *extra;
};

struct ms_req {
    struct ms_arena *arena;
    struct ms_ctx *ctx; /* the worker's context: arena, db, cache */
    const char *method;
    const char *path; /* decoded path, no query string */
    const char *query;
    const char *request_id;
    const char *content_type;
    const char *authorization;
    const char *remote_addr;
    const char *body;
    size_t body_len;
    int body_too_large;
    cJSON *json;
    struct ms_kv params[MS_MAX_PARAMS];
    int nparams;
    struct ms_kv query_kv[MS_MAX_QUERY];
    int nquery;    /* -1 until parsed */
    int query_bad; /* MS_QUERY_BAD_*: a pair did not URL-decode or is not UTF-8 */
    cJSON *verrs;
    const char *err_msg;
    struct ms_caller caller;
    int status;
    int64_t start_us;
    struct ms_buf out; /* the whole response: CGI headers, blank line, body */
    int responded;
};

/* Prepare req for one request: everything empty, memory from arena. */
void ms_http_req_init(struct ms_req *req, struct ms_arena *arena, struct ms_ctx *ctx);

/* Path parameter by name (router-filled), NULL if absent. */
const char *ms_http_param(const struct ms_req *req, const char *name);

/* The path's :id as a UUID in lower case (one spelling for keys and owner
 * checks), or MS_EINVALID with SPEC's errors[{"field":"id","message":message,
 * "value":…}] ("Invalid user ID", "Invalid product ID", …). */
int ms_http_path_uuid(struct ms_req *req, const char *message, const char **id);

/* A UUID in lower case (arena copy). */
const char *ms_http_uuid_lower(struct ms_req *req, const char *uuid);

/* Query parameter by name, URL-decoded; NULL if absent. A repeated key gives
 * the first value. */
const char *ms_http_query(struct ms_req *req, const char *name);

/* 0 if the query string has a pair that does not URL-decode (a bad %xx
 * escape or an encoded NUL) or is not valid UTF-8 once decoded: the router
 * answers it with 400 rather than let a handler read such a parameter as
 * absent. 1 otherwise. */
int ms_http_query_valid(struct ms_req *req);

/* The UTF-8 rule of lib/utf8.h on everything a client sent: the decoded path,
 * every decoded query key and value, the body. MS_OK, or MS_EBADREQ with its
 * message set; the pool answers that before any route or handler runs. */
int ms_http_check_input(struct ms_req *req);

/* Parse the JSON body once. *out is the object (an empty object for an empty
 * body). MS_EMEDIA for a body whose Content-Type is not application/json,
 * MS_EBADREQ for malformed JSON or JSON that is not an object (message set),
 * MS_EINVALID when a string holds a NUL character (verr added). */
int ms_http_json(struct ms_req *req, const cJSON **out);

/* Record a validation error; value (may be NULL: left out) is copied. */
void ms_http_verr(struct ms_req *req, const char *field, const char *message, const cJSON *value);

/* Number of validation errors recorded. */
int ms_http_verr_count(const struct ms_req *req);

/* Success envelope {"success":true,"data":data}; takes data (may be NULL →
 * null) whatever happens. */
void ms_http_ok(struct ms_req *req, int status, cJSON *data);

/* {"success":true,"data":data,"message":message}; data NULL → no data key. */
void ms_http_ok_msg(struct ms_req *req, int status, cJSON *data, const char *message);

/* A non-envelope body (metrics text, health JSON). */
void ms_http_raw(struct ms_req *req, int status, const char *content_type, const char *body,
                 size_t len);

/* The SPEC §2 error envelope for rc, with req->err_msg if set, errors[] for
 * MS_EINVALID, "path" for 404 route misses (route_miss != 0). */
void ms_http_send_error(struct ms_req *req, int rc, int route_miss);

/* Set the client message that goes with an error code; a string literal only. */
int ms_http_set_msg_(struct ms_req *req, const char *msg, int code);
#define ms_http_fail(req, code, msg) ms_http_set_msg_((req), "" msg, (code))

/* Add a response header ("Name: value"); call before ms_http_ok*. */
void ms_http_header(struct ms_req *req, const char *name, const char *value);

/* URL-decode src[0..n) into the arena; '+' becomes space. NULL on a bad %xx
 * or a decoded NUL. */
char *ms_http_urldecode(struct ms_arena *arena, const char *src, size_t n);

/* Adapter for ms_arena_defer(). */
void ms_http_json_delete(void *json);

#endif
