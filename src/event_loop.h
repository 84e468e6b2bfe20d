/*-------------------------------------------------------------------------
 *
 * event_loop.h
 *		  The one place that waits: sockets, timers, latch, postmaster death,
 *		  the client's connection.
 *
 * IDENTIFICATION
 *		  src/event_loop.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef APEX_EVENT_LOOP_H
#define APEX_EVENT_LOOP_H

#include "datatype/timestamp.h"
#include "port.h"

/* events are WL_SOCKET_READABLE / WL_SOCKET_WRITEABLE bits */
typedef void (*ApexSocketCallback) (void *arg, pgsocket fd, int events);
typedef void (*ApexTimerCallback) (void *arg);
typedef bool (*ApexLoopCondition) (void *arg);
typedef void (*ApexLatchCallback) (void *arg);

typedef struct ApexLoop ApexLoop;

extern ApexLoop *ApexLoopCreate(MemoryContext mcxt);
extern void ApexLoopFree(ApexLoop *loop, bool keep);
extern void ApexLoopDropKept(void);
extern void ApexLoopWatch(ApexLoop *loop, pgsocket fd, int events,
						  ApexSocketCallback callback, void *arg);
extern void ApexLoopWatchLatch(ApexLoop *loop, ApexLatchCallback callback,
							   void *arg);
extern void ApexLoopSetTimer(ApexLoop *loop, void *owner, long timeout_ms,
							 ApexTimerCallback callback);
extern long ApexLoopTimeLeft(ApexLoop *loop, void *owner);
extern void ApexLoopProgress(ApexLoop *loop, void *owner);
extern long ApexMsUntil(TimestampTz deadline);
extern bool ApexLoopRun(ApexLoop *loop, ApexLoopCondition until, void *arg,
						TimestampTz deadline);

#endif							/* APEX_EVENT_LOOP_H */
