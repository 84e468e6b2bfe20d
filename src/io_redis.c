/*-------------------------------------------------------------------------
 *
 * io_redis.c
 *		  hiredis' async API in the event loop, on connections kept across
 *		  calls (one per Redis source and user).
 *
 * The event adapter is ours: hiredis asks to start or stop reading and
 * writing (ev.addRead ... ev.delWrite); we remember what it wants and, while
 * a call is attached, mirror it into that call's ApexLoop, which hands
 * readiness back to redisAsyncHandleRead/Write.  Between calls nothing is
 * watched; replies that arrive then wait in the socket until the next call
 * attaches.
 *
 * Every command carries a small ticket in TopMemoryContext, naming the
 * party that waits for its reply (a leg, the cache): an event on the
 * connection is progress of every party still waiting (event_loop.c: time
 * the loop could not listen is not charged to it).  When a call
 * ends (normally or not) its tickets are cancelled: a late reply is then
 * consumed and dropped instead of reaching freed memory, and the
 * connection stays usable.  Commands sent without a callback (cache
 * writes) never make the caller wait: ApexRedisDetach() writes what it can
 * without blocking and leaves the rest to the next call.  A connection
 * takes its descriptor slot before hiredis opens the socket
 * (conn_registry.c).
 *
 * IDENTIFICATION
 *		  src/io_redis.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <hiredis/async.h>
#include <sys/socket.h>

#include "miscadmin.h"
#include "nodes/pg_list.h"
#include "storage/latch.h"
#include "utils/memutils.h"

#include "conn_registry.h"
#include "io_redis.h"
#include "transport.h"
#include "leg_redis.h"

struct ApexRedis
{
	Oid			serverid;
	Oid			userid;
	char	   *conninfo;		/* options it was opened with */
	char	   *label;			/* source name */
	redisAsyncContext *ac;		/* NULL once hiredis dropped it */
	pgsocket	registered;		/* socket reported to the registry */
	bool		want_read;		/* what hiredis asked for */
	bool		want_write;
	ApexLoop   *loop;			/* the attached call's loop, or NULL */
	void	   *owner;			/* the attached call */
	List	   *tickets;		/* ApexRedisTicket *, oldest first */
	char	   *connect_error;	/* why hiredis could not even start, or NULL */
	int			connect_code;	/* its SQLSTATE */
	const char *setup_step;		/* "AUTH" or "SELECT", for messages */
	char	   *setup_error;	/* why AUTH or SELECT failed, or NULL */
	int			setup_code;		/* its SQLSTATE */
	char	   *setup_reply;	/* the error reply that said why, or NULL */
	const char *setup_from;		/* who wrote setup_reply (ApexRedisDone) */
};

typedef struct ApexRedisTicket
{
	ApexRedis  *r;
	void	   *owner;			/* NULL once cancelled */
	void	   *party;			/* who waits for the reply, or NULL */
	ApexRedisDone done;
	void	   *arg;
} ApexRedisTicket;

static List *apex_redis_conns = NIL;	/* ApexRedis *, in TopMemoryContext */

static void
apex_redis_on_socket(void *arg, pgsocket fd pg_attribute_unused(), int events)
{
	ApexRedis  *r = arg;
	ListCell   *lc;

	foreach(lc, r->tickets)
	{
		ApexRedisTicket *t = lfirst(lc);

		if (t->owner)
			ApexLoopProgress(r->loop, t->party);
	}
	if (r->ac && (events & WL_SOCKET_READABLE))
		redisAsyncHandleRead(r->ac);
	if (r->ac && (events & WL_SOCKET_WRITEABLE))
		redisAsyncHandleWrite(r->ac);
}

/* Mirror hiredis' wishes into the attached loop */
static void
apex_redis_update(ApexRedis *r)
{
	int			events = 0;

	if (r->loop == NULL || r->ac == NULL)
		return;
	if (r->want_read)
		events |= WL_SOCKET_READABLE;
	if (r->want_write)
		events |= WL_SOCKET_WRITEABLE;
	ApexLoopWatch(r->loop, r->ac->c.fd, events, apex_redis_on_socket, r);
}

static void
apex_redis_add_read(void *privdata)
{
	((ApexRedis *) privdata)->want_read = true;
	apex_redis_update(privdata);
}

static void
apex_redis_del_read(void *privdata)
{
	((ApexRedis *) privdata)->want_read = false;
	apex_redis_update(privdata);
}

static void
apex_redis_add_write(void *privdata)
{
	((ApexRedis *) privdata)->want_write = true;
	apex_redis_update(privdata);
}

static void
apex_redis_del_write(void *privdata)
{
	((ApexRedis *) privdata)->want_write = false;
	apex_redis_update(privdata);
}

/*
 * hiredis frees the context (error, refused connect, disconnect): this is
 * the one hook it always calls then.
 */
static void
apex_redis_cleanup(void *privdata)
{
	ApexRedis  *r = privdata;

	if (r->loop && r->ac && r->ac->c.fd >= 0)
		ApexLoopWatch(r->loop, r->ac->c.fd, 0, NULL, NULL);
	if (r->registered != PGINVALID_SOCKET)
		ApexConnClosed("redis", r->registered);
	r->registered = PGINVALID_SOCKET;
	r->want_read = r->want_write = false;
	r->ac = NULL;
}

/* AUTH and SELECT: a failure makes every later command fail with it */
static void
apex_redis_setup_done(void *arg, redisReply *reply, const char *error,
					  int sqlerrcode, const char *remote, const char *remote_from)
{
	ApexRedis  *r = arg;

	if (r->setup_error)
		return;
	if (reply == NULL)
	{
		r->setup_error = MemoryContextStrdup(TopMemoryContext, error);
		r->setup_code = sqlerrcode;
		if (remote)
			r->setup_reply = MemoryContextStrdup(TopMemoryContext, remote);
		r->setup_from = remote_from;
	}
	else if (reply->type == REDIS_REPLY_ERROR)
	{
		/* a refused log-in: no usable connection was established */
		r->setup_error = MemoryContextStrdup(TopMemoryContext,
											 strcmp(r->setup_step, "AUTH") == 0
											 ? "The AUTH command failed."
											 : "The SELECT command failed.");
		r->setup_code = ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION;
		r->setup_reply = MemoryContextStrdup(TopMemoryContext, reply->str);
	}
	r->setup_step = "SELECT";
}

/* Every reply passes here: drop it if its call is gone */
static void
apex_redis_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
	ApexRedisTicket *t = privdata;
	ApexRedis  *r = t->r;
	const char *error = NULL;
	int			sqlerrcode = ERRCODE_FDW_ERROR;
	const char *remote = NULL;
	const char *remote_from = NULL;

	r->tickets = list_delete_ptr(r->tickets, t);
	if (reply != NULL && r->registered != PGINVALID_SOCKET)
		ApexConnUsed("redis", r->registered);
	if (reply == NULL && ac->err == REDIS_ERR_PROTOCOL)
	{
		/* hiredis quotes what the server sent */
		error = "The reply is not valid Redis protocol.";
		remote = ac->errstr;
		remote_from = "hiredis";
	}
	else if (reply == NULL)
	{
		/* e.g. "Connection refused", found once the connect completes */
		error = ac->errstr[0] ? ApexSentence(ac->errstr) : "The connection was lost.";
		if (!(ac->c.flags & REDIS_CONNECTED))
			sqlerrcode = ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION;
	}
	else if (r->setup_error && t->done != apex_redis_setup_done)
	{
		error = r->setup_error;
		sqlerrcode = r->setup_code;
		remote = r->setup_reply;
		remote_from = r->setup_from;
		reply = NULL;
	}
	if (t->owner && t->done)
		t->done(t->arg, reply, error, sqlerrcode, remote, remote_from);
	else if (reply && t->owner == NULL && ((redisReply *) reply)->type == REDIS_REPLY_ERROR)
		elog(DEBUG1, "apex_router: late redis error reply");
	pfree(t);
}

static char *
apex_redis_conninfo(ApexSource *source)
{
	const ApexRedisConf *conf = source->conf;
	const char *password = source->secrets->password;

	return psprintf("host=%s\nport=%d\nsocket=%s\ndb=%d\npassword=%s\n",
					conf->host ? conf->host : "", conf->port,
					conf->socket ? conf->socket : "", conf->db,
					password ? password : "");
}

static void
apex_redis_close(ApexRedis *r)
{
	redisAsyncContext *ac = r->ac;

	r->loop = NULL;				/* no loop calls while hiredis tears down */
	if (ac)
		redisAsyncFree(ac);		/* runs every pending callback with NULL */
	apex_redis_conns = list_delete_ptr(apex_redis_conns, r);
	pfree(r->conninfo);
	pfree(r->label);
	if (r->setup_error)
		pfree(r->setup_error);
	if (r->setup_reply)
		pfree(r->setup_reply);
	if (r->connect_error)
		pfree(r->connect_error);
	pfree(r);
}

/* Open a connection and queue AUTH and SELECT before anything else */
static ApexRedis *
apex_redis_open(ApexSource *source, char *conninfo)
{
	const ApexRedisConf *conf = source->conf;
	const char *host = conf->host ? conf->host : "127.0.0.1";
	int			port = conf->port ? conf->port : 6379;
	const char *socket = conf->socket;
	MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
	ApexRedis  *r = palloc0(sizeof(ApexRedis));
	redisAsyncContext *ac;

	r->serverid = source->serverid;
	r->userid = GetUserId();
	r->conninfo = pstrdup(conninfo);
	r->label = pstrdup(source->name);
	r->registered = PGINVALID_SOCKET;
	apex_redis_conns = lappend(apex_redis_conns, r);
	MemoryContextSwitchTo(old);

	/* r->ac stays NULL on failure: commands fail at once with the error */
	if (!ApexConnReserve())
	{
		r->connect_error = MemoryContextStrdup(TopMemoryContext,
											   ApexOutOfDescriptors());
		r->connect_code = ERRCODE_INSUFFICIENT_RESOURCES;
		return r;
	}
	ac = socket ? redisAsyncConnectUnix(socket)
		: redisAsyncConnect(host, port);
	if (ac == NULL)
	{
		ApexConnUnreserve();
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OUT_OF_MEMORY),
				 errmsg("out of memory"),
				 errdetail("hiredis could not allocate a connection.")));
	}
	if (ac->err)
	{
		/* e.g. an unknown host name */
		ApexConnUnreserve();
		r->connect_error = MemoryContextStrdup(TopMemoryContext,
											   ApexSentence(ac->errstr));
		r->connect_code = ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION;
		redisAsyncFree(ac);
		return r;
	}
	r->ac = ac;
	ac->data = r;
	ac->ev.data = r;
	ac->ev.addRead = apex_redis_add_read;
	ac->ev.delRead = apex_redis_del_read;
	ac->ev.addWrite = apex_redis_add_write;
	ac->ev.delWrite = apex_redis_del_write;
	ac->ev.cleanup = apex_redis_cleanup;
	ApexConnOpened("redis", ac->c.fd, source->name,
				   socket ? socket : psprintf("%s:%d", host, port));
	r->registered = ac->c.fd;
	/* a connect in progress: hiredis wants to know when it is writable */
	r->want_write = true;
	return r;
}

/* Whether the connection is established (hiredis may still be connecting) */
bool
ApexRedisConnected(ApexRedis *r)
{
	return r->ac != NULL && (r->ac->c.flags & REDIS_CONNECTED) != 0;
}

/*
 * Whether a kept connection still looks alive: between calls nobody reads
 * it, so a server that went away (restart) shows as EOF or an error here.
 */
static bool
apex_redis_alive(ApexRedis *r)
{
	char		c;
	ssize_t		n;

	if (r->ac == NULL || r->setup_error)
		return false;
	n = recv(r->ac->c.fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
	return n > 0 || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
}

/*
 * The kept connection of (source, current user) attached to the call's
 * loop; opened, or reopened when its options changed or it died.
 */
ApexRedis *
ApexRedisAttach(ApexSource *source, ApexLoop *loop, void *owner)
{
	char	   *conninfo = apex_redis_conninfo(source);
	ApexRedis  *r = NULL;
	ListCell   *lc;

	foreach(lc, apex_redis_conns)
	{
		ApexRedis  *c = lfirst(lc);

		if (c->serverid == source->serverid && c->userid == GetUserId())
			r = c;
	}
	if (r && (!apex_redis_alive(r) || strcmp(r->conninfo, conninfo) != 0))
	{
		apex_redis_close(r);
		r = NULL;
	}
	if (r == NULL)
	{
		const char *password = source->secrets->password;
		const ApexRedisConf *conf = source->conf;
		char	   *db = conf->db ? psprintf("%d", conf->db) : NULL;

		r = apex_redis_open(source, conninfo);
		r->loop = loop;
		r->owner = owner;
		r->setup_step = password ? "AUTH" : "SELECT";
		/* owned by the connection itself: never cancelled */
		if (password)
			ApexRedisCommand(r, r, NULL, apex_redis_setup_done, r, 2,
							 (const char *[]) {"AUTH", password});
		if (db)
			ApexRedisCommand(r, r, NULL, apex_redis_setup_done, r, 2,
							 (const char *[]) {"SELECT", db});
	}
	r->loop = loop;
	r->owner = owner;
	apex_redis_update(r);
	return r;
}

/*
 * Send a command; done (unless NULL) gets its reply.  owner is the call,
 * or NULL for a command nobody waits for; party is whose timer waits for
 * the reply (a leg, the cache), or NULL.
 */
void
ApexRedisCommand(ApexRedis *r, void *owner, void *party, ApexRedisDone done,
				 void *arg, int argc, const char **argv)
{
	ApexRedisTicket *t;
	MemoryContext old;

	if (r->ac == NULL)
	{
		if (done)
			done(arg, NULL, r->connect_error ? r->connect_error : "Could not connect.",
				 r->connect_error ? r->connect_code
				 : ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION, NULL, NULL);
		return;
	}
	t = MemoryContextAllocZero(TopMemoryContext, sizeof(ApexRedisTicket));
	t->r = r;
	t->owner = owner;
	t->party = party;
	t->done = done;
	t->arg = arg;
	/* the list must outlive the call, like the tickets */
	old = MemoryContextSwitchTo(TopMemoryContext);
	r->tickets = lappend(r->tickets, t);
	MemoryContextSwitchTo(old);
	if (redisAsyncCommandArgv(r->ac, apex_redis_reply, t, argc, argv, NULL) != REDIS_OK)
	{
		r->tickets = list_delete_ptr(r->tickets, t);
		pfree(t);
		if (done)
			done(arg, NULL, r->ac && r->ac->errstr[0] ? ApexSentence(r->ac->errstr)
				 : "Could not send the command.", ERRCODE_FDW_ERROR, NULL, NULL);
	}
}

/*
 * The call owner ends: cancel its pending replies, write out what can be
 * written without blocking (flush), and detach every connection from its
 * loop.
 */
void
ApexRedisDetach(void *owner, bool flush)
{
	ListCell   *lc;

	foreach(lc, apex_redis_conns)
	{
		ApexRedis  *r = lfirst(lc);
		ListCell   *tc;

		foreach(tc, r->tickets)
		{
			ApexRedisTicket *t = lfirst(tc);

			if (t->owner == owner)
				t->owner = NULL;
		}
		if (r->owner != owner)
			continue;
		r->loop = NULL;
		r->owner = NULL;
		if (flush && r->ac && r->want_write)
			redisAsyncHandleWrite(r->ac);
	}
}

/* True when no connection of the call has commands left to write */
bool
ApexRedisAllSent(void *owner)
{
	ListCell   *lc;

	foreach(lc, apex_redis_conns)
	{
		ApexRedis  *r = lfirst(lc);

		if (r->owner == owner && r->ac && r->want_write)
			return false;
	}
	return true;
}

/* apex_router_disconnect(): close the kept connections */
static int
apex_redis_disconnect_all(void)
{
	int			closed = 0;

	while (apex_redis_conns != NIL)
	{
		apex_redis_close(linitial(apex_redis_conns));
		closed++;
	}
	return closed;
}

/* The call's state is the call itself: one call runs at a time (call.c) */
static void *
apex_redis_attach(ApexCall *call)
{
	return call;
}

static bool
apex_redis_all_sent(void *state)
{
	return ApexRedisAllSent(state);
}

/* party's time is up: its replies, when they come, are dropped */
static void
apex_redis_cancel(void *state pg_attribute_unused(), void *party)
{
	ListCell   *lc;

	foreach(lc, apex_redis_conns)
	{
		ListCell   *tc;

		foreach(tc, ((ApexRedis *) lfirst(lc))->tickets)
		{
			ApexRedisTicket *t = lfirst(tc);

			if (t->party == party)
				t->owner = NULL;
		}
	}
}

/* A normal end writes out the cache's stores without waiting for them */
static void
apex_redis_release(void *state, bool normal)
{
	ApexRedisDetach(state, normal);
}

const ApexTransport ApexRedisTransport = {
	.name = "redis",
	.attach = apex_redis_attach,
	.all_sent = apex_redis_all_sent,
	.cancel = apex_redis_cancel,
	.release = apex_redis_release,
	.disconnect_all = apex_redis_disconnect_all,
};
