/*-------------------------------------------------------------------------
 *
 * leg_graphiti.c
 *		  Graphiti (getzep/graphiti server): POST /search over a temporal
 *		  knowledge graph, answered with facts ranked best first.
 *
 * The request is {"group_ids":[...],"query":...,"max_facts":N}; older
 * builds take a single "group_id" string instead (option group_id_field).
 * Facts carry no score.  A fact whose invalid_at or expired_at lies in the
 * past is no longer true and is left out unless include_invalid is 'true';
 * those ISO 8601 timestamps are parsed here, strictly and without ever
 * throwing, so a bad one fails the source, not the call.
 *
 * IDENTIFICATION
 *		  src/leg_graphiti.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>
#include <math.h>

#include "utils/datetime.h"
#include "utils/json.h"
#include "utils/timestamp.h"

#include "leg.h"
#include "leg_graphiti.h"

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

/* n decimal digits at *p, advancing it; false when they are not there */
static bool
graphiti_digits(const char **p, int n, int *result)
{
	*result = 0;
	for (int i = 0; i < n; i++)
	{
		if (!isdigit((unsigned char) (*p)[i]))
			return false;
		*result = *result * 10 + ((*p)[i] - '0');
	}
	*p += n;
	return true;
}

/*
 * Parse an ISO 8601 timestamp as Graphiti (Python's isoformat) writes it:
 * YYYY-MM-DD[T ]HH:MM:SS[.fraction][Z|+HH:MM|+HHMM|+HH]; no zone means UTC.
 * Every field is range-checked here and PostgreSQL's tm2timestamp() does
 * the arithmetic, so nothing can throw.  Returns false when s is not such
 * a timestamp.
 */
static bool
graphiti_parse_timestamp(const char *s, TimestampTz *result)
{
	struct pg_tm tm = {0};
	fsec_t		fsec = 0;
	int			tz = 0;
	const char *p = s;

	if (!graphiti_digits(&p, 4, &tm.tm_year) || *p++ != '-' ||
		!graphiti_digits(&p, 2, &tm.tm_mon) || *p++ != '-' ||
		!graphiti_digits(&p, 2, &tm.tm_mday) || (*p != 'T' && *p != 't' && *p != ' '))
		return false;
	p++;
	if (!graphiti_digits(&p, 2, &tm.tm_hour) || *p++ != ':' ||
		!graphiti_digits(&p, 2, &tm.tm_min) || *p++ != ':' ||
		!graphiti_digits(&p, 2, &tm.tm_sec))
		return false;
	if (*p == '.' || *p == ',')
	{
		int			scale = 100000;

		if (!isdigit((unsigned char) *++p))
			return false;
		/* microseconds; further digits are dropped */
		for (; isdigit((unsigned char) *p); p++, scale /= 10)
			fsec += (*p - '0') * scale;
	}
	if (*p == 'Z' || *p == 'z')
		p++;
	else if (*p == '+' || *p == '-')
	{
		int			sign = *p++ == '+' ? 1 : -1;
		int			hh;
		int			mm = 0;

		if (!graphiti_digits(&p, 2, &hh))
			return false;
		if (*p == ':')
			p++;
		if (isdigit((unsigned char) *p) && !graphiti_digits(&p, 2, &mm))
			return false;
		if (hh > 15 || mm > 59)
			return false;
		/* PostgreSQL counts zone offsets in seconds west of UTC */
		tz = -sign * (hh * SECS_PER_HOUR + mm * SECS_PER_MINUTE);
	}
	if (*p != '\0')
		return false;
	if (tm.tm_year < 1 || tm.tm_mon < 1 || tm.tm_mon > MONTHS_PER_YEAR ||
		tm.tm_mday < 1 || tm.tm_mday > day_tab[isleap(tm.tm_year)][tm.tm_mon - 1] ||
		tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 59)
		return false;
	return tm2timestamp(&tm, fsec, &tz, result) == 0;
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
			!graphiti_parse_timestamp(ApexJsonScalarText(v), &ts))
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

static void
graphiti_start(ApexLeg *leg)
{
	const GraphitiConf *conf = leg->source->conf;
	ApexGraphitiState *decode = palloc0(sizeof(ApexGraphitiState));
	int			max_facts = leg->query->limit;
	StringInfoData body;
	ApexHttpAuth auth = {0};
	ListCell   *lc;

	decode->include_invalid = conf->include_invalid;
	leg->state = decode;
	if (conf->max_facts)
		max_facts = Min(max_facts, conf->max_facts);

	initStringInfo(&body);
	appendStringInfoChar(&body, '{');
	if (conf->group_ids != NIL && conf->group_id_field == GRAPHITI_GROUP_ID)
	{
		appendStringInfoString(&body, "\"group_id\":");
		escape_json(&body, linitial(conf->group_ids));
		appendStringInfoChar(&body, ',');
	}
	else if (conf->group_ids != NIL)
	{
		appendStringInfoString(&body, "\"group_ids\":[");
		foreach(lc, conf->group_ids)
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
	.mapping_options = (const char *const[]) {"api_key", NULL},
	.conf_size = sizeof(GraphitiConf),
	.check = graphiti_check,
	.start = graphiti_start,
	.targets = ApexUrlTargets,
};
