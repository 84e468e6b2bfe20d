/*-------------------------------------------------------------------------
 *
 * leg_neo4j.c
 *		  Neo4j over HTTP: the transactional endpoint (POST /db/{db}/tx/commit,
 *		  api 'tx', the default) or the Query API (POST /db/{db}/query/v2,
 *		  api 'query', Neo4j >= 5.19).
 *
 * The source's `statement` gets parameters $query (the text), $query_lucene
 * (the text escaped for Lucene's query parser, for db.index.fulltext.*: see
 * lucene.c) and $limit, and returns columns by name: id (required), title,
 * content, score (optional).  Every column goes into the item's raw JSON.
 * Each member of the call's params (apex_route's scope) is one more
 * parameter of the same name: $user_id, $since; a statement that uses one
 * the call does not give fails with Neo4j's ParameterMissing.
 * Neo4j reports a failing statement inside a successful HTTP response, so
 * `errors` is checked on every answer, whatever its status.
 *
 * Every request says its access mode (option access_mode, read by
 * default: a search reads, as a sql source's query runs read-only): a
 * cluster sends READ transactions to its readers, and refuses a write in
 * one (Neo.ClientError.Statement.AccessMode).  Unsaid, Neo4j takes WRITE
 * and routes every search to the writer.
 *
 * IDENTIFICATION
 *		  src/leg_neo4j.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "utils/json.h"

#include "leg.h"
#include "leg_neo4j.h"
#include "lucene.h"
#include "scope.h"

/* in the order of APEX_NEO4J_TX, APEX_NEO4J_QUERY */
static const char *const neo4j_apis[] = {"tx", "query", NULL};

/* in the order of APEX_NEO4J_READ, APEX_NEO4J_WRITE */
static const char *const neo4j_access_modes[] = {"read", "write", NULL};

static const ApexOption neo4j_options[] = {
	APEX_HTTP_URL_OPTION(ApexNeo4jConf),
	{APEX_OPT("database", APEX_OPTION_STRING, ApexNeo4jConf, database), .dflt = "neo4j"},
	{APEX_OPT("api", APEX_OPTION_CHOICE, ApexNeo4jConf, api), .dflt = "tx",
	 .choices = neo4j_apis},
	{APEX_OPT("statement", APEX_OPTION_STRING, ApexNeo4jConf, statement), .required = true},
	{APEX_OPT("access_mode", APEX_OPTION_CHOICE, ApexNeo4jConf, access_mode), .dflt = "read",
	 .choices = neo4j_access_modes},
	APEX_HTTP_TLS_OPTIONS(ApexNeo4jConf),
	APEX_HTTP_GATEWAY_OPTIONS(ApexNeo4jConf),
	{NULL}
};

/* The first entry of an "errors" array as "code: message", or NULL */
static char *
neo4j_error(JsonbValue *doc)
{
	JsonbValue *errors = ApexJsonArray(ApexJsonGet(doc, "errors"));
	JsonbValue *first;
	char	   *code;
	char	   *message;

	if (ApexJsonLength(errors) == 0)
		return NULL;
	first = ApexJsonObject(ApexJsonAt(errors, 0));
	code = ApexJsonScalarText(ApexJsonGet(first, "code"));
	message = ApexJsonScalarText(ApexJsonGet(first, "message"));
	return psprintf("%s: %s", code ? code : "Neo4j error",
					message ? message : "no message");
}

/* A cell as text: strings and numbers as they are, anything else as JSON */
static char *
neo4j_cell_text(JsonbValue *cell)
{
	char	   *text;

	if (cell == NULL || cell->type == jbvNull)
		return NULL;
	text = ApexJsonScalarText(cell);
	return text ? text : ApexJsonText(cell);
}

/* Is name one of the columns? */
static bool
neo4j_has_column(JsonbValue *columns, const char *name)
{
	for (int i = 0; i < ApexJsonLength(columns); i++)
	{
		char	   *column = ApexJsonScalarText(ApexJsonAt(columns, i));

		if (column && strcmp(column, name) == 0)
			return true;
	}
	return false;
}

/*
 * Turn one row (an array aligned with columns) into an item; NULL with
 * *error when the row does not fit the columns, NULL alone when its id is
 * null or not a string or number (the row is skipped and counted, as every
 * kind does with an item without an id: issue 11 item 5).
 */
static ApexItem *
neo4j_row(char **names, int ncols, JsonbValue *row, char **error)
{
	JsonbPair  *raw;
	char	   *id = NULL;
	char	   *title = NULL;
	char	   *content = NULL;
	double		score = NAN;

	if (row == NULL || ApexJsonLength(row) != ncols)
	{
		*error = "A row does not match the columns.";
		return NULL;
	}
	/* the raw item: the cells themselves, under their columns' names */
	raw = palloc(sizeof(JsonbPair) * Max(ncols, 1));
	for (int i = 0; i < ncols; i++)
	{
		char	   *name = names[i];
		JsonbValue *cell = ApexJsonAt(row, i);

		if (name == NULL)
		{
			*error = "A column name is not a string.";
			return NULL;
		}
		if (strcmp(name, "id") == 0)
			id = ApexJsonScalarText(cell);
		else if (strcmp(name, "title") == 0)
			title = neo4j_cell_text(cell);
		else if (strcmp(name, "content") == 0)
			content = neo4j_cell_text(cell);
		else if (strcmp(name, "score") == 0)
			(void) ApexJsonNumber(cell, &score);
		ApexJsonKey(&raw[i], name);
		raw[i].value = *cell;
	}
	if (id == NULL)
		return NULL;
	return ApexItemMake(id, title, content, score, ApexJsonObjectOf(raw, ncols));
}

/*
 * Decode a tx/commit or query/v2 response (pure; fuzzable): see
 * ApexDecoder.  A 2xx may still hold "errors" (see the file header).
 */
char *
ApexNeo4jDecode(const void *state, long status, StringInfo body, void *result,
				ApexRemote *remote)
{
	bool		query_api = ((const ApexNeo4jConf *) state)->api == APEX_NEO4J_QUERY;
	ApexItemsSkipped *decoded = result;
	char	   *error = NULL;
	JsonbValue *doc = ApexJsonParse(body->data, body->len, &error);
	JsonbValue *columns;
	JsonbValue *rows;
	char	  **names;
	int			ncols;
	char	   *cause;

	decoded->items = NIL;
	decoded->skipped = 0;
	if ((cause = ApexNot2xx(status, body, doc, neo4j_error, remote)))
		return cause;
	if (doc == NULL)
		return ApexJsonErrorCause(error, remote);
	if ((remote->text = neo4j_error(doc)))
		return "The statement failed.";

	if (query_api)
	{
		/* {"data":{"fields":[...],"values":[[...],...]}} */
		JsonbValue *data = ApexJsonObject(ApexJsonGet(doc, "data"));

		columns = ApexJsonArray(ApexJsonGet(data, "fields"));
		rows = ApexJsonArray(ApexJsonGet(data, "values"));
	}
	else
	{
		/* {"results":[{"columns":[...],"data":[{"row":[...]},...]}]} */
		JsonbValue *results = ApexJsonArray(ApexJsonGet(doc, "results"));
		JsonbValue *first = ApexJsonLength(results) > 0
			? ApexJsonObject(ApexJsonAt(results, 0)) : NULL;

		columns = ApexJsonArray(ApexJsonGet(first, "columns"));
		rows = ApexJsonArray(ApexJsonGet(first, "data"));
	}
	if (columns == NULL || rows == NULL)
		return query_api ? "The response has no \"data.fields\" and \"data.values\"."
			: "The response has no \"results[0].columns\" and \"results[0].data\".";
	/* a statement that returns no id at all is the statement's fault */
	if (!neo4j_has_column(columns, "id") && ApexJsonLength(rows) > 0)
		return "The statement returns no column \"id\".";

	/* the columns' names, read once (NULL: not a string, a row says so) */
	ncols = ApexJsonLength(columns);
	names = palloc(sizeof(char *) * Max(ncols, 1));
	for (int i = 0; i < ncols; i++)
		names[i] = ApexJsonScalarText(ApexJsonAt(columns, i));
	for (int i = 0; i < ApexJsonLength(rows); i++)
	{
		JsonbValue *rowv = ApexJsonAt(rows, i);
		ApexItem   *item;

		if (!query_api)
			rowv = ApexJsonGet(ApexJsonObject(rowv), "row");
		error = NULL;
		item = neo4j_row(names, ncols, ApexJsonArray(rowv), &error);
		if (error)
			return error;
		if (item)
			decoded->items = lappend(decoded->items, item);
		else
			decoded->skipped++;
	}
	return NULL;
}

/* The items, and the rows skipped for want of an id, told after the call */
static void
neo4j_done(void *arg, ApexHttpResponse *resp)
{
	ApexLegCompleteSkipping((ApexLeg *) arg, resp, ApexNeo4jDecode,
							"Their \"id\" column holds no string or number.");
}

static void
neo4j_start(ApexLeg *leg)
{
	const ApexNeo4jConf *conf = leg->source->conf;
	const ApexSecrets *secrets = leg->source->secrets;
	bool		query_api = conf->api == APEX_NEO4J_QUERY;
	bool		read = conf->access_mode == APEX_NEO4J_READ;
	List	   *headers = list_make1("Accept: application/json;charset=UTF-8");
	StringInfoData body;
	StringInfoData params;
	ApexHttpAuth auth = {0};
	char	   *path;

	leg->state = leg->source->conf;
	initStringInfo(&params);
	appendStringInfoString(&params, "{\"query\":");
	escape_json(&params, leg->query->text);
	appendStringInfoString(&params, ",\"query_lucene\":");
	escape_json(&params, ApexLuceneEscape(leg->query->text));
	appendStringInfo(&params, ",\"limit\":%d", leg->query->limit);
	/* the call's scope: each member of params one more parameter */
	appendStringInfo(&params, "%s}", ApexScopeMembers(leg->query));

	/* "statements" first: older servers require it */
	initStringInfo(&body);
	appendStringInfoString(&body, query_api ? "{\"statement\":" : "{\"statements\":[{\"statement\":");
	escape_json(&body, conf->statement);
	appendStringInfo(&body, ",\"parameters\":%s", params.data);
	/* the access mode: the Query API's in the body, tx/commit's a header */
	if (query_api)
		appendStringInfo(&body, ",\"accessMode\":\"%s\"}", read ? "Read" : "Write");
	else
	{
		appendStringInfoString(&body, "}]}");
		headers = lappend(headers, read ? "Access-Mode: READ" : "Access-Mode: WRITE");
	}

	path = psprintf("/db/%s/%s", ApexUrlEncode(conf->database),
					query_api ? "query/v2" : "tx/commit");
	auth.username = secrets->user;
	auth.password = secrets->password;
	auth.bearer = secrets->token;
	ApexLegPost(leg, leg->source, ApexUrlJoin(conf->http.url, path), body.data,
				headers, &auth, neo4j_done, leg);
}

const ApexKind ApexNeo4jKind = {
	.name = "neo4j",
	.options = neo4j_options,
	.mapping_options = (const char *const[]) {"user", "password", "token", APEX_HTTP_MAPPING_OPTIONS, NULL},
	.conf_size = sizeof(ApexNeo4jConf),
	.start = neo4j_start,
	.targets = ApexUrlTargets,
};
