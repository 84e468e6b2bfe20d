/*-------------------------------------------------------------------------
 *
 * option.c
 *		  The validator of the apex_router foreign-data wrapper, and the one
 *		  parser of source options (see option.h).
 *
 * A source is a foreign server; its `kind` option picks the ApexKind whose
 * table lists the other options it takes, besides the common ones below.
 * Secrets (user, password, api_key, token, and postgres' sslcert, sslkey
 * and sslpassword) are accepted only on user
 * mappings, never on servers, so they are readable only by the mapping's
 * user and superusers (as with postgres_fdw).  Each kind names the ones
 * it reads (ApexKind.mapping_options).  PostgreSQL hands the validator a
 * user mapping's options without its server, so the validator can refuse
 * only names no kind takes; the object access hook of mapping_check.c
 * refuses, in the same statement, those the server's kind does not read.
 *
 * IDENTIFICATION
 *		  src/option.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <curl/curl.h>
#include <math.h>

#include "access/reloptions.h"
#include "catalog/pg_foreign_data_wrapper.h"
#include "catalog/pg_foreign_server.h"
#include "catalog/pg_user_mapping.h"
#include "commands/defrem.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/guc.h"

#include "apex_router.h"
#include "json.h"

/*
 * Options every kind takes, parsed into the ApexSource itself; "kind" is
 * read first, to find the kind's own table.  An absent timeout is 0: the
 * catalog applies the apex_router.* setting (catalog.c).
 */
/* the common options only some kinds take */
#define APEX_SLOTS_OPTION "max_concurrent_requests"
#define APEX_TIME_OPTION "time_field"

static const ApexOption apex_common_options[] = {
	{APEX_OPT("kind", APEX_OPTION_STRING, ApexSource, kind_name), .required = true},
	{APEX_OPT("weight", APEX_OPTION_REAL, ApexSource, weight), .dflt = "1",
	 .min = 0, .max = 1000},
	{APEX_OPT("timeout_ms", APEX_OPTION_INT, ApexSource, timeout_ms),
	 .min = 1, .max = APEX_MAX_DURATION_MS},
	{APEX_OPT("connect_timeout_ms", APEX_OPTION_INT, ApexSource, connect_timeout_ms),
	 .min = 1, .max = APEX_MAX_DURATION_MS},
	{APEX_OPT(APEX_SLOTS_OPTION, APEX_OPTION_INT, ApexSource, max_concurrent_requests),
	 .min = 0, .max = APEX_MAX_CONCURRENT_REQUESTS},
	{APEX_OPT("breaker_failures", APEX_OPTION_INT, ApexSource, breaker_failures),
	 .dflt = "0", .min = 0, .max = 1000000},
	{APEX_OPT("breaker_cooldown_ms", APEX_OPTION_INT, ApexSource, breaker_cooldown_ms),
	 .dflt = "30000", .min = 1, .max = APEX_MAX_DURATION_MS},
	{APEX_OPT(APEX_TIME_OPTION, APEX_OPTION_STRING, ApexSource, time_field),
	 .validate = ApexCheckKeyPathOption},
	{NULL}
};

/* A key path naming one value of an item (json_path.c: Qdrant's syntax) */
void
ApexCheckKeyPathOption(const char *name, const char *value)
{
	const char *problem = ApexJsonPathCheck(value);

	if (problem)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for option \"%s\"", name),
				 errdetail("%s", problem)));
}

/* options of user mappings: the only place secrets may live */
static const ApexOption apex_mapping_options[] = {
	{APEX_OPT("user", APEX_OPTION_STRING, ApexSecrets, user)},
	{APEX_OPT("password", APEX_OPTION_STRING, ApexSecrets, password)},
	{APEX_OPT("api_key", APEX_OPTION_STRING, ApexSecrets, api_key)},
	{APEX_OPT("token", APEX_OPTION_STRING, ApexSecrets, token)},
	/* postgres: a client certificate names a remote user, as "user" does */
	{APEX_OPT("sslcert", APEX_OPTION_STRING, ApexSecrets, sslcert),
	 .validate = ApexCheckServerFileOption},
	{APEX_OPT("sslkey", APEX_OPTION_STRING, ApexSecrets, sslkey),
	 .validate = ApexCheckServerFileOption},
	{APEX_OPT("sslpassword", APEX_OPTION_STRING, ApexSecrets, sslpassword)},
	{APEX_OPT("headers", APEX_OPTION_HEADERS, ApexSecrets, headers), .secret = true},
	{APEX_OPT("proxy_user", APEX_OPTION_STRING, ApexSecrets, proxy_user)},
	{APEX_OPT("proxy_password", APEX_OPTION_STRING, ApexSecrets, proxy_password)},
	{NULL}
};

PG_FUNCTION_INFO_V1(apex_router_fdw_validator);

static const ApexOption *
apex_option_find(const ApexOption *table, const char *name)
{
	for (; table && table->name; table++)
	{
		if (strcmp(table->name, name) == 0)
			return table;
	}
	return NULL;
}

/*
 * Does a source of this kind (NULL: not a source) take request slots?
 * Only kinds that send requests to a remote store (source_slots.c).
 */
static bool
apex_kind_takes_slots(const ApexKind *kind)
{
	return kind && kind->start && kind->targets;
}

/* the kinds that are searched: their items have times (time_field) */
static bool
apex_kind_returns_items(const ApexKind *kind)
{
	return kind && (kind->start || kind->run_local);
}

/*
 * "a, b, c": the names of up to two tables, for hints; those of a source
 * of kind (NULL: a user mapping's)
 */
static char *
apex_option_names(const ApexOption *a, const ApexOption *b,
				  const ApexKind *kind)
{
	StringInfoData buf;
	const ApexOption *tables[2] = {a, b};

	initStringInfo(&buf);
	for (int i = 0; i < 2; i++)
	{
		for (const ApexOption *o = tables[i]; o && o->name; o++)
		{
			if (o->refused)
				continue;
			if (strcmp(o->name, APEX_SLOTS_OPTION) == 0 &&
				!apex_kind_takes_slots(kind))
				continue;
			if (strcmp(o->name, APEX_TIME_OPTION) == 0 &&
				!apex_kind_returns_items(kind))
				continue;
			appendStringInfo(&buf, "%s%s", buf.len ? ", " : "", o->name);
		}
	}
	return buf.data;
}

static char *
apex_choice_names(const char *const *choices)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (; *choices; choices++)
		appendStringInfo(&buf, "%s%s", buf.len ? ", " : "", *choices);
	return buf.data;
}

static void
apex_bad_value(const char *name, const char *value, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid value for option \"%s\": \"%s\"", name, value),
			 errdetail("%s", detail)));
}

/* Parse value as option o says and store it in conf; ERROR when invalid */
static void
apex_option_store(const ApexOption *o, const char *value, char *conf)
{
	void	   *field = conf + o->offset;
	int			i;
	double		d;
	bool		b;

	switch (o->type)
	{
		case APEX_OPTION_STRING:
			*(char **) field = pstrdup(value);
			break;
		case APEX_OPTION_INT:
			if (!parse_int(value, &i, 0, NULL) || i < o->min || i > o->max)
				apex_bad_value(o->name, value,
							   psprintf("Valid values are integers from %d to %d.",
										(int) o->min, (int) o->max));
			*(int *) field = i;
			break;
		case APEX_OPTION_REAL:
			if (!parse_real(value, &d, 0, NULL) || isnan(d) || d < o->min || d > o->max)
				apex_bad_value(o->name, value,
							   psprintf("Valid values are numbers from %g to %g.",
										o->min, o->max));
			*(double *) field = d;
			break;
		case APEX_OPTION_BOOL:
			if (!parse_bool(value, &b))
				apex_bad_value(o->name, value,
							   "Valid values are Boolean: on, off, true, false, yes, no, 1, 0.");
			*(bool *) field = b;
			break;
		case APEX_OPTION_CHOICE:
			for (i = 0; o->choices[i]; i++)
			{
				if (strcmp(o->choices[i], value) == 0)
					break;
			}
			if (o->choices[i] == NULL)
				apex_bad_value(o->name, value,
							   psprintf("Valid values are: %s.", apex_choice_names(o->choices)));
			*(int *) field = i;
			break;
		case APEX_OPTION_PORT:
			if ((i = ApexParsePort(value)) < 0)
				apex_bad_value(o->name, value,
							   "Valid values are port numbers from 1 to 65535.");
			*(int *) field = i;
			break;
		case APEX_OPTION_HEADERS:
			*(List **) field = ApexParseHeaders(o->name, value, o->secret);
			break;
	}
}

/* The value an absent option without a default has (see option.h) */
static void
apex_option_absent(const ApexOption *o, char *conf)
{
	void	   *field = conf + o->offset;

	switch (o->type)
	{
		case APEX_OPTION_REAL:
			*(double *) field = get_float8_nan();
			break;
		case APEX_OPTION_CHOICE:
			*(int *) field = -1;
			break;
		default:
			break;				/* zeroed */
	}
}

/*
 * Parse options against up to two tables, each filling its own struct
 * (tables[i] into confs[i]).  kind names the source kind whose options
 * they are, for messages; NULL for a user mapping's.  Unknown names, missing required
 * options and bad values are ERRORs.  The options' validate functions run
 * only when validating (CREATE/ALTER): they may depend on who runs the DDL
 * (ca_file is for superusers), and what the catalog holds passed them.
 */
static void
apex_parse(const char *kind, const ApexOption *const tables[2],
		   void *const confs[2], List *options, bool validating)
{
	ListCell   *lc;

	foreach(lc, options)
	{
		DefElem    *def = lfirst(lc);
		const ApexOption *o = NULL;
		int			t;

		for (t = 0; t < 2 && o == NULL; t++)
			o = apex_option_find(tables[t], def->defname);
		/* "headers" is a server's option too (HTTP kinds') */
		if (o == NULL && tables[0] != apex_mapping_options &&
			apex_option_find(apex_mapping_options, def->defname) &&
			strcmp(def->defname, "headers") != 0)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
					 errmsg("option \"%s\" is only allowed on a user mapping",
							def->defname),
					 errhint("Secrets belong in CREATE USER MAPPING ... OPTIONS (%s '...').",
							 def->defname)));
		if (o == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
					 kind ? errmsg("invalid option \"%s\" for source kind \"%s\"",
								   def->defname, kind)
					 : errmsg("invalid option \"%s\" for a user mapping", def->defname),
					 errhint("Valid options are: %s.",
							 apex_option_names(tables[0], tables[1],
											   kind ? ApexFindKind(kind) : NULL))));
		if (o->refused)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
					 errmsg("option \"%s\" is not supported for source kind \"%s\"",
							def->defname, kind),
					 errdetail("%s", o->refused)));
		/* defGetString rejects a missing value with a clear message */
		apex_option_store(o, defGetString(def), confs[t - 1]);
		if (o->validate && validating)
			o->validate(o->name, defGetString(def));
	}
	for (int i = 0; i < 2; i++)
	{
		for (const ApexOption *o = tables[i]; o && o->name; o++)
		{
			bool		given = false;

			if (o->refused)
				continue;

			foreach(lc, options)
				given |= strcmp(((DefElem *) lfirst(lc))->defname, o->name) == 0;
			if (given)
				continue;
			/* only a kind's options are required, never a mapping's */
			if (o->required)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
						 errmsg("source kind \"%s\" requires option \"%s\"",
								kind, o->name)));
			if (o->dflt)
				apex_option_store(o, o->dflt, confs[i]);
			else
				apex_option_absent(o, confs[i]);
		}
	}
}

/*
 * Parse a server's options into source: its kind, the common options
 * (weight, timeouts: 0 when absent) and the kind's configuration
 * (source->conf), completed by the kind's check function (cross-option
 * rules, derived values).  The validator (validating) and the catalog both
 * come here.
 */
void
ApexParseServer(List *options, ApexSource *source, bool validating)
{
	ListCell   *lc;
	const char *kindname = NULL;

	foreach(lc, options)
	{
		if (strcmp(((DefElem *) lfirst(lc))->defname, "kind") == 0)
			kindname = defGetString(lfirst(lc));
	}
	if (kindname == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("option \"kind\" is required"),
				 errhint("Valid kinds are: %s.", ApexKindNames())));
	source->kind = ApexFindKind(kindname);
	if (source->kind == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for option \"kind\": \"%s\"", kindname),
				 errhint("Valid kinds are: %s.", ApexKindNames())));
	source->conf = palloc0(source->kind->conf_size);
	apex_parse(source->kind->name, (const ApexOption *const[2]) {apex_common_options,
				   source->kind->options},
			   (void *const[2]) {source, source->conf}, options, validating);
	if (source->kind->check)
		source->kind->check(source->conf);
	if (source->time_field && !apex_kind_returns_items(source->kind))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
				 errmsg("invalid option \"%s\" for source kind \"%s\"",
						APEX_TIME_OPTION, source->kind->name),
				 errdetail("Sources of kind \"%s\" return no items.", source->kind->name)));
	if (source->time_field == NULL)
		source->time_field = (char *) source->kind->default_time_field;
	/* only legs that send requests to a store take slots (source_slots.c) */
	if (source->max_concurrent_requests > 0 &&
		!apex_kind_takes_slots(source->kind))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
				 errmsg("invalid option \"%s\" for source kind \"%s\"",
						APEX_SLOTS_OPTION, source->kind->name),
				 strcmp(source->kind->name, "embedder") == 0
				 ? errdetail("An embedder is asked by the legs of the sources that use it, while they hold a request slot of their own: their max_concurrent_requests bounds its requests.")
				 : errdetail("Sources of kind \"%s\" send no requests to a remote store.",
							 source->kind->name)));
}

static ApexSecrets *apex_parse_secrets(const ApexKind *kind, List *options,
										bool validating);

/*
 * Parse a user mapping's options (NIL: no mapping, every secret NULL).
 * kind is the source kind of the mapping's server, or NULL where it is not
 * known (the validator: see mapping_check.c); an option the kind does not
 * read is an ERROR, as a secret that is never sent makes a login fail for
 * no visible reason (issue 11).
 */
ApexSecrets *
ApexParseSecrets(const ApexKind *kind, List *options)
{
	return apex_parse_secrets(kind, options, false);
}

/* validating: CREATE/ALTER USER MAPPING (sslcert and sslkey's checks) */
static ApexSecrets *
apex_parse_secrets(const ApexKind *kind, List *options, bool validating)
{
	ApexSecrets *secrets = palloc0(sizeof(ApexSecrets));
	ListCell   *lc;

	apex_parse(NULL,
			   (const ApexOption *const[2]) {apex_mapping_options, NULL},
			   (void *const[2]) {secrets, NULL}, options, validating);
	if (kind == NULL)
		return secrets;
	foreach(lc, options)
	{
		const char *name = ((DefElem *) lfirst(lc))->defname;
		const char *const *read = kind->mapping_options;

		while (read && *read && strcmp(*read, name) != 0)
			read++;
		if (read && *read)
			continue;
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
				 errmsg("invalid option \"%s\" for a user mapping of source kind \"%s\"",
						name, kind->name),
				 errdetail("Sources of kind \"%s\" never read it.", kind->name),
				 kind->mapping_options
				 ? errhint("Valid options are: %s.",
						   apex_choice_names(kind->mapping_options))
				 : errhint("Sources of kind \"%s\" take no user mapping options.",
						   kind->name)));
	}
	return secrets;
}

/*
 * Request headers the transport or the kind sets itself, or that would
 * change how the request is framed or whom it reaches: an option may not
 * set them.  Authorization and api-key carry a mapping's api_key, token or
 * user and password (the kinds' own); Proxy-Authorization the mapping's
 * proxy_user and proxy_password; User-Agent says who asks (identity.c);
 * Access-Mode is neo4j's access_mode option.
 */
static const char *const apex_reserved_headers[] = {
	"accept-encoding", "access-mode", "api-key", "authorization", "connection",
	"content-encoding", "content-length", "content-type", "expect", "host",
	"keep-alive", "proxy-authorization", "proxy-connection", "te",
	"trailer", "transfer-encoding", "upgrade", "user-agent", NULL
};

/* RFC 9110, 5.6.2: tchar */
static bool
apex_header_tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		(c >= '0' && c <= '9') ||
		(c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* Why a header of apex_reserved_headers is refused, as a detail */
static char *
apex_reserved_header(const char *header)
{
	if (pg_strcasecmp(header, "authorization") == 0 ||
		pg_strcasecmp(header, "api-key") == 0)
		return psprintf("Header \"%s\" is set by apex_router itself: credentials go in the user mapping's api_key, token or user and password.",
						header);
	if (pg_strcasecmp(header, "access-mode") == 0)
		return psprintf("Header \"%s\" is set by apex_router itself: it is neo4j's option access_mode.",
						header);
	if (pg_strcasecmp(header, "proxy-authorization") == 0)
		return psprintf("Header \"%s\" is set by apex_router itself: proxy credentials go in the user mapping's proxy_user and proxy_password.",
						header);
	return psprintf("Header \"%s\" is set by apex_router itself.", header);
}

/*
 * The headers option is refused, why in detail; the hint shows the form
 * unless the form was right and a header is one apex_router sets (the
 * detail then says where its value comes from)
 */
static void
apex_bad_headers(const char *name, const char *detail, bool show_form)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid value for option \"%s\"", name),
			 errdetail("%s", detail),
			 show_form ? errhint("Give a JSON object of header names and string values, e.g. '{\"X-Gateway-Route\": \"search\"}'.") : 0));
}

/*
 * Extra request headers: a JSON object of header names and string values
 * (PostgreSQL's JSON parser; of duplicate keys the last wins, as in jsonb),
 * as "Name: value" strings for libcurl.  A name is an RFC 9110 token, not
 * one of apex_reserved_headers nor given twice in another case; a value is
 * not empty (libcurl would remove the header instead), has no control
 * character but tab (no CR, LF or NUL: nothing can add a header or split
 * the request), and no blank at either end (RFC 9110 strips them).  The
 * error names the header, never quotes a value: a user mapping's values
 * are secrets (secret: the JSON parser's words, which may quote the text,
 * are not shown either).
 */
List *
ApexParseHeaders(const char *name, const char *value, bool secret)
{
	char	   *error;
	JsonbValue *tree = ApexJsonParseLocal(value, strlen(value), &error);
	List	   *headers = NIL;
	int			n;

	if (tree == NULL)
	{
		ApexRemote	parser = {0};

		(void) ApexJsonErrorCause(error, &parser);
		apex_bad_headers(name, secret ? "The value is not valid JSON." :
						 parser.text ? parser.text : error, true);
	}
	if (tree->type != jbvObject)
		apex_bad_headers(name, "The headers are a JSON object.", true);
	n = tree->val.object.nPairs;
	for (int i = 0; i < n; i++)
	{
		JsonbPair  *pair = &tree->val.object.pairs[i];
		char	   *header = pnstrdup(pair->key.val.string.val,
									  pair->key.val.string.len);
		JsonbValue *v = &pair->value;
		const unsigned char *p;
		int			len;

		if (header[0] == '\0')
			apex_bad_headers(name, "A header name may not be empty.", true);
		for (p = (const unsigned char *) header; *p; p++)
		{
			if (!apex_header_tchar(*p))
				apex_bad_headers(name, psprintf("Header name \"%s\" is not an HTTP token: it may hold only letters, digits and !#$%%&'*+-.^_`|~.",
												header), true);
		}
		if ((size_t) pair->key.val.string.len != strlen(header))
			apex_bad_headers(name, "A header name may not hold a NUL character.", true);
		for (const char *const *r = apex_reserved_headers; *r; r++)
		{
			if (pg_strcasecmp(header, *r) == 0)
				apex_bad_headers(name, apex_reserved_header(header), false);
		}
		for (int j = 0; j < i; j++)
		{
			JsonbPair  *other = &tree->val.object.pairs[j];

			if (pg_strncasecmp(other->key.val.string.val, header,
							   other->key.val.string.len) == 0 &&
				(size_t) other->key.val.string.len == strlen(header))
				apex_bad_headers(name, psprintf("Header \"%s\" is given twice.", header), true);
		}
		if (v->type != jbvString)
			apex_bad_headers(name, psprintf("The value of header \"%s\" is not a string.", header), true);
		len = v->val.string.len;
		if (len == 0)
			apex_bad_headers(name, psprintf("The value of header \"%s\" is empty.", header), true);
		p = (const unsigned char *) v->val.string.val;
		if (p[0] == ' ' || p[0] == '\t' || p[len - 1] == ' ' || p[len - 1] == '\t')
			apex_bad_headers(name, psprintf("The value of header \"%s\" begins or ends with a blank.", header), true);
		for (int k = 0; k < len; k++)
		{
			if ((p[k] < 0x20 && p[k] != '\t') || p[k] == 0x7f)
				apex_bad_headers(name, psprintf("The value of header \"%s\" holds a control character (CR, LF, NUL, ...).", header), true);
		}
		headers = lappend(headers, psprintf("%s: %.*s", header, len,
											v->val.string.val));
	}
	return headers;
}


/* Free a URL option's handle; refuse the value when there is a problem */
static void
apex_url_done(CURLU *url, const char *name, const char *problem)
{
	curl_url_cleanup(url);
	if (problem)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for option \"%s\"", name),
				 errdetail("%s", problem)));
}

/*
 * A URL option's value parsed by libcurl: the handle (for apex_url_done to
 * free), or an ERROR when libcurl cannot parse it
 */
static CURLU *
apex_url_parse(const char *name, const char *value)
{
	CURLU	   *url = curl_url();
	CURLUcode	rc;

	if (url == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OUT_OF_MEMORY),
				 errmsg("out of memory"),
				 errdetail("libcurl could not allocate a URL handle.")));
	rc = curl_url_set(url, CURLUPART_URL, value, 0);
	if (rc != CURLUE_OK)
		apex_url_done(url, name,
					  psprintf("The URL could not be parsed: %s.", curl_url_strerror(rc)));
	return url;
}

/*
 * A forward proxy for a source's HTTP requests: http://host:port, the port
 * given (libcurl's default proxy port is 1080, whatever the scheme says),
 * nothing else in the URL, no credentials (the user mapping's proxy_user
 * and proxy_password).  apex_router.allowed_hosts checks its host and port
 * too (ApexUrlTargets).
 */
void
ApexCheckProxyOption(const char *name, const char *value)
{
	CURLU	   *url = apex_url_parse(name, value);
	const char *problem = NULL;
	char	   *scheme = NULL;
	char	   *user = NULL;
	char	   *port = NULL;
	char	   *path = NULL;
	char	   *query = NULL;

	if (curl_url_get(url, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
		strcmp(scheme, "http") != 0)
		problem = "Only http:// proxies are supported (an https origin is reached through the proxy's CONNECT tunnel, verified end to end).";
	else if (curl_url_get(url, CURLUPART_USER, &user, 0) == CURLUE_OK)
		problem = "Proxy credentials belong in a user mapping (proxy_user, proxy_password), not in the URL.";
	else if (curl_url_get(url, CURLUPART_PORT, &port, 0) != CURLUE_OK)
		problem = "The proxy URL must give its port (libcurl would take 1080).";
	else if ((curl_url_get(url, CURLUPART_PATH, &path, 0) == CURLUE_OK &&
			  strcmp(path, "/") != 0) ||
			 curl_url_get(url, CURLUPART_QUERY, &query, 0) == CURLUE_OK)
		problem = "A proxy URL names a host and a port only.";
	curl_free(scheme);
	curl_free(user);
	curl_free(port);
	curl_free(path);
	curl_free(query);
	apex_url_done(url, name, problem);
}

/*
 * URLs must be http(s) and carry no credentials: secrets belong in user
 * mappings, where other roles cannot read them.
 */
void
ApexCheckUrlOption(const char *name, const char *value)
{
	CURLU	   *url = apex_url_parse(name, value);
	const char *problem = NULL;
	char	   *scheme = NULL;
	char	   *user = NULL;

	if (curl_url_get(url, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
		(strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0))
		problem = "Only http and https URLs are supported.";
	else if (curl_url_get(url, CURLUPART_USER, &user, 0) == CURLUE_OK)
		problem = "Credentials belong in a user mapping, not in the URL.";
	curl_free(scheme);
	curl_free(user);
	apex_url_done(url, name, problem);
}

/*
 * The server process reads ca_file: like postgres_fdw's sslrootcert, a
 * role must not be able to point it at files of the server.
 */
void
ApexCheckCaFileOption(const char *name, const char *value)
{
	if (!superuser())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("only superusers may set option \"%s\"", name)));
	if (!is_absolute_path(value))
		apex_bad_value(name, value, "The CA file must be given by an absolute path.");
}

/*
 * A file the server process reads for a postgres source (sslrootcert,
 * sslcrl, sslcrldir; sslcert and sslkey of a user mapping): for superusers
 * only, as ca_file and as postgres_fdw's sslcert and sslkey on user
 * mappings.  Otherwise a role could make the server use its operating-
 * system user's own files: present the server's client certificate
 * (~/.postgresql/postgresql.crt, or its own server key) to a host of the
 * role's choice, or probe which files exist.
 */
void
ApexCheckServerFileOption(const char *name, const char *value)
{
	if (!superuser())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("only superusers may set option \"%s\"", name),
				 errdetail("The database server reads the file it names.")));
	if (!is_absolute_path(value))
		apex_bad_value(name, value, "The file must be given by an absolute path.");
}

/*
 * Validate the options of CREATE/ALTER FOREIGN DATA WRAPPER, SERVER and
 * USER MAPPING.  Servers get the complete option list even on
 * ALTER SERVER ... OPTIONS (SET ...), so cross-option checks are sound.
 */
Datum
apex_router_fdw_validator(PG_FUNCTION_ARGS)
{
	List	   *options = untransformRelOptions(PG_GETARG_DATUM(0));
	Oid			catalog = PG_GETARG_OID(1);

	if (catalog == ForeignServerRelationId)
	{
		ApexSource	source = {0};
		List	   *targets;

		ApexParseServer(options, &source, true);
		/* a kind's targets may refuse options, as libpq would (postgres) */
		targets = ApexSourceTargets(&source);
		if (!superuser())
			ApexCheckTargets(targets);
	}
	else if (catalog == UserMappingRelationId)
		(void) apex_parse_secrets(NULL, options, true);
	else if (options != NIL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
				 errmsg("invalid option \"%s\"", ((DefElem *) linitial(options))->defname),
				 errhint("The apex_router wrapper takes options only on servers and user mappings.")));
	PG_RETURN_VOID();
}
