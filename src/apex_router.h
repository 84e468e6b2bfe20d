/*-------------------------------------------------------------------------
 *
 * apex_router.h
 *		  Shared types of apex_router: sources, legs, items and the call.
 *
 * Flow of one apex_route() call (one direction):
 *   catalog.c (sources from pg_foreign_server) -> router.c (plan, legs)
 *   -> leg_<kind>.c (request builders, response decoders)
 *   -> io_http.c + event_loop.c (the only code that waits)
 *   -> fusion.c (RRF) -> tuplestore rows.
 *
 * IDENTIFICATION
 *		  src/apex_router.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef APEX_ROUTER_H
#define APEX_ROUTER_H

#include "nodes/pg_list.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

typedef struct ApexLoop ApexLoop;
typedef struct ApexHttp ApexHttp;
typedef struct ApexLeg ApexLeg;
typedef struct ApexCall ApexCall;

/*
 * One source kind: its options and its behaviour.  Every kind lives in its
 * own leg_<kind>.c and is listed once in source_kinds.c.
 */
typedef struct ApexKind
{
	const char *name;
	const char *const *server_options;	/* allowed besides the common ones */
	const char *const *required_options;
	/* extra value checks at CREATE/ALTER SERVER time; may be NULL */
	void		(*validate) (List *options);
	/* issue the leg's remote requests (NULL for local kinds) */
	void		(*start) (ApexLeg *leg);
	/* run a local leg synchronously, once remote legs are on the wire */
	void		(*run_local) (ApexLeg *leg);
	/* every ApexTarget it may connect to (target.c); NULL for local kinds */
	List	   *(*targets) (List *options);
} ApexKind;

/*
 * One place a source may connect to: a host (name, numeric address, or for
 * libpq a socket directory or "@" abstract socket) and a port, or a Unix
 * socket given by its whole path (port NULL).
 */
typedef struct ApexTarget
{
	char	   *host;			/* IPv6 addresses without brackets */
	char	   *port;			/* decimal, or NULL */
} ApexTarget;

/* options every kind that speaks HTTP takes besides its own */
#define APEX_HTTP_OPTIONS "ca_file", "tls_verify"

/* A configured source: one foreign server of the apex_router wrapper. */
typedef struct ApexSource
{
	Oid			serverid;
	Oid			owner;
	char	   *name;
	const ApexKind *kind;
	List	   *options;		/* server options, DefElem list */
	List	   *secrets;		/* user mapping options, DefElem list */
	Oid			mapping_user;	/* whose mapping they are; InvalidOid: PUBLIC */
	Oid			mapping_oid;	/* the mapping (pg_user_mapping), or InvalidOid */
	double		weight;			/* RRF weight */
	int			timeout_ms;		/* whole-leg budget */
	int			connect_timeout_ms;
} ApexSource;

/* One result item of one source, in that source's rank order. */
typedef struct ApexItem
{
	char	   *id;
	char	   *title;			/* may be NULL */
	char	   *content;		/* may be NULL */
	double		score;			/* source's own score; NaN when it has none */
	char	   *raw;			/* the source's raw item, as JSON text */
} ApexItem;

/* The search request shared by every leg of a call. */
typedef struct ApexQuery
{
	char	   *text;			/* query text (may be NULL with a vector) */
	int			limit;			/* items asked of each source */
	float4	   *vector;			/* caller-supplied query vector, or NULL */
	int			vector_dim;
} ApexQuery;

/*
 * What a remote peer said about a failure.  Its words are untrusted: they
 * may echo the caller's query and the credentials the request carried, so
 * they are kept apart from the cause (our own words) and reach a message
 * only through ApexRemoteDetail() (redact.c).
 */
typedef struct ApexRemote
{
	ApexSource *peer;			/* whose secrets the request carried */
	char	   *text;			/* the peer's words, or NULL */
	bool		body;			/* text is a raw response body: excerpt it */
} ApexRemote;

/* One source's part of a call. */
struct ApexLeg
{
	ApexCall   *call;
	ApexSource *source;
	void	   *state;			/* kind-private */
	List	   *items;			/* ApexItem *, best first */
	char	   *error;			/* why the leg failed (our words), or NULL */
	ApexRemote *remote;			/* what the peer said about it, or NULL */
	bool		done;
	bool		pending_send;	/* a non-HTTP request not yet written */
	int			budget_ms;		/* source timeout_ms, capped by the call's */
	const char *awaiting;		/* who is asked when not the source, for messages */
};

struct ApexCall
{
	MemoryContext mcxt;			/* everything of the call lives here */
	ApexQuery	query;
	ApexLoop   *loop;
	ApexHttp   *http;
	List	   *legs;			/* ApexLeg * */
	TimestampTz deadline;		/* from the call's timeout_ms, or DT_NOEND */
	struct ApexCache *cache;	/* result cache, or NULL */
};

/* in apex_router.c */
extern int	apex_rrf_k;
extern int	apex_timeout_ms;
extern int	apex_connect_timeout_ms;
extern int	apex_max_response_kb;
extern bool apex_strict;
extern int	apex_call_timeout_ms;
extern int	apex_min_sources;

/* in target.c */
extern char *apex_allowed_hosts;
extern void ApexCheckTargets(const ApexKind *kind, List *options);
extern List *ApexUrlTargets(List *options);
extern ApexTarget *ApexTargetMake(const char *host, const char *port);
extern int	ApexParsePort(const char *value);

/* in source_kinds.c */
extern const ApexKind *ApexFindKind(const char *name);
extern char *ApexKindNames(void);

/* in option.c */
extern const char *ApexGetOption(List *options, const char *name);
extern int	ApexParseIntOption(const char *name, const char *value,
							   int min, int max);
extern double ApexParseRealOption(const char *name, const char *value,
								  double min, double max);
extern void ApexCheckChoiceOption(const char *name, const char *value,
								  const char *const *choices);
extern void ApexCheckUrlOption(const char *name, const char *value);

/* in catalog.c */
extern ApexSource *ApexGetSource(const char *name, bool missing_ok);
extern List *ApexSearchableSources(void);
extern void ApexUseSource(ApexSource *source);
extern bool ApexSecretsReadable(ApexSource *source);

/* in redact.c */
extern void ApexRemoteDetail(const ApexRemote *remote, char **client,
							 char **log);

/* in leg.c */
extern void ApexLegFail(ApexLeg *leg, const char *fmt,...) pg_attribute_printf(2, 3);
extern void ApexLegFailRemote(ApexLeg *leg, const ApexRemote *remote,
							  const char *fmt,...) pg_attribute_printf(3, 4);
extern void ApexLegFinish(ApexLeg *leg, List *items);
extern ApexItem *ApexItemMake(const char *id, const char *title,
							  const char *content, double score,
							  const char *raw);
extern void ApexLegStartClock(ApexLeg *leg);
extern void ApexLegTimedOut(ApexLeg *leg);
extern long ApexLegRemainingMs(ApexLeg *leg);

/* in leg_embedder.c: used by vector sources to turn text into a vector */
typedef void (*ApexEmbedDone) (ApexLeg *leg, float4 *vector, int dim);
extern void ApexEmbedStart(ApexLeg *leg, ApexSource *embedder,
						   const char *text, ApexEmbedDone done);

#endif							/* APEX_ROUTER_H */
