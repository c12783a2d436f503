/* Wall and monotonic clocks, and the ISO 8601 form of SPEC §2. */
#ifndef MS_CLOCK_H
#define MS_CLOCK_H

#include <stddef.h>
#include <stdint.h>

/* Milliseconds since the epoch (wall clock). */
int64_t ms_clock_now_ms(void);

/* Microseconds of a monotonic clock (for durations and deadlines). */
int64_t ms_clock_mono_us(void);

/* "2026-11-24T09:15:02.123Z" for epoch milliseconds into out (>= 25 bytes);
 * returns out. */
char *ms_clock_iso8601(int64_t epoch_ms, char *out, size_t cap);

#endif
