/*-------------------------------------------------------------------------
 *
 * peer_encoding.c
 *		  Text crossing the network boundary, converted between the
 *		  database encoding and UTF-8 without ever throwing.
 *
 * Every peer apex_router speaks to over HTTP or Redis takes and gives
 * UTF-8 (JSON must be UTF-8; Redis stores bytes, and the applications
 * that write them use UTF-8), while the database may use another encoding.
 * Text goes out converted (ApexToPeer: request bodies, URLs, headers and
 * credentials in leg.c; Redis command arguments in io_redis.c) and comes in
 * converted (ApexFromPeer: JSON bodies in json.c, Redis values in
 * leg_redis.c; ApexPeerWords for what a peer says about a failure).  libpq
 * needs none of this: a postgres source sets client_encoding, and the
 * remote server converts.
 *
 * A character one side cannot represent fails that source alone (22P05,
 * untranslatable_character), so the conversions use PostgreSQL's no-error
 * API (pg_do_encoding_conversion_buf with noError), never
 * pg_any_to_server(), which throws.
 *
 * SQL_ASCII declares no encoding: PostgreSQL stores and returns its bytes
 * as they are, and so do we.  Its text goes out unconverted but must be
 * valid UTF-8 (a JSON body cannot be anything else); what comes in is the
 * peer's UTF-8, unconverted.
 *
 * IDENTIFICATION
 *		  src/peer_encoding.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"

#include "peer_encoding.h"

/* input converted per conversion call, so the output buffer stays small */
#define APEX_CONVERT_CHUNK 65536

/*
 * The conversion function from encoding from to encoding to (one of them
 * the database's): found once, as PostgreSQL keeps its client encoding's.
 */
static Oid
apex_conversion_proc(int from, int to)
{
	static Oid	to_utf8 = InvalidOid;
	static Oid	from_utf8 = InvalidOid;
	Oid		   *proc = to == PG_UTF8 ? &to_utf8 : &from_utf8;

	if (!OidIsValid(*proc))
		*proc = FindDefaultConversionProc(from, to);
	return *proc;
}

/*
 * Convert len bytes of src (valid in encoding from, no NUL) to encoding to,
 * without throwing, appending what converted to out.  Returns the number
 * of bytes of src converted: len, or where the first character without an
 * equivalent starts.
 */
static int
apex_convert(const char *src, int len, int from, int to, StringInfo out)
{
	Oid			proc = apex_conversion_proc(from, to);
	int			done = 0;

	if (!OidIsValid(proc))
		return 0;
	while (done < len)
	{
		/* whole characters only: a cut one would read as untranslatable */
		int			chunk = pg_encoding_mbcliplen(from, src + done, len - done,
												  APEX_CONVERT_CHUNK);
		int			converted;

		enlargeStringInfo(out, chunk * MAX_CONVERSION_GROWTH + 1);
		converted = pg_do_encoding_conversion_buf(proc, from, to,
												  (unsigned char *) src + done,
												  chunk,
												  (unsigned char *) out->data + out->len,
												  out->maxlen - out->len, true);
		out->len += strlen(out->data + out->len);
		done += converted;
		if (converted < chunk)
			break;
	}
	return done;
}

/* Whether text of the database differs from UTF-8 on the wire */
bool
ApexPeerNeedsConversion(void)
{
	int			db = GetDatabaseEncoding();

	return db != PG_UTF8 && db != PG_SQL_ASCII;
}

/*
 * text (database encoding) as a peer takes it, in UTF-8: text itself when
 * nothing changes, else a copy.  NULL when it cannot be, with the reason (a
 * sentence) and its SQLSTATE.
 */
char *
ApexToPeer(const char *text, int *sqlerrcode, char **error)
{
	int			len = strlen(text);
	StringInfoData out;

	if (GetDatabaseEncoding() == PG_UTF8)
		return (char *) text;
	if (GetDatabaseEncoding() == PG_SQL_ASCII)
	{
		if (pg_encoding_verifymbstr(PG_UTF8, text, len) == len)
			return (char *) text;
		*sqlerrcode = ERRCODE_CHARACTER_NOT_IN_REPERTOIRE;
		*error = "The request is not valid UTF-8: text of a SQL_ASCII database is sent as it is stored.";
		return NULL;
	}
	initStringInfo(&out);
	if (apex_convert(text, len, GetDatabaseEncoding(), PG_UTF8, &out) == len)
		return out.data;
	*sqlerrcode = ERRCODE_UNTRANSLATABLE_CHARACTER;
	*error = psprintf("The request holds a character of the database encoding \"%s\" that has no equivalent in UTF-8.",
					  GetDatabaseEncodingName());
	return NULL;
}

/*
 * len bytes a peer sent as UTF-8, in the database encoding: *text gets a
 * NUL-terminated copy when the result is APEX_PEER_TEXT_OK.
 */
ApexPeerText
ApexFromPeer(const char *data, int len, char **text)
{
	StringInfoData out;

	*text = NULL;
	if (pg_encoding_verifymbstr(PG_UTF8, data, len) != len)
		return APEX_PEER_TEXT_INVALID;
	if (!ApexPeerNeedsConversion())
	{
		*text = pnstrdup(data, len);
		return APEX_PEER_TEXT_OK;
	}
	initStringInfo(&out);
	if (apex_convert(data, len, PG_UTF8, GetDatabaseEncoding(), &out) != len)
		return APEX_PEER_TEXT_UNTRANSLATABLE;
	*text = out.data;
	return APEX_PEER_TEXT_OK;
}

/* Why an answer (any kind's) cannot be used: ApexFromPeer's untranslatable */
char *
ApexPeerUntranslatable(void)
{
	return psprintf(APEX_PEER_UNTRANSLATABLE_START " the database encoding \"%s\".",
					GetDatabaseEncodingName());
}

/*
 * What a peer said about a failure (an error reply, a body), to be shown:
 * in the database encoding as far as it converts, a character without an
 * equivalent or a byte that is not UTF-8 becoming "?".  The text stays
 * readable where a strict conversion would lose it all.
 */
char *
ApexPeerWords(const char *data, int len)
{
	StringInfoData buf;
	int			at = 0;
	int			valid_end = 0;	/* the valid UTF-8 from at ends here */

	if (!ApexPeerNeedsConversion())
		return pnstrdup(data, len);
	initStringInfo(&buf);
	while (at < len)
	{
		if (at >= valid_end)
			valid_end = at + pg_encoding_verifymbstr(PG_UTF8, data + at, len - at);
		at += apex_convert(data + at, valid_end - at, PG_UTF8,
						   GetDatabaseEncoding(), &buf);
		if (at < len)
		{
			/* skip the character (or the byte) that stopped us */
			at += at < valid_end ? pg_utf_mblen((const unsigned char *) data + at) : 1;
			appendStringInfoChar(&buf, '?');
		}
	}
	return buf.data;
}
