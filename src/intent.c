/*-------------------------------------------------------------------------
 *
 * intent.c
 *		  Intent routing (issue 15 part 3): the sources a question asks,
 *		  and their weights, chosen by the rules of apex_intent_rules.
 *
 * A rule is a pattern, a POSIX regular expression matched as ~* matches
 * (advanced syntax, case-insensitive), and a target: a class of sources,
 * a kind, or one source by name.  The classes are decided here, from a
 * source's kind and options:
 *
 *	 graph		neo4j, graphiti
 *	 vector		qdrant; sql and postgres sources with an "embedder" option
 *	 temporal	graphiti; any source with a "time_field" option
 *	 exact		sql, postgres, redis
 *	 any		every source
 *
 * (an option a kind does not have is simply absent from its options, so
 * the rules need no change when one is added).  Every rule whose pattern
 * matches the question counts: the sources favoured are those any of them
 * targets, among the candidates (the sources the caller may use, or
 * those it named to apex_intent).  A favoured source's weight is its weight option
 * times the weight of the rule of highest priority targeting it (of
 * those, the largest); the candidates no rule chose are asked too, at
 * their own weight, unless a rule that chose one is exclusive (then only
 * the chosen are asked).  The recency preference is the shortest
 * recency_half_life of the matching rules.  When no rule matches, or the
 * matching rules target none of the candidates, every candidate is asked
 * at its own weight, as without intent routing.
 *
 * The rules are read through SPI once per call, all questions of a batch
 * in one statement (prepared once per session); the questions are its
 * parameter, never its text.
 * The patterns are the table owner's (the extension's owner edits the
 * table, every role reads it), and PostgreSQL's regular expression engine
 * checks for interrupts, so a costly pattern can still be cancelled.  A
 * pattern is compiled when its row is written (apex_intent_rules_check),
 * so a broken one is refused there, not at a question.
 *
 * Rows the extension's script made (builtin) are not dumped
 * (pg_extension_config_dump's filter): CREATE EXTENSION makes them again.
 * So that what a dump restores is what was there, they are read-only; a
 * user's rule of the same name replaces one, and is dumped.
 *
 * IDENTIFICATION
 *		  src/intent.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "regex/regex.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "intent.h"
#include "plan.h"

PG_FUNCTION_INFO_V1(apex_intent);
PG_FUNCTION_INFO_V1(apex_intent_rules_check);

bool		apex_intent_routing = true;

/* One matching rule, as read */
typedef struct ApexRule
{
	char	   *intent;
	char	   *source_class;	/* exactly one of the three is set */
	char	   *source_kind;
	char	   *source_name;
	double		weight;
	Interval   *recency;		/* or NULL */
	int			priority;
	bool		exclusive;		/* only the sources chosen are asked */
} ApexRule;

/* An interval in milliseconds, a month counted as 30 days (as plan.c does) */
double
ApexIntervalMs(const Interval *interval)
{
	return ((double) interval->time +
			(double) interval->day * USECS_PER_DAY +
			(double) interval->month * DAYS_PER_MONTH * USECS_PER_DAY) / 1000.0;
}

static bool
apex_source_has_option(const ApexSource *source, const char *name)
{
	ListCell   *lc;

	foreach(lc, source->options)
	{
		if (strcmp(((DefElem *) lfirst(lc))->defname, name) == 0)
			return true;
	}
	return false;
}

static bool
apex_kind_is(const ApexSource *source, const char *kind)
{
	return strcmp(source->kind->name, kind) == 0;
}

/* Whether the source is of the class (see the file header) */
static bool
apex_source_in_class(const ApexSource *source, const char *class)
{
	if (strcmp(class, "any") == 0)
		return true;
	if (strcmp(class, "graph") == 0)
		return apex_kind_is(source, "neo4j") || apex_kind_is(source, "graphiti");
	if (strcmp(class, "vector") == 0)
		return apex_kind_is(source, "qdrant") ||
			((apex_kind_is(source, "sql") || apex_kind_is(source, "postgres")) &&
			 apex_source_has_option(source, "embedder"));
	if (strcmp(class, "temporal") == 0)
		return apex_kind_is(source, "graphiti") ||
			apex_source_has_option(source, "time_field");
	if (strcmp(class, "exact") == 0)
		return apex_kind_is(source, "sql") || apex_kind_is(source, "postgres") ||
			apex_kind_is(source, "redis");
	return false;				/* the table's CHECK allows no other */
}

static bool
apex_rule_targets(const ApexRule *rule, const ApexSource *source)
{
	if (rule->source_class)
		return apex_source_in_class(source, rule->source_class);
	if (rule->source_kind)
		return apex_kind_is(source, rule->source_kind);
	return strcmp(rule->source_name, source->name) == 0;
}

static List *
apex_append_string_unique(List *list, char *s)
{
	ListCell   *lc;

	foreach(lc, list)
	{
		if (strcmp(lfirst(lc), s) == 0)
			return list;
	}
	return lappend(list, s);
}

/*
 * The table's schema-qualified name: the extension is not relocatable, its
 * schema is pg_extension's extnamespace (PostgreSQL 15 does not export
 * get_extension_schema).  NULL when the installed version has no such
 * table: 0.1.0's, before ALTER EXTENSION UPDATE, whose apex_route asked
 * every source when it named none.
 */
static char *
apex_rules_table(void)
{
	Relation	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tuple;
	Oid			schema = InvalidOid;

	ScanKeyInit(&key, Anum_pg_extension_extname, BTEqualStrategyNumber,
				F_NAMEEQ, CStringGetDatum("apex_router"));
	scan = systable_beginscan(rel, ExtensionNameIndexId, true, NULL, 1, &key);
	if (HeapTupleIsValid(tuple = systable_getnext(scan)))
		schema = ((Form_pg_extension) GETSTRUCT(tuple))->extnamespace;
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	/* its functions are what call this */
	if (!OidIsValid(schema))
		elog(ERROR, "extension \"apex_router\" is not installed in this database");
	if (!OidIsValid(get_relname_relid("apex_intent_rules", schema)))
		return NULL;
	return psprintf("%s.apex_intent_rules",
					quote_identifier(get_namespace_name(schema)));
}

/*
 * The statement reading the rules that match each of its texts, prepared
 * once per session (SPI_keepplan: the plan cache replans it when the table
 * changes) and again if the extension's schema is another.  A user's rule
 * replaces the built-in one of its name, enabled or not.  The operators
 * are named with their schema: the question is matched as ~* matches,
 * whatever the search_path holds.  NULL when there is no table (no rules:
 * apex_rules_table).  Call within SPI_connect.
 */
static SPIPlanPtr
apex_rules_plan(void)
{
	/* kept across calls, with the table name it was made for */
	static SPIPlanPtr plan = NULL;
	static char *planned_for = NULL;
	char	   *table = apex_rules_table();
	Oid			argtypes[1] = {TEXTARRAYOID};
	char	   *sql;

	if (table == NULL)
		return NULL;
	if (plan && strcmp(planned_for, table) == 0)
		return plan;
	if (plan)
	{
		SPI_freeplan(plan);
		plan = NULL;
		pfree(planned_for);
	}
	sql = psprintf("SELECT q.n, r.intent, r.source_class, r.source_kind, "
				   "r.source_name, r.weight, r.recency_half_life, r.priority, r.exclusive "
				   "FROM pg_catalog.unnest($1) WITH ORDINALITY AS q(question, n) "
				   "JOIN %s r "
				   "ON q.question OPERATOR(pg_catalog.~*) r.pattern "
				   "WHERE r.enabled AND (NOT r.builtin OR NOT EXISTS "
				   "(SELECT FROM %s u WHERE u.rule OPERATOR(pg_catalog.=) r.rule AND NOT u.builtin)) "
				   "ORDER BY q.n, r.priority DESC, r.rule",
				   table, table);
	plan = SPI_prepare(sql, 1, argtypes);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "SPI_keepplan failed");
	planned_for = MemoryContextStrdup(TopMemoryContext, table);
	return plan;
}

/*
 * The matching rules of each question, rules[i] a List of ApexRule * in
 * order of priority (highest first), then of name.  A null text matches
 * nothing; without the table (0.1.0's, before the update) nothing does.
 * Allocates in the current memory context.
 */
static List **
apex_matching_rules(const char *const *texts, int ntexts)
{
	MemoryContext outer = CurrentMemoryContext;
	List	  **rules = palloc0(sizeof(List *) * Max(ntexts, 1));
	Datum	   *elems = palloc0(sizeof(Datum) * Max(ntexts, 1));
	bool	   *elem_nulls = palloc0(sizeof(bool) * Max(ntexts, 1));
	int			dims[1] = {ntexts};
	int			lbs[1] = {1};
	Datum		args[1];
	SPIPlanPtr	plan;

	if (ntexts == 0)
		return rules;
	for (int i = 0; i < ntexts; i++)
	{
		elem_nulls[i] = texts[i] == NULL;
		if (texts[i])
			elems[i] = CStringGetTextDatum(texts[i]);
	}
	args[0] = PointerGetDatum(construct_md_array(elems, elem_nulls, 1, dims, lbs,
												 TEXTOID, -1, false, TYPALIGN_INT));

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if ((plan = apex_rules_plan()) == NULL)
	{
		SPI_finish();
		return rules;
	}
	if (SPI_execute_plan(plan, args, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "reading apex_intent_rules failed");
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		HeapTuple	tuple = SPI_tuptable->vals[r];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		int64		n = DatumGetInt64(SPI_getbinval(tuple, desc, 1, &isnull));
		MemoryContext spi = MemoryContextSwitchTo(outer);
		ApexRule   *rule = palloc0(sizeof(ApexRule));
		Datum		d;

		rule->intent = SPI_getvalue(tuple, desc, 2);
		rule->source_class = SPI_getvalue(tuple, desc, 3);
		rule->source_kind = SPI_getvalue(tuple, desc, 4);
		rule->source_name = SPI_getvalue(tuple, desc, 5);
		rule->weight = DatumGetFloat8(SPI_getbinval(tuple, desc, 6, &isnull));
		d = SPI_getbinval(tuple, desc, 7, &isnull);
		if (!isnull)
		{
			rule->recency = palloc(sizeof(Interval));
			memcpy(rule->recency, DatumGetIntervalP(d), sizeof(Interval));
		}
		rule->priority = DatumGetInt32(SPI_getbinval(tuple, desc, 8, &isnull));
		rule->exclusive = DatumGetBool(SPI_getbinval(tuple, desc, 9, &isnull));
		if (n >= 1 && n <= ntexts)
			rules[n - 1] = lappend(rules[n - 1], rule);
		MemoryContextSwitchTo(spi);
	}
	SPI_finish();
	return rules;
}

/* What the rules make of one question, among the candidates */
static ApexIntent *
apex_intent_of(List *rules, List *candidates)
{
	ApexIntent *intent = palloc0(sizeof(ApexIntent));
	int			ncand = list_length(candidates);
	ApexIntentChoice **chosen = palloc0(sizeof(ApexIntentChoice *) * Max(ncand, 1));
	int		   *priority = palloc0(sizeof(int) * Max(ncand, 1));
	bool		exclusive = false;
	ListCell   *lc;

	/* rules come by priority, highest first */
	foreach(lc, rules)
	{
		ApexRule   *rule = lfirst(lc);
		ListCell   *sc;

		intent->intents = apex_append_string_unique(intent->intents, rule->intent);
		if (rule->recency &&
			(intent->recency_half_life == NULL ||
			 ApexIntervalMs(rule->recency) < intent->recency_half_life_ms))
		{
			intent->recency_half_life = rule->recency;
			intent->recency_half_life_ms = ApexIntervalMs(rule->recency);
		}
		foreach(sc, candidates)
		{
			ApexSource *source = lfirst(sc);
			int			j = foreach_current_index(sc);
			double		weight = Min(source->weight * rule->weight, APEX_MAX_WEIGHT);

			if (!apex_rule_targets(rule, source))
				continue;
			exclusive |= rule->exclusive;
			if (chosen[j] == NULL)
			{
				chosen[j] = palloc0(sizeof(ApexIntentChoice));
				chosen[j]->source = source;
				chosen[j]->weight = weight;
				priority[j] = rule->priority;
			}
			else if (rule->priority == priority[j] && weight > chosen[j]->weight)
				chosen[j]->weight = weight;
			chosen[j]->intents = apex_append_string_unique(chosen[j]->intents,
														   rule->intent);
		}
	}
	for (int j = 0; j < ncand; j++)
		intent->routed |= chosen[j] != NULL;
	/*
	 * The chosen sources, and unless a rule choosing one is exclusive the
	 * others at their own weight: a rule favours its sources, it does not
	 * silence the rest (a question is seldom only of one kind).  No rule
	 * chose any: every candidate, as without intent routing.
	 */
	foreach(lc, candidates)
	{
		int			j = foreach_current_index(lc);

		if (chosen[j] == NULL && intent->routed && exclusive)
			continue;
		if (chosen[j] == NULL)
		{
			chosen[j] = palloc0(sizeof(ApexIntentChoice));
			chosen[j]->source = lfirst(lc);
			chosen[j]->weight = chosen[j]->source->weight;
		}
		intent->choices = lappend(intent->choices, chosen[j]);
	}
	return intent;
}

/*
 * What the rules make of each of ntexts questions (a NULL text: of none),
 * the sources chosen among candidates (ApexSource *, usable by the caller).
 * One statement reads the rules for all of them.
 */
ApexIntent **
ApexIntentsOf(const char *const *texts, int ntexts, List *candidates)
{
	ApexIntent **intents = palloc0(sizeof(ApexIntent *) * Max(ntexts, 1));
	List	  **rules = apex_matching_rules(texts, ntexts);

	for (int i = 0; i < ntexts; i++)
		intents[i] = apex_intent_of(rules[i], candidates);
	return intents;
}

/* apex_intent's sources argument: each once, searchable, usable */
static List *
apex_intent_named(ArrayType *names)
{
	List	   *sources = ApexPlanNamedSources(names);
	ListCell   *lc;

	foreach(lc, sources)
	{
		ApexSource *source = lfirst(lc);

		if (!ApexMayUseSource(source))
			aclcheck_error(ACLCHECK_NO_PRIV, OBJECT_FOREIGN_SERVER, source->name);
	}
	return sources;
}

/*
 * apex_intent(query text, sources text[]): a row per source the question
 * would ask (among those named, or every one the caller may use) with the
 * intents that chose it, its weight and the call's recency preference.
 * What the rules say, whatever apex_router.intent_routing is.
 */
Datum
apex_intent(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	const char *question;
	List	   *candidates;
	ApexIntent *intent;
	ListCell   *lc;

	InitMaterializedSRF(fcinfo, 0);
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("query text must not be null")));
	question = text_to_cstring(PG_GETARG_TEXT_PP(0));
	candidates = PG_ARGISNULL(1) ? ApexSearchableSources()
		: apex_intent_named(PG_GETARG_ARRAYTYPE_P(1));
	intent = ApexIntentsOf(&question, 1, candidates)[0];
	foreach(lc, intent->choices)
	{
		ApexIntentChoice *choice = lfirst(lc);
		Datum		values[5];
		bool		nulls[5] = {0};

		values[0] = CStringGetTextDatum(choice->source->name);
		values[1] = CStringGetTextDatum(choice->source->kind->name);
		if (choice->intents)
		{
			Datum	   *names = palloc(sizeof(Datum) * list_length(choice->intents));
			ListCell   *ic;

			foreach(ic, choice->intents)
				names[foreach_current_index(ic)] = CStringGetTextDatum(lfirst(ic));
			values[2] = PointerGetDatum(construct_array(names, list_length(choice->intents),
														TEXTOID, -1, false, TYPALIGN_INT));
		}
		else
			nulls[2] = true;
		values[3] = Float8GetDatum(choice->weight);
		if (intent->recency_half_life)
			values[4] = IntervalPGetDatum(intent->recency_half_life);
		else
			nulls[4] = true;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	PG_RETURN_VOID();
}

/* A column of the rules table, by name */
static Datum
apex_rule_column(HeapTuple tuple, TupleDesc desc, const char *name, bool *isnull)
{
	return SPI_getbinval(tuple, desc, SPI_fnumber(desc, name), isnull);
}

static void
apex_refuse_builtin(HeapTuple tuple, TupleDesc desc)
{
	char	   *rule = SPI_getvalue(tuple, desc, SPI_fnumber(desc, "rule"));

	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("built-in intent rule \"%s\" cannot be changed", rule),
			 errdetail("The extension makes its rules again at CREATE EXTENSION; pg_dump keeps only users' rules."),
			 errhint("Insert a rule named \"%s\" to replace it (with enabled = false to turn it off).",
					 rule)));
}

/* The row's pattern must compile as ~* compiles it */
static void
apex_check_pattern(HeapTuple tuple, TupleDesc desc)
{
	bool		isnull;
	Datum		d = apex_rule_column(tuple, desc, "pattern", &isnull);
	text	   *pattern;
	pg_wchar   *wide;
	int			len;
	regex_t		re;
	int			rc;

	if (isnull)
		return;					/* NOT NULL says so */
	pattern = DatumGetTextPP(d);
	wide = palloc(sizeof(pg_wchar) * (VARSIZE_ANY_EXHDR(pattern) + 1));
	len = pg_mb2wchar_with_len(VARDATA_ANY(pattern), wide,
							   VARSIZE_ANY_EXHDR(pattern));
	rc = pg_regcomp(&re, wide, len, REG_ADVANCED | REG_ICASE,
					DEFAULT_COLLATION_OID);
	if (rc != REG_OKAY)
	{
		char		why[256];

		pg_regerror(rc, &re, why, sizeof(why));
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_REGULAR_EXPRESSION),
				 errmsg("invalid pattern in intent rule \"%s\"",
						SPI_getvalue(tuple, desc, SPI_fnumber(desc, "rule"))),
				 errdetail("The regular expression engine says: %s.", why),
				 errhint("A pattern is a POSIX regular expression, matched case-insensitively as ~* matches.")));
	}
	pg_regfree(&re);
}

static bool
apex_rule_builtin(HeapTuple tuple, TupleDesc desc)
{
	bool		isnull;
	Datum		d = apex_rule_column(tuple, desc, "builtin", &isnull);

	return !isnull && DatumGetBool(d);
}

/*
 * BEFORE INSERT OR UPDATE OR DELETE on apex_intent_rules, for each row:
 * built-in rows are the extension script's alone, and a pattern must
 * compile.
 */
Datum
apex_intent_rules_check(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	TupleDesc	desc;
	HeapTuple	old;
	HeapTuple	new = NULL;

	if (!CALLED_AS_TRIGGER(fcinfo) ||
		!TRIGGER_FIRED_BEFORE(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("apex_intent_rules_check must be a BEFORE ... FOR EACH ROW trigger")));
	desc = trigdata->tg_relation->rd_att;
	old = trigdata->tg_trigtuple;
	if (TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event))
		new = trigdata->tg_newtuple;
	else if (TRIGGER_FIRED_BY_INSERT(trigdata->tg_event))
	{
		new = old;
		old = NULL;
	}

	if (!creating_extension)
	{
		if (old && apex_rule_builtin(old, desc))
			apex_refuse_builtin(old, desc);
		if (new && apex_rule_builtin(new, desc))
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("only the extension makes built-in intent rules"),
					 errhint("Leave builtin false: a rule of a built-in rule's name replaces it.")));
	}
	if (new)
		apex_check_pattern(new, desc);
	return PointerGetDatum(new ? new : old);
}
