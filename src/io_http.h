/*-------------------------------------------------------------------------
 *
 * io_http.h
 *		  Non-blocking HTTP requests over libcurl's multi socket interface.
 *
 * IDENTIFICATION
 *		  src/io_http.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef APEX_IO_HTTP_H
#define APEX_IO_HTTP_H

#include "lib/stringinfo.h"

#include "event_loop.h"

typedef struct ApexHttp ApexHttp;

typedef struct ApexHttpResponse
{
	/* a transport failure (no HTTP answer), in sentences, or NULL */
	const char *error;
	int			sqlerrcode;		/* its SQLSTATE */
	const char *peer_detail;	/* curl's detail quoting the peer, or NULL */
	long		status;			/* HTTP status code */
	const char *content_type;	/* may be NULL */
	StringInfo	body;
	/*
	 * A 429 or 503 answer's Retry-After, in seconds from now (an HTTP-date
	 * is turned into that): APEX_RETRY_AFTER_NONE without the header,
	 * APEX_RETRY_AFTER_BAD when it is neither delay-seconds nor an
	 * HTTP-date.  Set for those two statuses only.
	 */
	long		retry_after_s;
	/*
	 * Why the leg layer did not retry a 429 or 503 answer (a sentence that
	 * replaces the status sentence), or NULL (leg.c)
	 */
	const char *not_retried;
	/* curl's times of the request in ms from its start, -1: unknown */
	double		connect_ms;
	double		first_byte_ms;
} ApexHttpResponse;

#define APEX_RETRY_AFTER_NONE (-1)
#define APEX_RETRY_AFTER_BAD (-2)
/* longer delays read as this one: no budget comes near it */
#define APEX_RETRY_AFTER_MAX_S 1000000000L

typedef void (*ApexHttpDone) (void *arg, ApexHttpResponse *response);

typedef struct ApexHttpRequest
{
	const char *label;			/* who asks (a source name), for listings */
	const char *url;
	const char *body;			/* JSON request body; POST when set, else GET */
	List	   *headers;		/* "Name: value" strings */
	const char *username;		/* HTTP basic auth, or NULL */
	const char *password;
	const char *ca_file;		/* PEM bundle to verify https peers, or NULL */
	bool		tls_insecure;	/* skip https peer and host name checks */
	const char *proxy;			/* http://host:port, or NULL: no proxy */
	const char *proxy_username; /* the proxy's basic auth, or NULL */
	const char *proxy_password;
	long		connect_timeout_ms; /* connection (and TLS handshake) */
	void	   *owner;			/* whose timer bounds the request (a leg) */
	ApexHttpDone done;
	void	   *arg;
} ApexHttpRequest;

/* in io_http.c */
extern const struct ApexTransport ApexHttpTransport;
extern void ApexHttpStart(struct ApexCall *call, const ApexHttpRequest *request);

#endif							/* APEX_IO_HTTP_H */
