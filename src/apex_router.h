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

#include "option.h"

typedef struct ApexLoop ApexLoop;
typedef struct ApexSource ApexSource;
typedef struct ApexLeg ApexLeg;
typedef struct ApexCall ApexCall;
typedef struct ApexQuery ApexQuery;

/*
 * One source kind: its options and its behaviour.  Every kind lives in its
 * own leg_<kind>.c (with leg_<kind>.h when its decoder is exported) and is
 * listed once in source_kinds.c.
 */
typedef struct ApexKind
{
	const char *name;
	const ApexOption *options;	/* its own, besides the common ones */
	/*
	 * The user mapping options it reads (NULL-terminated; NULL: none); a
	 * mapping holding any other is refused (option.c, mapping_check.c).
	 */
	const char *const *mapping_options;
	size_t		conf_size;		/* of the struct its options are parsed into */
	/* cross-option rules and derived values, once parsed; may be NULL */
	void		(*check) (void *conf);
	/*
	 * For kinds that search with a vector: the name of the embedder source
	 * that turns query text into one, or NULL (then the caller must pass
	 * query_vector).  NULL for kinds that need no vector.
	 */
	const char *(*embedder) (const void *conf);
	/*
	 * Checks of the caller once the source's secrets are loaded
	 * (ApexUseSource, at planning): an ERROR refuses the call; a reason, in
	 * our words (a sentence), fails the source alone with SQLSTATE 2F004
	 * (prohibited statement attempted); NULL lets it run.  May be NULL.
	 */
	const char *(*authorize) (const ApexSource *source);
	/* issue the leg's remote requests (NULL for local kinds) */
	void		(*start) (ApexLeg *leg);
	/* run a local leg synchronously, once remote legs are on the wire */
	void		(*run_local) (ApexLeg *leg);
	/* every ApexTarget it may connect to (allowed_hosts.c); NULL for local kinds */
	List	   *(*targets) (const void *conf);
	/*
	 * Its parsed options depend on more than the catalog (libpq's service
	 * file and PG* variables): a backend parses them at every use rather
	 * than keeping them (catalog.c).
	 */
	bool		conf_reads_environment;
	/* its items' time_field when the source sets none, or NULL */
	const char *default_time_field;
	/*
	 * Where in an item's raw JSON the source's field names (time_field)
	 * are looked up (qdrant: the payload); NULL: the raw item itself
	 */
	JsonbValue *(*item_fields) (JsonbValue *raw);
	/*
	 * A kind that searches with a vector when its source names an embedder
	 * or the caller passes query_vector, and without one otherwise (sql,
	 * postgres), instead of needing one (qdrant)
	 */
	bool		vector_optional;
	/*
	 * Why the call's params cannot scope this source (a placeholder of its
	 * options that params lacks or cannot fill), in our words, or NULL; the
	 * source then fails at planning, without a request.  May be NULL.
	 */
	const char *(*scope_error) (const void *conf, const ApexQuery *query);
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

/*
 * A configured source: one foreign server of the apex_router wrapper, its
 * options parsed once (option.c) and, once the caller may use it
 * (ApexUseSource), the caller's user mapping.
 */
struct ApexSource
{
	Oid			serverid;
	Oid			owner;
	char	   *name;
	const ApexKind *kind;
	char	   *kind_name;		/* the kind option */
	void	   *conf;			/* the kind's parsed options */
	List	   *options;		/* server options as given (the cache key) */
	ApexSecrets *secrets;		/* of the user mapping; NULL before ApexUseSource */
	Oid			mapping_user;	/* whose mapping they are; InvalidOid: PUBLIC */
	Oid			mapping_oid;	/* the mapping (pg_user_mapping), or InvalidOid */
	double		weight;			/* RRF weight */
	int			timeout_ms;		/* whole-leg budget */
	int			connect_timeout_ms;
	int			max_concurrent_requests;	/* 0: no cap (source_slots.c) */
	/* consecutive failures that open its circuit breaker; 0: none (breaker.c) */
	int			breaker_failures;
	int			breaker_cooldown_ms;	/* how long it stays open */
	/* the key path of its items' time (leg.c), or NULL: they have none */
	char	   *time_field;
	struct ApexSource *embedder;	/* resolved by the plan (plan.c), or NULL */
	const char *refused;		/* why the kind will not run it for this
								 * caller (ApexKind.authorize), or NULL */
};

/* One result item of one source, in that source's rank order. */
typedef struct ApexItem
{
	char	   *id;
	char	   *title;			/* may be NULL */
	char	   *content;		/* may be NULL */
	double		score;			/* source's own score; NaN when it has none */
	JsonbValue *raw;			/* the source's raw item, a JSON object
								 * (ApexItemMake) */
	/* when what it says was true or written (time_field); DT_NOBEGIN: unknown */
	TimestampTz at;
	float4	   *vector;			/* its embedding, when the source sent one */
	int			vector_dim;
} ApexItem;

/* One question: what the legs asking it send (leg->query). */
struct ApexQuery
{
	char	   *text;			/* query text, never empty (plan.c) */
	int			limit;			/* items asked of each source */
	float4	   *vector;			/* caller-supplied query vector, or NULL */
	int			vector_dim;
	/*
	 * The call's scope (apex_route's params): a JSON object whose values
	 * reach the sources as values, never as statement text; NULL: none
	 */
	Jsonb	   *params;
	/* its time range (params' since and until); DT_NOBEGIN, DT_NOEND: open */
	TimestampTz since;
	TimestampTz until;
};

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
	/*
	 * Who wrote text: NULL when the peer did (its message, its body, what it
	 * sent); else the library whose report quotes the peer ("libpq",
	 * "libcurl", "hiredis", "The JSON parser").
	 */
	const char *from;
	/*
	 * The failure's SQLSTATE when the peer or a decoder gives one (0: none):
	 * a PostgreSQL peer's error's, or a decoder's (22P05 for a character the
	 * database encoding lacks); then a PostgreSQL peer's DETAIL and HINT
	 */
	int			sqlerrcode;
	char	   *detail;			/* or NULL */
	char	   *hint;			/* or NULL */
} ApexRemote;

/* How a leg ended (trace.c names them) */
typedef enum ApexLegStatus
{
	APEX_LEG_RUNNING = 0,		/* no outcome yet */
	APEX_LEG_OK,
	APEX_LEG_ERROR,
	APEX_LEG_TIMEOUT,			/* its clock or the call's deadline ran out */
	APEX_LEG_REFUSED,			/* failed at planning: it sent nothing */
	APEX_LEG_SKIPPED			/* its circuit breaker is open (breaker.c) */
} ApexLegStatus;

/*
 * What a leg did, for apex_explain, the partial column and the log line
 * (trace.c).  Times are GetCurrentTimestamp()'s; curl's are its own
 * measures of the source's last request, in ms, -1 when there was none.
 */
typedef struct ApexLegTrace
{
	ApexLegStatus status;
	TimestampTz started;		/* 0: never started */
	TimestampTz ended;			/* 0: no outcome */
	long		http_status;	/* of its source's last answer; 0: none */
	int64		bytes;			/* of the HTTP answers it read, its embedder's too */
	double		connect_ms;
	double		first_byte_ms;
	bool		ran_inline;		/* a worker-mode sql leg no worker took */
	bool		probe;			/* it probes a half-open breaker (breaker.c) */
	/*
	 * Its failure is the source's: it was asked, by its own clock, and its
	 * source (not its embedder) failed it.  A caller's short timeout_ms or
	 * a leg that never got its turn says nothing about the source.
	 */
	bool		source_failed;
} ApexLegTrace;

/* One source's part of a call: one source asked one question. */
struct ApexLeg
{
	ApexCall   *call;
	ApexSource *source;
	const ApexQuery *query;		/* the question it asks (a call may ask many) */
	void	   *state;			/* kind-private */
	List	   *items;			/* ApexItem *, best first */
	/* why the leg failed: sentences in our own words, or NULL */
	char	   *error;
	int			sqlerrcode;		/* the failure's SQLSTATE */
	char	   *hint;			/* a hint in words that need no redaction, or NULL */
	ApexRemote *remote;			/* what the peer said about it, or NULL */
	/* items the answer held but the leg could not use, and why (a sentence) */
	int			skipped;
	char	   *skipped_why;
	bool		done;
	int			budget_ms;		/* source timeout_ms, capped by the call's */
	double		weight;			/* in fusion: the call's weights, else the source's */
	/* the embedder it waits for (the only peer besides its source), or NULL */
	ApexSource *awaiting;
	ApexLegTrace trace;
	/*
	 * Its failure's words as the caller may see them (ApexLegWords): made
	 * once, read by the WARNING, the partial column, apex_explain and the
	 * log line
	 */
	char	   *words_client;	/* NULL until made */
	char	   *words_log;		/* NULL: the client's */
	char	   *words_hint;		/* a peer's hint, or NULL */
};

/*
 * Where query vectors are kept across calls (the result cache provides it,
 * cache.c): an embedder asks it before the embedding service and tells it
 * what the service answered.  lookup calls found with the vector, or with
 * NULL on a miss or a failure, from inside the event loop (it must not
 * throw), and returns a ticket for store; the cache is then already in
 * flight for party's timer.  store never waits.
 */
typedef void (*ApexVectorFound) (void *arg, float4 *vector, int dim);
typedef struct ApexVectorCache ApexVectorCache;
struct ApexVectorCache
{
	void	   *(*lookup) (ApexVectorCache *cache, ApexSource *embedder,
						   const char *text, void *party,
						   ApexVectorFound found, void *arg);
	void		(*store) (ApexVectorCache *cache, void *ticket,
						  const float4 *vector, int dim);
};

struct ApexCall
{
	MemoryContext mcxt;			/* everything of the call lives here */
	ApexQuery	query;			/* apex_route's question, which the result
								 * cache keys; legs read leg->query */
	ApexLoop   *loop;
	void	  **transports;		/* each transport's state (transport.c) */
	bool		attached;		/* transports not yet released */
	List	   *legs;			/* ApexLeg * */
	TimestampTz deadline;		/* from the call's timeout_ms, or DT_NOEND */
	struct ApexCache *cache;	/* result cache (the router's), or NULL */
	ApexVectorCache *vectors;	/* the same cache as legs see it, or NULL */
	/* apex_route_many's shared embeddings requests (embed_batch.c), or NULL */
	struct ApexEmbedBatch *embeds;
	List	   *told_inline;	/* sources whose fallback NOTICE was given */
	TimestampTz started;		/* when the call began (trace.c) */
};

/* the longest duration a timeout option or setting takes, in ms: an hour */
#define APEX_MAX_DURATION_MS 3600000

/* the largest max_concurrent_requests of a source */
#define APEX_MAX_CONCURRENT_REQUESTS 10000

/* the largest rank constant of RRF (apex_router.rrf_k, apex_route's rrf_k) */
#define APEX_MAX_RRF_K 100000

/* the largest weight of a source (its option, apex_route's weights) */
#define APEX_MAX_WEIGHT 1000

/* the largest max_concurrency (apex_route_many, apex_router.max_concurrency) */
#define APEX_MAX_CONCURRENCY 10000

/* in apex_router.c */
extern int	apex_rrf_k;
extern int	apex_timeout_ms;
extern int	apex_connect_timeout_ms;
extern int	apex_max_response_kb;
extern bool apex_strict;
extern bool apex_sequential;
extern int	apex_call_timeout_ms;
extern int	apex_min_sources;
extern int	apex_max_concurrency;
extern int	apex_fusion;
extern char *apex_reranker;

/* in allowed_hosts.c */
extern char *apex_allowed_hosts;
extern List *ApexSourceTargets(const ApexSource *source);
extern void ApexCheckTargets(List *targets);
extern List *ApexUrlTargets(const void *conf);
extern ApexTarget *ApexTargetMake(const char *host, const char *port);
extern char *ApexTargetString(const ApexTarget *target);
extern int	ApexParsePort(const char *value);

/* in source_kinds.c */
extern const ApexKind *ApexFindKind(const char *name);
extern char *ApexKindNames(void);

/* in option.c */
extern void ApexParseServer(List *options, ApexSource *source, bool validating);

/* in mapping_check.c */
extern void ApexMappingCheckInit(void);

/* in catalog.c */
extern ApexSource *ApexFindSource(const char *name);
extern ApexSource *ApexGetSource(const char *name);
extern void ApexCheckEmbedderOption(const char *name, const char *value);
extern bool ApexMayUseSource(const ApexSource *source);
extern List *ApexSearchableSources(void);
extern void ApexUseSource(ApexSource *source);
extern bool ApexSecretsReadable(ApexSource *source);

/* in redact.c */
extern void ApexRemoteDetail(const char *cause, const ApexRemote *remote,
							 char **client, char **log, char **hint);

/* in leg.c */
extern void ApexLegFail(ApexLeg *leg, int sqlerrcode, const char *fmt,...) pg_attribute_printf(3, 4);
extern void ApexLegWords(ApexLeg *leg);
extern ApexLeg *ApexLegOwn(ApexCall *call, ApexSource *source, void *state,
						   int timeout_ms);
extern void ApexLegFailRemote(ApexLeg *leg, int sqlerrcode,
							  const ApexRemote *remote,
							  const char *fmt,...) pg_attribute_printf(4, 5);
extern void ApexLegFinish(ApexLeg *leg, List *items);
extern void ApexLegSkipped(ApexLeg *leg, int count, char *why);
extern ApexItem *ApexItemMake(const char *id, const char *title,
							  const char *content, double score, JsonbValue *raw);
extern void ApexLegStartClock(ApexLeg *leg);
extern void ApexLegStart(ApexLeg *leg);
extern void ApexLegTimedOut(ApexLeg *leg);
extern long ApexLegConnectTimeoutMs(ApexLeg *leg, const ApexSource *peer);

/* in leg_embedder.c: used by vector sources to turn text into a vector */
typedef void (*ApexEmbedDone) (ApexLeg *leg, float4 *vector, int dim);
extern void ApexEmbedStart(ApexLeg *leg, ApexSource *embedder,
						   const char *text, ApexEmbedDone done);

#endif							/* APEX_ROUTER_H */
