/*-------------------------------------------------------------------------
 *
 * iso_time.h
 *		  ISO 8601 timestamps in what peers send, parsed without throwing.
 *
 * IDENTIFICATION
 *		  src/iso_time.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef APEX_ISO_TIME_H
#define APEX_ISO_TIME_H

#include "datatype/timestamp.h"

extern bool ApexParseIsoTimestamp(const char *s, TimestampTz *result);
extern char *ApexIsoTimestamp(TimestampTz t);

#endif							/* APEX_ISO_TIME_H */
