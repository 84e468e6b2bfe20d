/*-------------------------------------------------------------------------
 *
 * option.c
 *		  Validator of the apex_router foreign-data wrapper, option helpers.
 *
 * A source is a foreign server; its `kind` option picks the ApexKind that
 * lists the other options it takes.  Secrets (user, password, api_key,
 * token) are accepted only on user mappings, never on servers, so they are
 * readable only by the mapping's user and superusers (as with postgres_fdw).
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
#include "miscadmin.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/guc.h"

#include "apex_router.h"

/* options every source kind takes */
static const char *const apex_common_options[] = {
	"kind", "weight", "timeout_ms", "connect_timeout_ms", NULL
};

/* options of user mappings: the only place secrets may live */
static const char *const apex_mapping_options[] = {
	"user", "password", "api_key", "token", NULL
};

PG_FUNCTION_INFO_V1(apex_router_fdw_validator);

static bool
apex_in_list(const char *const *list, const char *name)
{
	for (; list && *list; list++)
	{
		if (strcmp(*list, name) == 0)
			return true;
	}
	return false;
}

static char *
apex_join(const char *const *a, const char *const *b)
{
	StringInfoData buf;
	const char *const *lists[2] = {a, b};

	initStringInfo(&buf);
	for (int i = 0; i < 2; i++)
	{
		for (const char *const *p = lists[i]; p && *p; p++)
			appendStringInfo(&buf, "%s%s", buf.len ? ", " : "", *p);
	}
	return buf.data;
}

const char *
ApexGetOption(List *options, const char *name)
{
	ListCell   *lc;

	foreach(lc, options)
	{
		DefElem    *def = lfirst(lc);

		if (strcmp(def->defname, name) == 0)
			return defGetString(def);
	}
	return NULL;
}

int
ApexParseIntOption(const char *name, const char *value, int min, int max)
{
	int			result;

	if (!parse_int(value, &result, 0, NULL) || result < min || result > max)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for option \"%s\": \"%s\"", name, value),
				 errdetail("Valid values are integers from %d to %d.", min, max)));
	return result;
}

double
ApexParseRealOption(const char *name, const char *value, double min, double max)
{
	double		result;

	if (!parse_real(value, &result, 0, NULL) || isnan(result) ||
		result < min || result > max)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for option \"%s\": \"%s\"", name, value),
				 errdetail("Valid values are numbers from %g to %g.", min, max)));
	return result;
}

void
ApexCheckChoiceOption(const char *name, const char *value,
					  const char *const *choices)
{
	if (!apex_in_list(choices, value))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for option \"%s\": \"%s\"", name, value),
				 errdetail("Valid values are: %s.", apex_join(choices, NULL))));
}

/*
 * URLs must be http(s) and carry no credentials: secrets belong in user
 * mappings, where other roles cannot read them.
 */
void
ApexCheckUrlOption(const char *name, const char *value)
{
	CURLU	   *url = curl_url();
	CURLUcode	rc;
	char	   *scheme = NULL;
	char	   *user = NULL;
	const char *problem = NULL;

	if (url == NULL)
		elog(ERROR, "out of memory in curl_url");
	rc = curl_url_set(url, CURLUPART_URL, value, 0);
	if (rc != CURLUE_OK)
		problem = psprintf("The URL could not be parsed: %s.", curl_url_strerror(rc));
	else if (curl_url_get(url, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
			 (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0))
		problem = "Only http and https URLs are supported.";
	else if (curl_url_get(url, CURLUPART_USER, &user, 0) == CURLUE_OK)
		problem = "Credentials belong in a user mapping, not in the URL.";
	curl_free(scheme);
	curl_free(user);
	curl_url_cleanup(url);
	if (problem)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for option \"%s\"", name),
				 errdetail("%s", problem)));
}

static const char *const apex_booleans[] = {"true", "false", NULL};

/*
 * The server process reads ca_file: like postgres_fdw's sslrootcert, a
 * role must not be able to point it at files of the server.
 */
static void
apex_check_ca_file(const char *value)
{
	if (!superuser())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("only superusers may set option \"ca_file\"")));
	if (!is_absolute_path(value))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for option \"ca_file\": \"%s\"", value),
				 errdetail("The CA file must be given by an absolute path.")));
}

static void
apex_validate_server(List *options)
{
	const char *kindname = ApexGetOption(options, "kind");
	const ApexKind *kind;
	const char *value;
	ListCell   *lc;

	if (kindname == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("option \"kind\" is required"),
				 errhint("Valid kinds are: %s.", ApexKindNames())));
	kind = ApexFindKind(kindname);
	if (kind == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for option \"kind\": \"%s\"", kindname),
				 errhint("Valid kinds are: %s.", ApexKindNames())));

	foreach(lc, options)
	{
		DefElem    *def = lfirst(lc);

		if (apex_in_list(apex_mapping_options, def->defname))
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
					 errmsg("option \"%s\" is only allowed on a user mapping",
							def->defname),
					 errhint("Secrets belong in CREATE USER MAPPING ... OPTIONS (%s '...').",
							 def->defname)));
		if (!apex_in_list(apex_common_options, def->defname) &&
			!apex_in_list(kind->server_options, def->defname))
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
					 errmsg("invalid option \"%s\" for source kind \"%s\"",
							def->defname, kind->name),
					 errhint("Valid options are: %s.",
							 apex_join(apex_common_options, kind->server_options))));
	}
	for (const char *const *req = kind->required_options; req && *req; req++)
	{
		if (ApexGetOption(options, *req) == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
					 errmsg("source kind \"%s\" requires option \"%s\"",
							kind->name, *req)));
	}
	if ((value = ApexGetOption(options, "weight")))
		ApexParseRealOption("weight", value, 0.0, 1000.0);
	if ((value = ApexGetOption(options, "timeout_ms")))
		ApexParseIntOption("timeout_ms", value, 1, 3600000);
	if ((value = ApexGetOption(options, "connect_timeout_ms")))
		ApexParseIntOption("connect_timeout_ms", value, 1, 3600000);
	if ((value = ApexGetOption(options, "url")))
		ApexCheckUrlOption("url", value);
	if ((value = ApexGetOption(options, "tls_verify")))
		ApexCheckChoiceOption("tls_verify", value, apex_booleans);
	if ((value = ApexGetOption(options, "ca_file")))
		apex_check_ca_file(value);
	if (kind->validate)
		kind->validate(options);
	if (!superuser())
		ApexCheckTargets(kind, options);
}

static void
apex_validate_mapping(List *options)
{
	ListCell   *lc;

	foreach(lc, options)
	{
		DefElem    *def = lfirst(lc);

		if (!apex_in_list(apex_mapping_options, def->defname))
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
					 errmsg("invalid option \"%s\" for a user mapping", def->defname),
					 errhint("Valid options are: %s.",
							 apex_join(apex_mapping_options, NULL))));
		/* defGetString rejects a missing value with a clear message */
		(void) defGetString(def);
	}
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
		apex_validate_server(options);
	else if (catalog == UserMappingRelationId)
		apex_validate_mapping(options);
	else if (options != NIL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
				 errmsg("invalid option \"%s\"", ((DefElem *) linitial(options))->defname),
				 errhint("The apex_router wrapper takes options only on servers and user mappings.")));
	PG_RETURN_VOID();
}
