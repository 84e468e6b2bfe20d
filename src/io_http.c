/*-------------------------------------------------------------------------
 *
 * io_http.c
 *		  libcurl multi-socket glue: HTTP transfers driven by the event loop.
 *
 * One CURLM lives as long as the backend: its connection cache keeps HTTP
 * keep-alive connections open across calls (curl checks a kept connection
 * before reusing it and opens a new one when the server has gone away, e.g.
 * restarted).  During a call, the call's ApexHttp is "current": curl tells
 * us which sockets to watch (CURLMOPT_SOCKETFUNCTION) and when to wake it
 * (CURLMOPT_TIMERFUNCTION), and both are forwarded to the call's ApexLoop,
 * which hands readiness back via curl_multi_socket_action().  Between calls
 * no transfer is attached and curl watches no socket.  Sockets are opened
 * and closed through callbacks that report them to conn_registry.c.  Completed
 * transfers are reported to their owner's callback outside any libcurl
 * frame, so a callback may start new transfers (the embedder -> vector
 * store chain) or throw.
 *
 * Time: libcurl checks a transfer's timeouts before it reads a socket that
 * is ready, so after the backend did not listen for a while (a local leg
 * ran) it would fail an answer waiting to be read.  Its timeouts therefore
 * decide nothing.  A request has no overall timeout of its own: its owner
 * (a leg) has a timer in the call's loop, which ends it (its cancel operation).
 * The connect timeout is a timer of ours per transfer: when it fires (the
 * loop has read what arrived first), a transfer not yet connected fails.
 * Socket events of a transfer are progress of the transfer and its owner
 * (ApexLoopProgress).
 *
 * Descriptors: a socket takes a slot of PostgreSQL's budget before it is
 * opened (conn_registry.c); a transfer to a host name also holds slots for the
 * threaded resolver (its socketpair and the lookup's socket) until it opens
 * its first socket; the multi handle's wake-up socketpair holds two for the
 * backend's life.  A transfer that finds the budget spent fails alone.
 *
 * curl handles are malloc'd by libcurl: the release operation frees them and is
 * run by the call context's reset callback, so an error or a cancel anywhere
 * in the call frees every handle and closes every socket.
 *
 * IDENTIFICATION
 *		  src/io_http.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <limits.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

#include "storage/latch.h"
#include "utils/memutils.h"

#include "apex_router.h"
#include "conn_registry.h"
#include "identity.h"
#include "io_http.h"
#include "transport.h"

typedef struct ApexTransfer
{
	ApexHttp   *http;
	CURL	   *easy;
	struct curl_slist *headers;
	StringInfoData body;
	bool		too_large;		/* body hit apex_router.max_response_size */
	bool		sent;			/* whole request written to the socket */
	bool		connected;		/* connection (and TLS) made, or reused */
	bool		out_of_fds;		/* a socket found the descriptor budget spent */
	int			resolver_slots; /* descriptor slots held for the resolver */
	char		errbuf[CURL_ERROR_SIZE];	/* curl's detailed message */
	char	   *peer;			/* for messages: the URL's host:port, then the
								 * address:port last tried */
	long		connect_timeout_ms;
	const char *label;			/* source name, for apex_router_connections */
	void	   *owner;			/* whose timer bounds the request */
	ApexHttpDone done;
	void	   *arg;
} ApexTransfer;

struct ApexHttp
{
	ApexLoop   *loop;
	MemoryContext mcxt;
	List	   *transfers;		/* ApexTransfer * still in flight */
	char	   *user_agent;		/* who asks (identity.c), "" for none */
};

/*
 * Idle HTTP connections kept per backend, across all sources: a few per
 * source for a deployment of a dozen HTTP sources, each one a descriptor of
 * the backend's external budget (max_files_per_process less fd.c's own).
 */
#define APEX_HTTP_MAX_KEPT 32

/*
 * Descriptors of a name lookup in libcurl's threaded resolver: its
 * socketpair, and the resolver thread's socket to the DNS server.
 */
#define APEX_RESOLVER_SLOTS 3

/* backend lifetime; malloc'd by libcurl, freed by apex_http_disconnect() */
static CURLM *apex_multi = NULL;
/* the call driving apex_multi now, or NULL between calls */
static ApexHttp *apex_current = NULL;

static void apex_http_drive(ApexHttp *http, curl_socket_t fd, int mask);

/* Give back the descriptor slots held for the transfer's name lookup */
static void
apex_http_release_resolver(ApexTransfer *t)
{
	for (; t->resolver_slots > 0; t->resolver_slots--)
		ApexConnUnreserve();
}

static size_t
apex_http_write(char *data, size_t size, size_t nmemb, void *userp)
{
	ApexTransfer *t = userp;
	size_t		n = size * nmemb;

	if ((Size) t->body.len + n > (Size) apex_max_response_kb * 1024)
	{
		t->too_large = true;
		return 0;				/* makes curl fail with CURLE_WRITE_ERROR */
	}
	appendBinaryStringInfo(&t->body, data, n);
	return n;
}

/* A socket of transfer arg (NULL: of none) is ready */
static void
apex_http_on_socket(void *arg, pgsocket fd, int events)
{
	ApexTransfer *t = arg;
	int			mask = 0;

	if (events & WL_SOCKET_READABLE)
		mask |= CURL_CSELECT_IN;
	if (events & WL_SOCKET_WRITEABLE)
		mask |= CURL_CSELECT_OUT;
	if (t)
		ApexLoopProgress(apex_current->loop, t->owner);
	apex_http_drive(apex_current, fd, mask);
}

static void
apex_http_on_timer(void *arg)
{
	apex_http_drive((ApexHttp *) arg, CURL_SOCKET_TIMEOUT, 0);
}

/*
 * CURLMOPT_SOCKETFUNCTION: mirror curl's interest into the event loop.  The
 * watch's argument is the transfer the socket now serves (curl's handle
 * for closing connections has none).
 */
static int
apex_http_socket_cb(CURL *easy, curl_socket_t fd, int what,
					void *userp pg_attribute_unused(),
					void *socketp pg_attribute_unused())
{
	ApexTransfer *t = NULL;
	int			events = 0;

	if (apex_current == NULL)
		return 0;				/* a call is tearing down: nothing to watch */
	if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
		events |= WL_SOCKET_READABLE;
	if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
		events |= WL_SOCKET_WRITEABLE;
	if (events)
		curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **) &t);
	ApexLoopWatch(apex_current->loop, fd, events, apex_http_on_socket, t);
	return 0;
}

/* CURLMOPT_TIMERFUNCTION: curl wants socket_action(TIMEOUT) after timeout_ms */
static int
apex_http_timer_cb(CURLM *multi pg_attribute_unused(), long timeout_ms,
				   void *userp pg_attribute_unused())
{
	if (apex_current)
		ApexLoopSetTimer(apex_current->loop, apex_current, timeout_ms,
						 apex_http_on_timer);
	return 0;
}

/* CURLOPT_OPENSOCKETFUNCTION: open, and account for, a connection's socket */
static curl_socket_t
apex_http_open_socket(void *clientp, curlsocktype purpose pg_attribute_unused(),
					  struct curl_sockaddr *addr)
{
	ApexTransfer *t = clientp;
	char		host[INET6_ADDRSTRLEN] = "?";
	int			port = 0;
	curl_socket_t fd;

	/* the name is resolved: the resolver's descriptors are closed */
	apex_http_release_resolver(t);

	if (addr->family == AF_INET)
	{
		struct sockaddr_in *in = (struct sockaddr_in *) &addr->addr;

		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		port = ntohs(in->sin_port);
	}
	else if (addr->family == AF_INET6)
	{
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *) &addr->addr;

		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		port = ntohs(in6->sin6_port);
	}
	/* as allowed_hosts writes it (an IPv6 address in brackets) */
	if (t->peer)
		pfree(t->peer);
	t->peer = MemoryContextStrdup(t->http->mcxt,
								  ApexTargetString(ApexTargetMake(host, psprintf("%d", port))));
	if (!ApexConnReserve())
	{
		t->out_of_fds = true;
		errno = EMFILE;
		return CURL_SOCKET_BAD;
	}
	fd = socket(addr->family, addr->socktype, addr->protocol);
	if (fd == CURL_SOCKET_BAD)
	{
		ApexConnUnreserve();
		return fd;
	}
	ApexConnOpened("http", fd, t->label, t->peer);
	return fd;
}

/*
 * CURLOPT_PREREQFUNCTION: connected (TLS included), or a kept connection
 * reused; the request is about to be sent.
 */
static int
apex_http_prereq(void *clientp, char *primary_ip pg_attribute_unused(),
				 char *local_ip pg_attribute_unused(),
				 int primary_port pg_attribute_unused(),
				 int local_port pg_attribute_unused())
{
	ApexTransfer *t = clientp;

	t->connected = true;
	ApexLoopSetTimer(t->http->loop, t, -1, NULL);
	return CURL_PREREQFUNC_OK;
}

/* CURLOPT_CLOSESOCKETFUNCTION: may run long after the opening transfer */
static int
apex_http_close_socket(void *clientp pg_attribute_unused(), curl_socket_t fd)
{
	ApexConnClosed("http", fd);
	return close(fd);
}

/*
 * Attach a call to the backend's multi handle (calls do not nest: call.c).
 */
static void *
apex_http_attach(ApexCall *call)
{
	ApexHttp   *http;
	MemoryContext old;

	if (apex_multi == NULL)
	{
		/* curl_multi_init opens a socketpair for curl_multi_wakeup() */
		ApexConnReserveOrError(2);
		apex_multi = curl_multi_init();
		if (apex_multi == NULL)
		{
			ApexConnUnreserve();
			ApexConnUnreserve();
			ereport(ERROR,
					(errcode(ERRCODE_FDW_OUT_OF_MEMORY),
					 errmsg("out of memory"),
					 errdetail("libcurl could not create a multi handle.")));
		}
		curl_multi_setopt(apex_multi, CURLMOPT_SOCKETFUNCTION, apex_http_socket_cb);
		curl_multi_setopt(apex_multi, CURLMOPT_TIMERFUNCTION, apex_http_timer_cb);
		/*
		 * curl's default cache size follows the number of transfers attached,
		 * which drops to nothing between calls; keep a fixed room instead.
		 */
		curl_multi_setopt(apex_multi, CURLMOPT_MAXCONNECTS, (long) APEX_HTTP_MAX_KEPT);
	}
	http = MemoryContextAllocZero(call->mcxt, sizeof(ApexHttp));
	http->loop = call->loop;
	http->mcxt = call->mcxt;
	/* the role and template of this call: every request of it says so */
	old = MemoryContextSwitchTo(call->mcxt);
	http->user_agent = ApexIdentity(true);
	MemoryContextSwitchTo(old);
	apex_current = http;
	return http;
}

static void
apex_transfer_release(ApexTransfer *t)
{
	curl_multi_remove_handle(apex_multi, t->easy);
	curl_easy_cleanup(t->easy);
	curl_slist_free_all(t->headers);
	t->easy = NULL;
	t->headers = NULL;
	apex_http_release_resolver(t);
}

/* The transfer is over: release it and tell its owner (outside curl) */
static void
apex_transfer_finish(ApexTransfer *t, ApexHttpResponse *resp)
{
	ApexHttp   *http = t->http;

	ApexLoopSetTimer(http->loop, t, -1, NULL);
	resp->body = &t->body;
	resp->connect_ms = resp->first_byte_ms = -1;
	if (t->easy)
	{
		curl_off_t	us;

		/* from the transfer's start; a kept connection's connect is 0 */
		if (curl_easy_getinfo(t->easy, CURLINFO_CONNECT_TIME_T, &us) == CURLE_OK)
			resp->connect_ms = us / 1000.0;
		if (curl_easy_getinfo(t->easy, CURLINFO_STARTTRANSFER_TIME_T, &us) == CURLE_OK && us > 0)
			resp->first_byte_ms = us / 1000.0;
		apex_transfer_release(t);
	}
	http->transfers = list_delete_ptr(http->transfers, t);
	t->done(t->arg, resp);
}

/* The connect timeout: fail the transfer unless it is connected */
static void
apex_http_connect_timeout(void *arg)
{
	ApexTransfer *t = arg;
	ApexHttpResponse resp = {0};

	if (t->connected)
		return;
	resp.error = ApexConnectTimedOut(t->peer, t->connect_timeout_ms);
	resp.sqlerrcode = ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION;
	apex_transfer_finish(t, &resp);
}

/*
 * The owner's time is up: abort its transfers without a word to it (their
 * connections close).
 */
static void
apex_http_cancel(void *state, void *owner)
{
	ApexHttp   *http = state;
	ListCell   *lc;

	foreach(lc, http->transfers)
	{
		ApexTransfer *t = lfirst(lc);

		if (t->owner != owner)
			continue;
		ApexLoopSetTimer(http->loop, t, -1, NULL);
		apex_transfer_release(t);
		http->transfers = foreach_delete_current(http->transfers, lc);
	}
}

/*
 * Detach the call, however it ended: abort its transfers still in flight
 * (their connections close; finished ones stay in curl's cache).
 */
static void
apex_http_release(void *state, bool normal pg_attribute_unused())
{
	ApexHttp   *http = state;
	ListCell   *lc;

	if (apex_current != http)
		return;
	/* the call's loop is going away: no more callbacks into it */
	apex_current = NULL;
	foreach(lc, http->transfers)
		apex_transfer_release(lfirst(lc));
	list_free(http->transfers);
	http->transfers = NIL;
	/* sockets curl closed behind our back (see ApexConnSweep) */
	ApexConnSweep();
}

/*
 * Close the kept HTTP connections (apex_router_disconnect): every one, or
 * those source opened.  libcurl keeps them in one pool per backend, shared
 * by every source on the same host, and cannot close one of them: when
 * source opened any, the whole pool is closed, and the count says how many
 * connections that was.  A source whose requests went over connections
 * others opened has none of its own.
 */
static int
apex_http_disconnect(const ApexSource *source)
{
	int			before = ApexConnCount("http", NULL);

	if (apex_multi == NULL || apex_current != NULL)
		return 0;
	if (source && ApexConnCount("http", source->name) == 0)
		return 0;
	curl_multi_cleanup(apex_multi);
	apex_multi = NULL;
	/* its wake-up socketpair */
	ApexConnUnreserve();
	ApexConnUnreserve();
	return before;
}

/* Once per backend, from _PG_init */
static void
apex_http_init(void)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not initialize libcurl")));
}

/*
 * url's host and port as libcurl reads them, written as allowed_hosts
 * writes a target (NULL when libcurl cannot read it), and in *resolves
 * whether libcurl looks the host up in its resolver thread: not for an
 * address nor for "localhost" (curl answers that itself).  When in doubt,
 * it does.
 */
static char *
apex_http_url_target(const char *url, bool *resolves)
{
	CURLU	   *u = curl_url();
	char	   *host = NULL;
	char	   *port = NULL;
	char	   *target = NULL;
	struct in_addr addr;

	*resolves = true;
	if (u == NULL)
		return NULL;
	if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
		curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK)
	{
		*resolves = !(host[0] == '[' || inet_pton(AF_INET, host, &addr) == 1 ||
					  pg_strcasecmp(host, "localhost") == 0);
		if (curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK)
			target = ApexTargetString(ApexTargetMake(host[0] == '[' ?
													 pnstrdup(host + 1, strlen(host) - 2) : host,
													 port));
		curl_free(port);
		curl_free(host);
	}
	curl_url_cleanup(u);
	return target;
}

/*
 * Start a request; request->done gets its response.  A request that finds
 * the descriptor budget spent fails at once (done runs before this
 * returns).
 */
void
ApexHttpStart(ApexCall *call, const ApexHttpRequest *request)
{
	ApexHttp   *http = ApexTransportState(call, &ApexHttpTransport);
	MemoryContext old = MemoryContextSwitchTo(http->mcxt);
	ApexTransfer *t = palloc0(sizeof(ApexTransfer));
	ListCell   *lc;
	CURL	   *easy;
	CURLMcode	mrc;
	bool		resolves;

	t->http = http;
	t->label = request->label;
	t->owner = request->owner;
	t->done = request->done;
	t->arg = request->arg;
	t->connect_timeout_ms = Max(request->connect_timeout_ms, 1L);
	initStringInfo(&t->body);
	/*
	 * The URL's host and port (its proxy's, with one) until a socket names
	 * the address tried
	 */
	t->peer = apex_http_url_target(request->proxy ? request->proxy : request->url,
								   &resolves);
	MemoryContextSwitchTo(old);
	if (resolves)
	{
		while (t->resolver_slots < APEX_RESOLVER_SLOTS && ApexConnReserve())
			t->resolver_slots++;
		if (t->resolver_slots < APEX_RESOLVER_SLOTS)
		{
			ApexHttpResponse resp = {0};

			apex_http_release_resolver(t);
			resp.error = ApexOutOfDescriptors();
			resp.sqlerrcode = ERRCODE_INSUFFICIENT_RESOURCES;
			t->done(t->arg, &resp);
			return;
		}
	}
	old = MemoryContextSwitchTo(http->mcxt);
	foreach(lc, request->headers)
	{
		struct curl_slist *h = curl_slist_append(t->headers, lfirst(lc));

		if (h == NULL)
		{
			curl_slist_free_all(t->headers);
			apex_http_release_resolver(t);
			ereport(ERROR,
					(errcode(ERRCODE_FDW_OUT_OF_MEMORY),
					 errmsg("out of memory"),
					 errdetail("libcurl could not add a request header.")));
		}
		t->headers = h;
	}
	easy = curl_easy_init();
	if (easy == NULL)
	{
		curl_slist_free_all(t->headers);
		apex_http_release_resolver(t);
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OUT_OF_MEMORY),
				 errmsg("out of memory"),
				 errdetail("libcurl could not create a transfer handle.")));
	}
	t->easy = easy;
	http->transfers = lappend(http->transfers, t);

	curl_easy_setopt(easy, CURLOPT_URL, request->url);
	curl_easy_setopt(easy, CURLOPT_PRIVATE, t);
	/* PostgreSQL owns signal handling; curl must not install handlers */
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, apex_http_write);
	curl_easy_setopt(easy, CURLOPT_WRITEDATA, t);
	curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, t->errbuf);
	curl_easy_setopt(easy, CURLOPT_HTTPHEADER, t->headers);
	/* who asks (identity.c: printable ASCII, no CR or LF); "": no header */
	if (http->user_agent[0])
		curl_easy_setopt(easy, CURLOPT_USERAGENT, http->user_agent);
	/*
	 * Ask for every encoding this libcurl decodes, and decode what comes
	 * back: without this, a compressed answer (sent when asked, or unasked
	 * by a proxy) reaches the parsers as compressed bytes.  The write
	 * callback sees decoded data, so max_response_size bounds the decoded
	 * size and a compression bomb stops there.
	 */
	curl_easy_setopt(easy, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(easy, CURLOPT_OPENSOCKETFUNCTION, apex_http_open_socket);
	curl_easy_setopt(easy, CURLOPT_OPENSOCKETDATA, t);
	curl_easy_setopt(easy, CURLOPT_CLOSESOCKETFUNCTION, apex_http_close_socket);
	curl_easy_setopt(easy, CURLOPT_PREREQFUNCTION, apex_http_prereq);
	curl_easy_setopt(easy, CURLOPT_PREREQDATA, t);
	/* our timers decide (see the file header); curl's default would be 300 s */
	curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, (long) INT_MAX);
	/* https peers are verified (curl's default) unless the source opts out */
	if (request->ca_file)
		curl_easy_setopt(easy, CURLOPT_CAINFO, request->ca_file);
	if (request->tls_insecure)
	{
		curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	/*
	 * The source's proxy, or none: never one of libcurl's environment
	 * variables (http_proxy, HTTPS_PROXY, ALL_PROXY, NO_PROXY of the
	 * postmaster), which would send requests to a host allowed_hosts never
	 * checked, or past the proxy a source names.
	 */
	curl_easy_setopt(easy, CURLOPT_PROXY, request->proxy ? request->proxy : "");
	curl_easy_setopt(easy, CURLOPT_NOPROXY, "");
	if (request->proxy && request->proxy_username)
	{
		curl_easy_setopt(easy, CURLOPT_PROXYAUTH, (long) CURLAUTH_BASIC);
		curl_easy_setopt(easy, CURLOPT_PROXYUSERNAME, request->proxy_username);
		curl_easy_setopt(easy, CURLOPT_PROXYPASSWORD,
						 request->proxy_password ? request->proxy_password : "");
	}
	if (request->body)
	{
		curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE, (long) strlen(request->body));
		curl_easy_setopt(easy, CURLOPT_POSTFIELDS, request->body);
	}
	if (request->username)
	{
		curl_easy_setopt(easy, CURLOPT_HTTPAUTH, (long) CURLAUTH_BASIC);
		curl_easy_setopt(easy, CURLOPT_USERNAME, request->username);
		curl_easy_setopt(easy, CURLOPT_PASSWORD,
						 request->password ? request->password : "");
	}
	MemoryContextSwitchTo(old);

	ApexLoopSetTimer(http->loop, t, t->connect_timeout_ms, apex_http_connect_timeout);
	/* the transfer is listed: the call's release frees it, whatever happens */
	mrc = curl_multi_add_handle(apex_multi, easy);
	if (mrc == CURLM_OUT_OF_MEMORY)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OUT_OF_MEMORY),
				 errmsg("out of memory"),
				 errdetail("libcurl could not add a transfer to its multi handle.")));
	if (mrc != CURLM_OK)
		elog(ERROR, "curl_multi_add_handle failed: %s", curl_multi_strerror(mrc));
}

/*
 * The cause of a failed transfer, as a sentence, and its SQLSTATE.  curl's
 * detailed message has timings in it for most failures, so only failures
 * that need the detail (which certificate check failed, which host did not
 * resolve, what was not HTTP about an answer) get it: messages stay stable
 * for the same cause.  Where the detail may quote the peer (its reply, its
 * certificate's names), it goes to *peer_detail instead: the peer's words
 * are shown only as redact.c allows.
 */
static char *
apex_http_error(CURLcode rc, const char *detail, const char *peer, long os_errno,
				const char **peer_detail, int *sqlerrcode)
{
	/* "OpenSSL/3.0.11: error:..." : the version is noise */
	if (strncmp(detail, "OpenSSL/", 8) == 0 && strstr(detail, ": "))
		detail = strstr(detail, ": ") + 2;
	*peer_detail = NULL;
	switch (rc)
	{
		case CURLE_COULDNT_RESOLVE_HOST:
		case CURLE_COULDNT_CONNECT:
		case CURLE_SSL_CONNECT_ERROR:
		case CURLE_PEER_FAILED_VERIFICATION:
		case CURLE_SSL_CACERT_BADFILE:
		case CURLE_SSL_CERTPROBLEM:
			/* no connection (TLS handshake included) was made */
			*sqlerrcode = ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION;
			break;
		default:
			*sqlerrcode = ERRCODE_FDW_ERROR;
			break;
	}
	switch (rc)
	{
		case CURLE_UNSUPPORTED_PROTOCOL:	/* answers that are not HTTP */
		case CURLE_WEIRD_SERVER_REPLY:
		case CURLE_PEER_FAILED_VERIFICATION:
			if (detail[0])
				*peer_detail = pstrdup(detail);
			break;
		case CURLE_COULDNT_CONNECT:
			/* the address tried and the system's reason (refused, ...) */
			if (peer && os_errno != 0)
				return ApexConnectFailed(peer, strerror((int) os_errno));
			break;
		case CURLE_COULDNT_RESOLVE_HOST:
			/* the host and port of the URL, as for a refused connection */
			if (peer)
				return ApexConnectFailed(peer, curl_easy_strerror(rc));
			if (detail[0])
				return ApexSentence(psprintf("%s (%s)", curl_easy_strerror(rc), detail));
			break;
		case CURLE_SSL_CONNECT_ERROR:
		case CURLE_SSL_CACERT_BADFILE:
		case CURLE_SSL_CERTPROBLEM:
			if (detail[0])
				return ApexSentence(psprintf("%s (%s)", curl_easy_strerror(rc), detail));
			break;
		default:
			break;
	}
	return ApexSentence(curl_easy_strerror(rc));
}

/*
 * A Retry-After longer than this many seconds is read as this many: no
 * leg's budget comes near it, and the arithmetic stays in range.
 */

/*
 * The answer's Retry-After (RFC 9110, section 10.2.3), in seconds from
 * now: its delay-seconds, or the time until its HTTP-date (curl_getdate
 * reads the three date formats a recipient must accept; a date already
 * past is 0).  Read with libcurl's header API from the transfer's last
 * response; the field is a singleton, so one sent twice is not valid.
 */
static long
apex_http_retry_after(CURL *easy)
{
	struct curl_header *h;
	const char *v;
	long		seconds = 0;
	time_t		date;

	if (curl_easy_header(easy, "Retry-After", 0, CURLH_HEADER, -1, &h) != CURLHE_OK)
		return APEX_RETRY_AFTER_NONE;
	if (h->amount != 1)
		return APEX_RETRY_AFTER_BAD;
	v = h->value;
	while (*v == ' ' || *v == '\t')
		v++;
	if (*v >= '0' && *v <= '9')
	{
		/* delay-seconds = 1*DIGIT, then at most whitespace */
		for (; *v >= '0' && *v <= '9'; v++)
			seconds = Min(seconds * 10 + (*v - '0'), APEX_RETRY_AFTER_MAX_S);
		while (*v == ' ' || *v == '\t')
			v++;
		return *v == '\0' ? seconds : APEX_RETRY_AFTER_BAD;
	}
	date = curl_getdate(v, NULL);
	if (date == -1)
		return APEX_RETRY_AFTER_BAD;
	return (long) Min(Max(date - time(NULL), (time_t) 0), (time_t) APEX_RETRY_AFTER_MAX_S);
}

/* Report every finished transfer to its owner. */
static void
apex_http_collect(ApexHttp *http)
{
	CURLMsg    *msg;
	int			left;

	while ((msg = curl_multi_info_read(apex_multi, &left)))
	{
		ApexTransfer *t;
		ApexHttpResponse resp = {0};
		char	   *ct = NULL;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **) &t);
		if (msg->data.result == CURLE_OK)
		{
			curl_socket_t fd;

			if (curl_easy_getinfo(t->easy, CURLINFO_ACTIVESOCKET, &fd) == CURLE_OK &&
				fd != CURL_SOCKET_BAD)
				ApexConnUsed("http", fd);
			curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &resp.status);
			curl_easy_getinfo(t->easy, CURLINFO_CONTENT_TYPE, &ct);
			resp.content_type = ct ? MemoryContextStrdup(http->mcxt, ct) : NULL;
			if (resp.status == 429 || resp.status == 503)
				resp.retry_after_s = apex_http_retry_after(t->easy);
		}
		else if (t->too_large)
		{
			resp.error = psprintf("The response is larger than apex_router.max_response_size (%d kB).",
								  apex_max_response_kb);
			resp.sqlerrcode = ERRCODE_FDW_ERROR;
		}
		else if (t->out_of_fds)
		{
			resp.error = ApexOutOfDescriptors();
			resp.sqlerrcode = ERRCODE_INSUFFICIENT_RESOURCES;
		}
		else
		{
			long		os_errno = 0;
			long		tunnel = 0;

			curl_easy_getinfo(t->easy, CURLINFO_OS_ERRNO, &os_errno);
			curl_easy_getinfo(t->easy, CURLINFO_HTTP_CONNECTCODE, &tunnel);
			if (tunnel >= 300)
			{
				/* the source's proxy refused the CONNECT of an https URL */
				resp.error = psprintf("The proxy %s answered the CONNECT request with HTTP status %ld%s.",
									  t->peer, tunnel,
									  tunnel == 407 ? " (proxy authentication required: the user mapping's proxy_user and proxy_password)" : "");
				resp.sqlerrcode = ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION;
			}
			else
				resp.error = apex_http_error(msg->data.result, t->errbuf, t->peer, os_errno,
											 &resp.peer_detail, &resp.sqlerrcode);
		}
		/* msg points into curl's memory: do not touch it after this */
		apex_transfer_finish(t, &resp);
	}
}

static void
apex_http_drive(ApexHttp *http, curl_socket_t fd, int mask)
{
	int			running;

	curl_multi_socket_action(apex_multi, fd, mask, &running);
	apex_http_collect(http);
}

/*
 * True once every transfer in flight has written its whole request: the
 * remote sources are then working while the caller runs local legs.
 */
static bool
apex_http_all_sent(void *state)
{
	ApexHttp   *http = state;
	ListCell   *lc;

	foreach(lc, http->transfers)
	{
		ApexTransfer *t = lfirst(lc);
		long		request_size = 0;

		if (!t->sent)
		{
			curl_easy_getinfo(t->easy, CURLINFO_REQUEST_SIZE, &request_size);
			t->sent = request_size > 0;
		}
		if (!t->sent)
			return false;
	}
	return true;
}

const ApexTransport ApexHttpTransport = {
	.name = "http",
	.init = apex_http_init,
	.attach = apex_http_attach,
	.all_sent = apex_http_all_sent,
	.cancel = apex_http_cancel,
	.release = apex_http_release,
	.disconnect = apex_http_disconnect,
};
