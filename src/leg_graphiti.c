/*-------------------------------------------------------------------------
 *
 * leg_graphiti.c
 *		  Graphiti (getzep/graphiti server): POST /search over a temporal
 *		  knowledge graph, answered with facts ranked best first.
 *
 * The request is {"group_ids":[...],"query":...,"max_facts":N}; older
 * builds take a single "group_id" string instead (option group_id_field).
 * The groups are the source's group_ids option, narrowed by the call's
 * params' "group_ids" (a call cannot widen them); a call whose groups the
 * option excludes gets no facts, without a request.  Facts' valid_at is
 * their time (time_field), which params' since and until bound (leg.c).
 * Facts carry no score.  A fact whose invalid_at or expired_at lies in the
 * past is no longer true and is left out unless include_invalid is 'true';
 * those ISO 8601 timestamps are parsed strictly and without ever throwing
 * (iso_time.c), so a bad one fails the source, not the call.
 *
 * IDENTIFICATION
 *		  src/leg_graphiti.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "utils/json.h"
#include "utils/timestamp.h"

#include "iso_time.h"
#include "leg.h"
#include "leg_graphiti.h"
#include "scope.h"

static const char *const graphiti_group_fields[] = {"group_ids", "group_id", NULL};

#define GRAPHITI_GROUP_ID 1		/* group_id_field 'group_id': older servers */

typedef struct GraphitiConf
{
	ApexHttpConf http;
	char	   *group_ids_text; /* the option as given */
	List	   *group_ids;		/* its names, trimmed (check) */
	int			group_id_field; /* index in graphiti_group_fields */
	int			max_facts;		/* 0: k */
	bool		include_invalid;	/* keep facts no longer true */
} GraphitiConf;

static void graphiti_check_group_ids(const char *name, const char *value);

static const ApexOption graphiti_options[] = {
	APEX_HTTP_URL_OPTION(GraphitiConf),
	{APEX_OPT("group_ids", APEX_OPTION_STRING, GraphitiConf, group_ids_text),
	 .validate = graphiti_check_group_ids},
	{APEX_OPT("group_id_field", APEX_OPTION_CHOICE, GraphitiConf, group_id_field),
	 .dflt = "group_ids", .choices = graphiti_group_fields},
	{APEX_OPT("max_facts", APEX_OPTION_INT, GraphitiConf, max_facts), .min = 1, .max = 1000},
	{APEX_OPT("include_invalid", APEX_OPTION_BOOL, GraphitiConf, include_invalid),
	 .dflt = "false"},
	APEX_HTTP_TLS_OPTIONS(GraphitiConf),
	APEX_HTTP_GATEWAY_OPTIONS(GraphitiConf),
	{NULL}
};

/*
 * The comma-separated group_ids option as a list of trimmed names; NIL
 * when one of them is empty.
 */
static List *
graphiti_group_ids(const char *value)
{
	List	   *ids = NIL;
	const char *p = value;

	for (;;)
	{
		const char *end = strchr(p, ',');
		int			len = end ? (int) (end - p) : (int) strlen(p);

		while (len > 0 && isspace((unsigned char) *p))
			p++, len--;
		while (len > 0 && isspace((unsigned char) p[len - 1]))
			len--;
		if (len == 0)
			return NIL;
		ids = lappend(ids, pnstrdup(p, len));
		if (end == NULL)
			return ids;
		p = end + 1;
	}
}

static void
graphiti_check_group_ids(const char *name, const char *value)
{
	if (graphiti_group_ids(value) == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for option \"%s\": \"%s\"", name, value),
				 errdetail("Group ids are a comma-separated list of non-empty names.")));
}

static void
graphiti_check(void *arg)
{
	GraphitiConf *conf = arg;

	if (conf->group_ids_text)
		conf->group_ids = graphiti_group_ids(conf->group_ids_text);
	if (conf->group_id_field == GRAPHITI_GROUP_ID && list_length(conf->group_ids) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("group_id_field \"group_id\" takes a single group id, not \"%s\"",
						conf->group_ids_text),
				 errhint("Servers that take \"group_ids\" search several groups.")));
}

/*
 * Is the fact no longer true: invalid_at or expired_at set and not in the
 * future?  Returns NULL with *stale set, or the field that is not a valid
 * timestamp, with its value in *value.
 */
static const char *
graphiti_stale(const ApexGraphitiState *state, JsonbValue *fact,
			   bool *stale, char **value)
{
	static const char *const fields[] = {"invalid_at", "expired_at"};

	*stale = false;
	for (size_t i = 0; i < lengthof(fields); i++)
	{
		JsonbValue *v = ApexJsonGet(fact, fields[i]);
		TimestampTz ts;

		if (v == NULL || v->type == jbvNull)
			continue;
		*value = ApexJsonText(v);
		if (v->type != jbvString ||
			!ApexParseIsoTimestamp(ApexJsonScalarText(v), &ts))
			return fields[i];
		if (ts <= state->now)
			*stale = true;
	}
	return NULL;
}

/*
 * FastAPI's error body: {"detail":"..."} or, for validation errors,
 * {"detail":[{"loc":["body","query"],"msg":"...","type":"..."}]} (the first
 * one is reported as "body.query: msg").  NULL when the body is neither.
 */
static char *
graphiti_detail(JsonbValue *doc)
{
	JsonbValue *detail;
	JsonbValue *list;
	JsonbValue *first;
	JsonbValue *loc;
	char	   *msg;
	StringInfoData buf;

	detail = ApexJsonGet(doc, "detail");
	if (detail && detail->type == jbvString)
		return ApexJsonScalarText(detail);
	list = ApexJsonArray(detail);
	first = ApexJsonLength(list) > 0 ? ApexJsonObject(ApexJsonAt(list, 0)) : NULL;
	msg = ApexJsonScalarText(ApexJsonGet(first, "msg"));
	if (msg == NULL)
		return NULL;
	initStringInfo(&buf);
	loc = ApexJsonArray(ApexJsonGet(first, "loc"));
	for (int i = 0; i < ApexJsonLength(loc); i++)
	{
		char	   *part = ApexJsonScalarText(ApexJsonAt(loc, i));

		appendStringInfo(&buf, "%s%s", i > 0 ? "." : "", part ? part : "?");
	}
	appendStringInfo(&buf, "%s%s", buf.len > 0 ? ": " : "", msg);
	return buf.data;
}

/*
 * Decode a POST /search response (pure; fuzzable: the clock is
 * state->now): see ApexDecoder.
 */
char *
ApexGraphitiDecode(const void *state, long status, StringInfo body,
				   void *result, ApexRemote *remote)
{
	const ApexGraphitiState *decode = state;
	List	  **items = result;
	char	   *error = NULL;
	JsonbValue *doc = ApexJsonParse(body->data, body->len, &error);
	JsonbValue *facts;
	char	   *cause;

	*items = NIL;
	if ((cause = ApexNot2xx(status, body, doc, graphiti_detail, remote)))
		return cause;
	if (doc == NULL)
		return ApexJsonErrorCause(error, remote);
	facts = ApexJsonArray(ApexJsonGet(doc, "facts"));
	if (facts == NULL)
		return "The response has no \"facts\" array.";
	for (int i = 0; i < ApexJsonLength(facts); i++)
	{
		JsonbValue *factv = ApexJsonAt(facts, i);
		JsonbValue *fact = ApexJsonObject(factv);
		JsonbValue *uuid = ApexJsonGet(fact, "uuid");
		const char *field;
		char	   *value;
		bool		stale;

		if (uuid == NULL || uuid->type != jbvString)
			return "A fact has no string \"uuid\".";
		if (!decode->include_invalid)
		{
			if ((field = graphiti_stale(decode, fact, &stale, &value)))
			{
				/* what the server sent: the fact's uuid and the field */
				remote->text = psprintf("{\"uuid\": %s, \"%s\": %s}",
										ApexJsonText(uuid), field, value);
				return psprintf("A fact has an \"%s\" that is not a timestamp.", field);
			}
			if (stale)
				continue;
		}
		*items = lappend(*items,
						 ApexItemMake(ApexJsonScalarText(uuid),
									  ApexJsonScalarText(ApexJsonGet(fact, "name")),
									  ApexJsonScalarText(ApexJsonGet(fact, "fact")),
									  NAN, fact));
	}
	return NULL;
}

static void
graphiti_done(void *arg, ApexHttpResponse *resp)
{
	ApexLeg    *leg = arg;

	((ApexGraphitiState *) leg->state)->now = GetCurrentTimestamp();
	ApexLegComplete(leg, resp, ApexGraphitiDecode);
}

/*
 * The call's group ids (params' "group_ids": a string or an array of
 * strings), or NIL when it gives none; *error when they are not strings
 */
static List *
graphiti_call_groups(const ApexQuery *query, const char **error)
{
	JsonbValue *value = ApexScopeValue(query, "group_ids", strlen("group_ids"));
	List	   *groups = NIL;

	*error = NULL;
	if (value == NULL)
		return NIL;
	if (value->type == jbvString)
		return list_make1(pnstrdup(value->val.string.val, value->val.string.len));
	value = ApexJsonTree(value);
	if (value->type == jbvArray && !value->val.array.rawScalar)
	{
		for (int i = 0; i < value->val.array.nElems; i++)
		{
			JsonbValue *g = &value->val.array.elems[i];

			if (g->type != jbvString)
				break;
			groups = lappend(groups, pnstrdup(g->val.string.val, g->val.string.len));
		}
		if (list_length(groups) == value->val.array.nElems && groups != NIL)
			return groups;
	}
	*error = "Its params' \"group_ids\" must be a string or a non-empty array of strings.";
	return NIL;
}

/*
 * The groups searched: the call's narrow the source's (a call cannot
 * widen what the server option scopes it to), else the source's
 */
static List *
graphiti_groups(const GraphitiConf *conf, const ApexQuery *query)
{
	const char *error;
	List	   *call = graphiti_call_groups(query, &error);
	List	   *groups = NIL;
	ListCell   *lc;

	if (call == NIL)
		return conf->group_ids;
	if (conf->group_ids == NIL)
		return call;
	foreach(lc, call)
	{
		ListCell   *oc;

		foreach(oc, conf->group_ids)
		{
			if (strcmp(lfirst(lc), lfirst(oc)) == 0)
				groups = lappend(groups, lfirst(lc));
		}
	}
	return groups;
}

static const char *
graphiti_scope_error(const void *arg, const ApexQuery *query)
{
	const GraphitiConf *conf = arg;
	const char *error;
	List	   *call = graphiti_call_groups(query, &error);

	if (error)
		return error;
	if (call != NIL && conf->group_id_field == GRAPHITI_GROUP_ID &&
		list_length(graphiti_groups(conf, query)) > 1)
		return "Its group_id_field \"group_id\" takes a single group id, and params' \"group_ids\" holds several.";
	return NULL;
}

static void
graphiti_start(ApexLeg *leg)
{
	const GraphitiConf *conf = leg->source->conf;
	ApexGraphitiState *decode = palloc0(sizeof(ApexGraphitiState));
	int			max_facts = leg->query->limit;
	List	   *groups = graphiti_groups(conf, leg->query);
	StringInfoData body;
	ApexHttpAuth auth = {0};
	ListCell   *lc;

	decode->include_invalid = conf->include_invalid;
	leg->state = decode;
	if (conf->max_facts)
		max_facts = Min(max_facts, conf->max_facts);
	/* the call's groups and the source's have none in common */
	if (groups == NIL && conf->group_ids != NIL)
	{
		ApexLegFinish(leg, NIL);
		return;
	}

	initStringInfo(&body);
	appendStringInfoChar(&body, '{');
	if (groups != NIL && conf->group_id_field == GRAPHITI_GROUP_ID)
	{
		appendStringInfoString(&body, "\"group_id\":");
		escape_json(&body, linitial(groups));
		appendStringInfoChar(&body, ',');
	}
	else if (groups != NIL)
	{
		appendStringInfoString(&body, "\"group_ids\":[");
		foreach(lc, groups)
		{
			if (foreach_current_index(lc) > 0)
				appendStringInfoChar(&body, ',');
			escape_json(&body, lfirst(lc));
		}
		appendStringInfoString(&body, "],");
	}
	appendStringInfoString(&body, "\"query\":");
	escape_json(&body, leg->query->text);
	appendStringInfo(&body, ",\"max_facts\":%d}", max_facts);

	auth.bearer = leg->source->secrets->api_key;
	ApexLegPost(leg, leg->source, ApexUrlJoin(conf->http.url, "/search"),
				body.data, list_make1("Accept: application/json"), &auth,
				graphiti_done, leg);
}

const ApexKind ApexGraphitiKind = {
	.name = "graphiti",
	.options = graphiti_options,
	.mapping_options = (const char *const[]) {"api_key", APEX_HTTP_MAPPING_OPTIONS, NULL},
	.conf_size = sizeof(GraphitiConf),
	.check = graphiti_check,
	.start = graphiti_start,
	.targets = ApexUrlTargets,
	.default_time_field = "valid_at",
	.scope_error = graphiti_scope_error,
};
