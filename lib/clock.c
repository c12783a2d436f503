/* Clocks and timestamp formatting. */
#include "lib/clock.h"

#include <stdio.h>
#include <time.h>

#include "lib/banned.h"

int64_t ms_clock_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t ms_clock_mono_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

char *ms_clock_iso8601(int64_t epoch_ms, char *out, size_t cap)
{
    time_t secs = (time_t)(epoch_ms / 1000);
    int millis = (int)(epoch_ms % 1000);
    struct tm tm;

    if (millis < 0) {
        millis += 1000;
        secs -= 1;
    }
    gmtime_r(&secs, &tm);
    snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
    return out;
}
