/*-------------------------------------------------------------------------
 *
 * leg_postgres.c
 *		  Another PostgreSQL database over libpq's asynchronous API.
 *
 * Same contract as the sql kind: `query` gets $1 (text) and $2 (limit) and
 * returns id, title, content, score first.  The connection (host, hostaddr,
 * port, dbname, sslmode) comes from the server, user and password from the
 * user mapping, and it is kept across calls (io_pg.c).  As with
 * postgres_fdw, a non-superuser must supply a password, and the remote
 * server must use it; so must a superuser calling a source a non-superuser
 * owns, since the query is the owner's code.
 *
 * libpq's `service` and `servicefile` are not options: a service file is a
 * file of the database server that supplies host and port, and libpq offers
 * no way to resolve a named service short of connecting.  A service named in
 * the server's environment (PGSERVICE) is honoured, and resolved by libpq.
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
	"host", "hostaddr", "port", "dbname", "sslmode", "query", NULL
};
static const char *const postgres_required[] = {"query", NULL};
static const char *const postgres_sslmodes[] = {
	"disable", "allow", "prefer", "require", "verify-ca", "verify-full", NULL
};

/*
 * Where libpq connects for a source: one element per host it tries, in
 * order.  These resolved lists, not the raw options, are what
 * postgres_start hands libpq, so the hosts checked against
 * apex_router.allowed_hosts are the hosts connected to, whatever default
 * socket directory the libpq in use was built with.
 */
typedef struct PgEndpoints
{
	List	   *hosts;			/* names or socket directories; "" beside a
								 * hostaddr alone */
	List	   *hostaddrs;		/* numeric addresses, "" where none; NIL when
								 * no hostaddr is given */
	List	   *ports;			/* decimal port numbers */
} PgEndpoints;

/* A comma list split as libpq splits it: empty elements kept, no trimming */
static List *
postgres_split(const char *value)
{
	List	   *elements = NIL;

	for (;;)
	{
		size_t		len = strcspn(value, ",");

		elements = lappend(elements, pnstrdup(value, len));
		if (value[len] == '\0')
			return elements;
		value += len + 1;
	}
}

/* A PQconndefaults() value (or built-in default) copied out, or NULL */
static char *
postgres_default(PQconninfoOption *defaults, const char *keyword, bool builtin)
{
	for (PQconninfoOption *o = defaults; o->keyword; o++)
	{
		const char *value = builtin ? o->compiled : o->val;

		if (strcmp(o->keyword, keyword) == 0)
			return value ? pstrdup(value) : NULL;
	}
	return NULL;
}

/*
 * Resolve a source's endpoints as libpq's connectOptions2() does.  Each of
 * host, hostaddr and port is the option's value, else libpq's default:
 * PQconndefaults() applies the service file named by PGSERVICE and then
 * PGHOST, PGHOSTADDR and PGPORT of the server's environment, exactly as a
 * connection would (an empty value counts as absent, for libpq too).  Then
 * hostaddr, if given, decides the number of hosts and is what is connected
 * to; a host element left empty means the default socket directory; one
 * port serves every host, else there is one per host; an empty port element
 * means libpq's built-in port.  Returns NULL, or why libpq would refuse the
 * options.
 */
static char *
postgres_endpoints(List *options, PgEndpoints *ep)
{
	PQconninfoOption *defaults = PQconndefaults();
	const char *keywords[] = {"host", "hostaddr", "port"};
	char	   *values[lengthof(keywords)];
	char	   *builtin_port;
	List	   *given_hosts = NIL;
	List	   *ports;
	int			n;

	if (defaults == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	for (size_t i = 0; i < lengthof(keywords); i++)
	{
		const char *value = ApexGetOption(options, keywords[i]);

		values[i] = value && value[0] ? pstrdup(value)
			: postgres_default(defaults, keywords[i], false);
	}
	builtin_port = postgres_default(defaults, "port", true);
	PQconninfoFree(defaults);

	ep->hostaddrs = NIL;
	ep->ports = NIL;
	if (values[1] && values[1][0])
		ep->hostaddrs = postgres_split(values[1]);
	if (values[0] && values[0][0])
	{
		given_hosts = postgres_split(values[0]);
		if (ep->hostaddrs != NIL &&
			list_length(given_hosts) != list_length(ep->hostaddrs))
			return psprintf("could not match %d host names to %d hostaddr values",
							list_length(given_hosts), list_length(ep->hostaddrs));
	}
	n = ep->hostaddrs ? list_length(ep->hostaddrs)
		: given_hosts ? list_length(given_hosts) : 1;
	ep->hosts = NIL;
	for (int i = 0; i < n; i++)
	{
		const char *host = given_hosts ? list_nth(given_hosts, i) : "";
		const char *hostaddr = ep->hostaddrs ? list_nth(ep->hostaddrs, i) : "";

		/* as libpq: a build without a default socket directory uses TCP */
		if (host[0] == '\0' && hostaddr[0] == '\0')
			host = DEFAULT_PGSOCKET_DIR[0] ? DEFAULT_PGSOCKET_DIR : "localhost";
		ep->hosts = lappend(ep->hosts, pstrdup(host));
	}

	ports = postgres_split(values[2] && values[2][0] ? values[2] : "");
	if (list_length(ports) != 1 && list_length(ports) != n)
		return psprintf("could not match %d port numbers to %d hosts",
						list_length(ports), n);
	for (int i = 0; i < n; i++)
	{
		const char *port = list_length(ports) == 1 ? linitial(ports)
			: list_nth(ports, i);

		if (port[0] == '\0')
			port = builtin_port ? builtin_port : DEF_PGPORT_STR;
		if (ApexParsePort(port) < 0)
			return psprintf("invalid port number: \"%s\"", port);
		ep->ports = lappend(ep->ports, psprintf("%d", ApexParsePort(port)));
	}
	return NULL;
}

/* The endpoints, or an ERROR for options libpq would refuse */
static void
postgres_endpoints_or_error(List *options, PgEndpoints *ep)
{
	char	   *error = postgres_endpoints(options, ep);

	if (error)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s", error),
				 errdetail("Host, hostaddr and port come from the source's options, else from PGSERVICE, PGHOST, PGHOSTADDR and PGPORT in the server's environment.")));
}

static void
postgres_validate(List *options)
{
	const char *value;
	PgEndpoints ep;

	if ((value = ApexGetOption(options, "port")))
	{
		ListCell   *lc;

		foreach(lc, postgres_split(value))
		{
			const char *port = lfirst(lc);

			if (port[0] != '\0' && ApexParsePort(port) < 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid value for option \"port\": \"%s\"", value),
						 errdetail("Valid values are port numbers from 1 to 65535: one for all hosts, or a comma-separated list of one for each.")));
		}
	}
	if ((value = ApexGetOption(options, "sslmode")))
		ApexCheckChoiceOption("sslmode", value, postgres_sslmodes);
	postgres_endpoints_or_error(options, &ep);
}

/*
 * Every host:port libpq may try: a hostaddr where one is given (the host
 * beside it only names the server, for TLS), else the host, which may be a
 * socket directory.
 */
static List *
postgres_targets(List *options)
{
	PgEndpoints ep;
	List	   *targets = NIL;

	postgres_endpoints_or_error(options, &ep);
	for (int i = 0; i < list_length(ep.hosts); i++)
	{
		const char *hostaddr = ep.hostaddrs ? list_nth(ep.hostaddrs, i) : "";

		targets = lappend(targets,
						  ApexTargetMake(hostaddr[0] ? hostaddr : list_nth(ep.hosts, i),
										 list_nth(ep.ports, i)));
	}
	return targets;
}

/* A list's elements joined by commas, as libpq takes them */
static char *
postgres_join(List *elements)
{
	StringInfoData buf;
	ListCell   *lc;

	initStringInfo(&buf);
	foreach(lc, elements)
		appendStringInfo(&buf, "%s%s", foreach_current_index(lc) > 0 ? "," : "",
						 (char *) lfirst(lc));
	return buf.data;
}

/* A SQLSTATE: five digits or upper-case letters, else NULL */
static const char *
postgres_sqlstate(const char *code)
{
	if (code == NULL || strlen(code) != 5 ||
		strspn(code, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ") != 5)
		return NULL;
	return code;
}

/*
 * Items from a query result (pure; fuzzable through PGresults).  Returns
 * NULL on success with *items set, else the error text in our words, with
 * what the remote server said in *remote (the remote error's message, or a
 * row's values: both may echo the parameters).
 */
static char *
postgres_decode(PGresult *res, List **items, char **remote)
{
	int			ncols = PQnfields(res);
	const char **names;
	const char **values;

	*items = NIL;
	*remote = NULL;
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		const char *primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
		const char *sqlstate = postgres_sqlstate(PQresultErrorField(res, PG_DIAG_SQLSTATE));

		if (PQresultStatus(res) == PGRES_COMMAND_OK)
			return "query must be a SELECT returning rows";
		*remote = pstrdup(primary ? primary : PQresStatus(PQresultStatus(res)));
		return sqlstate ? psprintf("remote error %s", sqlstate) : "remote error";
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
		{
			/* it names the column and quotes the value */
			*remote = error;
			return "a score that is not a number";
		}
		if (item)
			*items = lappend(*items, item);
	}
	return NULL;
}

static void
postgres_done(void *arg, PGresult *res, const char *error, const char *said)
{
	ApexLeg    *leg = arg;
	ApexRemote	remote = {.peer = leg->source, .text = (char *) said};
	List	   *items;
	char	   *decode_error;

	if (error)
		ApexLegFailRemote(leg, &remote, "%s", error);
	else if ((decode_error = postgres_decode(res, &items, &remote.text)))
		ApexLegFailRemote(leg, &remote, "%s", decode_error);
	else
		ApexLegFinish(leg, items);
}

static void
postgres_start(ApexLeg *leg)
{
	static const Oid paramtypes[2] = {TEXTOID, INT4OID};
	static const char *const option_names[] = {"dbname", "sslmode"};
	List	   *secrets = leg->source->secrets;
	const char **keywords = palloc0(sizeof(char *) * 10);
	const char **values = palloc0(sizeof(char *) * 10);
	const char **params = palloc(sizeof(char *) * 2);
	ApexPgRequest req = {0};
	PgEndpoints ep;
	char	   *error;
	int			n = 0;

	/* the endpoints checked against apex_router.allowed_hosts, resolved */
	if ((error = postgres_endpoints(leg->source->options, &ep)))
	{
		ApexLegFail(leg, "%s", error);
		return;
	}
	keywords[n] = "host";
	values[n++] = postgres_join(ep.hosts);
	if (ep.hostaddrs)
	{
		keywords[n] = "hostaddr";
		values[n++] = postgres_join(ep.hostaddrs);
	}
	keywords[n] = "port";
	values[n++] = postgres_join(ep.ports);
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
	else if (!superuser_arg(leg->source->owner))
	{
		/*
		 * A superuser calling a source another role owns: its query is that
		 * role's code and must not run with the server's own identity (peer
		 * or trust on a local socket, ~/.pgpass, client certificates), or a
		 * planted source would run as a remote, or the local, superuser at
		 * any superuser's plain apex_route() (issue 9).  The source fails;
		 * the call goes on.
		 */
		ApexLegFail(leg, "password is required: the source's owner is not a superuser");
		return;
	}
	keywords[n] = "application_name";
	values[n++] = "apex_router";
	/* as postgres_fdw: the remote server converts text to our encoding */
	keywords[n] = "client_encoding";
	values[n++] = GetDatabaseEncodingName();

	params[0] = leg->call->query.text;
	params[1] = psprintf("%d", leg->call->query.limit);

	req.loop = leg->call->loop;
	req.serverid = leg->source->serverid;
	req.mapping_oid = leg->source->mapping_oid;
	req.label = leg->source->name;
	req.keywords = keywords;
	req.values = values;
	req.query = ApexGetOption(leg->source->options, "query");
	req.nparams = 2;
	req.paramtypes = paramtypes;
	req.params = params;
	/* the leg's clock bounds the rest (ApexLegTimedOut) */
	req.connect_timeout_ms = Min(leg->source->connect_timeout_ms,
								 ApexLegRemainingMs(leg));
	/* the server's own identity only for a superuser's call of its source */
	req.password_required = !superuser() || !superuser_arg(leg->source->owner);
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
