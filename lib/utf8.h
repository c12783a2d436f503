/* UTF-8, the one rule every byte of a request and a response is held to:
 * RFC 3629 strictly, so no overlong forms, no surrogates (U+D800–U+DFFF,
 * CESU-8 included) and nothing above U+10FFFF. Input that breaks it is refused
 * before a handler sees it (lib/http.c); output that would break it is
 * repaired by the writers (U+FFFD), so a response is valid UTF-8 whatever it
 * was given (RFC 8259 §8.1). */
#ifndef MS_UTF8_H
#define MS_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Decode the sequence at s[0..n) into *cp: its length (1–4), or 0 when it is
 * not valid UTF-8 (stray continuation, overlong form, surrogate, beyond
 * U+10FFFF, cut short, n == 0). */
size_t ms_utf8_decode(const unsigned char *s, size_t n, uint32_t *cp);

/* Length (1–4) of the valid UTF-8 sequence at s, which has n ≥ 1 bytes; 0 if
 * the bytes there do not start a valid sequence. */
size_t ms_utf8_seq_len(const unsigned char *s, size_t n);

/* 1 if s[0..n) is valid UTF-8 (NUL bytes count as valid here), else 0. */
int ms_utf8_valid(const char *s, size_t n);

/* Number of code points in the C string s (an invalid byte counts as one). */
size_t ms_utf8_len(const char *s);

#endif
