#include "harness.h"

#include <string.h>

#include "hark/error.h"
#include "hark/utf8.h"

static const char *const valid[] = {
    "", "a", "\xc2\x80", "\xdf\xbf", "\xe0\xa0\x80", "\xed\x9f\xbf",
    "\xee\x80\x80", "\xef\xbf\xbf", "\xf0\x90\x80\x80", "\xf4\x8f\xbf\xbf",
    "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5", /* κόσμε */
};
#define N_VALID (sizeof valid / sizeof *valid)

static const char *const invalid[] = {
    "\x80", "\xbf", "\xc0\x80", "\xc1\xbf", "\xe0\x80\x80", "\xe0\x9f\xbf",
    "\xed\xa0\x80", "\xed\xbf\xbf", "\xf0\x80\x80\x80", "\xf0\x8f\xbf\xbf",
    "\xf4\x90\x80\x80", "\xf5\x80\x80\x80", "\xf8\x88\x80\x80\x80", "\xfe",
    "\xff", "\xc2\x41", "\xe1\x80\x41", "\xf1\x80\x80\xc0",
    /* incomplete at the end */
    "\xc2", "\xe1\x80", "\xf0\x90\x80", "a\xf4",
};
#define N_INVALID (sizeof invalid / sizeof *invalid)

/* ---- incremental ---------------------------------------------------------- */

static int fed_ok(const char *s, size_t n, size_t split)
{
    struct utf8_state u;
    utf8_init(&u);
    if (split > n)
        split = n;
    if (utf8_feed(&u, (const unsigned char *)s, split) != 0 ||
        utf8_feed(&u, (const unsigned char *)s + split, n - split) != 0)
        return 0;
    return utf8_complete(&u);
}

static void utf8_accepts_every_valid_boundary_wherever_split(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_VALID; i++)
        for (size_t s = 0; s <= strlen(valid[i]); s++)
            assert_true(fed_ok(valid[i], strlen(valid[i]), s));
}

static void utf8_rejects_overlongs_surrogates_and_out_of_range(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_INVALID; i++)
        for (size_t s = 0; s <= strlen(invalid[i]); s++)
            assert_false(fed_ok(invalid[i], strlen(invalid[i]), s));
}

/* Each case: a prefix that is still fine but incomplete, then the one byte
 * that proves the input invalid. */
static void feed_fails_at_the_first_byte_that_proves_input_invalid(void **state)
{
    (void)state;
    static const struct {
        const char *prefix, *bad;
    } cases[] = {
        {"\xe0", "\x9f"},         /* overlong 3-byte form */
        {"\xf0", "\x8f"},         /* overlong 4-byte form */
        {"\xed", "\xa0"},         /* surrogate */
        {"\xf4", "\x90"},         /* above U+10FFFF */
        {"ok\xc2", "A"},          /* continuation missing */
        {"\xf1\x80\x80", "\xc0"}, /* last continuation missing */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        struct utf8_state u;
        utf8_init(&u);
        assert_int_equal(utf8_feed(&u, (const unsigned char *)cases[i].prefix,
                                   strlen(cases[i].prefix)), 0);
        assert_false(utf8_complete(&u));
        assert_int_equal(utf8_feed(&u, (const unsigned char *)cases[i].bad, 1),
                         HARK_EPARSE);
    }
    struct utf8_state u;
    utf8_init(&u);
    assert_int_equal(utf8_feed(&u, (const unsigned char *)"\xc1", 1), HARK_EPARSE);
}

/* ---- whole strings -------------------------------------------------------- */

static void valid_judges_whole_strings_like_the_incremental_validator(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_VALID; i++)
        assert_true(utf8_valid(valid[i], strlen(valid[i])));
    for (size_t i = 0; i < N_INVALID; i++)
        assert_false(utf8_valid(invalid[i], strlen(invalid[i])));
}

static void valid_reads_exactly_n_bytes_and_accepts_nul(void **state)
{
    (void)state;
    assert_true(utf8_valid(NULL, 0));
    assert_true(utf8_valid("a\0b", 3));
    assert_true(utf8_valid("\xc3\xa9\xff", 2)); /* the bad byte is past n */
    assert_false(utf8_valid("\xc3\xa9", 1));    /* n cuts the sequence */
}

static void valid_prefix_ends_where_the_first_bad_sequence_starts(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        size_t prefix;
    } cases[] = {
        {"", 0},
        {"abc", 3},
        {"\xce\xba\xe1\xbd\xb9", 5},
        {"ab\xff", 2},
        {"a\xe2\x9c", 1},                 /* truncated at the end */
        {"\xce\xba\xed\xa0\x80x", 2},     /* surrogate, seen at its 2nd byte */
        {"\xe2\x9c\x93\xe2\x9c" "A", 3},  /* seen at its 3rd byte */
        {"\xf0\x9f\x8e\xa4\x80", 4},      /* stray continuation */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        assert_int_equal(utf8_valid_prefix(cases[i].s, strlen(cases[i].s)),
                         cases[i].prefix);
    assert_int_equal(utf8_valid_prefix("\xc2\x80", 1), 0);
}

/* RFC 3629 read literally: decode each sequence by the bit patterns of
 * section 3, then refuse what section 4's table leaves out (non-shortest
 * forms, surrogates, anything above U+10FFFF). */
static int reference_valid(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned c = s[i], len, cp, min;
        if (c < 0x80) {
            i++;
            continue;
        }
        if ((c & 0xE0) == 0xC0) {
            len = 2, cp = c & 0x1F, min = 0x80;
        } else if ((c & 0xF0) == 0xE0) {
            len = 3, cp = c & 0x0F, min = 0x800;
        } else if ((c & 0xF8) == 0xF0) {
            len = 4, cp = c & 0x07, min = 0x10000;
        } else {
            return 0;
        }
        if (n - i < len)
            return 0;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return 0;
            cp = cp << 6 | (s[i + k] & 0x3Fu);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += len;
    }
    return 1;
}

static void check_against_reference(const unsigned char *s, size_t n)
{
    int want = reference_valid(s, n);
    if (utf8_valid((const char *)s, n) != want)
        fail_msg("utf8_valid disagrees with RFC 3629 on %zu bytes %02x %02x %02x %02x",
                 n, s[0], s[1], s[2], s[3]);
    struct utf8_state u;
    utf8_init(&u);
    int fed = 1;
    for (size_t i = 0; i < n && fed; i++)
        fed = utf8_feed(&u, s + i, 1) == 0;
    if ((fed && utf8_complete(&u)) != want)
        fail_msg("utf8_feed disagrees with RFC 3629 on %zu bytes %02x %02x %02x %02x",
                 n, s[0], s[1], s[2], s[3]);
}

static void every_string_up_to_three_bytes_is_judged_as_rfc3629_says(void **state)
{
    (void)state;
    unsigned char s[4] = {0};
    for (unsigned a = 0; a < 256; a++) {
        s[0] = (unsigned char)a;
        check_against_reference(s, 1);
        for (unsigned b = 0; b < 256; b++) {
            s[1] = (unsigned char)b;
            check_against_reference(s, 2);
            for (unsigned c = 0; c < 256; c++) {
                s[2] = (unsigned char)c;
                check_against_reference(s, 3);
            }
        }
    }
}

static void four_byte_strings_are_judged_as_rfc3629_says(void **state)
{
    (void)state;
    /* Every lead and second byte; the last two from the edges of each
     * byte class. */
    static const unsigned char edges[] = {0x00, 0x7f, 0x80, 0xbf, 0xc0, 0xf4, 0xff};
    unsigned char s[4];
    for (unsigned a = 0; a < 256; a++)
        for (unsigned b = 0; b < 256; b++)
            for (size_t c = 0; c < sizeof edges; c++)
                for (size_t d = 0; d < sizeof edges; d++) {
                    s[0] = (unsigned char)a;
                    s[1] = (unsigned char)b;
                    s[2] = edges[c];
                    s[3] = edges[d];
                    check_against_reference(s, 4);
                }
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(utf8_accepts_every_valid_boundary_wherever_split),
    cmocka_unit_test(utf8_rejects_overlongs_surrogates_and_out_of_range),
    cmocka_unit_test(feed_fails_at_the_first_byte_that_proves_input_invalid),
    cmocka_unit_test(valid_judges_whole_strings_like_the_incremental_validator),
    cmocka_unit_test(valid_reads_exactly_n_bytes_and_accepts_nul),
    cmocka_unit_test(valid_prefix_ends_where_the_first_bad_sequence_starts),
    cmocka_unit_test(every_string_up_to_three_bytes_is_judged_as_rfc3629_says),
    cmocka_unit_test(four_byte_strings_are_judged_as_rfc3629_says),
};
HARNESS_MAIN(tests)
