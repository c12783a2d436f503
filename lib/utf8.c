/* UTF-8 validation (RFC 3629; Unicode Table 3-7, well-formed byte sequences). */
#include "lib/utf8.h"

#include <stdint.h>
#include <string.h>

#include "lib/banned.h"

size_t ms_utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
    uint32_t c;
    size_t len;

    if (n == 0)
        return 0;
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    /* C0, C1: overlong two-byte forms; F5–FF: beyond U+10FFFF or never valid */
    if (s[0] < 0xC2 || s[0] > 0xF4)
        return 0;
    len = s[0] < 0xE0 ? 2 : s[0] < 0xF0 ? 3 : 4;
    if (n < len)
        return 0;
    c = s[0] & (0x7F >> len);
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3F);
    }
    /* overlong three- and four-byte forms, beyond U+10FFFF, surrogates */
    if ((len == 3 && c < 0x800) || (len == 4 && (c < 0x10000 || c > 0x10FFFF)) ||
        (c >= 0xD800 && c <= 0xDFFF))
        return 0;
    *cp = c;
    return len;
}

size_t ms_utf8_seq_len(const unsigned char *s, size_t n)
{
    uint32_t cp;

    return ms_utf8_decode(s, n, &cp);
}

int ms_utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;

    while (i < n) {
        size_t len;

        /* ASCII runs, eight bytes at a time */
        while (i + 8 <= n) {
            uint64_t w;

            memcpy(&w, p + i, 8);
            if (w & UINT64_C(0x8080808080808080))
                break;
            i += 8;
        }
        if (i >= n)
            break;
        len = ms_utf8_seq_len(p + i, n - i);
        if (!len)
            return 0;
        i += len;
    }
    return 1;
}

size_t ms_utf8_len(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s), count = 0;

    while (n > 0) {
        size_t len = ms_utf8_seq_len(p, n);

        if (len == 0)
            len = 1;
        p += len;
        n -= len;
        count++;
    }
    return count;
}
