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

	error = ApexPostgresDecode(res, &items, &remote);
	if (remote.text && error == NULL)
		FuzzFail("a server's words without an error");
	if (remote.text)
		FuzzCheckRemote(remote.text, remote.body);
	if (error)
		FuzzCheckError(error);
	else if (list_length(items) > PQntuples(res))
		FuzzFail("%d items from %d rows", list_length(items), PQntuples(res));
	else
		FuzzCheckItems(items);
	PQclear(res);
}
