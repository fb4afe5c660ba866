/* clock.h — wall and monotonic time in milliseconds.
 * Wall time is for what is stored and shown (UTC); monotonic time is for
 * durations and timeouts, which must not jump when the clock is set. */
#ifndef HARK_CLOCK_H
#define HARK_CLOCK_H
#include <stdint.h>

int64_t clock_now_ms(void);   /* milliseconds since the Unix epoch */
int64_t clock_mono_ms(void);  /* milliseconds on a monotonic clock */

#endif
