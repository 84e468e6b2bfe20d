/*-------------------------------------------------------------------------
 *
 * iso_time.c
 *		  ISO 8601 timestamps in what peers send, parsed without throwing.
 *
 * A decoder must not throw (leg.h), and PostgreSQL's timestamptz_in does
 * on bad input; this parser range-checks every field itself and leaves the
 * arithmetic to tm2timestamp().
 *
 * IDENTIFICATION
 *		  src/iso_time.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>

#include "utils/datetime.h"

#include "iso_time.h"

/* n decimal digits at *p, advancing it; false when they are not there */
static bool
iso_digits(const char **p, int n, int *result)
{
	*result = 0;
	for (int i = 0; i < n; i++)
	{
		if (!isdigit((unsigned char) (*p)[i]))
			return false;
		*result = *result * 10 + ((*p)[i] - '0');
	}
	*p += n;
	return true;
}

/*
 * Parse an ISO 8601 timestamp as Graphiti (Python's isoformat) and most
 * JSON writers write it:
 * YYYY-MM-DD[T ]HH:MM:SS[.fraction][Z|+HH:MM|+HHMM|+HH]; no zone means UTC.
 * Every field is range-checked here and PostgreSQL's tm2timestamp() does
 * the arithmetic, so nothing can throw.  Returns false when s is not such
 * a timestamp.
 */
bool
ApexParseIsoTimestamp(const char *s, TimestampTz *result)
{
	struct pg_tm tm = {0};
	fsec_t		fsec = 0;
	int			tz = 0;
	const char *p = s;

	if (!iso_digits(&p, 4, &tm.tm_year) || *p++ != '-' ||
		!iso_digits(&p, 2, &tm.tm_mon) || *p++ != '-' ||
		!iso_digits(&p, 2, &tm.tm_mday) || (*p != 'T' && *p != 't' && *p != ' '))
		return false;
	p++;
	if (!iso_digits(&p, 2, &tm.tm_hour) || *p++ != ':' ||
		!iso_digits(&p, 2, &tm.tm_min) || *p++ != ':' ||
		!iso_digits(&p, 2, &tm.tm_sec))
		return false;
	if (*p == '.' || *p == ',')
	{
		int			scale = 100000;

		if (!isdigit((unsigned char) *++p))
			return false;
		/* microseconds; further digits are dropped */
		for (; isdigit((unsigned char) *p); p++, scale /= 10)
			fsec += (*p - '0') * scale;
	}
	if (*p == 'Z' || *p == 'z')
		p++;
	else if (*p == '+' || *p == '-')
	{
		int			sign = *p++ == '+' ? 1 : -1;
		int			hh;
		int			mm = 0;

		if (!iso_digits(&p, 2, &hh))
			return false;
		if (*p == ':')
			p++;
		if (isdigit((unsigned char) *p) && !iso_digits(&p, 2, &mm))
			return false;
		if (hh > 15 || mm > 59)
			return false;
		/* PostgreSQL counts zone offsets in seconds west of UTC */
		tz = -sign * (hh * SECS_PER_HOUR + mm * SECS_PER_MINUTE);
	}
	if (*p != '\0')
		return false;
	if (tm.tm_year < 1 || tm.tm_mon < 1 || tm.tm_mon > MONTHS_PER_YEAR ||
		tm.tm_mday < 1 || tm.tm_mday > day_tab[isleap(tm.tm_year)][tm.tm_mon - 1] ||
		tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 59)
		return false;
	return tm2timestamp(&tm, fsec, &tz, result) == 0;
}

/*
 * t as ISO 8601 in UTC with microseconds, as Qdrant's datetime ranges read
 * it; NULL when it has no such form (infinite, before year 1, after 9999)
 */
char *
ApexIsoTimestamp(TimestampTz t)
{
	struct pg_tm tm;
	fsec_t		fsec;

	if (TIMESTAMP_NOT_FINITE(t) || timestamp2tm(t, NULL, &tm, &fsec, NULL, NULL) != 0 ||
		tm.tm_year < 1 || tm.tm_year > 9999)
		return NULL;
	return psprintf("%04d-%02d-%02dT%02d:%02d:%02d.%06dZ",
					tm.tm_year, tm.tm_mon, tm.tm_mday,
					tm.tm_hour, tm.tm_min, tm.tm_sec, (int) fsec);
}
