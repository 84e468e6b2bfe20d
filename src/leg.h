/*-------------------------------------------------------------------------
 *
 * leg.h
 *		  Helpers shared by the leg_<kind>.c modules.
 *
 * IDENTIFICATION
 *		  src/leg.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef APEX_LEG_H
#define APEX_LEG_H

#include "apex_router.h"
#include "io_http.h"
#include "json.h"

/* How a request authenticates; every field may be NULL. */
typedef struct ApexHttpAuth
{
	const char *username;		/* HTTP basic */
	const char *password;
	const char *bearer;			/* Authorization: Bearer */
	const char *api_key_header; /* e.g. "api-key" */
	const char *api_key;
} ApexHttpAuth;

/*
 * A response decoder: pure (no I/O, no catalog, no ereport), so it can be
 * tested and fuzzed alone.  state is what it needs to know (the kind's
 * parsed options, or a state of its own); result is where it puts what it
 * made (a search kind's List ** of items; the embedder's ApexEmbedding *).
 * Returns NULL with *result set, or the reason the response is unusable:
 * one or more sentences in our own words (nothing the server sent: a status
 * number at most), with what the server said about it, if anything, in
 * remote->text (remote->body when that is the raw body; remote->from when
 * a library's report quotes it), and remote->sqlerrcode set when the
 * failure has a SQLSTATE of its own (ApexJsonErrorCause sets 22P05).  Bodies
 * are the peer's UTF-8: ApexJsonParse converts them to the database
 * encoding.  Each kind's header declares its decoder.
 */
typedef char *(*ApexDecoder) (const void *state, long status, StringInfo body,
							  void *result, ApexRemote *remote);

/*
 * What a kind finds in a JSON error body (the server's message), or NULL;
 * doc is not NULL.
 */
typedef char *(*ApexErrorMessage) (JsonbValue *doc);

/*
 * What a decoder that may skip items makes (qdrant, neo4j): the items, and
 * how many it skipped for want of an id (ApexLegCompleteSkipping).
 */
typedef struct ApexItemsSkipped
{
	List	   *items;
	int			skipped;
} ApexItemsSkipped;

/* why rows of a sql or postgres source were skipped (ApexLegSkipped) */
#define APEX_ROW_NO_ID "Their first column, the id, is null."
extern ApexItem *ApexRowItem(int ncols, const char *const *names,
							 const char *const *values, bool *bad_score);
extern char *ApexNot2xx(long status, StringInfo body, JsonbValue *doc,
						ApexErrorMessage message, ApexRemote *remote);
extern long ApexLegBudgetMs(ApexLeg *leg);
extern bool ApexLegDecode(ApexLeg *leg, ApexHttpResponse *resp,
						  ApexSource *peer, ApexDecoder decode,
						  const void *state, void *result);
extern void ApexLegComplete(ApexLeg *leg, ApexHttpResponse *resp,
							ApexDecoder decode);
extern void ApexLegCompleteSkipping(ApexLeg *leg, ApexHttpResponse *resp,
									ApexDecoder decode, const char *why);
extern void ApexLegPost(ApexLeg *leg, ApexSource *peer, const char *url,
						const char *body, List *headers,
						const ApexHttpAuth *auth, ApexHttpDone done,
						void *arg);
extern char *ApexUrlJoin(const char *base, const char *path);
extern char *ApexUrlEncode(const char *segment);
extern void ApexSqlInit(void);

#endif							/* APEX_LEG_H */
