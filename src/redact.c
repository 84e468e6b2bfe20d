/*-------------------------------------------------------------------------
 *
 * redact.c
 *		  What a remote peer said about a failure, made safe to show: masked
 *		  for the secrets its request carried, and shown only to roles that
 *		  could read those secrets anyway.
 *
 * Why not simply mask, for everyone.  A server may echo the caller's query
 * in its error (Neo4j's Lucene parse errors, PostgreSQL's "invalid input
 * syntax" quoting a parameter).  Masking a secret in such text for a role
 * that cannot read the secret answers that role's question "is my query
 * the password?": a right guess comes back masked, a wrong one as typed (a
 * one-letter password masks every such letter).  Any transformation that
 * depends on the secret is such an oracle.  So a role that cannot read
 * every secret the request carried (ApexSecretsReadable(): the rule of
 * pg_user_mappings) is never shown the peer's words, masked or not: it gets
 * a fixed sentence that depends on nothing it sent.  The server log gets
 * the masked words (errdetail_log): whoever reads the log can read the
 * mappings too.  Masking where the reader knows the secret anyway reveals
 * nothing, and keeps the secret off screens and out of log files.
 *
 * What is masked: every occurrence of a secret of the peer's user mapping
 * (password, api_key, token, sslpassword, proxy_password, the values of
 * headers: not "user" and "proxy_user", nor the file paths sslcert and
 * sslkey) in each encoding servers are known to echo:
 *   raw;
 *   base64, standard and URL alphabets, of the secret and of "user:secret"
 *   (HTTP Basic), at each of the three alignments a string can have inside
 *   longer base64 text: the characters made of the secret's bits alone
 *   must be there, and one at either end made partly of them is masked
 *   with them when its bits fit;
 *   percent-encoded (either hex case, '+' for space) and JSON-escaped
 *   (\uXXXX, \n, \/ ...): searched in decoded views of the text whose
 *   bytes map back to the characters they came from.
 * Every form is searched in the text as received and as it will be shown
 * (control characters turned into spaces).  Masking runs before the text
 * is cut to its excerpt,
 * so a secret on the cut is masked whole instead of leaving a prefix; a
 * text that arrives already cut (it ends in an ellipsis) has a trailing
 * prefix of any form masked too.  Each masked stretch becomes one fixed
 * marker: not even the secret's length shows.
 *
 * IDENTIFICATION
 *		  src/redact.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>

#include "commands/defrem.h"
#include "mb/pg_wchar.h"

#include "apex_router.h"
#include "peer_encoding.h"

#define REDACT_MARKER "[redacted]"
/* excerpt lengths, in bytes of the text as received */
#define REDACT_BODY_BYTES 200	/* a raw response body (HTML, plain text) */
#define REDACT_TEXT_BYTES 1000	/* a message the peer sent as such */

static const char redact_b64_std[] =
"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char redact_b64_url[] =
"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* A set of byte values */
typedef struct ByteSet
{
	uint64		bits[4];
} ByteSet;

/*
 * One encoded form of a secret: the bytes each position may hold, and
 * optional positions around them that are masked when they fit.
 */
typedef struct RedactForm
{
	int			len;
	ByteSet    *at;
	ByteSet    *lead;			/* may precede the form, or NULL */
	ByteSet    *trail;			/* may follow it, or NULL */
	bool		base64;			/* '=' padding after it is masked too */
} RedactForm;

/* The text decoded one way: each byte with the source span it came from */
typedef struct RedactView
{
	int			len;
	unsigned char *bytes;
	int		   *start;
	int		   *end;
} RedactView;

static inline void
byteset_add(ByteSet *set, unsigned char c)
{
	set->bits[c >> 6] |= UINT64CONST(1) << (c & 63);
}

static inline bool
byteset_has(const ByteSet *set, unsigned char c)
{
	return (set->bits[c >> 6] >> (c & 63)) & 1;
}

static RedactForm *
redact_raw_form(const char *secret, int len)
{
	RedactForm *form = palloc(sizeof(RedactForm));

	form->len = len;
	form->at = palloc0(sizeof(ByteSet) * len);
	form->lead = form->trail = NULL;
	form->base64 = false;
	for (int i = 0; i < len; i++)
		byteset_add(&form->at[i], (unsigned char) secret[i]);
	return form;
}

/* The base64 characters (a set) that base64 character c of the stream can be */
static void
redact_base64_char(const char *x, int first_bit, int end_bit, int c,
				   const char *alphabet, ByteSet *set)
{
	int			mask = 0;		/* the character's bits that x fixes */
	int			value = 0;

	for (int b = 0; b < 6; b++)
	{
		int			bit = 6 * c + b;	/* in the whole stream */

		if (bit >= first_bit && bit < end_bit)
		{
			int			q = bit - first_bit;

			mask |= 1 << (5 - b);
			value |= ((x[q / 8] >> (7 - q % 8)) & 1) << (5 - b);
		}
	}
	for (int v = 0; v < 64; v++)
	{
		if ((v & mask) == value)
			byteset_add(set, (unsigned char) alphabet[v]);
	}
}

/*
 * The base64 characters that encode x when `offset` bytes (0-2) of other
 * data precede it.  The characters made of x's bits alone must all be
 * there; one made partly of other bits (before and after x) is masked
 * when it fits, as any value of those bits allows.  x of one byte at
 * offset 1 has no character of its own: then both partial ones must be
 * there.
 */
static RedactForm *
redact_base64_form(const char *x, int len, int offset, const char *alphabet)
{
	int			first_bit = 8 * offset;
	int			end_bit = first_bit + 8 * len;
	int			first = first_bit / 6;
	int			last = (end_bit - 1) / 6;
	bool		lead = 6 * first < first_bit;
	bool		trail = 6 * last + 6 > end_bit;
	RedactForm *form = palloc(sizeof(RedactForm));
	int			core_first = first + lead;
	int			core_last = last - trail;

	form->base64 = true;
	form->lead = form->trail = NULL;
	if (core_last < core_first)
	{
		/* no character of its own */
		core_first = first;
		core_last = last;
		lead = trail = false;
	}
	form->len = core_last - core_first + 1;
	form->at = palloc0(sizeof(ByteSet) * form->len);
	for (int c = core_first; c <= core_last; c++)
		redact_base64_char(x, first_bit, end_bit, c, alphabet,
						   &form->at[c - core_first]);
	if (lead)
	{
		form->lead = palloc0(sizeof(ByteSet));
		redact_base64_char(x, first_bit, end_bit, first, alphabet, form->lead);
	}
	if (trail)
	{
		form->trail = palloc0(sizeof(ByteSet));
		redact_base64_char(x, first_bit, end_bit, last, alphabet, form->trail);
	}
	return form;
}

/* Every form of secret (and of "user:secret"), appended to forms */
static List *
redact_secret_forms(List *forms, const char *user, const char *secret,
					int *longest)
{
	int			len = strlen(secret);
	List	   *plain = NIL;
	ListCell   *pc;

	forms = lappend(forms, redact_raw_form(secret, len));
	plain = lappend(plain, pstrdup(secret));
	if (user)
		plain = lappend(plain, psprintf("%s:%s", user, secret));
	foreach(pc, plain)
	{
		const char *x = lfirst(pc);

		for (int offset = 0; offset < 3; offset++)
		{
			forms = lappend(forms, redact_base64_form(x, strlen(x), offset,
													  redact_b64_std));
			forms = lappend(forms, redact_base64_form(x, strlen(x), offset,
													  redact_b64_url));
		}
	}

	/*
	 * The most source text a form can span: \uXXXX for every byte, or
	 * base64 of "user:secret" whose characters are each escaped.
	 */
	*longest = Max(*longest, 6 * len);
	*longest = Max(*longest,
				   3 * (4 * ((user ? strlen(user) + 1 : 0) + len + 2) / 3 + 2));
	return forms;
}

/*
 * text's bytes each read as a Latin-1 character, in UTF-8: what a server
 * that decodes header bytes as ISO-8859-1 (Node, Starlette, Java
 * servlets) echoes of UTF-8 it was sent; NULL when text is ASCII.
 */
static char *
redact_latin1_reading(const char *text)
{
	StringInfoData out;
	bool		ascii = true;

	initStringInfo(&out);
	for (const unsigned char *p = (const unsigned char *) text; *p; p++)
	{
		if (*p < 0x80)
			appendStringInfoChar(&out, (char) *p);
		else
		{
			appendStringInfoChar(&out, (char) (0xC0 | (*p >> 6)));
			appendStringInfoChar(&out, (char) (0x80 | (*p & 0x3F)));
			ascii = false;
		}
	}
	return ascii ? NULL : out.data;
}

/*
 * Every form of every secret of the peer; *longest is the longest source.
 * A secret is searched as the bytes a peer may hold of it, each in every
 * form:
 *   - its bytes in the database encoding (a raw echo arrives converted);
 *   - in a database whose encoding is not UTF-8, its UTF-8 bytes: the peer
 *     was sent those (peer_encoding.c) and echoes them encoded (base64,
 *     percent) or as JSON escapes, which the views decode to UTF-8 (issue
 *     11 item 3: a non-ASCII password echoed so showed in LATIN1);
 *   - its UTF-8 bytes read as Latin-1 and written again in UTF-8, as a
 *     server that decodes headers as ISO-8859-1 echoes a non-ASCII bearer
 *     token or API key (issue 11 review: shown to readers and logged, in
 *     any database).
 */
static List *
redact_forms(ApexSource *peer, int *longest)
{
	ApexSecrets *s = peer->secrets;
	int			n = 5 + list_length(s->headers);
	const char **users = palloc0(sizeof(char *) * n);
	const char **secrets = palloc0(sizeof(char *) * n);
	bool		convert = ApexPeerNeedsConversion();
	List	   *forms = NIL;
	ListCell   *lc;

	/* each secret with the user its basic auth pairs it with, if any */
	users[0] = s->user;
	secrets[0] = s->password;
	secrets[1] = s->api_key;
	secrets[2] = s->token;
	users[3] = s->proxy_user;
	secrets[3] = s->proxy_password;
	secrets[4] = s->sslpassword;
	/* a mapping's header values (option.c wrote them "Name: value") */
	n = 5;
	foreach(lc, s->headers)
		secrets[n++] = strchr(lfirst(lc), ':') + 2;
	*longest = 0;
	for (int i = 0; i < n; i++)
	{
		const char *secret = secrets[i];
		const char *user = users[i];
		const char *user_utf8 = user && convert ?
			(const char *) pg_server_to_any(user, strlen(user), PG_UTF8) : user;
		const char *utf8;
		const char *misread;

		if (secret == NULL || secret[0] == '\0')
			continue;
		forms = redact_secret_forms(forms, user, secret, longest);
		utf8 = convert ? pg_server_to_any(secret, strlen(secret), PG_UTF8) : secret;
		if (strcmp(utf8, secret) != 0 || (user && strcmp(user_utf8, user) != 0))
			forms = redact_secret_forms(forms, user_utf8, utf8, longest);
		if ((misread = redact_latin1_reading(utf8)) != NULL)
			forms = redact_secret_forms(forms, NULL, misread, longest);
	}
	return forms;
}

static RedactView *
redact_view_alloc(int n)
{
	RedactView *view = palloc(sizeof(RedactView));

	view->len = 0;
	/* a \uXXXX escape (6 bytes) decodes to at most 3 bytes: n is enough */
	view->bytes = palloc(Max(n, 1));
	view->start = palloc(sizeof(int) * Max(n, 1));
	view->end = palloc(sizeof(int) * Max(n, 1));
	return view;
}

static void
redact_view_add(RedactView *view, unsigned char c, int start, int end)
{
	view->bytes[view->len] = c;
	view->start[view->len] = start;
	view->end[view->len] = end;
	view->len++;
}

static RedactView *
redact_raw_view(const char *text, int n)
{
	RedactView *view = redact_view_alloc(n);

	for (int i = 0; i < n; i++)
		redact_view_add(view, (unsigned char) text[i], i, i + 1);
	return view;
}

/* The text with %XX (either case) and '+' decoded */
static RedactView *
redact_percent_view(const char *text, int n)
{
	RedactView *view = redact_view_alloc(n);

	for (int i = 0; i < n;)
	{
		if (text[i] == '%' && i + 2 < n &&
			isxdigit((unsigned char) text[i + 1]) &&
			isxdigit((unsigned char) text[i + 2]))
		{
			char		hex[3] = {text[i + 1], text[i + 2], '\0'};

			redact_view_add(view, (unsigned char) strtol(hex, NULL, 16), i, i + 3);
			i += 3;
		}
		else
		{
			redact_view_add(view, text[i] == '+' ? ' ' : (unsigned char) text[i],
							i, i + 1);
			i++;
		}
	}
	return view;
}

/* Four hex digits at p (within n), as a number; -1 when they are not */
static int
redact_hex4(const char *p, int avail)
{
	int			value = 0;

	if (avail < 4)
		return -1;
	for (int i = 0; i < 4; i++)
	{
		if (!isxdigit((unsigned char) p[i]))
			return -1;
		value = value * 16 + (isdigit((unsigned char) p[i]) ? p[i] - '0'
							  : (tolower((unsigned char) p[i]) - 'a' + 10));
	}
	return value;
}

/*
 * The JSON string escape at text[i] (\n, \/, \uXXXX, a surrogate pair),
 * decoded into out (UTF-8); returns its length in text, 0 when there is none.
 */
static int
redact_json_escape(const char *text, int i, int n, unsigned char *out,
				   int *outlen)
{
	static const char simple[] = "\"\"\\\\//b\bf\fn\nr\rt\t";
	const char *s;
	int			cp;
	int			low;

	if (text[i] != '\\' || i + 1 >= n)
		return 0;
	if (text[i + 1] != 'u')
	{
		/* the letters sit at even places of simple, their meaning after */
		s = strchr(simple, text[i + 1]);
		if (s == NULL || (s - simple) % 2 != 0)
			return 0;
		out[0] = (unsigned char) s[1];
		*outlen = 1;
		return 2;
	}
	cp = redact_hex4(text + i + 2, n - i - 2);
	if (cp < 0 || (cp >= 0xDC00 && cp <= 0xDFFF))
		return 0;
	if (cp < 0xD800 || cp > 0xDBFF)
	{
		unicode_to_utf8((pg_wchar) cp, out);
		*outlen = pg_utf_mblen(out);
		return 6;
	}
	/* a high surrogate counts only with its low half */
	if (i + 12 > n || text[i + 6] != '\\' || text[i + 7] != 'u')
		return 0;
	low = redact_hex4(text + i + 8, n - i - 8);
	if (low < 0xDC00 || low > 0xDFFF)
		return 0;
	cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
	unicode_to_utf8((pg_wchar) cp, out);
	*outlen = pg_utf_mblen(out);
	return 12;
}

/* The text with JSON string escapes decoded (code points as UTF-8) */
static RedactView *
redact_json_view(const char *text, int n)
{
	RedactView *view = redact_view_alloc(n);

	for (int i = 0; i < n;)
	{
		unsigned char out[4];
		int			outlen;
		int			len = redact_json_escape(text, i, n, out, &outlen);

		if (len == 0)
		{
			redact_view_add(view, (unsigned char) text[i], i, i + 1);
			i++;
			continue;
		}
		for (int k = 0; k < outlen; k++)
			redact_view_add(view, out[k], i, i + len);
		i += len;
	}
	return view;
}

/* Does form position [from, from + count) match view bytes at j? */
static bool
redact_match(const RedactForm *form, int from, const RedactView *view, int j,
			 int count)
{
	for (int k = 0; k < count; k++)
	{
		if (!byteset_has(&form->at[from + k], view->bytes[j + k]))
			return false;
	}
	return true;
}

/* Mark view bytes [s, e) in the source, with the form's optional edges */
static void
redact_mark_match(const RedactForm *form, const RedactView *view,
				  const char *text, int n, int s, int e, int source_end,
				  bool *masked)
{
	if (form->lead && s > 0 && byteset_has(form->lead, view->bytes[s - 1]))
		s--;
	if (source_end < 0)
	{
		if (form->trail && e < view->len && byteset_has(form->trail, view->bytes[e]))
			e++;
		source_end = view->end[e - 1];
		for (int pad = 0; form->base64 && pad < 2 && source_end < n &&
			 text[source_end] == '='; pad++)
			source_end++;
	}
	for (int i = view->start[s]; i < source_end; i++)
		masked[i] = true;
}

/*
 * Mark every occurrence of form in view; cut >= 0 is where the text was
 * cut before it reached us (an ellipsis): a trailing prefix there counts.
 */
static void
redact_find(const RedactForm *form, const RedactView *view, const char *text,
			int n, int cut, bool *masked)
{
	for (int j = 0; j + form->len <= view->len; j++)
	{
		if (redact_match(form, 0, view, j, form->len))
			redact_mark_match(form, view, text, n, j, j + form->len, -1, masked);
	}
	if (cut >= 0)
	{
		int			e = 0;

		while (e < view->len && view->end[e] <= cut)
			e++;
		for (int k = Min(form->len - 1, e); k > 0; k--)
		{
			if (redact_match(form, 0, view, e - k, k))
			{
				redact_mark_match(form, view, text, n, e - k, e, cut, masked);
				break;
			}
		}
	}
}

/* Where a text ends in an ellipsis ("..." or U+2026), else -1 */
static int
redact_ellipsis(const char *text, int n)
{
	if (n >= 3 && strcmp(text + n - 3, "...") == 0)
		return n - 3;
	if (n >= 3 && strcmp(text + n - 3, "\xE2\x80\xA6") == 0)
		return n - 3;
	return -1;
}

/*
 * The text as it may be shown, byte for byte: control characters and,
 * from the first byte that is not valid in the server encoding on (valid),
 * every byte beyond ASCII become spaces, so the message is one valid line
 * (and a server cannot forge log lines).
 */
static char *
redact_clean(const char *text, int n, int valid)
{
	char	   *clean = palloc(n + 1);

	for (int i = 0; i < n; i++)
	{
		unsigned char c = text[i];

		clean[i] = (c < 0x20 || c == 0x7f || (i >= valid && c > 0x7f)) ? ' ' : c;
	}
	clean[n] = '\0';
	return clean;
}

/*
 * The peer's words (text; body: a raw response body) as shown: cleaned
 * (redact_clean), every form of its secrets replaced by the marker, cut to the excerpt length.  Forms are
 * searched in the text as received and as cleaned (a control character
 * cleaned into a space could complete a secret holding one).
 */
static char *
redact_text(ApexSource *peer, const char *text, bool body)
{
	int			n = strlen(text);
	int			limit = body ? REDACT_BODY_BYTES : REDACT_TEXT_BYTES;
	int			valid = pg_encoding_verifymbstr(GetDatabaseEncoding(), text, n);
	char	   *clean = redact_clean(text, n, valid);
	int			longest;
	List	   *forms = redact_forms(peer, &longest);
	/* only the window can reach the excerpt: the rest is never searched */
	int			window = Min(n, limit + longest + 4);
	int			cut = window == n ? redact_ellipsis(text, n) : -1;
	bool	   *masked = palloc0(sizeof(bool) * (window + 1));
	StringInfoData buf;
	int			i;

	for (int pass = 0; pass < 2 && forms != NIL; pass++)
	{
		const char *t = pass == 0 ? text : clean;
		RedactView *views[3] = {NULL, NULL, NULL};

		/* a view that would equal one already searched is skipped */
		if (pass == 1 && memcmp(text, clean, window) == 0)
			break;
		views[0] = redact_raw_view(t, window);
		if (strpbrk(t, "%+"))
			views[1] = redact_percent_view(t, window);
		if (strchr(t, '\\'))
			views[2] = redact_json_view(t, window);
		for (int v = 0; v < 3; v++)
		{
			ListCell   *lc;

			foreach(lc, forms)
			{
				if (views[v])
					redact_find(lfirst(lc), views[v], t, window, cut, masked);
			}
		}
	}
	/* a character partly masked is masked whole */
	for (i = 0; i < Min(window, valid);)
	{
		int			len = pg_mblen(text + i);
		bool		any = false;

		for (int k = i; k < i + len && k < window; k++)
			any |= masked[k];
		for (int k = i; any && k < i + len && k < window; k++)
			masked[k] = true;
		i += len;
	}

	initStringInfo(&buf);
	for (i = 0; i < n;)
	{
		int			len = i < valid ? pg_mblen(text + i) : 1;

		if (i < window && masked[i])
		{
			appendStringInfoString(&buf, REDACT_MARKER);
			while (i < window && masked[i])
				i++;
			continue;
		}
		if (i + len > limit)
		{
			appendStringInfoString(&buf, "...");
			break;
		}
		appendBinaryStringInfo(&buf, clean + i, len);
		i += len;
	}
	if (buf.len == 0)
		appendStringInfoString(&buf, body ? "(empty body)" : "(empty message)");
	return buf.data;
}

/* End what buf holds as a sentence before another one is appended */
static void
redact_end_sentence(StringInfo buf)
{
	if (buf->len > 0 && buf->data[buf->len - 1] != '.')
		appendStringInfoChar(buf, '.');
	appendStringInfoChar(buf, ' ');
}

/*
 * The detail of a failure for the client and for the server log (*log
 * NULL: the log gets the client's), and its hint (NULL: none).  cause is
 * our own words, one or more sentences; what the peer said (remote, may be
 * NULL) follows, shown or withheld as the file header says.  A sentence of
 * ours names whose the words are ("Server "x" sent: ", "libpq reported: "),
 * and nothing of ours follows them but the labels of a PostgreSQL peer's
 * DETAIL and, in the log, its HINT.  A role that may see the words gets
 * that HINT as the hint.
 */
void
ApexRemoteDetail(const char *cause, const ApexRemote *remote, char **client,
				 char **log, char **hint)
{
	StringInfoData shown;
	char	   *remote_hint;

	*client = (char *) cause;
	*log = NULL;
	*hint = NULL;
	if (remote == NULL || remote->text == NULL)
		return;
	initStringInfo(&shown);
	appendStringInfo(&shown, "%s ", cause);
	if (remote->from)
		appendStringInfo(&shown, "%s reported: %s", remote->from,
						 redact_text(remote->peer, remote->text, remote->body));
	else
		appendStringInfo(&shown, "Server \"%s\" sent: %s", remote->peer->name,
						 redact_text(remote->peer, remote->text, remote->body));
	if (remote->detail)
	{
		redact_end_sentence(&shown);
		appendStringInfo(&shown, "Remote detail: %s",
						 redact_text(remote->peer, remote->detail, false));
	}
	remote_hint = remote->hint ? redact_text(remote->peer, remote->hint, false) : NULL;

	if (ApexSecretsReadable(remote->peer))
	{
		*client = shown.data;
		*hint = remote_hint;
		return;
	}
	if (remote_hint)
	{
		redact_end_sentence(&shown);
		appendStringInfo(&shown, "Remote hint: %s", remote_hint);
	}
	*client = psprintf("%s The message of server \"%s\" is not shown: it may contain secrets of a user mapping you cannot read. The server log has it.",
					   cause, remote->peer->name);
	*log = shown.data;
}
