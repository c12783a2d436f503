/* Error codes shared by every lib/ function and handler: one table gives each
 * code its HTTP status and default client message. */
#ifndef MS_ERR_H
#define MS_ERR_H

#define MS_ERR_MAP(X)                                \
    X(EBADREQ, -1, 400, "Malformed request")         \
    X(EAUTH, -2, 401, "Authentication required")     \
    X(EFORBID, -3, 403, "Insufficient permissions")  \
    X(ENOTFOUND, -4, 404, "Resource not found")      \
    X(ECONFLICT, -5, 409, "Resource already exists") \
    X(EINVALID, -6, 422, "Validation failed")        \
    X(EINTERNAL, -7, 500, "Internal server error")   \
    X(EUNAVAIL, -8, 503, "Service unavailable")      \
    X(ETOOBIG, -9, 413, "Request body too large")    \
    X(EMETHOD, -10, 405, "Method not allowed")       \
    X(EMEDIA, -11, 400, "Content-Type must be application/json")

enum ms_err {
    MS_OK = 0,
#define X(name, code, status, msg) MS_##name = (code),
    MS_ERR_MAP(X)
#undef X
};

/* HTTP status of an error code (500 for an unknown code, 200 for MS_OK). */
int ms_err_status(int rc);

/* Default client message of an error code; never NULL. */
const char *ms_err_message(int rc);

/* Symbolic name ("EUNAVAIL") for logs; never NULL. */
const char *ms_err_name(int rc);

#endif
