/*-------------------------------------------------------------------------
 *
 * conn_registry.c
 *		  The connection registry: every socket this backend keeps open
 *		  across apex_route() calls, and the SQL functions that list and
 *		  close them.
 *
 * The transports own their connections (libcurl's connection cache for
 * HTTP keep-alive); they report each socket they open and close here, so
 * that apex_router_connections() can show them.  Every socket counts
 * against PostgreSQL's budget for descriptors opened outside fd.c
 * (AcquireExternalFD), as postgres_fdw's libpq connections do: a module
 * takes a slot (ApexConnReserve) before it opens a socket, and a source
 * that finds the budget spent fails alone, with "out of file descriptors
 * for remote connections".  The slot is released when the socket is
 * closed.  Entries live in TopMemoryContext: they outlive every call.
 *
 * IDENTIFICATION
 *		  src/conn_registry.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/stat.h>

#include "fmgr.h"
#include "funcapi.h"
#include "storage/fd.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "conn_registry.h"
#include "event_loop.h"
#include "transport.h"

typedef struct ApexConn
{
	const char *kind;			/* "http", ... (a static string) */
	pgsocket	fd;
	char	   *source;			/* the source that opened it */
	char	   *target;			/* host:port */
	TimestampTz opened_at;
	int64		requests;		/* requests served */
} ApexConn;

static List *apex_conns = NIL;	/* ApexConn *, in TopMemoryContext */

PG_FUNCTION_INFO_V1(apex_router_connections);
PG_FUNCTION_INFO_V1(apex_router_disconnect);

static ApexConn *
apex_conn_find(const char *kind, pgsocket fd)
{
	ListCell   *lc;

	foreach(lc, apex_conns)
	{
		ApexConn   *c = lfirst(lc);

		if (c->fd == fd && strcmp(c->kind, kind) == 0)
			return c;
	}
	return NULL;
}

/* Free an entry already taken out of apex_conns, and its descriptor's slot */
static void
apex_conn_free(ApexConn *c)
{
	pfree(c->source);
	pfree(c->target);
	pfree(c);
	ReleaseExternalFD();
}

/*
 * Drop entries whose socket was closed without a word to us.  libcurl
 * (7.88) closes a socket whose connect timed out without calling
 * CURLOPT_CLOSESOCKETFUNCTION.  A descriptor that is no longer a socket is
 * gone; one whose number a new socket of ours got (ApexConnOpened) too.
 */
void
ApexConnSweep(void)
{
	ListCell   *lc;

	foreach(lc, apex_conns)
	{
		ApexConn   *c = lfirst(lc);
		struct stat st;

		if (fstat(c->fd, &st) != 0 || !S_ISSOCK(st.st_mode))
		{
			apex_conns = foreach_delete_current(apex_conns, lc);
			apex_conn_free(c);
		}
	}
}

/*
 * Take a descriptor slot for a socket about to be opened; false when
 * PostgreSQL's budget is spent, in which case the caller must not open it.
 */
bool
ApexConnReserve(void)
{
	return AcquireExternalFD();
}

/* n slots a call cannot do without; an ERROR when the budget is spent */
void
ApexConnReserveOrError(int n)
{
	for (int i = 0; i < n; i++)
	{
		if (ApexConnReserve())
			continue;
		while (i-- > 0)
			ApexConnUnreserve();
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
				 errmsg("out of file descriptors for remote connections"),
				 errdetail("The descriptors PostgreSQL allows a backend for connections are all in use."),
				 errhint("Raise max_files_per_process, or close kept connections with apex_router_disconnect().")));
	}
}

/*
 * How many slots are free now, counting up to max: taken and given back at
 * once, since PostgreSQL's budget (fd.c) has no other way to ask.
 */
int
ApexConnFree(int max)
{
	int			n = 0;

	while (n < max && AcquireExternalFD())
		n++;
	for (int i = 0; i < n; i++)
		ReleaseExternalFD();
	return n;
}

/* Give back a slot whose socket was not opened after all */
void
ApexConnUnreserve(void)
{
	ReleaseExternalFD();
}

/* Record a new socket, whose slot the caller reserved */
void
ApexConnOpened(const char *kind, pgsocket fd, const char *source,
			   const char *target)
{
	MemoryContext old;
	ApexConn   *c;
	ListCell   *lc;

	/* the kernel reuses only free numbers: an entry holding fd is stale */
	foreach(lc, apex_conns)
	{
		ApexConn   *stale = lfirst(lc);

		if (stale->fd == fd)
		{
			apex_conns = foreach_delete_current(apex_conns, lc);
			apex_conn_free(stale);
			break;
		}
	}

	old = MemoryContextSwitchTo(TopMemoryContext);
	c = palloc0(sizeof(ApexConn));
	c->kind = kind;
	c->fd = fd;
	c->source = pstrdup(source ? source : "");
	c->target = pstrdup(target ? target : "");
	c->opened_at = GetCurrentTimestamp();
	apex_conns = lappend(apex_conns, c);
	MemoryContextSwitchTo(old);
}

void
ApexConnClosed(const char *kind, pgsocket fd)
{
	ApexConn   *c = apex_conn_find(kind, fd);

	if (c != NULL)
	{
		apex_conns = list_delete_ptr(apex_conns, c);
		apex_conn_free(c);
	}
}

/* How many connections of kind are open, of source or (NULL) of any */
int
ApexConnCount(const char *kind, const char *source)
{
	ListCell   *lc;
	int			n = 0;

	foreach(lc, apex_conns)
	{
		ApexConn   *c = lfirst(lc);

		n += strcmp(c->kind, kind) == 0 &&
			(source == NULL || strcmp(c->source, source) == 0);
	}
	return n;
}

void
ApexConnUsed(const char *kind, pgsocket fd)
{
	ApexConn   *c = apex_conn_find(kind, fd);

	if (c)
		c->requests++;
}

/* apex_router_connections(): this backend's open connections */
Datum
apex_router_connections(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	ListCell   *lc;

	InitMaterializedSRF(fcinfo, 0);
	ApexConnSweep();
	foreach(lc, apex_conns)
	{
		ApexConn   *c = lfirst(lc);
		Datum		values[5];
		bool		nulls[5] = {0};

		values[0] = CStringGetTextDatum(c->kind);
		values[1] = CStringGetTextDatum(c->source);
		values[2] = CStringGetTextDatum(c->target);
		values[3] = TimestampTzGetDatum(c->opened_at);
		values[4] = Int64GetDatum(c->requests);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/*
 * apex_router_disconnect(): close every kept connection;
 * apex_router_disconnect(source): those of one source, an ERROR when there
 * is no such source.  Returns how many were closed.  Either closes only
 * this backend's own connections, so neither needs a privilege, as with
 * postgres_fdw_disconnect().  Both also free the wait set kept for the
 * next call (event_loop.c): every descriptor goes back.
 */
Datum
apex_router_disconnect(PG_FUNCTION_ARGS)
{
	const ApexSource *source = NULL;

	if (PG_NARGS() > 0)
		source = ApexGetSource(text_to_cstring(PG_GETARG_TEXT_PP(0)));
	ApexLoopDropKept();
	PG_RETURN_INT32(ApexTransportsDisconnect(source));
}
