/*-------------------------------------------------------------------------
 *
 * io_pg.c
 *		  libpq's asynchronous API driven by the event loop, on connections
 *		  kept across calls (one per server and user).
 *
 * A request walks CONNECTING (PQconnectPoll) -> SENDING (PQflush) ->
 * READING (PQconsumeInput / PQgetResult), each step run when the loop
 * reports the socket ready.  Two timers bound it: the request's budget
 * (keyed by the request), and while connecting the connect timeout (keyed
 * by the connection; libpq's connect_timeout applies only to blocking
 * connects).  A kept connection whose
 * server went away (restart) fails on first use; such a request is retried
 * once on a new connection, so a restart is invisible to callers.
 *
 * Time the loop could not listen is not charged to a request heard from
 * meanwhile (event_loop.c): its socket events are progress of the request,
 * its connection and its owner.  A connection takes its descriptor slot before libpq
 * opens the socket (conn_registry.c).
 *
 * Connections live in TopMemoryContext and are malloc'd by libpq: a
 * connection that was in use when a call ended abnormally (error, cancel,
 * timeout) is in an unknown protocol state and is closed
 * (ApexPgAbortActive, run by the call context's reset callback).
 *
 * IDENTIFICATION
 *		  src/io_pg.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "lib/stringinfo.h"
#include "nodes/pg_list.h"
#include "storage/latch.h"
#include "utils/memutils.h"

#include "conn_registry.h"
#include "io_pg.h"
#include "transport.h"

typedef enum ApexPgState
{
	APEX_PG_CONNECTING,
	APEX_PG_SENDING,
	APEX_PG_READING
} ApexPgState;

typedef struct ApexPgCall ApexPgCall;

typedef struct ApexPgConn
{
	Oid			serverid;
	Oid			userid;
	char	   *conninfo;		/* options it was opened with */
	PGconn	   *conn;
	bool		reserved;		/* holds a descriptor slot not yet registered */
	pgsocket	registered;		/* socket reported to the registry, or invalid */
	ApexPgCall *active;			/* the request using it, or NULL */
} ApexPgConn;

struct ApexPgCall
{
	ApexPgRequest req;
	ApexPgConn *pc;
	ApexPgState state;
	pgsocket	watched;		/* socket watched in the loop, or invalid */
	bool		reused;			/* a kept connection: retry once if dead */
	PGresult   *result;
	long		connect_timeout_ms; /* of the connection being made */
};

static List *apex_pg_conns = NIL;	/* ApexPgConn *, in TopMemoryContext */

static void apex_pg_on_socket(void *arg, pgsocket fd, int events);
static void apex_pg_connect(ApexPgCall *call);
static void apex_pg_on_timeout(void *arg);

/* The options as one string, to notice ALTER SERVER / USER MAPPING */
static char *
apex_pg_conninfo(const ApexPgRequest *req)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (int i = 0; req->keywords[i]; i++)
		appendStringInfo(&buf, "%s=%s\n", req->keywords[i], req->values[i]);
	return buf.data;
}

/* Close a connection already taken out of apex_pg_conns */
static void
apex_pg_close(ApexPgConn *pc)
{
	if (pc->active && pc->active->result)
		PQclear(pc->active->result);
	if (pc->registered != PGINVALID_SOCKET)
		ApexConnClosed("postgres", pc->registered);
	else if (pc->reserved)
		ApexConnUnreserve();
	PQfinish(pc->conn);
	pfree(pc->conninfo);
	pfree(pc);
}

static void
apex_pg_drop(ApexPgConn *pc)
{
	apex_pg_conns = list_delete_ptr(apex_pg_conns, pc);
	apex_pg_close(pc);
}

static void
apex_pg_watch(ApexPgCall *call, pgsocket fd, int events)
{
	if (call->watched != PGINVALID_SOCKET && call->watched != fd)
		ApexLoopWatch(call->req.loop, call->watched, 0, NULL, NULL);
	ApexLoopWatch(call->req.loop, fd, events, apex_pg_on_socket, call);
	call->watched = events ? fd : PGINVALID_SOCKET;
}

/* The first line of libpq's message, which may span several */
static char *
apex_pg_message(const char *msg)
{
	size_t		len = strcspn(msg, "\n");

	return pnstrdup(msg, len);
}

/*
 * End the request: error is our words for a failure, with its SQLSTATE,
 * remote what libpq said (see ApexPgDone).  A connection that failed or is
 * not idle is closed; a healthy one stays for the next call.
 */
static void
apex_pg_finish(ApexPgCall *call, const char *error, int sqlerrcode,
			   const char *remote, bool timed_out)
{
	ApexPgConn *pc = call->pc;
	PGresult   *res = error ? NULL : call->result;

	if (call->watched != PGINVALID_SOCKET)
		ApexLoopWatch(call->req.loop, call->watched, 0, NULL, NULL);
	call->watched = PGINVALID_SOCKET;
	ApexLoopSetTimer(call->req.loop, call, -1, NULL);
	ApexLoopSetTimer(call->req.loop, pc, -1, NULL);
	pc->active = NULL;
	if (!error && pc->registered != PGINVALID_SOCKET)
		ApexConnUsed("postgres", pc->registered);
	if (error && call->result)
		PQclear(call->result);
	call->result = NULL;
	/*
	 * A connection refused before its first query (the password rule, the
	 * descriptor budget) is never kept: reusing it would skip the refusal.
	 */
	if (PQstatus(pc->conn) != CONNECTION_OK ||
		PQtransactionStatus(pc->conn) != PQTRANS_IDLE || timed_out ||
		(error && call->state == APEX_PG_CONNECTING))
		apex_pg_drop(pc);
	/* the result is malloc'd by libpq: freed even when done throws */
	PG_TRY();
	{
		call->req.done(call->req.arg, res, error, sqlerrcode, remote, timed_out);
	}
	PG_FINALLY();
	{
		if (res)
			PQclear(res);
	}
	PG_END_TRY();
}

/* A dead kept connection: open a new one and try again, once */
static bool
apex_pg_retry(ApexPgCall *call)
{
	if (!call->reused || PQstatus(call->pc->conn) == CONNECTION_OK)
		return false;
	call->reused = false;
	if (call->result)
		PQclear(call->result);
	call->result = NULL;
	if (call->watched != PGINVALID_SOCKET)
		ApexLoopWatch(call->req.loop, call->watched, 0, NULL, NULL);
	call->watched = PGINVALID_SOCKET;
	call->pc->active = NULL;
	apex_pg_drop(call->pc);
	apex_pg_connect(call);
	return true;
}

/*
 * libpq failed with message msg: it may quote the remote server (a FATAL
 * at log-in, a termination notice), so it is the detail, not the cause.
 */
static void
apex_pg_libpq_failed(ApexPgCall *call, const char *msg)
{
	if (call->state == APEX_PG_CONNECTING)
		apex_pg_finish(call, "Could not connect.",
					   ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION,
					   apex_pg_message(msg), false);
	else
		apex_pg_finish(call, "The connection was lost.", ERRCODE_FDW_ERROR,
					   apex_pg_message(msg), false);
}

static void
apex_pg_fail(ApexPgCall *call, const char *error)
{
	if (!apex_pg_retry(call))
		apex_pg_libpq_failed(call, error);
}

static void
apex_pg_flush(ApexPgCall *call)
{
	PGconn	   *conn = call->pc->conn;
	int			rc = PQflush(conn);

	if (rc < 0)
		apex_pg_fail(call, PQerrorMessage(conn));
	else if (rc == 0)
	{
		call->state = APEX_PG_READING;
		apex_pg_watch(call, PQsocket(conn), WL_SOCKET_READABLE);
	}
	else
		apex_pg_watch(call, PQsocket(conn),
					  WL_SOCKET_READABLE | WL_SOCKET_WRITEABLE);
}

static void
apex_pg_send(ApexPgCall *call)
{
	PGconn	   *conn = call->pc->conn;

	call->state = APEX_PG_SENDING;
	if (PQsetnonblocking(conn, 1) != 0 ||
		!PQsendQueryParams(conn, call->req.query, call->req.nparams,
						   call->req.paramtypes, call->req.params,
						   NULL, NULL, 0))
	{
		apex_pg_fail(call, PQerrorMessage(conn));
		return;
	}
	apex_pg_flush(call);
}

/* Drain what has arrived; finish once the last result is in */
static void
apex_pg_read(ApexPgCall *call)
{
	PGconn	   *conn = call->pc->conn;

	if (!PQconsumeInput(conn))
	{
		apex_pg_fail(call, PQerrorMessage(conn));
		return;
	}
	while (!PQisBusy(conn))
	{
		PGresult   *res = PQgetResult(conn);

		if (res == NULL)
		{
			/* a kept connection found dead (server restart): reconnect */
			if (!apex_pg_retry(call))
				apex_pg_finish(call, NULL, 0, NULL, false);
			return;
		}
		if (call->result == NULL)
			call->result = res;
		else
			PQclear(res);
	}
}

static void
apex_pg_connected(ApexPgCall *call)
{
	ApexPgConn *pc = call->pc;
	pgsocket	fd = PQsocket(pc->conn);

	/* the slot reserved for the connection goes with its socket */
	ApexConnOpened("postgres", fd, call->req.label,
				   psprintf("%s:%s", PQhost(pc->conn), PQport(pc->conn)));
	pc->reserved = false;
	pc->registered = fd;
	ApexLoopSetTimer(call->req.loop, pc, -1, NULL);
	/* as postgres_fdw: a non-superuser may not use the server's own identity */
	if (call->req.password_required && !PQconnectionUsedPassword(pc->conn))
	{
		apex_pg_finish(call, "The remote server did not ask for the password.",
					   ERRCODE_S_R_E_PROHIBITED_SQL_STATEMENT_ATTEMPTED, NULL,
					   false);
		/* a superuser calling another role's source: that source's failure */
		if (superuser())
			return;
		ereport(ERROR,
				(errcode(ERRCODE_S_R_E_PROHIBITED_SQL_STATEMENT_ATTEMPTED),
				 errmsg("password is required"),
				 errdetail("Non-superuser cannot connect if the server does not request a password."),
				 errhint("Target server's authentication method must be changed.")));
	}
	apex_pg_send(call);
}

static void
apex_pg_on_socket(void *arg, pgsocket fd pg_attribute_unused(),
				  int events pg_attribute_unused())
{
	ApexPgCall *call = arg;
	PGconn	   *conn = call->pc->conn;

	ApexLoopProgress(call->req.loop, call->req.owner);
	ApexLoopProgress(call->req.loop, call->pc);
	switch (call->state)
	{
		case APEX_PG_CONNECTING:
			switch (PQconnectPoll(conn))
			{
				case PGRES_POLLING_OK:
					apex_pg_connected(call);
					break;
				case PGRES_POLLING_READING:
					apex_pg_watch(call, PQsocket(conn), WL_SOCKET_READABLE);
					break;
				case PGRES_POLLING_WRITING:
					apex_pg_watch(call, PQsocket(conn), WL_SOCKET_WRITEABLE);
					break;
				default:
					apex_pg_libpq_failed(call, PQerrorMessage(conn));
					break;
			}
			break;
		case APEX_PG_SENDING:
			apex_pg_flush(call);
			break;
		case APEX_PG_READING:
			if (PQflush(conn) < 0)
				apex_pg_fail(call, PQerrorMessage(conn));
			else
				apex_pg_read(call);
			break;
	}
}

static void
apex_pg_on_timeout(void *arg)
{
	apex_pg_finish((ApexPgCall *) arg, "Timed out.", ERRCODE_FDW_ERROR, NULL,
				   true);
}

/* arg is the connection being made */
static void
apex_pg_on_connect_timeout(void *arg)
{
	ApexPgCall *call = ((ApexPgConn *) arg)->active;

	apex_pg_finish(call, ApexConnectTimedOut(call->connect_timeout_ms),
				   ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION, NULL, false);
}

/*
 * Open a new kept connection for the request and start connecting; the
 * request fails at once when the descriptor budget is spent.
 */
static void
apex_pg_connect(ApexPgCall *call)
{
	MemoryContext old;
	ApexPgConn *pc;

	if (!ApexConnReserve())
	{
		ApexLoopSetTimer(call->req.loop, call, -1, NULL);
		call->req.done(call->req.arg, NULL, ApexOutOfDescriptors(),
					   ERRCODE_INSUFFICIENT_RESOURCES, NULL, false);
		return;
	}
	old = MemoryContextSwitchTo(TopMemoryContext);
	pc = palloc0(sizeof(ApexPgConn));
	pc->reserved = true;
	pc->serverid = call->req.serverid;
	pc->userid = GetUserId();
	pc->conninfo = apex_pg_conninfo(&call->req);
	pc->registered = PGINVALID_SOCKET;
	MemoryContextSwitchTo(old);
	pc->conn = PQconnectStartParams(call->req.keywords, call->req.values, 0);
	if (pc->conn == NULL)
	{
		ApexConnUnreserve();
		pfree(pc->conninfo);
		pfree(pc);
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OUT_OF_MEMORY),
				 errmsg("out of memory"),
				 errdetail("libpq could not allocate a connection.")));
	}
	old = MemoryContextSwitchTo(TopMemoryContext);
	apex_pg_conns = lappend(apex_pg_conns, pc);
	MemoryContextSwitchTo(old);
	pc->active = call;
	call->pc = pc;
	call->state = APEX_PG_CONNECTING;
	call->connect_timeout_ms = Min(call->req.connect_timeout_ms,
								   ApexLoopTimeLeft(call->req.loop, call));
	ApexLoopSetTimer(call->req.loop, pc, call->connect_timeout_ms,
					 apex_pg_on_connect_timeout);
	if (PQstatus(pc->conn) == CONNECTION_BAD)
		apex_pg_libpq_failed(call, PQerrorMessage(pc->conn));
	else
		apex_pg_watch(call, PQsocket(pc->conn), WL_SOCKET_WRITEABLE);
}

/*
 * Run request's query on the kept connection of (server, current user),
 * opening one when there is none or its options changed.
 */
void
ApexPgStart(const ApexPgRequest *request)
{
	ApexPgCall *call = palloc0(sizeof(ApexPgCall));
	char	   *conninfo = apex_pg_conninfo(request);
	ApexPgConn *kept = NULL;
	ListCell   *lc;

	call->req = *request;
	call->watched = PGINVALID_SOCKET;
	foreach(lc, apex_pg_conns)
	{
		ApexPgConn *pc = lfirst(lc);

		if (pc->serverid == request->serverid && pc->userid == GetUserId())
			kept = pc;
	}
	if (kept && (kept->active || strcmp(kept->conninfo, conninfo) != 0 ||
				 PQstatus(kept->conn) != CONNECTION_OK))
	{
		if (kept->active)		/* cannot happen: one leg per server */
			elog(ERROR, "connection of server %u is busy", request->serverid);
		apex_pg_drop(kept);
		kept = NULL;
	}
	ApexLoopSetTimer(request->loop, call, request->timeout_ms, apex_pg_on_timeout);
	if (kept)
	{
		kept->active = call;
		call->pc = kept;
		call->reused = true;
		apex_pg_send(call);
	}
	else
		apex_pg_connect(call);
}

/* Close every connection a call was using when it ended abnormally */
void
ApexPgAbortActive(void)
{
	ListCell   *lc;

	foreach(lc, apex_pg_conns)
	{
		ApexPgConn *pc = lfirst(lc);

		if (pc->active)
		{
			apex_pg_conns = foreach_delete_current(apex_pg_conns, lc);
			apex_pg_close(pc);
		}
	}
}

/* apex_router_disconnect(): close the idle kept connections */
static int
apex_pg_disconnect_all(void)
{
	int			closed = 0;
	ListCell   *lc;

	foreach(lc, apex_pg_conns)
	{
		ApexPgConn *pc = lfirst(lc);

		if (pc->active == NULL)
		{
			apex_pg_conns = foreach_delete_current(apex_pg_conns, lc);
			apex_pg_close(pc);
			closed++;
		}
	}
	return closed;
}

/* The call's state is the call itself: one call runs at a time (call.c) */
static void *
apex_pg_attach(ApexCall *call)
{
	return call;
}

/* Whether every request's query is written (connected and flushed) */
static bool
apex_pg_all_sent(void *state pg_attribute_unused())
{
	ListCell   *lc;

	foreach(lc, apex_pg_conns)
	{
		ApexPgConn *pc = lfirst(lc);

		if (pc->active && pc->active->state != APEX_PG_READING)
			return false;
	}
	return true;
}

/*
 * The owner's time is up: abandon its request.  Its connection is in an
 * unknown protocol state (a query may be running): it is closed.
 */
static void
apex_pg_cancel(void *state pg_attribute_unused(), void *owner)
{
	ListCell   *lc;

	foreach(lc, apex_pg_conns)
	{
		ApexPgConn *pc = lfirst(lc);
		ApexPgCall *call = pc->active;

		if (call == NULL || call->req.owner != owner)
			continue;
		if (call->watched != PGINVALID_SOCKET)
			ApexLoopWatch(call->req.loop, call->watched, 0, NULL, NULL);
		ApexLoopSetTimer(call->req.loop, call, -1, NULL);
		ApexLoopSetTimer(call->req.loop, pc, -1, NULL);
		apex_pg_conns = foreach_delete_current(apex_pg_conns, lc);
		apex_pg_close(pc);
	}
}

/* Whatever a call left mid-request is closed, however it ended */
static void
apex_pg_release(void *state pg_attribute_unused(), bool normal pg_attribute_unused())
{
	ApexPgAbortActive();
}

const ApexTransport ApexPgTransport = {
	.name = "postgres",
	.attach = apex_pg_attach,
	.all_sent = apex_pg_all_sent,
	.cancel = apex_pg_cancel,
	.release = apex_pg_release,
	.disconnect_all = apex_pg_disconnect_all,
};
