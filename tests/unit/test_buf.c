#include "harness.h"

#include <string.h>

#include "hark/buf.h"
#include "hark/error.h"
#include "hark/mem.h"

static void append_grows_and_stays_nul_terminated(void **state)
{
    (void)state;
    struct hbuf b;
    hbuf_init(&b, 0);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(hbuf_puts(&b, "ab"), 0);
    assert_int_equal(b.len, 2000);
    assert_int_equal(b.data[b.len], '\0');
    assert_int_equal(hbuf_printf(&b, "%d", 42), 0);
    assert_string_equal(b.data + 2000, "42");
    hbuf_release(&b);
}

static void append_past_limit_fails_and_keeps_content(void **state)
{
    (void)state;
    struct hbuf b;
    hbuf_init(&b, 8);
    assert_int_equal(hbuf_puts(&b, "12345678"), 0);
    assert_int_equal(hbuf_puts(&b, "9"), HARK_ETOOBIG);
    assert_int_equal(hbuf_printf(&b, "%s", "x"), HARK_ETOOBIG);
    assert_string_equal(b.data, "12345678");
    hbuf_release(&b);
}

static void allocation_failure_returns_enomem(void **state)
{
    (void)state;
    struct hbuf b;
    hbuf_init(&b, 0);
    hark_mem_fail_after(0);
    assert_int_equal(hbuf_puts(&b, "x"), HARK_ENOMEM);
    hark_mem_fail_after(-1);
    assert_int_equal(b.len, 0);
    hbuf_release(&b);
}

static void take_hands_over_and_resets(void **state)
{
    (void)state;
    struct hbuf b;
    hbuf_init(&b, 0);
    char *empty = hbuf_take(&b);
    assert_string_equal(empty, "");
    hark_free(empty);
    assert_int_equal(hbuf_puts(&b, "hi"), 0);
    char *s = hbuf_take(&b);
    assert_string_equal(s, "hi");
    assert_null(b.data);
    hark_free(s);
}

static void strerror_names_every_code(void **state)
{
    (void)state;
    assert_string_equal(hark_strerror(HARK_ENOMEM), "out of memory");
    assert_string_equal(hark_errname(HARK_EPARSE), "parse");
    assert_string_equal(hark_strerror(-9999), "unknown error");
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(append_grows_and_stays_nul_terminated),
    cmocka_unit_test(append_past_limit_fails_and_keeps_content),
    cmocka_unit_test(allocation_failure_returns_enomem),
    cmocka_unit_test(take_hands_over_and_resets),
    cmocka_unit_test(strerror_names_every_code),
};
HARNESS_MAIN(tests)
