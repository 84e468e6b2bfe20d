/*-------------------------------------------------------------------------
 *
 * identity.c
 *		  The identity every request carries (issue 14 item 5): HTTP's
 *		  User-Agent, libpq's application_name, Redis' CLIENT SETNAME, so
 *		  that the stores' own logs show which database and role asked.
 *
 * apex_router.application_name is a template in the style of
 * log_line_prefix: %d the database, %u the current role (GetUserId(): the
 * role whose user mapping a call uses, catalog.c), %a the caller's
 * application_name, %v the extension's version, %% a percent sign.  The
 * setting is superuser-only (PGC_SUSET): the stores' logs are worth
 * something only if a caller cannot make them name someone else, so the
 * template is the administrator's, and the role and database in it are
 * filled in by the backend, never by the caller.  %a is what the caller
 * claims, and a template that uses it says so.
 *
 * A role or database name can hold anything (a quoted identifier: a
 * newline, a quote, non-ASCII), and the three places it goes take less: a
 * header value no CR or LF (or it would end the header and start another),
 * PostgreSQL's application_name printable ASCII only, a Redis client name
 * no space either.  So the filled-in text is converted to UTF-8, as every
 * text sent to a peer, and each byte outside printable ASCII, and % itself,
 * is written %XX: one spelling in every store's log, which decodes back to
 * exactly the names (a name cannot pass for another), and which can never
 * break the line it is written in.  A space stays a space where one is
 * allowed (HTTP, libpq) and is %20 for Redis.
 *
 * Nothing of a user mapping goes in: only the names above.
 *
 * IDENTIFICATION
 *		  src/identity.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "commands/dbcommands.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/acl.h"

#include "identity.h"
#include "peer_encoding.h"

char	   *apex_application_name = NULL;

/* Does template use only the escapes apex_identity_fill knows? */
static bool
apex_identity_valid(const char *template)
{
	for (const char *p = template; *p; p++)
	{
		if (*p != '%')
			continue;
		p++;
		if (*p == '\0' || strchr("duav%", *p) == NULL)
			return false;
	}
	return true;
}

/* GUC check hook: refuse an escape the template does not know */
bool
ApexIdentityCheck(char **newval, void **extra pg_attribute_unused(),
				  GucSource source pg_attribute_unused())
{
	if (apex_identity_valid(*newval))
		return true;
	GUC_check_errdetail("Only %%d, %%u, %%a, %%v and %%%% may follow a %% sign.");
	return false;
}

/*
 * A source's own template (postgres' application_name option), checked at
 * CREATE/ALTER SERVER: superuser-only, as apex_router.application_name is
 * (PGC_SUSET), since it replaces that setting for the source's requests
 * and the stores' logs are worth something only if the name in them is
 * the administrator's.
 */
void
ApexIdentityCheckOption(const char *name, const char *value)
{
	if (!superuser())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("only superusers may set option \"%s\"", name),
				 errdetail("It replaces apex_router.application_name, a superuser-only setting, for the source's connections.")));
	if (!apex_identity_valid(value))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for option \"%s\": \"%s\"", name, value),
				 errdetail("Only %%d, %%u, %%a, %%v and %%%% may follow a %% sign.")));
}

/*
 * The template filled in for the current role and database, in the
 * database encoding
 */
static char *
apex_identity_fill(const char *template)
{
	StringInfoData out;

	initStringInfo(&out);
	for (const char *p = template; *p; p++)
	{
		const char *name;

		if (*p != '%' || p[1] == '\0')
		{
			appendStringInfoChar(&out, *p);
			continue;
		}
		switch (*++p)
		{
			case 'd':
				name = get_database_name(MyDatabaseId);
				appendStringInfoString(&out, name ? name : "");
				break;
			case 'u':
				/* a role dropped under a running session: its OID */
				name = GetUserNameFromId(GetUserId(), true);
				if (name)
					appendStringInfoString(&out, name);
				else
					appendStringInfo(&out, "%u", GetUserId());
				break;
			case 'a':
				appendStringInfoString(&out, application_name ? application_name : "");
				break;
			case 'v':
				appendStringInfoString(&out, APEX_VERSION);
				break;
			case '%':
				appendStringInfoChar(&out, '%');
				break;
			default:
				/* none: the check hook lets no other escape through */
				break;
		}
	}
	return out.data;
}

/*
 * The identity to send, in printable ASCII, palloc'd in the current
 * memory context; "" when the template is empty (then none is sent).
 * spaces: whether a space may stay one (not in a Redis client name).
 */
char *
ApexIdentity(bool spaces)
{
	return ApexIdentityOf(apex_application_name, spaces);
}

/* The same, from another template (checked by ApexIdentityCheckOption) */
char *
ApexIdentityOf(const char *template, bool spaces)
{
	char	   *filled = apex_identity_fill(template);
	char	   *utf8;
	int			sqlerrcode;
	char	   *error;
	StringInfoData out;

	/* a name the conversion refuses is sent as stored: it is escaped below */
	utf8 = ApexToPeer(filled, &sqlerrcode, &error);
	if (utf8 == NULL)
		utf8 = filled;
	initStringInfo(&out);
	for (const unsigned char *p = (const unsigned char *) utf8; *p; p++)
	{
		if ((*p > ' ' && *p < 0x7f && *p != '%') || (*p == ' ' && spaces))
			appendStringInfoChar(&out, (char) *p);
		else
			appendStringInfo(&out, "%%%02X", *p);
	}
	return out.data;
}
