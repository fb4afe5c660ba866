/* utf8.h — strict UTF-8 validation (RFC 3629 section 4).
 *
 * Valid means well-formed: no overlong forms, no surrogates (U+D800..U+DFFF),
 * nothing above U+10FFFF, no sequence cut short by the end of the input. This
 * is exactly the set Go's utf8.ValidString accepts, which matters where a Go
 * program (Prometheus) reads what we write. NUL and other control characters
 * are valid code points: callers that refuse them check for them themselves.
 * No allocation; the state of an incremental check lives with the caller. */
#ifndef HARK_UTF8_H
#define HARK_UTF8_H
#include <stddef.h>
#include "hark/error.h"

/* Incremental validator for input that arrives in pieces split anywhere,
 * even inside a code point. The fields are private; the struct is public so
 * it can live on the stack or inside another struct. */
struct utf8_state {
    unsigned need;           /* continuation bytes still expected */
    unsigned char lo, hi;    /* allowed range of the next continuation byte */
};

void utf8_init(struct utf8_state *u);

/* Checks p (n bytes, borrowed) as the next piece of the input. 0, or
 * HARK_EPARSE at the first byte that proves the input invalid, wherever it
 * is split; the state is then spent until utf8_init(). */
HARK_MUST_CHECK int utf8_feed(struct utf8_state *u, const unsigned char *p,
                              size_t n);

/* 1 when the input so far ends on a code point boundary, else 0. */
int utf8_complete(const struct utf8_state *u);

/* 1 when s (n bytes, borrowed, need not be NUL-terminated; NULL when n is 0)
 * is valid UTF-8, else 0. */
int utf8_valid(const char *s, size_t n);

/* Length of the longest prefix of s (n bytes, borrowed) made of whole valid
 * sequences: the offset where the first invalid or truncated sequence
 * starts, n when s is valid. For messages that point at the bad byte. */
size_t utf8_valid_prefix(const char *s, size_t n);

#endif
