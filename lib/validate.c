/* Validation helpers shared by the services: ports of validator.js isEmail(),
 * normalizeEmail() and isUUID() with default options, the SPEC password policy,
 * dates, phones, trimming and ?page/?limit parsing. */
#include "lib/validate.h"

#include <assert.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "lib/err.h"
#include "lib/http.h"
#include "lib/utf8.h"
#include "lib/banned.h"

#define EMAIL_MAX_UTF16        254 /* validator.js defaultMaxEmailLength, in UTF-16 units */
#define EMAIL_LOCAL_MAX_BYTES  64  /* isByteLength(user, { max: 64 }) */
#define EMAIL_DOMAIN_MAX_BYTES 254 /* isByteLength(domain, { max: 254 }) */
#define DOMAIN_LABEL_MAX_UTF16 63  /* isFQDN: part.length > 63 */

#define PAGE_LIMIT_MAX 100
/* The largest page whose offset, (page - 1) * limit, still fits in a long. */
#define PAGE_MAX (LONG_MAX / PAGE_LIMIT_MAX)

/* Append cp as UTF-8 to out[*pos..cap), leaving room for a NUL; -1 if full. */
static int utf8_put(uint32_t cp, char *out, size_t cap, size_t *pos)
{
    unsigned char b[4];
    size_t n;

    if (cp < 0x80) {
        b[0] = (unsigned char)cp;
        n = 1;
    } else if (cp < 0x800) {
        b[0] = (unsigned char)(0xC0 | (cp >> 6));
        b[1] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        b[0] = (unsigned char)(0xE0 | (cp >> 12));
        b[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        b[2] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        b[0] = (unsigned char)(0xF0 | (cp >> 18));
        b[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
        b[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        b[3] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    if (cap - *pos <= n)
        return -1;
    memcpy(out + *pos, b, n);
    *pos += n;
    return 0;
}

/* Length of s[0..n) in UTF-16 code units, as JavaScript's String.length
 * counts it (exact for valid UTF-8). */
static size_t utf16_len(const char *s, size_t n)
{
    size_t units = 0;

    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if ((c & 0xC0) != 0x80)
            units += c >= 0xF0 ? 2 : 1;
    }
    return units;
}

static int is_ascii_alnum(uint32_t c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* One character of validator.js emailUserUtf8Part (unquoted local part). */
static int is_local_char(uint32_t c)
{
    if (c < 0x80)
        return is_ascii_alnum(c) || (c != 0 && strchr("!#$%&'*+-/=?^_`{|}~", (int)c) != NULL);
    return (c >= 0xA1 && c <= 0xD7FF) || (c >= 0xF900 && c <= 0xFDCF) ||
           (c >= 0xFDF0 && c <= 0xFFEF);
}

/* The local part: dot-separated, non-empty runs of is_local_char(). Quoted
 * local parts ("john doe"@x.com), which isEmail() accepts, are refused here. */
static int valid_local(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t run = 0;
    uint32_t cp;

    while (n > 0) {
        size_t len = ms_utf8_decode(p, n, &cp);

        if (len == 0)
            return 0;
        if (cp == '.') {
            if (run == 0)
                return 0;
            run = 0;
        } else if (is_local_char(cp)) {
            run++;
        } else {
            return 0;
        }
        p += len;
        n -= len;
    }
    return run > 0;
}

/* JavaScript's \s among the characters a top-level domain may otherwise hold. */
static int is_js_space(uint32_t c)
{
    return c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 ||
           c == 0x202F || c == 0x205F || c == 0x3000 || c == 0xFEFF;
}

/* One label of isFQDN() (allow_underscores false): [a-z0-9-] or any character
 * from U+00A1 up, fullwidth ASCII excepted; no leading or trailing hyphen; at
 * most 63 UTF-16 units. */
static int valid_label(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    uint32_t cp;

    if (n == 0 || s[0] == '-' || s[n - 1] == '-' || utf16_len(s, n) > DOMAIN_LABEL_MAX_UTF16)
        return 0;
    while (n > 0) {
        size_t len = ms_utf8_decode(p, n, &cp);

        if (len == 0)
            return 0;
        if (cp < 0x80 ? !(is_ascii_alnum(cp) || cp == '-')
                      : (cp < 0xA1 || (cp >= 0xFF01 && cp <= 0xFF5E)))
            return 0;
        p += len;
        n -= len;
    }
    return 1;
}

/* One letter of isFQDN()'s TLD pattern: ASCII or from its Unicode ranges,
 * less what JavaScript's \s matches. */
static int is_tld_char(uint32_t c)
{
    if (c < 0x80)
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (is_js_space(c))
        return 0;
    return (c >= 0xA1 && c <= 0xA8) || (c >= 0xAA && c <= 0xD7FF) || (c >= 0xF900 && c <= 0xFDCF) ||
           (c >= 0xFDF0 && c <= 0xFFEF);
}

/* The top-level domain of isFQDN() (require_tld true): two or more
 * is_tld_char(), or "xn" and two or more of [a-z0-9-] (a punycode TLD). */
static int valid_tld(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t count = 0;
    uint32_t cp;

    if (n >= 4 && (s[0] == 'x' || s[0] == 'X') && (s[1] == 'n' || s[1] == 'N')) {
        size_t i = 2;

        while (i < n && (is_ascii_alnum((unsigned char)s[i]) || s[i] == '-'))
            i++;
        if (i == n)
            return 1;
    }
    while (n > 0) {
        size_t len = ms_utf8_decode(p, n, &cp);

        if (len == 0 || !is_tld_char(cp))
            return 0;
        count++;
        p += len;
        n -= len;
    }
    return count >= 2;
}

/* isFQDN() with isEmail()'s options: two labels or more, a valid TLD. */
static int valid_domain(const char *s, size_t n)
{
    const char *label = s, *end = s + n, *dot;

    if (n == 0 || n > EMAIL_DOMAIN_MAX_BYTES)
        return 0;
    while ((dot = memchr(label, '.', (size_t)(end - label))) != NULL) {
        if (!valid_label(label, (size_t)(dot - label)))
            return 0;
        label = dot + 1;
    }
    if (label == s)
        return 0;
    return valid_label(label, (size_t)(end - label)) && valid_tld(label, (size_t)(end - label));
}

int ms_valid_email(const char *s)
{
    const char *at;
    size_t n;

    if (!s)
        return 0;
    n = strlen(s);
    /* invalid UTF-8 is refused below, by the part checks */
    if (utf16_len(s, n) > EMAIL_MAX_UTF16)
        return 0;
    at = strrchr(s, '@');
    if (!at || (size_t)(at - s) > EMAIL_LOCAL_MAX_BYTES)
        return 0;
    return valid_local(s, (size_t)(at - s)) && valid_domain(at + 1, strlen(at + 1));
}

/* Code points JavaScript's toLowerCase() moves by delta: every one from first
 * to last, or with alternate set every other one (first, first + 2, ...).
 * ASCII, Latin-1, Latin Extended-A, basic Greek and Cyrillic, fullwidth Latin;
 * other scripts are left as they are. */
struct lower_range {
    uint32_t first, last;
    int32_t delta;
    int alternate;
};

static const struct lower_range lower_ranges[] = {
    { 0xC0, 0xD6, 32, 0 },     { 0xD8, 0xDE, 32, 0 },     { 0x100, 0x12E, 1, 1 },
    { 0x132, 0x136, 1, 1 },    { 0x139, 0x147, 1, 1 },    { 0x14A, 0x176, 1, 1 },
    { 0x178, 0x178, -121, 0 }, { 0x179, 0x17D, 1, 1 },    { 0x386, 0x386, 38, 0 },
    { 0x388, 0x38A, 37, 0 },   { 0x38C, 0x38C, 64, 0 },   { 0x38E, 0x38F, 63, 0 },
    { 0x391, 0x3A1, 32, 0 },   { 0x3A3, 0x3AB, 32, 0 },   { 0x400, 0x40F, 80, 0 },
    { 0x410, 0x42F, 32, 0 },   { 0xFF21, 0xFF3A, 32, 0 },
};

/* c lower-cased as JavaScript does (see lower_ranges) into lc: one code
 * point, or two for U+0130; returns how many. */
static int lower_cp(uint32_t c, uint32_t lc[2])
{
    lc[0] = c;
    if (c < 0x80) {
        if (c >= 'A' && c <= 'Z')
            lc[0] = c + 32;
        return 1;
    }
    if (c == 0x130) {
        lc[0] = 'i';
        lc[1] = 0x307; /* COMBINING DOT ABOVE */
        return 2;
    }
    for (size_t i = 0; i < sizeof lower_ranges / sizeof lower_ranges[0]; i++) {
        const struct lower_range *r = &lower_ranges[i];

        if (c >= r->first && c <= r->last && (!r->alternate || (c - r->first) % 2 == 0)) {
            lc[0] = (uint32_t)((int32_t)c + r->delta);
            break;
        }
    }
    return 1;
}

/* Append s[0..n) lower-cased to out[*pos..cap); with drop_single_dots, a dot
 * that is neither preceded nor followed by another dot is left out (Gmail).
 * Bytes that are not UTF-8 are copied as they are. -1 when out is full. */
static int put_lower(const char *s, size_t n, int drop_single_dots, char *out, size_t cap,
                     size_t *pos)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;

    while (i < n) {
        uint32_t cp, lc[2];
        size_t len = ms_utf8_decode(p + i, n - i, &cp);
        int k;

        if (len == 0) {
            if (cap - *pos <= 1)
                return -1;
            out[(*pos)++] = s[i++];
            continue;
        }
        if (drop_single_dots && cp == '.' && (i == 0 || s[i - 1] != '.') &&
            (i + 1 == n || s[i + 1] != '.')) {
            i++;
            continue;
        }
        k = lower_cp(cp, lc);
        for (int j = 0; j < k; j++)
            if (utf8_put(lc[j], out, cap, pos) < 0)
                return -1;
        i += len;
    }
    return 0;
}

static int in_list(const char *s, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(s, *list) == 0)
            return 1;
    return 0;
}

/* The domain lists of validator.js normalizeEmail(), in its order. */
static const char *const icloud_domains[] = { "icloud.com", "me.com", NULL };

static const char *const outlook_domains[] = { "hotmail.at",
                                               "hotmail.be",
                                               "hotmail.ca",
                                               "hotmail.cl",
                                               "hotmail.co.il",
                                               "hotmail.co.nz",
                                               "hotmail.co.th",
                                               "hotmail.co.uk",
                                               "hotmail.com",
                                               "hotmail.com.ar",
                                               "hotmail.com.au",
                                               "hotmail.com.br",
                                               "hotmail.com.gr",
                                               "hotmail.com.mx",
                                               "hotmail.com.pe",
                                               "hotmail.com.tr",
                                               "hotmail.com.vn",
                                               "hotmail.cz",
                                               "hotmail.de",
                                               "hotmail.dk",
                                               "hotmail.es",
                                               "hotmail.fr",
                                               "hotmail.hu",
                                               "hotmail.id",
                                               "hotmail.ie",
                                               "hotmail.in",
                                               "hotmail.it",
                                               "hotmail.jp",
                                               "hotmail.kr",
                                               "hotmail.lv",
                                               "hotmail.my",
                                               "hotmail.ph",
                                               "hotmail.pt",
                                               "hotmail.sa",
                                               "hotmail.sg",
                                               "hotmail.sk",
                                               "live.be",
                                               "live.co.uk",
                                               "live.com",
                                               "live.com.ar",
                                               "live.com.mx",
                                               "live.de",
                                               "live.es",
                                               "live.eu",
                                               "live.fr",
                                               "live.it",
                                               "live.nl",
                                               "msn.com",
                                               "outlook.at",
                                               "outlook.be",
                                               "outlook.cl",
                                               "outlook.co.il",
                                               "outlook.co.nz",
                                               "outlook.co.th",
                                               "outlook.com",
                                               "outlook.com.ar",
                                               "outlook.com.au",
                                               "outlook.com.br",
                                               "outlook.com.gr",
                                               "outlook.com.pe",
                                               "outlook.com.tr",
                                               "outlook.com.vn",
                                               "outlook.cz",
                                               "outlook.de",
                                               "outlook.dk",
                                               "outlook.es",
                                               "outlook.fr",
                                               "outlook.hu",
                                               "outlook.id",
                                               "outlook.ie",
                                               "outlook.in",
                                               "outlook.it",
                                               "outlook.jp",
                                               "outlook.kr",
                                               "outlook.lv",
                                               "outlook.my",
                                               "outlook.ph",
                                               "outlook.pt",
                                               "outlook.sa",
                                               "outlook.sg",
                                               "outlook.sk",
                                               "passport.com",
                                               NULL };

static const char *const yahoo_domains[] = {
    "rocketmail.com", "yahoo.ca", "yahoo.co.uk", "yahoo.com", "yahoo.de",
    "yahoo.fr",       "yahoo.in", "yahoo.it",    "ymail.com", NULL
};

static const char *const yandex_domains[] = { "yandex.ru", "yandex.ua", "yandex.kz", "yandex.com",
                                              "yandex.by", "ya.ru",     NULL };

/* Rewrite the local part l[0..*ln) for the provider of domain (lower-cased):
 * cut the subaddress, say whether single dots go, and replace the domain
 * (*domain_out). -1 when nothing of the local part is left (validator.js
 * returns false). */
static int provider_rules(const char *l, size_t *ln, const char *domain, int *drop_dots,
                          const char **domain_out)
{
    const char *cut;

    *drop_dots = 0;
    *domain_out = domain;
    if (strcmp(domain, "gmail.com") == 0 || strcmp(domain, "googlemail.com") == 0) {
        *drop_dots = 1;
        *domain_out = "gmail.com";
        cut = memchr(l, '+', *ln);
    } else if (in_list(domain, icloud_domains) || in_list(domain, outlook_domains)) {
        cut = memchr(l, '+', *ln);
    } else if (in_list(domain, yahoo_domains)) {
        /* "a-b-c" keeps "a-b": only the last -tag goes */
        cut = memrchr(l, '-', *ln);
    } else {
        if (in_list(domain, yandex_domains))
            *domain_out = "yandex.ru";
        return 0;
    }
    if (cut)
        *ln = (size_t)(cut - l);
    /* runs of two dots or more stay, so dot removal empties only "." */
    if (*drop_dots && *ln == 1 && l[0] == '.')
        return -1;
    return *ln > 0 ? 0 : -1;
}

int ms_normalize_email(const char *s, char *out, size_t cap)
{
    /* room for more than isEmail() allows, even once lower-casing grows it */
    char domain[EMAIL_DOMAIN_MAX_BYTES * 2 + 8] = "";
    const char *at, *new_domain;
    size_t ln, dpos = 0, pos = 0;
    int drop_dots;

    assert(out && cap > 0);
    out[0] = '\0';
    if (!s || !(at = strrchr(s, '@')))
        return -1;
    if (put_lower(at + 1, strlen(at + 1), 0, domain, sizeof domain, &dpos) < 0)
        return -1;
    domain[dpos] = '\0';
    ln = (size_t)(at - s);
    if (provider_rules(s, &ln, domain, &drop_dots, &new_domain) < 0)
        return -1;
    if (put_lower(s, ln, drop_dots, out, cap, &pos) < 0 ||
        put_lower("@", 1, 0, out, cap, &pos) < 0 ||
        put_lower(new_domain, strlen(new_domain), 0, out, cap, &pos) < 0) {
        out[0] = '\0';
        return -1;
    }
    out[pos] = '\0';
    return 0;
}

int ms_password_policy_ok(const char *s)
{
    int lower = 0, upper = 0, digit = 0, special = 0;

    if (!s)
        return 0;
    for (; *s; s++) {
        char c = *s;

        lower |= c >= 'a' && c <= 'z';
        upper |= c >= 'A' && c <= 'Z';
        digit |= c >= '0' && c <= '9';
        special |= strchr("@$!%*?&", c) != NULL;
    }
    return lower && upper && digit && special;
}

static int is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

int ms_valid_uuid(const char *s)
{
    if (!s || strnlen(s, 37) != 36)
        return 0;
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return 0;
        } else if (!is_hex(s[i])) {
            return 0;
        }
    }
    return 1;
}

int ms_valid_enum(const char *s, const char *const *allowed)
{
    assert(allowed);
    return s && in_list(s, allowed);
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* The value of the n digits at s. */
static int digits(const char *s, int n)
{
    int v = 0;

    for (int i = 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    return v;
}

int ms_valid_date(const char *s)
{
    static const int month_days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    int y, m, d, max_day;

    if (!s || strnlen(s, 11) != 10 || s[4] != '-' || s[7] != '-')
        return 0;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && !is_digit(s[i]))
            return 0;
    y = digits(s, 4);
    m = digits(s + 5, 2);
    d = digits(s + 8, 2);
    if (y < 1000 || m < 1 || m > 12 || d < 1)
        return 0;
    max_day = month_days[m - 1];
    if (m == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))
        max_day = 29;
    return d <= max_day;
}

int ms_valid_phone(const char *s)
{
    size_t n = 0;

    if (!s)
        return 0;
    if (*s == '+')
        s++;
    if (*s < '1' || *s > '9')
        return 0;
    while (is_digit(s[n]))
        n++;
    return s[n] == '\0' && n >= 2 && n <= 15;
}

static int is_ascii_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

char *ms_trim(const char *s, char *out, size_t cap)
{
    size_t n;

    assert(s && out && cap > 0);
    while (is_ascii_space(*s))
        s++;
    n = strlen(s);
    while (n > 0 && is_ascii_space(s[n - 1]))
        n--;
    if (n >= cap) {
        /* cut on a character boundary, never inside a UTF-8 sequence */
        n = cap - 1;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
    }
    memcpy(out, s, n);
    out[n] = '\0';
    return out;
}

/* Parse s as digits only (no sign, no space, not empty) into *v; -1 on
 * anything else or on overflow. */
static int parse_digits(const char *s, long *v)
{
    long n = 0;

    if (*s == '\0')
        return -1;
    for (; *s; s++) {
        if (!is_digit(*s) || n > (LONG_MAX - (*s - '0')) / 10)
            return -1;
        n = n * 10 + (*s - '0');
    }
    *v = n;
    return 0;
}

/* Record a verr whose value is the raw query string. */
static void verr_raw(struct ms_req *req, const char *field, const char *message, const char *raw)
{
    cJSON *value = cJSON_CreateString(raw);

    ms_http_verr(req, field, message, value);
    cJSON_Delete(value);
}

int ms_pagination(struct ms_req *req, int default_limit, long *page, long *limit)
{
    const char *raw;
    int rc = MS_OK;

    assert(req && page && limit);
    assert(default_limit >= 1 && default_limit <= PAGE_LIMIT_MAX);
    *page = 1;
    *limit = default_limit;
    raw = ms_http_query(req, "page");
    if (raw && (parse_digits(raw, page) < 0 || *page < 1 || *page > PAGE_MAX)) {
        *page = 1;
        verr_raw(req, "page", "Page must be a positive integer", raw);
        rc = MS_EINVALID;
    }
    raw = ms_http_query(req, "limit");
    if (raw && (parse_digits(raw, limit) < 0 || *limit < 1 || *limit > PAGE_LIMIT_MAX)) {
        *limit = default_limit;
        verr_raw(req, "limit", "Limit must be an integer between 1 and 100", raw);
        rc = MS_EINVALID;
    }
    return rc;
}

cJSON *ms_pagination_json(long total, long page, long limit)
{
    cJSON *p = cJSON_CreateObject();

    cJSON_AddNumberToObject(p, "total", (double)total);
    cJSON_AddNumberToObject(p, "page", (double)page);
    cJSON_AddNumberToObject(p, "pages", (double)((total + limit - 1) / limit));
    cJSON_AddNumberToObject(p, "limit", (double)limit);
    return p;
}
