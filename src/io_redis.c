/*-------------------------------------------------------------------------
 *
 * io_redis.c
 *		  hiredis' async API in the event loop, on connections kept across
 *		  calls (kept_conns.c: one per server and user mapping).
 *
 * The caller names where to connect with an ApexRedisTarget (host and
 * port or a socket, user and password, database); nothing of it is kept but the
 * key.  A new connection queues AUTH, SELECT and CLIENT SETNAME (who asks,
 * identity.c; part of the key, kept_conns.c) before anything else, and
 * a connect timer (keyed by the connection) bounds its connect: when it
 * fires unconnected, the connection is dropped and every command on it
 * fails with "could not connect within N ms".  Commands have no timer of
 * their own: whoever waits for a reply (a leg's clock, the cache's lookup
 * timer) has one, and a leg whose time is up cancels its replies
 * (its cancel operation).
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
 * the loop could not listen is not charged to it).  When a call or a party
 * ends (normally or not) its tickets are cancelled: a late reply is then
 * consumed and dropped instead of reaching freed memory, and the
 * connection stays usable, since hiredis matches replies to commands.  A
 * call that ended abnormally is detached by the call context's reset
 * callback (the release operation), and by kept_conns.c's transaction callbacks
 * behind it.  Commands sent without a callback (cache writes) never make
 * the caller wait: a normal release writes what it can without blocking
 * and leaves the rest to the next call.  A connection takes its descriptor
 * slot before hiredis opens the socket (conn_registry.c).
 *
 * IDENTIFICATION
 *		  src/io_redis.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <hiredis/async.h>
#include <sys/socket.h>

#include "nodes/pg_list.h"
#include "storage/latch.h"
#include "utils/memutils.h"

#include "conn_registry.h"
#include "identity.h"
#include "io_redis.h"
#include "peer_encoding.h"
#include "transport.h"
#include "kept_conns.h"

struct ApexRedis
{
	ApexKeptConn kept;			/* first: its entry in kept_conns.c */
	redisAsyncContext *ac;		/* NULL once hiredis dropped it */
	pgsocket	registered;		/* socket reported to the registry */
	bool		want_read;		/* what hiredis asked for */
	bool		want_write;
	ApexLoop   *loop;			/* the attached call's loop, or NULL */
	void	   *owner;			/* the attached call */
	List	   *tickets;		/* ApexRedisTicket *, oldest first */
	long		connect_timeout_ms;
	char	   *peer;			/* host:port or socket path, for messages */
	char	   *error;			/* why it is unusable (could not start or
								 * connect in time), or NULL */
	int			error_code;		/* its SQLSTATE */
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

/* The release's and all_sent's walk over the connections */
typedef struct ApexRedisWalk
{
	void	   *owner;
	bool		flush;			/* Detach: write what can be written */
	bool		all_sent;		/* AllSent: the answer */
} ApexRedisWalk;

static void apex_redis_close(ApexKeptConn *kc);
static bool apex_redis_abandon(ApexKeptConn *kc);

static const ApexKeptOps apex_redis_kept = {
	.close = apex_redis_close,
	.abandon = apex_redis_abandon,
};

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

/*
 * CLIENT SETNAME's reply.  Naming the connection is a courtesy to the
 * server's CLIENT LIST: a server that refuses it (an ACL user without
 * +client, the command renamed away, an old Redis) still serves the
 * commands that follow, so an error reply is dropped.  No reply at all (the
 * connection is gone) is left to those commands, whose own replies say so.
 */
static void
apex_redis_setname_done(void *arg pg_attribute_unused(), redisReply *reply,
						const char *error pg_attribute_unused(),
						int sqlerrcode pg_attribute_unused(),
						const char *remote pg_attribute_unused(),
						const char *remote_from pg_attribute_unused())
{
	if (reply && reply->type == REDIS_REPLY_ERROR)
		elog(DEBUG1, "apex_router: redis refused CLIENT SETNAME");
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
		if (r->error)
		{
			error = r->error;
			sqlerrcode = r->error_code;
		}
		else
		{
			error = ac->errstr[0] ? ApexSentence(ac->errstr) : "The connection was lost.";
			if (!(ac->c.flags & REDIS_CONNECTED))
			{
				/* e.g. refused: name where */
				if (ac->errstr[0])
					error = ApexConnectFailed(r->peer, ac->errstr);
				sqlerrcode = ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION;
			}
		}
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

/* Close a connection already out of the registry: no call is attached */
static void
apex_redis_close(ApexKeptConn *kc)
{
	ApexRedis  *r = (ApexRedis *) kc;

	Assert(r->loop == NULL);
	if (r->ac)
		redisAsyncFree(r->ac);	/* runs every pending callback with NULL */
	pfree(r->peer);
	if (r->error)
		pfree(r->error);
	if (r->setup_error)
		pfree(r->setup_error);
	if (r->setup_reply)
		pfree(r->setup_reply);
	pfree(r);
}

/* Cancel the pending replies of owner (a call) or of party (a leg) */
static void
apex_redis_cancel(ApexRedis *r, void *owner, void *party)
{
	ListCell   *lc;

	foreach(lc, r->tickets)
	{
		ApexRedisTicket *t = lfirst(lc);

		if ((owner && t->owner == owner) || (party && t->party == party))
			t->owner = NULL;
	}
}

/* kept_conns.c: the attached call is gone; the connection stays */
static bool
apex_redis_abandon(ApexKeptConn *kc)
{
	ApexRedis  *r = (ApexRedis *) kc;

	apex_redis_cancel(r, r->owner, NULL);
	r->loop = NULL;
	r->owner = NULL;
	return true;
}

/*
 * The connect timer: a connection not made in time is dropped, and every
 * command on it fails with the timeout's words (hiredis runs their
 * callbacks as it frees the context).  The struct stays, attached, until
 * the call ends: the call holds pointers to it.
 */
static void
apex_redis_connect_timeout(void *arg)
{
	ApexRedis  *r = arg;

	if (r->ac == NULL || (r->ac->c.flags & REDIS_CONNECTED))
		return;
	r->error = MemoryContextStrdup(TopMemoryContext,
								   ApexConnectTimedOut(r->peer, r->connect_timeout_ms));
	r->error_code = ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION;
	redisAsyncFree(r->ac);
}

/*
 * Open a connection for target, attached to loop, and queue AUTH, SELECT
 * and CLIENT SETNAME identity ("" leaves it unnamed) before anything else.
 * r->ac stays NULL when hiredis could not even start: then commands fail
 * at once with r->error.
 */
static ApexRedis *
apex_redis_open(const ApexRedisTarget *target, ApexLoop *loop, void *owner,
				const char *identity)
{
	ApexRedis  *r = MemoryContextAllocZero(TopMemoryContext, sizeof(ApexRedis));
	redisAsyncContext *ac;

	r->registered = PGINVALID_SOCKET;
	r->connect_timeout_ms = target->connect_timeout_ms;
	/* as allowed_hosts writes it (an IPv6 address in brackets) */
	r->peer = MemoryContextStrdup(TopMemoryContext,
								  target->socket ? target->socket :
								  ApexTargetString(ApexTargetMake(target->host,
																  psprintf("%d", target->port))));
	ApexKeptAdd(&r->kept, &apex_redis_kept, target->serverid, target->mapping_oid,
				identity);
	if (!ApexConnReserve())
	{
		r->error = MemoryContextStrdup(TopMemoryContext, ApexOutOfDescriptors());
		r->error_code = ERRCODE_INSUFFICIENT_RESOURCES;
		return r;
	}
	ac = target->socket ? redisAsyncConnectUnix(target->socket)
		: redisAsyncConnect(target->host, target->port);
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
		r->error = MemoryContextStrdup(TopMemoryContext,
									   ApexConnectFailed(r->peer, ac->errstr));
		r->error_code = ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION;
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
	ApexConnOpened("redis", ac->c.fd, target->label, r->peer);
	r->registered = ac->c.fd;
	/* a connect in progress: hiredis wants to know when it is writable */
	r->want_write = true;
	/* attached from here on: an error below leaves it to the call's end */
	r->loop = loop;
	r->owner = owner;
	ApexKeptUse(&r->kept);
	ApexLoopSetTimer(loop, r, target->connect_timeout_ms,
					 apex_redis_connect_timeout);

	/* owned by the connection itself: never cancelled */
	r->setup_step = target->user || target->password ? "AUTH" : "SELECT";
	if (target->user)
	{
		/*
		 * Redis 6's AUTH user password (ACL).  A user without a password is
		 * sent with an empty one: a nopass user takes any, others refuse it
		 * with WRONGPASS, and the user is never silently dropped.
		 */
		ApexRedisCommand(r, r, NULL, apex_redis_setup_done, r, 3,
						 (const char *[]) {"AUTH", target->user,
						 target->password ? target->password : ""});
	}
	else if (target->password)
		ApexRedisCommand(r, r, NULL, apex_redis_setup_done, r, 2,
						 (const char *[]) {"AUTH", target->password});
	if (target->db)
		ApexRedisCommand(r, r, NULL, apex_redis_setup_done, r, 2,
						 (const char *[]) {"SELECT", target->db});
	/* after AUTH: an unauthenticated connection may not name itself */
	ApexRedisCommand(r, r, NULL, apex_redis_setname_done, r, 3,
					 (const char *[]) {"CLIENT", "SETNAME", identity});
	return r;
}

/*
 * Whether a kept connection may serve a new call: connected, set up, and
 * still alive.  Between calls nobody reads it, so a server that went away
 * (restart) shows as EOF or an error here.
 */
static bool
apex_redis_alive(ApexRedis *r)
{
	char		c;
	ssize_t		n;

	if (r->ac == NULL || !(r->ac->c.flags & REDIS_CONNECTED) || r->setup_error)
		return false;
	n = recv(r->ac->c.fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
	return n > 0 || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
}

/*
 * The kept connection of target's server and user mapping, attached to the
 * call's loop: opened, or reopened when it died or the server or mapping
 * changed since (kept_conns.c).  A connection this call already attached
 * (a source that is also the cache) is returned as it is.
 */
ApexRedis *
ApexRedisAttach(const ApexRedisTarget *target, ApexLoop *loop, void *owner)
{
	/* a Redis client name may hold no space: %20 (identity.c) */
	char	   *identity = ApexIdentity(false);
	ApexRedis  *r = (ApexRedis *) ApexKeptFind(&apex_redis_kept, target->serverid,
											   target->mapping_oid, identity);

	if (r && r->kept.in_use == 0 && !apex_redis_alive(r))
	{
		ApexKeptClose(&r->kept);
		r = NULL;
	}
	if (r == NULL)
		r = apex_redis_open(target, loop, owner, identity);
	ApexKeptUse(&r->kept);
	r->loop = loop;
	r->owner = owner;
	apex_redis_update(r);
	return r;
}

/* Free what apex_redis_to_peer made of argv */
static void
apex_redis_free_args(int argc, const char **argv, const char **utf8)
{
	for (int i = 0; i < argc; i++)
	{
		if (utf8[i] && utf8[i] != argv[i])
			pfree((char *) utf8[i]);
	}
	pfree(utf8);
}

/*
 * The arguments, in the database encoding, in UTF-8 (peer_encoding.c), or
 * NULL with the reason an argument cannot be and its SQLSTATE.  Connection
 * setup runs in TopMemoryContext: apex_redis_free_args frees the copies.
 */
static const char **
apex_redis_to_peer(int argc, const char **argv, int *sqlerrcode, char **error)
{
	const char **utf8 = palloc0(sizeof(char *) * argc);

	for (int i = 0; i < argc; i++)
	{
		if ((utf8[i] = ApexToPeer(argv[i], sqlerrcode, error)) == NULL)
		{
			apex_redis_free_args(argc, argv, utf8);
			return NULL;
		}
	}
	return utf8;
}

/*
 * Send a command; done (unless NULL) gets its reply.  owner is the call,
 * or NULL for a command nobody waits for; party is whose timer waits for
 * the reply (a leg, the cache), or NULL.  The arguments go in UTF-8: one
 * that cannot fails the command unsent.
 */
void
ApexRedisCommand(ApexRedis *r, void *owner, void *party, ApexRedisDone done,
				 void *arg, int argc, const char **argv)
{
	ApexRedisTicket *t;
	MemoryContext old;
	const char **utf8;
	int			sqlerrcode;
	char	   *error;
	int			rc;

	if (r->ac == NULL)
	{
		if (done)
			done(arg, NULL, r->error ? r->error : "Could not connect.",
				 r->error ? r->error_code : ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION,
				 NULL, NULL);
		return;
	}
	if ((utf8 = apex_redis_to_peer(argc, argv, &sqlerrcode, &error)) == NULL)
	{
		if (done)
			done(arg, NULL, error, sqlerrcode, NULL, NULL);
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
	/* hiredis formats the command here: the arguments may go after */
	rc = redisAsyncCommandArgv(r->ac, apex_redis_reply, t, argc, utf8, NULL);
	apex_redis_free_args(argc, argv, utf8);
	if (rc != REDIS_OK)
	{
		r->tickets = list_delete_ptr(r->tickets, t);
		pfree(t);
		if (done)
			done(arg, NULL, r->ac && r->ac->errstr[0] ? ApexSentence(r->ac->errstr)
				 : "Could not send the command.", ERRCODE_FDW_ERROR, NULL, NULL);
	}
}

static void
apex_redis_cancel_party(ApexKeptConn *kc, void *party)
{
	apex_redis_cancel((ApexRedis *) kc, NULL, party);
}

/*
 * The party's time is up (a leg's clock): its replies still due are
 * dropped when they come.  The connection stays attached for the others.
 */
static void
apex_redis_cancel_op(void *state pg_attribute_unused(), void *party)
{
	ApexKeptForEach(&apex_redis_kept, apex_redis_cancel_party, party);
}

static void
apex_redis_detach_one(ApexKeptConn *kc, void *arg)
{
	ApexRedis  *r = (ApexRedis *) kc;
	ApexRedisWalk *walk = arg;

	apex_redis_cancel(r, walk->owner, NULL);
	if (r->owner != walk->owner)
		return;
	/* at a normal end the loop's sets may serve the next call: leave them */
	if (walk->flush && r->loop && r->ac && r->ac->c.fd >= 0)
		ApexLoopWatch(r->loop, r->ac->c.fd, 0, NULL, NULL);
	r->loop = NULL;
	r->owner = NULL;
	ApexKeptRelease(kc);
	if (walk->flush && r->ac && r->want_write)
		redisAsyncHandleWrite(r->ac);
}

/*
 * The call ends: cancel its pending replies, detach every connection from
 * its loop, and at a normal end write out what can be written without
 * blocking (the cache's stores).
 */
static void
apex_redis_release(void *owner, bool normal)
{
	ApexRedisWalk walk = {.owner = owner, .flush = normal};

	ApexKeptForEach(&apex_redis_kept, apex_redis_detach_one, &walk);
}

static void
apex_redis_check_sent(ApexKeptConn *kc, void *arg)
{
	ApexRedis  *r = (ApexRedis *) kc;
	ApexRedisWalk *walk = arg;

	if (r->owner == walk->owner && r->ac && r->want_write)
		walk->all_sent = false;
}

/* True when no connection of the call has commands left to write */
static bool
apex_redis_all_sent(void *owner)
{
	ApexRedisWalk walk = {.owner = owner, .all_sent = true};

	ApexKeptForEach(&apex_redis_kept, apex_redis_check_sent, &walk);
	return walk.all_sent;
}

/* apex_router_disconnect(): close the kept connections no call uses */
static int
apex_redis_disconnect(const ApexSource *source)
{
	return ApexKeptCloseIdle(&apex_redis_kept, source ? source->serverid : InvalidOid);
}

/* The call's state is the call itself, owner of its commands */
static void *
apex_redis_attach(ApexCall *call)
{
	return call;
}

const ApexTransport ApexRedisTransport = {
	.name = "redis",
	.attach = apex_redis_attach,
	.all_sent = apex_redis_all_sent,
	.cancel = apex_redis_cancel_op,
	.release = apex_redis_release,
	.disconnect = apex_redis_disconnect,
};
