/*-------------------------------------------------------------------------
 *
 * transport.h
 *		  The one interface every transport (HTTP, libpq, Redis, and later
 *		  shared-memory queues) offers the call, and their registry.
 *
 * A call (call.c) attaches every transport to its event loop when it
 * begins, asks them whether all requests are written before local legs run,
 * tells them when a leg's time is up and releases them when it ends,
 * normally or not.  Neither the router nor the loop names a transport: a
 * new one is its own io_<name>.c exporting an ApexTransport, plus one line
 * in transport.c.
 *
 * Budgets: a transport enforces connect timeouts itself (it alone knows
 * when a connection is made) and reports them with ApexConnectTimedOut();
 * the leg layer arms one deadline per leg (leg.c) and, when it passes,
 * cancels the leg's requests in every transport.  A transport keeps no
 * overall request timer of its own.
 *
 * Listing: transports report every socket they open and close to the
 * connection registry (conn_registry.c), which apex_router_connections() lists;
 * libcurl opens sockets on its own, so reporting as they open is the only
 * complete way, and no listing operation is needed here.
 *
 * IDENTIFICATION
 *		  src/transport.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef APEX_TRANSPORT_H
#define APEX_TRANSPORT_H

#include "apex_router.h"

typedef struct ApexTransport
{
	const char *name;			/* as apex_router_connections() shows it */
	/* once per backend, from _PG_init; may be NULL */
	void		(*init) (void);
	/* a call begins: its state for the other operations, or NULL */
	void	   *(*attach) (ApexCall *call);
	/* whether every request of the call is written to its socket */
	bool		(*all_sent) (void *state);
	/* owner's time is up: abandon its requests, without a word to it */
	void		(*cancel) (void *state, void *owner);
	/*
	 * The call ends.  normal: its requests are answered or abandoned, write
	 * out what can be written without waiting and keep healthy connections;
	 * else (an error, a cancel): close whatever is mid-request.  Runs once.
	 */
	void		(*release) (void *state, bool normal);
	/*
	 * Close the kept connections of source, or every one (NULL), no call
	 * uses (apex_router_disconnect); how many
	 */
	int			(*disconnect) (const ApexSource *source);
} ApexTransport;

/* in transport.c */
extern void ApexTransportsInit(void);
extern void ApexTransportsAttach(ApexCall *call);
extern void *ApexTransportState(ApexCall *call, const ApexTransport *transport);
extern bool ApexTransportsAllSent(ApexCall *call);
extern void ApexTransportsCancel(ApexCall *call, void *owner);
extern void ApexTransportsRelease(ApexCall *call, bool normal);
extern int	ApexTransportsDisconnect(const ApexSource *source);
extern char *ApexConnectTimedOut(const char *peer, long ms);
extern char *ApexConnectFailed(const char *peer, const char *cause);
extern char *ApexTimedOut(long ms);
extern const char *ApexOutOfDescriptors(void);
extern char *ApexSentence(const char *text);

#endif							/* APEX_TRANSPORT_H */
