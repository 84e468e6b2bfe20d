/*-------------------------------------------------------------------------
 *
 * target.c
 *		  Where a source connects to, and apex_router.allowed_hosts.
 *
 * A source makes the database server open connections on behalf of its
 * users.  Superusers may point sources anywhere.  A source created or
 * altered by a non-superuser (one granted USAGE on the wrapper), or owned
 * by one, may only reach the hosts a superuser listed in
 * apex_router.allowed_hosts; otherwise a role could make the server probe
 * or fetch internal addresses (SSRF).  Each kind reports its targets
 * (ApexKind.targets); this file matches them against the list.
 *
 * A target is "host:port" (port may be empty for Unix sockets, given by
 * path).  A list entry is "*" (anything), "host" (any port) or
 * "host:port"; IPv6 addresses are written in brackets, "[::1]:6379".
 * Host names match case-insensitively and literally: no DNS is involved, so
 * "localhost" and "127.0.0.1" are different entries.
 *
 * IDENTIFICATION
 *		  src/target.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <curl/curl.h>

#include "miscadmin.h"
#include "utils/builtins.h"

#include "apex_router.h"

char	   *apex_allowed_hosts = "";

/* Split "host:port" (the port is the digits after the last colon) */
static void
apex_split_target(const char *target, char **host, char **port)
{
	const char *colon = strrchr(target, ':');
	bool		digits = colon != NULL && colon[1] != '\0';

	for (const char *p = colon ? colon + 1 : ""; digits && *p; p++)
		digits = (*p >= '0' && *p <= '9');
	/* a bare IPv6 address has colons but no port */
	if (digits && colon > target &&
		(memchr(target, ':', colon - target) == NULL || colon[-1] == ']'))
	{
		*host = pnstrdup(target, colon - target);
		*port = pstrdup(colon + 1);
	}
	else
	{
		*host = pstrdup(target);
		*port = NULL;
	}
}

/* Whether one target is on apex_router.allowed_hosts */
static bool
apex_target_allowed(const char *target)
{
	char	   *host;
	char	   *port;
	char	   *list = pstrdup(apex_allowed_hosts);
	char	   *save = NULL;

	apex_split_target(target, &host, &port);
	for (char *entry = strtok_r(list, ", \t", &save); entry;
		 entry = strtok_r(NULL, ", \t", &save))
	{
		char	   *ehost;
		char	   *eport;

		if (strcmp(entry, "*") == 0)
			return true;
		apex_split_target(entry, &ehost, &eport);
		if (pg_strcasecmp(ehost, host) == 0 &&
			(eport == NULL || (port != NULL && strcmp(eport, port) == 0)))
			return true;
	}
	return false;
}

/*
 * Error out unless every target of a source with these options is allowed.
 * Called by the validator for non-superusers, and at call time for sources
 * owned by non-superusers (the list may have shrunk since).
 */
void
ApexCheckTargets(const ApexKind *kind, List *options)
{
	ListCell   *lc;

	if (kind->targets == NULL)
		return;
	foreach(lc, kind->targets(options))
	{
		const char *target = lfirst(lc);

		if (!apex_target_allowed(target))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("\"%s\" is not in apex_router.allowed_hosts", target),
					 errdetail("Sources created or owned by non-superusers may connect only to the hosts a superuser allowed."),
					 errhint("A superuser can add the host to apex_router.allowed_hosts.")));
	}
}

/* The one target of a source with an http(s) `url` option */
List *
ApexUrlTargets(List *options)
{
	const char *value = ApexGetOption(options, "url");
	CURLU	   *url;
	char	   *host = NULL;
	char	   *port = NULL;
	List	   *targets = NIL;

	if (value == NULL)
		return NIL;
	if ((url = curl_url()) == NULL)
		elog(ERROR, "out of memory in curl_url");
	/* the validator has parsed it already; a failure leaves host NULL */
	if (curl_url_set(url, CURLUPART_URL, value, 0) == CURLUE_OK &&
		curl_url_get(url, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
		curl_url_get(url, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK)
		targets = list_make1(psprintf("%s:%s", host, port));
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(url);
	if (targets == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for option \"url\"")));
	return targets;
}
