/*-------------------------------------------------------------------------
 *
 * apex_router.c
 *		  Module entry point and the apex_router.* settings.
 *
 * IDENTIFICATION
 *		  src/apex_router.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/guc.h"

#include "apex_router.h"
#include "cache.h"
#include "fusion.h"
#include "identity.h"
#include "intent.h"
#include "io_worker_pool.h"
#include "leg.h"
#include "plan.h"
#include "shared_sources.h"
#include "stats.h"
#include "trace.h"
#include "transport.h"

PG_MODULE_MAGIC;

int			apex_rrf_k = 60;
int			apex_timeout_ms = 5000;
int			apex_connect_timeout_ms = 2000;
int			apex_max_response_kb = 16384;
bool		apex_strict = false;
bool		apex_sequential = false;
int			apex_call_timeout_ms = 0;
int			apex_min_sources = 0;
int			apex_max_concurrency = 1000;
int			apex_fusion = APEX_FUSION_RRF;
char	   *apex_reranker = NULL;

void		_PG_init(void);

static void
apex_define_gucs(void)
{
	DefineCustomIntVariable("apex_router.worker_pool_size",
							"Long-lived sql workers per database and user.",
							"0: a background worker per sql source and call.",
							&apex_worker_pool_size, 4, 0, 64,
							PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("apex_router.worker_pool_idle_ms",
							"How long a pooled sql worker waits for work before it exits.",
							"The last caller's value counts.",
							&apex_worker_pool_idle_ms, 2000, 1, APEX_MAX_DURATION_MS,
							PGC_SUSET, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("apex_router.rrf_k",
							"Rank constant k of Reciprocal Rank Fusion.",
							"Each source adds weight / (rrf_k + rank) to an item's score.",
							&apex_rrf_k, 60, 1, APEX_MAX_RRF_K,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomEnumVariable("apex_router.fusion",
							 "How apex_route fuses its sources' results.",
							 "rrf: Reciprocal Rank Fusion; min_max: scores scaled per source to [0, 1] and summed; dbsf: distribution-based score fusion.  The fusion argument overrides it.",
							 &apex_fusion, APEX_FUSION_RRF, apex_fusion_methods,
							 PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomBoolVariable("apex_router.intent_routing",
							 "Whether apex_route chooses its sources by the question's intent.",
							 "When on, a call that names no sources asks those the rules of apex_intent_rules choose for its question, with their weights and recency preference.",
							 &apex_intent_routing, true,
							 PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("apex_router.reranker",
							   "Reranker source that orders apex_route's fused candidates.",
							   "Empty: none.  The reranker argument overrides it; the caller needs USAGE on the source.",
							   &apex_reranker, "",
							   PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("apex_router.timeout_ms",
							"Default time budget of one source's leg.",
							"A source's timeout_ms option overrides it.",
							&apex_timeout_ms, 5000, 1, APEX_MAX_DURATION_MS,
							PGC_USERSET, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("apex_router.connect_timeout_ms",
							"Default connect timeout of remote sources.",
							"A source's connect_timeout_ms option overrides it.",
							&apex_connect_timeout_ms, 2000, 1, APEX_MAX_DURATION_MS,
							PGC_USERSET, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("apex_router.max_response_size",
							"Largest response body accepted from a remote source.",
							"A larger response fails its source.",
							&apex_max_response_kb, 16384, 1, 1024 * 1024,
							PGC_SUSET, GUC_UNIT_KB, NULL, NULL, NULL);
	DefineCustomBoolVariable("apex_router.strict",
							 "Make any source failure an error.",
							 "By default a failing source is a WARNING and the others' results are returned.",
							 &apex_strict, false,
							 PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomBoolVariable("apex_router.sequential",
							 "Run a call's sources one after another.",
							 "Each source starts once the one before has answered or failed: the cost of asking them in turn, a baseline for benchmarks.",
							 &apex_sequential, false,
							 PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("apex_router.call_timeout_ms",
							"Deadline of a whole apex_route call (0: none).",
							"The timeout_ms argument overrides it; it caps every source's timeout_ms.",
							&apex_call_timeout_ms, 0, 0, APEX_MAX_DURATION_MS,
							PGC_USERSET, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("apex_router.min_sources",
							"Fewest sources that must answer for apex_route to succeed.",
							"The min_sources argument overrides it; 0 accepts any number.",
							&apex_min_sources, 0, 0, 1000,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("apex_router.max_concurrency",
							"Most legs of one apex_route_many call in flight at once.",
							"Legs beyond it wait their turn in the order of questions and sources; the max_concurrency argument overrides it.",
							&apex_max_concurrency, 1000, 1, APEX_MAX_CONCURRENCY,
							PGC_USERSET, 0, NULL, NULL, NULL);
	/* superuser-only, as log_min_duration_statement: what a call logs is the DBA's choice */
	DefineCustomIntVariable("apex_router.log_min_duration_ms",
							"Logs each apex_route or apex_route_many call that takes at least this long, with its legs.",
							"-1 logs no call; 0 logs every call.  The legs go in the log line's DETAIL as JSON.",
							&apex_log_min_duration_ms, -1, -1, INT_MAX,
							PGC_SUSET, GUC_UNIT_MS, NULL, NULL, NULL);
	/* superuser-only, as pg_stat_statements.track */
	DefineCustomBoolVariable("apex_router.track_stats",
							 "Counts every source's legs in apex_router_stats.",
							 "Needs apex_router in shared_preload_libraries.",
							 &apex_track_stats, true,
							 PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomEnumVariable("apex_router.log_level",
							 "Message level of the log line apex_router.log_min_duration_ms asks for.",
							 NULL,
							 &apex_log_level, LOG, apex_log_level_options,
							 PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("apex_router.cache_source",
							   "Redis source holding the result and embedding cache.",
							   "Empty: no cache.  The caller needs USAGE on the source.",
							   &apex_cache_source, "",
							   PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomEnumVariable("apex_router.cache_mode",
							 "How the result cache is used.",
							 "first: fan out only on a miss; parallel: ask the cache and the sources at once; off.",
							 &apex_cache_mode, APEX_CACHE_FIRST, apex_cache_modes,
							 PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("apex_router.allowed_hosts",
							   "Hosts that sources of non-superusers may connect to.",
							   "Comma-separated entries: *, host or host:port ([v6]:port).  Superusers' sources are not limited.",
							   &apex_allowed_hosts, "",
							   PGC_SUSET, GUC_LIST_INPUT, NULL, NULL, NULL);
	DefineCustomStringVariable("apex_router.application_name",
							   "How requests to sources name who asks.",
							   "User-Agent, application_name and Redis client name; %d database, %u current role, %a the caller's application_name, %v version, %% a percent sign.",
							   &apex_application_name, APEX_IDENTITY_DEFAULT,
							   PGC_SUSET, 0, ApexIdentityCheck, NULL, NULL);
}

void
_PG_init(void)
{
	apex_define_gucs();
	ApexSharedSourcesInit();
	MarkGUCPrefixReserved("apex_router");
	ApexTransportsInit();
	ApexSqlInit();
	ApexMappingCheckInit();
}
