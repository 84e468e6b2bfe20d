/*-------------------------------------------------------------------------
 *
 * option.h
 *		  The option tables of source kinds, and the one parser that turns a
 *		  server's or user mapping's options into a typed configuration.
 *
 * A kind describes its options in a table of ApexOption; ApexParseServer()
 * walks the DefElem list once, rejects unknown names, checks every value and
 * stores it in the kind's configuration struct at the option's offset.  The
 * validator (CREATE/ALTER SERVER) and the planner (each call) run the same
 * parser, so what was accepted at DDL time is exactly what a leg reads.
 *
 * IDENTIFICATION
 *		  src/option.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef APEX_OPTION_H
#define APEX_OPTION_H

#include <stddef.h>

#include "nodes/pg_list.h"

typedef enum ApexOptionType
{
	APEX_OPTION_STRING,			/* char *; absent: NULL */
	APEX_OPTION_INT,			/* int within [min, max]; absent: 0 */
	APEX_OPTION_REAL,			/* double within [min, max]; absent: NaN */
	APEX_OPTION_BOOL,			/* bool, as PostgreSQL reads booleans; absent:
								 * false */
	APEX_OPTION_CHOICE,			/* int: index in choices; absent: -1 */
	APEX_OPTION_PORT,			/* int, a TCP port 1..65535; absent: 0 */
	APEX_OPTION_HEADERS			/* List * of "Name: value" strings, from a
								 * JSON object (ApexParseHeaders); absent:
								 * NIL */
} ApexOptionType;

/* One option a kind takes; tables end with an entry whose name is NULL. */
typedef struct ApexOption
{
	const char *name;
	ApexOptionType type;
	size_t		offset;			/* of its field in the configuration */
	bool		required;
	const char *dflt;			/* parsed like a given value when absent */
	double		min;			/* INT, REAL */
	double		max;
	const char *const *choices; /* CHOICE, NULL-terminated */
	bool		secret;			/* a user mapping's: messages never quote it */
	/* a further check of a given value at CREATE/ALTER (ERROR), or NULL */
	void		(*validate) (const char *name, const char *value);
	/*
	 * Not taken, for this reason (a sentence, the ERROR's detail): an option
	 * users of the kind's library would expect, refused by name rather than
	 * as unknown; never listed among the valid options.  NULL: taken.
	 */
	const char *refused;
} ApexOption;

/* An entry's name, type and field; the other members follow designated */
#define APEX_OPT(name_, type_, conf, field) \
	.name = (name_), .type = (type_), .offset = offsetof(conf, field)

/* The options of every kind that speaks HTTP, the first member of its conf */
typedef struct ApexHttpConf
{
	char	   *url;
	char	   *ca_file;		/* PEM bundle for https peers, or NULL */
	bool		tls_verify;		/* verify https peers and host names */
	List	   *headers;		/* extra "Name: value" request headers */
	char	   *proxy;			/* http://host:port of a forward proxy, or
								 * NULL: none (never the environment's) */
} ApexHttpConf;

#define APEX_HTTP_URL_OPTION(type) \
	{APEX_OPT("url", APEX_OPTION_STRING, type, http.url), .required = true, \
	 .validate = ApexCheckUrlOption}
#define APEX_HTTP_TLS_OPTIONS(type) \
	{APEX_OPT("ca_file", APEX_OPTION_STRING, type, http.ca_file), \
	 .validate = ApexCheckCaFileOption}, \
	{APEX_OPT("tls_verify", APEX_OPTION_BOOL, type, http.tls_verify), \
	 .dflt = "true"}
/* extra request headers (for gateways) and a forward proxy: io_http.c */
#define APEX_HTTP_GATEWAY_OPTIONS(type) \
	{APEX_OPT("headers", APEX_OPTION_HEADERS, type, http.headers)}, \
	{APEX_OPT("proxy", APEX_OPTION_STRING, type, http.proxy), \
	 .validate = ApexCheckProxyOption}
/* the user mapping options every kind that speaks HTTP reads, besides its own */
#define APEX_HTTP_MAPPING_OPTIONS "headers", "proxy_user", "proxy_password"

/* What a user mapping may hold: the only place secrets may live. */
typedef struct ApexSecrets
{
	char	   *user;
	char	   *password;
	char	   *api_key;
	char	   *token;
	char	   *sslcert;		/* postgres: the client certificate's file */
	char	   *sslkey;			/* and its key's (superuser-only: paths) */
	char	   *sslpassword;	/* the key's passphrase, a secret */
	List	   *headers;		/* HTTP kinds: "Name: value" request headers
								 * whose values are secrets (a gateway's key) */
	char	   *proxy_user;		/* HTTP kinds: the proxy's basic auth */
	char	   *proxy_password;
} ApexSecrets;

struct ApexKind;

/* in option.c */
extern ApexSecrets *ApexParseSecrets(const struct ApexKind *kind, List *options);
extern void ApexCheckUrlOption(const char *name, const char *value);
extern void ApexCheckCaFileOption(const char *name, const char *value);
extern void ApexCheckServerFileOption(const char *name, const char *value);
extern void ApexCheckKeyPathOption(const char *name, const char *value);
extern void ApexCheckProxyOption(const char *name, const char *value);
extern List *ApexParseHeaders(const char *name, const char *value, bool secret);

#endif							/* APEX_OPTION_H */
