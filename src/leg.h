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
 * A response decoder: pure (no I/O, no catalog), so it can be tested and
 * fuzzed alone.  conf is the kind's parsed options (the leg's state).
 * Returns NULL with *items set, or the reason the response is unusable in
 * our own words (nothing the server sent: a status number at most), with
 * what the server said about it, if anything, in remote->text (remote->body
 * when that is the raw body).
 */
typedef char *(*ApexDecoder) (const void *conf, long status, StringInfo body,
							  List **items, ApexRemote *remote);

extern ApexItem *ApexRowItem(int ncols, const char *const *names,
							 const char *const *values, char **error);
extern char *ApexNotJson(ApexHttpResponse *resp, ApexRemote *remote);
extern long ApexLegBudgetMs(ApexLeg *leg);
extern void ApexLegComplete(ApexLeg *leg, ApexHttpResponse *resp,
							ApexDecoder decode);
extern void ApexLegPost(ApexLeg *leg, ApexSource *peer, const char *url,
						const char *body, List *headers,
						const ApexHttpAuth *auth, ApexHttpDone done,
						void *arg);
extern void ApexLegFailTransport(ApexLeg *leg, ApexHttpResponse *resp,
								 ApexSource *peer, const char *label);
extern char *ApexUrlJoin(const char *base, const char *path);
extern char *ApexUrlEncode(const char *segment);
extern void ApexSqlInit(void);

/* in leg_redis.c: a redis source's connection, for its legs and the cache */
struct ApexRedisTarget;
extern void ApexRedisTargetOf(ApexSource *source, struct ApexRedisTarget *target);

#endif							/* APEX_LEG_H */
