/*-------------------------------------------------------------------------
 *
 * event_loop.c
 *		  WaitEventSet driver shared by every I/O client of a call.
 *
 * I/O clients (libcurl, libpq, hiredis) register the sockets they want
 * watched, and timers, each keyed by an owner; shared-memory queues
 * (background workers) register for the latch, which their peer sets.
 * The loop knows no protocol: it waits on a WaitEventSet holding the
 * latch, postmaster death, the client's connection and those sockets, and
 * calls back whoever owns a ready socket or a due timer, or waits for the
 * latch.
 *
 * PostgreSQL 15 cannot remove an event from a WaitEventSet.  On Linux the
 * sources' sockets therefore live in an epoll set of the loop's own, and
 * the WaitEventSet (built once per call) waits on that epoll descriptor,
 * readable whenever one of its sockets is ready: adding, changing or
 * removing a socket is one epoll_ctl, where rebuilding the set at each
 * change cost an epoll_create and an epoll_ctl per socket, quadratic in
 * the legs of a batch (apex_route_many).  Elsewhere the set is rebuilt
 * (lazily, before the next wait) whenever the socket list changes.  Waking on
 * the latch lets CHECK_FOR_INTERRUPTS() honour query cancel and
 * statement_timeout at once; the error it throws unwinds through the call
 * context's reset callback, which frees the set.  A client that goes away
 * (WL_SOCKET_CLOSED on its socket) ends the session as
 * client_connection_check_interval would, instead of after the sources'
 * timeouts.
 *
 * Timers are judged on what has arrived.  While the loop does not listen
 * (a local leg runs, a name lookup blocks, a callback takes long), answers
 * wait in their sockets and shared-memory queues, and timers fall due.
 * Whatever ran meanwhile may also have reset the latch (PostgreSQL's own
 * waits do), so the latch watchers look at their queues whenever the loop
 * starts and before a catch-up.  Before such a timer fires,
 * the loop reads every ready socket (zero-timeout waits until none is
 * ready), so an answer that arrived in time is taken.  An owner heard from
 * while reading (a socket event of its own, or ApexLoopProgress) is not
 * charged for the time the loop did not listen: its timer moves on by
 * that time, so a source whose first round trip was answered can make the
 * next one.  The timer of an owner not heard from fires at once: a silent
 * source costs no more than its own timeout.
 *
 * On Linux, the WaitEventSet and the epoll set outlive a call that ends
 * normally with no socket watched: the backend's next call takes them
 * (apex_kept), since creating them and adding the latch, postmaster death,
 * the client's socket and the epoll descriptor was a fifth of a result
 * cache hit's CPU (issue 13).  A call that ends in an ERROR frees them.
 * Calls do not nest (call.c), so one kept pair is enough.  They hold two
 * descriptor slots of PostgreSQL's budget, so they are kept only while
 * APEX_KEEP_SPARE more are free (another extension's connection must not
 * fail for them), and apex_router_disconnect() frees them
 * (ApexLoopDropKept).
 *
 * The set's epoll descriptor counts against PostgreSQL's budget for
 * descriptors opened outside fd.c (AcquireExternalFD).  The loop holds one
 * slot of it from creation to ApexLoopFree and hands it to
 * CreateWaitEventSet at each rebuild, so that sockets opened in between
 * cannot leave a rebuild without a descriptor; the loop's own epoll
 * descriptor takes one more, for the call's life.
 *
 * IDENTIFICATION
 *		  src/event_loop.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>
#ifdef __linux__
#include <sys/epoll.h>
#define APEX_LOOP_EPOLL
#endif

#include "libpq/libpq-be.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/fd.h"
#include "storage/latch.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "conn_registry.h"
#include "event_loop.h"

/* descriptor slots left free for others when a call's sets are kept */
#define APEX_KEEP_SPARE 16

/* zero-timeout waits of one catch-up read, at most (each reads something) */
#define APEX_DRAIN_ROUNDS 1000

typedef struct ApexWatch
{
	pgsocket	fd;
	int			events;			/* WL_SOCKET_* */
	ApexSocketCallback callback;
	void	   *arg;
} ApexWatch;

/* Someone to tell whenever the latch was set (shared-memory queues) */
typedef struct ApexLatchWatch
{
	ApexLatchCallback callback;
	void	   *arg;
} ApexLatchWatch;

typedef struct ApexTimer
{
	void	   *owner;			/* also the callback's argument */
	ApexTimerCallback callback;
	TimestampTz due;
} ApexTimer;

struct ApexLoop
{
	MemoryContext mcxt;
	List	   *watches;		/* ApexWatch * */
	List	   *timers;			/* ApexTimer * */
	List	   *latch_watches;	/* ApexLatchWatch * */
	WaitEventSet *set;			/* NULL when it must be rebuilt */
#ifdef APEX_LOOP_EPOLL
	int			epfd;			/* the sockets' epoll set, or -1 */
	int			epfd_pos;		/* its position in set */
	struct epoll_event *ready;	/* what one epoll_wait returns */
	int			nready;
#endif
	int			set_size;
	int			client_pos;		/* the client's socket in set, or -1 */
	bool		holds_slot;		/* a descriptor slot kept for the next set */
	WaitEvent  *events;			/* what a wait returns */
	int			nevents;
	TimestampTz heard_at;		/* when the sockets were last looked at */
	bool		draining;		/* reading what arrived while not listening */
	List	   *progressed;		/* owners heard from during that read */
};

#ifdef APEX_LOOP_EPOLL
/* The wait set and epoll set the last call left, or set NULL */
static struct
{
	WaitEventSet *set;			/* in TopMemoryContext */
	int			set_size;
	int			epfd;			/* holding no socket */
	int			epfd_pos;
	int			client_pos;
} apex_kept = {NULL, 0, -1, -1, -1};
#endif

ApexLoop *
ApexLoopCreate(MemoryContext mcxt)
{
	ApexLoop   *loop = MemoryContextAllocZero(mcxt, sizeof(ApexLoop));

	loop->mcxt = mcxt;
	loop->client_pos = -1;
	loop->heard_at = GetCurrentTimestamp();
#ifdef APEX_LOOP_EPOLL
	if (apex_kept.set)
	{
		/* they hold their descriptor slots already */
		loop->set = apex_kept.set;
		loop->set_size = apex_kept.set_size;
		loop->epfd = apex_kept.epfd;
		loop->epfd_pos = apex_kept.epfd_pos;
		loop->client_pos = apex_kept.client_pos;
		apex_kept.set = NULL;
		apex_kept.epfd = -1;
		return loop;
	}
#endif
	/* taken before any socket of the call: the wait set always has one */
	ApexConnReserveOrError(1);
	loop->holds_slot = true;
#ifdef APEX_LOOP_EPOLL
	loop->epfd = -1;
	ApexConnReserveOrError(1);
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd < 0)
	{
		ReleaseExternalFD();
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not create epoll descriptor: %m")));
	}
#endif
	return loop;
}

#ifdef APEX_LOOP_EPOLL
/* Tell the loop's epoll set about fd (op: EPOLL_CTL_*) */
static void
apex_epoll_ctl(ApexLoop *loop, int op, pgsocket fd, int events)
{
	struct epoll_event ev = {0};

	ev.data.fd = fd;
	if (events & WL_SOCKET_READABLE)
		ev.events |= EPOLLIN;
	if (events & WL_SOCKET_WRITEABLE)
		ev.events |= EPOLLOUT;
	/* a socket closed before it was unwatched has left the set already */
	if (epoll_ctl(loop->epfd, op, fd, &ev) < 0 &&
		!(op == EPOLL_CTL_DEL && (errno == EBADF || errno == ENOENT)))
		ereport(ERROR,
				(errcode_for_socket_access(),
				 errmsg("could not watch socket %d: %m", fd)));
}
#endif

#ifndef APEX_LOOP_EPOLL
/* Drop the set (to rebuild it) and take its descriptor slot back */
static void
apex_drop_set(ApexLoop *loop)
{
	if (loop->set == NULL)
		return;
	FreeWaitEventSet(loop->set);
	loop->set = NULL;
	/* FreeWaitEventSet released the slot: nothing can have taken it yet */
	ReserveExternalFD();
	loop->holds_slot = true;
}
#endif

/*
 * Release the WaitEventSet and the descriptor slots; safe to call twice.
 * keep: the call ended normally, so the sets may serve the next one (see
 * the file header) if no socket is left in them.
 */
void
ApexLoopFree(ApexLoop *loop, bool keep)
{
#ifdef APEX_LOOP_EPOLL
	if (keep && loop->set && loop->epfd >= 0 && loop->watches == NIL &&
		apex_kept.set == NULL && ApexConnFree(APEX_KEEP_SPARE) == APEX_KEEP_SPARE)
	{
		apex_kept.set = loop->set;
		apex_kept.set_size = loop->set_size;
		apex_kept.epfd = loop->epfd;
		apex_kept.epfd_pos = loop->epfd_pos;
		apex_kept.client_pos = loop->client_pos;
		loop->set = NULL;
		loop->epfd = -1;
		return;
	}
#endif
	if (loop->set)
		FreeWaitEventSet(loop->set);
	else if (loop->holds_slot)
		ReleaseExternalFD();
	loop->set = NULL;
	loop->holds_slot = false;
#ifdef APEX_LOOP_EPOLL
	if (loop->epfd >= 0)
	{
		close(loop->epfd);
		ReleaseExternalFD();
	}
	loop->epfd = -1;
#endif
}

/* Free the sets kept for the next call, if any (apex_router_disconnect) */
void
ApexLoopDropKept(void)
{
#ifdef APEX_LOOP_EPOLL
	ApexLoop	loop = {0};

	if (apex_kept.set == NULL)
		return;
	loop.set = apex_kept.set;
	loop.epfd = apex_kept.epfd;
	apex_kept.set = NULL;
	apex_kept.epfd = -1;
	ApexLoopFree(&loop, false);
#endif
}

static ApexWatch *
apex_find_watch(ApexLoop *loop, pgsocket fd)
{
	ListCell   *lc;

	foreach(lc, loop->watches)
	{
		ApexWatch  *w = lfirst(lc);

		if (w->fd == fd)
			return w;
	}
	return NULL;
}

/*
 * Watch fd for the given WL_SOCKET_* events; events == 0 stops watching.
 * An event on fd counts as progress of arg (see ApexLoopProgress).
 */
void
ApexLoopWatch(ApexLoop *loop, pgsocket fd, int events,
			  ApexSocketCallback callback, void *arg)
{
	ApexWatch  *w = apex_find_watch(loop, fd);

	if (events == 0)
	{
		if (w)
		{
			loop->watches = list_delete_ptr(loop->watches, w);
			pfree(w);
#ifdef APEX_LOOP_EPOLL
			apex_epoll_ctl(loop, EPOLL_CTL_DEL, fd, 0);
#else
			apex_drop_set(loop);
#endif
		}
		return;
	}
	if (w == NULL)
	{
#ifdef APEX_LOOP_EPOLL
		apex_epoll_ctl(loop, EPOLL_CTL_ADD, fd, events);
#else
		apex_drop_set(loop);
#endif
		w = MemoryContextAllocZero(loop->mcxt, sizeof(ApexWatch));
		w->fd = fd;
		loop->watches = lappend(loop->watches, w);
	}
	else if (w->events != events)
	{
#ifdef APEX_LOOP_EPOLL
		apex_epoll_ctl(loop, EPOLL_CTL_MOD, fd, events);
#else
		apex_drop_set(loop);
#endif
	}
	w->events = events;
	w->callback = callback;
	w->arg = arg;
}

/*
 * Call callback(arg) each time the latch was set, after resetting it: a
 * shared-memory queue's peer sets it when it writes or detaches, the
 * postmaster when a background worker this backend started stops.  The
 * callback then looks without waiting, so nothing set before the reset is
 * missed.  A NULL callback stops watching for arg.  A worker either
 * answered or did not, so no progress is reported (ApexLoopProgress).
 */
void
ApexLoopWatchLatch(ApexLoop *loop, ApexLatchCallback callback, void *arg)
{
	ListCell   *lc;
	ApexLatchWatch *lw;

	foreach(lc, loop->latch_watches)
	{
		lw = lfirst(lc);
		if (lw->arg == arg)
		{
			if (callback == NULL)
			{
				loop->latch_watches = foreach_delete_current(loop->latch_watches, lc);
				pfree(lw);
			}
			else
				lw->callback = callback;
			return;
		}
	}
	if (callback == NULL)
		return;
	lw = MemoryContextAlloc(loop->mcxt, sizeof(ApexLatchWatch));
	lw->callback = callback;
	lw->arg = arg;
	loop->latch_watches = lappend(loop->latch_watches, lw);
}

/* The latch was set: tell every latch watcher (a copy: they may unwatch) */
static void
apex_latch_set(ApexLoop *loop)
{
	List	   *watches = list_copy(loop->latch_watches);
	ListCell   *lc;

	foreach(lc, watches)
	{
		ApexLatchWatch *lw = lfirst(lc);

		/* an earlier callback may have removed this one */
		if (!list_member_ptr(loop->latch_watches, lw))
			continue;
		lw->callback(lw->arg);
	}
	list_free(watches);
}

static ApexTimer *
apex_find_timer(ApexLoop *loop, void *owner)
{
	ListCell   *lc;

	foreach(lc, loop->timers)
	{
		if (((ApexTimer *) lfirst(lc))->owner == owner)
			return lfirst(lc);
	}
	return NULL;
}

/*
 * Arm (timeout_ms >= 0) or disarm (timeout_ms < 0) the timer of owner.
 */
void
ApexLoopSetTimer(ApexLoop *loop, void *owner, long timeout_ms,
				 ApexTimerCallback callback)
{
	ApexTimer  *t = apex_find_timer(loop, owner);

	if (timeout_ms < 0)
	{
		if (t)
		{
			loop->timers = list_delete_ptr(loop->timers, t);
			pfree(t);
		}
		return;
	}
	if (t == NULL)
	{
		t = MemoryContextAllocZero(loop->mcxt, sizeof(ApexTimer));
		t->owner = owner;
		loop->timers = lappend(loop->timers, t);
	}
	t->callback = callback;
	t->due = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), timeout_ms);
}

/*
 * Milliseconds left on owner's timer, at least 1 (a budget for a timer);
 * 1 when owner has none.
 */
long
ApexLoopTimeLeft(ApexLoop *loop, void *owner)
{
	ApexTimer  *t = apex_find_timer(loop, owner);

	return t ? ApexMsUntil(t->due) : 1;
}

/*
 * owner's source was heard from: while the loop catches up after not
 * listening, owner's timer is not charged for that time.  I/O clients call
 * it for the owner of a request whose socket had an event; the watch's own
 * arg needs no call.
 */
void
ApexLoopProgress(ApexLoop *loop, void *owner)
{
	if (loop->draining && owner != NULL)
		loop->progressed = list_append_unique_ptr(loop->progressed, owner);
}

static void
apex_build_set(ApexLoop *loop)
{
#ifdef APEX_LOOP_EPOLL
	loop->set_size = 4;
#else
	ListCell   *lc;

	loop->set_size = list_length(loop->watches) + 3;
#endif
	/* our slot becomes the set's (CreateWaitEventSet acquires one) */
	ReleaseExternalFD();
	loop->holds_slot = false;
#ifdef APEX_LOOP_EPOLL
	/* in TopMemoryContext: it may be kept for the next call */
	loop->set = CreateWaitEventSet(TopMemoryContext, loop->set_size);
#else
	loop->set = CreateWaitEventSet(loop->mcxt, loop->set_size);
#endif
	AddWaitEventToSet(loop->set, WL_LATCH_SET, PGINVALID_SOCKET, MyLatch, NULL);
	AddWaitEventToSet(loop->set, WL_EXIT_ON_PM_DEATH, PGINVALID_SOCKET,
					  NULL, NULL);
	loop->client_pos = -1;
	if (MyProcPort != NULL && MyProcPort->sock != PGINVALID_SOCKET &&
		WaitEventSetCanReportClosed())
		loop->client_pos = AddWaitEventToSet(loop->set, WL_SOCKET_CLOSED,
											 MyProcPort->sock, NULL, NULL);
#ifdef APEX_LOOP_EPOLL
	loop->epfd_pos = AddWaitEventToSet(loop->set, WL_SOCKET_READABLE, loop->epfd,
									   NULL, NULL);
#else
	foreach(lc, loop->watches)
	{
		ApexWatch  *w = lfirst(lc);

		AddWaitEventToSet(loop->set, w->events, w->fd, NULL, NULL);
	}
#endif
}

/* A socket event: its owner's callback, unless an earlier one unwatched it */
static void
apex_socket_event(ApexLoop *loop, pgsocket fd, int events)
{
	ApexWatch  *w = apex_find_watch(loop, fd);

	if (w == NULL)
		return;
	ApexLoopProgress(loop, w->arg);
	w->callback(w->arg, w->fd, events);
}

#ifdef APEX_LOOP_EPOLL
/*
 * The loop's epoll descriptor is readable: hand every ready socket to its
 * owner (an error or hang-up, as PostgreSQL's latch.c reports it, counts
 * as whatever the watch asked for); returns how many there were.
 */
static int
apex_epoll_dispatch(ApexLoop *loop)
{
	int			n;
	int			want = Max(list_length(loop->watches), 1);

	if (loop->nready < want)
	{
		loop->nready = want;
		loop->ready = loop->ready
			? repalloc(loop->ready, want * sizeof(struct epoll_event))
			: MemoryContextAlloc(loop->mcxt, want * sizeof(struct epoll_event));
	}
	n = epoll_wait(loop->epfd, loop->ready, loop->nready, 0);
	if (n < 0)
	{
		if (errno == EINTR)
			return 0;
		ereport(ERROR,
				(errcode_for_socket_access(),
				 errmsg("epoll_wait() failed: %m")));
	}
	for (int i = 0; i < n; i++)
	{
		struct epoll_event *ev = &loop->ready[i];
		ApexWatch  *w = apex_find_watch(loop, ev->data.fd);
		int			events = 0;

		if (w == NULL)
			continue;
		if (ev->events & (EPOLLIN | EPOLLERR | EPOLLHUP))
			events |= w->events & WL_SOCKET_READABLE;
		if (ev->events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
			events |= w->events & WL_SOCKET_WRITEABLE;
		if (events)
			apex_socket_event(loop, ev->data.fd, events);
	}
	return n;
}
#endif

/* Milliseconds left until deadline, at least 1: a budget for a timer */
long
ApexMsUntil(TimestampTz deadline)
{
	long		secs;
	int			usecs;

	TimestampDifference(GetCurrentTimestamp(), deadline, &secs, &usecs);
	return Max(1, secs * 1000 + usecs / 1000);
}

/* The earliest timer's due time, or DT_NOEND */
static TimestampTz
apex_first_due(ApexLoop *loop)
{
	TimestampTz first = DT_NOEND;
	ListCell   *lc;

	foreach(lc, loop->timers)
		first = Min(first, ((ApexTimer *) lfirst(lc))->due);
	return first;
}

/*
 * Wait up to timeout_ms (-1: no limit) and hand every event to its
 * owner; returns how many events there were.
 */
static int
apex_wait(ApexLoop *loop, long timeout_ms)
{
	int			n;

	if (loop->set == NULL)
		apex_build_set(loop);
	if (loop->nevents < loop->set_size)
	{
		loop->nevents = loop->set_size;
		loop->events = loop->events
			? repalloc(loop->events, loop->nevents * sizeof(WaitEvent))
			: MemoryContextAlloc(loop->mcxt, loop->nevents * sizeof(WaitEvent));
	}
	n = WaitEventSetWait(loop->set, timeout_ms, loop->events, loop->nevents,
						 PG_WAIT_EXTENSION);
	loop->heard_at = GetCurrentTimestamp();
	for (int i = 0; i < n; i++)
	{
		WaitEvent  *ev = &loop->events[i];

		if (ev->events & WL_LATCH_SET)
		{
			ResetLatch(MyLatch);
			CHECK_FOR_INTERRUPTS();
			apex_latch_set(loop);
			continue;
		}
		if (ev->pos == loop->client_pos)
		{
			/* as client_connection_check_interval: the session ends */
			ClientConnectionLost = true;
			InterruptPending = true;
			CHECK_FOR_INTERRUPTS();
			continue;
		}
#ifdef APEX_LOOP_EPOLL
		if (ev->pos == loop->epfd_pos)
		{
			/* an empty round is no event: the drain loop must not spin */
			if (apex_epoll_dispatch(loop) == 0)
				n--;
			continue;
		}
#endif
		/* the callback of an earlier event may have dropped this one */
		apex_socket_event(loop, ev->fd,
						  ev->events & (WL_SOCKET_READABLE | WL_SOCKET_WRITEABLE));
	}
	return n;
}

/*
 * The loop did not listen since heard_at and a timer fell due meanwhile:
 * read everything that arrived, then move the timers of the owners heard
 * from on by the time the loop did not listen.
 */
static void
apex_catch_up(ApexLoop *loop)
{
	TimestampTz deaf_since = loop->heard_at;
	TimestampTz now;
	ListCell   *lc;

	loop->draining = true;
	apex_latch_set(loop);
	for (int round = 0; round < APEX_DRAIN_ROUNDS; round++)
	{
		if (apex_wait(loop, 0) == 0)
			break;
	}
	loop->draining = false;
	now = GetCurrentTimestamp();
	foreach(lc, loop->timers)
	{
		ApexTimer  *t = lfirst(lc);

		if (t->due > deaf_since && list_member_ptr(loop->progressed, t->owner))
			t->due += now - deaf_since;
	}
	list_free(loop->progressed);
	loop->progressed = NIL;
	loop->heard_at = now;
}

/* Fire the earliest due timer, if any; a callback may re-arm its timer */
static bool
apex_fire_due(ApexLoop *loop, TimestampTz now)
{
	ApexTimer  *first = NULL;
	ListCell   *lc;
	void	   *owner;
	ApexTimerCallback callback;

	foreach(lc, loop->timers)
	{
		ApexTimer  *t = lfirst(lc);

		if (t->due <= now && (first == NULL || t->due < first->due))
			first = t;
	}
	if (first == NULL)
		return false;
	owner = first->owner;
	callback = first->callback;
	loop->timers = list_delete_ptr(loop->timers, first);
	pfree(first);
	callback(owner);
	return true;
}

/*
 * Run until until(arg) holds or the deadline passes (DT_NOEND: none);
 * returns whether the condition was met.  Throws on cancel,
 * statement_timeout and other interrupts.
 */
bool
ApexLoopRun(ApexLoop *loop, ApexLoopCondition until, void *arg,
			TimestampTz deadline)
{
	/*
	 * Code that ran since the loop last listened (a local leg's query, in
	 * pg_sleep or waiting for a lock) may have reset the latch a worker set
	 * when it answered: every latch watcher looks at its queue once.
	 */
	apex_latch_set(loop);
	for (;;)
	{
		TimestampTz now;
		TimestampTz first;
		long		timeout = -1;

		CHECK_FOR_INTERRUPTS();
		if (until(arg))
			return true;
		now = GetCurrentTimestamp();
		first = Min(apex_first_due(loop), deadline);
		if (first <= now && loop->heard_at < first)
		{
			/* it fell due while nobody listened: read what arrived first */
			apex_catch_up(loop);
			continue;
		}
		if (apex_fire_due(loop, now))
			continue;
		if (now >= deadline)
			return false;
		/* round up, so that a wake-up never comes before the timer is due */
		if (first != DT_NOEND)
			timeout = (long) Min((first - now + 999) / 1000, (TimestampTz) INT_MAX);
		(void) apex_wait(loop, timeout);
	}
}
