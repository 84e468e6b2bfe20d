/*-------------------------------------------------------------------------
 *
 * transport.c
 *		  The registry of transports: adding one is one line here.
 *
 * IDENTIFICATION
 *		  src/transport.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "transport.h"

extern const ApexTransport ApexHttpTransport;
extern const ApexTransport ApexPgTransport;
extern const ApexTransport ApexRedisTransport;
extern const ApexTransport ApexWorkerTransport;

static const ApexTransport *const apex_transports[] = {
	&ApexHttpTransport,
	&ApexPgTransport,
	&ApexRedisTransport,
	&ApexWorkerTransport,
};

#define APEX_NTRANSPORTS lengthof(apex_transports)

void
ApexTransportsInit(void)
{
	for (size_t i = 0; i < APEX_NTRANSPORTS; i++)
	{
		if (apex_transports[i]->init)
			apex_transports[i]->init();
	}
}

/*
 * Attach every transport to the call's loop (call->loop exists).  Should
 * one refuse, those attached before it are released with the call.
 */
void
ApexTransportsAttach(ApexCall *call)
{
	call->transports = MemoryContextAllocZero(call->mcxt,
											  sizeof(void *) * APEX_NTRANSPORTS);
	call->attached = true;
	for (size_t i = 0; i < APEX_NTRANSPORTS; i++)
		call->transports[i] = apex_transports[i]->attach(call);
}

/* The call's state of one transport, for its own request functions */
void *
ApexTransportState(ApexCall *call, const ApexTransport *transport)
{
	for (size_t i = 0; i < APEX_NTRANSPORTS; i++)
	{
		if (apex_transports[i] == transport)
			return call->transports[i];
	}
	elog(ERROR, "transport \"%s\" is not registered", transport->name);
	return NULL;				/* keep the compiler quiet */
}

bool
ApexTransportsAllSent(ApexCall *call)
{
	for (size_t i = 0; i < APEX_NTRANSPORTS; i++)
	{
		if (!apex_transports[i]->all_sent(call->transports[i]))
			return false;
	}
	return true;
}

void
ApexTransportsCancel(ApexCall *call, void *owner)
{
	for (size_t i = 0; i < APEX_NTRANSPORTS; i++)
		apex_transports[i]->cancel(call->transports[i], owner);
}

/*
 * Release every transport, once: the normal end calls this, and the call
 * context's reset callback again (abnormally) after an error; the second
 * call does nothing.
 */
void
ApexTransportsRelease(ApexCall *call, bool normal)
{
	if (!call->attached)
		return;
	call->attached = false;
	for (size_t i = 0; i < APEX_NTRANSPORTS; i++)
	{
		if (call->transports[i])
			apex_transports[i]->release(call->transports[i], normal);
	}
}

/* The kept connections of source (NULL: all) closed; how many */
int
ApexTransportsDisconnect(const ApexSource *source)
{
	int			closed = 0;

	for (size_t i = 0; i < APEX_NTRANSPORTS; i++)
		closed += apex_transports[i]->disconnect(source);
	return closed;
}

/*
 * The causes every transport and leg may give, written once.  A cause is
 * one or more sentences (a message's detail, after "source ... failed").
 */

/*
 * A connect timeout (transports) ... naming the peer tried (host:port or a
 * socket's path) when the transport knows it
 */
char *
ApexConnectTimedOut(const char *peer, long ms)
{
	if (peer)
		return psprintf("Could not connect to %s within %ld ms.", peer, ms);
	return psprintf("Could not connect within %ld ms.", ms);
}

/* ... a connection refused, reset or unreachable, with the system's words */
char *
ApexConnectFailed(const char *peer, const char *cause)
{
	return ApexSentence(psprintf("Could not connect to %s: %s", peer, cause));
}

/* ... a leg's budget running out (leg.c, the cache) ... */
char *
ApexTimedOut(long ms)
{
	return psprintf("Timed out after %ld ms.", ms);
}

/* ... and no descriptor left for a connection (conn_cache.c's budget) */
const char *
ApexOutOfDescriptors(void)
{
	return "Out of file descriptors for remote connections.";
}

/*
 * A library's reason (libcurl's, hiredis' system error) or a reason of our
 * own written for a primary message, made a sentence: the first letter
 * upper-case, a full stop at the end.
 */
char *
ApexSentence(const char *text)
{
	size_t		len = strlen(text);
	char	   *sentence = psprintf("%s%s", text,
									len > 0 && strchr(".!?", text[len - 1]) ? "" : ".");

	if (sentence[0] >= 'a' && sentence[0] <= 'z')
		sentence[0] += 'A' - 'a';
	return sentence;
}
