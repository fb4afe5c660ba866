/* botlink.h — the messages of a bot's link (docs/bots.md "The bot link"):
 * what a bot reports to the server and what the server answers, parsed
 * from peer bytes into bounded structs. Pure: no I/O; nothing outlives a
 * call. */
#ifndef HARK_BOTLINK_H
#define HARK_BOTLINK_H
#include <stddef.h>
#include <stdint.h>
#include "hark/error.h"

#define BOTLINK_MESSAGE_MAX 256   /* bytes of a failure message kept */

enum botlink_report_kind { BOTLINK_STATUS, BOTLINK_END, BOTLINK_FAILED };

/* bot → server */
struct botlink_report {
    enum botlink_report_kind kind;
    char status[24];              /* STATUS: joining | awaiting_admission | active */
    char reason[16];              /* END: source_ended | stopped */
    char detail[65];              /* FAILED: [a-z0-9_]{1,64}; "bot_failed" when absent */
    char message[BOTLINK_MESSAGE_MAX + 1]; /* FAILED: cut at a UTF-8 boundary; "" */
};

/* Parses one text message (len bytes, borrowed). HARK_EPARSE when it is not
 * a JSON object; HARK_EINVAL for an unknown type, status or reason, or a
 * detail outside its alphabet. */
HARK_MUST_CHECK int botlink_report_parse(const void *data, size_t len,
                                         struct botlink_report *out);

enum botlink_reply_kind { BOTLINK_ACK, BOTLINK_STOP, BOTLINK_DONE, BOTLINK_ERROR };

/* server → bot */
struct botlink_reply {
    enum botlink_reply_kind kind;
    int64_t durable_ms;           /* ACK: >= 0 */
    char error[64];               /* ERROR: the code, cut */
};

/* As botlink_report_parse(); HARK_EINVAL also for an ack without a
 * non-negative integer durable_ms. */
HARK_MUST_CHECK int botlink_reply_parse(const void *data, size_t len, struct botlink_reply *out);

#endif
