/*-------------------------------------------------------------------------
 *
 * fuzz_postgres.c
 *		  Fuzz target for the postgres kind's result decoder
 *		  (ApexPostgresDecode), on PGresults built with libpq's own
 *		  constructors.
 *
 * Byte 0 picks the result status (mod 4: tuples, command ok, fatal error,
 * empty query; seeds start with '0'..'3').  The rest is a table as COPY's
 * text format writes it, without escapes: the first line holds the column
 * names, each further line a row, fields separated by tabs; a field that
 * is exactly \N is NULL, a short row is padded with NULLs.  libpq hands
 * over text in the connection's client encoding, so an input that is not
 * valid in the server encoding is skipped (that is io_pg.c's business).
 *
 * libpq has no constructor for a result's error fields, so for the error
 * status the first line's fields are also fed, as SQLSTATE, message,
 * detail and hint (\N: absent), to the reading of a remote error
 * (ApexPostgresRemoteError) that the decoder applies to those fields.
 *
 * IDENTIFICATION
 *		  test/fuzz/fuzz_postgres.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "mb/pg_wchar.h"

#include "leg_postgres.h"

#include "fuzz.h"

#define FUZZ_PG_MAX_COLUMNS 16

static const ExecStatusType fuzz_pg_statuses[] = {
	PGRES_TUPLES_OK, PGRES_COMMAND_OK, PGRES_FATAL_ERROR, PGRES_EMPTY_QUERY
};

/* The next line's fields (at most max), advancing *p; the count */
static int
fuzz_pg_fields(const char **p, const char *end, const char **fields, int *lens,
			   int max)
{
	const char *eol = memchr(*p, '\n', end - *p);
	int			n = 0;

	if (eol == NULL)
		eol = end;
	while (n < max)
	{
		const char *tab = memchr(*p, '\t', eol - *p);
		const char *stop = tab ? tab : eol;

		fields[n] = *p;
		lens[n++] = stop - *p;
		*p = stop + 1;
		if (tab == NULL)
			break;
	}
	*p = eol + (eol < end);
	return n;
}

/*
 * A remote error with the given fields (names[i]: SQLSTATE, message,
 * detail, hint; "\N" or missing: absent): its SQLSTATE is the one sent or
 * none, and every text goes through the masker.
 */
static void
fuzz_pg_remote_error(int n, const PGresAttDesc *attrs)
{
	const char *fields[4] = {NULL, NULL, NULL, NULL};
	ApexRemote	remote = {0};

	for (int i = 0; i < n && i < 4; i++)
		fields[i] = strcmp(attrs[i].name, "\\N") == 0 ? NULL : attrs[i].name;
	ApexPostgresRemoteError(fields[0], fields[1], fields[2], fields[3], &remote);
	if (remote.sqlerrcode != 0 &&
		(fields[0] == NULL || strcmp(unpack_sql_state(remote.sqlerrcode), fields[0]) != 0))
		FuzzFail("SQLSTATE \"%s\" read as %s", fields[0] ? fields[0] : "(none)",
				 unpack_sql_state(remote.sqlerrcode));
	if (remote.text == NULL && (remote.detail || remote.hint))
		remote.text = "(no message)";
	if (remote.text)
		FuzzCheckRemote(&remote);
}

void
FuzzPostgres(const uint8 *data, size_t size)
{
	const char *p = (const char *) data + (size > 0);
	const char *end = (const char *) data + size;
	PGresult   *res = PQmakeEmptyPGresult(NULL, fuzz_pg_statuses[size > 0 ? data[0] % 4 : 0]);
	PGresAttDesc attrs[FUZZ_PG_MAX_COLUMNS] = {0};
	const char *fields[FUZZ_PG_MAX_COLUMNS];
	int			lens[FUZZ_PG_MAX_COLUMNS];
	int			ncols;
	List	   *items;
	int			skipped = 0;
	char	   *error;
	ApexRemote	remote = {0};

	if (!pg_verifymbstr(p, end - p, true))
		return;
	ncols = fuzz_pg_fields(&p, end, fields, lens, FUZZ_PG_MAX_COLUMNS);
	for (int c = 0; c < ncols; c++)
	{
		attrs[c].name = pnstrdup(fields[c], lens[c]);
		attrs[c].typid = TEXTOID;
		attrs[c].typlen = -1;
		attrs[c].atttypmod = -1;
	}
	if (!PQsetResultAttrs(res, ncols, attrs))
		FuzzFail("PQsetResultAttrs failed");
	if (PQresultStatus(res) == PGRES_FATAL_ERROR)
		fuzz_pg_remote_error(ncols, attrs);
	for (int row = 0; p < end; row++)
	{
		int			n = fuzz_pg_fields(&p, end, fields, lens, ncols);

		for (int c = 0; c < ncols; c++)
		{
			bool		null = c >= n || (lens[c] == 2 && memcmp(fields[c], "\\N", 2) == 0);

			if (!PQsetvalue(res, row, c, null ? NULL : (char *) fields[c], null ? -1 : lens[c]))
				FuzzFail("PQsetvalue failed");
		}
	}

	error = ApexPostgresDecode(res, &items, &skipped, &remote);
	if (remote.text && error == NULL)
		FuzzFail("a server's words without an error");
	if (remote.text)
		FuzzCheckRemote(&remote);
	if (error)
		FuzzCheckError(error);
	else if (list_length(items) + skipped != PQntuples(res))
		FuzzFail("%d items and %d skipped from %d rows", list_length(items), skipped, PQntuples(res));
	else
		FuzzCheckItems(items);
	PQclear(res);
}
