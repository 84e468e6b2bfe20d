/*-------------------------------------------------------------------------
 *
 * allowed_hosts.c
 *		  The allow-list guard: where a source connects to, checked against
 *		  apex_router.allowed_hosts.
 *
 * A source makes the database server open connections on behalf of its
 * users.  Superusers may point sources anywhere.  A source created or
 * altered by a non-superuser (one granted USAGE on the wrapper), or owned
 * by one, may only reach the hosts a superuser listed in
 * apex_router.allowed_hosts; otherwise a role could make the server probe
 * or fetch internal addresses (SSRF).  Each kind reports its targets
 * (ApexKind.targets); this file matches them against the list.
 *
 * A target (ApexTarget) is a host and a port, or a Unix socket path alone.
 * A kind reports every place its connection library may try, as that
 * library will see it (defaults, environment and lists resolved: see
 * postgres_endpoints in leg_postgres.c).  A list entry is "*" (anything),
 * "host" (any port), "host:port", or a socket path; IPv6 addresses are
 * written in brackets, "[::1]:6379".  Host names match case-insensitively
 * and literally: no DNS is involved, so "localhost" and "127.0.0.1" are
 * different entries.  Socket paths match exactly.
 *
 * IDENTIFICATION
 *		  src/allowed_hosts.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>

#include <curl/curl.h>

#include "miscadmin.h"
#include "utils/builtins.h"

#include "apex_router.h"

char	   *apex_allowed_hosts = "";

static List *apex_url_target(const char *value, const char *option);

/* Whether a host is a Unix socket: a path, or libpq's "@" abstract socket */
static bool
apex_is_socket(const char *host)
{
	return host[0] == '/' || host[0] == '@';
}

/*
 * Split a list entry "host:port" (the port is the digits after the last
 * colon); brackets around an IPv6 host are dropped.
 */
static void
apex_split_entry(const char *entry, char **host, char **port)
{
	const char *colon = strrchr(entry, ':');
	bool		digits = colon != NULL && colon[1] != '\0';
	size_t		len;

	for (const char *p = colon ? colon + 1 : ""; digits && *p; p++)
		digits = (*p >= '0' && *p <= '9');
	/* a bare IPv6 address has colons but no port */
	if (digits && colon > entry &&
		(memchr(entry, ':', colon - entry) == NULL || colon[-1] == ']'))
	{
		*host = pnstrdup(entry, colon - entry);
		*port = pstrdup(colon + 1);
	}
	else
	{
		*host = pstrdup(entry);
		*port = NULL;
	}
	len = strlen(*host);
	if (len >= 2 && (*host)[0] == '[' && (*host)[len - 1] == ']')
		*host = pnstrdup(*host + 1, len - 2);
}

/* Whether one list entry allows a target */
static bool
apex_entry_allows(const char *entry, const ApexTarget *target)
{
	char	   *host;
	char	   *port;

	if (strcmp(entry, "*") == 0)
		return true;
	/* a socket path may hold colons: it is compared whole */
	if (target->port == NULL)
		return strcmp(entry, target->host) == 0;
	apex_split_entry(entry, &host, &port);
	if (port != NULL && strcmp(port, target->port) != 0)
		return false;
	if (apex_is_socket(target->host))
		return strcmp(host, target->host) == 0;
	return pg_strcasecmp(host, target->host) == 0;
}

/* Whether one target is on apex_router.allowed_hosts */
static bool
apex_target_allowed(const ApexTarget *target)
{
	char	   *list = pstrdup(apex_allowed_hosts);
	char	   *save = NULL;

	for (char *entry = strtok_r(list, ", \t", &save); entry;
		 entry = strtok_r(NULL, ", \t", &save))
	{
		if (apex_entry_allows(entry, target))
			return true;
	}
	return false;
}

/*
 * A target as a list entry that allows it would be written: host:port, an
 * IPv6 address in brackets.  Messages that name a peer write it so too
 * (the transports' connection failures).
 */
char *
ApexTargetString(const ApexTarget *target)
{
	if (target->port == NULL)
		return pstrdup(target->host);
	if (strchr(target->host, ':') && !apex_is_socket(target->host))
		return psprintf("[%s]:%s", target->host, target->port);
	return psprintf("%s:%s", target->host, target->port);
}

ApexTarget *
ApexTargetMake(const char *host, const char *port)
{
	ApexTarget *target = palloc(sizeof(ApexTarget));

	target->host = pstrdup(host);
	target->port = port ? pstrdup(port) : NULL;
	return target;
}

/*
 * A port number as libpq reads one (decimal, surrounding white space
 * allowed), or -1 unless it is 1 to 65535.  atoi(), which hiredis is given,
 * reads every value accepted here the same way.
 */
int
ApexParsePort(const char *value)
{
	char	   *end;
	long		port;

	errno = 0;
	port = strtol(value, &end, 10);
	if (end == value || errno != 0)
		return -1;
	while (isspace((unsigned char) *end))
		end++;
	if (*end != '\0' || port < 1 || port > 65535)
		return -1;
	return (int) port;
}

/*
 * Every place the source may connect to (its kind's targets), NIL for a
 * local kind; an ERROR for options the kind's client would refuse.
 */
List *
ApexSourceTargets(const ApexSource *source)
{
	return source->kind->targets ? source->kind->targets(source->conf) : NIL;
}

/*
 * Error out unless every target is allowed.  Called by the validator for
 * non-superusers, and at call time for sources owned by non-superusers
 * (the list may have shrunk since).
 */
void
ApexCheckTargets(List *targets)
{
	ListCell   *lc;

	foreach(lc, targets)
	{
		const ApexTarget *target = lfirst(lc);

		if (!apex_target_allowed(target))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("\"%s\" is not in apex_router.allowed_hosts",
							ApexTargetString(target)),
					 errdetail("Sources created or owned by non-superusers may connect only to the hosts a superuser allowed."),
					 errhint("A superuser can add the host to apex_router.allowed_hosts.")));
	}
}

/*
 * The targets of a source with an http(s) `url` option: the URL's host,
 * and its `proxy`'s, where the connection goes then (the URL's host is
 * still checked: the proxy connects there on the source's behalf).  libcurl
 * reads no proxy from the environment (io_http.c), so there is no other.
 */
List *
ApexUrlTargets(const void *conf)
{
	const ApexHttpConf *http = conf;
	List	   *targets = apex_url_target(http->url, "url");

	if (http->proxy)
		targets = list_concat(targets, apex_url_target(http->proxy, "proxy"));
	return targets;
}

/*
 * The target of a URL, parsed by the parser libcurl itself uses for the
 * transfer.  The kinds append only a path to the URL (ApexUrlJoin), which
 * cannot move the host.  An IPv6 zone id is kept, "fe80::1%eth0": it picks
 * the link, so it picks the host.  A proxy URL gives its port (option.c).
 */
static List *
apex_url_target(const char *value, const char *option)
{
	CURLU	   *url;
	char	   *host = NULL;
	char	   *port = NULL;
	char	   *zone = NULL;
	ApexTarget *target = NULL;

	if (value == NULL)
		return NIL;
	if ((url = curl_url()) == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OUT_OF_MEMORY),
				 errmsg("out of memory"),
				 errdetail("libcurl could not allocate a URL handle.")));
	/* the validator has parsed it already; a failure leaves target NULL */
	if (curl_url_set(url, CURLUPART_URL, value, 0) == CURLUE_OK &&
		curl_url_get(url, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
		curl_url_get(url, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK)
	{
		size_t		len = strlen(host);

		/* curl writes IPv6 addresses in brackets, without the zone id */
		if (len >= 2 && host[0] == '[' && host[len - 1] == ']')
			target = ApexTargetMake(pnstrdup(host + 1, len - 2), port);
		else
			target = ApexTargetMake(host, port);
		if (curl_url_get(url, CURLUPART_ZONEID, &zone, 0) == CURLUE_OK)
			target->host = psprintf("%s%%%s", target->host, zone);
	}
	curl_free(host);
	curl_free(port);
	curl_free(zone);
	curl_url_cleanup(url);
	if (target == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for option \"%s\"", option)));
	return list_make1(target);
}
