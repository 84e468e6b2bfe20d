/*-------------------------------------------------------------------------
 *
 * event_loop.c
 *		  WaitEventSet driver shared by every I/O client of a call.
 *
 * I/O clients (libcurl today; hiredis and libpq later) register the sockets
 * they want watched and at most one timer each.  The loop knows no
 * protocol: it waits on a WaitEventSet holding the latch, postmaster death
 * and those sockets, and calls back whoever owns a ready socket or a due
 * timer.
 *
 * PostgreSQL 15 cannot remove an event from a WaitEventSet, so the set is
 * rebuilt (lazily, before the next wait) whenever the socket list changes;
 * a call has a handful of sockets, so a rebuild costs one epoll_create and a
 * few epoll_ctl calls.  Waking on the latch lets CHECK_FOR_INTERRUPTS()
 * honour query cancel and statement_timeout at once; the error it throws
 * unwinds through the call context's reset callback, which frees the set.
 *
 * IDENTIFICATION
 *		  src/event_loop.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "event_loop.h"

typedef struct ApexWatch
{
	pgsocket	fd;
	int			events;			/* WL_SOCKET_* */
	ApexSocketCallback callback;
	void	   *arg;
} ApexWatch;

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
	WaitEventSet *set;			/* NULL when it must be rebuilt */
	int			set_size;
};

ApexLoop *
ApexLoopCreate(MemoryContext mcxt)
{
	ApexLoop   *loop = MemoryContextAllocZero(mcxt, sizeof(ApexLoop));

	loop->mcxt = mcxt;
	return loop;
}

/* Release the WaitEventSet (an epoll descriptor); safe to call twice. */
void
ApexLoopFree(ApexLoop *loop)
{
	if (loop->set)
		FreeWaitEventSet(loop->set);
	loop->set = NULL;
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
			ApexLoopFree(loop);
		}
		return;
	}
	if (w == NULL)
	{
		w = MemoryContextAllocZero(loop->mcxt, sizeof(ApexWatch));
		w->fd = fd;
		loop->watches = lappend(loop->watches, w);
		ApexLoopFree(loop);
	}
	else if (w->events != events)
		ApexLoopFree(loop);
	w->events = events;
	w->callback = callback;
	w->arg = arg;
}

/*
 * Arm (timeout_ms >= 0) or disarm (timeout_ms < 0) the timer of owner.
 */
void
ApexLoopSetTimer(ApexLoop *loop, void *owner, long timeout_ms,
				 ApexTimerCallback callback)
{
	ListCell   *lc;
	ApexTimer  *t = NULL;

	foreach(lc, loop->timers)
	{
		if (((ApexTimer *) lfirst(lc))->owner == owner)
			t = lfirst(lc);
	}
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

static void
apex_build_set(ApexLoop *loop)
{
	ListCell   *lc;

	loop->set_size = list_length(loop->watches) + 2;
	loop->set = CreateWaitEventSet(loop->mcxt, loop->set_size);
	AddWaitEventToSet(loop->set, WL_LATCH_SET, PGINVALID_SOCKET, MyLatch, NULL);
	AddWaitEventToSet(loop->set, WL_EXIT_ON_PM_DEATH, PGINVALID_SOCKET,
					  NULL, NULL);
	foreach(lc, loop->watches)
	{
		ApexWatch  *w = lfirst(lc);

		AddWaitEventToSet(loop->set, w->events, w->fd, NULL, NULL);
	}
}

/* Milliseconds left until deadline, at least 1: a budget for a timer */
long
ApexMsUntil(TimestampTz deadline)
{
	long		secs;
	int			usecs;

	TimestampDifference(GetCurrentTimestamp(), deadline, &secs, &usecs);
	return Max(1, secs * 1000 + usecs / 1000);
}

/* Milliseconds until the earliest timer or the deadline, whichever is first. */
static long
apex_next_timeout(ApexLoop *loop, TimestampTz deadline)
{
	TimestampTz first = deadline;
	TimestampTz now = GetCurrentTimestamp();
	ListCell   *lc;

	foreach(lc, loop->timers)
	{
		ApexTimer  *t = lfirst(lc);

		if (t->due < first)
			first = t->due;
	}
	if (first <= now)
		return 0;
	/* round up, so that a wake-up never comes before the timer is due */
	return (long) ((first - now + 999) / 1000);
}

/* Fire every due timer once; a callback may re-arm its own timer. */
static void
apex_fire_timers(ApexLoop *loop)
{
	TimestampTz now = GetCurrentTimestamp();
	List	   *due = NIL;
	ListCell   *lc;

	foreach(lc, loop->timers)
	{
		ApexTimer  *t = lfirst(lc);

		if (t->due <= now)
			due = lappend(due, t);
	}
	foreach(lc, due)
	{
		ApexTimer  *t = lfirst(lc);
		void	   *owner = t->owner;
		ApexTimerCallback callback = t->callback;

		loop->timers = list_delete_ptr(loop->timers, t);
		pfree(t);
		callback(owner);
	}
	list_free(due);
}

/*
 * Run until until(arg) holds or the deadline passes; returns whether the
 * condition was met.  Throws on cancel, statement_timeout and other
 * interrupts.
 */
bool
ApexLoopRun(ApexLoop *loop, ApexLoopCondition until, void *arg,
			TimestampTz deadline)
{
	WaitEvent  *events = NULL;
	int			nalloc = 0;

	while (!until(arg))
	{
		long		timeout;
		int			n;

		CHECK_FOR_INTERRUPTS();
		if (GetCurrentTimestamp() >= deadline)
			return false;
		if (loop->set == NULL)
			apex_build_set(loop);
		if (nalloc < loop->set_size)
		{
			nalloc = loop->set_size;
			events = events ? repalloc(events, nalloc * sizeof(WaitEvent))
				: MemoryContextAlloc(loop->mcxt, nalloc * sizeof(WaitEvent));
		}
		timeout = apex_next_timeout(loop, deadline);
		n = WaitEventSetWait(loop->set, timeout, events, nalloc,
							 PG_WAIT_EXTENSION);
		for (int i = 0; i < n; i++)
		{
			ApexWatch  *w;

			if (events[i].events & WL_LATCH_SET)
			{
				ResetLatch(MyLatch);
				CHECK_FOR_INTERRUPTS();
				continue;
			}
			/* the callback of an earlier event may have dropped this one */
			w = apex_find_watch(loop, events[i].fd);
			if (w)
				w->callback(w->arg, w->fd,
							events[i].events & (WL_SOCKET_READABLE | WL_SOCKET_WRITEABLE));
		}
		apex_fire_timers(loop);
	}
	return true;
}
