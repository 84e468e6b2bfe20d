/*-------------------------------------------------------------------------
 *
 * breaker.c
 *		  Circuit breaking, shared by every backend (issue 14 item 4), and
 *		  apex_router_health().
 *
 * A source with breaker_failures = N > 0 opens its breaker after N
 * consecutive failed legs: errors and timeouts of legs that asked it by
 * its own clock (ApexLegTrace.source_failed).  A leg refused at planning,
 * one whose turn never came, one cut short by the caller's timeout_ms and
 * one its embedder failed say nothing about the source, so one caller
 * cannot open a breaker every caller shares.  Every source's consecutive
 * failures are counted, a breaker or not, so that turning one on starts
 * from the truth.  While it is open its legs are skipped
 * without a request: status "skipped", a WARNING, the partial column.
 * Once breaker_cooldown_ms has passed, the next leg to come is let
 * through alone as a probe (half-open) while the others are still
 * skipped; its success closes the breaker, its failure opens it again for
 * another cool-down.  A probe that never reports (its backend was
 * cancelled or ended) lets another leg probe once a cool-down has passed
 * since it began.
 *
 * The state lives in the source's shared record (shared_sources.c), under
 * that record's spinlock: a few assignments, no call that can fail.  It
 * needs apex_router in shared_preload_libraries; without it breakers do
 * nothing (apex_router_health() says why).
 *
 * The last error kept is the leg's cause in our own words (leg->error),
 * never what a peer sent: everyone may read the health view.
 *
 * IDENTIFICATION
 *		  src/breaker.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "foreign/foreign.h"
#include "funcapi.h"
#include "utils/builtins.h"

#include "apex_router.h"
#include "breaker.h"
#include "shared_sources.h"

PG_FUNCTION_INFO_V1(apex_router_health);

/*
 * A leg about to be made: let it run, let it probe the half-open breaker
 * (leg->trace.probe), or fail it as skipped.
 */
void
ApexBreakerAdmit(ApexLeg *leg)
{
	ApexSource *source = leg->source;
	ApexSharedSource *r;
	ApexBreaker *b;
	TimestampTz now;
	TimestampTz retry_at = 0;
	bool		skip = false;
	int			failures;

	if (source->breaker_failures == 0 ||
		(r = ApexSharedSourceOf(source->serverid)) == NULL)
		return;
	now = GetCurrentTimestamp();
	failures = source->breaker_failures;
	SpinLockAcquire(&r->mutex);
	b = &r->breaker;
	if (b->state == APEX_BREAKER_OPEN)
	{
		retry_at = TimestampTzPlusMilliseconds(b->opened_at, source->breaker_cooldown_ms);
		if (now >= retry_at)
		{
			b->state = APEX_BREAKER_HALF_OPEN;
			b->probe_started = now;
			leg->trace.probe = true;
		}
		else
			skip = true;
	}
	else if (b->state == APEX_BREAKER_HALF_OPEN)
	{
		if (now >= TimestampTzPlusMilliseconds(b->probe_started, source->breaker_cooldown_ms))
		{
			b->probe_started = now;
			leg->trace.probe = true;
		}
		else
			skip = true;
	}
	SpinLockRelease(&r->mutex);
	if (!skip)
		return;
	leg->trace.status = APEX_LEG_SKIPPED;
	if (retry_at > now)
		ApexLegFail(leg, ERRCODE_FDW_ERROR,
					"Skipped: its circuit breaker opened after %d consecutive failures; the source is tried again once breaker_cooldown_ms (%d) has passed.",
					failures, source->breaker_cooldown_ms);
	else
		ApexLegFail(leg, ERRCODE_FDW_ERROR,
					"Skipped: its circuit breaker is half-open, and another leg is trying the source.");
	leg->hint = "apex_router_health shows the source's last error.";
}

/* The legs are over: what their outcomes say about their sources */
void
ApexBreakerRecord(List *legs)
{
	ListCell   *lc;

	foreach(lc, legs)
	{
		ApexLeg    *leg = lfirst(lc);
		ApexSource *source = leg->source;
		ApexLegStatus status = leg->trace.status;
		bool		failed = (status == APEX_LEG_ERROR || status == APEX_LEG_TIMEOUT) &&
			leg->trace.source_failed;
		ApexSharedSource *r;
		ApexBreaker *b;
		char		error[APEX_LAST_ERROR_BYTES] = "";
		TimestampTz now;

		if (!(status == APEX_LEG_OK || failed || leg->trace.probe) ||
			(r = ApexSharedSourceOf(source->serverid)) == NULL)
			continue;
		if (failed)
			strlcpy(error, leg->error, sizeof(error));
		now = GetCurrentTimestamp();
		SpinLockAcquire(&r->mutex);
		b = &r->breaker;
		if (status == APEX_LEG_OK)
		{
			b->state = APEX_BREAKER_CLOSED;
			b->failures = 0;
			b->last_success = now;
		}
		else if (failed)
		{
			b->failures++;
			b->last_failure = now;
			memcpy(b->last_error, error, sizeof(error));
			if (source->breaker_failures > 0 &&
				((b->state == APEX_BREAKER_HALF_OPEN && leg->trace.probe) ||
				 (b->state == APEX_BREAKER_CLOSED && b->failures >= source->breaker_failures)))
			{
				b->state = APEX_BREAKER_OPEN;
				b->opened_at = now;
			}
		}
		else if (b->state == APEX_BREAKER_HALF_OPEN)
		{
			/* a probe without an outcome (a cache hit ended the call): the next leg probes */
			b->state = APEX_BREAKER_OPEN;
		}
		SpinLockRelease(&r->mutex);
	}
}

static const char *
apex_breaker_state_name(ApexBreakerState state)
{
	switch (state)
	{
		case APEX_BREAKER_CLOSED:
			break;
		case APEX_BREAKER_OPEN:
			return "open";
		case APEX_BREAKER_HALF_OPEN:
			return "half-open";
	}
	return "closed";
}

#define APEX_HEALTH_COLS 9

static Datum
apex_time_or_null(TimestampTz t, bool *isnull)
{
	*isnull = t == 0;
	return TimestampTzGetDatum(t);
}

/* apex_router_health(): each source of this database that has a record */
Datum
apex_router_health(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	ApexSharedSource **records;
	int			n;

	ApexSharedSourcesRequire("apex_router_health()");
	InitMaterializedSRF(fcinfo, 0);
	n = ApexSharedSourcesSnapshot(&records);
	for (int i = 0; i < n; i++)
	{
		ForeignServer *server = GetForeignServerExtended(records[i]->serverid, FSV_MISSING_OK);
		ApexSource *source;
		ApexBreaker b;
		Datum		values[APEX_HEALTH_COLS];
		bool		nulls[APEX_HEALTH_COLS] = {0};

		if (server == NULL || (source = ApexFindSource(server->servername)) == NULL)
			continue;
		SpinLockAcquire(&records[i]->mutex);
		b = records[i]->breaker;
		SpinLockRelease(&records[i]->mutex);
		values[0] = CStringGetTextDatum(server->servername);
		values[1] = CStringGetTextDatum(source->breaker_failures > 0
										? apex_breaker_state_name(b.state) : "off");
		values[2] = Int32GetDatum(b.failures);
		values[3] = Int32GetDatum(source->breaker_failures);
		nulls[3] = source->breaker_failures == 0;
		values[4] = apex_time_or_null(b.state == APEX_BREAKER_CLOSED ? 0 : b.opened_at, &nulls[4]);
		/* while half-open: when another leg may probe, if this probe is lost */
		values[5] = apex_time_or_null(b.state == APEX_BREAKER_OPEN
									  ? TimestampTzPlusMilliseconds(b.opened_at, source->breaker_cooldown_ms)
									  : b.state == APEX_BREAKER_HALF_OPEN
									  ? TimestampTzPlusMilliseconds(b.probe_started, source->breaker_cooldown_ms)
									  : 0, &nulls[5]);
		values[6] = apex_time_or_null(b.last_success, &nulls[6]);
		values[7] = apex_time_or_null(b.last_failure, &nulls[7]);
		nulls[8] = b.last_error[0] == '\0';
		values[8] = nulls[8] ? (Datum) 0 : CStringGetTextDatum(b.last_error);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
