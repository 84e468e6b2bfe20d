/*-------------------------------------------------------------------------
 *
 * leg_postgres.c
 *		  Another PostgreSQL database over libpq's asynchronous API.
 *
 * Same contract as the sql kind: `query` gets $1 (text) and $2 (limit) and
 * returns id, title, content, score first.  The connection (host, port,
 * dbname, sslmode) comes from the server, user and password from the user
 * mapping, and it is kept across calls (io_pg.c).  As with postgres_fdw, a
 * non-superuser must supply a password, and the remote server must use it.
 *
 * IDENTIFICATION
 *		  src/leg_postgres.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"

#include "io_pg.h"
#include "leg.h"

static const char *const postgres_options[] = {
	"host", "port", "dbname", "sslmode", "query", NULL
};
static const char *const postgres_required[] = {"query", NULL};
static const char *const postgres_sslmodes[] = {
	"disable", "allow", "prefer", "require", "verify-ca", "verify-full", NULL
};

static void
postgres_validate(List *options)
{
	const char *value;

	if ((value = ApexGetOption(options, "port")))
		ApexParseIntOption("port", value, 1, 65535);
	if ((value = ApexGetOption(options, "sslmode")))
		ApexCheckChoiceOption("sslmode", value, postgres_sslmodes);
}

/*
 * "host:port" of every host libpq may try (host and port take comma lists;
 * one port serves every host).  No host means libpq's Unix socket.
 */
static List *
postgres_targets(List *options)
{
	const char *hostopt = ApexGetOption(options, "host");
	const char *portopt = ApexGetOption(options, "port");
	char	   *hosts = pstrdup(hostopt ? hostopt : DEFAULT_PGSOCKET_DIR);
	char	   *ports = pstrdup(portopt ? portopt : DEF_PGPORT_STR);
	List	   *portlist = NIL;
	List	   *targets = NIL;
	char	   *save;
	int			i = 0;

	for (char *p = strtok_r(ports, ",", &save); p; p = strtok_r(NULL, ",", &save))
		portlist = lappend(portlist, p);
	for (char *h = strtok_r(hosts, ",", &save); h; h = strtok_r(NULL, ",", &save))
	{
		const char *port = list_length(portlist) == 1 ? linitial(portlist)
			: i < list_length(portlist) ? list_nth(portlist, i) : DEF_PGPORT_STR;

		targets = lappend(targets, psprintf("%s:%s", h, port));
		i++;
	}
	return targets;
}

/*
 * Items from a query result (pure; fuzzable through PGresults).  Returns
 * NULL on success with *items set, else the error text.
 */
static char *
postgres_decode(PGresult *res, List **items)
{
	int			ncols = PQnfields(res);
	const char **names;
	const char **values;

	*items = NIL;
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		const char *primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
		const char *sqlstate = PQresultErrorField(res, PG_DIAG_SQLSTATE);

		if (PQresultStatus(res) == PGRES_COMMAND_OK)
			return "query must be a SELECT returning rows";
		return psprintf("remote error %s: %s", sqlstate ? sqlstate : "?",
						primary ? primary : PQresStatus(PQresultStatus(res)));
	}
	names = palloc(sizeof(char *) * Max(ncols, 1));
	values = palloc(sizeof(char *) * Max(ncols, 1));
	for (int c = 0; c < ncols; c++)
		names[c] = PQfname(res, c);
	for (int r = 0; r < PQntuples(res); r++)
	{
		ApexItem   *item;
		char	   *error;

		for (int c = 0; c < ncols; c++)
			values[c] = PQgetisnull(res, r, c) ? NULL : PQgetvalue(res, r, c);
		item = ApexRowItem(ncols, names, values, &error);
		if (error)
			return error;
		if (item)
			*items = lappend(*items, item);
	}
	return NULL;
}

static void
postgres_done(void *arg, PGresult *res, const char *error, bool timed_out)
{
	ApexLeg    *leg = arg;
	List	   *items;
	char	   *decode_error;

	if (timed_out)
		ApexLegFail(leg, "timed out after %d ms", leg->budget_ms);
	else if (error)
		ApexLegFail(leg, "%s", error);
	else if ((decode_error = postgres_decode(res, &items)))
		ApexLegFail(leg, "%s", decode_error);
	else
		ApexLegFinish(leg, items);
}

static void
postgres_start(ApexLeg *leg)
{
	static const Oid paramtypes[2] = {TEXTOID, INT4OID};
	static const char *const option_names[] = {"host", "port", "dbname", "sslmode"};
	List	   *secrets = leg->source->secrets;
	const char **keywords = palloc0(sizeof(char *) * 10);
	const char **values = palloc0(sizeof(char *) * 10);
	const char **params = palloc(sizeof(char *) * 2);
	ApexPgRequest req = {0};
	int			n = 0;

	for (size_t i = 0; i < lengthof(option_names); i++)
	{
		const char *value = ApexGetOption(leg->source->options, option_names[i]);

		if (value)
		{
			keywords[n] = option_names[i];
			values[n++] = value;
		}
	}
	if (ApexGetOption(secrets, "user"))
	{
		keywords[n] = "user";
		values[n++] = ApexGetOption(secrets, "user");
	}
	if (ApexGetOption(secrets, "password"))
	{
		keywords[n] = "password";
		values[n++] = ApexGetOption(secrets, "password");
	}
	else if (!superuser())
		ereport(ERROR,
				(errcode(ERRCODE_S_R_E_PROHIBITED_SQL_STATEMENT_ATTEMPTED),
				 errmsg("password is required"),
				 errdetail("Non-superusers must provide a password in the user mapping of source \"%s\".",
						   leg->source->name)));
	keywords[n] = "application_name";
	values[n++] = "apex_router";
	/* as postgres_fdw: the remote server converts text to our encoding */
	keywords[n] = "client_encoding";
	values[n++] = GetDatabaseEncodingName();

	params[0] = leg->call->query.text;
	params[1] = psprintf("%d", leg->call->query.limit);

	req.loop = leg->call->loop;
	req.serverid = leg->source->serverid;
	req.label = leg->source->name;
	req.keywords = keywords;
	req.values = values;
	req.query = ApexGetOption(leg->source->options, "query");
	req.nparams = 2;
	req.paramtypes = paramtypes;
	req.params = params;
	req.timeout_ms = ApexLegRemainingMs(leg);
	req.connect_timeout_ms = leg->source->connect_timeout_ms;
	req.pending_send = &leg->pending_send;
	req.owner = leg;
	req.done = postgres_done;
	req.arg = leg;
	leg->pending_send = true;
	ApexPgStart(&req);
}

const ApexKind ApexPostgresKind = {
	.name = "postgres",
	.server_options = postgres_options,
	.required_options = postgres_required,
	.validate = postgres_validate,
	.start = postgres_start,
	.targets = postgres_targets,
};
