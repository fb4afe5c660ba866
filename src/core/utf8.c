#include "hark/utf8.h"

void utf8_init(struct utf8_state *u)
{
    u->need = 0;
    u->lo = 0x80;
    u->hi = 0xBF;
}

/* Non-ASCII lead byte → continuation count and the range of the first
 * continuation, which is where overlongs (E0, F0), surrogates (ED) and
 * > U+10FFFF (F4) are cut off (RFC 3629 section 4). C0, C1 and F5..FF can
 * only start overlongs or code points past U+10FFFF. */
static int utf8_lead(struct utf8_state *u, unsigned char b)
{
    u->lo = 0x80;
    u->hi = 0xBF;
    if (b >= 0xC2 && b <= 0xDF)
        u->need = 1;
    else if (b >= 0xE0 && b <= 0xEF) {
        u->need = 2;
        if (b == 0xE0)
            u->lo = 0xA0;
        else if (b == 0xED)
            u->hi = 0x9F;
    } else if (b >= 0xF0 && b <= 0xF4) {
        u->need = 3;
        if (b == 0xF0)
            u->lo = 0x90;
        else if (b == 0xF4)
            u->hi = 0x8F;
    } else
        return HARK_EPARSE;
    return 0;
}

static int utf8_step(struct utf8_state *u, unsigned char b)
{
    if (u->need == 0)
        return b < 0x80 ? 0 : utf8_lead(u, b);
    if (b < u->lo || b > u->hi)
        return HARK_EPARSE;
    u->need--;
    u->lo = 0x80;
    u->hi = 0xBF;
    return 0;
}

int utf8_feed(struct utf8_state *u, const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (utf8_step(u, p[i]) != 0)
            return HARK_EPARSE;
    return 0;
}

int utf8_complete(const struct utf8_state *u) { return u->need == 0; }

size_t utf8_valid_prefix(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    struct utf8_state u;
    size_t boundary = 0;
    utf8_init(&u);
    for (size_t i = 0; i < n && utf8_step(&u, p[i]) == 0; i++)
        if (u.need == 0)
            boundary = i + 1;
    return boundary;
}

int utf8_valid(const char *s, size_t n) { return utf8_valid_prefix(s, n) == n; }
