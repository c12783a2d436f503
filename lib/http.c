/* FastCGI request and response: query/path parameters, the JSON body, and the
 * SPEC §2 envelope. The response is built in req->out; the pool sends it. */
#include "lib/http.h"

#include <assert.h>
#include <string.h>
#include <strings.h>

#include "lib/arena.h"
#include "lib/ctx.h"
#include "lib/utf8.h"
#include "lib/validate.h"
#include "lib/banned.h"

void ms_http_json_delete(void *json)
{
    cJSON_Delete(json);
}

void ms_http_req_init(struct ms_req *req, struct ms_arena *arena, struct ms_ctx *ctx)
{
    memset(req, 0, sizeof *req);
    req->arena = arena;
    req->ctx = ctx;
    if (ctx)
        ctx->err_msg = NULL;
    req->nquery = -1;
    req->status = 0;
    req->method = "GET";
    req->path = "/";
    ms_buf_init(&req->out, arena);
}

const char *ms_http_param(const struct ms_req *req, const char *name)
{
    for (int i = 0; i < req->nparams; i++)
        if (strcmp(req->params[i].key, name) == 0)
            return req->params[i].val;
    return NULL;
}

const char *ms_http_uuid_lower(struct ms_req *req, const char *uuid)
{
    char *out = ms_arena_strdup(req->arena, uuid);

    for (char *p = out; *p; p++)
        if (*p >= 'A' && *p <= 'F')
            *p = (char)(*p - 'A' + 'a');
    return out;
}

int ms_http_path_uuid(struct ms_req *req, const char *message, const char **id)
{
    cJSON *v;

    *id = ms_http_param(req, "id");
    if (*id && ms_valid_uuid(*id)) {
        *id = ms_http_uuid_lower(req, *id);
        return MS_OK;
    }
    v = cJSON_CreateString(*id ? *id : "");
    ms_http_verr(req, "id", message, v);
    cJSON_Delete(v);
    return MS_EINVALID;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

char *ms_http_urldecode(struct ms_arena *arena, const char *src, size_t n)
{
    char *out = ms_arena_alloc(arena, n + 1);
    size_t j = 0;

    for (size_t i = 0; i < n; i++) {
        char c = src[i];

        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            int hi, lo;

            if (n - i < 3)
                return NULL;
            hi = hexval(src[i + 1]);
            lo = hexval(src[i + 2]);
            if (hi < 0 || lo < 0)
                return NULL;
            c = (char)(hi * 16 + lo);
            i += 2;
        }
        if (c == '\0')
            return NULL;
        out[j++] = c;
    }
    out[j] = '\0';
    return out;
}

static void parse_query(struct ms_req *req)
{
    const char *p = req->query;

    req->nquery = 0;
    while (p && *p && req->nquery < MS_MAX_QUERY) {
        const char *amp = strchr(p, '&');
        const char *end = amp ? amp : p + strlen(p);
        const char *eq = memchr(p, '=', (size_t)(end - p));
        const char *kend = eq ? eq : end;
        char *key = ms_http_urldecode(req->arena, p, (size_t)(kend - p));
        char *val = eq ? ms_http_urldecode(req->arena, eq + 1, (size_t)(end - eq - 1))
                       : ms_arena_strdup(req->arena, "");

        if (!key || !val)
            req->query_bad = req->query_bad ? req->query_bad : MS_QUERY_BAD_ESCAPE;
        else if (!ms_utf8_valid(key, strlen(key)) || !ms_utf8_valid(val, strlen(val)))
            req->query_bad = req->query_bad ? req->query_bad : MS_QUERY_BAD_UTF8;
        else if (*key) {
            req->query_kv[req->nquery].key = key;
            req->query_kv[req->nquery].val = val;
            req->nquery++;
        }
        p = amp ? amp + 1 : NULL;
    }
}

int ms_http_query_valid(struct ms_req *req)
{
    if (req->nquery < 0)
        parse_query(req);
    return !req->query_bad;
}

int ms_http_check_input(struct ms_req *req)
{
    if (!ms_utf8_valid(req->path, strlen(req->path)))
        return ms_http_fail(req, MS_EBADREQ, "Request path is not valid UTF-8");
    if (!ms_http_query_valid(req))
        return req->query_bad == MS_QUERY_BAD_UTF8
                   ? ms_http_fail(req, MS_EBADREQ, "Query string is not valid UTF-8")
                   : ms_http_fail(req, MS_EBADREQ, "Malformed query string");
    if (req->body_len && !ms_utf8_valid(req->body, req->body_len))
        return ms_http_fail(req, MS_EBADREQ, "Request body is not valid UTF-8");
    return MS_OK;
}

const char *ms_http_query(struct ms_req *req, const char *name)
{
    if (req->nquery < 0)
        parse_query(req);
    for (int i = 0; i < req->nquery; i++)
        if (strcmp(req->query_kv[i].key, name) == 0)
            return req->query_kv[i].val;
    return NULL;
}

static int is_json_type(const char *ct)
{
    size_t n = strlen("application/json");

    if (!ct)
        return 0;
    while (*ct == ' ')
        ct++;
    if (strncasecmp(ct, "application/json", n) != 0)
        return 0;
    return ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ';
}

/* Find a \u0000 escape inside a JSON string of the body; on a hit store the
 * name of the key whose value holds it (or "body") in *field. */
static int body_has_nul(struct ms_req *req, const char **field)
{
    const char *s = req->body;
    size_t n = req->body_len, i = 0;
    const char *key = NULL, *str = NULL;
    size_t keylen = 0;
    int in_str = 0, hit = 0;

    for (i = 0; i < n; i++) {
        char c = s[i];

        if (!in_str) {
            if (c == '"') {
                in_str = 1;
                str = s + i + 1;
            } else if (c == ':' && str) {
                /* the previous string was a key */
                key = str;
                keylen = (size_t)(s + i - str);
                while (keylen && key[keylen - 1] != '"')
                    keylen--;
                if (keylen)
                    keylen--;
            }
            continue;
        }
        if (c == '\\') {
            if (i + 5 < n && s[i + 1] == 'u' && s[i + 2] == '0' && s[i + 3] == '0' &&
                s[i + 4] == '0' && s[i + 5] == '0')
                hit = 1;
            i++; /* skip the escaped character */
            continue;
        }
        if (c == '"') {
            in_str = 0;
            if (hit) {
                size_t j = i + 1;

                while (j < n && (s[j] == ' ' || s[j] == '\t' || s[j] == '\n' || s[j] == '\r'))
                    j++;
                if (j < n && s[j] == ':')
                    *field = ms_arena_strndup(req->arena, str, (size_t)(s + i - str));
                else
                    *field = key ? ms_arena_strndup(req->arena, key, keylen) : "body";
                return 1;
            }
        }
    }
    return 0;
}

/* JSON forbids raw control characters inside strings and NUL anywhere; cJSON
 * would take them (and a raw NUL would silently cut a C string). */
static int json_text_ok(const char *s, size_t n)
{
    int in_str = 0;

    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == '\0')
            return 0;
        if (!in_str) {
            in_str = c == '"';
            continue;
        }
        if (c < 0x20)
            return 0;
        if (c == '\\')
            i++;
        else if (c == '"')
            in_str = 0;
    }
    return 1;
}

int ms_http_json(struct ms_req *req, const cJSON **out)
{
    const char *field = NULL, *end = NULL;

    if (req->json) {
        *out = req->json;
        return MS_OK;
    }
    if (req->body_len == 0) {
        req->json = cJSON_CreateObject();
        ms_arena_defer(req->arena, ms_http_json_delete, req->json);
        *out = req->json;
        return MS_OK;
    }
    if (!is_json_type(req->content_type))
        return ms_http_fail(req, MS_EMEDIA, "Content-Type must be application/json");
    if (!ms_utf8_valid(req->body, req->body_len))
        return ms_http_fail(req, MS_EBADREQ, "Request body is not valid UTF-8");
    if (!json_text_ok(req->body, req->body_len))
        return ms_http_fail(req, MS_EBADREQ, "Malformed JSON in request body");
    req->json = cJSON_ParseWithLengthOpts(req->body, req->body_len, &end, 0);
    if (req->json)
        ms_arena_defer(req->arena, ms_http_json_delete, req->json);
    while (req->json && end < req->body + req->body_len &&
           (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r'))
        end++;
    if (!req->json || end != req->body + req->body_len)
        return ms_http_fail(req, MS_EBADREQ, "Malformed JSON in request body");
    if (!cJSON_IsObject(req->json))
        return ms_http_fail(req, MS_EBADREQ, "Request body must be a JSON object");
    if (memchr(req->body, '\\', req->body_len) && body_has_nul(req, &field)) {
        ms_http_verr(req, field, "Must not contain NUL characters", NULL);
        return MS_EINVALID;
    }
    *out = req->json;
    return MS_OK;
}

void ms_http_verr(struct ms_req *req, const char *field, const char *message, const cJSON *value)
{
    cJSON *e;

    if (!req->verrs) {
        req->verrs = cJSON_CreateArray();
        ms_arena_defer(req->arena, ms_http_json_delete, req->verrs);
    }
    e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "field", field);
    cJSON_AddStringToObject(e, "message", message);
    if (value)
        cJSON_AddItemToObject(e, "value", cJSON_Duplicate(value, 1));
    cJSON_AddItemToArray(req->verrs, e);
}

int ms_http_verr_count(const struct ms_req *req)
{
    return req->verrs ? cJSON_GetArraySize(req->verrs) : 0;
}

static const char *reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 409:
        return "Conflict";
    case 413:
        return "Payload Too Large";
    case 422:
        return "Unprocessable Entity";
    case 429:
        return "Too Many Requests";
    case 503:
        return "Service Unavailable";
    default:
        return status >= 500 ? "Internal Server Error" : "OK";
    }
}

void ms_http_header(struct ms_req *req, const char *name, const char *value)
{
    if (req->responded)
        return;
    ms_buf_addf(&req->out, "%s: %s\r\n", name, value);
}

static void start_response(struct ms_req *req, int status, const char *content_type)
{
    req->status = status;
    ms_buf_addf(&req->out, "Status: %d %s\r\nContent-Type: %s\r\n", status, reason(status),
                content_type);
    if (req->request_id && *req->request_id && strlen(req->request_id) < 128 &&
        !strpbrk(req->request_id, "\r\n"))
        ms_buf_addf(&req->out, "X-Request-Id: %s\r\n", req->request_id);
    ms_buf_adds(&req->out, "Cache-Control: no-store\r\n\r\n");
    req->responded = 1;
}

/* Print json (not consumed) unformatted into the response body. */
static void add_json(struct ms_req *req, const cJSON *json)
{
    char *text = cJSON_PrintUnformatted(json);

    if (!text) {
        ms_buf_adds(&req->out, "null");
        return;
    }
    ms_buf_add_json_text(&req->out, text, strlen(text));
    cJSON_free(text);
}

void ms_http_ok_msg(struct ms_req *req, int status, cJSON *data, const char *message)
{
    if (data)
        ms_arena_defer(req->arena, ms_http_json_delete, data);
    if (req->responded)
        return;
    start_response(req, status, "application/json; charset=utf-8");
    ms_buf_adds(&req->out, "{\"success\":true");
    if (data) {
        ms_buf_adds(&req->out, ",\"data\":");
        add_json(req, data);
    }
    if (message) {
        ms_buf_adds(&req->out, ",\"message\":");
        ms_buf_add_json_str(&req->out, message, strlen(message));
    }
    ms_buf_addch(&req->out, '}');
}

void ms_http_ok(struct ms_req *req, int status, cJSON *data)
{
    if (!data)
        data = cJSON_CreateNull();
    ms_http_ok_msg(req, status, data, NULL);
}

void ms_http_raw(struct ms_req *req, int status, const char *content_type, const char *body,
                 size_t len)
{
    if (req->responded)
        return;
    start_response(req, status, content_type);
    ms_buf_add(&req->out, body, len);
}

int ms_http_set_msg_(struct ms_req *req, const char *msg, int code)
{
    req->err_msg = msg;
    return code;
}

void ms_http_send_error(struct ms_req *req, int rc, int route_miss)
{
    int status = ms_err_status(rc);
    const char *msg = req->err_msg                 ? req->err_msg
                      : req->ctx && req->ctx->err_msg ? req->ctx->err_msg
                                                      : ms_err_message(rc);

    if (req->responded)
        return;
    if (route_miss)
        msg = "Route not found";
    start_response(req, status, "application/json; charset=utf-8");
    ms_buf_adds(&req->out, "{\"success\":false,\"error\":{\"message\":");
    ms_buf_add_json_str(&req->out, msg, strlen(msg));
    ms_buf_addf(&req->out, ",\"code\":%d", status);
    if (route_miss) {
        ms_buf_adds(&req->out, ",\"path\":");
        ms_buf_add_json_str(&req->out, req->path, strlen(req->path));
    }
    if (rc == MS_EINVALID && req->verrs) {
        ms_buf_adds(&req->out, ",\"errors\":");
        add_json(req, req->verrs);
    }
    ms_buf_adds(&req->out, "}}");
}
