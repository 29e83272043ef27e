/* Calendar arithmetic in the proleptic Gregorian calendar, UTC, without
 * the C library's time zone state (timegm is not thread-safe everywhere and
 * mktime reads TZ). */
#ifndef CS_CORE_DATE_H
#define CS_CORE_DATE_H

#include <stdint.h>

/* Days from 1970-01-01 to y-m-d (negative before it). m is 1..12, d 1..31;
 * the caller checks the ranges. Exact for every int32 year. */
int64_t cs_days_from_civil(int64_t y, int m, int d);

#endif
