/*-------------------------------------------------------------------------
 *
 * leg_postgres.c
 *		  Another PostgreSQL database over libpq's asynchronous API.
 *
 * Same contract as the sql kind: `query` gets $1 (text), $2 (limit), $3
 * (the call's params, jsonb) and $4 (the question's embedding, real[], from
 * the source's `embedder` or the caller's query_vector, else null) and
 * returns id, title, content, score first.  With an embedder, the query is
 * sent once the embedding arrived, inside the same loop.  The connection
 * comes from the server's options (host, hostaddr, port, dbname and libpq's
 * TLS, GSSAPI, keepalive and target_session_attrs options, passed through
 * as postgres_fdw passes them), user, password and the client certificate
 * (sslcert, sslkey, sslpassword) from the user mapping, and it is kept
 * across calls (io_pg.c).  As with
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
#include "utils/builtins.h"

#include "identity.h"
#include "io_pg.h"
#include "leg.h"
#include "leg_postgres.h"
#include "scope.h"
#include "transport.h"

static const char *const postgres_sslmodes[] = {
	"disable", "allow", "prefer", "require", "verify-ca", "verify-full", NULL
};
static const char *const postgres_tls_versions[] = {
	"TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3", NULL
};
static const char *const postgres_three_modes[] = {
	"disable", "prefer", "require", NULL
};
static const char *const postgres_session_attrs[] = {
	"any", "read-write", "read-only", "primary", "standby", "prefer-standby", NULL
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

/*
 * libpq keywords a request sets: host, hostaddr, port, dbname, sslmode, the 16
 * other connection options of PgConf, user, password, sslcert, sslkey,
 * sslpassword, client_encoding, options (io_pg.c adds application_name).
 */
#define POSTGRES_MAX_KEYWORDS 28

typedef struct PgConf
{
	char	   *host;			/* the options as given, or NULL */
	char	   *hostaddr;
	char	   *port;
	char	   *dbname;
	int			sslmode;		/* index in postgres_sslmodes; -1: libpq's */
	/* libpq's connection options, passed as given; NULL or -1: libpq's */
	char	   *sslrootcert;	/* files: superuser-only */
	char	   *sslcrl;
	char	   *sslcrldir;
	char	   *sslsni;			/* Boolean, as PostgreSQL reads it */
	int			ssl_min_protocol_version;	/* postgres_tls_versions */
	int			ssl_max_protocol_version;
	int			channel_binding;	/* postgres_three_modes */
	int			gssencmode;		/* postgres_three_modes */
	char	   *krbsrvname;
	char	   *requirepeer;
	int			target_session_attrs;	/* postgres_session_attrs */
	char	   *keepalives;		/* Boolean */
	int			keepalives_idle;	/* seconds; 0: the system's */
	int			keepalives_interval;
	int			keepalives_count;
	int			tcp_user_timeout;	/* milliseconds; 0: the system's */
	char	   *application_name;	/* identity.c's template, or NULL */
	char	   *query;			/* $1 text, $2 limit, $3 params, $4 embedding */
	char	   *embedder;		/* source name, or NULL */
	PgEndpoints endpoints;		/* resolved once (check) */
	char	   *endpoints_error;	/* why libpq would refuse them, or NULL */
} PgConf;

static void postgres_check_port(const char *name, const char *value);
static void postgres_check_bool(const char *name, const char *value);

/*
 * The options: libpq's connection options a deployment needs, passed
 * through as postgres_fdw passes its own, and those refused by name with
 * the reason.  Secrets and the client certificate (which names a remote
 * user, as "user" does) are the user mapping's (option.c).  Files the
 * server reads are superuser-only (ApexCheckServerFileOption).
 */
static const ApexOption postgres_options[] = {
	{APEX_OPT("host", APEX_OPTION_STRING, PgConf, host)},
	{APEX_OPT("hostaddr", APEX_OPTION_STRING, PgConf, hostaddr)},
	{APEX_OPT("port", APEX_OPTION_STRING, PgConf, port),
	 .validate = postgres_check_port},
	{APEX_OPT("dbname", APEX_OPTION_STRING, PgConf, dbname)},
	{APEX_OPT("sslmode", APEX_OPTION_CHOICE, PgConf, sslmode),
	 .choices = postgres_sslmodes},
	{APEX_OPT("sslrootcert", APEX_OPTION_STRING, PgConf, sslrootcert),
	 .validate = ApexCheckServerFileOption},
	{APEX_OPT("sslcrl", APEX_OPTION_STRING, PgConf, sslcrl),
	 .validate = ApexCheckServerFileOption},
	{APEX_OPT("sslcrldir", APEX_OPTION_STRING, PgConf, sslcrldir),
	 .validate = ApexCheckServerFileOption},
	{APEX_OPT("sslsni", APEX_OPTION_STRING, PgConf, sslsni),
	 .validate = postgres_check_bool},
	{APEX_OPT("ssl_min_protocol_version", APEX_OPTION_CHOICE, PgConf,
			  ssl_min_protocol_version), .choices = postgres_tls_versions},
	{APEX_OPT("ssl_max_protocol_version", APEX_OPTION_CHOICE, PgConf,
			  ssl_max_protocol_version), .choices = postgres_tls_versions},
	{APEX_OPT("channel_binding", APEX_OPTION_CHOICE, PgConf, channel_binding),
	 .choices = postgres_three_modes},
	{APEX_OPT("gssencmode", APEX_OPTION_CHOICE, PgConf, gssencmode),
	 .choices = postgres_three_modes},
	{APEX_OPT("krbsrvname", APEX_OPTION_STRING, PgConf, krbsrvname)},
	{APEX_OPT("requirepeer", APEX_OPTION_STRING, PgConf, requirepeer)},
	{APEX_OPT("target_session_attrs", APEX_OPTION_CHOICE, PgConf,
			  target_session_attrs), .choices = postgres_session_attrs},
	{APEX_OPT("keepalives", APEX_OPTION_STRING, PgConf, keepalives),
	 .validate = postgres_check_bool},
	{APEX_OPT("keepalives_idle", APEX_OPTION_INT, PgConf, keepalives_idle),
	 .min = 1, .max = 86400},
	{APEX_OPT("keepalives_interval", APEX_OPTION_INT, PgConf, keepalives_interval),
	 .min = 1, .max = 86400},
	{APEX_OPT("keepalives_count", APEX_OPTION_INT, PgConf, keepalives_count),
	 .min = 1, .max = 1000},
	{APEX_OPT("tcp_user_timeout", APEX_OPTION_INT, PgConf, tcp_user_timeout),
	 .min = 1, .max = APEX_MAX_DURATION_MS},
	{APEX_OPT("application_name", APEX_OPTION_STRING, PgConf, application_name),
	 .validate = ApexIdentityCheckOption},
	{APEX_OPT("query", APEX_OPTION_STRING, PgConf, query), .required = true},
	{APEX_OPT("embedder", APEX_OPTION_STRING, PgConf, embedder),
	 .validate = ApexCheckEmbedderOption},
	/* libpq's, refused */
	{.name = "connect_timeout",
	 .refused = "The source's connect_timeout_ms bounds the connection's whole start-up, authentication included (libpq's connect_timeout applies only to blocking connections)."},
	{.name = "options",
	 .refused = "The source sets the remote session's settings it relies on (DateStyle). Set others for the mapped role on the remote server, with ALTER ROLE ... SET."},
	{.name = "passfile",
	 .refused = "The password belongs in the user mapping: a password file of the database server's operating-system user is what the password rule keeps sources from using."},
	{.name = "service",
	 .refused = "A service file of the database server can name any host, which apex_router.allowed_hosts could not check before connecting."},
	{.name = "servicefile",
	 .refused = "A service file of the database server can name any host, which apex_router.allowed_hosts could not check before connecting."},
	{.name = "client_encoding",
	 .refused = "The remote server converts text to this database's encoding, which the source asks for."},
	{.name = "fallback_application_name",
	 .refused = "The source's application_name, else apex_router.application_name, names who asks."},
	{.name = "replication",
	 .refused = "A source runs queries, not a replication protocol."},
	{NULL}
};

/* A Boolean as PostgreSQL reads it */
static void
postgres_check_bool(const char *name, const char *value)
{
	bool		b;

	if (!parse_bool(value, &b))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for option \"%s\": \"%s\"", name, value),
				 errdetail("Valid values are Boolean: on, off, true, false, yes, no, 1, 0.")));
}

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
postgres_endpoints(const PgConf *conf, PgEndpoints *ep)
{
	PQconninfoOption *defaults = PQconndefaults();
	const char *keywords[] = {"host", "hostaddr", "port"};
	const char *given[] = {conf->host, conf->hostaddr, conf->port};
	char	   *values[lengthof(keywords)];
	char	   *builtin_port;
	List	   *given_hosts = NIL;
	List	   *ports;
	int			n;

	if (defaults == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OUT_OF_MEMORY),
				 errmsg("out of memory"),
				 errdetail("libpq could not allocate its connection defaults.")));
	for (size_t i = 0; i < lengthof(keywords); i++)
	{
		const char *value = given[i];

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

static void
postgres_check_port(const char *name, const char *value)
{
	ListCell   *lc;

	foreach(lc, postgres_split(value))
	{
		const char *port = lfirst(lc);

		if (port[0] != '\0' && ApexParsePort(port) < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid value for option \"%s\": \"%s\"", name, value),
					 errdetail("Valid values are port numbers from 1 to 65535: one for all hosts, or a comma-separated list of one for each.")));
	}
}

/*
 * Resolve the endpoints once.  libpq would refuse options that leave ports
 * and hosts unmatched; whether they do depends on the service file and the
 * environment, which may change after CREATE SERVER, so the error is kept:
 * postgres_targets() raises it (DDL, non-superuser sources), and a
 * superuser's source fails alone at call time, as its connection would.
 */
static void
postgres_check(void *arg)
{
	PgConf	   *conf = arg;

	conf->endpoints_error = postgres_endpoints(conf, &conf->endpoints);
}

/*
 * Every host:port libpq may try: a hostaddr where one is given (the host
 * beside it only names the server, for TLS), else the host, which may be a
 * socket directory.
 */
static List *
postgres_targets(const void *arg)
{
	const PgConf *conf = arg;
	const PgEndpoints *ep = &conf->endpoints;
	List	   *targets = NIL;

	if (conf->endpoints_error)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s", conf->endpoints_error),
				 errdetail("Host, hostaddr and port come from the source's options, else from PGSERVICE, PGHOST, PGHOSTADDR and PGPORT in the server's environment.")));
	for (int i = 0; i < list_length(ep->hosts); i++)
	{
		const char *hostaddr = ep->hostaddrs ? list_nth(ep->hostaddrs, i) : "";

		targets = lappend(targets,
						  ApexTargetMake(hostaddr[0] ? hostaddr : list_nth(ep->hosts, i),
										 list_nth(ep->ports, i)));
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
 * What a remote error's fields say, into *remote, as postgres_fdw carries
 * a remote error over: its SQLSTATE (0 when it sent none that is valid),
 * its primary message (NULL: none; the caller has a fallback), DETAIL and
 * HINT, all of them the server's words.  Pure: the fuzz harness feeds it
 * fields libpq's constructors cannot set.
 */
void
ApexPostgresRemoteError(const char *sqlstate, const char *primary,
						const char *detail, const char *hint,
						ApexRemote *remote)
{
	sqlstate = postgres_sqlstate(sqlstate);
	remote->sqlerrcode = sqlstate
		? MAKE_SQLSTATE(sqlstate[0], sqlstate[1], sqlstate[2], sqlstate[3], sqlstate[4])
		: 0;
	remote->text = primary ? pstrdup(primary) : NULL;
	remote->detail = detail ? pstrdup(detail) : NULL;
	remote->hint = hint ? pstrdup(hint) : NULL;
}

/*
 * Items from a query result (pure; fuzzable through PGresults).  Returns
 * NULL on success with *items set and the rows with a null id counted in
 * *skipped (which the caller zeroes), else the error in our words, with what
 * the remote server said in *remote (the remote error's SQLSTATE, message,
 * detail and hint, or a row's value: all may echo the parameters).
 */
char *
ApexPostgresDecode(const PGresult *res, List **items, int *skipped, ApexRemote *remote)
{
	int			ncols = PQnfields(res);
	const char **names;
	const char **values;

	*items = NIL;
	remote->text = NULL;
	remote->from = NULL;
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		if (PQresultStatus(res) == PGRES_COMMAND_OK)
			return "The query is not a SELECT returning rows.";
		ApexPostgresRemoteError(PQresultErrorField(res, PG_DIAG_SQLSTATE),
								PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY),
								PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL),
								PQresultErrorField(res, PG_DIAG_MESSAGE_HINT),
								remote);
		if (remote->text == NULL)
			remote->text = pstrdup(PQresStatus(PQresultStatus(res)));
		return "The remote query failed.";
	}
	names = palloc(sizeof(char *) * Max(ncols, 1));
	values = palloc(sizeof(char *) * Max(ncols, 1));
	for (int c = 0; c < ncols; c++)
		names[c] = PQfname(res, c);
	for (int r = 0; r < PQntuples(res); r++)
	{
		ApexItem   *item;
		bool		bad_score;

		for (int c = 0; c < ncols; c++)
			values[c] = PQgetisnull(res, r, c) ? NULL : PQgetvalue(res, r, c);
		item = ApexRowItem(ncols, names, values, &bad_score);
		if (bad_score)
		{
			/* the value may echo the parameters; the column is the query's */
			remote->text = pstrdup(values[3]);
			return psprintf("Score column \"%s\" holds a value that is not a number.",
							names[3]);
		}
		if (item)
			*items = lappend(*items, item);
		else
			(*skipped)++;
	}
	return NULL;
}

static void
postgres_done(void *arg, PGresult *res, const char *error, int sqlerrcode,
			  const char *said)
{
	ApexLeg    *leg = arg;
	ApexRemote	remote = {.peer = leg->source, .text = (char *) said,
	.from = "libpq"};
	List	   *items;
	int			skipped = 0;
	char	   *decode_error;

	if (error)
		ApexLegFailRemote(leg, sqlerrcode, &remote, "%s", error);
	else if ((decode_error = ApexPostgresDecode(res, &items, &skipped, &remote)))
		/* the remote error's SQLSTATE, when it sent one */
		ApexLegFailRemote(leg, remote.sqlerrcode ? remote.sqlerrcode : ERRCODE_FDW_ERROR,
						  &remote, "%s", decode_error);
	else
	{
		if (skipped > 0)
			ApexLegSkipped(leg, skipped, APEX_ROW_NO_ID);
		ApexLegFinish(leg, items);
	}
}

/* keyword = value unless value is NULL (absent: libpq's default) */
static int
postgres_add(const char **keywords, const char **values, int n,
			 const char *keyword, const char *value)
{
	Assert(n < POSTGRES_MAX_KEYWORDS);
	if (value == NULL)
		return n;
	keywords[n] = keyword;
	values[n] = value;
	return n + 1;
}

/* a Boolean option (postgres_check_bool) as libpq's 1 or 0 */
static int
postgres_add_bool(const char **keywords, const char **values, int n,
				  const char *keyword, const char *value)
{
	bool		b;

	if (value == NULL || !parse_bool(value, &b))
		return n;
	return postgres_add(keywords, values, n, keyword, b ? "1" : "0");
}

/* a choice (-1: absent) */
static int
postgres_add_choice(const char **keywords, const char **values, int n,
					const char *keyword, const char *const *choices, int choice)
{
	return postgres_add(keywords, values, n, keyword,
						choice >= 0 ? choices[choice] : NULL);
}

/* an integer (0: absent) */
static int
postgres_add_int(const char **keywords, const char **values, int n,
				 const char *keyword, int value)
{
	return postgres_add(keywords, values, n, keyword,
						value > 0 ? psprintf("%d", value) : NULL);
}

/* real[]'s text form of vector, each element exact (9 digits) */
static char *
postgres_vector_text(const float4 *vector, int dim)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	for (int i = 0; i < dim; i++)
		appendStringInfo(&buf, "%s%.9g", i ? "," : "", vector[i]);
	appendStringInfoChar(&buf, '}');
	return buf.data;
}

/* The query with its parameters, once the embedding (if any) is known */
static void
postgres_send(ApexLeg *leg, float4 *vector, int dim)
{
	static const Oid paramtypes[4] = {TEXTOID, INT4OID, JSONBOID, FLOAT4ARRAYOID};
	const PgConf *conf = leg->source->conf;
	const PgEndpoints *ep = &conf->endpoints;
	const ApexSecrets *secrets = leg->source->secrets;
	/* every keyword below, and the terminating NULL */
	const char **keywords = palloc0(sizeof(char *) * (POSTGRES_MAX_KEYWORDS + 1));
	const char **values = palloc0(sizeof(char *) * (POSTGRES_MAX_KEYWORDS + 1));
	const char **params = palloc0(sizeof(char *) * 4);
	ApexPgRequest req = {0};
	int			n = 0;

	if (conf->endpoints_error)
	{
		/* what libpq would refuse to connect with (postgres_check) */
		ApexLegFail(leg, ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION, "%s",
					ApexSentence(conf->endpoints_error));
		return;
	}
	/* the endpoints checked against apex_router.allowed_hosts, resolved */
	keywords[n] = "host";
	values[n++] = postgres_join(ep->hosts);
	if (ep->hostaddrs)
	{
		keywords[n] = "hostaddr";
		values[n++] = postgres_join(ep->hostaddrs);
	}
	keywords[n] = "port";
	values[n++] = postgres_join(ep->ports);
	if (conf->dbname)
	{
		keywords[n] = "dbname";
		values[n++] = conf->dbname;
	}
	if (conf->sslmode >= 0)
	{
		keywords[n] = "sslmode";
		values[n++] = postgres_sslmodes[conf->sslmode];
	}
	/* libpq's connection options as given (each checked by the table) */
	n = postgres_add(keywords, values, n, "sslrootcert", conf->sslrootcert);
	n = postgres_add(keywords, values, n, "sslcrl", conf->sslcrl);
	n = postgres_add(keywords, values, n, "sslcrldir", conf->sslcrldir);
	n = postgres_add_bool(keywords, values, n, "sslsni", conf->sslsni);
	n = postgres_add_choice(keywords, values, n, "ssl_min_protocol_version",
							postgres_tls_versions, conf->ssl_min_protocol_version);
	n = postgres_add_choice(keywords, values, n, "ssl_max_protocol_version",
							postgres_tls_versions, conf->ssl_max_protocol_version);
	n = postgres_add_choice(keywords, values, n, "channel_binding",
							postgres_three_modes, conf->channel_binding);
	n = postgres_add_choice(keywords, values, n, "gssencmode",
							postgres_three_modes, conf->gssencmode);
	n = postgres_add(keywords, values, n, "krbsrvname", conf->krbsrvname);
	n = postgres_add(keywords, values, n, "requirepeer", conf->requirepeer);
	n = postgres_add_choice(keywords, values, n, "target_session_attrs",
							postgres_session_attrs, conf->target_session_attrs);
	n = postgres_add_bool(keywords, values, n, "keepalives", conf->keepalives);
	n = postgres_add_int(keywords, values, n, "keepalives_idle", conf->keepalives_idle);
	n = postgres_add_int(keywords, values, n, "keepalives_interval",
						 conf->keepalives_interval);
	n = postgres_add_int(keywords, values, n, "keepalives_count", conf->keepalives_count);
	n = postgres_add_int(keywords, values, n, "tcp_user_timeout", conf->tcp_user_timeout);
	/* the user mapping's */
	n = postgres_add(keywords, values, n, "user", secrets->user);
	/* postgres_authorize has checked the password rule */
	n = postgres_add(keywords, values, n, "password", secrets->password);
	n = postgres_add(keywords, values, n, "sslcert", secrets->sslcert);
	n = postgres_add(keywords, values, n, "sslkey", secrets->sslkey);
	n = postgres_add(keywords, values, n, "sslpassword", secrets->sslpassword);
	/* as postgres_fdw: the remote server converts text to our encoding */
	keywords[n] = "client_encoding";
	values[n++] = GetDatabaseEncodingName();
	/*
	 * as postgres_fdw's configure_remote_session: dates in one form, whatever
	 * the remote database's DateStyle, for time_field (leg.c) and the items'
	 * raw JSON
	 */
	keywords[n] = "options";
	values[n++] = "-c datestyle=ISO,YMD";

	params[0] = leg->query->text;
	params[1] = psprintf("%d", leg->query->limit);
	params[2] = ApexScopeText(leg->query);
	if (vector)
		params[3] = postgres_vector_text(vector, dim);

	req.loop = leg->call->loop;
	req.serverid = leg->source->serverid;
	req.mapping_oid = leg->source->mapping_oid;
	req.label = leg->source->name;
	req.keywords = keywords;
	req.values = values;
	req.query = conf->query;
	req.nparams = 4;
	req.paramtypes = paramtypes;
	req.params = params;
	req.identity_template = conf->application_name;
	req.connect_timeout_ms = ApexLegConnectTimeoutMs(leg, leg->source);
	/* the server's own identity only for a superuser's call of its source */
	req.password_required = !superuser() || !superuser_arg(leg->source->owner);
	req.owner = leg;
	req.done = postgres_done;
	req.arg = leg;
	ApexPgStart(&req);
}

/* The caller's vector, else the embedder's (resolved by the plan), if any */
static void
postgres_start(ApexLeg *leg)
{
	const ApexQuery *query = leg->query;

	if (query->vector || leg->source->embedder == NULL)
		postgres_send(leg, query->vector, query->vector_dim);
	else
		ApexEmbedStart(leg, leg->source->embedder, query->text, postgres_send);
}

static const char *
postgres_embedder(const void *conf)
{
	return ((const PgConf *) conf)->embedder;
}

/*
 * The password rule, as postgres_fdw's check_conn_params, decided when the
 * call is planned (ApexUseSource), before anything is sent: a non-superuser
 * must bring a password (an ERROR: the caller's mistake); a superuser
 * calling a source another role owns must too, or its query, that role's
 * code, would run with the server's own identity (peer or trust on a local
 * socket, ~/.pgpass, client certificates): a planted source would run as a
 * remote, or the local, superuser at any superuser's plain apex_route()
 * (issue 9).  That source fails alone; the call goes on.
 */
static const char *
postgres_authorize(const ApexSource *source)
{
	if (source->secrets->password)
		return NULL;
	if (!superuser())
		ereport(ERROR,
				(errcode(ERRCODE_S_R_E_PROHIBITED_SQL_STATEMENT_ATTEMPTED),
				 errmsg("password is required"),
				 errdetail("Non-superusers must provide a password in the user mapping of source \"%s\".",
						   source->name)));
	if (!superuser_arg(source->owner))
		return "A password is required: the source's owner is not a superuser.";
	return NULL;
}

const ApexKind ApexPostgresKind = {
	.name = "postgres",
	.options = postgres_options,
	.mapping_options = (const char *const[]) {"user", "password", "sslcert",
	"sslkey", "sslpassword", NULL},
	.conf_size = sizeof(PgConf),
	.check = postgres_check,
	.authorize = postgres_authorize,
	.embedder = postgres_embedder,
	.vector_optional = true,
	.start = postgres_start,
	.targets = postgres_targets,
	/* the endpoints come from libpq's defaults (postgres_check) */
	.conf_reads_environment = true,
};
