/* The error table: code → HTTP status, default message, name. */
#include "lib/err.h"

int ms_err_status(int rc)
{
    switch (rc) {
    case MS_OK:
        return 200;
#define X(name, code, status, msg) \
    case MS_##name:                \
        return (status);
        MS_ERR_MAP(X)
#undef X
    }
    return 500;
}

const char *ms_err_message(int rc)
{
    switch (rc) {
    case MS_OK:
        return "OK";
#define X(name, code, status, msg) \
    case MS_##name:                \
        return (msg);
        MS_ERR_MAP(X)
#undef X
    }
    return "Internal server error";
}

const char *ms_err_name(int rc)
{
    switch (rc) {
    case MS_OK:
        return "OK";
#define X(name, code, status, msg) \
    case MS_##name:                \
        return #name;
        MS_ERR_MAP(X)
#undef X
    }
    return "EUNKNOWN";
}
