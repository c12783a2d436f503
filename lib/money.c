/* Money parsing and printing in integer minor units. */
#include "lib/money.h"

#include <math.h>
#include <stdio.h>

#include "lib/err.h"
#include "lib/banned.h"

/* A double that should be a whole number of cents is within this of one;
 * a third decimal is at least 0.1 cents away. */
#define CENT_TOLERANCE 1e-4

int ms_money_from_json(const cJSON *v, int64_t max_minor, int64_t *out)
{
    double cents, rounded;

    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < 0)
        return MS_EINVALID;
    cents = v->valuedouble * 100.0;
    if (cents > (double)max_minor + 0.5)
        return MS_EINVALID;
    rounded = nearbyint(cents);
    if (fabs(cents - rounded) > CENT_TOLERANCE)
        return MS_EINVALID;
    *out = (int64_t)rounded;
    return *out <= max_minor ? MS_OK : MS_EINVALID;
}

int ms_money_from_str(const char *s, int64_t max_minor, int64_t *out)
{
    int64_t whole = 0, frac = 0;
    int ndigits = 0, nfrac = 0;

    if (!s)
        return MS_EINVALID;
    for (; *s >= '0' && *s <= '9'; s++, ndigits++) {
        if (whole > (max_minor / 100) + 1)
            return MS_EINVALID;
        whole = whole * 10 + (*s - '0');
    }
    if (*s == '.') {
        for (s++; *s >= '0' && *s <= '9'; s++, nfrac++) {
            if (nfrac >= 2)
                return MS_EINVALID;
            frac = frac * 10 + (*s - '0');
        }
        if (nfrac == 0)
            return MS_EINVALID;
    }
    if (*s || ndigits == 0)
        return MS_EINVALID;
    if (nfrac == 1)
        frac *= 10;
    if (whole > max_minor / 100 || whole * 100 + frac > max_minor)
        return MS_EINVALID;
    *out = whole * 100 + frac;
    return MS_OK;
}

char *ms_money_format(int64_t minor, char *out, size_t cap)
{
    const char *sign = minor < 0 ? "-" : "";
    uint64_t abs = minor < 0 ? (uint64_t)(-(minor + 1)) + 1 : (uint64_t)minor;

    snprintf(out, cap, "%s%llu.%02llu", sign, (unsigned long long)(abs / 100),
             (unsigned long long)(abs % 100));
    return out;
}
