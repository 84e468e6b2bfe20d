/*-------------------------------------------------------------------------
 *
 * fuzz_redact.c
 *		  Fuzz target for the masking of a peer's words (src/redact.c), and
 *		  the check every decoder target runs on the words it kept.
 *
 * The peer has user "neo4j" and two secrets; whatever the text, what is
 * shown must be one line valid in the server encoding, holding none of the
 * secrets' forms as written here independently of redact.c: raw, every
 * byte percent-encoded (either case), JSON \u escapes, and the characters
 * of base64 (standard and URL alphabets) that come from the secret's bits
 * alone, at each alignment, for the secret and for "user:secret".
 *
 * redact: byte 0 bit 0 says whether the rest is a raw body (200-byte
 * excerpt) or a message (1000 bytes); bit 1, whether it is also the DETAIL
 * and HINT of a PostgreSQL peer.
 *
 * IDENTIFICATION
 *		  test/fuzz/fuzz_redact.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_authid.h"
#include "mb/pg_wchar.h"
#include "nodes/makefuncs.h"

#include "apex_router.h"

#include "fuzz.h"

#define FUZZ_USER "neo4j"
static const char *const fuzz_secrets[] = {"testpassword", "k3y/\xC3\xA9+ x"};

static ApexSource *
fuzz_peer(void)
{
	ApexSource *peer = palloc0(sizeof(ApexSource));

	peer->name = "fuzz";
	peer->owner = BOOTSTRAP_SUPERUSERID;
	peer->secrets = palloc0(sizeof(ApexSecrets));
	peer->secrets->user = FUZZ_USER;
	peer->secrets->password = (char *) fuzz_secrets[0];
	peer->secrets->api_key = (char *) fuzz_secrets[1];
	return peer;
}

static void
fuzz_absent(const char *shown, const char *form, const char *what)
{
	if (form[0] && strstr(shown, form))
		FuzzFail("%s \"%s\" shown: %s", what, form, shown);
}

/* base64 of x after `offset` zero bytes: only the characters x fills alone */
static char *
fuzz_base64_core(const char *x, int offset, const char *alphabet)
{
	int			len = strlen(x);
	int			first_bit = 8 * offset;
	int			end_bit = first_bit + 8 * len;
	StringInfoData buf;

	initStringInfo(&buf);
	for (int c = (first_bit + 5) / 6; 6 * c + 6 <= end_bit; c++)
	{
		int			v = 0;

		for (int b = 0; b < 6; b++)
		{
			int			q = 6 * c + b - first_bit;

			v = v << 1 | ((x[q / 8] >> (7 - q % 8)) & 1);
		}
		appendStringInfoChar(&buf, alphabet[v]);
	}
	return buf.data;
}

static void
fuzz_check_shown(const char *shown)
{
	static const char *const alphabets[] = {
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
	};

	if (!pg_verifymbstr(shown, strlen(shown), true))
		FuzzFail("shown text is not valid in the server encoding: %s", shown);
	for (const char *p = shown; *p; p++)
		if ((unsigned char) *p < 0x20 || *p == 0x7f)
			FuzzFail("shown text holds control character 0x%02x", (unsigned char) *p);
	for (size_t i = 0; i < lengthof(fuzz_secrets); i++)
	{
		const char *secret = fuzz_secrets[i];
		char	   *pairs[2] = {pstrdup(secret), psprintf("%s:%s", FUZZ_USER, secret)};
		StringInfoData upper;
		StringInfoData lower;
		StringInfoData json;

		initStringInfo(&upper);
		initStringInfo(&lower);
		initStringInfo(&json);
		for (const unsigned char *p = (const unsigned char *) secret; *p; p++)
		{
			appendStringInfo(&upper, "%%%02X", *p);
			appendStringInfo(&lower, "%%%02x", *p);
			if (*p < 0x80)
				appendStringInfo(&json, "\\u%04x", *p);
		}
		fuzz_absent(shown, secret, "secret");
		fuzz_absent(shown, upper.data, "percent-encoded secret");
		fuzz_absent(shown, lower.data, "percent-encoded secret");
		if ((size_t) json.len == 6 * strlen(secret))
			fuzz_absent(shown, json.data, "JSON-escaped secret");
		for (int x = 0; x < 2; x++)
			for (int offset = 0; offset < 3; offset++)
				for (int a = 0; a < 2; a++)
					fuzz_absent(shown, fuzz_base64_core(pairs[x], offset, alphabets[a]),
								"base64 of a secret");
	}
}

/*
 * A peer's words (its message, DETAIL and HINT), as shown to a reader of
 * its secrets and to the log: after our cause, nothing of its secrets.
 */
void
FuzzCheckRemote(const ApexRemote *said)
{
	static const char cause[] = "The cause.";
	ApexRemote	remote = *said;
	char	   *client;
	char	   *log;
	char	   *hint;

	remote.peer = fuzz_peer();
	ApexRemoteDetail(cause, &remote, &client, &log, &hint);
	if (strncmp(client, cause, strlen(cause)) != 0)
		FuzzFail("the detail does not start with the cause: %s", client);
	fuzz_check_shown(client);
	if (log)
		fuzz_check_shown(log);
	if (hint)
		fuzz_check_shown(hint);
}

void
FuzzRedact(const uint8 *data, size_t size)
{
	ApexRemote	said = {.text = (char *) data + (size > 0),
	.body = size > 0 && (data[0] & 1)};

	/* a PostgreSQL peer's DETAIL and HINT are masked and joined the same way */
	if (size > 0 && (data[0] & 2))
		said.detail = said.hint = said.text;
	FuzzCheckRemote(&said);
}
