/*-------------------------------------------------------------------------
 *
 * lucene.c
 *		  The question as plain words for Lucene's classic query parser
 *		  (org.apache.lucene.queryparser.classic), which Neo4j runs on the
 *		  query string of db.index.fulltext.queryNodes/queryRelationships.
 *
 * Lucene reads a query string as syntax: "?" and "*" are wildcards, + - && ||
 * ! ( ) { } [ ] ^ " ~ : \ / are operators, AND, OR and NOT are keywords.  An
 * unbalanced quote or parenthesis is a ParseException (Neo4j answers with an
 * error, the source's rows are lost); a leading "*" (Neo4j allows leading
 * wildcards) or a NOT silently changes what matches.  A caller's question is
 * text, not a query, so a neo4j source also gets it as $query_lucene:
 *
 * - a backslash before each character QueryParser.escape() escapes: \ + - !
 *	 ( ) : ^ [ ] " { } ~ * ? | & /;
 * - a backslash before the first letter of each AND, OR and NOT that is not
 *	 inside a run of ASCII letters and digits.  escape() leaves keywords alone;
 *	 the lexer takes a whole word AND/OR/NOT as an operator.  Inside a term an
 *	 escaped letter is the letter (QueryParser drops the backslash), so
 *	 escaping also "x.AND", which Lucene would read as one term, is harmless
 *	 and spares us Lucene's exact idea of a word boundary (whitespace is " ",
 *	 tab, CR, LF and U+3000 there);
 * - "" (an empty phrase, which matches nothing) for a question made only of
 *	 Lucene's whitespace: an empty query is a ParseException.  apex_route
 *	 refuses a blank question, but not one of U+3000 IDEOGRAPHIC SPACE.
 *
 * Every special character is ASCII and no server encoding uses ASCII bytes
 * inside a multibyte character, so the text is escaped byte by byte in the
 * server encoding.  The result, parsed, is the question's words and nothing
 * else (test/conformance/lucene.test.mjs checks the same rules on random
 * texts against a port of the parser).
 *
 * IDENTIFICATION
 *		  src/lucene.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "lib/stringinfo.h"

#include "lucene.h"
#include "peer_encoding.h"

/* QueryParser.escape()'s characters */
#define LUCENE_SPECIALS "\\+-!():^[]\"{}~*?|&/"

static bool
ascii_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* Does a keyword (AND, OR, NOT) start at p, with no ASCII letter or digit around it? */
static bool
keyword_at(const char *text, const char *p)
{
	static const char *const keywords[] = {"AND", "OR", "NOT"};

	if (p > text && ascii_alnum(p[-1]))
		return false;
	for (int i = 0; i < (int) lengthof(keywords); i++)
	{
		size_t		len = strlen(keywords[i]);

		if (strncmp(p, keywords[i], len) == 0 && !ascii_alnum(p[len]))
			return true;
	}
	return false;
}

/*
 * Only Lucene's whitespace: " ", tab, CR, LF, U+3000, read in UTF-8 as the
 * peer will get it (peer_encoding.c, which never throws: a SQL_ASCII
 * question that is not UTF-8 is no blank, and the request fails there).
 */
static bool
lucene_blank(const char *text)
{
	int			sqlerrcode;
	char	   *error;
	const char *utf8 = ApexToPeer(text, &sqlerrcode, &error);

	if (utf8 == NULL)
		return false;

	for (const char *p = utf8; *p;)
	{
		if (strchr(" \t\r\n", *p))
			p++;
		else if (strncmp(p, "\xE3\x80\x80", 3) == 0)
			p += 3;
		else
			return false;
	}
	return true;
}

/* The question escaped as the file header says, in the server encoding */
char *
ApexLuceneEscape(const char *text)
{
	StringInfoData out;

	if (lucene_blank(text))
		return pstrdup("\"\"");
	initStringInfo(&out);
	for (const char *p = text; *p; p++)
	{
		if (strchr(LUCENE_SPECIALS, *p) || keyword_at(text, p))
			appendStringInfoChar(&out, '\\');
		appendStringInfoChar(&out, *p);
	}
	return out.data;
}
