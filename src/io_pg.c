/*-------------------------------------------------------------------------
 *
 * io_pg.c
 *		  libpq's asynchronous API driven by the event loop, on connections
 *		  kept across calls (kept_conns.c: one per server and user mapping;
 *		  more while a call has several queries of one source in flight).
 *
 * A query walks CONNECTING (PQconnectPoll) -> SENDING (PQflush) ->
 * READING (PQconsumeInput / PQgetResult), each step run when the loop
 * reports the socket ready.  While connecting, a connect timer bounds it
 * (keyed by the connection; libpq's connect_timeout applies only to
 * blocking connects).  The query has no timer of its own: its owner (a
 * leg) has a clock in the call's loop, which abandons it (its cancel operation).  A
 * kept connection whose server went away (restart) fails on first use;
 * such a query is retried once on a new connection, so a restart is
 * invisible to callers.
 *
 * Time the loop could not listen is not charged to a query heard from
 * meanwhile (event_loop.c): its socket events are progress of the query,
 * its connection and its owner.  A connection takes its descriptor slot
 * before libpq opens the socket (conn_registry.c).
 *
 * Connections live in TopMemoryContext and are malloc'd by libpq, and so is
 * the result being read (kept with the connection, not the query, so that
 * closing a connection never reads the memory of a call that is gone).  A
 * connection whose query was abandoned (its owner's time ran out) or whose
 * call ended abnormally (error, cancel) is in an unknown protocol state and
 * is closed: by the cancel and release operations (the call context's reset
 * callback), and kept_conns.c's transaction callbacks behind them.
 *
 * A new connection names who asks as its application_name (identity.c,
 * apex_router.application_name), set here rather than by the leg so that
 * no request goes without it, and set outright rather than as
 * fallback_application_name: an environment's PGAPPNAME must not pass for
 * the caller.  A source's own application_name option (a template of the
 * same form, set by a superuser) replaces the setting for its requests.
 * The identity is part of the connection's key (kept_conns.c).
 *
 * Roles that use one PUBLIC mapping share its connection (kept_conns.c): a
 * connection the remote server accepted without the password (a
 * superuser's call of a superuser's source) is not lent to a caller the
 * password rule binds; that caller opens its own, and is refused.
 *
 * IDENTIFICATION
 *		  src/io_pg.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "storage/latch.h"
#include "utils/memutils.h"

#include "conn_registry.h"
#include "identity.h"
#include "io_pg.h"
#include "transport.h"
#include "kept_conns.h"

typedef enum ApexPgState
{
	APEX_PG_CONNECTING,
	APEX_PG_SENDING,
	APEX_PG_READING
} ApexPgState;

typedef struct ApexPgQuery ApexPgQuery;

typedef struct ApexPgConn
{
	ApexKeptConn kept;			/* first: its entry in kept_conns.c */
	PGconn	   *conn;
	bool		reserved;		/* holds a descriptor slot not yet registered */
	pgsocket	registered;		/* socket reported to the registry, or invalid */
	ApexPgQuery *active;		/* the query using it, or NULL */
	PGresult   *result;			/* the active query's first result, or NULL */
} ApexPgConn;

/* One query of a call (an ApexPgRequest under way), in the call's memory */
struct ApexPgQuery
{
	ApexPgRequest req;
	ApexPgConn *pc;
	ApexPgState state;
	pgsocket	watched;		/* socket watched in the loop, or invalid */
	bool		reused;			/* a kept connection: retry once if dead */
	char	   *identity;		/* its application_name (identity.c) */
};

static void apex_pg_close(ApexKeptConn *kc);
static void apex_pg_on_socket(void *arg, pgsocket fd, int events);
static void apex_pg_connect(ApexPgQuery *q);

/* abandon: NULL, a connection whose call is gone is closed */
static const ApexKeptOps apex_pg_kept = {
	.close = apex_pg_close,
};

/* Close a connection already out of the registry */
static void
apex_pg_close(ApexKeptConn *kc)
{
	ApexPgConn *pc = (ApexPgConn *) kc;

	if (pc->result)
		PQclear(pc->result);
	if (pc->registered != PGINVALID_SOCKET)
		ApexConnClosed("postgres", pc->registered);
	else if (pc->reserved)
		ApexConnUnreserve();
	PQfinish(pc->conn);
	pfree(pc);
}

static void
apex_pg_drop(ApexPgConn *pc)
{
	ApexKeptClose(&pc->kept);
}

static void
apex_pg_unwatch(ApexPgQuery *q)
{
	if (q->watched != PGINVALID_SOCKET)
		ApexLoopWatch(q->req.loop, q->watched, 0, NULL, NULL);
	q->watched = PGINVALID_SOCKET;
}

static void
apex_pg_watch(ApexPgQuery *q, pgsocket fd, int events)
{
	if (q->watched != fd)
		apex_pg_unwatch(q);
	ApexLoopWatch(q->req.loop, fd, events, apex_pg_on_socket, q);
	q->watched = fd;
}

/*
 * While connecting: libpq moves to the next host of a list when one fails,
 * closing its socket and opening another, which the kernel may give the
 * same number.  Watching it as the socket already watched would leave the
 * new one out of the loop's epoll set (a closed socket leaves it), and the
 * connection would wait for its connect timeout: so it is watched afresh.
 */
static void
apex_pg_watch_anew(ApexPgQuery *q, int events)
{
	apex_pg_unwatch(q);
	apex_pg_watch(q, PQsocket(q->pc->conn), events);
}

/* The first line of libpq's message, which may span several */
static char *
apex_pg_message(const char *msg)
{
	size_t		len = strcspn(msg, "\n");

	return pnstrdup(msg, len);
}

/*
 * End the query: error is our words for a failure (a sentence), with its
 * SQLSTATE, remote what libpq said (see ApexPgDone).  A connection that
 * failed or is not idle is closed; a healthy one stays for the next call.
 */
static void
apex_pg_finish(ApexPgQuery *q, const char *error, int sqlerrcode,
			   const char *remote)
{
	ApexPgConn *pc = q->pc;
	PGresult   *res = error ? NULL : pc->result;

	apex_pg_unwatch(q);
	ApexLoopSetTimer(q->req.loop, pc, -1, NULL);
	if (error && pc->result)
		PQclear(pc->result);
	pc->result = NULL;
	pc->active = NULL;
	ApexKeptRelease(&pc->kept);
	if (!error && pc->registered != PGINVALID_SOCKET)
		ApexConnUsed("postgres", pc->registered);

	/*
	 * A connection refused before its first query (the password rule, the
	 * descriptor budget) is never kept: reusing it would skip the refusal.
	 */
	if (PQstatus(pc->conn) != CONNECTION_OK ||
		PQtransactionStatus(pc->conn) != PQTRANS_IDLE ||
		(error && q->state == APEX_PG_CONNECTING))
		apex_pg_drop(pc);
	/* the result is malloc'd by libpq: freed even when done throws */
	PG_TRY();
	{
		q->req.done(q->req.arg, res, error, sqlerrcode, remote);
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
apex_pg_retry(ApexPgQuery *q)
{
	if (!q->reused || PQstatus(q->pc->conn) == CONNECTION_OK)
		return false;
	q->reused = false;
	apex_pg_unwatch(q);
	q->pc->active = NULL;
	apex_pg_drop(q->pc);
	apex_pg_connect(q);
	return true;
}

/*
 * What libpq said about a connection that failed: the first line of each
 * host's attempt (libpq starts each "connection to server ..."), joined,
 * so that a list of hosts says why each failed, the last one included
 * (target_session_attrs' "server is not in hot standby mode").  An attempt
 * that failed as the one before it did is said once: sslmode prefer (the
 * default) tries a host again without TLS when a TLS log-in fails.  (A
 * libpq speaking another language than English shows its first line.)
 */
static char *
apex_pg_connect_message(const char *msg)
{
	static const char attempt_start[] = "connection to server ";
	StringInfoData buf;
	const char *line = msg;
	char	   *last = apex_pg_message(line);

	initStringInfo(&buf);
	appendStringInfoString(&buf, last);
	while ((line = strchr(line, '\n')) != NULL)
	{
		char	   *attempt;

		line++;
		if (strncmp(line, attempt_start, sizeof(attempt_start) - 1) != 0)
			continue;
		attempt = apex_pg_message(line);
		if (strcmp(attempt, last) != 0)
			appendStringInfo(&buf, "; %s", attempt);
		last = attempt;
	}
	return buf.data;
}

/*
 * libpq failed with message msg: it may quote the remote server (a FATAL
 * at log-in, a termination notice), so it is the detail, not the cause.
 */
static void
apex_pg_libpq_failed(ApexPgQuery *q, const char *msg)
{
	if (q->state == APEX_PG_CONNECTING)
		apex_pg_finish(q, "Could not connect.",
					   ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION,
					   apex_pg_connect_message(msg));
	else
		apex_pg_finish(q, "The connection was lost.", ERRCODE_FDW_ERROR,
					   apex_pg_message(msg));
}

static void
apex_pg_fail(ApexPgQuery *q, const char *error)
{
	if (!apex_pg_retry(q))
		apex_pg_libpq_failed(q, error);
}

static void
apex_pg_flush(ApexPgQuery *q)
{
	PGconn	   *conn = q->pc->conn;
	int			rc = PQflush(conn);

	if (rc < 0)
		apex_pg_fail(q, PQerrorMessage(conn));
	else if (rc == 0)
	{
		q->state = APEX_PG_READING;
		apex_pg_watch(q, PQsocket(conn), WL_SOCKET_READABLE);
	}
	else
		apex_pg_watch(q, PQsocket(conn),
					  WL_SOCKET_READABLE | WL_SOCKET_WRITEABLE);
}

static void
apex_pg_send(ApexPgQuery *q)
{
	PGconn	   *conn = q->pc->conn;

	q->state = APEX_PG_SENDING;
	if (PQsetnonblocking(conn, 1) != 0 ||
		!PQsendQueryParams(conn, q->req.query, q->req.nparams,
						   q->req.paramtypes, q->req.params,
						   NULL, NULL, 0))
	{
		apex_pg_fail(q, PQerrorMessage(conn));
		return;
	}
	apex_pg_flush(q);
}

/* Drain what has arrived; finish once the last result is in */
static void
apex_pg_read(ApexPgQuery *q)
{
	ApexPgConn *pc = q->pc;

	if (!PQconsumeInput(pc->conn))
	{
		apex_pg_fail(q, PQerrorMessage(pc->conn));
		return;
	}
	while (!PQisBusy(pc->conn))
	{
		PGresult   *res = PQgetResult(pc->conn);

		if (res == NULL)
		{
			/* a kept connection found dead (server restart): reconnect */
			if (!apex_pg_retry(q))
				apex_pg_finish(q, NULL, 0, NULL);
			return;
		}
		if (pc->result == NULL)
			pc->result = res;
		else
			PQclear(res);
	}
}

static void
apex_pg_connected(ApexPgQuery *q)
{
	ApexPgConn *pc = q->pc;
	pgsocket	fd = PQsocket(pc->conn);

	/* the slot reserved for the connection goes with its socket */
	ApexConnOpened("postgres", fd, q->req.label,
				   psprintf("%s:%s", PQhost(pc->conn), PQport(pc->conn)));
	pc->reserved = false;
	pc->registered = fd;
	ApexLoopSetTimer(q->req.loop, pc, -1, NULL);
	/* as postgres_fdw: a non-superuser may not use the server's own identity */
	if (q->req.password_required && !PQconnectionUsedPassword(pc->conn))
	{
		apex_pg_finish(q, "The remote server did not ask for the password.",
					   ERRCODE_S_R_E_PROHIBITED_SQL_STATEMENT_ATTEMPTED, NULL);
		/* a superuser calling another role's source: that source's failure */
		if (superuser())
			return;
		ereport(ERROR,
				(errcode(ERRCODE_S_R_E_PROHIBITED_SQL_STATEMENT_ATTEMPTED),
				 errmsg("password is required"),
				 errdetail("Non-superuser cannot connect if the server does not request a password."),
				 errhint("Target server's authentication method must be changed.")));
	}
	apex_pg_send(q);
}

static void
apex_pg_on_socket(void *arg, pgsocket fd pg_attribute_unused(),
				  int events pg_attribute_unused())
{
	ApexPgQuery *q = arg;
	PGconn	   *conn = q->pc->conn;

	ApexLoopProgress(q->req.loop, q->req.owner);
	ApexLoopProgress(q->req.loop, q->pc);
	switch (q->state)
	{
		case APEX_PG_CONNECTING:
			switch (PQconnectPoll(conn))
			{
				case PGRES_POLLING_OK:
					apex_pg_connected(q);
					break;
				case PGRES_POLLING_READING:
					apex_pg_watch_anew(q, WL_SOCKET_READABLE);
					break;
				case PGRES_POLLING_WRITING:
					apex_pg_watch_anew(q, WL_SOCKET_WRITEABLE);
					break;
				default:
					apex_pg_libpq_failed(q, PQerrorMessage(conn));
					break;
			}
			break;
		case APEX_PG_SENDING:
			apex_pg_flush(q);
			break;
		case APEX_PG_READING:
			if (PQflush(conn) < 0)
				apex_pg_fail(q, PQerrorMessage(conn));
			else
				apex_pg_read(q);
			break;
	}
}

/* arg is the connection being made */
static void
apex_pg_on_connect_timeout(void *arg)
{
	ApexPgConn *pc = arg;
	ApexPgQuery *q = pc->active;
	const char *host = PQhost(pc->conn);
	const char *port = PQport(pc->conn);
	char	   *peer = NULL;

	/* the host libpq is trying (of a list, the current one) */
	if (host && host[0] && port && port[0])
		peer = ApexTargetString(ApexTargetMake(host, port));
	apex_pg_finish(q, ApexConnectTimedOut(peer, q->req.connect_timeout_ms),
				   ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION, NULL);
}

/*
 * Open a new kept connection for the query and start connecting; the
 * query fails at once when the descriptor budget is spent.
 */
static void
apex_pg_connect(ApexPgQuery *q)
{
	ApexPgConn *pc = MemoryContextAllocZero(TopMemoryContext, sizeof(ApexPgConn));
	int			n = 0;
	const char **keywords;
	const char **values;

	/* the request's options, then application_name, then the NULL */
	while (q->req.keywords[n])
		n++;
	keywords = palloc(sizeof(char *) * (n + 2));
	values = palloc(sizeof(char *) * (n + 2));
	memcpy(keywords, q->req.keywords, sizeof(char *) * n);
	memcpy(values, q->req.values, sizeof(char *) * n);
	keywords[n] = "application_name";
	values[n++] = q->identity;
	keywords[n] = values[n] = NULL;

	if (!ApexConnReserve())
	{
		pfree(pc);
		q->req.done(q->req.arg, NULL, ApexOutOfDescriptors(),
					ERRCODE_INSUFFICIENT_RESOURCES, NULL);
		return;
	}
	pc->reserved = true;
	pc->registered = PGINVALID_SOCKET;
	pc->conn = PQconnectStartParams(keywords, values, 0);
	/* libpq keeps copies */
	pfree(keywords);
	pfree(values);
	if (pc->conn == NULL)
	{
		ApexConnUnreserve();
		pfree(pc);
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OUT_OF_MEMORY),
				 errmsg("out of memory"),
				 errdetail("libpq could not allocate a connection.")));
	}
	ApexKeptAdd(&pc->kept, &apex_pg_kept, q->req.serverid, q->req.mapping_oid,
				q->identity);
	ApexKeptUse(&pc->kept);
	pc->active = q;
	q->pc = pc;
	q->state = APEX_PG_CONNECTING;
	ApexLoopSetTimer(q->req.loop, pc, q->req.connect_timeout_ms,
					 apex_pg_on_connect_timeout);
	if (PQstatus(pc->conn) == CONNECTION_BAD)
		apex_pg_libpq_failed(q, PQerrorMessage(pc->conn));
	else
		apex_pg_watch(q, PQsocket(pc->conn), WL_SOCKET_WRITEABLE);
}

/*
 * Run request's query on the kept connection of its server and user
 * mapping, opening one when there is none, it died, or the server or
 * mapping changed since (kept_conns.c).  When the call's other queries
 * use it (apex_route_many asks one source several questions at once), on
 * another idle one, or a new one, closed when the call ends.
 */
void
ApexPgStart(const ApexPgRequest *request)
{
	ApexPgQuery *q = palloc0(sizeof(ApexPgQuery));
	char	   *identity = request->identity_template
		? ApexIdentityOf(request->identity_template, true) : ApexIdentity(true);
	ApexPgConn *kept = (ApexPgConn *) ApexKeptFindIdle(&apex_pg_kept, request->serverid,
													   request->mapping_oid, identity);

	q->req = *request;
	q->identity = identity;
	q->watched = PGINVALID_SOCKET;
	/* dead, or accepted without the password this caller must have used */
	if (kept && (PQstatus(kept->conn) != CONNECTION_OK ||
				 (request->password_required &&
				  !PQconnectionUsedPassword(kept->conn))))
	{
		apex_pg_drop(kept);
		kept = NULL;
	}
	if (kept == NULL)
	{
		apex_pg_connect(q);
		return;
	}
	ApexKeptUse(&kept->kept);
	kept->active = q;
	q->pc = kept;
	q->reused = true;
	apex_pg_send(q);
}

static void
apex_pg_cancel_one(ApexKeptConn *kc, void *owner)
{
	ApexPgQuery *q = ((ApexPgConn *) kc)->active;

	if (q == NULL || q->req.owner != owner)
		return;
	apex_pg_unwatch(q);
	ApexLoopSetTimer(q->req.loop, q->pc, -1, NULL);
	ApexKeptClose(kc);
}

/*
 * The owner's time is up: abandon its query without a word to it.  The
 * connection is closed: a query may still run on it.
 */
static void
apex_pg_cancel(void *state pg_attribute_unused(), void *owner)
{
	ApexKeptForEach(&apex_pg_kept, apex_pg_cancel_one, owner);
}

static void
apex_pg_unsent_one(ApexKeptConn *kc, void *arg)
{
	ApexPgQuery *q = ((ApexPgConn *) kc)->active;

	if (q && q->state != APEX_PG_READING)
		*(bool *) arg = false;
}

/* Whether every query is written (connected and flushed) */
static bool
apex_pg_all_sent(void *state pg_attribute_unused())
{
	bool		all_sent = true;

	ApexKeptForEach(&apex_pg_kept, apex_pg_unsent_one, &all_sent);
	return all_sent;
}

/* The call's state is the call itself: one call runs at a time (call.c) */
static void *
apex_pg_attach(ApexCall *call)
{
	return call;
}

/*
 * The call ends.  Normally, its queries are answered or cancelled; after
 * an error or a cancel, a connection still in use is in an unknown
 * protocol state and is closed.
 */
static void
apex_pg_release(void *state pg_attribute_unused(), bool normal pg_attribute_unused())
{
	ApexKeptAbandonAll(&apex_pg_kept);
	ApexKeptCloseSurplus(&apex_pg_kept);
}

/* apex_router_disconnect(): close the kept connections no call uses */
static int
apex_pg_disconnect(const ApexSource *source)
{
	return ApexKeptCloseIdle(&apex_pg_kept, source ? source->serverid : InvalidOid);
}

const ApexTransport ApexPgTransport = {
	.name = "postgres",
	.attach = apex_pg_attach,
	.all_sent = apex_pg_all_sent,
	.cancel = apex_pg_cancel,
	.release = apex_pg_release,
	.disconnect = apex_pg_disconnect,
};
