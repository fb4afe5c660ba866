/* fuzz_botlink — the bot link's messages from either peer (botlink.h): a
 * bot's report and the server's reply, parsed from the same bytes.
 *
 * Beyond "no crash, no leak": an accepted report holds only the values its
 * kind allows (a known status or reason; a detail of [a-z0-9_]{1,64}; a
 * message of at most BOTLINK_MESSAGE_MAX bytes, NUL-terminated), and an
 * accepted ack a non-negative durable_ms. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hark/botlink.h"

static void check_report(const struct botlink_report *r)
{
    size_t n = strlen(r->detail);
    switch (r->kind) {
    case BOTLINK_STATUS:
        if (strcmp(r->status, "joining") && strcmp(r->status, "awaiting_admission") &&
            strcmp(r->status, "active"))
            abort();
        break;
    case BOTLINK_END:
        if (strcmp(r->reason, "source_ended") && strcmp(r->reason, "stopped"))
            abort();
        break;
    case BOTLINK_FAILED:
        if (n < 1 || n > 64 || strspn(r->detail, "abcdefghijklmnopqrstuvwxyz0123456789_") != n ||
            strlen(r->message) > BOTLINK_MESSAGE_MAX)
            abort();
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct botlink_report rep;
    int rc = botlink_report_parse(data, size, &rep);
    if (rc != 0 && rc != HARK_EPARSE && rc != HARK_EINVAL)
        abort();
    if (!rc)
        check_report(&rep);
    struct botlink_reply rpl;
    rc = botlink_reply_parse(data, size, &rpl);
    if (rc != 0 && rc != HARK_EPARSE && rc != HARK_EINVAL)
        abort();
    if (!rc && rpl.kind == BOTLINK_ACK && rpl.durable_ms < 0)
        abort();
    return 0;
}
